// nn::Replicas over MPI: broadcast from rank 0, gradients summed by all-reduce in buckets
// overlapped with the backward sweep (or after it), or, for ranks on one machine, the
// optimiser step shared by slices through MPI shared memory; sums of figures, and aborting
// the job.

#include <ad/nn/mpi.hpp>

#include "slices.hpp"

#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <string>
#include <vector>

namespace ad::nn::mpi {
namespace {

template <class T>
MPI_Datatype datatype() {
  return sizeof(T) == 4 ? MPI_FLOAT : MPI_DOUBLE;
}

// MPI counts are ints: a longer array goes in pieces of at most this many elements.
constexpr std::size_t kMaxCount = std::numeric_limits<int>::max();

// FNV-1a over the bytes of every parameter's value.
template <class T>
std::uint64_t hash_of(const ParameterList<T>& parameters) {
  std::uint64_t h = 14695981039346656037ull;
  for (const Parameter<T>* p : parameters) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(p->value().data());
    const auto n = static_cast<std::size_t>(p->size()) * sizeof(T);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  }
  return h;
}

template <class U>
void broadcast_array(U* data, std::size_t n, MPI_Datatype type, int root = 0) {
  for (std::size_t done = 0; done < n; done += kMaxCount) {
    MPI_Bcast(data + done, static_cast<int>(std::min(n - done, kMaxCount)), type, root,
              MPI_COMM_WORLD);
  }
}

}  // namespace

Environment::Environment(int& argc, char**& argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) throw ad::Error("mpi::Environment: MPI is initialised already");
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

Environment::~Environment() { MPI_Finalize(); }

void Environment::abort(std::string_view program, const std::exception& error, int status) const {
  fmt::print(stderr, "{}: rank {} of {}: {}\n", program, rank_, size_, error.what());
  std::fflush(stderr);
  std::fflush(stdout);
  MPI_Abort(MPI_COMM_WORLD, status);
  std::_Exit(status);  // MPI_Abort does not return; should it, the process still ends
}

// A group of gradients reduced together: one parameter's, in place, or several copied
// into one buffer.
template <class T>
struct Bucket {
  std::vector<std::size_t> members;  // indices into the parameter list
  std::vector<T> buffer;             // with more than one member
  std::uint32_t ready_at = 0;        // the sweep has finished them once it passes this node
};

// The step shared by the ranks of one machine: an MPI shared-memory window in which each
// rank has room for 2n elements, its weighted gradient (read by the others on their
// slices) and its parameters' values on its own slice (copied by the others once updated).
// Both areas are laid out as the parameters flattened in order.
template <class T>
class SharedStep {
  using Index = Eigen::Index;
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;

 public:
  SharedStep(MPI_Comm node, const ParameterList<T>& parameters, int rank, int size)
      : rank_(static_cast<std::size_t>(rank)) {
    for (const Parameter<T>* p : parameters) n_ += p->size();
    bounds_ = detail::slice_bounds(parameters, n_, size);
    T* mine = nullptr;
    MPI_Win_allocate_shared(static_cast<MPI_Aint>(2 * n_ * Index(sizeof(T))), sizeof(T),
                            MPI_INFO_NULL, node, &mine, &window_);
    MPI_Win_lock_all(MPI_MODE_NOCHECK, window_);  // loads and stores from now on
    node_ = node;
    for (int r = 0; r < size; ++r) {
      MPI_Aint bytes = 0;
      int unit = 0;
      T* base = nullptr;
      MPI_Win_shared_query(window_, r, &bytes, &unit, &base);
      gradients_.push_back(base);
      values_.push_back(base + n_);
    }
  }
  // MPI_Win_free waits for every rank: not while an exception unwinds this one, whose
  // partners may be waiting elsewhere (the program then aborts the job).
  ~SharedStep() {
    if (std::uncaught_exceptions() != 0) return;
    MPI_Win_unlock_all(window_);
    MPI_Win_free(&window_);
  }
  SharedStep(const SharedStep&) = delete;
  SharedStep& operator=(const SharedStep&) = delete;

