// Records and differentiates the two small-expression workloads of bench_ops a given number
// of times, for counting instructions with callgrind, which measures the engine's
// per-op bookkeeping without the noise of a shared machine (benchmarks/RESULTS.md):
//
//   small_expressions seed 10000    seed-network gradients
//   small_expressions chain 200     chains x ← σ(A x) of 500 links (1000 recorded ops)
//
// valgrind cannot run AVX-512 code, so build it without -march=native (RESULTS.md has the
// commands).

#include <ad/ad.hpp>

#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <string_view>

namespace {

using Mat = ad::Matrix<double>;

double seed_network(int repetitions) {
  const Mat W1{{0.1, -0.2}, {0.3, 0.4}}, W2{{-0.5, 0.6}, {0.7, -0.8}}, W3{{0.9, -1.0}};
  const Mat I{{0.5}, {-1.5}};
  ad::Tape<double> tape;
  double checksum = 0;
  for (int k = 0; k < repetitions; ++k) {
    tape.clear();
    auto w1 = tape.variable(W1), w2 = tape.variable(W2), w3 = tape.variable(W3);
    auto y = sigmoid(w3 * sigmoid(w2 * sigmoid(w1 * tape.constant(I))));
    tape.backward(y);
    checksum += w1.grad()(0, 0);
  }
  return checksum;
}

double chain(int repetitions) {
  const Mat A{{0.3, -0.2}, {0.5, 0.1}}, x0{{0.5}, {-1.5}};
  ad::Tape<double> tape;
  double checksum = 0;
  for (int k = 0; k < repetitions; ++k) {
    tape.clear();
    auto a = tape.variable(A);
    auto x = tape.constant(x0);
    for (int i = 0; i < 500; ++i) x = sigmoid(a * x);
    tape.backward(sum(x));
    checksum += a.grad()(0, 0);
  }
  return checksum;
}

}  // namespace

int main(int argc, char** argv) {
  int repetitions = 0;
  const std::string_view count = argc == 3 ? argv[2] : "";
  const auto [end, error] = std::from_chars(count.data(), count.data() + count.size(), repetitions);
  const std::string_view workload = argc == 3 ? argv[1] : "";
  if (error != std::errc() || end != count.data() + count.size() || repetitions <= 0 ||
      (workload != "seed" && workload != "chain")) {
    std::fputs("usage: small_expressions seed|chain REPETITIONS\n", stderr);
    return 2;
  }
  const double checksum = workload == "seed" ? seed_network(repetitions) : chain(repetitions);
  fmt::print("{} x {}: checksum {}\n", workload, repetitions, checksum);
}
