#pragma once
// Data-parallel training as fit sees it (FitOptions::replicas): this process trains one
// replica of the model in a group of size() processes. Each takes its shard of every batch
// (Batcher's shard), and the group combines the shards' gradients before every optimiser
// step, so that every replica takes the same step from the same state. The interface needs
// no communication library; ad::nn_mpi implements it over MPI (<ad/nn/mpi.hpp>).

#include <ad/nn/optim.hpp>
#include <ad/tape.hpp>

#include <cstdint>
#include <functional>
#include <span>

namespace ad::nn {

template <class T>
class Replicas {
 public:
  virtual ~Replicas() = default;

  // This process's place in the group, from 0 to size() - 1. Rank 0 prints and writes files.
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Gives every replica rank 0's parameters and optimiser state.
  virtual void broadcast(const ParameterList<T>& parameters,
                         const typename Optimizer<T>::State& state) = 0;
  // How fit runs this replica's backward sweep: sweep(passed) sweeps, calling passed(i) as
  // it goes past node i of the swept tape (Tape::backward_reporting), or sweeps plainly for
  // an empty passed.
  using Sweep = std::function<void(const std::function<void(std::uint32_t)>& passed)>;
  // Runs sweep, the backward sweep of this replica's loss on its shard, recorded on `tape`
  // (nothing, with a null tape, if the shard is empty), and combines the replicas'
  // gradients into the group's, Σᵣ weightᵣ ∇lossᵣ, where weightᵣ is shard r's share of the
  // batch (the gradient of the mean loss over the whole batch, for a loss that is a mean
  // over samples). Where step() is not overridden, every replica's parameters then hold
  // that gradient, bit for bit; where it is (a group that shares the step), the gradient is
  // combined in step(), which must come before the next backward (an ad::Error otherwise).
  virtual void backward(Tape<T>* tape, const Sweep& sweep, T weight,
                        const ParameterList<T>& parameters) = 0;
  // One optimiser step with the group's gradient, after backward; every replica's
  // parameters are then the same, bit for bit. By default each replica takes the whole step
  // itself; a group may share the work instead (each replica updating a slice, then
  // copying the others'), leaving each optimiser's state current on its own slice only
  // until gather_state().
  virtual void step(Optimizer<T>& optimizer) { optimizer.step(); }
  // Makes every replica's optimiser state whole and the same, where step() shares the work;
  // fit calls it on every replica before a checkpoint is written and when training ends.
  virtual void gather_state(Optimizer<T>&) {}
  // Sums values elementwise over the group, in place; every replica gets the same sums.
  virtual void sum(std::span<double> values) = 0;
};

// The Sweep of loss recorded on a tape.
template <class T>
typename Replicas<T>::Sweep sweep_of(Tape<T>& tape, const Var<T>& loss) {
  return [&tape, loss](const std::function<void(std::uint32_t)>& passed) {
    if (passed) {
      tape.backward_reporting(loss, passed);
    } else {
      tape.backward(loss);
    }
  };
}

}  // namespace ad::nn
