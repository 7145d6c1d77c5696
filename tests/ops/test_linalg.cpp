// The factorising ops (cholesky, triangular_solve, cholesky_solve, logdet_spd, eigh_*, svd_*,
// qr_*), matrix_exp, log_sum_exp and kron: the catalog's gradient checks, values against
// hand computations and identities, 64x64 and ill-conditioned inputs, the policy at
// repeated eigenvalues, and the errors for inputs outside each op's domain.

#define BOOST_TEST_MODULE ops_linalg
#include "op_checks.hpp"

#include <Eigen/Cholesky>
#include <Eigen/LU>
#include <Eigen/QR>
#include <Eigen/SVD>

#include <algorithm>
#include <cmath>
#include <utility>

using ad_test::Mat;
using V = ad::Var<double>;

namespace {
const std::string here = "test_linalg.cpp";

// X Xᵀ / n + ε I for a random n x n X.
Mat spd(Eigen::Index n, double epsilon, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Mat x = ad::random_uniform<double>(n, n, rng, -1, 1);
  return x * x.transpose() / static_cast<double>(n) + epsilon * Mat::Identity(n, n);
}

// Q diag(d) Qᵀ for a random orthogonal Q.
Mat with_eigenvalues(const Eigen::VectorXd& d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Eigen::Index n = d.size();
  const Mat q =
      Eigen::HouseholderQR<Mat>(ad::random_uniform<double>(n, n, rng, -1, 1)).householderQ();
  return q * d.asDiagonal() * q.transpose();
}

Mat value_of(const V& v) { return v.value(); }

// For large inputs, where a gradient check of every element costs two recordings per
// element: the directional derivative of L = Σ f(x) ⊙ R along random unit directions U
// (all inputs at once), ⟨∇L, U⟩ from one backward sweep against the central difference
// (L(x + hU) − L(x − hU)) / 2h, with gradcheck's tolerances. A wrong element of the gradient
// shows in every direction that weights it.
template <class F>
void check_directions(const std::string& name, const F& f, const std::vector<Mat>& inputs) {
  auto weighted = [&](std::span<const V> x) { return ad_test::weighted_sum(f(x), 99); };
  auto at = [&](const std::vector<Mat>& points, std::vector<Mat>* gradient) {
    ad::Tape<double> tape;
    std::vector<V> x;
    for (const Mat& m : points) x.push_back(tape.variable(m));
    const V l = weighted(x);
    if (gradient) {
      tape.backward(l);
      for (const V& v : x) gradient->push_back(v.grad());
    }
    return l.value()(0, 0);
  };
  std::vector<Mat> gradient;
  at(inputs, &gradient);
  std::mt19937_64 rng(11);
  const double h = 1e-6;
  for (int k = 0; k < 6; ++k) {
    std::vector<Mat> plus = inputs, minus = inputs;
    double norm2 = 0;
    std::vector<Mat> u;
    for (const Mat& m : inputs) {
      u.push_back(ad::random_uniform<double>(m.rows(), m.cols(), rng, -1, 1));
      norm2 += u.back().squaredNorm();
    }
    double analytic = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      u[i] /= std::sqrt(norm2);
      plus[i] += h * u[i];
      minus[i] -= h * u[i];
      analytic += gradient[i].cwiseProduct(u[i]).sum();
    }
    const double numeric = (at(plus, nullptr) - at(minus, nullptr)) / (2 * h);
    BOOST_TEST(std::abs(analytic - numeric) <= 1e-6 + 1e-5 * std::abs(numeric),
               name << ", direction " << k << ": analytic " << analytic << ", numeric " << numeric);
  }
}

}  // namespace

// The family's catalog cases, one test case each (catalog/<op>_<k>).
[[maybe_unused]] const bool catalog_registered = ad_test::register_catalog(ad_test::Family::linalg);

BOOST_AUTO_TEST_SUITE(values)

