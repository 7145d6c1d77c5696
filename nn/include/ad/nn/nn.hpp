#pragma once
// Dense networks on the engine, in one include, with the formatters of matrices, shapes and
// Vars (so that fmt::print("{}", nn::predict(model, x)) compiles).

#include <ad/format.hpp>
#include <ad/nn/data.hpp>
#include <ad/nn/error.hpp>
#include <ad/nn/init.hpp>
#include <ad/nn/module.hpp>
#include <ad/nn/optim.hpp>
#include <ad/nn/serialize.hpp>
#include <ad/nn/threads.hpp>
#include <ad/nn/train.hpp>
