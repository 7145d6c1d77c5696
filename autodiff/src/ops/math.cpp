// Elementwise functions, part two: division, powers, roots, absolute value and the stable
// log-sigmoid family. Out-of-domain input gives the IEEE result; a tape with
// check_finite(true) reports it as ad::NumericError.

#include "elementwise.hpp"

#include <algorithm>
#include <cmath>

namespace ad {
namespace {

template <class T>
struct Divide {
  static constexpr OpInfo info{.name = "divide",
                               .also = "`a / b`",
                               .value = "C = A ⊘ B, broadcasting",
                               .adjoint = "Ā += reduce(C̄ ⊘ B) ; B̄ −= reduce(C̄ ⊙ C ⊘ B)",
                               .domain = "IEEE (B = 0 gives ±Inf or NaN)"};
  static void value(const Rule<T>& r) {
    detail::broadcast_into(r, [](const auto& a, const auto& b) { return a / b; });
  }
  static void adjoint(const Rule<T>& r) {
    auto cbar = r.ybar().array();
    auto c = r.y().array();
    detail::with_expanded(r.x(1), cbar.rows(), cbar.cols(), [&](const auto& b) {
      if (r.wants(0)) detail::add_reduced(r, 0, cbar / b);
      if (r.wants(1)) detail::add_reduced(r, 1, -(cbar * c / b));
    });
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int i) {
    const Expr<T>& cbar = s.ybar();
    const Expr<T> b = stretch(s.x(1), cbar.shape());
    if (i == 0) return reduce(quotient(cbar, b), s.x(0).shape());
    return -reduce(quotient(hadamard(cbar, s.y()), b), s.x(1).shape());
  }
};

template <class T>
struct Pow : detail::Elementwise<Pow<T>, T> {
  static constexpr OpInfo info{.name = "pow",
                               .also = "scalar p; `s / a` is `s · a^−1`",
                               .value = "C = A^p",
                               .adjoint = "Ā += C̄ ⊙ p A^(p−1) (nothing for p = 0)",
                               .domain =
                                   "IEEE (a negative base with a fractional p is NaN; 0 with p < 1 "
                                   "has an infinite adjoint)"};
  struct Saved {
    T p;
  };
  static auto value_of(const auto& a, const Saved& s) {
    using std::pow;
    return pow(a, s.p);
  }
  // For p = 0 the exponent p − 1 is replaced by 0: 0 · A^0 is 0 for every A (IEEE's pow(x,
  // 0) is 1), where 0 · A^−1 would be NaN at A = 0.
  static auto adjoint_of(const auto& a, const auto&, const auto& cbar, const Saved& s) {
    return cbar * s.p * a.pow(s.p == T(0) ? T(0) : s.p - T(1));
  }
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    const T p = s.saved().p;
    if (p == T(0)) return {};
    return hadamard(s.ybar(), p * map_elements<T>(fmt::format("{{}}^{:g}", p - T(1)), s.x(0),
                                                  [p](T a) { return std::pow(a, p - T(1)); }));
  }
};

template <class T>
struct Sqrt : detail::Elementwise<Sqrt<T>, T> {
  static constexpr OpInfo info{.name = "sqrt",
                               .value = "C = √A",
                               .adjoint = "Ā += C̄ ⊘ (2 C)",
                               .domain = "IEEE (√ of a negative is NaN; the adjoint at 0 is Inf)"};
  static auto value_of(const auto& a) {
    using std::sqrt;
    return sqrt(a);
  }
  static auto adjoint_of(const auto&, const auto& c, const auto& cbar) { return cbar / (T(2) * c); }
  static Expr<T> symbolic(const Symbolic<T>& s, int) { return quotient(s.ybar(), T(2) * s.y()); }
};

template <class T>
struct Log1p : detail::Elementwise<Log1p<T>, T> {
  static constexpr OpInfo info{
      .name = "log1p",
      .value = "C = ln(1 + A)",
      .adjoint = "Ā += C̄ ⊘ (1 + A)",
      .domain = "IEEE (−Inf at A = −1, NaN below); exact near 0, where ln(1 + A) loses digits"};
  static auto value_of(const auto& a) {
    using std::log1p;
    return log1p(a);
  }
  static auto adjoint_of(const auto& a, const auto&, const auto& cbar) { return cbar / (T(1) + a); }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    return quotient(s.ybar(), affine(s.x(0), 1, 1));
  }
};

template <class T>
struct Abs : detail::Elementwise<Abs<T>, T> {
  static constexpr OpInfo info{.name = "abs",
                               .value = "C = |A|",
                               .adjoint = "Ā += C̄ ⊙ sign(A)",
                               .domain = "total; subgradient 0 at 0"};
  static auto value_of(const auto& a) {
    using std::abs;
    return abs(a);
  }
  static auto adjoint_of(const auto& a, const auto&, const auto& cbar) { return cbar * a.sign(); }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    return hadamard(s.ybar(), map_elements<T>("sign({})", s.x(0),
                                              [](T a) { return T(a > T(0)) - T(a < T(0)); }));
  }
};

template <class T>
struct Square : detail::Elementwise<Square<T>, T> {
  static constexpr OpInfo info{
      .name = "square", .value = "C = A ⊙ A", .adjoint = "Ā += 2 C̄ ⊙ A", .domain = "total"};
  static auto value_of(const auto& a) { return a * a; }
  static auto adjoint_of(const auto& a, const auto&, const auto& cbar) { return T(2) * cbar * a; }
  static Expr<T> symbolic(const Symbolic<T>& s, int) { return hadamard(s.ybar(), T(2) * s.x(0)); }
};