BOOST_AUTO_TEST_CASE(cholesky_of_a_2x2_by_hand) {
  // [[4, 2], [2, 5]] = L Lᵀ with L = [[2, 0], [1, 2]].
  ad::Tape<double> tape;
  Mat a(2, 2);
  a << 4, 2, 2, 5;
  Mat l(2, 2);
  l << 2, 0, 1, 2;
  BOOST_TEST((value_of(cholesky(tape.variable(a))) - l).cwiseAbs().maxCoeff() == 0.0);
  // Only ½(A + Aᵀ) is read: [[4, 1], [3, 5]] has the same factor.
  Mat skew(2, 2);
  skew << 4, 1, 3, 5;
  BOOST_TEST((value_of(cholesky(tape.variable(skew))) - l).cwiseAbs().maxCoeff() == 0.0);
  // ln det = 2 (ln 2 + ln 2) = ln 16.
  BOOST_TEST(std::abs(value_of(logdet_spd(tape.variable(a)))(0, 0) - std::log(16.0)) < 1e-15);
}

BOOST_AUTO_TEST_CASE(factor_and_solves_reproduce_their_definitions_at_64x64) {
  ad::Tape<double> tape;
  const Mat a = spd(64, 0.1, 1);
  std::mt19937_64 rng(2);
  const Mat b = ad::random_uniform<double>(64, 3, rng, -1, 1);
  const V l = cholesky(tape.variable(a));
  BOOST_TEST((value_of(l) * value_of(l).transpose() - a).norm() < 1e-12 * a.norm());
  BOOST_TEST(value_of(l).triangularView<Eigen::StrictlyUpper>().toDenseMatrix().isZero(0));
  const Mat x = value_of(cholesky_solve(l, tape.variable(b)));
  BOOST_TEST((a * x - b).norm() < 1e-10 * b.norm());
  const Mat lower = value_of(l);
  const Mat upper = lower.transpose();
  using ad::Transposed;
  using ad::Triangle;
  // The other triangle is not read: filling it with ones changes nothing.
  Mat lower_filled = lower;
  lower_filled.triangularView<Eigen::StrictlyUpper>().setOnes();
  const V lf = tape.variable(lower_filled);
  const V bv = tape.variable(b);
  BOOST_TEST((lower * value_of(triangular_solve(lf, bv, Triangle::lower)) - b).norm() < 1e-10);
  BOOST_TEST(
      (upper * value_of(triangular_solve(lf, bv, Triangle::lower, Transposed::yes)) - b).norm() <
      1e-10);
  const V uv = tape.variable(upper);
  BOOST_TEST((upper * value_of(triangular_solve(uv, bv, Triangle::upper)) - b).norm() < 1e-10);
  BOOST_TEST(
      (lower * value_of(triangular_solve(uv, bv, Triangle::upper, Transposed::yes)) - b).norm() <
      1e-10);
  const double by_lu = value_of(logdet(tape.variable(a)))(0, 0);
  BOOST_TEST(std::abs(value_of(logdet_spd(tape.variable(a)))(0, 0) - by_lu) < 1e-10);
}

BOOST_AUTO_TEST_CASE(eigh_of_known_spectra) {
  ad::Tape<double> tape;
  Mat a(2, 2);  // eigenvalues (5 ∓ √5) / 2, eigenvectors along (1, λ − 2)
  a << 2, 1, 1, 3;
  const auto e = ad::eigh(tape.variable(a));
  const double root5 = std::sqrt(5.0);
  const double lambda[] = {(5 - root5) / 2, (5 + root5) / 2};
  // The sign rule, each column's largest-magnitude element positive: (1, −0.618…) and
  // (1, 1.618…) as they are.
  Mat v(2, 2);
  for (int k = 0; k < 2; ++k) {
    BOOST_TEST(std::abs(value_of(e.values)(k, 0) - lambda[k]) < 1e-15);
    const double norm = std::sqrt(1 + (lambda[k] - 2) * (lambda[k] - 2));
    v(0, k) = 1 / norm;
    v(1, k) = (lambda[k] - 2) / norm;
  }
  BOOST_TEST((value_of(e.vectors) - v).cwiseAbs().maxCoeff() < 1e-15);
  const Eigen::VectorXd d = Eigen::VectorXd::LinSpaced(6, -2, 3);
  const Mat b = with_eigenvalues(d, 3);
  const V values = eigh_values(tape.variable(b));
  BOOST_TEST((value_of(values) - d).cwiseAbs().maxCoeff() < 1e-13);
  const Mat w = value_of(eigh_vectors(tape.variable(b)));
  BOOST_TEST((w * d.asDiagonal() * w.transpose() - b).cwiseAbs().maxCoeff() < 1e-13);
}

