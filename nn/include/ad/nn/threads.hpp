#pragma once
// Data parallelism in one process: nn::Replicas over threads, to train on every core of one
// machine without MPI. Each thread builds its own replica of the model and optimiser (the
// same way on every thread: the group starts them from replica 0's) and trains it with fit,
// given its replica of the group; the data sets can be shared, fit only reads them.
//
//   nn::train_in_threads<float>(2, [&](nn::Replicas<float>& replicas) {
//     std::mt19937_64 rng(1);
//     auto model = nn::mlp<float>({784, 256, 10}, nn::Activation::relu, rng);
//     nn::Adam<float> opt(model.parameters());
//     nn::fit(model, nn::CrossEntropy{}, opt, train, {.batch_size = 128, .replicas = &replicas});
//     if (replicas.rank() == 0) nn::save(model, "model.bin");
//   });
//
// The replicas share each optimiser step by slices of the parameters: after the backward
// sweeps, each replica sums the group's gradient (weighted by the shards' shares of the
// batch, in rank order) over its own slice, updates that slice with its optimiser, and then
// copies the other slices from their replicas, so that all hold the same parameters, bit
// for bit. Each optimiser's state is current on its own slice only, until fit gathers it
// (before a checkpoint and at the end): the optimiser must hold the model's parameters in
// the model's order (an ad::Error otherwise).
// An exception in one thread ends the others at their next call to the group (an ad::Error
// saying another replica failed), and train_in_threads rethrows the first exception.

#include <ad/nn/replicas.hpp>

#include <functional>

namespace ad::nn {

// Runs train(replicas) on `threads` threads, one replica of a group each (rank 0 to
// threads - 1), and returns when all are done. Throws the first exception a thread threw;
// an ad::Error for fewer than 1 or more than 1024 threads.
template <class T>
void train_in_threads(int threads, const std::function<void(Replicas<T>&)>& train);

extern template void train_in_threads<float>(int, const std::function<void(Replicas<float>&)>&);
extern template void train_in_threads<double>(int, const std::function<void(Replicas<double>&)>&);

}  // namespace ad::nn
