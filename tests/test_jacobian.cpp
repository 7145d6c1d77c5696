// Jacobians and vector-Jacobian products; gradcheck of matrix-valued functions (full and
// random-projection modes, including a wrong adjoint rule caught by each); opt-in
// non-finite detection; an expression's readable form; the division operators.

#define BOOST_TEST_MODULE jacobian
#include <ad/ad.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>

using Mat = ad::Matrix<double>;
using V = ad::Var<double>;
using Args = std::span<const V>;

namespace {

Mat normal(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed = 3) {
  std::mt19937_64 rng(seed);
  return ad::random_normal<double>(rows, cols, rng);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// C = 2A with a wrong adjoint rule (Ā += 3 C̄), recorded as a custom op.
struct WrongDouble {
  static constexpr const char* name = "wrong_double";
  static ad::Shape shape(const ad::InputShapes<double>& in) { return in[0]; }
  static void value(const ad::Rule<double>& r) { r.y() = 2 * r.x(0); }
  static void adjoint(const ad::Rule<double>& r) { r.accumulate(0, 3 * r.ybar()); }
};

V wrong_double(const V& a) { return ad::custom_op<WrongDouble>({a}); }

}  // namespace

BOOST_AUTO_TEST_CASE(jacobian_of_a_product_is_a_kronecker_product) {
  // vec(A X) = (I ⊗ A) vec(X): J = I ⊗ A for X of 3x2.
  const Mat a = normal(2, 3);
  const Mat x = normal(3, 2, 4);
  const Mat j = ad::jacobian<double>([&](const V& v) { return v.tape().constant(a) * v; }, x);
  BOOST_TEST(j.rows() == 4);
  BOOST_TEST(j.cols() == 6);
  Mat expected = Mat::Zero(4, 6);
  expected.block(0, 0, 2, 3) = a;
  expected.block(2, 3, 2, 3) = a;
  BOOST_TEST((j - expected).cwiseAbs().maxCoeff() < 1e-15);
}

BOOST_AUTO_TEST_CASE(jacobian_of_softmax) {
  const Mat z = normal(4, 1);
  const Mat j = ad::jacobian<double>([](const V& v) { return softmax(v); }, z);
  const Eigen::VectorXd soft = (z.array().exp() / z.array().exp().sum()).matrix();
  const Mat expected = Mat(soft.asDiagonal()) - soft * soft.transpose();
  BOOST_TEST((j - expected).cwiseAbs().maxCoeff() < 1e-15);
}

BOOST_AUTO_TEST_CASE(jacobians_and_vjp_agree) {
  const std::vector<Mat> xs = {normal(2, 3, 1), normal(3, 2, 2)};
  const ad::Function<double> f = [](Args x) { return tanh(x[0] * x[1]); };
  const auto j = ad::jacobians<double>(f, xs);
  const Mat v = normal(2, 2, 5);
  const auto r = ad::vjp<double>(f, xs, v);
  BOOST_TEST((r.value - (xs[0] * xs[1]).array().tanh().matrix()).cwiseAbs().maxCoeff() < 1e-15);
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const Mat vj = v.reshaped().transpose() * j[k];
    BOOST_TEST((vj.reshaped(xs[k].rows(), xs[k].cols()) - r.grads[k]).cwiseAbs().maxCoeff() <
               1e-14);
  }
}

BOOST_AUTO_TEST_CASE(jacobian_of_an_input_it_does_not_depend_on_is_zero) {
  const auto j =
      ad::jacobians<double>([](Args x) { return exp(x[0]); }, {normal(2, 1), normal(3, 3)});
  BOOST_TEST(j[1].rows() == 2);
  BOOST_TEST(j[1].cols() == 9);
  BOOST_TEST(j[1].isZero());
}

