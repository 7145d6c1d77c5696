// The broadcasting ops (add, subtract, hadamard): the catalog's gradient checks, NumPy's
// broadcasting values, and the errors for inputs that do not fit.

#define BOOST_TEST_MODULE ops_broadcast
#include "op_checks.hpp"

using ad_test::Mat;

namespace {
const std::string here = "test_broadcast.cpp";
}  // namespace

// The family's catalog cases, one test case each (catalog/<op>_<k>).
[[maybe_unused]] const bool catalog_registered =
    ad_test::register_catalog(ad_test::Family::broadcast);

BOOST_AUTO_TEST_CASE(broadcast_values_follow_numpy) {
  ad::Tape<double> tape;
  auto column = tape.constant(Mat{{1}, {2}});
  auto row = tape.constant(Mat{{10, 20, 30}});
  const Mat expected{{11, 21, 31}, {12, 22, 32}};
  BOOST_TEST(((column + row).value() - expected).isZero(0));
  BOOST_TEST(((row - column).value() - (Mat{{9, 19, 29}, {8, 18, 28}})).isZero(0));
  BOOST_TEST((hadamard(column, row).value() - (Mat{{10, 20, 30}, {20, 40, 60}})).isZero(0));
}

// A shape error names the op, both shapes, why, and the caller's line in this file.
BOOST_AUTO_TEST_CASE(shape_errors_name_the_op_the_shapes_and_why) {
  ad::Tape<double> tape;
  const auto m23 = tape.variable(Mat::Ones(2, 3));
  const auto m32 = tape.variable(Mat::Ones(3, 2));
  const auto m22 = tape.variable(Mat::Ones(2, 2));
  const auto c4 = tape.variable(Mat::Ones(4, 1));
  const auto c3 = tape.variable(Mat::Ones(3, 1));
  const std::string why = "each dimension must be equal or 1";
  const std::string at = "(at " + here + ":";
  ad_test::check_error([&] { m23 + m32; }, {"add:", "2x3", "3x2", why, at});
  ad_test::check_error([&] { m23 - m22; }, {"subtract:", "2x3", "2x2", why, at});
  ad_test::check_error([&] { hadamard(c4, c3); }, {"hadamard:", "4x1", "3x1", why, at});
}

BOOST_AUTO_TEST_CASE(invalid_inputs_name_the_op) {
  using ad_test::check_invalid_inputs;
  check_invalid_inputs(
      "add", [](const auto& a, const auto& b) { return a + b; }, here);
  check_invalid_inputs(
      "subtract", [](const auto& a, const auto& b) { return a - b; }, here);
  check_invalid_inputs(
      "hadamard", [](const auto& a, const auto& b) { return hadamard(a, b); }, here);
}
