// The gradient of a Gaussian process's log marginal likelihood (examples/gp/gp.hpp) on the
// tape, against the same value and gradient written by hand with Eigen's LLT, for n = 442
// and n = 2000 (synthetic inputs: 10 uniform features, cost depends on n alone); and the
// time of cholesky's adjoint relative to its forward factorisation at n = 1000.
//
//   gp_lml [--reps N]
//
// The two sides alternate in one process, N repetitions each; medians are printed, with one
// line per figure in the form `key value` for benchmarks/gp_torch.py to read.

#include "gp/gp.hpp"

#include <fmt/format.h>
#include <Eigen/Cholesky>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

using gp::Mat;
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The LML and its gradient in θ by hand: K = σ_f² E + σ_n² I with E = exp(−D / (2ℓ²)),
// α = K⁻¹ y, W = α αᵀ − K⁻¹, ∂/∂θᵢ = ½ ⟨W, ∂K/∂θᵢ⟩ with ∂K/∂θ₀ = σ_f² E,
// ∂K/∂θ₁ = σ_f² E ⊙ D / ℓ², ∂K/∂θ₂ = σ_n² I.
gp::Evaluation by_hand(const Eigen::Vector3d& theta, const Mat& d, const Mat& y) {
  const Eigen::Index n = y.rows();
  const double signal = std::exp(theta(0)), l2 = std::exp(2 * theta(1)), noise = std::exp(theta(2));
  const Mat kf = signal * (-d / (2 * l2)).array().exp().matrix();
  Mat k = kf;
  k.diagonal().array() += noise;
  const Eigen::LLT<Mat> llt(k);
  const Eigen::VectorXd alpha = llt.solve(y);
  Mat w = llt.solve(Mat::Identity(n, n));  // K⁻¹
  w = alpha * alpha.transpose() - w;
  const double log_det = 2 * llt.matrixL().toDenseMatrix().diagonal().array().log().sum();
  gp::Evaluation e;
  e.value =
      -0.5 * y.col(0).dot(alpha) - 0.5 * log_det - 0.5 * double(n) * std::log(2 * std::numbers::pi);
  e.gradient(0) = 0.5 * w.cwiseProduct(kf).sum();
  e.gradient(1) = 0.5 * w.cwiseProduct(kf).cwiseProduct(d).sum() / l2;
  e.gradient(2) = 0.5 * noise * w.trace();
  return e;
}

void compare_lml(Eigen::Index n, int reps) {
  std::mt19937_64 rng(42);
  const Mat x = ad::random_uniform<double>(10, n, rng, -1, 1);
  const Mat y = ad::random_uniform<double>(n, 1, rng, -1, 1);
  const Mat d = gp::squared_distances(x);
  const Eigen::Vector3d theta(0.2, 0.5, -1.0);
  ad::Tape<double> tape;
  std::vector<double> engine, hand;
  gp::Evaluation a, b;
  for (int r = 0; r < reps + 1; ++r) {  // the first round warms up and is dropped
    auto t0 = Clock::now();
    a = gp::evaluate(tape, theta, d, y);
    auto t1 = Clock::now();
    b = by_hand(theta, d, y);
    auto t2 = Clock::now();
    if (r == 0) continue;
    engine.push_back(std::chrono::duration<double>(t1 - t0).count());
    hand.push_back(std::chrono::duration<double>(t2 - t1).count());
  }
  const double agreement =
      std::max(std::abs(a.value - b.value) / std::abs(b.value),
               (a.gradient - b.gradient).cwiseAbs().maxCoeff() / b.gradient.cwiseAbs().maxCoeff());
  fmt::print("gp_engine_ms_{} {:.3f}\n", n, 1e3 * median(engine));
  fmt::print("gp_eigen_ms_{} {:.3f}\n", n, 1e3 * median(hand));
  fmt::print("# n = {}: engine / Eigen by hand = {:.3f}; the two agree to {:.1e} relative\n", n,
             median(engine) / median(hand), agreement);
}

void cholesky_adjoint_ratio(Eigen::Index n, int reps) {
  std::mt19937_64 rng(7);
  const Mat z = ad::random_uniform<double>(n, n, rng, -1, 1);
  const Mat a = z * z.transpose() / double(n) + Mat::Identity(n, n);
  const Mat seed = ad::random_uniform<double>(n, n, rng, -1, 1);
  ad::Tape<double> tape;
  std::vector<double> forward, adjoint;
  for (int r = 0; r < reps + 1; ++r) {
    tape.clear();
    const ad::Var<double> x = tape.variable(a);
    auto t0 = Clock::now();
    const ad::Var<double> l = cholesky(x);
    auto t1 = Clock::now();
    tape.backward(l, seed);
    auto t2 = Clock::now();
    if (r == 0) continue;
    forward.push_back(std::chrono::duration<double>(t1 - t0).count());
    adjoint.push_back(std::chrono::duration<double>(t2 - t1).count());
  }
  fmt::print("cholesky_forward_ms_{} {:.3f}\n", n, 1e3 * median(forward));
  fmt::print("cholesky_adjoint_ms_{} {:.3f}\n", n, 1e3 * median(adjoint));
  fmt::print("# cholesky n = {}: adjoint / forward = {:.2f}\n", n,
             median(adjoint) / median(forward));
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 7;
  if (argc == 3 && std::string(argv[1]) == "--reps") reps = std::max(1, std::stoi(argv[2]));
  compare_lml(442, 4 * reps);
  compare_lml(2000, reps);
  cholesky_adjoint_ratio(1000, reps);
  return 0;
}
