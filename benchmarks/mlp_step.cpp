// One training step of a 784-H1-H2-10 ReLU network (784-256-128-10 unless --hidden says
// otherwise) with softmax cross-entropy, batch 128 as columns, plain SGD: the engine's tape,
// recorded every step and replayed from one recording (ad::record, as nn::fit trains), against
// the same step written by hand with Eigen and the engine's own matrix products (the same
// kernels with no tape: the limit). All three run in this process, alternating, so that the
// machine's noise hits them alike. Prints milliseconds per step, the ratios, and the heap
// allocations and minor page faults of a steady-state engine step.
//
//   mlp_step [--precision f32|f64|both] [--hidden H1,H2] [--rounds N] [--steps N]

#include <ad/ad.hpp>

#include <ad/kernels/product.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <new>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

// Every heap allocation in the process is counted, Eigen's own (which use malloc directly)
// included: glibc lets a program replace malloc and friends, and forwards to its own.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}
namespace {
std::atomic<long> heap_allocations{0};
}  // namespace
extern "C" {
void* malloc(std::size_t n) {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(std::size_t count, std::size_t n) {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(count, n);
}
void* realloc(void* p, std::size_t n) {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, n);
}
void* memalign(std::size_t alignment, std::size_t n) {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** p, std::size_t alignment, std::size_t n) {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  *p = __libc_memalign(alignment, n);
  return *p ? 0 : ENOMEM;
}
void free(void* p) { __libc_free(p); }
}

namespace {

constexpr int kIn = 784, kOut = 10, kBatch = 128;

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

template <class T>
struct Problem {
  using Mat = ad::Matrix<T>;
  int h1, h2;
  Mat W1, b1, W2, b2, W3, b3, X;
  std::vector<int> labels;
  T rate = T(0.01);

  Problem(std::uint64_t seed, int hidden1, int hidden2) : h1(hidden1), h2(hidden2) {
    std::mt19937_64 rng(seed);
    auto init = [&](int rows, int cols) {
      const T bound = T(1) / std::sqrt(T(cols));
      return ad::random_uniform<T>(rows, cols, rng, -bound, bound);
    };
    W1 = init(h1, kIn), b1 = init(h1, 1);
    W2 = init(h2, h1), b2 = init(h2, 1);
    W3 = init(kOut, h2), b3 = init(kOut, 1);
    X = ad::random_uniform<T>(kIn, kBatch, rng, 0, 1);
    std::uniform_int_distribution<int> label(0, kOut - 1);
    for (int j = 0; j < kBatch; ++j) labels.push_back(label(rng));
  }
};

// p ← p − rate ∇p for each parameter, and its gradient zeroed for the next step.
template <class T>
void sgd_step(T rate, std::initializer_list<ad::Parameter<T>*> parameters) {
  for (ad::Parameter<T>* p : parameters) {
    p->value() -= rate * p->grad();
    p->zero_grad();
  }
}

// The step on the tape: parameters recorded by reference, the tape rewound each step.
template <class T>
class EngineStep {
 public:
  explicit EngineStep(const Problem<T>& p)
      : X_(p.X),
        labels_(p.labels),
        rate_(p.rate),
        W1_(p.W1),
        b1_(p.b1),
        W2_(p.W2),
        b2_(p.b2),
        W3_(p.W3),
        b3_(p.b3) {}

  T operator()() {
    tape_.clear();
    auto x = tape_.constant(X_);
    auto h1 = relu(tape_.parameter(W1_) * x + tape_.parameter(b1_));
    auto h2 = relu(tape_.parameter(W2_) * h1 + tape_.parameter(b2_));
    auto loss = softmax_cross_entropy(tape_.parameter(W3_) * h2 + tape_.parameter(b3_), labels_);
    tape_.backward(loss);
    sgd_step(rate_, {&W1_, &b1_, &W2_, &b2_, &W3_, &b3_});
    return loss.value()(0, 0);
  }

