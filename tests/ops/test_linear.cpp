// The linear ops (matmul, transpose, affine): the catalog's gradient checks, the product
// kernels on every small shape and at every edge of the packed kernel's blocks, adjoints
// that accumulate, values, and the errors for inputs that do not fit.

#define BOOST_TEST_MODULE ops_linear
#include "op_checks.hpp"

#include <ad/kernels/product.hpp>

#include <array>
#include <cmath>
#include <limits>

using ad_test::Mat;

namespace {
const std::string here = "test_linear.cpp";
}  // namespace

// The family's catalog cases, one test case each (catalog/<op>_<k>).
[[maybe_unused]] const bool catalog_registered = ad_test::register_catalog(ad_test::Family::linear);

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
        ad_test::check_gradient("matmul", [](auto x) { return x[0] * x[1]; }, {A, B});
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
  ad_test::check_error([&] { matmul(a, a); }, {"hadamard"});
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

// A shape error names the op, both shapes, why, and the caller's line in this file.
BOOST_AUTO_TEST_CASE(shape_errors_name_the_op_the_shapes_and_why) {
  ad::Tape<double> tape;
  const auto m22 = tape.variable(Mat::Ones(2, 2));
  const auto m12 = tape.variable(Mat::Ones(1, 2));
  ad_test::check_error(
      [&] { m22* m12; },
      {"matmul:", "2x2", "1x2", "A has 2 columns but B has 1 rows", "(at " + here + ":"});
}

BOOST_AUTO_TEST_CASE(invalid_inputs_name_the_op) {
  using ad_test::check_invalid_inputs;
  check_invalid_inputs(
      "matmul", [](const auto& a, const auto& b) { return a * b; }, here);
  check_invalid_inputs(
      "transpose", [](const auto& a) { return transpose(a); }, here);
  check_invalid_inputs(
      "affine", [](const auto& a) { return affine(a, -1.5, 0.25); }, here);
  check_invalid_inputs(
      "affine", [](const auto& a) { return 2.5 * a; }, here);
  check_invalid_inputs(
      "affine", [](const auto& a) { return a * 2.5; }, here);
  check_invalid_inputs(
      "affine", [](const auto& a) { return -a; }, here);
  check_invalid_inputs(
      "affine", [](const auto& a) { return a + 3.0; }, here);
  check_invalid_inputs(
      "affine", [](const auto& a) { return 3.0 + a; }, here);
  check_invalid_inputs(
      "affine", [](const auto& a) { return a - 3.0; }, here);
  check_invalid_inputs(
      "affine", [](const auto& a) { return 3.0 - a; }, here);
}
