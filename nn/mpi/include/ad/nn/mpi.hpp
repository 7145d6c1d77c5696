#pragma once
// Data-parallel training over MPI (target ad::nn_mpi): nn::Replicas for fit, one process
// per replica, started by mpirun.
//
//   int main(int argc, char** argv) {
//     nn::mpi::Environment mpi(argc, argv);
//     try {
//       nn::mpi::Replicas<float> replicas;
//       ... build the model and the optimiser the same way on every rank ...
//       nn::fit<float>(model, loss, opt, train, {.batch_size = 128, .replicas = &replicas});
//       if (mpi.rank() == 0) nn::save(model, "model.bin");
//     } catch (const std::exception& e) {
//       mpi.abort("train", e);  // ends every rank: the others wait for this one
//     }
//   }
//
// Across machines, gradients are summed with MPI all-reduce in buckets: each bucket's
// all-reduce starts as soon as the backward sweep has passed the first use of all its
// parameters (Tape::backward_reporting), so that communication overlaps the rest of the
// sweep. Ranks that share one machine share the optimiser step through MPI shared memory
// instead (Reduction::shared_memory).
// This header needs no MPI headers; only the library links MPI.

#include <ad/nn/replicas.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string_view>

namespace ad::nn::mpi {

// MPI for the life of the object (MPI_Init, MPI_Finalize); one per process, before any
// Replicas. An ad::Error if MPI was initialised already.
class Environment {
 public:
  Environment(int& argc, char**& argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  // Prints "<program>: rank r of n: <what>" on stderr and ends every process of the job at
  // once with the status (MPI_Abort): the others may be waiting in a collective operation
  // for this one, and would wait for ever.
  [[noreturn]] void abort(std::string_view program, const std::exception& error,
                          int status = 1) const;

 private:
  int rank_ = 0;
  int size_ = 1;
};

enum class Reduction {
  // Buckets all-reduced (MPI_Iallreduce) as the backward sweep finishes their gradients.
  overlapped,
  // After the sweep, each parameter's gradient all-reduced in place (MPI_Allreduce).
  after_backward,
  // For ranks on one machine: the gradients in MPI shared memory (MPI_Win_allocate_shared);
  // each rank sums the group's gradient over its slice of the parameters, takes the
  // optimiser step on that slice and copies the others' updated slices, as the replicas of
  // train_in_threads do. No message carries gradients. An optimiser over other parameters
  // than fit trains (a frozen layer) takes the whole step on every rank instead, from the
  // whole gradient summed in the window. An ad::Error if the ranks are not all on one
  // machine.
  shared_memory,
  // shared_memory when there are several ranks, all on one machine; overlapped otherwise.
  automatic,
};

struct ReplicaOptions {
  // The fastest as measured (docs/distributed.md).
  Reduction reduction = Reduction::automatic;
  // A bucket is closed once it holds this many bytes of gradients (overlapped only).
  std::size_t bucket_bytes = std::size_t{1} << 18;
  // Before each step's reduction, compare a hash of every replica's parameters (after the
  // previous step) and throw an ad::Error on every rank if any differs. For tests.
  bool verify = false;
};

// Where a replica's steps spent their time, summed over steps (MPI_Wtime).
struct ReductionTiming {
  std::int64_t steps = 0;
  double sweep_seconds = 0;    // the backward sweep, with the reductions it started
  double exposed_seconds = 0;  // after the sweep, until every gradient was reduced (with
                               // shared_memory: also the step's sum and copies, not its update)
};

// The replicas of MPI_COMM_WORLD, for FitOptions::replicas.
template <class T>
class Replicas final : public nn::Replicas<T> {
 public:
  explicit Replicas(ReplicaOptions options = {});
  ~Replicas() override;

  int rank() const override;
  int size() const override;
  void broadcast(const ParameterList<T>& parameters,
                 const typename Optimizer<T>::State& state) override;
  void backward(Tape<T>* tape, const typename nn::Replicas<T>::Sweep& sweep, T weight,
                const ParameterList<T>& parameters) override;
  void step(Optimizer<T>& optimizer) override;
  void gather_state(Optimizer<T>& optimizer) override;
  void sum(std::span<double> values) override;
  // The reduction in use (automatic resolved).
  Reduction reduction() const;

  // An ad::Error on every rank, naming the ranks, unless every replica's parameters are
  // the same bits (a collective call: every rank must make it).
  void check_identical(const ParameterList<T>& parameters);
  const ReductionTiming& timing() const;

 private:
  struct State;
  // Makes the optimiser state whole on every rank after shared steps (gather_state's work).
  void gather(const typename Optimizer<T>::State& state);
  std::unique_ptr<State> state_;
};

extern template class Replicas<float>;
extern template class Replicas<double>;

}  // namespace ad::nn::mpi