  Index elements() const { return n_; }
  Index begin(std::size_t r) const { return bounds_[r]; }
  Index end(std::size_t r) const { return bounds_[r + 1]; }

  // Publishes weight × this rank's gradient where the other ranks read it: outside its own
  // slice.
  void publish(const ParameterList<T>& parameters, T weight) {
    weight_ = weight;
    publish_range(parameters, 0, begin(rank_));
    publish_range(parameters, end(rank_), n_);
    synchronise();
  }

  // The group's gradient on this rank's slice into this rank's gradients.
  void sum_slice(const ParameterList<T>& parameters) {
    sum(parameters, begin(rank_), end(rank_), false);
  }

  // The group's whole gradient into this rank's gradients, for an optimiser that takes the
  // whole step on every rank (one that updates other parameters than fit trains).
  void sum_whole(const ParameterList<T>& parameters) {
    publish_range(parameters, begin(rank_), end(rank_));  // the rest is published already
    synchronise();
    sum(parameters, 0, n_, true);
    synchronise();  // no rank publishes its next gradient while another still reads this one
  }

  // Once this rank has updated its slice: publishes it and copies the others'.
  void share_values(const ParameterList<T>& parameters) {
    detail::for_each_in_slice(parameters, begin(rank_), end(rank_),
                              [&](std::size_t i, Index offset, Index from, Index to) {
                                const T* const v = parameters[i]->value().data();
                                std::copy(v + from, v + to, values_[rank_] + offset + from);
                              });
    synchronise();
    // Read before the next step's synchronise(), after which a rank writes its slice again.
    for (std::size_t r = 0; r < values_.size(); ++r) {
      if (r == rank_) continue;
      detail::for_each_in_slice(parameters, begin(r), end(r),
                                [&](std::size_t i, Index offset, Index from, Index to) {
                                  const T* const v = values_[r] + offset;
                                  std::copy(v + from, v + to, parameters[i]->value().data() + from);
                                });
    }
  }

 private:
  // weight × this rank's gradient on the elements [first, last), into its gradient area.
  void publish_range(const ParameterList<T>& parameters, Index first, Index last) {
    detail::for_each_in_slice(parameters, first, last,
                              [&](std::size_t i, Index offset, Index from, Index to) {
                                const T* const g = parameters[i]->grad().data();
                                Eigen::Map<Array>(gradients_[rank_] + offset + from, to - from) =
                                    weight_ * Eigen::Map<const Array>(g + from, to - from);
                              });
  }

  // The group's gradient on the elements [first, last), Σᵣ weightᵣ gradientᵣ in rank order,
  // into this rank's gradients. Where every rank sums the same elements (own_published), each
  // reads its own term from the window too, so that all make the same operations on the same
  // numbers (a term computed on the fly may be fused into the sum).
  void sum(const ParameterList<T>& parameters, Index first, Index last, bool own_published) {
    detail::for_each_in_slice(
        parameters, first, last, [&](std::size_t i, Index offset, Index from, Index to) {
          T* const g = parameters[i]->grad().data() + from;
          detail::sum_in_blocks(
              g, to - from, gradients_.size(), [&](std::size_t r, Index start, auto& sum) {
                if (r == rank_ && !own_published) {
                  sum += weight_ * Eigen::Map<const Array>(g + start, sum.size());
                } else {
                  sum += Eigen::Map<const Array>(gradients_[r] + offset + from + start, sum.size());
                }
              });
        });
  }

  // Every rank's stores before it are seen by every rank's loads after it.
  void synchronise() {
    MPI_Win_sync(window_);
    MPI_Barrier(node_);
    MPI_Win_sync(window_);
  }

  std::size_t rank_;
  Index n_ = 0;
  std::vector<Index> bounds_;
  MPI_Comm node_ = MPI_COMM_NULL;
  MPI_Win window_ = MPI_WIN_NULL;
  std::vector<T*> gradients_;  // rank r's weighted gradient: gradients_[r][0, n)
  std::vector<T*> values_;     // rank r's parameters' values, current on its slice
  T weight_ = 1;
};

