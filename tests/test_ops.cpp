// Every op of the engine: its gradient against central finite differences (double) on
// 1x1, row, column and non-square shapes; float tapes against double tapes; and the error
// it gives for inputs that do not fit.

#define BOOST_TEST_MODULE ops
#include <ad/ad.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "float_agreement.hpp"
#include <ad/kernels/product.hpp>

using Mat = ad::Matrix<double>;

namespace {

const std::vector<ad::Shape> unary_shapes = {{1, 1}, {1, 5}, {5, 1}, {3, 4}};

// Where an op's inputs are drawn from: anywhere, positive (log), or away from a kink (relu).
enum class Domain { any, positive, away_from_zero };

Mat draw(ad::Shape s, Domain domain, std::mt19937_64& rng) {
  Mat m = ad::random_uniform<double>(s.rows, s.cols, rng, -2, 2);
  switch (domain) {
    case Domain::any:
      return m;
    case Domain::positive:
      return (m.array().abs() + 0.2).matrix();
    case Domain::away_from_zero:
      return (m.array().sign() * (m.array().abs() + 0.1)).matrix();
  }
  return m;
}

// L = Σ C ⊙ R for a fixed random R: every element of the op's output gets its own seed.
template <class T>
ad::Var<T> weighted_sum(const ad::Var<T>& c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Mat R = ad::random_uniform<double>(c.rows(), c.cols(), rng, -1, 1);
  return sum(hadamard(c, c.tape().constant(R.cast<T>())));
}

template <class Op, class T>
ad::Var<T> apply(Op op, std::span<const ad::Var<T>> x) {
  if constexpr (std::is_invocable_v<Op, const ad::Var<T>&>) {
    return op(x[0]);
  } else {
    return op(x[0], x[1]);
  }
}

template <class Op>
void check_gradients(const std::string& name, Op op, const std::vector<Mat>& inputs) {
  auto f = [&](std::span<const ad::Var<double>> x) { return weighted_sum(apply(op, x), 99); };
  const ad::GradcheckResult r = ad::gradcheck(f, inputs);
  std::string shapes;
  for (const auto& x : inputs) shapes += fmt::format(" {}x{}", x.rows(), x.cols());
  BOOST_TEST(r.passed, name << " on" << shapes << ":\n" << fmt::format("{}", r));
}

bool contains(const std::exception& e, const std::string& part) {
  return std::string(e.what()).find(part) != std::string::npos;
}

// An input that is not a live node of the op's tape is rejected with an error naming the
// op: for a unary op a Var from before tape.clear(), for a binary op one from another tape.
template <class Op>
void check_invalid_input_error(const std::string& name, Op op) {
  ad::Tape<double> mine, other;
  try {
    if constexpr (std::is_invocable_v<Op, const ad::Var<double>&>) {
      auto stale = mine.variable(Mat::Ones(2, 2));
      mine.clear();
      op(stale);
    } else {
      op(mine.variable(Mat::Ones(2, 2)), other.variable(Mat::Ones(2, 2)));
    }
    BOOST_ERROR(name << ": no error for an invalid input");
  } catch (const ad::Error& e) {
    BOOST_TEST(contains(e, name + ": the Var "), e.what());
  }
}

template <class Op>
void check_unary(const std::string& name, Op op, Domain domain = Domain::any) {
  std::mt19937_64 rng(std::hash<std::string>{}(name));
  for (ad::Shape s : unary_shapes) {
    const std::vector<Mat> inputs = {draw(s, domain, rng)};
    check_gradients(name, op, inputs);
    ad_test::check_float_agrees(
        name, [&](auto x) { return apply(op, x); }, inputs);
  }
  check_invalid_input_error(name, op);
}

template <class Op>
void check_binary(const std::string& name, Op op,
                  const std::vector<std::pair<ad::Shape, ad::Shape>>& shapes,
                  std::pair<ad::Shape, ad::Shape> misfit, const std::string& why) {
  std::mt19937_64 rng(std::hash<std::string>{}(name));
  for (auto [sa, sb] : shapes) {
    const std::vector<Mat> inputs = {draw(sa, Domain::any, rng), draw(sb, Domain::any, rng)};
    check_gradients(name, op, inputs);
    ad_test::check_float_agrees(
        name, [&](auto x) { return apply(op, x); }, inputs);
  }
  check_invalid_input_error(name, op);

  ad::Tape<double> tape;
  auto a = tape.variable(Mat::Ones(misfit.first.rows, misfit.first.cols));
  auto b = tape.variable(Mat::Ones(misfit.second.rows, misfit.second.cols));
  try {
    op(a, b);
    BOOST_ERROR(name << ": no ShapeError");
  } catch (const ad::ShapeError& e) {
    for (const std::string& part :
         {name + ":", ad::to_string(misfit.first), ad::to_string(misfit.second), why}) {
      BOOST_TEST(contains(e, part), e.what());
    }
    // The caller is the lambda in this file (test_tape checks the exact line).
    BOOST_TEST(contains(e, "(at test_ops.cpp:"), e.what());
  }
}

// Shapes for broadcasting ops: equal, a row or a column or a scalar stretched, and both
// stretched at once (a column against a row).
const std::vector<std::pair<ad::Shape, ad::Shape>> broadcast_shapes = {
    {{1, 1}, {1, 1}}, {{1, 5}, {1, 5}}, {{5, 1}, {5, 1}}, {{3, 4}, {3, 4}}, {{3, 4}, {1, 4}},
    {{3, 4}, {3, 1}}, {{3, 4}, {1, 1}}, {{1, 1}, {3, 4}}, {{1, 4}, {3, 4}}, {{3, 1}, {1, 4}}};
const std::string broadcast_why = "each dimension must be equal or 1";

}  // namespace

