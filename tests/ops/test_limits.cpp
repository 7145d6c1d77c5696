// Every op at the edges of its input sizes: empty matrices (a dimension of 0) give the result
// NumPy and PyTorch give, or a ShapeError where the op documents one; hostile sizes and
// indices (2^31 − 1, negative, sums past 2^63) give a ShapeError or an ad::Error, never a
// crash or an allocation that wraps. Run under AddressSanitizer and UBSan by the debug preset.

#define BOOST_TEST_MODULE ops_limits
#include "op_checks.hpp"

#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

using ad_test::Mat;
using V = ad::Var<double>;

namespace {

using OpOnInputs = std::function<V(const std::vector<V>&)>;

// Records f on variables of the given shapes (ones), then a backward sweep of sum(f) when f
// gives a value: every input's gradient must have its shape and be finite.
V record_and_sweep(ad::Tape<double>& tape, const OpOnInputs& f,
                   const std::vector<ad::Shape>& shapes, std::vector<V>& inputs) {
  for (ad::Shape s : shapes) inputs.push_back(tape.variable(Mat::Ones(s.rows, s.cols)));
  const V y = f(inputs);
  tape.backward(sum(y));
  for (const V& x : inputs) {
    BOOST_TEST(x.grad().rows() == x.rows());
    BOOST_TEST(x.grad().cols() == x.cols());
    BOOST_TEST(x.grad().allFinite());
  }
  return y;
}

struct EmptyCase {
  const char* label;
  OpOnInputs f;
  std::vector<ad::Shape> inputs;
  ad::Shape output;  // the result's shape
};

// Ops whose result on empty input is defined: the shape NumPy gives, and zeros where it has
// elements (a sum over nothing is 0).
std::vector<EmptyCase> defined_on_empty() {
  const auto unary = [](V (*op)(const V&, std::source_location)) {
    return [op](const std::vector<V>& x) { return op(x[0], std::source_location::current()); };
  };
  std::vector<EmptyCase> cases;
  for (ad::Shape s : {ad::Shape{0, 3}, ad::Shape{3, 0}, ad::Shape{0, 0}}) {
    cases.push_back({"sigmoid", unary(ad::sigmoid<double>), {s}, s});
    cases.push_back({"tanh", unary(ad::tanh<double>), {s}, s});
    cases.push_back({"relu", unary(ad::relu<double>), {s}, s});
    cases.push_back({"exp", unary(ad::exp<double>), {s}, s});
    cases.push_back({"log", unary(ad::log<double>), {s}, s});
    cases.push_back({"log1p", unary(ad::log1p<double>), {s}, s});
    cases.push_back({"sqrt", unary(ad::sqrt<double>), {s}, s});
    cases.push_back({"abs", unary(ad::abs<double>), {s}, s});
    cases.push_back({"square", unary(ad::square<double>), {s}, s});
    cases.push_back({"softplus", unary(ad::softplus<double>), {s}, s});
    cases.push_back({"log_sigmoid", unary(ad::log_sigmoid<double>), {s}, s});
    cases.push_back({"pow", [](const auto& x) { return pow(x[0], 2.5); }, {s}, s});
    cases.push_back({"clamp", [](const auto& x) { return clamp(x[0], -1.0, 1.0); }, {s}, s});
    cases.push_back({"affine", [](const auto& x) { return 2.0 * x[0] + 1.0; }, {s}, s});
    cases.push_back({"transpose", unary(ad::transpose<double>), {s}, {s.cols, s.rows}});
    cases.push_back({"add", [](const auto& x) { return x[0] + x[1]; }, {s, s}, s});
    cases.push_back({"subtract", [](const auto& x) { return x[0] - x[1]; }, {s, s}, s});
    cases.push_back({"hadamard", [](const auto& x) { return hadamard(x[0], x[1]); }, {s, s}, s});
    cases.push_back({"divide", [](const auto& x) { return x[0] / x[1]; }, {s, s}, s});
    cases.push_back({"sum", unary(ad::sum<double>), {s}, {1, 1}});
    cases.push_back({"norm", unary(ad::norm<double>), {s}, {1, 1}});
    cases.push_back({"dot", [](const auto& x) { return dot(x[0], x[1]); }, {s, s}, {1, 1}});
    cases.push_back({"reshape",
                     [s](const auto& x) { return reshape(x[0], s.cols, s.rows); },
                     {s},
                     {s.cols, s.rows}});
    cases.push_back({"block", [](const auto& x) { return block(x[0], 0, 0, 0, 0); }, {s}, {0, 0}});
    cases.push_back({"hcat",
                     [](const auto& x) {
                       return ad::hcat({x[0], x[1], x[0]});
                     },
                     {s, s},
                     {s.rows, 3 * s.cols}});
    cases.push_back({"vcat",
                     [](const auto& x) {
                       return ad::vcat({x[0], x[1], x[0]});
                     },
                     {s, s},
                     {3 * s.rows, s.cols}});
  }
  // Broadcasting against an empty dimension stretches a 1 to 0, as in NumPy.
  cases.push_back({"add, a row against 0 rows",
                   [](const auto& x) { return x[0] + x[1]; },
                   {{0, 3}, {1, 3}},
                   {0, 3}});
  cases.push_back({"hadamard, a scalar against 3x0",
                   [](const auto& x) { return hadamard(x[0], x[1]); },
                   {{1, 1}, {3, 0}},
                   {3, 0}});
  cases.push_back({"broadcast_to 0x3",
                   [](const auto& x) { return broadcast_to(x[0], 0, 3); },
                   {{1, 1}},
                   {0, 3}});
  // Products over an empty inner dimension are zeros; empty outer dimensions are empty.
  cases.push_back(
      {"matmul 2x0 0x3", [](const auto& x) { return x[0] * x[1]; }, {{2, 0}, {0, 3}}, {2, 3}});
  cases.push_back(
      {"matmul 0x2 2x3", [](const auto& x) { return x[0] * x[1]; }, {{0, 2}, {2, 3}}, {0, 3}});
  cases.push_back(
      {"matmul 2x3 3x0", [](const auto& x) { return x[0] * x[1]; }, {{2, 3}, {3, 0}}, {2, 0}});
  cases.push_back(
      {"outer 0x1 3x1", [](const auto& x) { return outer(x[0], x[1]); }, {{0, 1}, {3, 1}}, {0, 3}});
  // Along an axis: a reduction over a dimension that has elements, of a matrix that has none.
  cases.push_back({"sum rows of 3x0",
                   [](const auto& x) { return sum(x[0], ad::Axis::rows); },
                   {{3, 0}},
                   {1, 0}});
  cases.push_back({"sum cols of 3x0",
                   [](const auto& x) { return sum(x[0], ad::Axis::cols); },
                   {{3, 0}},
                   {3, 1}});
  cases.push_back({"mean rows of 3x0",
                   [](const auto& x) { return mean(x[0], ad::Axis::rows); },
                   {{3, 0}},
                   {1, 0}});
  cases.push_back({"max cols of 0x3",
                   [](const auto& x) { return max(x[0], ad::Axis::cols); },
                   {{0, 3}},
                   {0, 1}});
  cases.push_back({"row of 3x0", [](const auto& x) { return row(x[0], 1); }, {{3, 0}}, {1, 0}});
  cases.push_back({"col of 0x3", [](const auto& x) { return col(x[0], 1); }, {{0, 3}}, {0, 1}});
  cases.push_back(
      {"softmax of 2x0", [](const auto& x) { return softmax(x[0]); }, {{2, 0}}, {2, 0}});
  cases.push_back(
      {"log_softmax of 2x0", [](const auto& x) { return log_softmax(x[0]); }, {{2, 0}}, {2, 0}});
  return cases;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_op_is_defined_on_empty_matrices_where_numpy_is) {
  for (const EmptyCase& c : defined_on_empty()) {
    for (bool first_allocation : {true, false}) {
      // An empty matrix as the tape's very first allocation, and after others.
      ad::Tape<double> tape;
      if (!first_allocation) tape.constant(Mat::Ones(3, 3));
      std::vector<V> inputs;
      try {
        const V y = record_and_sweep(tape, c.f, c.inputs, inputs);
        BOOST_TEST(y.rows() == c.output.rows, c.label);
        BOOST_TEST(y.cols() == c.output.cols, c.label);
        // Every element of a result over empty input is a sum over nothing.
        BOOST_TEST(y.value().isZero(), c.label);
        for (const V& x : inputs) BOOST_TEST(x.grad().isZero(), c.label);
      } catch (const std::exception& e) {
        BOOST_ERROR(c.label << " (" << ad::to_string(c.inputs[0]) << "): " << e.what());
      }
    }
  }
}

// Where an op's value over nothing is undefined (a mean, a maximum, a loss, a determinant
// of nothing), it says so, naming the op.
BOOST_AUTO_TEST_CASE(ops_undefined_on_empty_matrices_refuse_them_with_a_shape_error) {
  ad::Tape<double> tape;
  const V e03 = tape.variable(Mat(0, 3)), e30 = tape.variable(Mat(3, 0));
  const V e00 = tape.variable(Mat(0, 0));
  const std::vector<std::pair<const char*, std::function<void()>>> refused = {
      {"mean", [&] { mean(e03); }},
      {"mean", [&] { mean(e30, ad::Axis::cols); }},
      {"max", [&] { max(e30, ad::Axis::cols); }},
      {"trace", [&] { trace(e00); }},
      {"inverse", [&] { inverse(e00); }},
      {"det", [&] { det(e00); }},
      {"logdet", [&] { logdet(e00); }},
      {"solve", [&] { solve(e00, e00); }},
      {"diag", [&] { diag(e00); }},
      {"softmax", [&] { softmax(e03); }},
      {"log_softmax", [&] { log_softmax(e03); }},
      {"softmax_cross_entropy", [&] { softmax_cross_entropy(e30, std::span<const int>()); }},
      {"binary_cross_entropy_with_logits", [&] { binary_cross_entropy_with_logits(e03, e03); }},
      {"mse", [&] { mse(e30, e30); }},
  };
  for (const auto& [op, f] : refused) ad_test::check_error(f, {op});
}

// Sizes whose element count or byte count does not fit are refused before any storage is
// taken: 2147483647² doubles would wrap a 64-bit byte count.
BOOST_AUTO_TEST_CASE(sizes_past_memory_are_errors_not_wrapped_allocations) {
  ad::Tape<double> tape;
  const V s = tape.variable(Mat::Ones(1, 1));
  constexpr Eigen::Index most = std::numeric_limits<std::int32_t>::max();
  ad_test::check_error<ad::Error>([&] { broadcast_to(s, most, most); }, {"cannot hold"});
  ad_test::check_error([&] { broadcast_to(s, most + 1, 1); }, {"broadcast_to", "[0, 2^31)"});
  ad_test::check_error([&] { broadcast_to(s, -1, 1); }, {"broadcast_to"});
  // The tape is still usable: nothing was recorded by the refused ops.
  const std::size_t before = tape.size();
  BOOST_TEST(sum(s * s).value()(0, 0) == 1.0);
  BOOST_TEST(tape.size() == before + 2);
}

// Indices and sizes chosen so that a sum or product would overflow if formed first.
BOOST_AUTO_TEST_CASE(hostile_indices_and_sizes_are_shape_errors) {
  ad::Tape<double> tape;
  const V a = tape.variable(Mat::Ones(2, 3));
  constexpr Eigen::Index huge = std::numeric_limits<Eigen::Index>::max();
  constexpr Eigen::Index most = std::numeric_limits<std::int32_t>::max();
  ad_test::check_error([&] { reshape(a, most, most); }, {"reshape", "2x3"});
  ad_test::check_error([&] { reshape(a, huge, 2); }, {"reshape"});
  ad_test::check_error([&] { reshape(a, -2, -3); }, {"reshape"});
  ad_test::check_error([&] { reshape(a, 0, huge); }, {"reshape"});
  ad_test::check_error([&] { block(a, huge, 0, 1, 1); }, {"block", "inside"});
  ad_test::check_error([&] { block(a, 1, 1, huge, 1); }, {"block", "inside"});
  ad_test::check_error([&] { block(a, 1, 1, 1, huge); }, {"block", "inside"});
  ad_test::check_error([&] { block(a, -1, 0, 1, 1); }, {"block"});
  ad_test::check_error([&] { row(a, huge); }, {"row"});
  ad_test::check_error([&] { col(a, -huge - 1); }, {"col"});
}

// An empty result may still have a dimension of 2^31 − 1: checking it for NaN has nothing to
// look at (the fuzzer found it walking every empty column).
BOOST_AUTO_TEST_CASE(check_finite_of_an_empty_result_with_a_huge_dimension_is_immediate) {
  ad::Tape<double> tape;
  tape.check_finite(true);
  constexpr Eigen::Index most = std::numeric_limits<std::int32_t>::max();
  const V e = tape.variable(Mat(0, 4));
  const V wide = reshape(e, 0, most);
  BOOST_TEST(wide.cols() == most);
  BOOST_TEST(square(wide).rows() == 0);
}

// A value that check_finite refuses leaves no node, like any refused op.
BOOST_AUTO_TEST_CASE(a_value_refused_by_check_finite_leaves_no_node) {
  ad::Tape<double> tape;
  tape.check_finite(true);
  const V a = tape.variable(-Mat::Ones(2, 2));
  const std::size_t before = tape.size();
  BOOST_CHECK_THROW(log(a), ad::NumericError);
  BOOST_TEST(tape.size() == before);
}

// An empty parameter (whose Eigen matrices hold a null pointer) behaves as an empty leaf: the
// fuzzer found row() of one offsetting a null pointer.
BOOST_AUTO_TEST_CASE(an_empty_parameter_is_an_empty_leaf) {
  for (ad::Shape s : {ad::Shape{0, 3}, ad::Shape{3, 0}, ad::Shape{0, 0}}) {
    ad::Parameter<double> p(Mat(s.rows, s.cols));
    ad::Tape<double> tape;
    const V v = tape.parameter(p);
    const V y = sum(v) + sum(hadamard(v, tape.parameter(p)));  // recorded twice: one node
    if (s.rows > 0) BOOST_TEST(row(v, 1).cols() == s.cols);
    tape.backward(y);
    BOOST_TEST(y.value()(0, 0) == 0.0);
    BOOST_TEST(p.grad().rows() == s.rows);
    BOOST_TEST(p.grad().cols() == s.cols);
  }
}

// X = A⁻¹ B with B of no columns: X is n x 0, and the sweep gives Ā = 0 (the fuzzer found
// Eigen's triangular solve reading a coefficient of the empty right-hand side).
BOOST_AUTO_TEST_CASE(solve_with_an_empty_right_hand_side) {
  ad::Tape<double> tape;
  const V a = tape.variable(Mat{{2.0, 1.0}, {1.0, 3.0}});
  const V b = tape.variable(Mat(2, 0));
  const V x = solve(a, b);
  BOOST_TEST(x.rows() == 2);
  BOOST_TEST(x.cols() == 0);
  tape.backward(sum(x) + sum(a));
  BOOST_TEST(a.grad().isApprox(Mat::Ones(2, 2)));
  BOOST_TEST(b.grad().size() == 0);
}
