// Elementwise functions of one matrix.

#include "elementwise.hpp"

namespace ad {
namespace {

template <class T>
struct Sigmoid : detail::Elementwise<Sigmoid<T>, T> {
  static constexpr OpInfo info{.name = "sigmoid",
                               .value = "C = σ(A) = 1 / (1 + e^−A)",
                               .adjoint = "Ā += C̄ ⊙ C ⊙ (1 − C)",
                               .domain = "total"};
  static auto value_of(const auto& a) {
    using std::exp;
    return T(1) / (T(1) + exp(-a));
  }
  static auto adjoint_of(const auto&, const auto& c, const auto& cbar) {
    return cbar * c * (T(1) - c);
  }
  // σ'(A) = C ⊙ (1 − C)
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    return hadamard(s.ybar(), derivative("σ'", s.x(0), hadamard(s.y(), affine(s.y(), -1, 1))));
  }
};

template <class T>
struct Tanh : detail::Elementwise<Tanh<T>, T> {
  static constexpr OpInfo info{
      .name = "tanh", .value = "C = tanh A", .adjoint = "Ā += C̄ ⊙ (1 − C ⊙ C)", .domain = "total"};
  static auto value_of(const auto& a) {
    using std::tanh;
    return tanh(a);
  }
  static auto adjoint_of(const auto&, const auto& c, const auto& cbar) {
    return cbar * (T(1) - c * c);
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    return hadamard(s.ybar(), derivative("tanh'", s.x(0), affine(hadamard(s.y(), s.y()), -1, 1)));
  }
};

template <class T>
struct Relu : detail::Elementwise<Relu<T>, T> {
  static constexpr OpInfo info{.name = "relu",
                               .value = "C = max(A, 0)",
                               .adjoint = "Ā += C̄ ⊙ [A > 0]",
                               .domain = "total; subgradient 0 at 0"};
  static T value_of(T a) { return a > T(0) ? a : T(0); }
  static auto value_of(const auto& a) { return a.max(T(0)); }
  static auto adjoint_of(const auto& a, const auto&, const auto& cbar) {
    return (a > T(0)).select(cbar, T(0));
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    return hadamard(s.ybar(), map_elements<T>("[{} > 0]", s.x(0), [](T a) { return T(a > T(0)); }));
  }
};

template <class T>
struct Exp : detail::Elementwise<Exp<T>, T> {
  static constexpr OpInfo info{.name = "exp",
                               .value = "C = e^A",
                               .adjoint = "Ā += C̄ ⊙ C",
                               .domain = "IEEE (overflow to Inf above ~709 in double)"};
  static auto value_of(const auto& a) {
    using std::exp;
    return exp(a);
  }
  static auto adjoint_of(const auto&, const auto& c, const auto& cbar) { return cbar * c; }
  static Expr<T> symbolic(const Symbolic<T>& s, int) { return hadamard(s.ybar(), s.y()); }
};

template <class T>
struct Log : detail::Elementwise<Log<T>, T> {
  static constexpr OpInfo info{.name = "log",
                               .value = "C = ln A",
                               .adjoint = "Ā += C̄ ⊘ A",
                               .domain = "IEEE (ln 0 = −Inf, ln of a negative is NaN)"};
  static auto value_of(const auto& a) {
    using std::log;
    return log(a);
  }
  static auto adjoint_of(const auto& a, const auto&, const auto& cbar) { return cbar / a; }
  static Expr<T> symbolic(const Symbolic<T>& s, int) { return quotient(s.ybar(), s.x(0)); }
};

}  // namespace

template <class T>
Var<T> sigmoid(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Sigmoid<T>>("sigmoid", a, where);
}

template <class T>
Var<T> tanh(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Tanh<T>>("tanh", a, where);
}

template <class T>
Var<T> relu(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Relu<T>>("relu", a, where);
}

template <class T>
Var<T> exp(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Exp<T>>("exp", a, where);
}

template <class T>
Var<T> log(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Log<T>>("log", a, where);
}

#define AD_ELEMENTWISE(T)                                       \
  template Var<T> sigmoid(const Var<T>&, std::source_location); \
  template Var<T> tanh(const Var<T>&, std::source_location);    \
  template Var<T> relu(const Var<T>&, std::source_location);    \
  template Var<T> exp(const Var<T>&, std::source_location);     \
  template Var<T> log(const Var<T>&, std::source_location);
AD_INSTANTIATE_OPS(AD_ELEMENTWISE)
#undef AD_ELEMENTWISE

#ifndef AD_DUAL_INSTANCES
namespace detail {
std::span<const OpInfo> elementwise_ops() {
  static constexpr OpInfo rows[] = {Sigmoid<double>::info, Tanh<double>::info, Relu<double>::info,
                                    Exp<double>::info, Log<double>::info};
  return rows;
}
}  // namespace detail
#endif

}  // namespace ad
