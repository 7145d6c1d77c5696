// Elementwise binary ops with NumPy-style 2-D broadcasting. "reduce" sums an adjoint back
// over the dimensions that were stretched (detail::add_reduced).

#include "support.hpp"

namespace ad {
namespace {

template <class T>
struct Add {
  static constexpr OpInfo info{.name = "add",
                               .also = "`a + b`",
                               .value = "C = A + B, broadcasting",
                               .adjoint = "Ā += reduce(C̄) ; B̄ += reduce(C̄)",
                               .domain = "total"};
  static void value(const Rule<T>& r) {
    detail::broadcast_into(r, [](const auto& a, const auto& b) { return a + b; });
  }
  static void adjoint(const Rule<T>& r) {
    if (r.wants(0)) detail::add_reduced(r, 0, r.ybar());
    if (r.wants(1)) detail::add_reduced(r, 1, r.ybar());
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int i) { return reduce(s.ybar(), s.x(i).shape()); }
};

template <class T>
struct Subtract {
  static constexpr OpInfo info{.name = "subtract",
                               .also = "`a - b`",
                               .value = "C = A − B, broadcasting",
                               .adjoint = "Ā += reduce(C̄) ; B̄ −= reduce(C̄)",
                               .domain = "total"};
  static void value(const Rule<T>& r) {
    detail::broadcast_into(r, [](const auto& a, const auto& b) { return a - b; });
  }
  static void adjoint(const Rule<T>& r) {
    if (r.wants(0)) detail::add_reduced(r, 0, r.ybar());
    if (r.wants(1)) detail::add_reduced(r, 1, -r.ybar());
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int i) {
    const Expr<T> part = reduce(s.ybar(), s.x(i).shape());
    return i == 0 ? part : -part;
  }
};

template <class T>
struct Hadamard {
  static constexpr OpInfo info{.name = "hadamard",
                               .value = "C = A ⊙ B, broadcasting",
                               .adjoint = "Ā += reduce(C̄ ⊙ B) ; B̄ += reduce(C̄ ⊙ A)",
                               .domain = "total"};
  static void value(const Rule<T>& r) {
    detail::broadcast_into(r, [](const auto& a, const auto& b) { return a * b; });
  }
  static void adjoint(const Rule<T>& r) {
    auto cbar = r.ybar().array();
    for (int i : {0, 1}) {
      if (!r.wants(i)) continue;
      detail::with_expanded(r.x(1 - i), cbar.rows(), cbar.cols(),
                            [&](const auto& other) { detail::add_reduced(r, i, cbar * other); });
    }
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int i) {
    const Expr<T>& cbar = s.ybar();
    return reduce(hadamard(cbar, stretch(s.x(1 - i), cbar.shape())), s.x(i).shape());
  }
};

}  // namespace

template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b, std::source_location where) {
  return detail::broadcasting<Add<T>>("add", a, b, where);
}

template <class T>
Var<T> subtract(const Var<T>& a, const Var<T>& b, std::source_location where) {
  return detail::broadcasting<Subtract<T>>("subtract", a, b, where);
}

template <class T>
Var<T> hadamard(const Var<T>& a, const Var<T>& b, std::source_location where) {
  return detail::broadcasting<Hadamard<T>>("hadamard", a, b, where);
}

#define AD_BROADCAST(T)                                                         \
  template Var<T> add(const Var<T>&, const Var<T>&, std::source_location);      \
  template Var<T> subtract(const Var<T>&, const Var<T>&, std::source_location); \
  template Var<T> hadamard(const Var<T>&, const Var<T>&, std::source_location);
AD_INSTANTIATE_OPS(AD_BROADCAST)
#undef AD_BROADCAST

#ifndef AD_DUAL_INSTANCES
namespace detail {
std::span<const OpInfo> broadcast_ops() {
  static constexpr OpInfo rows[] = {Add<double>::info, Subtract<double>::info,
                                    Hadamard<double>::info};
  return rows;
}
}  // namespace detail
#endif

}  // namespace ad
