// L2-regularised logistic regression fitted by Newton's method, with the exact Hessian from
// ad::hessian, on the breast-cancer data of Debian's python3-sklearn (569 tumours, 30
// features, standardised).
//
//   newton_logistic                 fit with C = 1, print each iteration and the coefficients
//   newton_logistic --C 0.1         another regularisation strength
//   newton_logistic --data DIR      the directory holding breast_cancer.csv
//
// The objective is scikit-learn's LogisticRegression's (penalty "l2", an unpenalised
// intercept), with labels y ∈ {−1, 1}:
//
//   f(w, b) = ½ ‖w‖² + C Σᵢ ln(1 + e^(−yᵢ (xᵢᵀ w + b)))
//
// written once, generically, so that one definition gives the gradient (a double tape) and
// the Hessian (ad::hessian's tape of dual numbers). tests/check_newton_sklearn.py checks the
// coefficients against scikit-learn, which this program does not use.

#include <ad/ad.hpp>

#include <fmt/format.h>
#include <Eigen/Cholesky>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Mat = ad::Matrix<double>;

struct Data {
  Mat x;  // samples x features
  Mat y;  // samples x 1, ±1
};

// sklearn's breast_cancer.csv: a header "569,30,malignant,benign" (rows, features, the names
// of targets 0 and 1), then one row per sample: the features and the target (0 or 1).
Data load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ad::Error(fmt::format("cannot open {}", path));
  std::string line;
  auto fail = [&](int number, const std::string& why) {
    throw ad::Error(fmt::format("{}:{}: {}", path, number, why));
  };
  long rows = 0, features = 0;
  if (!std::getline(in, line) || std::sscanf(line.c_str(), "%ld,%ld", &rows, &features) != 2 ||
      rows < 1 || features < 1 || rows > 1000000 || features > 10000) {
    fail(1, "expected a header 'rows,features,...'");
  }
  Data d{Mat(rows, features), Mat(rows, 1)};
  for (long i = 0; i < rows; ++i) {
    const int number = static_cast<int>(i) + 2;
    if (!std::getline(in, line)) fail(number, fmt::format("expected {} rows, found {}", rows, i));
    std::istringstream fields(line);
    std::string field;
    for (long j = 0; j <= features; ++j) {
      if (!std::getline(fields, field, ',')) {
        fail(number, fmt::format("expected {} fields, found {}", features + 1, j));
      }
      char* end = nullptr;
      const double v = std::strtod(field.c_str(), &end);
      if (end == field.c_str() || *end != '\0' || !std::isfinite(v)) {
        fail(number, fmt::format("field {} is not a number: '{}'", j + 1, field));
      }
      if (j < features) {
        d.x(i, j) = v;
      } else if (v == 0 || v == 1) {
        d.y(i, 0) = 2 * v - 1;
      } else {
        fail(number, fmt::format("the target must be 0 or 1, got {}", field));
      }
    }
  }
  return d;
}

// Each feature to mean 0 and standard deviation 1 (the population's, as scikit-learn's
// StandardScaler).
void standardise(Mat& x) {
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    auto c = x.col(j).array();
    c -= c.mean();
    const double sd = std::sqrt(c.square().mean());
    if (sd > 0) c /= sd;
  }
}

}  // namespace

int main(int argc, char** argv) try {
  std::string dir = "/usr/lib/python3/dist-packages/sklearn/datasets/data";
  double c = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--data" && i + 1 < argc) {
      dir = argv[++i];
    } else if (arg == "--C" && i + 1 < argc) {
      char* end = nullptr;
      c = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(c > 0) || !std::isfinite(c)) {
        throw ad::Error(fmt::format("--C: must be a finite number > 0, got '{}'", argv[i]));
      }
    } else {
      throw ad::Error(
          fmt::format("unknown argument '{}' (usage: newton_logistic [--data DIR] "
                      "[--C value])",
                      arg));
    }
  }
  Data d = load(dir + "/breast_cancer.csv");
  standardise(d.x);
  const Eigen::Index n = d.x.rows(), p = d.x.cols();
  // θ = [w; b]: the features with a column of ones, and the penalty's mask (not b).
  Mat features(n, p + 1);
  features << d.x, Mat::Ones(n, 1);
  Mat penalised = Mat::Ones(p + 1, 1);
  penalised(p, 0) = 0;

  auto objective = [&](const auto& theta) {
    const auto margins = hadamard(ad::constant(theta, d.y), ad::constant(theta, features) * theta);
    const auto w = hadamard(ad::constant(theta, penalised), theta);
    return 0.5 * sum(square(w)) + c * sum(softplus(-margins));
  };
  // f and ∇f on a double tape.
  auto value_and_gradient = [&](const Mat& theta, Mat& gradient) {
    ad::Tape<double> tape;
    const ad::Var<double> t = tape.variable(theta);
    const ad::Var<double> f = objective(t);
    tape.backward(f);
    gradient = t.grad();
    return f.value()(0, 0);
  };

  fmt::print("breast cancer: {} samples, {} features (standardised), C = {}\n", n, p, c);
  Mat theta = Mat::Zero(p + 1, 1), gradient;
  double f = value_and_gradient(theta, gradient);
  int iterations = 0;
  // Newton steps −H⁻¹∇f, halved until f decreases (Armijo), until ‖∇f‖∞ ≤ 1e-9 · max(1, f).
  // Near the optimum the decrease Armijo asks for falls below what f's rounding resolves (f
  // sums 569 terms: about 1e-12 · |f|), and the test would halve good steps on noise; there a
  // step is accepted if it shrinks the gradient instead.
  while (gradient.cwiseAbs().maxCoeff() > 1e-9 * std::max(1.0, f)) {
    if (iterations == 50) throw ad::Error("Newton's method did not converge in 50 iterations");
    const Mat h = ad::hessian(objective, theta);
    const Mat step = -h.ldlt().solve(gradient);
    double scale = 1;
    Mat next, next_gradient;
    double f_next = 0;
    for (int halvings = 0;; ++halvings) {
      next = theta + scale * step;
      f_next = value_and_gradient(next, next_gradient);
      const double decrease = -scale * gradient.col(0).dot(step.col(0));
      if (decrease <= 1e-12 * std::max(1.0, std::abs(f))) {
        if (next_gradient.cwiseAbs().maxCoeff() < gradient.cwiseAbs().maxCoeff()) break;
      } else if (f_next <= f - 1e-4 * decrease) {
        break;
      }
      if (halvings == 40) throw ad::Error("the line search found no decrease");
      scale /= 2;
    }
    theta = next;
    gradient = next_gradient;
    f = f_next;
    ++iterations;
    fmt::print("  iteration {:2}: f {:.12f}, |gradient| {:.2e}, step {}\n", iterations, f,
               gradient.cwiseAbs().maxCoeff(), scale);
  }
  fmt::print("converged in {} Newton iterations\n", iterations);
  // The line read back by tests/check_newton_sklearn.py: w₁ … w_p, then b.
  fmt::print("coefficients");
  for (Eigen::Index j = 0; j <= p; ++j) fmt::print(" {:.17g}", theta(j, 0));
  fmt::print("\n");
  Eigen::Index correct = 0;
  const Mat scores = features * theta;
  for (Eigen::Index i = 0; i < n; ++i) correct += (scores(i, 0) > 0) == (d.y(i, 0) > 0);
  fmt::print("training accuracy {:.4f}\n", double(correct) / double(n));
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "newton_logistic: {}\n", e.what());
  return 1;
}
