// Gaussian process regression on the diabetes data of Debian's python3-sklearn: fits the
// signal variance, length scale and noise variance of a squared-exponential kernel by
// maximising the exact log marginal likelihood (examples/gp/gp.hpp: cholesky, cholesky_solve
// and a sum of log-diagonal on the tape) with L-BFGS, in log space.
//
//   gaussian_process                      fit, print the optimum and its leave-one-out R²
//   gaussian_process --theta a b c        print the LML and its gradient at θ = (a, b, c)
//   gaussian_process --data DIR           the directory holding diabetes_*.csv.gz
//
// tests/check_gp_sklearn.py checks both outputs against scikit-learn's
// GaussianProcessRegressor, which this program does not use.

#include "gp/gp.hpp"

#include <fmt/format.h>
#include <Eigen/Cholesky>

#include <chrono>
#include <cstdio>
#include <deque>
#include <optional>
#include <string>

namespace {

// Minimises f by L-BFGS (memory 8) with a backtracking line search (Armijo's condition);
// stops when ‖∇f‖∞ ≤ tolerance. f(x, g) returns f(x) and writes ∇f(x) into g.
template <class F>
Eigen::Vector3d minimise(const F& f, Eigen::Vector3d x, double tolerance, int max_iterations) {
  Eigen::Vector3d g;
  double fx = f(x, g);
  std::deque<std::pair<Eigen::Vector3d, Eigen::Vector3d>> memory;  // (s, y) pairs, newest last
  for (int it = 0; it < max_iterations && g.cwiseAbs().maxCoeff() > tolerance; ++it) {
    // The two-loop recursion: d = −H g.
    Eigen::Vector3d q = g;
    std::vector<double> a(memory.size());
    for (std::size_t k = memory.size(); k-- > 0;) {
      const auto& [s, y] = memory[k];
      a[k] = s.dot(q) / y.dot(s);
      q -= a[k] * y;
    }
    if (!memory.empty()) {
      const auto& [s, y] = memory.back();
      q *= s.dot(y) / y.dot(y);
    } else {
      q /= std::max(1.0, g.norm());
    }
    for (std::size_t k = 0; k < memory.size(); ++k) {
      const auto& [s, y] = memory[k];
      q += (a[k] - y.dot(q) / y.dot(s)) * s;
    }
    const Eigen::Vector3d d = -q;
    double step = 1;
    Eigen::Vector3d x_new, g_new;
    double f_new = 0;
    for (int halvings = 0;; ++halvings) {
      x_new = x + step * d;
      f_new = f(x_new, g_new);
      if (f_new <= fx + 1e-4 * step * g.dot(d)) break;
      if (halvings == 60) return x;  // no decrease along d to working precision
      step /= 2;
    }
    const Eigen::Vector3d s = x_new - x, y = g_new - g;
    if (s.dot(y) > 1e-300) {
      memory.emplace_back(s, y);
      if (memory.size() > 8) memory.pop_front();
    }
    fmt::print("  iteration {:2}: LML {:.10f}, |gradient| {:.2e}, θ = ({:.6f}, {:.6f}, {:.6f})\n",
               it + 1, -f_new, g_new.cwiseAbs().maxCoeff(), x_new(0), x_new(1), x_new(2));
    x = x_new;
    g = g_new;
    fx = f_new;
  }
  return x;
}

// R² of the leave-one-out predictions: for a GP with K⁻¹ y = α, the residual of sample i
// predicted from the others is αᵢ / (K⁻¹)ᵢᵢ (Rasmussen and Williams, 2006, eq. 5.12).
double leave_one_out_r2(const Eigen::Vector3d& theta, const gp::Mat& d, const gp::Mat& y) {
  const Eigen::Index n = y.rows();
  const double l = std::exp(theta(1));
  gp::Mat k = std::exp(theta(0)) * (-d / (2 * l * l)).array().exp().matrix();
  k.diagonal().array() += std::exp(theta(2));
  const Eigen::LLT<gp::Mat> llt(k);
  const gp::Mat k_inv = llt.solve(gp::Mat::Identity(n, n));
  const Eigen::VectorXd alpha = llt.solve(y);
  const Eigen::VectorXd residual = alpha.cwiseQuotient(k_inv.diagonal());
  const Eigen::VectorXd centred = y.col(0).array() - y.mean();
  return 1 - residual.squaredNorm() / centred.squaredNorm();
}

int run(int argc, char** argv) {
  std::filesystem::path dir = "/usr/lib/python3/dist-packages/sklearn/datasets/data";
  std::optional<Eigen::Vector3d> at;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--data" && i + 1 < argc) {
      dir = argv[++i];
    } else if (arg == "--theta" && i + 3 < argc) {
      Eigen::Vector3d t;
      for (int k = 0; k < 3; ++k) {
        std::size_t used = 0;
        const std::string field = argv[++i];
        t(k) = std::stod(field, &used);
        if (used != field.size() || !std::isfinite(t(k))) {
          throw ad::Error("--theta: '" + field + "' is not a finite number");
        }
      }
      at = t;
    } else {
      std::fputs("usage: gaussian_process [--data DIR] [--theta LN_SIGNAL LN_LENGTH LN_NOISE]\n",
                 stderr);
      return 2;
    }
  }
  const gp::Data data = gp::load_diabetes(dir);
  const gp::Mat d = gp::squared_distances(data.x);
  ad::Tape<double> tape;
  if (at) {
    const gp::Evaluation e = gp::evaluate(tape, *at, d, data.y);
    fmt::print("lml {:.17g}\ngradient {:.17g} {:.17g} {:.17g}\n", e.value, e.gradient(0),
               e.gradient(1), e.gradient(2));
    return 0;
  }
  fmt::print("diabetes: {} samples, {} features (standardised), target standardised\n",
             data.x.cols(), data.x.rows());
  const Eigen::Vector3d start(0, std::log(std::sqrt(double(data.x.rows()))), 0);
  fmt::print("start: θ = (ln σ_f², ln ℓ, ln σ_n²) = ({:.6f}, {:.6f}, {:.6f})\n", start(0), start(1),
             start(2));
  const auto t0 = std::chrono::steady_clock::now();
  int evaluations = 0;
  const Eigen::Vector3d best = minimise(
      [&](const Eigen::Vector3d& theta, Eigen::Vector3d& gradient) {
        ++evaluations;
        const gp::Evaluation e = gp::evaluate(tape, theta, d, data.y);
        gradient = -e.gradient;
        return -e.value;
      },
      start, 1e-9, 200);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const gp::Evaluation e = gp::evaluate(tape, best, d, data.y);
  fmt::print("optimum {:.17g} {:.17g} {:.17g}\n", best(0), best(1), best(2));
  fmt::print("lml {:.17g}\n", e.value);
  fmt::print(
      "σ_f² = {:.6f}, ℓ = {:.6f}, σ_n² = {:.6f}; {} evaluations of LML and gradient in "
      "{:.2f} s\n",
      std::exp(best(0)), std::exp(best(1)), std::exp(best(2)), evaluations, seconds);
  fmt::print("leave-one-out R² of the posterior mean: {:.4f}\n", leave_one_out_r2(best, d, data.y));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gaussian_process: %s\n", e.what());
    return 1;
  }
}