BOOST_AUTO_TEST_CASE(svd_and_qr_reproduce_their_matrix) {
  ad::Tape<double> tape;
  std::mt19937_64 rng(4);
  for (auto [m, n] : {std::pair{5, 3}, std::pair{3, 5}, std::pair{4, 4}}) {
    const Mat a = ad::random_uniform<double>(m, n, rng, -1, 1);
    const auto d = ad::svd(tape.variable(a));
    const Mat u = value_of(d.u), s = value_of(d.s), v = value_of(d.v);
    BOOST_TEST((u * s.col(0).asDiagonal() * v.transpose() - a).norm() < 1e-13);
    BOOST_TEST((u.transpose() * u - Mat::Identity(u.cols(), u.cols())).norm() < 1e-13);
    BOOST_TEST((v.transpose() * v - Mat::Identity(v.cols(), v.cols())).norm() < 1e-13);
    const Eigen::VectorXd by_eigen = Eigen::JacobiSVD<Mat>(a).singularValues();
    BOOST_TEST((s.col(0) - by_eigen).norm() < 1e-13);
    if (m >= n) {
      const auto f = ad::qr(tape.variable(a));
      const Mat q = value_of(f.q), r = value_of(f.r);
      BOOST_TEST((q * r - a).norm() < 1e-13);
      BOOST_TEST((q.transpose() * q - Mat::Identity(n, n)).norm() < 1e-13);
      BOOST_TEST(r.triangularView<Eigen::StrictlyLower>().toDenseMatrix().isZero(0));
      BOOST_TEST((r.diagonal().array() > 0).all());
    }
  }
  Mat known(3, 2);  // singular values 3 and 2
  known << 0, 2, 3, 0, 0, 0;
  BOOST_TEST((value_of(singular_values(tape.variable(known))) - Eigen::Vector2d(3, 2)).norm() <
             1e-15);
}

BOOST_AUTO_TEST_CASE(matrix_exp_of_known_matrices) {
  ad::Tape<double> tape;
  // A rotation generator: e^[[0, −t], [t, 0]] = [[cos t, −sin t], [sin t, cos t]].
  const double t = 2.5;
  Mat g(2, 2);
  g << 0, -t, t, 0;
  Mat rotation(2, 2);
  rotation << std::cos(t), -std::sin(t), std::sin(t), std::cos(t);
  BOOST_TEST((value_of(matrix_exp(tape.variable(g))) - rotation).cwiseAbs().maxCoeff() < 1e-14);
  // Nilpotent: e^N = I + N.
  Mat n(3, 3);
  n << 0, 1, 2, 0, 0, 3, 0, 0, 0;
  Mat expected = Mat::Identity(3, 3) + n + n * n / 2;
  BOOST_TEST((value_of(matrix_exp(tape.variable(n))) - expected).cwiseAbs().maxCoeff() < 1e-14);
  // Its gradient: d tr(e^A) / dA = (e^A)ᵀ.
  const V a = tape.variable(n);
  tape.backward(trace(matrix_exp(a)));
  BOOST_TEST((a.grad() - expected.transpose()).cwiseAbs().maxCoeff() < 1e-14);
}