 private:
  ad::Tape<T> tape_;
  const ad::Matrix<T>& X_;
  const std::vector<int>& labels_;
  T rate_;
  ad::Parameter<T> W1_, b1_, W2_, b2_, W3_, b3_;
};

// The same step recorded once and evaluated again (ad::record): the batch and its labels (as
// a row of numbers) are inputs bound by reference, the parameters are read by reference.
template <class T>
class ReplayedStep {
 public:
  explicit ReplayedStep(const Problem<T>& p)
      : X_(p.X),
        label_row_(label_row(p.labels)),
        rate_(p.rate),
        W1_(p.W1),
        b1_(p.b1),
        W2_(p.W2),
        b2_(p.b2),
        W3_(p.W3),
        b3_(p.b3),
        loss_(ad::record<T>(
            [this](std::span<const ad::Var<T>> in) {
              ad::Tape<T>& tape = in[0].tape();
              auto h1 = relu(tape.parameter(W1_) * in[0] + tape.parameter(b1_));
              auto h2 = relu(tape.parameter(W2_) * h1 + tape.parameter(b2_));
              return sparse_softmax_cross_entropy(tape.parameter(W3_) * h2 + tape.parameter(b3_),
                                                  in[1]);
            },
            {X_, label_row_}, {.wrt = std::vector<std::size_t>{}})) {}

  T operator()() {
    const T loss = loss_.gradient({X_, label_row_})(0, 0);
    sgd_step(rate_, {&W1_, &b1_, &W2_, &b2_, &W3_, &b3_});
    return loss;
  }

 private:
  static ad::Matrix<T> label_row(const std::vector<int>& labels) {
    ad::Matrix<T> row(1, static_cast<Eigen::Index>(labels.size()));
    for (std::size_t j = 0; j < labels.size(); ++j) {
      row(0, static_cast<Eigen::Index>(j)) = static_cast<T>(labels[j]);
    }
    return row;
  }
  const ad::Matrix<T>& X_;
  ad::Matrix<T> label_row_;
  T rate_;
  ad::Parameter<T> W1_, b1_, W2_, b2_, W3_, b3_;
  ad::Recording<T> loss_;  // records with the parameters above: declared after them
};

template <class T>
Eigen::Map<const ad::Matrix<T>> view(const ad::Matrix<T>& m) {
  return {m.data(), m.rows(), m.cols()};
}

// C = A B through the product the tape's matmul uses (the packed kernel or Eigen's GEMM,
// whichever the build picks), so that both sides of the comparison multiply alike.
template <class T, class A, class B>
void multiply(ad::Matrix<T>& c, const A& a, const B& b) {
  ad::kernels::product<T>({c.data(), c.rows(), c.cols()}, a, b, false);
}

// The same step by hand: preallocated buffers, δ recursion of the lecture.
template <class T>
class HandStep {
 public:
  using Mat = ad::Matrix<T>;
  explicit HandStep(const Problem<T>& p)
      : X_(p.X),
        labels_(p.labels),
        rate_(p.rate),
        W1(p.W1),
        b1(p.b1),
        W2(p.W2),
        b2(p.b2),
        W3(p.W3),
        b3(p.b3),
        Z1(p.h1, kBatch),
        A1(p.h1, kBatch),
        Z2(p.h2, kBatch),
        A2(p.h2, kBatch),
        Z3(kOut, kBatch),
        D3(kOut, kBatch),
        D2(p.h2, kBatch),
        D1(p.h1, kBatch),
        dW1(p.h1, kIn),
        dW2(p.h2, p.h1),
        dW3(kOut, p.h2) {}

  T operator()() {
    multiply(Z1, view(W1), view(X_));
    Z1.colwise() += b1.col(0);
    A1 = Z1.cwiseMax(T(0));
    multiply(Z2, view(W2), view(A1));
    Z2.colwise() += b2.col(0);
    A2 = Z2.cwiseMax(T(0));
    multiply(Z3, view(W3), view(A2));
    Z3.colwise() += b3.col(0);

    // δ3 = (softmax(Z3) − Y) / N, loss = mean(lse − z_label)
    T loss = 0;
    for (int j = 0; j < kBatch; ++j) {
      const T m = Z3.col(j).maxCoeff();
      D3.col(j) = (Z3.col(j).array() - m).exp();
      const T s = D3.col(j).sum();
      loss += m + std::log(s) - Z3(labels_[j], j);
      D3.col(j) /= s;
      D3(labels_[j], j) -= 1;
    }
    D3 /= T(kBatch);
    loss /= T(kBatch);

    multiply(dW3, view(D3), view(A2).transpose());
    multiply(D2, view(W3).transpose(), view(D3));
    D2 = (Z2.array() > 0).select(D2, T(0));
    multiply(dW2, view(D2), view(A1).transpose());
    multiply(D1, view(W2).transpose(), view(D2));
    D1 = (Z1.array() > 0).select(D1, T(0));
    multiply(dW1, view(D1), view(X_).transpose());

    W1 -= rate_ * dW1;
    b1 -= rate_ * D1.rowwise().sum();
    W2 -= rate_ * dW2;
    b2 -= rate_ * D2.rowwise().sum();
    W3 -= rate_ * dW3;
    b3 -= rate_ * D3.rowwise().sum();
    return loss;
  }

