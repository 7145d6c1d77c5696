// The matrix product for operands of a few elements (the seeds' 2x2 networks). This file is
// compiled without auto-vectorisation (see CMakeLists.txt): at these sizes the vectorised
// loop's run-time checks for aliasing, stride and trip count cost more than the
// multiply-adds themselves.

#include <ad/kernels/product.hpp>

#include <utility>

namespace ad::kernels {

namespace {

// The loops of small_product. Inlined into the fixed-size kernels: GCC kept some of them as
// calls to the run-time loops (a transposed A of 2x2), which cost twice the kernel.
template <class T>
[[gnu::always_inline]] inline void product_loops(T* c, Eigen::Index rows, Eigen::Index cols,
                                                 const Strided<T>& a, const Strided<T>& b,
                                                 Eigen::Index inner, bool accumulate) {
  for (Eigen::Index j = 0; j < cols; ++j) {
    for (Eigen::Index i = 0; i < rows; ++i) {
      T sum = accumulate ? c[i + j * rows] : T(0);
      for (Eigen::Index k = 0; k < inner; ++k) sum += a(i, k) * b(k, j);
      c[i + j * rows] = sum;
    }
  }
}

// small_product with the sizes and the layout known at compile time: the compiler unrolls the
// loops completely and every index is a constant. A is Rows x Inner, B is Inner x Cols, each
// stored column by column, or as its transpose.
template <class T, int Rows, int Inner, int Cols, bool TransposeA, bool TransposeB>
void fixed(T* c, const T* a, const T* b, bool accumulate) {
  const Strided<T> a_view{a, TransposeA ? Inner : 1, TransposeA ? 1 : Rows};
  const Strided<T> b_view{b, TransposeB ? Cols : 1, TransposeB ? 1 : Inner};
  product_loops(c, Rows, Cols, a_view, b_view, Inner, accumulate);
}

template <class T, bool TransposeA, bool TransposeB, std::size_t... I>
constexpr auto make_table(std::index_sequence<I...>) {
  constexpr int n = small_limit;
  return std::array<SmallKernel<T>, sizeof...(I)>{
      &fixed<T, int(I) / (n * n) + 1, int(I) / n % n + 1, int(I) % n + 1, TransposeA,
             TransposeB>...};
}

}  // namespace

template <class T>
void small_product(T* c, Eigen::Index rows, Eigen::Index cols, const Strided<T>& a,
                   const Strided<T>& b, Eigen::Index inner, bool accumulate) {
  product_loops(c, rows, cols, a, b, inner, accumulate);
}

template <class T, bool TransposeA, bool TransposeB>
const std::array<SmallKernel<T>, small_limit * small_limit * small_limit>
    SmallKernels<T, TransposeA, TransposeB>::table = make_table<T, TransposeA, TransposeB>(
        std::make_index_sequence<small_limit * small_limit * small_limit>());

template struct SmallKernels<float, false, false>;
template struct SmallKernels<float, false, true>;
template struct SmallKernels<float, true, false>;
template struct SmallKernels<float, true, true>;
template struct SmallKernels<double, false, false>;
template struct SmallKernels<double, false, true>;
template struct SmallKernels<double, true, false>;
template struct SmallKernels<double, true, true>;
template void small_product(float*, Eigen::Index, Eigen::Index, const Strided<float>&,
                            const Strided<float>&, Eigen::Index, bool);
template void small_product(double*, Eigen::Index, Eigen::Index, const Strided<double>&,
                            const Strided<double>&, Eigen::Index, bool);

}  // namespace ad::kernels
