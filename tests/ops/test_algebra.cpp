// The linear-algebra ops (trace, inverse, det, logdet, solve, dot, outer, norm, diag): the
// catalog's gradient checks, det at singular matrices, the domain policy for singular input,
// norm's subgradient at 0, and the errors for inputs that do not fit.

#define BOOST_TEST_MODULE ops_algebra
#include "op_checks.hpp"

#include <cmath>

using ad_test::Mat;
using V = ad::Var<double>;

namespace {
const std::string here = "test_algebra.cpp";
}  // namespace

// The family's catalog cases, one test case each (catalog/<op>_<k>).
[[maybe_unused]] const bool catalog_registered =
    ad_test::register_catalog(ad_test::Family::algebra);

BOOST_AUTO_TEST_SUITE(gradients)

BOOST_AUTO_TEST_CASE(det_of_a_singular_matrix_has_the_adjugate_as_gradient) {
  ad::Tape<double> tape;
  Mat a(2, 2);
  a << 1, 2, 2, 4;
  const V x = tape.variable(a);
  const V d = det(x);
  BOOST_TEST(std::abs(d.value()(0, 0)) < 1e-12);
  tape.backward(d);
  Mat adjugate_t(2, 2);  // adj(A)ᵀ = [[4, −2], [−2, 1]]
  adjugate_t << 4, -2, -2, 1;
  BOOST_TEST((x.grad() - adjugate_t).cwiseAbs().maxCoeff() < 1e-12);
  Mat rank_one = Mat::Ones(3, 3);  // rank 1: every cofactor is 0
  Mat zero_rows = Mat::Zero(3, 3);
  zero_rows.row(0) << -0.37, 0.2, 0.1;
  auto f = [](auto v) { return det(v[0]); };
  ad_test::check_op("det at rank n-1", f, {a});
  ad_test::check_op("det at rank 1 of 3", f, {rank_one});
  ad_test::check_op("det with zero rows", f, {zero_rows});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(domain)

BOOST_AUTO_TEST_CASE(singular_matrices_give_numeric_errors) {
  using ad_test::check_error;
  ad::Tape<double> tape;
  Mat singular(2, 2);
  singular << 1, 2, 2, 4;
  const V a = tape.variable(singular);
  const V b = tape.variable(Mat::Ones(2, 1));
  const std::size_t before = tape.size();
  check_error<ad::NumericError>([&] { inverse(a); }, {"inverse", "singular", "2x2", here});
  check_error<ad::NumericError>([&] { solve(a, b); }, {"solve", "singular"});
  check_error<ad::NumericError>([&] { logdet(a); }, {"logdet", "singular"});
  BOOST_TEST(tape.size() == before);  // a refused op leaves no node behind
  const V zero = tape.variable(Mat::Zero(1, 1));
  check_error<ad::NumericError>([&] { inverse(zero); }, {"inverse", "1x1"});
  Mat zero_rows = Mat::Zero(3, 3);  // Eigen's rcond() estimate reads 1 here
  zero_rows.row(0).setOnes();
  check_error<ad::NumericError>([&] { inverse(tape.variable(zero_rows)); }, {"inverse", "3x3"});
}

BOOST_AUTO_TEST_CASE(norm_at_zero_has_subgradient_zero) {
  ad::Tape<double> tape;
  const V x = tape.variable(Mat::Zero(2, 3));
  tape.backward(norm(x));
  BOOST_TEST(x.grad().isZero());
}

BOOST_AUTO_TEST_SUITE_END()

// A shape error names the op, the shapes, why, and the caller's line in this file.
BOOST_AUTO_TEST_CASE(shape_errors_name_the_op_the_shapes_and_why) {
  using ad_test::check_error;
  ad::Tape<double> tape;
  const V m23 = tape.variable(Mat::Ones(2, 3));
  const V m32 = tape.variable(Mat::Ones(3, 2));
  const V m33 = tape.variable(Mat::Identity(3, 3));
  const V c2 = tape.variable(Mat::Ones(2, 1));
  const V r2 = tape.variable(Mat::Ones(1, 2));
  const std::string square = "square matrix";
  check_error([&] { trace(m23); }, {"trace", "2x3", square, here});
  check_error([&] { inverse(m23); }, {"inverse", "2x3", square, here});
  check_error([&] { det(m32); }, {"det", "3x2", square, here});
  check_error([&] { logdet(m23); }, {"logdet", "2x3", square, here});
  check_error([&] { solve(m23, c2); }, {"solve", "2x3", square, here});
  check_error([&] { solve(m33, c2); }, {"solve", "3x3", "2x1", "3 rows", here});
  check_error([&] { dot(m23, m32); }, {"dot", "2x3", "3x2", "equal shapes", here});
  check_error([&] { outer(m23, c2); }, {"outer", "2x3", "2x1", "column vectors", here});
  check_error([&] { diag(m23); }, {"diag", "2x3", "column vector", here});
  check_error([&] { diag(r2); }, {"diag", "1x2", here});
}

BOOST_AUTO_TEST_CASE(invalid_inputs_name_the_op) {
  using ad_test::check_invalid_inputs;
  check_invalid_inputs(
      "trace", [](const V& a) { trace(a); }, here);
  check_invalid_inputs(
      "inverse", [](const V& a) { inverse(a); }, here);
  check_invalid_inputs(
      "det", [](const V& a) { det(a); }, here);
  check_invalid_inputs(
      "logdet", [](const V& a) { logdet(a); }, here);
  check_invalid_inputs(
      "norm", [](const V& a) { norm(a); }, here);
  check_invalid_inputs(
      "diag", [](const V& a) { diag(a); }, here);
  check_invalid_inputs(
      "solve", [](const V& a, const V& b) { solve(a, b); }, here);
  check_invalid_inputs(
      "dot", [](const V& a, const V& b) { dot(a, b); }, here);
  check_invalid_inputs(
      "outer", [](const V& a, const V& b) { outer(a, b); }, here);
}
