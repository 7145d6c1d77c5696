// The math ops (divide, pow, sqrt, log1p, abs, square, softplus, log_sigmoid, clamp): the catalog's
// gradient checks, stability at arguments of magnitude 1e4, the domain policy for
// out-of-domain input, and the errors for inputs that do not fit.

#define BOOST_TEST_MODULE ops_math
#include "op_checks.hpp"

#include <cmath>

using ad_test::Mat;
using V = ad::Var<double>;

namespace {
const std::string here = "test_math.cpp";
}  // namespace

// The family's catalog cases, one test case each (catalog/<op>_<k>).
[[maybe_unused]] const bool catalog_registered = ad_test::register_catalog(ad_test::Family::math);

BOOST_AUTO_TEST_SUITE(stability)

BOOST_AUTO_TEST_CASE(softplus_and_log_sigmoid_at_1e4) {
  ad::Tape<double> tape;
  tape.check_finite(true);
  Mat z(1, 3);
  z << -1e4, 0, 1e4;
  const V x = tape.variable(z);
  const V sp = softplus(x);
  const V ls = log_sigmoid(x);
  BOOST_TEST(sp.value()(0, 0) == 0.0);
  BOOST_TEST(sp.value()(0, 1) == std::log(2.0));
  BOOST_TEST(sp.value()(0, 2) == 1e4);
  BOOST_TEST(ls.value()(0, 0) == -1e4);
  BOOST_TEST(ls.value()(0, 2) == 0.0);
  tape.backward(sum(sp));
  BOOST_TEST(x.grad()(0, 0) == 0.0);
  BOOST_TEST(x.grad()(0, 2) == 1.0);
  tape.backward(sum(ls));
  BOOST_TEST(x.grad()(0, 0) == 1.0);
  BOOST_TEST(x.grad()(0, 2) == 0.0);
}

// ln(1 + x) for x = 1e-12 by the series x − x²/2 + x³/3 (the next term is below 1e-48);
// ln of the rounded 1 + x would be wrong from the fifth digit.
BOOST_AUTO_TEST_CASE(log1p_is_exact_near_zero) {
  ad::Tape<double> tape;
  const double t = 1e-12;
  const V x = tape.variable(Mat::Constant(1, 2, t));
  const V c = log1p(x);
  const double series = t - t * t / 2 + t * t * t / 3;
  BOOST_TEST(std::abs(c.value()(0, 0) - series) <= 1e-16 * series);
  BOOST_TEST(std::abs(std::log(1 + t) - series) > 1e-6 * series);  // what log(1 + x) gives
  tape.backward(sum(c));
  BOOST_TEST(std::abs(x.grad()(0, 1) - 1 / (1 + t)) <= 1e-16);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(domain)

BOOST_AUTO_TEST_CASE(out_of_domain_is_ieee_unless_checking) {
  ad::Tape<double> tape;
  const V x = tape.variable(-Mat::Ones(2, 2));
  BOOST_TEST(std::isnan(sqrt(x).value()(0, 0)));
  BOOST_TEST(std::isnan(log(x).value()(0, 0)));
  BOOST_TEST(std::isinf(log1p(x).value()(0, 0)));  // ln(1 − 1)
  BOOST_TEST(std::isnan(log1p(2.0 * x).value()(0, 0)));
  BOOST_TEST(std::isnan(pow(x, 0.5).value()(0, 0)));
  BOOST_TEST(std::isinf((x / tape.constant(Mat::Zero(1, 1))).value()(0, 0)));
  tape.check_finite(true);
  ad_test::check_error<ad::NumericError>([&] { sqrt(x); }, {"'sqrt'", "inputs [2x2]", here, "nan"});
  ad_test::check_error<ad::NumericError>([&] { log(x); }, {"'log'", "inputs [2x2]"});
}

BOOST_AUTO_TEST_CASE(clamp_bounds_must_be_ordered) {
  ad::Tape<double> tape;
  const V x = tape.variable(Mat::Ones(1, 1));
  ad_test::check_error<ad::Error>([&] { clamp(x, 1.0, -1.0); }, {"clamp", "lo <= hi"});
}

BOOST_AUTO_TEST_SUITE_END()

// A shape error names the op, both shapes, why, and the caller's line in this file.
BOOST_AUTO_TEST_CASE(shape_errors_name_the_op_the_shapes_and_why) {
  ad::Tape<double> tape;
  const V m23 = tape.variable(Mat::Ones(2, 3));
  const V m32 = tape.variable(Mat::Ones(3, 2));
  ad_test::check_error([&] { m23 / m32; }, {"divide", "2x3", "3x2", "broadcasting", here});
}

BOOST_AUTO_TEST_CASE(invalid_inputs_name_the_op) {
  using ad_test::check_invalid_inputs;
  check_invalid_inputs(
      "divide", [](const V& a, const V& b) { divide(a, b); }, here);
  check_invalid_inputs(
      "pow", [](const V& a) { pow(a, 2.0); }, here);
  check_invalid_inputs(
      "sqrt", [](const V& a) { sqrt(a); }, here);
  check_invalid_inputs(
      "log1p", [](const V& a) { log1p(a); }, here);
  check_invalid_inputs(
      "abs", [](const V& a) { abs(a); }, here);
  check_invalid_inputs(
      "square", [](const V& a) { square(a); }, here);
  check_invalid_inputs(
      "softplus", [](const V& a) { softplus(a); }, here);
  check_invalid_inputs(
      "log_sigmoid", [](const V& a) { log_sigmoid(a); }, here);
  check_invalid_inputs(
      "clamp", [](const V& a) { clamp(a, 0.0, 1.0); }, here);
}