BOOST_AUTO_TEST_CASE(float_jacobian) {
  const ad::Matrix<float> x = normal(3, 1).cast<float>();
  const ad::Matrix<float> j =
      ad::jacobian<float>([](const ad::Var<float>& v) { return square(v); }, x);
  BOOST_TEST((j - ad::Matrix<float>((2 * x).asDiagonal())).cwiseAbs().maxCoeff() < 1e-6f);
}

BOOST_AUTO_TEST_CASE(gradcheck_of_matrix_valued_functions) {
  using Mode = ad::JacobianCheckOptions::Mode;
  const ad::Function<double> good = [](Args x) { return sigmoid(x[0] * x[1]) / x[2]; };
  const std::vector<Mat> xs = {normal(3, 2, 1), normal(2, 4, 2),
                               (normal(1, 4, 3).array().abs() + 1).matrix()};
  ad::JacobianCheckOptions options;
  for (Mode mode : {Mode::automatic, Mode::full, Mode::projection}) {
    options.mode = mode;
    const ad::GradcheckResult r = ad::gradcheck_jacobian(good, xs, options);
    BOOST_TEST(r.passed, fmt::format("{}", r));
    BOOST_TEST(r.inputs.size() == 3u);
  }
  const ad::Function<double> bad = [](Args x) { return wrong_double(x[0]) * x[1]; };
  for (Mode mode : {Mode::full, Mode::projection}) {
    options.mode = mode;
    const ad::GradcheckResult r = ad::gradcheck_jacobian(bad, {xs[0], xs[1]}, options);
    BOOST_TEST(!r.passed);
    BOOST_TEST(!r.inputs[0].passed);
    BOOST_TEST(r.inputs[1].passed);
  }
}

BOOST_AUTO_TEST_CASE(projection_mode_for_large_sizes) {
  // 60x60 by 60x60: a full Jacobian would have 3600 x 7200 entries.
  const ad::Function<double> f = [](Args x) { return tanh(x[0] * x[1]); };
  const ad::GradcheckResult r =
      ad::gradcheck_jacobian(f, {normal(60, 60, 1) * 0.1, normal(60, 60, 2) * 0.1});
  BOOST_TEST(r.passed, fmt::format("{}", r));
  BOOST_TEST(r.inputs[0].worst_col == 0);  // projection mode reports projections as rows
}

BOOST_AUTO_TEST_SUITE(finite_checks)

BOOST_AUTO_TEST_CASE(off_by_default) {
  ad::Tape<double> tape;
  BOOST_TEST(!tape.check_finite());
  const V x = tape.variable(-Mat::Ones(2, 3));
  BOOST_TEST(std::isnan(log(x).value()(0, 0)));
}

BOOST_AUTO_TEST_CASE(forward_names_the_op_its_line_and_input_shapes) {
  ad::Tape<double> tape;
  tape.check_finite(true);
  const V x = tape.variable(-Mat::Ones(2, 3));
  const V w = tape.variable(Mat::Ones(3, 1));
  const int line = __LINE__ + 2;
  try {
    log(x * w);
    BOOST_ERROR("no NumericError");
  } catch (const ad::NumericError& e) {
    const std::string m = e.what();
    BOOST_TEST(contains(m, "'log'"), m);
    BOOST_TEST(contains(m, fmt::format("test_jacobian.cpp:{}", line)), m);
    BOOST_TEST(contains(m, "inputs [2x1]"), m);
    BOOST_TEST(contains(m, "nan"), m);
  }
}

BOOST_AUTO_TEST_CASE(leaves_are_checked) {
  ad::Tape<double> tape;
  tape.check_finite(true);
  Mat m = Mat::Ones(2, 2);
  m(1, 0) = std::numeric_limits<double>::infinity();
  try {
    tape.variable(m);
    BOOST_ERROR("no NumericError");
  } catch (const ad::NumericError& e) {
    BOOST_TEST(contains(e.what(), "'variable'"), e.what());
    BOOST_TEST(contains(e.what(), "(1, 0) = inf"), e.what());
  }
  ad::Parameter<double> p(m);
  BOOST_CHECK_THROW(tape.parameter(p), ad::NumericError);
}

