// Second derivatives (<ad/hessian.hpp>): every op of the catalog through gradgradcheck,
// Hessians against closed forms from The Matrix Cookbook, random expression graphs through
// gradgradcheck, custom ops with and without a second-order rule, and the errors.
#define BOOST_TEST_MODULE hessian
#include "ops/op_checks.hpp"
#include "random_expression.hpp"

#include <ad/ad.hpp>

#include <Eigen/LU>
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>
#include <span>
#include <sstream>
#include <vector>

namespace {

using ad::Matrix;
using Mat = Matrix<double>;
using D = ad::Dual<double>;
using DV = ad::Var<D>;
using ad_test::draw;

Mat random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return ad::random_uniform<double>(rows, cols, rng, -1, 1);
}

// A well-conditioned square matrix: 3 I plus elements in [−1, 1].
Mat regular(Eigen::Index n, std::uint64_t seed) {
  return 3 * Mat::Identity(n, n) + random_matrix(n, n, seed);
}

// Every element of h against the closed form `expected`, within 1e-10 of max(1, |expected|).
void check_hessian(const std::string& name, const Mat& h, const Mat& expected) {
  BOOST_TEST_REQUIRE(h.rows() == expected.rows());
  BOOST_TEST_REQUIRE(h.cols() == expected.cols());
  const double scale = std::max(1.0, expected.cwiseAbs().maxCoeff());
  const double error = (h - expected).cwiseAbs().maxCoeff();
  BOOST_TEST(error <= 1e-10 * scale, name << ": max error " << error << "\nhessian:\n"
                                          << h << "\nexpected:\n"
                                          << expected);
}

// The index of element (i, j) of an m-row matrix in vec(X).
Eigen::Index at(Eigen::Index i, Eigen::Index j, Eigen::Index m) { return i + j * m; }

}  // namespace

// ---- every op ----

// L = Σ R ⊙ C + ½ Σ C ⊙ C for the op's value C: the first term weighs each element's own
// second derivative, the second brings in Jᵀ J, which checks the tangent of the op's value.
BOOST_AUTO_TEST_CASE(every_catalog_op_passes_gradgradcheck) {
  int checked = 0;
  for (const ad_test::CatalogCase& c : ad_test::catalog()) {
    std::ostringstream name;
    name << c;
    std::mt19937_64 rng(std::hash<std::string>{}(c.label));
    for (const ad_test::Sample& sample : c.samples) {
      const std::vector<Mat> inputs = draw(sample, rng);
      auto f = [&](std::span<const DV> x) {
        const DV y = c.f(x);
        return ad_test::weighted_sum(y, 99) + 0.5 * sum(square(y));
      };
      const ad::GradgradcheckResult r = ad::gradgradcheck(f, inputs);
      BOOST_TEST(r.passed, name.str() << " on" << ad_test::shapes_of(inputs) << ":\n"
                                      << fmt::format("{}", r));
      ++checked;
    }
  }
  BOOST_TEST(checked > 100);
}

// A seeded set of the random expression generator's graphs (every op, shared nodes, the same
// node twice in one op). A graph that reaches a point where an op refuses second derivatives
// (det of a singular product, ops_refuse_second_derivatives_they_cannot_give) must say so by
// name; such graphs are counted, and must stay few.
BOOST_AUTO_TEST_CASE(random_expressions_pass_gradgradcheck) {
  int refused = 0;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    const ad::testing::RandomExpression e = ad::testing::random_expression(seed);
    auto f = [&](std::span<const DV> x) {
      const DV y = e(x);
      return sum(y) + 0.5 * sum(square(y));
    };
    try {
      const ad::GradgradcheckResult r = ad::gradgradcheck(f, e.inputs);
      BOOST_TEST(r.passed, "seed " << seed << ": " << e.text() << "\n" << fmt::format("{}", r));
    } catch (const ad::NumericError& error) {
      BOOST_TEST(ad_test::contains(error, "second derivatives"),
                 "seed " << seed << ": " << error.what());
      BOOST_TEST_MESSAGE("seed " << seed << " refused: " << error.what());
      ++refused;
    }
  }
  BOOST_TEST(refused <= 3);
}

// ---- The Matrix Cookbook ----

