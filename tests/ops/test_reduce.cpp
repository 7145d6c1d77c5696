// The reductions (sum, mean, and sum, mean, max along an axis): the catalog's gradient
// checks, max's subgradient, and the errors for empty and invalid inputs.

#define BOOST_TEST_MODULE ops_reduce
#include "op_checks.hpp"

using ad_test::Mat;
using V = ad::Var<double>;

namespace {
const std::string here = "test_reduce.cpp";
}  // namespace

// The family's catalog cases, one test case each (catalog/<op>_<k>).
[[maybe_unused]] const bool catalog_registered = ad_test::register_catalog(ad_test::Family::reduce);

BOOST_AUTO_TEST_CASE(max_subgradient_goes_to_the_first_maximum) {
  ad::Tape<double> tape;
  Mat a(3, 2);
  a << 1, 5, 4, 5, 4, 2;
  const V x = tape.variable(a);
  tape.backward(sum(max(x, ad::Axis::rows)));
  Mat expected(3, 2);
  expected << 0, 1, 1, 0, 0, 0;
  BOOST_TEST(x.grad().isApprox(expected));
}

// A shape error names the op, the shape, why, and the caller's line in this file.
BOOST_AUTO_TEST_CASE(shape_errors_name_the_op_the_shapes_and_why) {
  ad::Tape<double> tape;
  const V e03 = tape.variable(Mat(0, 3));
  const V e02 = tape.variable(Mat::Ones(0, 2));
  ad_test::check_error([&] { mean(e03); }, {"mean: shape 0x3", here});
  ad_test::check_error([&] { mean(e02, ad::Axis::rows); }, {"mean", "0x2", "empty", here});
  ad_test::check_error([&] { max(e02, ad::Axis::rows); }, {"max", "0x2", "empty", here});
}

BOOST_AUTO_TEST_CASE(invalid_inputs_name_the_op) {
  using ad_test::check_invalid_inputs;
  check_invalid_inputs(
      "sum", [](const V& a) { sum(a); }, here);
  check_invalid_inputs(
      "mean", [](const V& a) { mean(a); }, here);
  check_invalid_inputs(
      "sum", [](const V& a) { sum(a, ad::Axis::rows); }, here);
  check_invalid_inputs(
      "mean", [](const V& a) { mean(a, ad::Axis::cols); }, here);
  check_invalid_inputs(
      "max", [](const V& a) { max(a, ad::Axis::rows); }, here);
}
