// Linear algebra ops: matrix product, transpose, scaling and shifting by a scalar.

#include "support.hpp"

namespace ad {
namespace {

template <class T>
struct Matmul {
  static constexpr OpInfo info{.name = "matmul",
                               .also = "`a * b`",
                               .value = "C = A B",
                               .adjoint = "Ā += C̄ Bᵀ ; B̄ += Aᵀ C̄",
                               .domain = "total"};
  static void value(const Rule<T>& r) { kernels::product(r.y(), r.x(0), r.x(1), false); }
  static void adjoint(const Rule<T>& r) {
    if (r.wants(0)) detail::add_product(r, 0, r.ybar(), r.x(1).transpose());
    if (r.wants(1)) detail::add_product(r, 1, r.x(0).transpose(), r.ybar());
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int i) {
    return i == 0 ? s.ybar() * transpose(s.x(1)) : transpose(s.x(0)) * s.ybar();
  }
};

template <class T>
struct Transpose {
  static constexpr OpInfo info{
      .name = "transpose", .value = "C = Aᵀ", .adjoint = "Ā += C̄ᵀ", .domain = "total"};
  static void value(const Rule<T>& r) { r.y() = r.x(0).transpose(); }
  static void adjoint(const Rule<T>& r) { r.accumulate(0, r.ybar().transpose()); }
  static Expr<T> symbolic(const Symbolic<T>& s, int) { return transpose(s.ybar()); }
};

template <class T>
struct Affine {
  static constexpr OpInfo info{.name = "affine",
                               .also = "`s * a`, `a + s`, `a - s`, `-a`, `a / s`",
                               .value = "C = α A + β",
                               .adjoint = "Ā += α C̄",
                               .domain = "total (`a / 0.0` scales by ±Inf: IEEE)"};
  struct Saved {
    T alpha, beta;
  };
  static void value(const Rule<T, Saved>& r) {
    const auto [alpha, beta] = r.saved();
    r.y().array() = alpha * r.x(0).array() + beta;
  }
  static void adjoint(const Rule<T, Saved>& r) { r.accumulate(0, r.saved().alpha * r.ybar()); }
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) { return s.saved().alpha * s.ybar(); }
};

}  // namespace

template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b, std::source_location where) {
  Tape<T>& tape = detail::tape_of("matmul", where, a, b);
  const Shape sa = detail::shape_of(tape, a), sb = detail::shape_of(tape, b);
  if (sa.cols != sb.rows) {
    std::string why = fmt::format("A has {} columns but B has {} rows", sa.cols, sb.rows);
    if (sa == sb) why += "; for the elementwise product use hadamard(a, b)";
    throw ShapeError("matmul", sa, sb, why, where);
  }
  return detail::record<Matmul<T>>(tape, "matmul", {a, b}, {sa.rows, sb.cols}, where);
}

template <class T>
Var<T> transpose(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("transpose", where, a);
  const Shape sa = detail::shape_of(tape, a);
  return detail::record<Transpose<T>>(tape, "transpose", {a}, {sa.cols, sa.rows}, where);
}

template <class T>
Var<T> affine(const Var<T>& a, std::type_identity_t<T> alpha, std::type_identity_t<T> beta,
              std::source_location where) {
  Tape<T>& tape = detail::tape_of("affine", where, a);
  return detail::record<Affine<T>>(tape, "affine", {a}, detail::shape_of(tape, a), where,
                                   typename Affine<T>::Saved{alpha, beta});
}

#define AD_LINEAR(T)                                                          \
  template Var<T> matmul(const Var<T>&, const Var<T>&, std::source_location); \
  template Var<T> transpose(const Var<T>&, std::source_location);             \
  template Var<T> affine(const Var<T>&, T, T, std::source_location);
AD_INSTANTIATE_OPS(AD_LINEAR)
#undef AD_LINEAR

#ifndef AD_DUAL_INSTANCES
namespace detail {
std::span<const OpInfo> linear_ops() {
  static constexpr OpInfo rows[] = {Matmul<double>::info, Transpose<double>::info,
                                    Affine<double>::info};
  return rows;
}
}  // namespace detail
#endif

}  // namespace ad
