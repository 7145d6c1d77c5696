#pragma once
// Dual numbers a + ȧε (ε² = 0): a value and its tangent, the directional derivative along a
// chosen direction. The engine's tape and ops are instantiated on ad::Dual<double> (besides
// float and double), and that is how <ad/hessian.hpp> differentiates twice: a backward sweep
// on a tape whose leaves carry a tangent v gives, in the tangents of the gradients, the
// Hessian-vector product H v (forward over reverse, docs/second-order.md).
//
// Every function here returns the exact derivative of the function it mirrors. Comparisons
// read the values alone, so a branch (relu, abs, clamp, max, a pivot) takes the path its
// value takes, and a non-smooth op's second derivative is that of the branch taken.

#include <ad/config.hpp>

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <type_traits>

namespace ad {

template <class T>
struct Dual {
  T value;
  T tangent;

  Dual() = default;  // uninitialised, as a double is; Dual{} is zero
  // A constant: tangent 0. Implicit, so that 2 * x and pow(x, 2.0) read as for a double.
  constexpr Dual(T v) : value(v), tangent(0) {}
  constexpr Dual(T v, T t) : value(v), tangent(t) {}
  // From an integer (Eigen writes Scalar(0), Scalar(1)).
  template <class I>
  requires std::is_integral_v<I>
  constexpr Dual(I v) : value(T(v)), tangent(0) {}
  // The value, dropping the tangent (explicit: an integer label read from a Dual tape).
  template <class U>
  requires std::is_arithmetic_v<U>
  explicit constexpr operator U() const { return U(value); }

  Dual& operator+=(const Dual& b) {
    value += b.value;
    tangent += b.tangent;
    return *this;
  }
  Dual& operator-=(const Dual& b) {
    value -= b.value;
    tangent -= b.tangent;
    return *this;
  }
  // (a + ȧε)(b + ḃε) = ab + (ȧb + aḃ)ε
  Dual& operator*=(const Dual& b) {
    tangent = tangent * b.value + value * b.tangent;
    value *= b.value;
    return *this;
  }
  // a/b + (ȧ − (a/b) ḃ)/b ε
  Dual& operator/=(const Dual& b) {
    value /= b.value;
    tangent = (tangent - value * b.tangent) / b.value;
    return *this;
  }

  friend Dual operator+(Dual a, const Dual& b) { return a += b; }
  friend Dual operator-(Dual a, const Dual& b) { return a -= b; }
  friend Dual operator*(Dual a, const Dual& b) { return a *= b; }
  friend Dual operator/(Dual a, const Dual& b) { return a /= b; }
  friend Dual operator-(const Dual& a) { return {-a.value, -a.tangent}; }
  friend Dual operator+(const Dual& a) { return a; }

  friend bool operator==(const Dual& a, const Dual& b) { return a.value == b.value; }
  friend bool operator!=(const Dual& a, const Dual& b) { return a.value != b.value; }
  friend bool operator<(const Dual& a, const Dual& b) { return a.value < b.value; }
  friend bool operator>(const Dual& a, const Dual& b) { return a.value > b.value; }
  friend bool operator<=(const Dual& a, const Dual& b) { return a.value <= b.value; }
  friend bool operator>=(const Dual& a, const Dual& b) { return a.value >= b.value; }
};
static_assert(std::is_trivially_copyable_v<Dual<double>> && sizeof(Dual<double>) == 16);

// Whether T is a Dual (the scalar of a second-order tape).
template <class T>
inline constexpr bool is_dual = false;
template <class T>
inline constexpr bool is_dual<Dual<T>> = true;

// The functions the ops use, found by argument-dependent lookup (ops write `using std::exp;
// exp(a)`, and Eigen's numext does the same). f(a + ȧε) = f(a) + f'(a) ȧε.
template <class T>
Dual<T> exp(const Dual<T>& a) {
  const T e = std::exp(a.value);
  return {e, e * a.tangent};
}
template <class T>
Dual<T> expm1(const Dual<T>& a) {
  return {std::expm1(a.value), std::exp(a.value) * a.tangent};
}
// Where the derivative is infinite (ln and √ at 0), a zero tangent stays zero: a constant
// stays a constant rather than becoming 0 · ∞ = NaN.
template <class T>
Dual<T> log(const Dual<T>& a) {
  return {std::log(a.value), a.tangent == 0 ? T(0) : a.tangent / a.value};
}
template <class T>
Dual<T> log1p(const Dual<T>& a) {
  return {std::log1p(a.value), a.tangent == 0 ? T(0) : a.tangent / (T(1) + a.value)};
}
template <class T>
Dual<T> sqrt(const Dual<T>& a) {
  const T s = std::sqrt(a.value);
  return {s, a.tangent == 0 ? T(0) : a.tangent / (T(2) * s)};
}
// |a|' = sign(a), 0 at 0 (the subgradient the engine's abs uses).
template <class T>
Dual<T> abs(const Dual<T>& a) {
  const T sign = T(a.value > 0) - T(a.value < 0);
  return {std::abs(a.value), sign * a.tangent};
}
template <class T>
Dual<T> tanh(const Dual<T>& a) {
  const T t = std::tanh(a.value);
  return {t, (T(1) - t * t) * a.tangent};
}
template <class T>
Dual<T> sin(const Dual<T>& a) {
  return {std::sin(a.value), std::cos(a.value) * a.tangent};
}
template <class T>
Dual<T> cos(const Dual<T>& a) {
  return {std::cos(a.value), -std::sin(a.value) * a.tangent};
}
// a^b: ∂/∂a = b a^(b−1), ∂/∂b = a^b ln a. A term whose tangent is 0 is left out, so that a
// constant exponent never multiplies ln a (NaN for a < 0) and a constant base never
// multiplies a^(b−1) (Inf at 0 for b < 1).
template <class T>
Dual<T> pow(const Dual<T>& a, const Dual<T>& b) {
  const T c = std::pow(a.value, b.value);
  T tangent = 0;
  if (a.tangent != 0) tangent += b.value * std::pow(a.value, b.value - T(1)) * a.tangent;
  if (b.tangent != 0) tangent += c * std::log(a.value) * b.tangent;
  return {c, tangent};
}
template <class T>
Dual<T> pow(const Dual<T>& a, T b) {
  return pow(a, Dual<T>(b));
}
template <class T>
Dual<T> floor(const Dual<T>& a) {
  return {std::floor(a.value), T(0)};
}
template <class T>
Dual<T> round(const Dual<T>& a) {
  return {std::round(a.value), T(0)};
}
template <class T>
bool isfinite(const Dual<T>& a) {
  return std::isfinite(a.value) && std::isfinite(a.tangent);
}
template <class T>
bool isnan(const Dual<T>& a) {
  return std::isnan(a.value) || std::isnan(a.tangent);
}
template <class T>
bool isinf(const Dual<T>& a) {
  return std::isinf(a.value) || std::isinf(a.tangent);
}

}  // namespace ad

