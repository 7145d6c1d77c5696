#pragma once
// The engine's matrix product kernels: what matmul and every product in an adjoint rule run.
//
// An internal header: the ops reach it through src/ops/support.hpp, and tests and benchmarks
// of the kernels themselves through the CMake target ad::kernels_internal. It is part of no
// public API and is installed nowhere.
//
//   product()         the dispatch: tiny operands to fixed-size kernels (small_product.cpp),
//                     small ones to scalar loops, large ones to the packed kernel
//                     (packed_product.cpp) where it is the faster, else to Eigen
//   packed_product()  C = A B on packed panels, Goto/van de Geijn blocking

#include <ad/config.hpp>
#include <ad/dual.hpp>

#include <array>
#include <cstddef>

namespace ad::kernels {

template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

// A read-only view of an operand: element (i, j) is data[i·row_step + j·col_step], so a
// transposed view is the same data with the steps swapped.
template <class T>
struct Strided {
  const T* data;
  Eigen::Index row_step;
  Eigen::Index col_step;
  T operator()(Eigen::Index i, Eigen::Index j) const { return data[i * row_step + j * col_step]; }
  // The view whose element (0, 0) is this one's (i, j).
  Strided from(Eigen::Index i, Eigen::Index j) const {
    return {data + i * row_step + j * col_step, row_step, col_step};
  }
};

// The block sizes of packed_product<T>: its kernel updates a tile of `rows` x `cols` of C
// from `depth` steps of the inner dimension at a time; blocks of `block_rows` rows of A and
// `block_cols` columns of B are packed at once.
struct PackedBlocking {
  Eigen::Index rows;
  Eigen::Index cols;
  Eigen::Index depth;
  Eigen::Index block_rows;
  Eigen::Index block_cols;
};
template <class T>
PackedBlocking packed_blocking();

// C = A B, or C += A B when accumulate: C is rows x cols with columns `c_stride` apart, A is
// rows x inner, B is inner x cols. Each dimension at least 1.
template <class T>
void packed_product(T* c, Eigen::Index c_stride, Eigen::Index rows, Eigen::Index cols,
                    const Strided<T>& a, const Strided<T>& b, Eigen::Index inner, bool accumulate);

// Whether product() sends large products here: on AVX-512, where the kernel's tile takes 24 of
// the 32 vector registers and measured 25 % faster than Eigen's GEMM (whose tile takes 12) and
// level with OpenBLAS (benchmarks/RESULTS.md). With AVX2 or SSE (16 registers) Eigen's kernel
// measured as fast, other CPUs are unmeasured, and with AD_BLAS the BLAS library is what was
// asked for: those go through Eigen, as does everything with AD_PACKED_PRODUCTS=OFF.
#if defined(EIGEN_VECTORIZE_AVX512) && !defined(EIGEN_USE_BLAS) && !defined(AD_NO_PACKED_PRODUCTS)
inline constexpr bool packed_products = true;
#else
inline constexpr bool packed_products = false;
#endif

template <class T>
Strided<T> strided(const Eigen::Map<const Matrix<T>>& m) {
  return {m.data(), 1, m.outerStride()};
}
template <class T>
Strided<T> strided(const Eigen::Transpose<Eigen::Map<const Matrix<T>>>& m) {
  return {m.nestedExpression().data(), m.nestedExpression().outerStride(), 1};
}
// Whether an operand is a transposed view.
template <class X>
constexpr bool is_transposed = false;
template <class X>
constexpr bool is_transposed<Eigen::Transpose<X>> = true;

// Products of tiny operands (small_product.cpp): C = A B, or C += A B when accumulate, with
// C, A and B contiguous (A and B stored transposed when TransposeA, TransposeB).
// SmallKernels<T, TransposeA, TransposeB>::table[((rows − 1)·4 + inner − 1)·4 + cols − 1]
// has the three sizes, each at most small_limit, and so every index fixed at compile time:
// the kernel takes four arguments in registers. small_product takes any sizes and steps.
constexpr int small_limit = 4;
template <class T>
using SmallKernel = void (*)(T* c, const T* a, const T* b, bool accumulate);
template <class T, bool TransposeA, bool TransposeB>
struct SmallKernels {
  static const std::array<SmallKernel<T>, small_limit * small_limit * small_limit> table;
};
// Defined and instantiated in small_product.cpp.
extern template struct SmallKernels<float, false, false>;
extern template struct SmallKernels<float, false, true>;
extern template struct SmallKernels<float, true, false>;
extern template struct SmallKernels<float, true, true>;
extern template struct SmallKernels<double, false, false>;
extern template struct SmallKernels<double, false, true>;
extern template struct SmallKernels<double, true, false>;
extern template struct SmallKernels<double, true, true>;
template <class T>
void small_product(T* c, Eigen::Index rows, Eigen::Index cols, const Strided<T>& a,
                   const Strided<T>& b, Eigen::Index inner, bool accumulate);

// C = A B or C += A B through Eigen: its GEMM, its GEMV when C is a vector, or the BLAS library
// with AD_BLAS. Not inlined: its packing buffers make a large stack frame, which the small
// products should not pay for on every call.
template <class T, class A, class B>
[[gnu::noinline]] void eigen_product(Eigen::Map<Matrix<T>> c, const A& a, const B& b,
                                     bool accumulate) {
  if (accumulate) {
    c.noalias() += a * b;
  } else {
    c.noalias() = a * b;
  }
}

// C = A B, or C += A B when accumulate. Products as small as the seeds' 2x2 networks go to
// scalar loops, which cost a fraction of Eigen's run-time dispatch for dynamic sizes (built
// for GEMM); larger ones to the packed kernel where it is the faster (packed_products), else
// to Eigen. A and B may be transposed views. Inlined into its callers: the dispatch is a few
// comparisons, and its call in front of the tiny kernel's took 5 % of the seed network's
// gradient.
template <class T, class A, class B>
[[gnu::always_inline]] inline void product(Eigen::Map<Matrix<T>> c, const A& a, const B& b,
                                           bool accumulate) {
  const Eigen::Index rows = c.rows(), inner = a.cols(), cols = c.cols();
  // Sizes in [1, small_limit], tested as unsigned so that 0 wraps out of range.
  auto fits = [](Eigen::Index n) { return std::size_t(n - 1) < std::size_t(small_limit); };
  if (fits(rows) && fits(inner) && fits(cols)) {
    const auto k = std::size_t(((rows - 1) * small_limit + inner - 1) * small_limit + cols - 1);
    SmallKernels<T, is_transposed<A>, is_transposed<B>>::table[k](c.data(), strided<T>(a).data,
                                                                  strided<T>(b).data, accumulate);
  } else if (rows * inner * cols <= 8 * 8 * 8) {
    small_product(c.data(), rows, cols, strided<T>(a), strided<T>(b), inner, accumulate);
  } else if (packed_products && rows > 1 && cols > 1) {
    packed_product(c.data(), rows, rows, cols, strided<T>(a), strided<T>(b), inner, accumulate);
  } else {
    eigen_product(c, a, b, accumulate);
  }
}

// c = A b, or c += A b, for one column b, on dual numbers, in one pass over A that reads each
// element's value and tangent together: splitting A into two real matrices, as products with
// many columns do, costs more than a matrix-vector product itself. cᵥ = Aᵥ bᵥ,
// cₜ = Aₜ bᵥ + Aᵥ bₜ.
template <class T, class A, class B>
void dual_matrix_vector(Eigen::Map<Matrix<Dual<T>>> c, const A& a, const B& b, bool accumulate) {
  const Eigen::Index rows = c.rows(), inner = a.cols();
  if constexpr (A::IsRowMajor) {
    // A transposed view: each row of A lies along memory, so each element of c is a dot
    // product.
    for (Eigen::Index i = 0; i < rows; ++i) {
      T value = 0, tangent = 0;
      for (Eigen::Index k = 0; k < inner; ++k) {
        const Dual<T>& x = a(i, k);
        const Dual<T>& y = b(k, 0);
        value += x.value * y.value;
        tangent += x.tangent * y.value + x.value * y.tangent;
      }
      c(i, 0) = accumulate ? c(i, 0) + Dual<T>(value, tangent) : Dual<T>(value, tangent);
    }
  } else {
    // Column by column: c += A(:, k) b(k), down the columns of A as they lie in memory.
    if (!accumulate) c.setZero();
    for (Eigen::Index k = 0; k < inner; ++k) {
      const Dual<T>& y = b(k, 0);
      for (Eigen::Index i = 0; i < rows; ++i) {
        const Dual<T>& x = a(i, k);
        c(i, 0).value += x.value * y.value;
        c(i, 0).tangent += x.tangent * y.value + x.value * y.tangent;
      }
    }
  }
}

// C = A B, or C += A B, on dual numbers (the second-order tape): the value part and the
// tangent part as three real products, Cᵥ = Aᵥ Bᵥ and Cₜ = Aₜ Bᵥ + Aᵥ Bₜ, each by the
// kernels above; Eigen's GEMM on a scalar type of its own runs unvectorised. A term whose
// tangent is zero (a constant operand: the data) is left out. Operands up to 8x8x8 are
// multiplied directly, as splitting them costs more than it saves, and so is a matrix times
// one column.
template <class T, class A, class B>
void product(Eigen::Map<Matrix<Dual<T>>> c, const A& a, const B& b, bool accumulate) {
  const Eigen::Index rows = c.rows(), inner = a.cols(), cols = c.cols();
  if (cols == 1 && rows * inner > 8 * 8 * 8) {
    dual_matrix_vector(c, a, b, accumulate);
    return;
  }
  if (rows * inner * cols <= 8 * 8 * 8) {
    for (Eigen::Index j = 0; j < cols; ++j) {
      for (Eigen::Index i = 0; i < rows; ++i) {
        Dual<T> sum = accumulate ? c(i, j) : Dual<T>(0);
        for (Eigen::Index k = 0; k < inner; ++k) sum += a(i, k) * b(k, j);
        c(i, j) = sum;
      }
    }
    return;
  }
  auto value = [](const Dual<T>& x) { return x.value; };
  auto tangent = [](const Dual<T>& x) { return x.tangent; };
  const Matrix<T> av = a.unaryExpr(value), at = a.unaryExpr(tangent);
  const Matrix<T> bv = b.unaryExpr(value), bt = b.unaryExpr(tangent);
  Matrix<T> cv(rows, cols), ct(rows, cols);
  using Map = Eigen::Map<Matrix<T>>;
  using ConstMap = Eigen::Map<const Matrix<T>>;
  product(Map(cv.data(), rows, cols), ConstMap(av.data(), rows, inner),
          ConstMap(bv.data(), inner, cols), false);
  const bool a_varies = !(at.array() == T(0)).all(), b_varies = !(bt.array() == T(0)).all();
  if (a_varies) {
    product(Map(ct.data(), rows, cols), ConstMap(at.data(), rows, inner),
            ConstMap(bv.data(), inner, cols), false);
  }
  if (b_varies) {
    product(Map(ct.data(), rows, cols), ConstMap(av.data(), rows, inner),
            ConstMap(bt.data(), inner, cols), a_varies);
  }
  if (!a_varies && !b_varies) ct.setZero();
  for (Eigen::Index j = 0; j < cols; ++j) {
    for (Eigen::Index i = 0; i < rows; ++i) {
      const Dual<T> cij(cv(i, j), ct(i, j));
      c(i, j) = accumulate ? c(i, j) + cij : cij;
    }
  }
}

}  // namespace ad::kernels