template <class T>
struct Replicas<T>::State {
  ReplicaOptions options;
  Reduction reduction = Reduction::overlapped;  // options.reduction, automatic resolved
  int rank = 0;
  int size = 1;
  MPI_Comm node = MPI_COMM_NULL;  // the ranks of this machine (shared_memory)
  std::unique_ptr<SharedStep<T>> shared;
  bool step_due = false;      // shared_memory: backward has run, step() has not
  bool state_sliced = false;  // a step was shared since the optimiser state was last gathered
  ParameterList<T> laid_out;  // the parameters the buckets or the shared step were made for
  std::vector<Bucket<T>> buckets;
  std::vector<MPI_Request> requests;  // one per bucket, in the buckets' order
  ReductionTiming timing;
  std::int64_t checks = 0;

  // Buckets from the last parameter back (the sweep finishes the last layer's first), each
  // closed once it reaches the byte threshold.
  void lay_out(const ParameterList<T>& parameters) {
    laid_out = parameters;
    buckets.clear();
    std::size_t bytes = 0;
    for (std::size_t i = parameters.size(); i-- > 0;) {
      if (buckets.empty() || bytes >= options.bucket_bytes) {
        buckets.emplace_back();
        bytes = 0;
      }
      buckets.back().members.push_back(i);
      bytes += sizeof(T) * static_cast<std::size_t>(parameters[i]->size());
    }
    for (Bucket<T>& b : buckets) {
      if (b.members.size() == 1) continue;
      std::size_t n = 0;
      for (const std::size_t i : b.members) n += static_cast<std::size_t>(parameters[i]->size());
      b.buffer.resize(n);
    }
    requests.assign(buckets.size(), MPI_REQUEST_NULL);
  }

  // Scales bucket k's gradients by the weight and starts their all-reduce.
  void start(std::size_t k, T weight) {
    Bucket<T>& b = buckets[k];
    T* data = nullptr;
    std::size_t n = 0;
    if (b.buffer.empty()) {
      auto& g = laid_out[b.members.front()]->grad();
      if (weight != T(1)) g *= weight;
      data = g.data();
      n = static_cast<std::size_t>(g.size());
    } else {
      T* out = b.buffer.data();
      for (const std::size_t i : b.members) {
        const auto& g = laid_out[i]->grad();
        Eigen::Map<Matrix<T>>(out, g.rows(), g.cols()) = weight * g;
        out += g.size();
      }
      data = b.buffer.data();
      n = b.buffer.size();
    }
    if (n > kMaxCount) {
      throw ad::Error(
          fmt::format("mpi::Replicas: a bucket of {} elements is more than one MPI "
                      "call takes ({}); lower bucket_bytes",
                      n, kMaxCount));
    }
    MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(n), datatype<T>(), MPI_SUM, MPI_COMM_WORLD,
                   &requests[k]);
  }

  // Waits for every bucket and copies the sums out of the buffers.
  void finish() {
    MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE);
    for (Bucket<T>& b : buckets) {
      if (b.buffer.empty()) continue;
      const T* in = b.buffer.data();
      for (const std::size_t i : b.members) {
        auto& g = laid_out[i]->grad();
        g = Eigen::Map<const Matrix<T>>(in, g.rows(), g.cols());
        in += g.size();
      }
    }
  }
};

template <class T>
Replicas<T>::Replicas(ReplicaOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = options;
  s.reduction = options.reduction;
  MPI_Comm_rank(MPI_COMM_WORLD, &s.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &s.size);
  if (s.reduction == Reduction::automatic && s.size == 1) s.reduction = Reduction::overlapped;
  if (s.reduction == Reduction::shared_memory || s.reduction == Reduction::automatic) {
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &s.node);
    int on_this_machine = 0;
    MPI_Comm_size(s.node, &on_this_machine);
    if (on_this_machine != s.size) {
      MPI_Comm_free(&s.node);
      if (s.reduction == Reduction::shared_memory) {
        throw ad::Error(fmt::format(
            "mpi::Replicas: Reduction::shared_memory needs every rank on one machine, but rank "
            "{} shares its machine with {} of the {} ranks; use Reduction::overlapped",
            s.rank, on_this_machine, s.size));
      }
      s.reduction = Reduction::overlapped;
    } else {
      s.reduction = Reduction::shared_memory;
    }
  }
}

