// nn::Replicas over threads of one process: a barrier that a failure breaks, and an
// optimiser step shared by slices: each replica sums the group's gradient over its slice of
// the parameters, updates that slice, and copies the others' slices from their replicas.

#include <ad/nn/threads.hpp>

#include "slices.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

namespace ad::nn {
namespace {

using Eigen::Index;

// What the threads of a group share.
template <class T>
class Group {
 public:
  explicit Group(int size)
      : parameters_(static_cast<std::size_t>(size)),
        weights_(static_cast<std::size_t>(size)),
        states_(static_cast<std::size_t>(size)),
        values_(static_cast<std::size_t>(size)),
        size_(size) {}

  int size() const { return size_; }

  // Returns once every replica has arrived; an ad::Error if a replica failed, before or
  // while this one waited. The replicas usually arrive within microseconds of each other,
  // less than a sleeping thread takes to be woken: a waiter first checks the round for up to
  // spin_time, yielding its core between checks, and only then sleeps on the condition.
  void arrive_and_wait() {
    std::unique_lock lock(mutex_);
    if (failed_) throw failure();
    const std::uint64_t round = round_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      round_.store(round + 1);
      changed_.notify_all();
      return;
    }
    lock.unlock();
    const auto give_up = std::chrono::steady_clock::now() + spin_time;
    while (round_.load() == round && !failed_.load() &&
           std::chrono::steady_clock::now() < give_up) {
      std::this_thread::yield();
    }
    lock.lock();
    changed_.wait(lock, [&] { return round_.load() != round || failed_.load(); });
    if (round_.load() == round) throw failure();
  }

  // Ends every replica's wait: they throw instead.
  void fail() {
    std::lock_guard lock(mutex_);
    failed_ = true;
    changed_.notify_all();
  }

  // Each replica's arrays for the collective call under way: written by their replica
  // before a barrier, read by all after it.
  std::vector<const ParameterList<T>*> parameters_;
  std::vector<T> weights_;  // of each replica's gradient in the group's
  std::vector<const typename Optimizer<T>::State*> states_;
  std::vector<std::span<const double>> values_;

 private:
  static ad::Error failure() {
    return ad::Error("train_in_threads: another replica failed; this one stops");
  }

  int size_;
  std::mutex mutex_;
  std::condition_variable changed_;
  static constexpr std::chrono::microseconds spin_time{1000};
  int arrived_ = 0;
  // Written under the mutex; atomic so that a spinning waiter may read them without it.
  std::atomic<std::uint64_t> round_ = 0;
  std::atomic<bool> failed_ = false;
};

template <class T>
class ThreadReplica final : public Replicas<T> {
 public:
  ThreadReplica(Group<T>& group, int rank) : group_(group), rank_(rank) {}

  int rank() const override { return rank_; }
  int size() const override { return group_.size(); }

  void broadcast(const ParameterList<T>& parameters,
                 const typename Optimizer<T>::State& state) override {
    // A fit that ended between backward and step, or before gathering the state of a shared
    // step, is over: this one starts from replica 0's state, made whole first.
    step_due_ = false;
    if (sliced_) gather(state);
    group_.parameters_[me()] = &parameters;
    group_.states_[me()] = &state;
    group_.arrive_and_wait();
    if (rank_ != 0) {
      const ParameterList<T>& first = *group_.parameters_[0];
      if (first.size() != parameters.size()) {
        throw ad::Error(fmt::format(
            "train_in_threads: replica {} has {} parameters but replica 0 has {}; build every "
            "replica's model the same way",
            rank_, parameters.size(), first.size()));
      }
      for (std::size_t i = 0; i < parameters.size(); ++i) copy(*first[i], *parameters[i], i);
      const typename Optimizer<T>::State& from = *group_.states_[0];
      for (std::size_t k = 0; k < state.arrays.size(); ++k) {
        std::copy(from.arrays[k].begin(), from.arrays[k].end(), state.arrays[k].begin());
      }
      for (std::size_t k = 0; k < state.counters.size(); ++k) {
        *state.counters[k] = *from.counters[k];
      }
    }
    group_.arrive_and_wait();  // rank 0 trains on only once every replica has its copy
  }

  void backward(Tape<T>* tape, const typename Replicas<T>::Sweep& sweep, T weight,
                const ParameterList<T>& parameters) override {
    if (step_due_) {
      throw ad::Error(
          "train_in_threads: backward called again before step(optimizer); the group's gradient "
          "is whole only in the step, which each replica takes on its slice");
    }
    step_due_ = true;
    if (tape) {
      sweep({});
    } else {
      for (Parameter<T>* p : parameters) p->grad().setZero();  // an empty shard
    }
    group_.parameters_[me()] = &parameters;
    group_.weights_[me()] = weight;
    group_.arrive_and_wait();  // every replica's gradient is complete
  }

