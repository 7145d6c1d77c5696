// The elementwise ops (sigmoid, tanh, relu, exp, log): the catalog's gradient checks, on
// either side of the fixed-size limit, their values at the extremes, and the errors for
// invalid inputs.

#define BOOST_TEST_MODULE ops_elementwise
#include "op_checks.hpp"

#include <cmath>

using ad_test::Domain;
using ad_test::Mat;

namespace {
const std::string here = "test_elementwise.cpp";
}  // namespace

// The family's catalog cases, one test case each (catalog/<op>_<k>).
[[maybe_unused]] const bool catalog_registered =
    ad_test::register_catalog(ad_test::Family::elementwise);

// The elementwise ops view operands of up to 4 elements as arrays of a size fixed at compile
// time and larger ones as dynamic: every size from 1 to 6, against the scalar function and
// central differences. The input is also used directly, so that the op's rule adds into an
// adjoint already written as well as assigning a first one.
BOOST_AUTO_TEST_CASE(elementwise_ops_on_either_side_of_the_fixed_size_limit) {
  const std::vector<ad::Shape> shapes = {{1, 1}, {2, 1}, {1, 2}, {3, 1}, {2, 2},
                                         {1, 4}, {5, 1}, {1, 5}, {2, 3}};
  auto check = [&](const std::string& name, auto op, auto scalar, Domain domain) {
    std::mt19937_64 rng(std::hash<std::string>{}(name));
    for (ad::Shape s : shapes) {
      const Mat x = ad_test::draw({s, domain}, rng);
      const Mat expected = x.unaryExpr(scalar);
      ad::Tape<double> tape;
      const Mat value = op(tape.variable(x)).value();
      BOOST_TEST(((value - expected).array().abs() <= 1e-15 * (1 + expected.array().abs())).all(),
                 name << " on " << s.rows << "x" << s.cols);
      auto used_twice = [&](auto v) { return hadamard(op(v[0]), v[0]); };
      ad_test::check_gradient(name, used_twice, {x});
      ad_test::check_float_agrees(name, used_twice, {x});
    }
  };
  check(
      "sigmoid", [](const auto& a) { return sigmoid(a); },
      [](double v) { return 1 / (1 + std::exp(-v)); }, Domain::any);
  check(
      "tanh", [](const auto& a) { return tanh(a); }, [](double v) { return std::tanh(v); },
      Domain::any);
  check(
      "relu", [](const auto& a) { return relu(a); }, [](double v) { return std::max(v, 0.0); },
      Domain::away_from_zero);
  check(
      "exp", [](const auto& a) { return exp(a); }, [](double v) { return std::exp(v); },
      Domain::any);
  check(
      "log", [](const auto& a) { return log(a); }, [](double v) { return std::log(v); },
      Domain::positive);
}

BOOST_AUTO_TEST_CASE(elementwise_values_match_their_definitions) {
  ad::Tape<double> tape;
  const Mat A{{-1000, -1}, {0.5, 1000}};
  auto a = tape.constant(A);
  const Mat s = sigmoid(a).value();
  BOOST_TEST(s(0, 0) == 0.0);  // the correct limit, not NaN
  BOOST_TEST(s(1, 1) == 1.0);
  BOOST_TEST(std::abs(s(0, 1) - 1 / (1 + std::exp(1.0))) <= 1e-16);
  BOOST_TEST((relu(a).value() - Mat{{0, 0}, {0.5, 1000}}).isZero(0));
}

BOOST_AUTO_TEST_CASE(invalid_inputs_name_the_op) {
  using ad_test::check_invalid_inputs;
  check_invalid_inputs(
      "sigmoid", [](const auto& a) { return sigmoid(a); }, here);
  check_invalid_inputs(
      "tanh", [](const auto& a) { return tanh(a); }, here);
  check_invalid_inputs(
      "relu", [](const auto& a) { return relu(a); }, here);
  check_invalid_inputs(
      "exp", [](const auto& a) { return exp(a); }, here);
  check_invalid_inputs(
      "log", [](const auto& a) { return log(a); }, here);
}
