#pragma once
// The engine in one include: tape, variables and parameters, ops, gradcheck, printing,
// replay, the derivations of ad::explain and the version.

#include <ad/custom_op.hpp>
#include <ad/error.hpp>
#include <ad/explain.hpp>
#include <ad/expression.hpp>
#include <ad/format.hpp>
#include <ad/gradcheck.hpp>
#include <ad/hessian.hpp>
#include <ad/jacobian.hpp>
#include <ad/losses.hpp>
#include <ad/op_table.hpp>
#include <ad/ops.hpp>
#include <ad/parameter.hpp>
#include <ad/random.hpp>
#include <ad/replay.hpp>
#include <ad/symbolic.hpp>
#include <ad/tape.hpp>
#include <ad/version.hpp>