template <class T>
Replicas<T>::~Replicas() {
  State& s = *state_;
  s.shared.reset();
  if (s.node != MPI_COMM_NULL && std::uncaught_exceptions() == 0) MPI_Comm_free(&s.node);
}

template <class T>
Reduction Replicas<T>::reduction() const {
  return state_->reduction;
}

template <class T>
int Replicas<T>::rank() const {
  return state_->rank;
}

template <class T>
int Replicas<T>::size() const {
  return state_->size;
}

template <class T>
const ReductionTiming& Replicas<T>::timing() const {
  return state_->timing;
}

template <class T>
void Replicas<T>::broadcast(const ParameterList<T>& parameters,
                            const typename Optimizer<T>::State& state) {
  // A fit that ended between backward and step, or before gathering the state of a shared
  // step, is over: this one starts from rank 0's state, made whole first.
  state_->step_due = false;
  gather(state);
  for (Parameter<T>* p : parameters) {
    broadcast_array(p->value().data(), static_cast<std::size_t>(p->size()), datatype<T>());
  }
  for (const std::span<T> a : state.arrays) broadcast_array(a.data(), a.size(), datatype<T>());
  for (std::int64_t* c : state.counters) broadcast_array(c, 1, MPI_INT64_T);
}

template <class T>
void Replicas<T>::sum(std::span<double> values) {
  for (std::size_t done = 0; done < values.size(); done += kMaxCount) {
    MPI_Allreduce(MPI_IN_PLACE, values.data() + done,
                  static_cast<int>(std::min(values.size() - done, kMaxCount)), MPI_DOUBLE, MPI_SUM,
                  MPI_COMM_WORLD);
  }
}

template <class T>
void Replicas<T>::check_identical(const ParameterList<T>& parameters) {
  State& s = *state_;
  const std::uint64_t mine = hash_of(parameters);
  std::vector<std::uint64_t> all(static_cast<std::size_t>(s.size));
  MPI_Allgather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
  ++s.checks;
  std::string differ;
  for (int r = 1; r < s.size; ++r) {
    if (all[static_cast<std::size_t>(r)] != all[0]) differ += fmt::format(" {}", r);
  }
  if (!differ.empty()) {
    throw ad::Error(
        fmt::format("mpi::Replicas: at check {} the parameters of rank(s){} differ "
                    "from rank 0's",
                    s.checks, differ));
  }
}

