// nn::Replicas over threads of one process: a barrier that a failure breaks, and sums of
// the replicas' arrays computed slice by slice.

#include <ad/nn/threads.hpp>

#include <fmt/format.h>

#include <algorithm>
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

// What the threads of a group share.
template <class T>
class Group {
 public:
  explicit Group(int size)
      : parameters_(static_cast<std::size_t>(size)),
        values_(static_cast<std::size_t>(size)),
        size_(size) {}

  int size() const { return size_; }

  // Returns once every replica has arrived; an ad::Error if a replica failed, before or
  // while this one waited.
  void arrive_and_wait() {
    std::unique_lock lock(mutex_);
    if (failed_) throw failure();
    const std::uint64_t round = round_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++round_;
      changed_.notify_all();
      return;
    }
    changed_.wait(lock, [&] { return round_ != round || failed_; });
    if (round_ == round) throw failure();
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
  std::vector<std::span<const double>> values_;
  const typename Optimizer<T>::State* state_ = nullptr;  // rank 0's, for broadcast
  std::vector<T> sums_;  // the gradients' sum, every parameter flattened in order

 private:
  static ad::Error failure() {
    return ad::Error("train_in_threads: another replica failed; this one stops");
  }

  int size_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int arrived_ = 0;
  std::uint64_t round_ = 0;
  bool failed_ = false;
};

// Where slice k starts when n elements are split in `parts` nearly equal slices.
std::size_t slice_start(std::size_t n, int parts, int k) {
  return n * static_cast<std::size_t>(k) / static_cast<std::size_t>(parts);
}

template <class T>
class ThreadReplica final : public Replicas<T> {
 public:
  ThreadReplica(Group<T>& group, int rank) : group_(group), rank_(rank) {}

  int rank() const override { return rank_; }
  int size() const override { return group_.size(); }

  void broadcast(const ParameterList<T>& parameters,
                 const typename Optimizer<T>::State& state) override {
    const auto r = static_cast<std::size_t>(rank_);
    group_.parameters_[r] = &parameters;
    if (rank_ == 0) group_.state_ = &state;
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
      const typename Optimizer<T>::State& from = *group_.state_;
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
    if (tape) {
      sweep({});
      for (Parameter<T>* p : parameters) p->grad() *= weight;
    } else {
      for (Parameter<T>* p : parameters) p->grad().setZero();  // an empty shard
    }
    std::size_t n = 0;
    for (const Parameter<T>* p : parameters) n += static_cast<std::size_t>(p->size());
    group_.parameters_[static_cast<std::size_t>(rank_)] = &parameters;
    group_.arrive_and_wait();
    if (n != summed_) {  // the first step: every replica has left the last copy from sums_
      if (rank_ == 0) group_.sums_.resize(n);
      group_.arrive_and_wait();
      summed_ = n;
    }
    add_slice(n);
    group_.arrive_and_wait();
    // Every replica's sums are in; the next call's first barrier keeps sums_ until all
    // have copied them.
    const T* in = group_.sums_.data();
    for (Parameter<T>* p : parameters) {
      auto& g = p->grad();
      g = Eigen::Map<const Matrix<T>>(in, g.rows(), g.cols());
      in += g.size();
    }
  }

  void sum(std::span<double> values) override {
    group_.values_[static_cast<std::size_t>(rank_)] = values;
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
  void copy(const Parameter<T>& from, Parameter<T>& to, std::size_t i) const {
    if (from.rows() != to.rows() || from.cols() != to.cols()) {
      throw ad::Error(fmt::format(
          "train_in_threads: parameter {} of replica {} is {}x{} but replica 0's is {}x{}", i,
          rank_, to.rows(), to.cols(), from.rows(), from.cols()));
    }
    to.value() = from.value();
  }

  // This replica's slice of the flattened parameters: Σᵣ gradientᵣ in rank order into sums_.
  void add_slice(std::size_t n) {
    const std::size_t begin = slice_start(n, group_.size(), rank_);
    const std::size_t end = slice_start(n, group_.size(), rank_ + 1);
    const ParameterList<T>& mine = *group_.parameters_[static_cast<std::size_t>(rank_)];
    std::size_t offset = 0;  // of parameter i in the flattened order
    for (std::size_t i = 0; i < mine.size(); ++i) {
      const auto size = static_cast<std::size_t>(mine[i]->size());
      const std::size_t from = std::max(begin, offset), to = std::min(end, offset + size);
      for (std::size_t k = from; k < to; ++k) {
        T total = 0;
        for (const ParameterList<T>* replica : group_.parameters_) {
          total += (*replica)[i]->grad().data()[k - offset];
        }
        group_.sums_[k] = total;
      }
      offset += size;
    }
  }

  Group<T>& group_;
  int rank_;
  std::size_t summed_ = 0;  // the number of gradients the last backward summed
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