// tr(Xᵀ A X), X n x m  →  H = I_m ⊗ (A + Aᵀ)
BOOST_AUTO_TEST_CASE(cookbook_trace_of_xt_a_x) {
  const Mat a = random_matrix(3, 3, 1), x = random_matrix(3, 2, 2);
  auto f = [&](const DV& X) { return trace(transpose(X) * ad::constant(X, a) * X); };
  Mat expected = Mat::Zero(6, 6);
  for (int k = 0; k < 2; ++k) expected.block(3 * k, 3 * k, 3, 3) = a + a.transpose();
  check_hessian("tr(XᵀAX)", ad::hessian(f, x), expected);
}

// xᵀ A x  →  H = A + Aᵀ
BOOST_AUTO_TEST_CASE(cookbook_quadratic_form) {
  const Mat a = random_matrix(4, 4, 3), x = random_matrix(4, 1, 4);
  auto f = [&](const DV& v) { return transpose(v) * ad::constant(v, a) * v; };
  check_hessian("xᵀAx", ad::hessian(f, x), a + a.transpose());
}

// ‖A X − B‖²_F  →  H = 2 (I ⊗ AᵀA)
BOOST_AUTO_TEST_CASE(cookbook_least_squares) {
  const Mat a = random_matrix(5, 3, 5), b = random_matrix(5, 2, 6), x = random_matrix(3, 2, 7);
  auto f = [&](const DV& X) { return sum(square(ad::constant(X, a) * X - ad::constant(X, b))); };
  Mat expected = Mat::Zero(6, 6);
  for (int k = 0; k < 2; ++k) expected.block(3 * k, 3 * k, 3, 3) = 2 * a.transpose() * a;
  check_hessian("‖AX − B‖²", ad::hessian(f, x), expected);
}

// ln |det X|  →  ∂²/∂Xᵢⱼ∂Xₖₗ = −Yⱼₖ Yₗᵢ, Y = X⁻¹
BOOST_AUTO_TEST_CASE(cookbook_log_det) {
  const Mat x = regular(3, 8), y = x.inverse();
  Mat expected(9, 9);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k)
        for (int l = 0; l < 3; ++l) expected(at(i, j, 3), at(k, l, 3)) = -y(j, k) * y(l, i);
  check_hessian("ln det X", ad::hessian([](const DV& X) { return logdet(X); }, x), expected);
}

// det X  →  det X · (Yⱼᵢ Yₗₖ − Yⱼₖ Yₗᵢ)
BOOST_AUTO_TEST_CASE(cookbook_det) {
  const Mat x = regular(3, 9), y = x.inverse();
  const double d = x.determinant();
  Mat expected(9, 9);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k)
        for (int l = 0; l < 3; ++l)
          expected(at(i, j, 3), at(k, l, 3)) = d * (y(j, i) * y(l, k) - y(j, k) * y(l, i));
  check_hessian("det X", ad::hessian([](const DV& X) { return det(X); }, x), expected);
}

// aᵀ X⁻¹ b  →  pᵢ Yⱼₖ qₗ + pₖ Yₗᵢ qⱼ, p = X⁻ᵀ a, q = X⁻¹ b
BOOST_AUTO_TEST_CASE(cookbook_inverse_bilinear) {
  const Mat x = regular(3, 10), y = x.inverse();
  const Mat a = random_matrix(3, 1, 11), b = random_matrix(3, 1, 12);
  const Mat p = y.transpose() * a, q = y * b;
  Mat expected(9, 9);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k)
        for (int l = 0; l < 3; ++l)
          expected(at(i, j, 3), at(k, l, 3)) = p(i) * y(j, k) * q(l) + p(k) * y(l, i) * q(j);
  auto f = [&](const DV& X) {
    return transpose(ad::constant(X, a)) * inverse(X) * ad::constant(X, b);
  };
  check_hessian("aᵀX⁻¹b", ad::hessian(f, x), expected);
  // The same through solve, without forming X⁻¹.
  auto g = [&](const DV& X) {
    return transpose(ad::constant(X, a)) * solve(X, ad::constant(X, b));
  };
  check_hessian("aᵀ solve(X, b)", ad::hessian(g, x), expected);
}