BOOST_AUTO_TEST_CASE(log_sum_exp_is_stable_at_magnitudes_of_1e4) {
  Mat z(3, 2);
  z << 1e4, -1e4, 1e4 + 1, -1e4 - 2, 1e4 - 3, -1e4 + 0.5;
  // ln(e^a + e^b + e^c) = max + ln Σ e^(· − max), by hand.
  auto lse = [](double a, double b, double c) {
    const double m = std::max({a, b, c});
    return m + std::log(std::exp(a - m) + std::exp(b - m) + std::exp(c - m));
  };
  ad::Tape<double> dtape;
  const V x = dtape.variable(z);
  const Mat cols = value_of(log_sum_exp(x, ad::Axis::rows));
  BOOST_TEST(std::abs(cols(0, 0) - lse(1e4, 1e4 + 1, 1e4 - 3)) < 1e-11);
  BOOST_TEST(std::abs(cols(0, 1) - lse(-1e4, -1e4 - 2, -1e4 + 0.5)) < 1e-11);
  const V all = log_sum_exp(x);
  BOOST_TEST(std::abs(value_of(all)(0, 0) - (1e4 + 1 + std::log(1 + std::exp(-1) + std::exp(-4)))) <
             1e-11);
  dtape.backward(all);
  BOOST_TEST(std::abs(x.grad().sum() - 1) < 1e-15);  // a softmax: sums to 1
  // float: the softmax is formed from e^(A − max), so it keeps float precision at 1e4 (forming
  // e^(A − c) with c rounded to float's spacing of 1e-3 there would not). The elements are
  // exact in float.
  ad::Tape<float> ftape;
  Eigen::MatrixXf zf(1, 3);
  zf << 1e4f, 1e4f + 1, 1e4f - 0.5f;
  const auto xf = ftape.variable(zf);
  const auto cf = log_sum_exp(xf, ad::Axis::cols);
  const double s = 1 + std::exp(1.0) + std::exp(-0.5);                   // Σ e^(z − 1e4)
  BOOST_TEST(std::abs(cf.value()(0, 0) - (1e4 + std::log(s))) <= 1e-3);  // float's spacing
  ftape.backward(cf);
  const double softmax[] = {1 / s, std::exp(1.0) / s, std::exp(-0.5) / s};
  for (int j = 0; j < 3; ++j) BOOST_TEST(std::abs(xf.grad()(0, j) - softmax[j]) < 1e-6);
}

