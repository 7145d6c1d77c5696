#pragma once
// The matrix product for large operands, on packed panels (packed_product.cpp).

#include <Eigen/Core>

namespace ad::detail {

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

}  // namespace ad::detail