// tr(X⁻¹)  →  Yⱼₖ (Y²)ₗᵢ + Yₗᵢ (Y²)ⱼₖ
BOOST_AUTO_TEST_CASE(cookbook_trace_of_inverse) {
  const Mat x = regular(3, 13), y = x.inverse(), y2 = y * y;
  Mat expected(9, 9);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k)
        for (int l = 0; l < 3; ++l)
          expected(at(i, j, 3), at(k, l, 3)) = y(j, k) * y2(l, i) + y(l, i) * y2(j, k);
  check_hessian("tr X⁻¹", ad::hessian([](const DV& X) { return trace(inverse(X)); }, x), expected);
}

// tr(A X B X)  →  Aₗᵢ Bⱼₖ + Aⱼₖ Bₗᵢ
BOOST_AUTO_TEST_CASE(cookbook_trace_of_axbx) {
  const Mat a = random_matrix(3, 3, 14), b = random_matrix(3, 3, 15), x = random_matrix(3, 3, 16);
  Mat expected(9, 9);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k)
        for (int l = 0; l < 3; ++l)
          expected(at(i, j, 3), at(k, l, 3)) = a(l, i) * b(j, k) + a(j, k) * b(l, i);
  auto f = [&](const DV& X) { return trace(ad::constant(X, a) * X * ad::constant(X, b) * X); };
  check_hessian("tr(AXBX)", ad::hessian(f, x), expected);
}

// Softmax cross-entropy in the logits z (one column, one-hot target): H = diag(p) − p pᵀ;
// for N columns, that block per column, over N.
BOOST_AUTO_TEST_CASE(cookbook_softmax_cross_entropy) {
  const Mat z = random_matrix(4, 3, 17);
  const std::vector<int> labels = {2, 0, 3};
  Mat expected = Mat::Zero(12, 12);
  for (int j = 0; j < 3; ++j) {
    const Eigen::VectorXd e = z.col(j).array().exp();
    const Eigen::VectorXd p = e / e.sum();
    expected.block(4 * j, 4 * j, 4, 4) = (Mat(p.asDiagonal()) - p * p.transpose()) / 3.0;
  }
  auto f = [&](const DV& Z) { return softmax_cross_entropy(Z, std::span<const int>(labels)); };
  check_hessian("softmax cross-entropy", ad::hessian(f, z), expected);
  // log-sum-exp of a vector has the same Hessian as the cross-entropy of one column.
  const Mat v = z.col(0);
  const Eigen::VectorXd e = v.array().exp();
  const Eigen::VectorXd p = e / e.sum();
  check_hessian("log_sum_exp", ad::hessian([](const DV& x) { return log_sum_exp(x); }, v),
                Mat(p.asDiagonal()) - p * p.transpose());
}

// ‖x‖₂  →  (I − x xᵀ / ‖x‖²) / ‖x‖
BOOST_AUTO_TEST_CASE(cookbook_norm) {
  const Mat x = random_matrix(4, 1, 18);
  const double n = x.norm();
  const Mat expected = (Mat::Identity(4, 4) - x * x.transpose() / (n * n)) / n;
  check_hessian("‖x‖", ad::hessian([](const DV& v) { return norm(v); }, x), expected);
}

// Logistic loss Σᵢ ln(1 + e^(−yᵢ xᵢᵀ w))  →  Xᵀ diag(σᵢ (1 − σᵢ)) X, σᵢ = σ(xᵢᵀ w)
BOOST_AUTO_TEST_CASE(cookbook_logistic_loss) {
  const Mat x = random_matrix(6, 3, 19), w = random_matrix(3, 1, 20);
  Mat y(6, 1);
  y << 1, -1, 1, 1, -1, -1;
  const Eigen::ArrayXd s = 1 / (1 + (-(x * w).array()).exp());
  const Mat expected = x.transpose() * (s * (1 - s)).matrix().asDiagonal() * x;
  auto f = [&](const DV& v) {
    return sum(softplus(-hadamard(ad::constant(v, y), ad::constant(v, x) * v)));
  };
  check_hessian("logistic loss", ad::hessian(f, w), expected);
}

