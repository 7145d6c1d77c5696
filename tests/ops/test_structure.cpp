// The structural ops (reshape, block, row, col, hcat, vcat, broadcast_to): the catalog's
// gradient checks and the errors for inputs that do not fit.

#define BOOST_TEST_MODULE ops_structure
#include "op_checks.hpp"

using ad_test::Mat;
using V = ad::Var<double>;

namespace {
const std::string here = "test_structure.cpp";
}  // namespace

// The family's catalog cases, one test case each (catalog/<op>_<k>).
[[maybe_unused]] const bool catalog_registered =
    ad_test::register_catalog(ad_test::Family::structure);

// A shape error names the op, the shapes, why, and the caller's line in this file.
BOOST_AUTO_TEST_CASE(shape_errors_name_the_op_the_shapes_and_why) {
  using ad_test::check_error;
  ad::Tape<double> tape;
  const V m23 = tape.variable(Mat::Ones(2, 3));
  const V m32 = tape.variable(Mat::Ones(3, 2));
  const V c2 = tape.variable(Mat::Ones(2, 1));
  check_error([&] { reshape(m23, 4, 2); }, {"reshape", "2x3", "4x2", "number of elements", here});
  check_error([&] { block(m23, 1, 1, 2, 2); }, {"block", "2x3", "2x2", "inside", here});
  check_error([&] { block(m23, -1, 0, 1, 1); }, {"block", "2x3", "1x1", here});
  check_error([&] { row(m23, 2); }, {"row", "2x3", "1x3", here});
  check_error([&] { col(m23, 3); }, {"col", "2x3", "2x1", here});
  check_error([&] { hcat(m23, m32); }, {"hcat", "2x3", "3x2", "rows", here});
  check_error([&] { vcat(m23, m32); }, {"vcat", "2x3", "3x2", "columns", here});
  check_error([&] { ad::hcat({m23, m23, m32}); }, {"hcat", "2x3", "3x2", "part 2", "part 0", here});
  check_error([&] { broadcast_to(m23, 2, 1); }, {"broadcast_to", "2x3", "2x1", "shrink", here});
  check_error([&] { broadcast_to(c2, 3, 3); }, {"broadcast_to", "2x1", "3x3", here});
  check_error<ad::Error>([&] { ad::hcat(std::span<const V>()); }, {"hcat", "at least one", here});
}

BOOST_AUTO_TEST_CASE(invalid_inputs_name_the_op) {
  using ad_test::check_invalid_inputs;
  check_invalid_inputs(
      "reshape", [](const V& a) { reshape(a, 1, 4); }, here);
  check_invalid_inputs(
      "block", [](const V& a) { block(a, 0, 0, 1, 1); }, here);
  check_invalid_inputs(
      "row", [](const V& a) { row(a, 0); }, here);
  check_invalid_inputs(
      "col", [](const V& a) { col(a, 0); }, here);
  check_invalid_inputs(
      "broadcast_to", [](const V& a) { broadcast_to(a, 2, 2); }, here);
  check_invalid_inputs(
      "hcat", [](const V& a) { ad::hcat({a}); }, here);  // one part: returned, but checked
  check_invalid_inputs(
      "hcat", [](const V& a, const V& b) { hcat(a, b); }, here);
  check_invalid_inputs(
      "vcat", [](const V& a, const V& b) { vcat(a, b); }, here);
}