BOOST_AUTO_TEST_CASE(matmul_op) {
  check_binary(
      "matmul", [](const auto& a, const auto& b) { return a * b; },
      {{{1, 1}, {1, 1}},
       {{1, 4}, {4, 1}},
       {{4, 1}, {1, 4}},
       {{3, 5}, {5, 2}},
       {{2, 3}, {3, 1}},
       {{1, 3}, {3, 4}}},
      {{2, 2}, {1, 2}}, "A has 2 columns but B has 1 rows");
}

// Products up to 4x4x4 run in kernels with the sizes fixed at compile time, up to 8x8x8 in
// plain loops, beyond in Eigen's GEMM: every one of the 64 kernels and a size on each side
// of each boundary, against Eigen's product for the value and finite differences for the
// gradient.
BOOST_AUTO_TEST_CASE(matmul_of_every_small_shape_and_each_kernel_boundary) {
  std::vector<int> sizes = {1, 2, 3, 4, 5, 9};
  std::mt19937_64 rng(11);
  for (int m : sizes) {
    for (int k : sizes) {
      for (int n : sizes) {
        const Mat A = ad::random_uniform<double>(m, k, rng, -1, 1);
        const Mat B = ad::random_uniform<double>(k, n, rng, -1, 1);
        ad::Tape<double> tape;
        const Mat C = (tape.variable(A) * tape.variable(B)).value();
        BOOST_TEST((C - A * B).cwiseAbs().maxCoeff() <= 1e-15, m << "x" << k << "x" << n);
        check_gradients("matmul", [](const auto& a, const auto& b) { return a * b; }, {A, B});
      }
    }
  }
}