BOOST_AUTO_TEST_CASE(kron_by_hand) {
  ad::Tape<double> tape;
  Mat a(1, 2);
  a << 1, 2;
  Mat b(2, 1);
  b << 3, 4;
  Mat c(2, 2);  // [1·b, 2·b]
  c << 3, 6, 4, 8;
  BOOST_TEST((value_of(kron(tape.variable(a), tape.variable(b))) - c).cwiseAbs().maxCoeff() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(gradients)

// The gradient checks at n = 64 (the catalog stops at 7x7): of every element for cholesky,
// along random directions for the rest (check_directions), which keeps the debug build's
// run to seconds.
BOOST_AUTO_TEST_CASE(factorising_ops_at_64x64) {
  const Mat a = spd(64, 0.5, 5);
  std::mt19937_64 rng(6);
  const Mat b = ad::random_uniform<double>(64, 2, rng, -1, 1);
  using ad_test::check_gradient;
  check_gradient("cholesky 64", [](auto x) { return cholesky(x[0]); }, {a});
  check_directions("logdet_spd 64", [](auto x) { return logdet_spd(x[0]); }, {a});
  check_directions("cholesky_solve 64", [](auto x) { return cholesky_solve(cholesky(x[0]), x[1]); },
                   {a, b});
  const Mat l = a.llt().matrixL();
  check_directions(
      "triangular_solve 64, upper transposed",
      [](auto x) { return triangular_solve(x[0], x[1], ad::Triangle::upper, ad::Transposed::yes); },
      {Mat(l.transpose()), b});
  const Mat s = with_eigenvalues(Eigen::VectorXd::LinSpaced(64, 1, 64), 7);
  check_directions("eigh_values 64", [](auto x) { return eigh_values(x[0]); }, {s});
  check_directions("eigh_vectors 64", [](auto x) { return eigh_vectors(x[0]); }, {s});
  const Mat m = ad::random_uniform<double>(64, 64, rng, -1, 1) / 16;
  check_directions("matrix_exp 64", [](auto x) { return matrix_exp(x[0]); }, {m});
  const Mat tall = ad::random_uniform<double>(64, 20, rng, -1, 1);
  check_directions("qr_r 64x20", [](auto x) { return qr_r(x[0]); }, {tall});
  check_directions("svd_u 64x20", [](auto x) { return svd_u(x[0]); }, {tall});
}

// Ill-conditioned but valid inputs. Central differences lose their accuracy as the condition
// number grows (their rounding error is ε |f| / h), so at a condition number of 1e8 the
// reference is an identity instead: the gradient of ln det A is A⁻¹ (Eigen's LU inverse)
// whichever op computes it, through cholesky's adjoint, logdet_spd's or eigh_values'. Central
// differences check a condition number of 1e3.
BOOST_AUTO_TEST_CASE(ill_conditioned_but_valid_inputs) {
  Eigen::VectorXd d = Eigen::VectorXd::LinSpaced(9, -4, 4);
  d = d.unaryExpr([](double k) { return std::pow(10.0, k); });
  const Mat a = with_eigenvalues(d, 8);
  const Mat a_inv = a.partialPivLu().inverse();
  auto gradient = [&](auto f) {
    ad::Tape<double> tape;
    const V x = tape.variable(a);
    tape.backward(f(x));
    return Mat(x.grad());
  };
  const auto through_cholesky = [](const V& x) { return 2.0 * sum(log(diag(cholesky(x)))); };
  const auto through_logdet_spd = [](const V& x) { return logdet_spd(x); };
  const auto through_eigh = [](const V& x) { return sum(log(eigh_values(x))); };
  const double scale = a_inv.cwiseAbs().maxCoeff();
  BOOST_TEST((gradient(through_cholesky) - a_inv).cwiseAbs().maxCoeff() < 1e-6 * scale);
  BOOST_TEST((gradient(through_logdet_spd) - a_inv).cwiseAbs().maxCoeff() < 1e-6 * scale);
  BOOST_TEST((gradient(through_eigh) - a_inv).cwiseAbs().maxCoeff() < 1e-6 * scale);

  const Mat moderate = with_eigenvalues(Eigen::VectorXd::LinSpaced(7, 1, 1e3), 10);
  using ad_test::check_gradient;
  check_gradient("cholesky, cond 1e3", [](auto x) { return cholesky(x[0]); }, {moderate});
  check_gradient("cholesky_solve, cond 1e3",
                 [](auto x) { return cholesky_solve(cholesky(x[0]), x[1]); },
                 {moderate, Mat::Ones(7, 2)});
  Mat graded(3, 3);  // columns of very different norms, nearly dependent
  graded << 1, 1, 1, 0, 1e-3, 1e-3, 0, 0, 1e-3;
  check_gradient("qr_q, graded", [](auto x) { return qr_q(x[0]); }, {graded});
  check_gradient("singular_values, graded", [](auto x) { return singular_values(x[0]); }, {graded});
}

// Repeated eigenvalues: the eigenvalues' gradient as a symmetric function, and the projector
// onto the repeated eigenspace (independent of the basis chosen in it) exact.
BOOST_AUTO_TEST_CASE(repeated_eigenvalues_follow_the_documented_policy) {
  ad::Tape<double> tape;
  const V i = tape.variable(Mat::Identity(3, 3));
  tape.backward(sum(eigh_values(i)));  // the trace: gradient I
  BOOST_TEST((i.grad() - Mat::Identity(3, 3)).cwiseAbs().maxCoeff() < 1e-15);
  const Mat a = with_eigenvalues(Eigen::Vector3d(1, 1, 3), 9);
  ad_test::check_gradient("projector onto a repeated eigenspace",
                          [](auto x) {
                            const auto pair = block(eigh_vectors(x[0]), 0, 0, 3, 2);
                            return pair * transpose(pair);
                          },
                          {a});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(domain)

BOOST_AUTO_TEST_CASE(a_matrix_that_is_not_positive_definite_names_the_failing_pivot) {
  using ad_test::check_error;
  ad::Tape<double> tape;
  Mat a(3, 3);  // the leading 2x2 minor is 4·1 − 2·2 = 0: pivot 1 is 0
  a << 4, 2, 0, 2, 1, 0, 0, 0, 1;
  const V x = tape.variable(a);
  const std::size_t before = tape.size();
  check_error<ad::NumericError>([&] { cholesky(x); },
                                {"cholesky", "3x3", "not positive definite", "pivot 1", here});
  check_error<ad::NumericError>([&] { logdet_spd(x); }, {"logdet_spd", "pivot 1", here});
  Mat indefinite = Mat::Identity(40, 40);  // past Eigen's unblocked size: the blocked path
  indefinite(37, 37) = -2;
  check_error<ad::NumericError>([&] { cholesky(tape.variable(indefinite)); },
                                {"pivot 37", "is -2"});
  Mat with_nan = Mat::Identity(2, 2);
  with_nan(1, 1) = std::nan("");
  check_error<ad::NumericError>([&] { cholesky(tape.variable(with_nan)); }, {"pivot 1"});
  BOOST_TEST(tape.size() == before + 2);  // the two leaves; no refused op left a node
}

BOOST_AUTO_TEST_CASE(other_domain_errors) {
  using ad_test::check_error;
  ad::Tape<double> tape;
  Mat t = Mat::Identity(3, 3);
  t(2, 2) = 0;
  const V tv = tape.variable(t);
  const V b = tape.variable(Mat::Ones(3, 1));
  check_error<ad::NumericError>([&] { triangular_solve(tv, b, ad::Triangle::upper); },
                                {"triangular_solve", "singular", "diagonal element 2", here});
  check_error<ad::NumericError>([&] { cholesky_solve(tv, b); }, {"cholesky_solve", "singular"});
  Mat dependent(3, 2);
  dependent << 1, 2, 2, 4, 3, 6;
  check_error<ad::NumericError>([&] { qr_q(tape.variable(dependent)); },
                                {"qr_q", "full column rank", here});
  Mat nan = Mat::Ones(2, 2);
  nan(0, 1) = std::nan("");
  check_error<ad::NumericError>([&] { eigh_values(tape.variable(nan)); }, {"eigh_values", "NaN"});
  check_error<ad::NumericError>([&] { svd_u(tape.variable(nan)); }, {"svd_u", "NaN"});
}

BOOST_AUTO_TEST_CASE(shape_errors_name_the_op_the_shapes_and_why) {
  using ad_test::check_error;
  ad::Tape<double> tape;
  const V m23 = tape.variable(Mat::Ones(2, 3));
  const V m33 = tape.variable(Mat::Identity(3, 3));
  const V c2 = tape.variable(Mat::Ones(2, 1));
  const V e00 = tape.variable(Mat(0, 0));
  const V e03 = tape.variable(Mat(0, 3));
  const std::string square = "square matrix";
  check_error([&] { cholesky(m23); }, {"cholesky", "2x3", square, here});
  check_error([&] { logdet_spd(e00); }, {"logdet_spd", "0x0", here});
  check_error([&] { triangular_solve(m33, c2, ad::Triangle::lower); },
              {"triangular_solve", "3x3", "2x1", "3 rows", here});
  check_error([&] { cholesky_solve(m33, c2); }, {"cholesky_solve", "3x3", "2x1", here});
  check_error([&] { eigh_values(m23); }, {"eigh_values", "2x3", square});
  check_error([&] { ad::eigh(m23); }, {"eigh", "2x3", square});
  check_error([&] { singular_values(e03); }, {"singular_values", "0x3"});
  check_error([&] { qr_r(m23); }, {"qr_r", "2x3", "m ≥ n", here});
  check_error([&] { matrix_exp(m23); }, {"matrix_exp", "2x3", square});
  check_error([&] { log_sum_exp(e03); }, {"log_sum_exp", "0x3", "empty"});
  check_error([&] { log_sum_exp(e03, ad::Axis::rows); }, {"log_sum_exp", "no rows"});
  // Reducing the non-empty dimension of an empty matrix is defined: an empty result.
  BOOST_TEST(log_sum_exp(e03, ad::Axis::cols).rows() == 0);
  BOOST_TEST(kron(e03, m23).cols() == 9);
}

BOOST_AUTO_TEST_CASE(invalid_inputs_name_the_op) {
  using ad_test::check_invalid_inputs;
  check_invalid_inputs(
      "cholesky", [](const V& a) { cholesky(a); }, here);
  check_invalid_inputs(
      "logdet_spd", [](const V& a) { logdet_spd(a); }, here);
  check_invalid_inputs(
      "eigh_vectors", [](const V& a) { eigh_vectors(a); }, here);
  check_invalid_inputs(
      "svd", [](const V& a) { ad::svd(a); }, here);
  check_invalid_inputs(
      "qr_r", [](const V& a) { qr_r(a); }, here);
  check_invalid_inputs(
      "matrix_exp", [](const V& a) { matrix_exp(a); }, here);
  check_invalid_inputs(
      "log_sum_exp", [](const V& a) { log_sum_exp(a); }, here);
  check_invalid_inputs(
      "cholesky_solve", [](const V& a, const V& b) { cholesky_solve(a, b); }, here);
  check_invalid_inputs(
      "triangular_solve",
      [](const V& a, const V& b) { triangular_solve(a, b, ad::Triangle::lower); }, here);
  check_invalid_inputs(
      "kron", [](const V& a, const V& b) { kron(a, b); }, here);
}

BOOST_AUTO_TEST_SUITE_END()