  // Between two barriers a replica writes only its own arrays, and reads another's only
  // where that one does not write: its gradients on this replica's slice (for the sum), then
  // its parameters on its own slice (to copy them).
  void step(Optimizer<T>& optimizer) override {
    if (!step_due_) {
      throw ad::Error(
          "train_in_threads: step(optimizer) without a backward before it; the step combines "
          "the gradients that backward left");
    }
    step_due_ = false;
    const ParameterList<T>& parameters = optimizer.parameters();
    if (parameters != *group_.parameters_[me()]) {
      throw ad::Error(
          "train_in_threads: the optimiser must update the parameters that fit trains, in "
          "their order, for the replicas to share its step");
    }
    if (parameters != laid_out_) {
      bounds_ = detail::slice_bounds(parameters, optimizer.elements(), size());
      laid_out_ = parameters;
    }
    const Index begin = bounds_[me()], end = bounds_[me() + 1];
    add_slice(parameters, begin, end);
    optimizer.step_slice(begin, end);
    sliced_ = true;
    group_.arrive_and_wait();  // every slice is updated
    for (int r = 0; r < size(); ++r) {
      if (r == rank_) continue;
      const ParameterList<T>& theirs = *group_.parameters_[static_cast<std::size_t>(r)];
      detail::for_each_in_slice(parameters, bounds_[static_cast<std::size_t>(r)],
                                bounds_[static_cast<std::size_t>(r) + 1],
                                [&](std::size_t i, Index, Index from, Index to) {
                                  const T* const values = theirs[i]->value().data();
                                  std::copy(values + from, values + to,
                                            parameters[i]->value().data() + from);
                                });
    }
    // No replica goes on while another still copies from it: it would publish its list for
    // the next step, or, failing in it, free what is being read.
    group_.arrive_and_wait();
  }

  void gather_state(Optimizer<T>& optimizer) override {
    if (sliced_) gather(optimizer.state());
  }

  void sum(std::span<double> values) override {
    group_.values_[me()] = values;
    group_.arrive_and_wait();
    std::vector<double> total(values.size(), 0.0);
    for (const std::span<const double> v : group_.values_) {
      if (v.size() != values.size()) {
        throw ad::Error(fmt::format("train_in_threads: replicas sum arrays of {} and {} numbers",
                                    v.size(), values.size()));
      }
      for (std::size_t k = 0; k < v.size(); ++k) total[k] += v[k];
    }
    group_.arrive_and_wait();  // every replica has read the others' values
    std::copy(total.begin(), total.end(), values.begin());
  }

 private:
  std::size_t me() const { return static_cast<std::size_t>(rank_); }

  void copy(const Parameter<T>& from, Parameter<T>& to, std::size_t i) const {
    if (from.rows() != to.rows() || from.cols() != to.cols()) {
      throw ad::Error(fmt::format(
          "train_in_threads: parameter {} of replica {} is {}x{} but replica 0's is {}x{}", i,
          rank_, to.rows(), to.cols(), from.rows(), from.cols()));
    }
    to.value() = from.value();
  }

  // Makes the optimiser state whole on every replica after shared steps: each copies the
  // others' slices.
  void gather(const typename Optimizer<T>::State& state) {
    sliced_ = false;
    group_.states_[me()] = &state;
    group_.arrive_and_wait();
    for (int r = 0; r < size(); ++r) {
      if (r == rank_) continue;
      const typename Optimizer<T>::State& theirs = *group_.states_[static_cast<std::size_t>(r)];
      detail::for_each_state_run<T>(state, bounds_.back(), bounds_[static_cast<std::size_t>(r)],
                                    bounds_[static_cast<std::size_t>(r) + 1],
                                    [&](std::size_t k, Index at, Index count) {
                                      const T* const from = theirs.arrays[k].data() + at;
                                      std::copy(from, from + count, state.arrays[k].data() + at);
                                    });
    }
    group_.arrive_and_wait();  // no replica updates its state before the others have copied it
  }

  // The group's gradient on this replica's slice, Σᵣ weightᵣ gradientᵣ in rank order, into
  // this replica's gradients (a block at a time: this replica's own gradient is one of the
  // terms).
  void add_slice(const ParameterList<T>& parameters, Index begin, Index end) {
    using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
    detail::for_each_in_slice(
        parameters, begin, end, [&](std::size_t i, Index, Index from, Index to) {
          detail::sum_in_blocks(
              parameters[i]->grad().data() + from, to - from, group_.parameters_.size(),
              [&](std::size_t r, Index start, auto& sum) {
                const T* const theirs = (*group_.parameters_[r])[i]->grad().data() + from + start;
                sum += group_.weights_[r] * Eigen::Map<const Array>(theirs, sum.size());
              });
        });
  }

  Group<T>& group_;
  int rank_;
  ParameterList<T> laid_out_;  // the parameters bounds_ slices
  std::vector<Index> bounds_;  // where replica r's slice starts: bounds_[r]; the end: bounds_[size]
  bool step_due_ = false;      // backward has run; step() has not
  bool sliced_ = false;        // a step was shared since the optimiser state was last gathered
};

}  // namespace

template <class T>
void train_in_threads(int threads, const std::function<void(Replicas<T>&)>& train) {
  if (threads < 1 || threads > 1024) {
    throw ad::Error(
        fmt::format("train_in_threads: the number of threads must be 1 to 1024, got {}", threads));
  }
  Group<T> group(threads);
  std::mutex mutex;
  std::exception_ptr first;
  const auto run = [&](int rank) {
    try {
      ThreadReplica<T> replica(group, rank);
      train(replica);
    } catch (...) {
      {
        std::lock_guard lock(mutex);
        if (!first) first = std::current_exception();
      }
      group.fail();
    }
  };
  {
    std::vector<std::jthread> others;
    try {
      for (int rank = 1; rank < threads; ++rank) others.emplace_back(run, rank);
    } catch (...) {
      group.fail();  // the threads started would wait for the missing ones for ever
      throw;
    }
    run(0);
  }
  if (first) std::rethrow_exception(first);
}

template void train_in_threads<float>(int, const std::function<void(Replicas<float>&)>&);
template void train_in_threads<double>(int, const std::function<void(Replicas<double>&)>&);

}  // namespace ad::nn