BOOST_AUTO_TEST_CASE(backward_names_the_rule_that_made_an_adjoint_non_finite) {
  ad::Tape<double> tape;
  tape.check_finite(true);
  const V x = tape.variable(Mat::Zero(2, 2));
  const int line = __LINE__ + 1;
  const V y = sum(sqrt(x));  // √0 = 0 is finite; its derivative 1 / (2√0) is not
  try {
    tape.backward(y);
    BOOST_ERROR("no NumericError");
  } catch (const ad::NumericError& e) {
    const std::string m = e.what();
    BOOST_TEST(contains(m, "adjoint"), m);
    BOOST_TEST(contains(m, "'sqrt'"), m);
    BOOST_TEST(contains(m, fmt::format("test_jacobian.cpp:{}", line)), m);
    BOOST_TEST(contains(m, "inputs [2x2]"), m);
  }
  tape.check_finite(false);
  tape.backward(y);
  BOOST_TEST(std::isinf(x.grad()(0, 0)));
}

BOOST_AUTO_TEST_CASE(a_non_finite_seed_is_reported) {
  ad::Tape<double> tape;
  tape.check_finite(true);
  const V x = tape.variable(Mat::Ones(1, 2));
  const V y = exp(x);
  BOOST_CHECK_THROW(tape.backward(y, Mat::Constant(1, 2, std::nan(""))), ad::NumericError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(readable_form) {
  ad::Tape<double> tape;
  const V a = tape.variable(Mat::Ones(2, 3));
  const V b = tape.variable(Mat::Ones(3, 2));
  const V c = tape.constant(Mat::Ones(2, 2));
  const V t = a * b;
  const V y = sum(hadamard(t, t) + c);
  BOOST_TEST(fmt::format("{}", ad::expression(y)) ==
             "t0 = matmul(x0:2x3, x1:3x2):2x2\n"
             "sum(add(hadamard(t0, t0):2x2, c0:2x2):2x2):1x1");
  BOOST_TEST(ad::to_string(ad::expression(a)) == "x0:2x3");
  BOOST_TEST(y.arity() == 1);
  BOOST_TEST(std::string(y.input(0).op()) == "add");
  BOOST_CHECK_THROW(y.input(1), ad::Error);
  BOOST_TEST(ad::to_string(ad::expression(V())) == "(empty)");
}

BOOST_AUTO_TEST_CASE(division_operators) {
  ad::Tape<double> tape;
  const Mat am = normal(2, 3);
  const Mat bm = (normal(1, 3, 2).array().abs() + 1).matrix();
  const V a = tape.variable(am);
  const V b = tape.variable(bm);
  BOOST_TEST(((a / b).value() - (am.array().rowwise() / bm.row(0).array()).matrix()).isZero());
  BOOST_TEST(((a / 4.0).value() - am / 4.0).isZero());
  BOOST_TEST(((2.0 / b).value() - (2.0 / bm.array()).matrix()).cwiseAbs().maxCoeff() < 1e-15);
  BOOST_TEST(std::string((a / b).op()) == "divide");
}

BOOST_AUTO_TEST_CASE(gradcheck_jacobian_refuses_options_that_cannot_check) {
  int calls = 0;
  const ad::Function<double> f = [&](std::span<const V> x) {
    ++calls;
    return x[0];
  };
  for (const auto& [step, projections] : {std::pair{std::nan(""), 3}, {-1e-6, 3}, {1e-6, 0}}) {
    ad::JacobianCheckOptions options;
    options.tolerances.step = step;
    options.projections = projections;
    BOOST_CHECK_THROW(ad::gradcheck_jacobian(f, {Mat::Ones(2, 1)}, options), ad::Error);
  }
  BOOST_TEST(calls == 0);
}
