#pragma once
// Dense networks on the engine, in one include.

#include <ad/nn/data.hpp>
#include <ad/nn/error.hpp>
#include <ad/nn/init.hpp>
#include <ad/nn/module.hpp>
#include <ad/nn/optim.hpp>
#include <ad/nn/serialize.hpp>
#include <ad/nn/train.hpp>