// The packed kernel of large products against a plain sum in long double, at every edge of its
// tiles and blocks, for each layout of A and B (plain, transposed, inside a larger matrix), with
// and without accumulation, into a C inside a larger buffer whose other elements stay untouched.
// The tolerance is the classic bound of a sum of n products: |Ĉ − C| ≤ n·u·(|A| |B|).
template <class T>
void check_packed_product() {
  using M = ad::Matrix<T>;
  const ad::kernels::PackedBlocking k = ad::kernels::packed_blocking<T>();
  std::vector<std::array<Eigen::Index, 3>> shapes;  // rows, cols, inner
  for (Eigen::Index m : {Eigen::Index{1}, k.rows - 1, k.rows + 1, 2 * k.rows + 3}) {
    for (Eigen::Index n : {Eigen::Index{1}, k.cols - 1, k.cols + 1}) {
      for (Eigen::Index p : {Eigen::Index{1}, k.depth + 1}) shapes.push_back({m, n, p});
    }
  }
  shapes.push_back({k.rows, k.cols, k.depth});
  shapes.push_back({k.block_rows + 1, k.cols + 1, 5});
  shapes.push_back({3, k.block_cols + 1, 5});
  shapes.push_back({k.rows + 1, k.cols + 1, 2 * k.depth + 1});
  shapes.push_back({2 * k.rows, k.cols + 1, 6});  // depth 6: one block of 4 steps, then 2
  std::mt19937_64 rng(29);
  const T sentinel = T(7);
  for (const auto& [m, n, p] : shapes) {
    for (int layout = 0; layout < 4; ++layout) {
      const bool a_transposed = layout & 1, b_transposed = layout & 2;
      // A and B are blocks of larger matrices (one extra row), stored transposed when asked.
      const M a_store =
          ad::random_uniform<T>(a_transposed ? p + 1 : m + 1, a_transposed ? m : p, rng, -1, 1);
      const M b_store =
          ad::random_uniform<T>(b_transposed ? n + 1 : p + 1, b_transposed ? p : n, rng, -1, 1);
      const M a = a_transposed ? M(a_store.topRows(p).transpose()) : M(a_store.topRows(m));
      const M b = b_transposed ? M(b_store.topRows(n).transpose()) : M(b_store.topRows(p));
      const ad::kernels::Strided<T> a_view =
          a_transposed ? ad::kernels::Strided<T>{a_store.data(), a_store.rows(), 1}
                       : ad::kernels::Strided<T>{a_store.data(), 1, a_store.rows()};
      const ad::kernels::Strided<T> b_view =
          b_transposed ? ad::kernels::Strided<T>{b_store.data(), b_store.rows(), 1}
                       : ad::kernels::Strided<T>{b_store.data(), 1, b_store.rows()};
      for (bool accumulate : {false, true}) {
        const Eigen::Index stride = m + 2;
        M c_store = M::Constant(stride, n, sentinel);
        const M c0 = ad::random_uniform<T>(m, n, rng, -1, 1);
        if (accumulate) c_store.topRows(m) = c0;
        ad::kernels::packed_product(c_store.data(), stride, m, n, a_view, b_view, p, accumulate);
        T worst = 0;
        for (Eigen::Index j = 0; j < n; ++j) {
          for (Eigen::Index i = 0; i < m; ++i) {
            long double exact = accumulate ? c0(i, j) : 0,
                        magnitude = accumulate ? std::abs(c0(i, j)) : 0;
            for (Eigen::Index q = 0; q < p; ++q) {
              exact += static_cast<long double>(a(i, q)) * b(q, j);
              magnitude += std::abs(static_cast<long double>(a(i, q)) * b(q, j));
            }
            const long double bound =
                static_cast<long double>(p + 1) * std::numeric_limits<T>::epsilon() * magnitude;
            const long double error = std::abs(c_store(i, j) - exact);
            if (error > bound) worst = std::max(worst, static_cast<T>(error / bound));
          }
        }
        BOOST_TEST(worst == T(0), m << "x" << p << " * " << p << "x" << n << " layout " << layout
                                    << (accumulate ? " accumulating" : "")
                                    << ": error over the bound by " << worst << "x");
        BOOST_TEST((c_store.bottomRows(2).array() == sentinel).all(),
                   "wrote outside C: " << m << "x" << n << " layout " << layout);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(packed_product_at_every_edge_of_its_blocks) {
  check_packed_product<double>();
  check_packed_product<float>();
}

// The first contribution to an adjoint in a sweep is assigned, later ones added: a matrix
// used as both factors (A A) and again elsewhere gets all three contributions.
BOOST_AUTO_TEST_CASE(matmul_adjoints_add_every_use_of_an_input) {
  const Mat A{{0.5, -1.0}, {2.0, 0.25}};
  ad::Tape<double> tape;
  auto a = tape.variable(A);
  tape.backward(sum(a * a) + sum(a));
  // d/dA Σ(A A) = 1 1ᵀ Aᵀ + Aᵀ 1 1ᵀ; d/dA Σ A = 1 1ᵀ
  const Mat ones = Mat::Ones(2, 2);
  const Mat expected = ones * A.transpose() + A.transpose() * ones + ones;
  BOOST_TEST((a.grad() - expected).cwiseAbs().maxCoeff() <= 1e-15);
}

BOOST_AUTO_TEST_CASE(matmul_of_same_shapes_suggests_hadamard) {
  ad::Tape<double> tape;
  auto a = tape.variable(Mat::Ones(2, 3));
  try {
    matmul(a, a);
    BOOST_ERROR("no ShapeError");
  } catch (const ad::ShapeError& e) {
    BOOST_TEST(contains(e, "hadamard"), e.what());
  }
}

BOOST_AUTO_TEST_CASE(add_op) {
  check_binary(
      "add", [](const auto& a, const auto& b) { return a + b; }, broadcast_shapes, {{2, 3}, {3, 2}},
      broadcast_why);
}

BOOST_AUTO_TEST_CASE(subtract_op) {
  check_binary(
      "subtract", [](const auto& a, const auto& b) { return a - b; }, broadcast_shapes,
      {{2, 3}, {2, 2}}, broadcast_why);
}

BOOST_AUTO_TEST_CASE(hadamard_op) {
  check_binary(
      "hadamard", [](const auto& a, const auto& b) { return hadamard(a, b); }, broadcast_shapes,
      {{4, 1}, {3, 1}}, broadcast_why);
}

BOOST_AUTO_TEST_CASE(broadcast_values_follow_numpy) {
  ad::Tape<double> tape;
  auto column = tape.constant(Mat{{1}, {2}});
  auto row = tape.constant(Mat{{10, 20, 30}});
  const Mat expected{{11, 21, 31}, {12, 22, 32}};
  BOOST_TEST(((column + row).value() - expected).isZero(0));
  BOOST_TEST(((row - column).value() - (Mat{{9, 19, 29}, {8, 18, 28}})).isZero(0));
  BOOST_TEST((hadamard(column, row).value() - (Mat{{10, 20, 30}, {20, 40, 60}})).isZero(0));
}

BOOST_AUTO_TEST_CASE(transpose_op) {
  check_unary("transpose", [](const auto& a) { return transpose(a); });
}

BOOST_AUTO_TEST_CASE(sigmoid_op) {
  check_unary("sigmoid", [](const auto& a) { return sigmoid(a); });
}

BOOST_AUTO_TEST_CASE(tanh_op) {
  check_unary("tanh", [](const auto& a) { return tanh(a); });
}

BOOST_AUTO_TEST_CASE(relu_op) {
  check_unary(
      "relu", [](const auto& a) { return relu(a); }, Domain::away_from_zero);
}

BOOST_AUTO_TEST_CASE(exp_op) {
  check_unary("exp", [](const auto& a) { return exp(a); });
}

BOOST_AUTO_TEST_CASE(log_op) {
  check_unary(
      "log", [](const auto& a) { return log(a); }, Domain::positive);
}

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
      const Mat x = draw(s, domain, rng);
      const Mat expected = x.unaryExpr(scalar);
      ad::Tape<double> tape;
      const Mat value = op(tape.variable(x)).value();
      BOOST_TEST(((value - expected).array().abs() <= 1e-15 * (1 + expected.array().abs())).all(),
                 name << " on " << s.rows << "x" << s.cols);
      auto used_twice = [&](const auto& a) { return hadamard(op(a), a); };
      check_gradients(name, used_twice, {x});
      ad_test::check_float_agrees(name, [&](auto v) { return apply(used_twice, v); }, {x});
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

BOOST_AUTO_TEST_CASE(sum_op) {
  check_unary("sum", [](const auto& a) { return sum(a); });
}

BOOST_AUTO_TEST_CASE(mean_op) {
  check_unary("mean", [](const auto& a) { return mean(a); });
  ad::Tape<double> tape;
  auto nothing = tape.variable(Mat(0, 3));
  try {
    mean(nothing);
    BOOST_ERROR("no ShapeError for the mean of a 0x3 matrix");
  } catch (const ad::ShapeError& e) {
    BOOST_TEST(contains(e, "mean: shape 0x3"), e.what());
  }
}

// Scaling, negation and shifting by a scalar are one op, affine: C = α A + β.
BOOST_AUTO_TEST_CASE(affine_op) {
  check_unary("affine", [](const auto& a) { return affine(a, -1.5, 0.25); });
  check_unary("affine", [](const auto& a) { return 2.5 * a; });
  check_unary("affine", [](const auto& a) { return a * 2.5; });
  check_unary("affine", [](const auto& a) { return -a; });
  check_unary("affine", [](const auto& a) { return a + 3.0; });
  check_unary("affine", [](const auto& a) { return 3.0 + a; });
  check_unary("affine", [](const auto& a) { return a - 3.0; });
  check_unary("affine", [](const auto& a) { return 3.0 - a; });
}

BOOST_AUTO_TEST_CASE(scalar_operators_compute_the_right_values) {
  ad::Tape<double> tape;
  const Mat A{{1, -2}, {3, 4}};
  auto a = tape.constant(A);
  BOOST_TEST(((2.0 * a).value() - 2 * A).isZero(0));
  BOOST_TEST(((a - 1.0).value() - (A.array() - 1).matrix()).isZero(0));
  BOOST_TEST(((1.0 - a).value() - (1 - A.array()).matrix()).isZero(0));
  BOOST_TEST(((-a).value() + A).isZero(0));
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
