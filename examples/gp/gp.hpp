#pragma once
// Gaussian process regression with a squared-exponential kernel, written as matrix
// expressions on the tape (examples/gaussian_process.cpp fits it; benchmarks/gp_lml.cpp
// times it against the same written by hand with Eigen).
//
// Kernel: k(x, x') = σ_f² exp(−‖x − x'‖² / (2ℓ²)) + σ_n² [x = x'], the kernel scikit-learn
// writes ConstantKernel(σ_f²) * RBF(ℓ) + WhiteKernel(σ_n²). Hyperparameters in log space,
// in scikit-learn's order: θ = (ln σ_f², ln ℓ, ln σ_n²).
//
// Log marginal likelihood of targets y (n x 1) at inputs X (features x n):
//   K = K(X, X; θ),  L = chol(K),  α = K⁻¹ y
//   ln p(y | X, θ) = −½ yᵀα − Σᵢ ln Lᵢᵢ − (n/2) ln 2π

#include <ad/ad.hpp>

#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

namespace gp {

using Mat = ad::Matrix<double>;

// D with Dᵢⱼ = ‖xᵢ − xⱼ‖² for the columns of X, exactly symmetric with a zero diagonal.
inline Mat squared_distances(const Mat& x) {
  const Eigen::VectorXd norms = x.colwise().squaredNorm().transpose();
  Mat d = (-2.0 * x.transpose() * x).colwise() + norms;
  d.rowwise() += norms.transpose();
  d = (d + d.transpose()) * 0.5;  // the same rounding on both sides of the diagonal
  d.diagonal().setZero();
  return d.cwiseMax(0.0);
}

// The log marginal likelihood as an expression of θ (3 x 1) on θ's tape; D and y are
// constants of that tape.
template <class T>
ad::Var<T> log_marginal_likelihood(const ad::Var<T>& theta, const ad::Var<T>& d,
                                   const ad::Var<T>& y) {
  const Eigen::Index n = y.rows();
  ad::Tape<T>& tape = theta.tape();
  const ad::Var<T> signal = exp(block(theta, 0, 0, 1, 1));                   // σ_f²
  const ad::Var<T> inv_two_l2 = 0.5 * exp(-2.0 * block(theta, 1, 0, 1, 1));  // 1 / (2ℓ²)
  const ad::Var<T> noise = exp(block(theta, 2, 0, 1, 1));                    // σ_n²
  const ad::Var<T> identity = tape.constant(ad::Matrix<T>::Identity(n, n));
  const ad::Var<T> k = hadamard(signal, exp(-hadamard(d, inv_two_l2))) + hadamard(noise, identity);
  const ad::Var<T> l = cholesky(k);
  const ad::Var<T> alpha = cholesky_solve(l, y);
  const T constant = T(0.5) * T(n) * std::log(T(2) * std::numbers::pi_v<T>);
  return -0.5 * dot(y, alpha) - sum(log(diag(l))) - constant;
}

// The LML and its gradient in θ, on a fresh recording of `tape`.
struct Evaluation {
  double value = 0;
  Eigen::Vector3d gradient;
};

inline Evaluation evaluate(ad::Tape<double>& tape, const Eigen::Vector3d& theta, const Mat& d,
                           const Mat& y) {
  tape.clear();
  const ad::Var<double> t = tape.variable(theta);
  const ad::Var<double> lml = log_marginal_likelihood(t, tape.constant(d), tape.constant(y));
  tape.backward(lml);
  return {lml.value()(0, 0), t.grad().col(0)};
}

// A gzip-compressed (or plain) text file of numbers separated by white space, row by row; an
// ad::Error naming the file if it is missing, unreadable, ragged or not numeric.
inline Mat read_table(const std::filesystem::path& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw ad::Error("cannot open " + path.string());
  std::string text;
  char buffer[1 << 16];
  int got = 0;
  while ((got = gzread(file, buffer, sizeof buffer)) > 0) text.append(buffer, std::size_t(got));
  const bool failed = got < 0;
  gzclose(file);
  if (failed) throw ad::Error(path.string() + ": not a readable gzip or text file");
  std::vector<std::vector<double>> rows;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream fields(line);
    std::vector<double> row;
    std::string field;
    while (fields >> field) {
      std::size_t used = 0;
      double v = 0;
      try {
        v = std::stod(field, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != field.size() || !std::isfinite(v)) {
        throw ad::Error(fmt::format("{}: line {}: '{}' is not a finite number", path.string(),
                                    rows.size() + 1, field));
      }
      row.push_back(v);
    }
    if (!rows.empty() && row.size() != rows.front().size()) {
      throw ad::Error(fmt::format("{}: line {} has {} fields, line 1 has {}", path.string(),
                                  rows.size() + 1, row.size(), rows.front().size()));
    }
    rows.push_back(std::move(row));
  }
  if (rows.empty()) throw ad::Error(path.string() + ": no data");
  Mat m(Eigen::Index(rows.size()), Eigen::Index(rows.front().size()));
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    for (Eigen::Index j = 0; j < m.cols(); ++j) m(i, j) = rows[std::size_t(i)][std::size_t(j)];
  }
  return m;
}

// Each column of a samples x features table to mean 0 and standard deviation 1 (the
// population's, ddof = 0, as scikit-learn's StandardScaler).
inline Mat standardise(Mat m) {
  const double n = double(m.rows());
  for (Eigen::Index j = 0; j < m.cols(); ++j) {
    const double mean = m.col(j).sum() / n;
    m.col(j).array() -= mean;
    const double sd = std::sqrt(m.col(j).squaredNorm() / n);
    if (sd > 0) m.col(j) /= sd;
  }
  return m;
}

// The diabetes data of scikit-learn (Efron et al., 2004), as Debian's python3-sklearn ships
// it: 442 patients, 10 features (features x samples, standardised) and a disease progression
// target (n x 1, standardised).
struct Data {
  Mat x;
  Mat y;
};

inline Data load_diabetes(const std::filesystem::path& dir) {
  const Mat raw = read_table(dir / "diabetes_data_raw.csv.gz");
  const Mat target = read_table(dir / "diabetes_target.csv.gz");
  if (target.cols() != 1 || target.rows() != raw.rows()) {
    throw ad::Error(
        fmt::format("{}: {} targets for {} samples", dir.string(), target.rows(), raw.rows()));
  }
  return {standardise(raw).transpose(), standardise(target)};
}

}  // namespace gp
