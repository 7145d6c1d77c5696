// Reductions of a matrix to 1x1.

#include "support.hpp"

namespace ad {
namespace {

template <class T>
struct Sum {
  static constexpr OpInfo info{
      .name = "sum", .value = "c = Σᵢⱼ Aᵢⱼ", .adjoint = "Ā += c̄ 𝟙𝟙ᵀ", .domain = "total"};
  static void value(const Rule<T>& r) { r.y()(0, 0) = r.x(0).sum(); }
  static void adjoint(const Rule<T>& r) {
    r.accumulate(0, Matrix<T>::Constant(r.x(0).rows(), r.x(0).cols(), r.ybar()(0, 0)));
  }
  // 𝟙 c̄ 𝟙ᵀ
  static Expr<T> symbolic(const Symbolic<T>& s, int) { return stretch(s.ybar(), s.x(0).shape()); }
};

template <class T>
struct Mean {
  static constexpr OpInfo info{.name = "mean",
                               .value = "c = Σᵢⱼ Aᵢⱼ / (m n)",
                               .adjoint = "Ā += c̄ 𝟙𝟙ᵀ / (m n)",
                               .domain = "ShapeError for an empty A"};
  static void value(const Rule<T>& r) { r.y()(0, 0) = r.x(0).mean(); }
  static void adjoint(const Rule<T>& r) {
    const T share = r.ybar()(0, 0) / static_cast<T>(r.x(0).size());
    r.accumulate(0, Matrix<T>::Constant(r.x(0).rows(), r.x(0).cols(), share));
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    const Shape a = s.x(0).shape();
    return (T(1) / static_cast<T>(a.rows * a.cols)) * stretch(s.ybar(), a);
  }
};

}  // namespace

template <class T>
Var<T> sum(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("sum", where, a);
  return detail::record<Sum<T>>(tape, "sum", {a}, {1, 1}, where);
}

template <class T>
Var<T> mean(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("mean", where, a);
  if (a.rows() == 0 || a.cols() == 0) {
    throw ShapeError("mean", a.shape(), "the mean of an empty matrix is undefined", where);
  }
  return detail::record<Mean<T>>(tape, "mean", {a}, {1, 1}, where);
}

#define AD_REDUCE(T)                                        \
  template Var<T> sum(const Var<T>&, std::source_location); \
  template Var<T> mean(const Var<T>&, std::source_location);
AD_INSTANTIATE_OPS(AD_REDUCE)
#undef AD_REDUCE

#ifndef AD_DUAL_INSTANCES
namespace detail {
std::span<const OpInfo> reduce_ops() {
  static constexpr OpInfo rows[] = {Sum<double>::info, Mean<double>::info};
  return rows;
}
}  // namespace detail
#endif

}  // namespace ad
