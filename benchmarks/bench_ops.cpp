// Microbenchmarks of the tape: record + backward of each op at several sizes, the seed
// network's gradient, a long chain of small ops, gradcheck, and the matrix-product kernels.

#include <ad/ad.hpp>

#include "hand_written.hpp"

#include <benchmark/benchmark.h>

#include <ad/kernels/product.hpp>

#include <random>

namespace {

using Mat = ad::Matrix<double>;

Mat random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return ad::random_uniform<double>(rows, cols, rng, -1, 1);
}

// One recording of x ↦ sum(op(x, y)) and its backward sweep, on a rewound tape.
template <class Op>
void record_and_backward(benchmark::State& state, Op op) {
  const auto n = state.range(0);
  const Mat a = random_matrix(n, n, 1), b = random_matrix(n, n, 2);
  ad::Tape<double> tape;
  for (auto _ : state) {
    tape.clear();
    auto x = tape.variable(a);
    auto y = tape.variable(b);
    auto loss = sum(op(x, y));
    tape.backward(loss);
    benchmark::DoNotOptimize(x.grad().data());
  }
  state.counters["n"] = static_cast<double>(n);
}

#define AD_OP_BENCHMARK(name, expression)                         \
  void BM_##name(benchmark::State& state) {                       \
    record_and_backward(state, [](const auto& x, const auto& y) { \
      (void)y;                                                    \
      return expression;                                          \
    });                                                           \
  }                                                               \
  BENCHMARK(BM_##name)->Arg(1)->Arg(2)->Arg(64)->Arg(512)->Unit(benchmark::kMicrosecond)

AD_OP_BENCHMARK(matmul, x* y);
AD_OP_BENCHMARK(hadamard, hadamard(x, y));
AD_OP_BENCHMARK(add, x + y);
AD_OP_BENCHMARK(transpose, transpose(x));
AD_OP_BENCHMARK(sigmoid, sigmoid(x));
AD_OP_BENCHMARK(tanh, tanh(x));
AD_OP_BENCHMARK(relu, relu(x));
AD_OP_BENCHMARK(exp, exp(x));
AD_OP_BENCHMARK(sum, sum(x));

// Seed 001: y = σ(W3 σ(W2 σ(W1 I))), one full gradient with respect to W1, W2, W3.
void BM_seed_network(benchmark::State& state) {
  const Mat W1{{0.1, -0.2}, {0.3, 0.4}}, W2{{-0.5, 0.6}, {0.7, -0.8}}, W3{{0.9, -1.0}};
  const Mat I{{0.5}, {-1.5}};
  ad::Tape<double> tape;
  for (auto _ : state) {
    tape.clear();
    auto w1 = tape.variable(W1), w2 = tape.variable(W2), w3 = tape.variable(W3);
    auto y = sigmoid(w3 * sigmoid(w2 * sigmoid(w1 * tape.constant(I))));
    tape.backward(y);
    benchmark::DoNotOptimize(w1.grad().data());
  }
}
BENCHMARK(BM_seed_network)->Unit(benchmark::kNanosecond);

// The same gradient from one recording evaluated again (ad::Recording): no node built.
void BM_seed_network_replay(benchmark::State& state) {
  const Mat W1{{0.1, -0.2}, {0.3, 0.4}}, W2{{-0.5, 0.6}, {0.7, -0.8}}, W3{{0.9, -1.0}};
  const Mat I{{0.5}, {-1.5}};
  auto f = ad::record<double>(
      [](std::span<const ad::Var<double>> x) {
        return sigmoid(x[2] * sigmoid(x[1] * sigmoid(x[0] * x[3])));
      },
      {W1, W2, W3, I}, {.wrt = std::vector<std::size_t>{0, 1, 2}});
  for (auto _ : state) {
    f.gradient({W1, W2, W3, I});
    benchmark::DoNotOptimize(f.grad(0).data());
  }
}
BENCHMARK(BM_seed_network_replay)->Unit(benchmark::kNanosecond);

// The floor: the same gradient written by hand (hand_written.hpp).
void BM_seed_network_by_hand(benchmark::State& state) {
  const Eigen::Matrix2d W1{{0.1, -0.2}, {0.3, 0.4}}, W2{{-0.5, 0.6}, {0.7, -0.8}};
  const Eigen::RowVector2d W3{{0.9, -1.0}};
  const Eigen::Vector2d I{{0.5}, {-1.5}};
  ad::bench::SeedGradient g;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ad::bench::seed_network_by_hand(W1, W2, W3, I, g));
    benchmark::DoNotOptimize(g.w1.data());
  }
}
BENCHMARK(BM_seed_network_by_hand)->Unit(benchmark::kNanosecond);