template <class T>
void Replicas<T>::backward(Tape<T>* tape, const typename nn::Replicas<T>::Sweep& sweep, T weight,
                           const ParameterList<T>& parameters) {
  State& s = *state_;
  if (s.options.verify) check_identical(parameters);
  if (s.reduction == Reduction::shared_memory) {
    if (s.step_due) {
      throw ad::Error(
          "mpi::Replicas: backward called again before step(optimizer); with shared_memory the "
          "group's gradient is whole only in the step, which each rank takes on its slice");
    }
    s.step_due = true;
    if (parameters != s.laid_out || !s.shared) {
      s.shared.reset();
      s.shared = std::make_unique<SharedStep<T>>(s.node, parameters, s.rank, s.size);
      s.laid_out = parameters;
    }
    const double start = MPI_Wtime();
    if (tape) {
      sweep({});
    } else {
      for (Parameter<T>* p : parameters) p->grad().setZero();  // an empty shard
    }
    const double swept = MPI_Wtime();
    s.shared->publish(parameters, weight);
    ++s.timing.steps;
    s.timing.sweep_seconds += swept - start;
    s.timing.exposed_seconds += MPI_Wtime() - swept;
    return;
  }
  if (parameters != s.laid_out) s.lay_out(parameters);
  const double start = MPI_Wtime();
  double swept = start;
  // An empty shard adds nothing, but the group's reductions need this rank too: it makes the
  // same calls with zero gradients.
  if (!tape) {
    for (Parameter<T>* p : parameters) p->grad().setZero();
  }
  if (s.options.reduction == Reduction::after_backward || s.size == 1) {
    if (tape) sweep({});
    swept = MPI_Wtime();
    for (Parameter<T>* p : parameters) {
      auto& g = p->grad();
      if (weight != T(1)) g *= weight;
      if (s.size > 1) {
        MPI_Allreduce(MPI_IN_PLACE, g.data(), static_cast<int>(g.size()), datatype<T>(), MPI_SUM,
                      MPI_COMM_WORLD);
      }
    }
  } else {
    std::size_t next = 0;
    if (tape) {
      // Where the sweep finishes each bucket: the earliest first use of its members (a
      // parameter this step did not record is finished from the start).
      for (Bucket<T>& b : s.buckets) {
        b.ready_at = std::numeric_limits<std::uint32_t>::max();
        for (const std::size_t i : b.members) {
          try {
            b.ready_at = std::min(b.ready_at, tape->first_use(*parameters[i]));
          } catch (const ad::Error&) {
          }
        }
      }
      // Buckets start in their fixed order on every rank (MPI needs collectives in one
      // order); between nodes, testing the started ones lets MPI move their data along.
      sweep([&](std::uint32_t node) {
        while (next < s.buckets.size() && s.buckets[next].ready_at >= node) {
          s.start(next++, weight);
        }
        if (next > 0) {
          int done = 0;
          MPI_Testall(static_cast<int>(next), s.requests.data(), &done, MPI_STATUSES_IGNORE);
        }
      });
    }
    swept = MPI_Wtime();
    for (; next < s.buckets.size(); ++next) s.start(next, weight);
    s.finish();
  }
  const double end = MPI_Wtime();
  ++s.timing.steps;
  s.timing.sweep_seconds += swept - start;
  s.timing.exposed_seconds += end - swept;
}

template <class T>
void Replicas<T>::step(Optimizer<T>& optimizer) {
  State& s = *state_;
  if (s.reduction != Reduction::shared_memory) {
    optimizer.step();
    return;
  }
  if (!s.step_due) {
    throw ad::Error(
        "mpi::Replicas: step(optimizer) without a backward before it; with shared_memory the "
        "step combines the gradients that backward published");
  }
  s.step_due = false;
  const double start = MPI_Wtime();
  if (optimizer.parameters() != s.laid_out) {
    // An optimiser over other parameters than fit trains (a frozen layer): every rank sums
    // the whole gradient and takes the whole step.
    s.shared->sum_whole(s.laid_out);
    s.timing.exposed_seconds += MPI_Wtime() - start;
    optimizer.step();
    return;
  }
  s.state_sliced = true;
  const ParameterList<T>& parameters = optimizer.parameters();
  const auto me = static_cast<std::size_t>(s.rank);
  s.shared->sum_slice(parameters);
  const double summed = MPI_Wtime();
  optimizer.step_slice(s.shared->begin(me), s.shared->end(me));
  const double updated = MPI_Wtime();
  s.shared->share_values(parameters);
  s.timing.exposed_seconds += (summed - start) + (MPI_Wtime() - updated);
}

// After shared steps each rank's optimiser state is current on its own slice: rank r sends
// the others its slice of every state array.
template <class T>
void Replicas<T>::gather_state(Optimizer<T>& optimizer) {
  if (optimizer.parameters() == state_->laid_out) gather(optimizer.state());
}

template <class T>
void Replicas<T>::gather(const typename Optimizer<T>::State& state) {
  State& s = *state_;
  if (!s.state_sliced) return;
  s.state_sliced = false;
  for (int r = 0; r < s.size; ++r) {
    const auto root = static_cast<std::size_t>(r);
    detail::for_each_state_run<T>(
        state, s.shared->elements(), s.shared->begin(root), s.shared->end(root),
        [&](std::size_t k, Eigen::Index at, Eigen::Index count) {
          broadcast_array(state.arrays[k].data() + at, static_cast<std::size_t>(count),
                          datatype<T>(), r);
        });
  }
}

template class Replicas<float>;
template class Replicas<double>;

}  // namespace ad::nn::mpi