template <class T>
struct Softplus : detail::Elementwise<Softplus<T>, T> {
  static constexpr OpInfo info{.name = "softplus",
                               .value = "C = ln(1 + e^A) = max(A, 0) + ln(1 + e^−|A|)",
                               .adjoint = "Ā += C̄ ⊙ σ(A)",
                               .domain = "total; stable for any finite A"};
  static T value_of(T a) {
    using std::abs, std::exp, std::log1p;
    return std::max(a, T(0)) + log1p(exp(-abs(a)));
  }
  static auto value_of(const auto& a) { return a.max(T(0)) + (-a.abs()).exp().log1p(); }
  static auto adjoint_of(const auto& a, const auto&, const auto& cbar) {
    return cbar / (T(1) + (-a).exp());
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    return hadamard(s.ybar(), map_elements<T>("σ({})", s.x(0),
                                              [](T a) { return T(1) / (T(1) + std::exp(-a)); }));
  }
};

template <class T>
struct LogSigmoid : detail::Elementwise<LogSigmoid<T>, T> {
  static constexpr OpInfo info{.name = "log_sigmoid",
                               .value = "C = ln σ(A) = min(A, 0) − ln(1 + e^−|A|)",
                               .adjoint = "Ā += C̄ ⊙ σ(−A)",
                               .domain = "total; stable for any finite A"};
  static T value_of(T a) {
    using std::abs, std::exp, std::log1p;
    return std::min(a, T(0)) - log1p(exp(-abs(a)));
  }
  static auto value_of(const auto& a) { return a.min(T(0)) - (-a.abs()).exp().log1p(); }
  static auto adjoint_of(const auto& a, const auto&, const auto& cbar) {
    return cbar / (T(1) + a.exp());
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    return hadamard(s.ybar(), map_elements<T>("σ(−{})", s.x(0),
                                              [](T a) { return T(1) / (T(1) + std::exp(a)); }));
  }
};

template <class T>
struct Clamp : detail::Elementwise<Clamp<T>, T> {
  static constexpr OpInfo info{.name = "clamp",
                               .value = "C = min(max(A, lo), hi)",
                               .adjoint = "Ā += C̄ ⊙ [lo ≤ A ≤ hi]",
                               .domain = "total; `ad::Error` if lo > hi"};
  struct Saved {
    T lo, hi;
  };
  static T value_of(T a, const Saved& s) { return std::min(std::max(a, s.lo), s.hi); }
  static auto value_of(const auto& a, const Saved& s) { return a.max(s.lo).min(s.hi); }
  static auto adjoint_of(const auto& a, const auto&, const auto& cbar, const Saved& s) {
    return (a >= s.lo && a <= s.hi).select(cbar, T(0));
  }
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    const auto [lo, hi] = s.saved();
    return hadamard(s.ybar(), map_elements<T>(fmt::format("[{:g} ≤ {{}} ≤ {:g}]", lo, hi), s.x(0),
                                              [lo, hi](T a) { return T(a >= lo && a <= hi); }));
  }
};

}  // namespace

template <class T>
Var<T> divide(const Var<T>& a, const Var<T>& b, std::source_location where) {
  return detail::broadcasting<Divide<T>>("divide", a, b, where);
}

template <class T>
Var<T> pow(const Var<T>& a, std::type_identity_t<T> p, std::source_location where) {
  return detail::elementwise<Pow<T>>("pow", a, where, typename Pow<T>::Saved{p});
}

template <class T>
Var<T> sqrt(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Sqrt<T>>("sqrt", a, where);
}

template <class T>
Var<T> log1p(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Log1p<T>>("log1p", a, where);
}

template <class T>
Var<T> abs(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Abs<T>>("abs", a, where);
}

template <class T>
Var<T> square(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Square<T>>("square", a, where);
}

template <class T>
Var<T> softplus(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Softplus<T>>("softplus", a, where);
}

template <class T>
Var<T> log_sigmoid(const Var<T>& a, std::source_location where) {
  return detail::elementwise<LogSigmoid<T>>("log_sigmoid", a, where);
}

template <class T>
Var<T> clamp(const Var<T>& a, std::type_identity_t<T> lo, std::type_identity_t<T> hi,
             std::source_location where) {
  if (!(lo <= hi)) {
    throw Error(
        fmt::format("clamp: the bounds must satisfy lo <= hi, got lo = {} and hi = {} (at {})", lo,
                    hi, to_string(where)));
  }
  return detail::elementwise<Clamp<T>>("clamp", a, where, typename Clamp<T>::Saved{lo, hi});
}

#define AD_MATH(T)                                                            \
  template Var<T> divide(const Var<T>&, const Var<T>&, std::source_location); \
  template Var<T> pow(const Var<T>&, T, std::source_location);                \
  template Var<T> sqrt(const Var<T>&, std::source_location);                  \
  template Var<T> log1p(const Var<T>&, std::source_location);                 \
  template Var<T> abs(const Var<T>&, std::source_location);                   \
  template Var<T> square(const Var<T>&, std::source_location);                \
  template Var<T> softplus(const Var<T>&, std::source_location);              \
  template Var<T> log_sigmoid(const Var<T>&, std::source_location);           \
  template Var<T> clamp(const Var<T>&, T, T, std::source_location);
AD_INSTANTIATE_OPS(AD_MATH)
#undef AD_MATH

#ifndef AD_DUAL_INSTANCES
namespace detail {
std::span<const OpInfo> math_ops() {
  static constexpr OpInfo rows[] = {
      Divide<double>::info,   Pow<double>::info,        Sqrt<double>::info,
      Log1p<double>::info,    Abs<double>::info,        Square<double>::info,
      Softplus<double>::info, LogSigmoid<double>::info, Clamp<double>::info};
  return rows;
}
}  // namespace detail
#endif

}  // namespace ad
