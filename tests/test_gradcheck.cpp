// gradcheck itself: it must pass correct gradients, catch wrong ones and say where.

#define BOOST_TEST_MODULE gradcheck
#include <ad/ad.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>

using Mat = ad::Matrix<double>;

namespace {

// C = A ⊙ A with a deliberately wrong adjoint rule Ā += C̄ ⊙ A (missing the factor 2),
// except that element (1, 2) gets the right one, so exactly that element is correct.
struct WrongSquare {
  static constexpr const char* name = "wrong_square";
  static ad::Shape shape(const ad::InputShapes<double>& in) { return in[0]; }
  static void value(const ad::Rule<double>& r) { r.y() = r.x(0).cwiseProduct(r.x(0)); }
  static void adjoint(const ad::Rule<double>& r) {
    r.xbar(0).array() += r.ybar().array() * r.x(0).array();
    r.xbar(0)(1, 2) += r.ybar()(1, 2) * r.x(0)(1, 2);
  }
};

ad::Var<double> wrong_square(const ad::Var<double>& a) { return ad::custom_op<WrongSquare>({a}); }

}  // namespace

BOOST_AUTO_TEST_CASE(passes_a_correct_gradient_with_small_errors) {
  const Mat A{{0.3, -1.2, 2.0}, {0.7, 0.1, -0.4}};
  const Mat B{{1.5, 0.2}, {-0.3, 0.8}, {0.6, -1.1}};
  auto f = [](std::span<const ad::Var<double>> x) { return sum(tanh(x[0] * x[1])); };
  const auto r = ad::gradcheck(f, {A, B});
  BOOST_TEST(r.passed);
  BOOST_TEST(static_cast<bool>(r));
  BOOST_REQUIRE_EQUAL(r.inputs.size(), 2u);
  BOOST_TEST((r.inputs[0].shape == ad::Shape{2, 3}));
  BOOST_TEST((r.inputs[1].shape == ad::Shape{3, 2}));
  for (const auto& c : r.inputs) {
    BOOST_TEST(c.passed);
    BOOST_TEST(c.max_abs_error < 1e-8);
  }
  BOOST_TEST(fmt::format("{}", r).find("gradcheck PASS") == 0u);
}

BOOST_AUTO_TEST_CASE(fails_a_wrong_gradient_and_names_the_worst_element) {
  Mat A = Mat::Constant(2, 3, 0.5);
  A(0, 1) = 3.0;  // the largest error, 2·3 − 3 = 3, is here
  auto f = [](std::span<const ad::Var<double>> x) { return sum(wrong_square(x[0])); };
  const auto r = ad::gradcheck(f, {A});
  BOOST_TEST(!r.passed);
  BOOST_TEST(!r.inputs[0].passed);
  BOOST_TEST(r.inputs[0].worst_row == 0);
  BOOST_TEST(r.inputs[0].worst_col == 1);
  BOOST_TEST(std::abs(r.inputs[0].analytic - 3.0) < 1e-12);
  BOOST_TEST(std::abs(r.inputs[0].numeric - 6.0) < 1e-6);
  BOOST_TEST(std::abs(r.inputs[0].max_abs_error - 3.0) < 1e-6);
  BOOST_TEST(std::abs(r.inputs[0].max_rel_error - 0.5) < 1e-6);
  const std::string text = fmt::format("{}", r);
  BOOST_TEST(text.find("gradcheck FAIL") == 0u, text);
  BOOST_TEST(text.find("worst (0, 1)") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(a_nan_gradient_fails) {
  auto f = [](std::span<const ad::Var<double>> x) { return sum(log(x[0])); };
  const auto r = ad::gradcheck(f, {Mat{{1.0, -1.0}}});  // ln(−1) is NaN
  BOOST_TEST(!r.passed);
}

BOOST_AUTO_TEST_CASE(tolerances_are_options) {
  // The exact gradient of Σ eˣ is eˣ; a step of 0.1 makes the central difference
  // (e^0.1 − e^−0.1)/0.2 · eˣ ≈ 1.00167 eˣ, outside the default tolerance...
  auto f = [](std::span<const ad::Var<double>> x) { return sum(exp(x[0])); };
  const Mat x{{0.5, 1.0}};
  BOOST_TEST(!ad::gradcheck(f, {x}, {.step = 0.1}).passed);
  // ...and inside a relative tolerance of 2e-3.
  BOOST_TEST(ad::gradcheck(f, {x}, {.step = 0.1, .rel_tolerance = 2e-3}).passed);
}

BOOST_AUTO_TEST_CASE(a_function_that_is_not_scalar_is_a_shape_error) {
  auto f = [](std::span<const ad::Var<double>> x) { return sigmoid(x[0]); };
  try {
    ad::gradcheck(f, {Mat::Ones(2, 3)});
    BOOST_ERROR("no ShapeError");
  } catch (const ad::ShapeError& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find("gradcheck: shape 2x3") != std::string::npos, what);
    BOOST_TEST(what.find("gradcheck_jacobian") != std::string::npos, what);
  }
}