// The same on data large enough for the dual matrix-vector kernel (more than 8x8x8
// multiply-adds: X w in one pass down X's columns, Xᵀ r by dot products along them), with w
// used twice so that its adjoint is first assigned and then added to:
// Σ softplus(X w) + Σ softplus(Z w)  →  Xᵀ diag(σ′(X w)) X + Zᵀ diag(σ′(Z w)) Z.
BOOST_AUTO_TEST_CASE(cookbook_two_softplus_losses_on_larger_data) {
  const Mat x = random_matrix(40, 20, 41), z = random_matrix(30, 20, 42);
  const Mat w = random_matrix(20, 1, 43);
  const auto curvature = [&](const Mat& data) {
    const Eigen::ArrayXd s = 1 / (1 + (-(data * w).array()).exp());
    return Mat(data.transpose() * (s * (1 - s)).matrix().asDiagonal() * data);
  };
  auto f = [&](const DV& v) {
    return sum(softplus(ad::constant(v, x) * v)) + sum(softplus(ad::constant(v, z) * v));
  };
  check_hessian("two softplus losses", ad::hessian(f, w), curvature(x) + curvature(z));
  const Mat u = random_matrix(20, 1, 44);
  check_hessian("their hvp", ad::hvp(f, w, u), (curvature(x) + curvature(z)) * u);
}

// Σ λᵢ² over the eigenvalues of ½(A + Aᵀ) = ‖½(A + Aᵀ)‖²_F  →  δᵢₖ δⱼₗ + δᵢₗ δⱼₖ, and
// Σ σᵢ² over the singular values = ‖A‖²_F  →  2 I: the decompositions' second derivatives.
BOOST_AUTO_TEST_CASE(cookbook_spectral_sums_of_squares) {
  const Mat a = random_matrix(3, 3, 21);
  Mat expected(9, 9);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k)
        for (int l = 0; l < 3; ++l)
          expected(at(i, j, 3), at(k, l, 3)) = (i == k && j == l) + (i == l && j == k);
  check_hessian("Σ λ²", ad::hessian([](const DV& x) { return sum(square(eigh_values(x))); }, a),
                expected);
  const Mat b = random_matrix(4, 3, 22);
  check_hessian("Σ σ²", ad::hessian([](const DV& x) { return sum(square(singular_values(x))); }, b),
                2 * Mat::Identity(12, 12));
}

// Several inputs: f(A, B) = tr(A B) has the block Hessian [[0, K], [Kᵀ, 0]] with K the
// permutation ∂²/∂Aᵢⱼ∂Bₖₗ = δⱼₖ δᵢₗ; hvp gives its products block by block.
BOOST_AUTO_TEST_CASE(several_inputs_give_the_block_hessian) {
  const Mat a = random_matrix(2, 3, 23), b = random_matrix(3, 2, 24);
  auto f = [](std::span<const DV> x) { return trace(x[0] * x[1]); };
  Mat expected = Mat::Zero(12, 12);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      expected(at(i, j, 2), 6 + at(j, i, 3)) = 1;
      expected(6 + at(j, i, 3), at(i, j, 2)) = 1;
    }
  check_hessian("tr(AB)", ad::hessian(f, {a, b}), expected);
  const Mat va = random_matrix(2, 3, 25), vb = random_matrix(3, 2, 26);
  const std::vector<Mat> hv = ad::hvp(f, {a, b}, {va, vb});
  BOOST_TEST_REQUIRE(hv.size() == 2u);
  check_hessian("hvp of tr(AB), A's block", hv[0], vb.transpose());
  check_hessian("hvp of tr(AB), B's block", hv[1], va.transpose());
}

// hvp equals the Hessian times vec(v), shaped like x.
BOOST_AUTO_TEST_CASE(hvp_is_the_hessian_times_the_direction) {
  const Mat x = random_matrix(3, 2, 27), v = random_matrix(3, 2, 28);
  auto f = [](const DV& X) { return sum(exp(X * transpose(X))); };
  const Mat h = ad::hessian(f, x);
  const Mat hv = ad::hvp(f, x, v);
  BOOST_TEST_REQUIRE(hv.rows() == 3);
  BOOST_TEST_REQUIRE(hv.cols() == 2);
  check_hessian("hvp", hv.reshaped(6, 1), h * v.reshaped(6, 1));
  BOOST_TEST((h - h.transpose()).cwiseAbs().maxCoeff() == 0.0);
}

