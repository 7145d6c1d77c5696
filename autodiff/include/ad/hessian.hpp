#pragma once
// Second derivatives of a 1x1 function of matrices: Hessian-vector products, whole Hessians
// and a second-order gradient check.
//
//   auto f = [](const auto& X) { return sum(exp(X * X)); };   // written once, generically
//   Matrix<double> hv = ad::hvp(f, X, V);                      // H vec(V), shaped like X
//   Matrix<double> h = ad::hessian(f, X);                      // (mn) x (mn), column-major
//   fmt::print("{}\n", ad::gradgradcheck(f, X));               // hvp against differences
//
// Method (docs/second-order.md): forward over reverse. f is recorded on a tape of dual
// numbers, ad::Dual<double>, whose inputs carry the direction V as their tangent; one
// backward sweep then gives the gradient in the values of the inputs' adjoints and H V in
// their tangents, exactly (no finite differences). Every built-in op runs on that tape; a
// custom op runs there once it declares `second_order` (<ad/custom_op.hpp>), and is an
// ad::Error naming it otherwise. Each thread keeps the tape of its last call for the next
// (unless its arena grew beyond 64 MiB), so that many small products do not each make one.
//
// f receives Var<ad::Dual<double>> and returns one; with several inputs it receives
// std::span<const Var<ad::Dual<double>>>, as for ad::gradcheck. Data it needs is brought
// onto the tape with ad::constant(x, matrix).

#include <ad/dual.hpp>
#include <ad/gradcheck.hpp>
#include <ad/tape.hpp>

#include <cstdint>
#include <functional>
#include <source_location>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace ad {

// A function of several matrices on the second-order tape, returning a 1x1 value.
using HessianFunction = std::function<Var<Dual<double>>(std::span<const Var<Dual<double>>>)>;

// A constant with the value m on x's tape, converted to the tape's scalar: how a function
// written once for every tape brings in data (ad::constant(x, features)).
template <class T, class E>
Var<T> constant(const Var<T>& x, const Eigen::MatrixBase<E>& m,
                std::source_location where = std::source_location::current()) {
  return x.tape().constant(m.template cast<T>(), where);
}

struct GradgradcheckOptions {
  // The central difference (∇f(x + h u) − ∇f(x − h u)) / 2h has a truncation error of order
  // h²·|f⁗| and a rounding error of order ε·|∇f| / h ≈ 2e-10·|∇f| for h = 1e-6: the defaults
  // are gradcheck's, for values of order 1–100.
  double step = 1e-6;
  double abs_tolerance = 1e-6;
  double rel_tolerance = 1e-5;
  int directions = 3;      // random directions u, elements uniform in [−1, 1]
  std::uint64_t seed = 1;  // of the directions
};

// Per input, the comparison of H u with the difference of gradients, worst over the
// directions: worst_row, worst_col name the element of the input's block of H u.
struct GradgradcheckResult {
  bool passed = true;
  std::vector<InputCheck> inputs;
  GradgradcheckOptions options;
  explicit operator bool() const { return passed; }
};

std::string to_string(const GradgradcheckResult& result);

namespace detail {
std::vector<Matrix<double>> hvp(const HessianFunction& f, const std::vector<Matrix<double>>& xs,
                                const std::vector<Matrix<double>>& vs);
Matrix<double> hessian(const HessianFunction& f, const std::vector<Matrix<double>>& xs);
GradgradcheckResult gradgradcheck(const HessianFunction& f, const std::vector<Matrix<double>>& xs,
                                  const GradgradcheckOptions& options);

// f of one input as a function of a list of one.
template <class F>
HessianFunction of_first(F& f) {
  return [&f](std::span<const Var<Dual<double>>> in) { return Var<Dual<double>>(f(in[0])); };
}
}  // namespace detail

// H V for f of one matrix x: the Hessian with respect to vec(x) applied to vec(V), returned
// with x's shape. An ad::ShapeError if V's shape is not x's or f's value is not 1x1; what f
// throws otherwise.
template <class F, class X, class V>
Matrix<double> hvp(F&& f, const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<V>& v) {
  return detail::hvp(detail::of_first(f), {Matrix<double>(x)}, {Matrix<double>(v)})[0];
}
// For f of several matrices: the products of the block rows of H with the directions,
// (H v)ₖ = Σⱼ ∂²f/∂xₖ∂xⱼ vⱼ, one per input, each with its input's shape.
template <class F>
std::vector<Matrix<double>> hvp(F&& f, const std::vector<Matrix<double>>& xs,
                                const std::vector<Matrix<double>>& vs) {
  return detail::hvp(HessianFunction(std::forward<F>(f)), xs, vs);
}

// The Hessian of f with respect to vec(x) (column-major), (mn) x (mn): one Hessian-vector
// product per column, symmetrised ((H + Hᵀ) / 2, which differ by rounding only).
template <class F, class X>
Matrix<double> hessian(F&& f, const Eigen::MatrixBase<X>& x) {
  return detail::hessian(detail::of_first(f), {Matrix<double>(x)});
}
// For f of several matrices: the Hessian with respect to [vec(x₀); vec(x₁); …], in blocks
// (the block (k, j) is ∂²f/∂xₖ∂xⱼ).
template <class F>
Matrix<double> hessian(F&& f, const std::vector<Matrix<double>>& xs) {
  return detail::hessian(HessianFunction(std::forward<F>(f)), xs);
}

// Compares hvp with central differences of the gradient along `directions` random
// directions: each element of H u passes when |exact − numeric| ≤ abs_tolerance +
// rel_tolerance·|numeric|. The gradients are the exact ones of the same tape, so only the
// second derivative is approximated. An ad::Error for bad options (as gradcheck's, and
// directions ≥ 1).
template <class F, class X>
GradgradcheckResult gradgradcheck(F&& f, const Eigen::MatrixBase<X>& x,
                                  const GradgradcheckOptions& options = {}) {
  return detail::gradgradcheck(detail::of_first(f), {Matrix<double>(x)}, options);
}
template <class F>
GradgradcheckResult gradgradcheck(F&& f, const std::vector<Matrix<double>>& xs,
                                  const GradgradcheckOptions& options = {}) {
  return detail::gradgradcheck(HessianFunction(std::forward<F>(f)), xs, options);
}

}  // namespace ad

template <>
struct fmt::formatter<ad::GradgradcheckResult> : fmt::formatter<std::string> {
  template <class Ctx>
  auto format(const ad::GradgradcheckResult& r, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(ad::to_string(r), ctx);
  }
};