 private:
  const Mat& X_;
  const std::vector<int>& labels_;
  T rate_;
  Mat W1, b1, W2, b2, W3, b3;
  Mat Z1, A1, Z2, A2, Z3, D3, D2, D1, dW1, dW2, dW3;
};

template <class F>
double milliseconds_per_step(F& step, int steps) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - start;
  return elapsed.count() / steps;
}

// The steady-state heap allocations and minor page faults of one step.
template <class F>
std::pair<double, double> allocations_and_faults(F& step, int steps) {
  const long allocs_before = heap_allocations.load();
  const long faults_before = minor_faults();
  for (int i = 0; i < steps; ++i) step();
  return {double(heap_allocations.load() - allocs_before) / steps,
          double(minor_faults() - faults_before) / steps};
}

template <class T>
void run(const char* precision, int h1, int h2, int rounds, int steps) {
  const Problem<T> problem(42, h1, h2);
  EngineStep<T> engine(problem);
  ReplayedStep<T> replayed(problem);
  HandStep<T> hand(problem);

  // Same start, same step: the losses agree (a check that all compute the same thing).
  const T first_engine = engine(), first_replayed = replayed(), first_hand = hand();
  for (int i = 0; i < 3; ++i) engine(), replayed(), hand();  // warm up: arena, buffers, caches

  const auto [allocs, faults] = allocations_and_faults(engine, steps);
  const auto [replay_allocs, replay_faults] = allocations_and_faults(replayed, steps);

  std::vector<double> engine_ms, replayed_ms, hand_ms;
  for (int r = 0; r < rounds; ++r) {
    engine_ms.push_back(milliseconds_per_step(engine, steps));
    replayed_ms.push_back(milliseconds_per_step(replayed, steps));
    hand_ms.push_back(milliseconds_per_step(hand, steps));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double e = median(engine_ms), r = median(replayed_ms), h = median(hand_ms);
  fmt::print(
      "mlp_step {} 784-{}-{}-10: engine {:.3f} ms, hand-written {:.3f} ms, ratio {:.3f}; "
      "replayed {:.3f} ms, ratio {:.3f}; "
      "engine per step: {:.2f} heap allocations, {:.2f} minor page faults; "
      "replayed per step: {:.2f} heap allocations, {:.2f} minor page faults; "
      "first loss {:.6f}, replayed {:.6f}, hand-written {:.6f}\n",
      precision, h1, h2, e, h, e / h, r, r / h, allocs, faults, replay_allocs, replay_faults,
      double(first_engine), double(first_replayed), double(first_hand));
}

}  // namespace

int main(int argc, char** argv) {
  std::string precision = "both";
  int rounds = 15, steps = 20, h1 = 256, h2 = 128;
  const auto usage = [] {
    fmt::print(stderr,
               "usage: mlp_step [--precision f32|f64|both] [--hidden H1,H2] [--rounds N] "
               "[--steps N]\n");
    return 2;
  };
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--precision") {
      precision = argv[i + 1];
    } else if (flag == "--hidden") {
      if (std::sscanf(argv[i + 1], "%d,%d", &h1, &h2) != 2 || h1 <= 0 || h2 <= 0) return usage();
    } else if (flag == "--rounds") {
      rounds = std::atoi(argv[i + 1]);
    } else if (flag == "--steps") {
      steps = std::atoi(argv[i + 1]);
    } else {
      return usage();
    }
  }
  fmt::print("Eigen {}.{}.{}, SIMD: {}, BLAS: {}\n", EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION,
             EIGEN_MINOR_VERSION, Eigen::SimdInstructionSetsInUse(),
#ifdef EIGEN_USE_BLAS
             "OpenBLAS through EIGEN_USE_BLAS"
#else
             "none (Eigen's own GEMM)"
#endif
  );
  if (precision == "f32" || precision == "both") run<float>("f32", h1, h2, rounds, steps);
  if (precision == "f64" || precision == "both") run<double>("f64", h1, h2, rounds, steps);
}
