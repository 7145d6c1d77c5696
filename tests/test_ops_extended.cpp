// The extended op set: each op's Jacobian against central differences (double) on 1x1,
// row, column and non-square shapes where the op admits them, and a float tape's gradient
// against a double tape's on the same inputs; its shape errors and invalid-input errors; the
// domain policy for singular and out-of-domain input; stability at logits of magnitude 1e4.

#define BOOST_TEST_MODULE ops_extended
#include <ad/ad.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "float_agreement.hpp"

using Mat = ad::Matrix<double>;
using V = ad::Var<double>;

namespace {

const std::vector<ad::Shape> all_shapes = {{1, 1}, {1, 4}, {4, 1}, {2, 3}};
const std::vector<ad::Shape> square_shapes = {{1, 1}, {2, 2}, {4, 4}};

Mat normal(ad::Shape s, std::uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  return ad::random_normal<double>(s.rows, s.cols, rng);
}

Mat positive(ad::Shape s, std::uint64_t seed = 7) {
  return (normal(s, seed).array().abs() + 0.3).matrix();
}

// Away from the kinks of abs, max and clamp at 0 and ±0.5.
Mat kink_free(ad::Shape s, std::uint64_t seed = 7) {
  Mat m = normal(s, seed);
  return (m.array().sign() * (m.array().abs() + 0.1)).matrix();
}

// Diagonally dominant, so well conditioned.
Mat regular(Eigen::Index n, std::uint64_t seed = 7) {
  return normal({n, n}, seed) * 0.3 + Mat::Identity(n, n) * static_cast<double>(n);
}

// f, a generic lambda taking std::span<const ad::Var<T>>, is checked twice: its Jacobian in
// double against central differences, and its gradient on a float tape against the double
// tape's, within 1e-5 relative to max(1, |gradient|).
template <class F>
void check(const std::string& name, F f, const std::vector<Mat>& x) {
  std::string shapes;
  for (const auto& m : x) shapes += fmt::format(" {}x{}", m.rows(), m.cols());
  const ad::GradcheckResult r = ad::gradcheck_jacobian(ad::Function<double>(f), x);
  BOOST_TEST(r.passed, name << " on" << shapes << ":\n" << fmt::format("{}", r));

  ad_test::check_float_agrees(name, f, x);
}

// The error's message contains every fragment (op name, shapes, why, this file's name).
template <class E = ad::ShapeError>
void check_error(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    BOOST_ERROR("no exception; expected one containing '" << fragments.front() << "'");
  } catch (const E& e) {
    const std::string message = e.what();
    for (const auto& s : fragments) {
      BOOST_TEST(message.find(s) != std::string::npos, "'" << s << "' not in: " << message);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gradients)

// f, a generic unary op, on every shape, with inputs drawn by `draw`.
template <class F>
void check_unary(const std::string& name, F op, Mat (*draw)(ad::Shape, std::uint64_t)) {
  for (ad::Shape s : all_shapes) check(name, [&](auto x) { return op(x[0]); }, {draw(s, 7)});
}

BOOST_AUTO_TEST_CASE(elementwise_unary) {
  check_unary(
      "sqrt", [](const auto& a) { return sqrt(a); }, positive);
  check_unary(
      "pow 2.5", [](const auto& a) { return pow(a, 2.5); }, positive);
  check_unary(
      "pow -1", [](const auto& a) { return pow(a, -1.0); }, positive);
  check_unary(
      "pow 3 (negative base)", [](const auto& a) { return pow(a, 3.0); }, normal);
  check_unary(
      "pow 0", [](const auto& a) { return pow(a, 0.0); }, normal);
  check_unary(
      "abs", [](const auto& a) { return abs(a); }, kink_free);
  check_unary(
      "square", [](const auto& a) { return square(a); }, normal);
  check_unary(
      "softplus", [](const auto& a) { return softplus(a); }, normal);
  check_unary(
      "log_sigmoid", [](const auto& a) { return log_sigmoid(a); }, normal);
  check_unary(
      "clamp", [](const auto& a) { return clamp(a, -0.5, 0.5); }, kink_free);
  check_unary(
      "scalar / a", [](const auto& a) { return 2.0 / a; }, positive);
  check_unary(
      "a / scalar", [](const auto& a) { return a / 4.0; }, normal);
}

BOOST_AUTO_TEST_CASE(divide_broadcasts) {
  const std::vector<std::pair<ad::Shape, ad::Shape>> pairs = {
      {{1, 1}, {1, 1}}, {{1, 4}, {1, 4}}, {{4, 1}, {4, 1}}, {{2, 3}, {2, 3}}, {{2, 3}, {1, 1}},
      {{1, 1}, {2, 3}}, {{2, 3}, {2, 1}}, {{1, 3}, {2, 3}}, {{2, 1}, {1, 3}}};
  for (auto [sa, sb] : pairs) {
    check("a / b", [](auto x) { return x[0] / x[1]; }, {normal(sa, 1), positive(sb, 2)});
  }
  check("a / a", [](auto x) { return x[0] / x[0]; }, {positive({2, 3})});
}

BOOST_AUTO_TEST_CASE(axis_reductions) {
  for (ad::Shape s : all_shapes) {
    for (ad::Axis axis : {ad::Axis::rows, ad::Axis::cols}) {
      check("sum axis", [&](auto x) { return sum(x[0], axis); }, {normal(s)});
      check("mean axis", [&](auto x) { return mean(x[0], axis); }, {normal(s)});
      check("max axis", [&](auto x) { return max(x[0], axis); }, {normal(s)});
    }
  }
}

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

BOOST_AUTO_TEST_CASE(linear_algebra) {
  for (ad::Shape s : square_shapes) {
    const Eigen::Index n = s.rows;
    check("trace", [](auto x) { return trace(x[0]); }, {normal(s)});
    check("inverse", [](auto x) { return inverse(x[0]); }, {regular(n)});
    check("det", [](auto x) { return det(x[0]); }, {normal(s)});
    check("logdet", [](auto x) { return logdet(x[0]); }, {regular(n)});
    check("logdet of negative det", [](auto x) { return logdet(x[0]); }, {(-regular(n)).eval()});
    for (Eigen::Index k : {1, 3}) {
      check("solve", [](auto x) { return solve(x[0], x[1]); }, {regular(n), normal({n, k})});
    }
    check("diag of matrix", [](auto x) { return diag(x[0]); }, {normal(s)});
    check("diag of vector", [](auto x) { return diag(x[0]); }, {normal({n, 1})});
    check("A⁻¹ A", [](auto x) { return inverse(x[0]) * x[0]; }, {regular(n)});
  }
  for (ad::Shape s : all_shapes) {
    check("dot", [](auto x) { return dot(x[0], x[1]); }, {normal(s, 1), normal(s, 2)});
    check("dot(a, a)", [](auto x) { return dot(x[0], x[0]); }, {normal(s)});
    check("norm", [](auto x) { return norm(x[0]); }, {normal(s)});
  }
  for (Eigen::Index m : {1, 3}) {
    for (Eigen::Index n : {1, 2}) {
      check("outer", [](auto x) { return outer(x[0], x[1]); }, {normal({m, 1}, 1), normal({n, 1})});
    }
  }
}

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
  check("det at rank n-1", [](auto v) { return det(v[0]); }, {a});
  check("det at rank 1 of 3", [](auto v) { return det(v[0]); }, {rank_one});
  check("det with zero rows", [](auto v) { return det(v[0]); }, {zero_rows});
}

BOOST_AUTO_TEST_CASE(structure) {
  for (ad::Shape s : all_shapes) {
    check("reshape", [&](auto x) { return reshape(x[0], s.cols, s.rows); }, {normal(s)});
    check("reshape to a row", [&](auto x) { return reshape(x[0], 1, s.rows * s.cols); },
          {normal(s)});
    check("block", [&](auto x) { return block(x[0], s.rows - 1, 0, 1, s.cols); }, {normal(s)});
    check("row", [&](auto x) { return row(x[0], s.rows - 1); }, {normal(s)});
    check("col", [&](auto x) { return col(x[0], s.cols - 1); }, {normal(s)});
    check("hcat",
          [](auto x) {
            return ad::hcat({x[0], x[1], x[0]});
          },
          {normal(s, 1), normal(s, 2)});
    check("vcat", [](auto x) { return vcat(x[0], x[1]); }, {normal(s, 1), normal(s, 2)});
    check("broadcast_to", [](auto x) { return broadcast_to(x[0], 4, 3); }, {normal({1, 1})});
  }
  check("block inside", [](auto x) { return block(x[0], 1, 1, 2, 2); }, {normal({3, 4})});
  check("broadcast_to row", [](auto x) { return broadcast_to(x[0], 3, 4); }, {normal({1, 4})});
  check("broadcast_to column", [](auto x) { return broadcast_to(x[0], 3, 4); }, {normal({3, 1})});
  check("hcat of different widths", [](auto x) { return hcat(x[0], x[1]); },
        {normal({2, 1}), normal({2, 3})});
  check("vcat of different heights", [](auto x) { return vcat(x[0], x[1]); },
        {normal({1, 3}), normal({2, 3})});
}

BOOST_AUTO_TEST_CASE(softmax_family) {
  for (ad::Shape s : all_shapes) {
    check("softmax", [](auto x) { return softmax(x[0]); }, {normal(s)});
    check("log_softmax", [](auto x) { return log_softmax(x[0]); }, {normal(s)});
    const Mat p = [&] {
      Mat m = positive(s, 3);
      m.array().rowwise() /= m.colwise().sum().array();
      return m;
    }();
    check("softmax_cross_entropy", [](auto x) { return softmax_cross_entropy(x[0], x[1]); },
          {normal(s), p});
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stability)

BOOST_AUTO_TEST_CASE(softmax_at_logits_of_magnitude_1e4) {
  ad::Tape<double> tape;
  tape.check_finite(true);
  Mat z(3, 2);
  z << 1e4, -1e4, -1e4, 1e4, 0, 0;
  Mat p(3, 2);
  p << 1, 0, 0, 0, 0, 1;  // the second column's target is the least likely class
  const V x = tape.variable(z);
  const V s = softmax(x);
  BOOST_TEST(s.value()(0, 0) == 1.0);
  BOOST_TEST(s.value()(1, 1) == 1.0);
  const V ls = log_softmax(x);
  BOOST_TEST(ls.value()(1, 0) == -2e4);
  BOOST_TEST(ls.value()(2, 1) == -1e4);
  const V l = softmax_cross_entropy(x, tape.constant(p));
  BOOST_TEST(l.value()(0, 0) == 1e4 / 2);
  tape.backward(l);
  Mat expected(3, 2);  // (softmax(Z) − P) / N
  expected << 0, 0, 0, 0.5, 0, -0.5;
  // Eigen's vectorised exp clamps its argument near −709, so e^−1e4 may read 1e-309, not 0.
  BOOST_TEST((x.grad() - expected).cwiseAbs().maxCoeff() < 1e-300);
  tape.backward(sum(s) + sum(ls));
  BOOST_TEST(x.grad().allFinite());
}

// z − m is exact near the max, so log_softmax keeps float's relative precision at 1e4, where
// forming lse(z) = m + ln s first would round it to float's spacing there (about 1e-3).
BOOST_AUTO_TEST_CASE(log_softmax_in_float_at_1e4_is_precise) {
  ad::Tape<float> tape;
  Eigen::MatrixXf z(2, 1);
  z << 1e4f, 1e4f - 1;
  const auto x = tape.variable(z);
  const double ln_s = std::log1p(std::exp(-1.0));
  const Eigen::MatrixXf c = log_softmax(x).value();
  BOOST_TEST(std::abs(c(0, 0) + ln_s) < 1e-6);
  BOOST_TEST(std::abs(c(1, 0) + 1 + ln_s) < 1e-6);
  Eigen::MatrixXf p(2, 1);
  p << 0.25f, 0.75f;
  const auto l = softmax_cross_entropy(x, tape.constant(p));
  BOOST_TEST(std::abs(l.value()(0, 0) - (0.75 + ln_s)) < 1e-6);
}

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

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(domain)

BOOST_AUTO_TEST_CASE(singular_matrices_give_numeric_errors) {
  ad::Tape<double> tape;
  Mat singular(2, 2);
  singular << 1, 2, 2, 4;
  const V a = tape.variable(singular);
  const V b = tape.variable(Mat::Ones(2, 1));
  const std::size_t before = tape.size();
  check_error<ad::NumericError>([&] { inverse(a); },
                                {"inverse", "singular", "2x2", "test_ops_extended.cpp"});
  check_error<ad::NumericError>([&] { solve(a, b); }, {"solve", "singular"});
  check_error<ad::NumericError>([&] { logdet(a); }, {"logdet", "singular"});
  BOOST_TEST(tape.size() == before);  // a refused op leaves no node behind
  const V zero = tape.variable(Mat::Zero(1, 1));
  check_error<ad::NumericError>([&] { inverse(zero); }, {"inverse", "1x1"});
  Mat zero_rows = Mat::Zero(3, 3);  // Eigen's rcond() estimate reads 1 here
  zero_rows.row(0).setOnes();
  check_error<ad::NumericError>([&] { inverse(tape.variable(zero_rows)); }, {"inverse", "3x3"});
}

BOOST_AUTO_TEST_CASE(out_of_domain_is_ieee_unless_checking) {
  ad::Tape<double> tape;
  const V x = tape.variable(-Mat::Ones(2, 2));
  BOOST_TEST(std::isnan(sqrt(x).value()(0, 0)));
  BOOST_TEST(std::isnan(log(x).value()(0, 0)));
  BOOST_TEST(std::isnan(pow(x, 0.5).value()(0, 0)));
  BOOST_TEST(std::isinf((x / tape.constant(Mat::Zero(1, 1))).value()(0, 0)));
  tape.check_finite(true);
  check_error<ad::NumericError>([&] { sqrt(x); },
                                {"'sqrt'", "inputs [2x2]", "test_ops_extended.cpp", "nan"});
  check_error<ad::NumericError>([&] { log(x); }, {"'log'", "inputs [2x2]"});
}

BOOST_AUTO_TEST_CASE(norm_at_zero_has_subgradient_zero) {
  ad::Tape<double> tape;
  const V x = tape.variable(Mat::Zero(2, 3));
  tape.backward(norm(x));
  BOOST_TEST(x.grad().isZero());
}

BOOST_AUTO_TEST_CASE(clamp_bounds_must_be_ordered) {
  ad::Tape<double> tape;
  const V x = tape.variable(Mat::Ones(1, 1));
  check_error<ad::Error>([&] { clamp(x, 1.0, -1.0); }, {"clamp", "lo <= hi"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(shape_errors) {
  ad::Tape<double> tape;
  const V m23 = tape.variable(Mat::Ones(2, 3));
  const V m32 = tape.variable(Mat::Ones(3, 2));
  const V m33 = tape.variable(Mat::Identity(3, 3));
  const V c2 = tape.variable(Mat::Ones(2, 1));
  const V r2 = tape.variable(Mat::Ones(1, 2));
  const V e02 = tape.variable(Mat::Ones(0, 2));
  const std::string file = "test_ops_extended.cpp";
  const std::string square = "square matrix";
  check_error([&] { trace(m23); }, {"trace", "2x3", square, file});
  check_error([&] { inverse(m23); }, {"inverse", "2x3", square, file});
  check_error([&] { det(m32); }, {"det", "3x2", square, file});
  check_error([&] { logdet(m23); }, {"logdet", "2x3", square, file});
  check_error([&] { solve(m23, c2); }, {"solve", "2x3", square, file});
  check_error([&] { solve(m33, c2); }, {"solve", "3x3", "2x1", "3 rows", file});
  check_error([&] { dot(m23, m32); }, {"dot", "2x3", "3x2", "equal shapes", file});
  check_error([&] { outer(m23, c2); }, {"outer", "2x3", "2x1", "column vectors", file});
  check_error([&] { diag(m23); }, {"diag", "2x3", "column vector", file});
  check_error([&] { diag(r2); }, {"diag", "1x2", file});
  check_error([&] { m23 / m32; }, {"divide", "2x3", "3x2", "broadcasting", file});
  check_error([&] { mean(e02, ad::Axis::rows); }, {"mean", "0x2", "empty", file});
  check_error([&] { max(e02, ad::Axis::rows); }, {"max", "0x2", "empty", file});
  check_error([&] { reshape(m23, 4, 2); }, {"reshape", "2x3", "4x2", "number of elements", file});
  check_error([&] { block(m23, 1, 1, 2, 2); }, {"block", "2x3", "2x2", "inside", file});
  check_error([&] { block(m23, -1, 0, 1, 1); }, {"block", "2x3", "1x1", file});
  check_error([&] { row(m23, 2); }, {"row", "2x3", "1x3", file});
  check_error([&] { col(m23, 3); }, {"col", "2x3", "2x1", file});
  check_error([&] { hcat(m23, m32); }, {"hcat", "2x3", "3x2", "rows", file});
  check_error([&] { vcat(m23, m32); }, {"vcat", "2x3", "3x2", "columns", file});
  check_error([&] { ad::hcat({m23, m23, m32}); }, {"hcat", "2x3", "3x2", "part 2", "part 0", file});
  check_error([&] { broadcast_to(m23, 2, 1); }, {"broadcast_to", "2x3", "2x1", "shrink", file});
  check_error([&] { broadcast_to(c2, 3, 3); }, {"broadcast_to", "2x1", "3x3", file});
  check_error([&] { softmax(e02); }, {"softmax", "0x2", "one class", file});
  check_error([&] { log_softmax(e02); }, {"log_softmax", "0x2", file});
  check_error([&] { softmax_cross_entropy(m23, m32); },
              {"softmax_cross_entropy", "2x3", "3x2", "logits' shape", file});
  check_error<ad::Error>([&] { ad::hcat(std::span<const V>()); }, {"hcat", "at least one", file});
}

// An input that is not a live node of the op's tape is an ad::Error that names the op and
// the caller's line: a default-constructed Var, or one from before tape.clear(), for a unary
// op; one from another tape for a binary op.
BOOST_AUTO_TEST_CASE(invalid_inputs_name_the_op) {
  const std::string file = "test_ops_extended.cpp";
  auto unary = [&](const std::string& op, const std::function<void(const V&)>& f) {
    ad::Tape<double> tape;
    const V stale = tape.variable(Mat::Identity(2, 2));
    tape.clear();
    check_error<ad::Error>([&] { f(stale); }, {op + ": the Var was recorded before", file});
    check_error<ad::Error>([&] { f(V()); }, {op + ": an empty", file});
  };
  auto binary = [&](const std::string& op, const std::function<void(const V&, const V&)>& f) {
    ad::Tape<double> mine, other;
    const V a = mine.variable(Mat::Identity(2, 2));
    const V b = other.variable(Mat::Identity(2, 2));
    check_error<ad::Error>([&] { f(a, b); }, {op + ": the Var belongs to another tape", file});
    check_error<ad::Error>([&] { f(b, a); }, {op + ": the Var belongs to another tape", file});
  };
  unary("trace", [](const V& a) { trace(a); });
  unary("inverse", [](const V& a) { inverse(a); });
  unary("det", [](const V& a) { det(a); });
  unary("logdet", [](const V& a) { logdet(a); });
  unary("norm", [](const V& a) { norm(a); });
  unary("diag", [](const V& a) { diag(a); });
  unary("pow", [](const V& a) { pow(a, 2.0); });
  unary("sqrt", [](const V& a) { sqrt(a); });
  unary("abs", [](const V& a) { abs(a); });
  unary("square", [](const V& a) { square(a); });
  unary("softplus", [](const V& a) { softplus(a); });
  unary("log_sigmoid", [](const V& a) { log_sigmoid(a); });
  unary("clamp", [](const V& a) { clamp(a, 0.0, 1.0); });
  unary("sum", [](const V& a) { sum(a, ad::Axis::rows); });
  unary("mean", [](const V& a) { mean(a, ad::Axis::cols); });
  unary("max", [](const V& a) { max(a, ad::Axis::rows); });
  unary("reshape", [](const V& a) { reshape(a, 1, 4); });
  unary("block", [](const V& a) { block(a, 0, 0, 1, 1); });
  unary("row", [](const V& a) { row(a, 0); });
  unary("col", [](const V& a) { col(a, 0); });
  unary("broadcast_to", [](const V& a) { broadcast_to(a, 2, 2); });
  unary("softmax", [](const V& a) { softmax(a); });
  unary("log_softmax", [](const V& a) { log_softmax(a); });
  unary("hcat", [](const V& a) { ad::hcat({a}); });  // one part: returned, but checked
  binary("solve", [](const V& a, const V& b) { solve(a, b); });
  binary("dot", [](const V& a, const V& b) { dot(a, b); });
  binary("outer", [](const V& a, const V& b) { outer(a, b); });
  binary("divide", [](const V& a, const V& b) { divide(a, b); });
  binary("hcat", [](const V& a, const V& b) { hcat(a, b); });
  binary("vcat", [](const V& a, const V& b) { vcat(a, b); });
  binary("softmax_cross_entropy", [](const V& a, const V& b) { softmax_cross_entropy(a, b); });
}

BOOST_AUTO_TEST_CASE(float_tapes_record_every_op) {
  ad::Tape<float> tape;
  const auto a = tape.variable(ad::Matrix<float>::Identity(2, 2) * 2 +
                               ad::Matrix<float>::Constant(2, 2, 0.5f));
  const auto v = tape.variable(ad::Matrix<float>::Ones(2, 1));
  const auto y = sum(solve(a, v)) + logdet(a) + det(inverse(a)) + trace(a) + dot(a, a) + norm(a) +
                 sum(diag(v)) + sum(outer(v, v)) + sum(pow(a + 1.0, 2.0)) + sum(sqrt(a + 1.0f)) +
                 sum(abs(a)) + sum(square(a)) + sum(softplus(a)) + sum(log_sigmoid(a)) +
                 sum(clamp(a, 0.0, 1.0)) + sum(a / a) + sum(mean(a, ad::Axis::cols)) +
                 sum(max(a, ad::Axis::rows)) + sum(reshape(a, 1, 4)) + sum(block(a, 0, 0, 1, 1)) +
                 sum(row(a, 0)) + sum(col(a, 1)) + sum(hcat(a, v)) + sum(vcat(a, a)) +
                 sum(broadcast_to(v, 2, 3)) + sum(softmax(a)) + sum(log_softmax(a)) +
                 softmax_cross_entropy(a, softmax(a)) + sum(a, ad::Axis::rows) * v;
  tape.backward(y);
  BOOST_TEST(a.grad().allFinite());
}