// Each thread keeps a tape between calls: a call made from inside f gets a tape of its own,
// and a call leaves nothing behind for the next, not even a check_finite that f turned on
// before it failed.
BOOST_AUTO_TEST_CASE(calls_within_f_and_after_a_failure_are_right) {
  const Mat x = random_matrix(3, 2, 31), v = random_matrix(3, 2, 32);
  const Mat y = random_matrix(3, 2, 33), u = random_matrix(3, 2, 34);
  // Σ exp(Y)'s Hessian is diag(exp(vec Y)), so the inner hvp is C = exp(Y) ⊙ U.
  auto inner = [](const DV& Y) { return sum(exp(Y)); };
  const Mat c = y.array().exp() * u.array();
  bool checking = false;
  auto f = [&](const DV& X) {
    checking = X.tape().check_finite();
    const Mat c_inside = ad::hvp(inner, y, u);
    return sum(hadamard(hadamard(X, X), ad::constant(X, c_inside)));
  };
  // Σ C ⊙ X ⊙ X: H v = 2 C ⊙ v.
  const Mat expected = 2 * c.array() * v.array();
  check_hessian("hvp with an hvp inside f", ad::hvp(f, x, v), expected);
  auto failing = [](const DV& X) -> DV {
    X.tape().check_finite(true);
    sum(X * transpose(X));
    throw ad::Error("f failed after recording");
  };
  BOOST_CHECK_THROW(ad::hvp(failing, x, v), ad::Error);
  check_hessian("the call after a failure", ad::hvp(f, x, v), expected);
  BOOST_TEST(!checking);
  check_hessian("a Hessian after it", ad::hessian(inner, y),
                Mat(y.reshaped().array().exp().matrix().asDiagonal()));
}

// Non-smooth ops have the second derivative of the branch taken: relu'' = 0, |x|'' = 0.
BOOST_AUTO_TEST_CASE(non_smooth_ops_follow_their_subgradient_convention) {
  Mat x(4, 1);
  x << -1, 0, 0.5, 2;
  const Mat h = ad::hessian([](const DV& v) { return sum(square(relu(v))); }, x);
  Mat expected = Mat::Zero(4, 4);
  expected(2, 2) = expected(3, 3) = 2;  // relu(x)² = x² where x > 0; relu′(0) = 0
  check_hessian("Σ relu(x)²", h, expected);
  check_hessian("Σ |x|", ad::hessian([](const DV& v) { return sum(abs(v)); }, x), Mat::Zero(4, 4));
}

// Where second derivatives through an op are not determined by what the op keeps, the op
// refuses them by name rather than return a wrong number: det near singularity, eigh and svd
// at repeated (or, for svd, zero) values.
BOOST_AUTO_TEST_CASE(ops_refuse_second_derivatives_they_cannot_give) {
  Mat singular(3, 3);
  singular << 1, 2, 3, 2, 4, 6, 0.5, 0.1, 0.7;
  ad_test::check_error<ad::NumericError>(
      [&] { ad::hvp([](const DV& x) { return det(x); }, singular, singular); },
      {"det", "nearly singular 3x3", "not available", "test_hessian.cpp"});
  const Mat repeated = Mat(Eigen::Vector3d(1, 1, 2).asDiagonal());
  ad_test::check_error<ad::NumericError>(
      [&] { ad::hessian([](const DV& x) { return sum(square(eigh_values(x))); }, repeated); },
      {"eigh_values", "values repeat", "test_hessian.cpp"});
  ad_test::check_error<ad::NumericError>(
      [&] { ad::hessian([](const DV& x) { return sum(svd_u(x)); }, Mat(repeated.leftCols(2))); },
      {"svd_u", "values repeat"});
  Mat rank_one(3, 2);
  rank_one << 1, 2, 2, 4, 3, 6;
  ad_test::check_error<ad::NumericError>(
      [&] { ad::hessian([](const DV& x) { return sum(singular_values(x)); }, rank_one); },
      {"singular_values", "a singular value is 0"});
  // At a well-conditioned matrix det's second derivative is there (cookbook_det).
}

// ---- custom ops ----

