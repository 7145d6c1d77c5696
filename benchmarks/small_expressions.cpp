// Records and differentiates the two small-expression workloads of bench_ops a given number
// of times, for counting instructions with callgrind, which measures the engine's
// per-op bookkeeping without the noise of a shared machine (benchmarks/RESULTS.md):
//
//   small_expressions seed 10000    seed-network gradients
//   small_expressions chain 200     chains x ← σ(A x) of 500 links (1000 recorded ops)
//
// and the same gradients from one recording evaluated again (seed_replay, chain_replay) and
// written by hand (seed_by_hand, chain_by_hand: hand_written.hpp, the floor).
//
// valgrind cannot run AVX-512 code, so build it without -march=native (RESULTS.md has the
// commands).

#include <ad/ad.hpp>

#include "hand_written.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <string_view>
#include <utility>
#include <vector>

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

double seed_network_replay(int repetitions) {
  const Mat W1{{0.1, -0.2}, {0.3, 0.4}}, W2{{-0.5, 0.6}, {0.7, -0.8}}, W3{{0.9, -1.0}};
  const Mat I{{0.5}, {-1.5}};
  auto f = ad::record<double>(
      [](std::span<const ad::Var<double>> x) {
        return sigmoid(x[2] * sigmoid(x[1] * sigmoid(x[0] * x[3])));
      },
      {W1, W2, W3, I}, {.wrt = std::vector<std::size_t>{0, 1, 2}});
  double checksum = 0;
  for (int k = 0; k < repetitions; ++k) {
    f.gradient({W1, W2, W3, I});
    checksum += f.grad(0)(0, 0);
  }
  return checksum;
}

double chain_replay(int repetitions) {
  const Mat A{{0.3, -0.2}, {0.5, 0.1}}, x0{{0.5}, {-1.5}};
  auto f = ad::record<double>(
      [](std::span<const ad::Var<double>> in) {
        ad::Var<double> x = in[1];
        for (int i = 0; i < 500; ++i) x = sigmoid(in[0] * x);
        return sum(x);
      },
      {A, x0}, {.wrt = std::vector<std::size_t>{0}});
  double checksum = 0;
  for (int k = 0; k < repetitions; ++k) {
    f.gradient({A, x0});
    checksum += f.grad(0)(0, 0);
  }
  return checksum;
}

double seed_network_by_hand(int repetitions) {
  const Eigen::Matrix2d W1{{0.1, -0.2}, {0.3, 0.4}}, W2{{-0.5, 0.6}, {0.7, -0.8}};
  const Eigen::RowVector2d W3{{0.9, -1.0}};
  const Eigen::Vector2d I{{0.5}, {-1.5}};
  ad::bench::SeedGradient g;
  double checksum = 0;
  for (int k = 0; k < repetitions; ++k) {
    ad::bench::seed_network_by_hand(W1, W2, W3, I, g);
    checksum += g.w1(0, 0);
  }
  return checksum;
}

double chain_by_hand(int repetitions) {
  const Eigen::Matrix2d A{{0.3, -0.2}, {0.5, 0.1}};
  const Eigen::Vector2d x0{{0.5}, {-1.5}};
  std::vector<Eigen::Vector2d> xs(501);
  Eigen::Matrix2d abar;
  double checksum = 0;
  for (int k = 0; k < repetitions; ++k) {
    ad::bench::chain_by_hand(A, x0, xs, abar);
    checksum += abar(0, 0);
  }
  return checksum;
}

}  // namespace

int main(int argc, char** argv) {
  int repetitions = 0;
  const std::string_view count = argc == 3 ? argv[2] : "";
  const auto [end, error] = std::from_chars(count.data(), count.data() + count.size(), repetitions);
  const std::string_view workload = argc == 3 ? argv[1] : "";
  const std::pair<std::string_view, double (*)(int)> workloads[] = {
      {"seed", seed_network},
      {"chain", chain},
      {"seed_replay", seed_network_replay},
      {"chain_replay", chain_replay},
      {"seed_by_hand", seed_network_by_hand},
      {"chain_by_hand", chain_by_hand}};
  double (*run)(int) = nullptr;
  for (const auto& [name, function] : workloads) {
    if (name == workload) run = function;
  }
  if (error != std::errc() || end != count.data() + count.size() || repetitions <= 0 || !run) {
    std::fputs(
        "usage: small_expressions seed|chain|seed_replay|chain_replay|seed_by_hand|chain_by_hand "
        "REPETITIONS\n",
        stderr);
    return 2;
  }
  const double checksum = run(repetitions);
  fmt::print("{} x {}: checksum {}\n", workload, repetitions, checksum);
}