namespace std {
template <class T>
struct numeric_limits<ad::Dual<T>> : numeric_limits<T> {
  static constexpr ad::Dual<T> epsilon() noexcept { return numeric_limits<T>::epsilon(); }
  static constexpr ad::Dual<T> min() noexcept { return numeric_limits<T>::min(); }
  static constexpr ad::Dual<T> max() noexcept { return numeric_limits<T>::max(); }
  static constexpr ad::Dual<T> lowest() noexcept { return numeric_limits<T>::lowest(); }
  static constexpr ad::Dual<T> infinity() noexcept { return numeric_limits<T>::infinity(); }
  static constexpr ad::Dual<T> quiet_NaN() noexcept { return numeric_limits<T>::quiet_NaN(); }
  static constexpr ad::Dual<T> denorm_min() noexcept { return numeric_limits<T>::denorm_min(); }
  static constexpr ad::Dual<T> round_error() noexcept { return numeric_limits<T>::round_error(); }
};
}  // namespace std

namespace Eigen {
template <class T>
struct NumTraits<ad::Dual<T>> : GenericNumTraits<ad::Dual<T>> {
  using Real = ad::Dual<T>;
  using NonInteger = ad::Dual<T>;
  using Nested = ad::Dual<T>;
  using Literal = ad::Dual<T>;
  enum {
    IsComplex = 0,
    IsInteger = 0,
    IsSigned = 1,
    RequireInitialization = 0,
    ReadCost = 2 * NumTraits<T>::ReadCost,
    AddCost = 2 * NumTraits<T>::AddCost,
    MulCost = 3 * NumTraits<T>::MulCost + NumTraits<T>::AddCost
  };
  static Real epsilon() { return NumTraits<T>::epsilon(); }
  static Real dummy_precision() { return NumTraits<T>::dummy_precision(); }
  static Real highest() { return NumTraits<T>::highest(); }
  static Real lowest() { return NumTraits<T>::lowest(); }
  static Real infinity() { return NumTraits<T>::infinity(); }
  static Real quiet_NaN() { return NumTraits<T>::quiet_NaN(); }
  static int digits10() { return NumTraits<T>::digits10(); }
  static int digits() { return NumTraits<T>::digits(); }
};
// A Dual and its real scalar mix in expressions (a Dual matrix times a double).
template <class T, class Op>
struct ScalarBinaryOpTraits<ad::Dual<T>, T, Op> {
  using ReturnType = ad::Dual<T>;
};
template <class T, class Op>
struct ScalarBinaryOpTraits<T, ad::Dual<T>, Op> {
  using ReturnType = ad::Dual<T>;
};
}  // namespace Eigen

// Printed as its value (error messages name the values a user passed, as for a double).
template <class T>
struct fmt::formatter<ad::Dual<T>> : fmt::formatter<T> {
  template <class Ctx>
  auto format(const ad::Dual<T>& a, Ctx& ctx) const {
    return fmt::formatter<T>::format(a.value, ctx);
  }
};