namespace {

// c = Σ A ⊙ A ⊙ A, rules written for any scalar: declares second_order.
template <class T>
struct SumOfCubes {
  static constexpr const char* name = "sum_of_cubes";
  static constexpr bool second_order = true;
  static ad::Shape shape(const ad::InputShapes<T>&) { return {1, 1}; }
  static void value(const ad::Rule<T>& r) { r.y()(0, 0) = r.x(0).array().cube().sum(); }
  // Ā += 3 c̄ A ⊙ A
  static void adjoint(const ad::Rule<T>& r) {
    r.accumulate(0, T(3) * r.ybar()(0, 0) * r.x(0).array().square());
  }
};

// The same op without the declaration.
template <class T>
struct UndeclaredCubes {
  static constexpr const char* name = "undeclared_cubes";
  static ad::Shape shape(const ad::InputShapes<T>&) { return {1, 1}; }
  static void value(const ad::Rule<T>& r) { r.y()(0, 0) = r.x(0).array().cube().sum(); }
  static void adjoint(const ad::Rule<T>& r) {
    r.accumulate(0, T(3) * r.ybar()(0, 0) * r.x(0).array().square());
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_custom_op_with_a_second_order_rule_is_differentiated_twice) {
  const Mat x = random_matrix(3, 1, 29);
  auto f = [](const DV& v) { return ad::custom_op<SumOfCubes<D>>({v}); };
  check_hessian("Σ x³", ad::hessian(f, x), Mat((6 * x).asDiagonal()));
}

BOOST_AUTO_TEST_CASE(a_custom_op_without_one_is_an_error_naming_it) {
  const Mat x = random_matrix(3, 1, 30);
  auto f = [](const DV& v) { return ad::custom_op<UndeclaredCubes<D>>({v}); };
  ad_test::check_error<ad::Error>([&] { ad::hvp(f, x, x); },
                                  {"undeclared_cubes", "second_order", "test_hessian.cpp"});
}

// ---- errors ----

BOOST_AUTO_TEST_CASE(bad_arguments_are_errors) {
  const Mat x = random_matrix(3, 2, 31);
  auto f = [](const DV& X) { return sum(square(X)); };
  ad_test::check_error([&] { ad::hvp(f, x, Mat::Zero(2, 3)); }, {"hvp", "3x2", "2x3"});
  ad_test::check_error([&] { ad::hessian([](const DV& X) { return square(X); }, x); },
                       {"hessian", "1x1"});
  ad_test::check_error<ad::Error>(
      [&] {
        ad::hvp([](std::span<const DV> v) { return sum(v[0]); }, {x, x}, {x});
      },
      {"hvp", "2 inputs but 1 directions"});
  ad_test::check_error<ad::Error>([&] { ad::gradgradcheck(f, x, {.step = 0}); }, {"step"});
  ad_test::check_error<ad::Error>([&] { ad::gradgradcheck(f, x, {.directions = 0}); },
                                  {"directions"});
}

// gradgradcheck can fail: a custom op whose adjoint is right at first order but whose
// second-order rule is wrong (it drops the dependence on A) is caught.
namespace {
template <class T>
struct WrongSecondOrder {
  static constexpr const char* name = "wrong_second_order";
  static constexpr bool second_order = true;
  static ad::Shape shape(const ad::InputShapes<T>&) { return {1, 1}; }
  static void value(const ad::Rule<T>& r) { r.y()(0, 0) = r.x(0).array().cube().sum(); }
  // The right first derivative 3A², written from the values alone: its tangent is lost.
  static void adjoint(const ad::Rule<T>& r) {
    const Mat a = r.x(0).unaryExpr([](const T& e) { return e.value; });
    r.accumulate(0, (T(3) * r.ybar()(0, 0) * a.array().square().template cast<T>()));
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(gradgradcheck_catches_a_wrong_second_derivative) {
  const Mat x = random_matrix(3, 1, 32);
  auto f = [](const DV& v) { return ad::custom_op<WrongSecondOrder<D>>({v}); };
  const ad::GradgradcheckResult r = ad::gradgradcheck(f, x);
  BOOST_TEST(!r.passed);
  BOOST_TEST(fmt::format("{}", r).find("FAIL") != std::string::npos);
}