// x ← σ(A x) 500 times (1000 recorded ops), A 2x2, x 2x1; the gradient of sum(x) w.r.t. A.
// The argument turns the tape's non-finite checks on (1) or leaves them off (0).
void BM_chain(benchmark::State& state) {
  constexpr int links = 500;
  const Mat A = random_matrix(2, 2, 3), x0 = random_matrix(2, 1, 4);
  ad::Tape<double> tape;
  tape.check_finite(state.range(0) != 0);
  for (auto _ : state) {
    tape.clear();
    auto a = tape.variable(A);
    auto x = tape.constant(x0);
    for (int i = 0; i < links; ++i) x = sigmoid(a * x);
    tape.backward(sum(x));
    benchmark::DoNotOptimize(a.grad().data());
  }
  state.counters["ns_per_op"] = benchmark::Counter(
      2.0 * links, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_chain)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// The chain recorded once and evaluated again.
void BM_chain_replay(benchmark::State& state) {
  constexpr int links = 500;
  const Mat A = random_matrix(2, 2, 3), x0 = random_matrix(2, 1, 4);
  auto f = ad::record<double>(
      [](std::span<const ad::Var<double>> in) {
        ad::Var<double> x = in[1];
        for (int i = 0; i < links; ++i) x = sigmoid(in[0] * x);
        return sum(x);
      },
      {A, x0}, {.wrt = std::vector<std::size_t>{0}});
  for (auto _ : state) {
    f.gradient({A, x0});
    benchmark::DoNotOptimize(f.grad(0).data());
  }
  state.counters["ns_per_op"] = benchmark::Counter(
      2.0 * links, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_chain_replay)->Unit(benchmark::kMicrosecond);

// The floor: the chain's gradient written by hand.
void BM_chain_by_hand(benchmark::State& state) {
  constexpr int links = 500;
  const Mat A = random_matrix(2, 2, 3), x0 = random_matrix(2, 1, 4);
  const Eigen::Matrix2d a = A;
  const Eigen::Vector2d x = x0;
  std::vector<Eigen::Vector2d> xs(links + 1);
  Eigen::Matrix2d abar;
  for (auto _ : state) {
    ad::bench::chain_by_hand(a, x, xs, abar);
    benchmark::DoNotOptimize(abar.data());
  }
  state.counters["ns_per_op"] = benchmark::Counter(
      2.0 * links, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_chain_by_hand)->Unit(benchmark::kMicrosecond);

// gradcheck of the seed network: 10 weights, two recordings each.
void BM_gradcheck_seed_network(benchmark::State& state) {
  const Mat W1{{0.1, -0.2}, {0.3, 0.4}}, W2{{-0.5, 0.6}, {0.7, -0.8}}, W3{{0.9, -1.0}};
  const Mat I{{0.5}, {-1.5}};
  auto f = [&](std::span<const ad::Var<double>> W) {
    return sigmoid(W[2] * sigmoid(W[1] * sigmoid(W[0] * W[0].tape().constant(I))));
  };
  for (auto _ : state) benchmark::DoNotOptimize(ad::gradcheck(f, {W1, W2, W3}).passed);
}
BENCHMARK(BM_gradcheck_seed_network)->Unit(benchmark::kMicrosecond);

// The five large products of a 784-256-128-10 training step, batch 128 (Z1 = W1 X,
// W̄1 = Z̄1 Xᵀ, Z2 = W2 H1, W̄2 = Z̄2 H1ᵀ, H̄1 = W2ᵀ Z̄2), through Eigen (argument 0: its GEMM,
// or the BLAS library of an AD_BLAS build) or the packed kernel (1): the measurement behind
// kernels::packed_products.
template <class T>
void BM_mlp_products(benchmark::State& state) {
  using M = ad::Matrix<T>;
  using View = Eigen::Map<const M>;
  std::mt19937_64 rng(5);
  const M W1 = ad::random_uniform<T>(256, 784, rng, -1, 1);
  const M X = ad::random_uniform<T>(784, 128, rng, -1, 1);
  const M Z1bar = ad::random_uniform<T>(256, 128, rng, -1, 1);
  const M W2 = ad::random_uniform<T>(128, 256, rng, -1, 1);
  const M H1 = ad::random_uniform<T>(256, 128, rng, -1, 1);
  const M Z2bar = ad::random_uniform<T>(128, 128, rng, -1, 1);
  M Z1(256, 128), W1bar(256, 784), Z2(128, 128), W2bar(128, 256), H1bar(256, 128);
  const bool packed = state.range(0) != 0;
  auto multiply = [packed](M& c, const auto& a, const auto& b) {
    if (packed) {
      ad::kernels::packed_product(c.data(), c.rows(), c.rows(), c.cols(),
                                  ad::kernels::strided<T>(a), ad::kernels::strided<T>(b), a.cols(),
                                  false);
    } else {
      ad::kernels::eigen_product<T>({c.data(), c.rows(), c.cols()}, a, b, false);
    }
  };
  auto view = [](const M& m) { return View(m.data(), m.rows(), m.cols()); };
  for (auto _ : state) {
    multiply(Z1, view(W1), view(X));
    multiply(W1bar, view(Z1bar), view(X).transpose());
    multiply(Z2, view(W2), view(H1));
    multiply(W2bar, view(Z2bar), view(H1).transpose());
    multiply(H1bar, view(W2).transpose(), view(Z2bar));
    benchmark::DoNotOptimize(Z1.data());
    benchmark::DoNotOptimize(W1bar.data());
    benchmark::DoNotOptimize(H1bar.data());
  }
  // Each product's rows x columns x inner dimension, in the order above.
  auto size = [](const M& c, Eigen::Index inner) { return double(c.rows() * c.cols() * inner); };
  const double multiply_adds = size(Z1, X.rows()) + size(W1bar, X.cols()) + size(Z2, H1.rows()) +
                               size(W2bar, H1.cols()) + size(H1bar, Z2bar.rows());
  state.counters["flops"] =
      benchmark::Counter(2 * multiply_adds, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK_TEMPLATE(BM_mlp_products, float)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_mlp_products, double)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// The core's multiply-add throughput, the ceiling for the products above: independent
// fused multiply-adds on Eigen's widest packets, enough chains in flight to cover the
// instruction's latency on every unit (12 chains, a and b fit even AVX2's 16 registers).
// Meaningful in a build for the machine's own CPU (AD_NATIVE); otherwise it measures SSE2.
template <class T>
void BM_fma_peak(benchmark::State& state) {
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  constexpr int lanes = Eigen::internal::packet_traits<T>::size;
  constexpr int chains = 12;
  constexpr int steps = 1000;
  const Packet a = Eigen::internal::pset1<Packet>(T(0.999)),
               b = Eigen::internal::pset1<Packet>(T(1e-4));
  Packet c[chains];
  for (int i = 0; i < chains; ++i) c[i] = Eigen::internal::pset1<Packet>(T(i));
  for (auto _ : state) {
    for (int k = 0; k < steps; ++k) {
      for (int i = 0; i < chains; ++i) c[i] = Eigen::internal::pmadd(c[i], a, b);
    }
    benchmark::DoNotOptimize(c);
  }
  state.counters["flops"] = benchmark::Counter(2.0 * lanes * chains * steps,
                                               benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK_TEMPLATE(BM_fma_peak, float)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_fma_peak, double)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
