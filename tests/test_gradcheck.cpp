// gradcheck itself: it must pass correct gradients, catch wrong ones and say where, for any
// callable of the inputs, on double and float tapes.

#define BOOST_TEST_MODULE gradcheck
#include <ad/ad.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <type_traits>

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

// Any callable of the inputs, and float functions.

namespace {

using MatF = ad::Matrix<float>;

// C = A ⊙ A on a tape of T, with the adjoint Ā += C̄ ⊙ A (missing the factor 2) where
// `wrong_on` is T, and the right one Ā += 2 C̄ ⊙ A otherwise.
template <class T, class WrongOn>
struct SquareWrongOn {
  static constexpr const char* name = "square_wrong_on";
  static ad::Shape shape(const ad::InputShapes<T>& in) { return in[0]; }
  static void value(const ad::Rule<T>& r) { r.y() = r.x(0).cwiseProduct(r.x(0)); }
  static void adjoint(const ad::Rule<T>& r) {
    const T factor = std::is_same_v<T, WrongOn> ? 1 : 2;
    r.xbar(0).array() += factor * r.ybar().array() * r.x(0).array();
  }
};

template <class WrongOn, class T>
ad::Var<T> square_wrong_on(const ad::Var<T>& a) {
  return ad::custom_op<SquareWrongOn<T, WrongOn>>({a});
}

// A callable that cannot be copied (std::function could not hold it).
struct MoveOnlyWeighting {
  std::unique_ptr<Mat> weights;
  ad::Var<double> operator()(std::span<const ad::Var<double>> x) const {
    return sum(hadamard(tanh(x[0]), x[0].tape().constant(*weights)));
  }
};

// The shapes every form is checked on: a scalar, a row, a column, non-square.
const ad::Shape shapes[] = {{1, 1}, {1, 4}, {4, 1}, {3, 2}};

Mat normal(ad::Shape s, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return ad::random_normal<double>(s.rows, s.cols, rng);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_lambda_closing_over_the_callers_matrices) {
  for (const ad::Shape s : shapes) {
    const Mat C = normal(s, 1);
    const Mat X = normal(s, 2);
    int calls = 0;
    // f(X) = Σ tanh(X) ⊙ C: ∂f/∂X = C ⊙ (1 − tanh² X).
    auto f = [&](std::span<const ad::Var<double>> x) {
      ++calls;
      return sum(hadamard(tanh(x[0]), x[0].tape().constant(C)));
    };
    const auto r = ad::gradcheck(f, {X});
    BOOST_TEST(r.passed, fmt::format("{}", r));
    BOOST_TEST(r.precision == std::string("double"));
    BOOST_TEST(calls == 1);  // recorded once, replayed at each X ± h
    const Mat expected = C.cwiseProduct((1 - X.array().tanh().square()).matrix());
    const auto& w = r.inputs[0];
    BOOST_TEST(std::abs(w.analytic - expected(w.worst_row, w.worst_col)) < 1e-15);
    // The same closure, with a wrong op inside, fails.
    auto wrong = [&](std::span<const ad::Var<double>> x) {
      return sum(hadamard(square_wrong_on<double>(x[0]), x[0].tape().constant(C)));
    };
    BOOST_TEST(!ad::gradcheck(wrong, {X}).passed);
  }
}

BOOST_AUTO_TEST_CASE(one_var_per_input) {
  const Mat A = normal({2, 3}, 3);
  const Mat B = normal({3, 2}, 4);
  const Mat C = normal({2, 2}, 5);
  auto f = [&](const ad::Var<double>& a, const ad::Var<double>& b) {
    return sum(hadamard(tanh(a * b), a.tape().constant(C)));
  };
  const auto r = ad::gradcheck(f, {A, B});
  BOOST_TEST(r.passed, fmt::format("{}", r));
  BOOST_TEST(r.inputs.size() == 2u);
  auto wrong = [&](ad::Var<double> a, ad::Var<double> b) {
    return sum(hadamard(square_wrong_on<double>(a * b), a.tape().constant(C)));
  };
  BOOST_TEST(!ad::gradcheck(wrong, {A, B}).passed);
  // Generic, two parameters: one Var each, on a double tape.
  const auto generic =
      ad::gradcheck([&](const auto& a, const auto& b) { return sum(tanh(a * b)); }, {A, B});
  BOOST_TEST(generic.passed);
  BOOST_TEST(generic.precision == std::string("double"));
  // A third input for a function of two: an ad::Error before f is called.
  int calls = 0;
  auto counted = [&](const ad::Var<double>& a, const ad::Var<double>& b) {
    ++calls;
    return sum(a * b);
  };
  try {
    ad::gradcheck(counted, {A, B, C});
    BOOST_ERROR("no ad::Error");
  } catch (const ad::Error& e) {
    BOOST_TEST(std::string(e.what()) ==
               "gradcheck: the function takes 2 inputs as separate Vars, given 3");
  }
  BOOST_CHECK_THROW(ad::gradcheck_jacobian(counted, {A}), ad::Error);
  BOOST_TEST(calls == 0);
}

BOOST_AUTO_TEST_CASE(callables_of_every_kind) {
  const Mat X = normal({3, 2}, 6);
  // Move-only, passed as a temporary.
  const auto moved =
      ad::gradcheck(MoveOnlyWeighting{std::make_unique<Mat>(normal({3, 2}, 7))}, {X});
  BOOST_TEST(moved.passed, fmt::format("{}", moved));
  // A std::function, as before.
  const ad::ScalarFunction held = [](std::span<const ad::Var<double>> x) { return sum(exp(x[0])); };
  BOOST_TEST(ad::gradcheck(held, {X}).passed);
  // A generic lambda runs on a double tape: checked in double.
  const auto generic = ad::gradcheck([](auto x) { return sum(sigmoid(x[0])); }, {X});
  BOOST_TEST(generic.passed);
  BOOST_TEST(generic.precision == std::string("double"));
  BOOST_TEST(*generic.options.step == 1e-6);
}

BOOST_AUTO_TEST_CASE(a_function_of_float_vars_is_checked_on_a_float_tape) {
  for (const ad::Shape s : shapes) {
    const MatF A = normal(s, 8).cast<float>();
    const MatF C = normal({s.cols, 2}, 9).cast<float>();
    auto f = [&](std::span<const ad::Var<float>> x) {
      return mean(tanh(x[0] * x[0].tape().constant(C)));
    };
    const auto r = ad::gradcheck(f, {A});
    BOOST_TEST(r.passed, fmt::format("{}", r));
    BOOST_TEST(r.precision == std::string("float"));
    BOOST_TEST(*r.options.step == 1e-2);
    BOOST_TEST(*r.options.abs_tolerance == 1e-3);
    BOOST_TEST(*r.options.rel_tolerance == 1e-2);
    // The deliberately wrong op, on the float tape: caught.
    auto wrong = [&](std::span<const ad::Var<float>> x) {
      return mean(square_wrong_on<float>(x[0] * x[0].tape().constant(C)));
    };
    const auto caught = ad::gradcheck(wrong, {A});
    BOOST_TEST(!caught.passed, fmt::format("{}", caught));
    BOOST_TEST(!ad::gradcheck_jacobian(
                    [&](const ad::Var<float>& a) {
                      return square_wrong_on<float>(a * a.tape().constant(C));
                    },
                    {A})
                    .passed);
  }
}

BOOST_AUTO_TEST_CASE(the_float_difference_divides_by_the_step_the_function_saw) {
  // f(x) = x, 1x1: x ± h rounded to float is exactly what f returns, so the numeric
  // derivative (x₊ − x₋) / (x₊ − x₋) is exactly 1; dividing by 2h instead would be off by the
  // rounding of 0.3 ± 0.01 to float (about 1e-6 relative).
  const auto r = ad::gradcheck([](std::span<const ad::Var<float>> x) { return sum(x[0]); },
                               {MatF::Constant(1, 1, 0.3f)});
  BOOST_TEST(r.inputs[0].numeric == 1.0);
  BOOST_TEST(r.inputs[0].max_abs_error == 0.0);
}

BOOST_AUTO_TEST_CASE(a_float_only_bug_is_caught_by_asking_for_the_float_check) {
  // The op is right on double tapes and wrong on float ones: the generic function is checked
  // in double by default (passes), and on a float tape when asked (fails), in both checks.
  const Mat X = normal({2, 3}, 10);
  auto f = [](auto x) { return mean(square_wrong_on<float>(x[0])); };
  BOOST_TEST(ad::gradcheck(f, {X}).passed);
  const auto on_float = ad::gradcheck<float>(f, {X.cast<float>()});
  BOOST_TEST(!on_float.passed);
  BOOST_TEST(on_float.precision == std::string("float"));
  BOOST_TEST(ad::gradcheck_jacobian(f, {X}).passed);
  BOOST_TEST(!ad::gradcheck_jacobian<float>(f, {X.cast<float>()}).passed);
  ad::JacobianCheckOptions projected{.mode = ad::JacobianCheckOptions::Mode::projection};
  BOOST_TEST(ad::gradcheck_jacobian(f, {X}, projected).passed);
  BOOST_TEST(!ad::gradcheck_jacobian<float>(f, {X.cast<float>()}, projected).passed);
}

BOOST_AUTO_TEST_CASE(unset_options_take_the_precisions_defaults) {
  auto f = [](std::span<const ad::Var<float>> x) { return mean(exp(x[0])); };
  const auto r = ad::gradcheck(f, {MatF::Constant(2, 2, 0.5f)}, {.rel_tolerance = 0.2});
  BOOST_TEST(*r.options.step == 1e-2);
  BOOST_TEST(*r.options.abs_tolerance == 1e-3);
  BOOST_TEST(*r.options.rel_tolerance == 0.2);
  BOOST_TEST(fmt::format("{}", r).find("gradcheck PASS (float, step 0.01, tolerance 0.001 + "
                                       "0.2·|numeric|)") == 0u,
             fmt::format("{}", r));
}
