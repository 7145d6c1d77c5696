// Microbenchmarks of the tape: record + backward of each op at several sizes, the seed
// network's gradient, a long chain of small ops, and gradcheck.

#include <ad/ad.hpp>

#include <benchmark/benchmark.h>

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

}  // namespace

BENCHMARK_MAIN();
