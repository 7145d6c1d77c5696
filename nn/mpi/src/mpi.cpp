// nn::Replicas over MPI: broadcast from rank 0, gradients summed by all-reduce in buckets
// overlapped with the backward sweep (or after it), sums of figures, and aborting the job.

#include <ad/nn/mpi.hpp>

#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
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
void broadcast_array(U* data, std::size_t n, MPI_Datatype type) {
  for (std::size_t done = 0; done < n; done += kMaxCount) {
    MPI_Bcast(data + done, static_cast<int>(std::min(n - done, kMaxCount)), type, 0,
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

template <class T>
struct Replicas<T>::State {
  ReplicaOptions options;
  int rank = 0;
  int size = 1;
  ParameterList<T> laid_out;  // the parameters the buckets were made for
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
  state_->options = options;
  MPI_Comm_rank(MPI_COMM_WORLD, &state_->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &state_->size);
}

template <class T>
Replicas<T>::~Replicas() = default;

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

template class Replicas<float>;
template class Replicas<double>;

}  // namespace ad::nn::mpi
