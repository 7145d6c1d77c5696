#pragma once
// Jacobians, vector-Jacobian products, and gradient checks of functions with matrix values.
//
//   Matrix<double> J = ad::jacobian([](const ad::Var<double>& x) { return ad::softmax(x); }, z);
//   auto [value, grads] = ad::vjp(f, {A, B}, v);       // vᵀJ, one backward sweep
//   ad::GradcheckResult r = ad::gradcheck_jacobian(f, {A, B});
//
// Matrices are flattened column-major (Eigen's storage order): J(i, j) = ∂ vec(Y)ᵢ / ∂ vec(X)ⱼ,
// so J has one row per element of f's value and one column per element of the input.
//
// A Jacobian takes one recording of f and one backward sweep per element of its value, each
// seeded with a unit matrix (a vector-Jacobian product): the recording is reused, since
// every sweep starts from zero adjoints.

#include <ad/gradcheck.hpp>
#include <ad/tape.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <type_traits>
#include <vector>

namespace ad {

// The Jacobian of f at x (f(x) m x n, x p x q: an mn x pq matrix).
template <class T>
Matrix<T> jacobian(const std::type_identity_t<std::function<Var<T>(const Var<T>&)>>& f,
                   const Matrix<T>& x);

// The Jacobians of f with respect to each input, at xs.
template <class T>
std::vector<Matrix<T>> jacobians(const std::type_identity_t<Function<T>>& f,
                                 const std::vector<Matrix<T>>& xs);

template <class T>
struct VjpResult {
  Matrix<T> value;               // f(xs)
  std::vector<Matrix<T>> grads;  // vᵀ ∂f/∂xₖ, shaped like xₖ
};

// f(xs) and the vector-Jacobian products vᵀJₖ for each input, by one backward sweep seeded
// with v (shaped like f's value).
template <class T>
VjpResult<T> vjp(const std::type_identity_t<Function<T>>& f, const std::vector<Matrix<T>>& xs,
                 const Matrix<T>& v);

struct JacobianCheckOptions {
  enum class Mode {
    automatic,   // full when (output elements) x (input elements) <= full_limit
    full,        // every Jacobian entry against central differences
    projection,  // vᵀJu for random v, u against the central difference of vᵀf along u
  };
  Mode mode = Mode::automatic;
  GradcheckOptions tolerances = {};
  Eigen::Index full_limit = 4096;
  int projections = 3;
  std::uint64_t seed = 1;  // for the random v and u
};

namespace detail {
template <class T>
GradcheckResult gradcheck_jacobian(const Function<T>& f, const std::vector<Matrix<T>>& inputs,
                                   const JacobianCheckOptions& options);
}  // namespace detail

// gradcheck for f with a value of any shape (1x1 included): f is any callable, and the
// check's precision and tolerances are chosen, as <ad/gradcheck.hpp> says for ad::gradcheck.
//
// Full mode compares each Jacobian entry, analytic (one backward sweep per output element)
// against numeric (2 evaluations per input element, each giving a whole column); an
// InputCheck's worst_row and worst_col are then the output and input element (column-major
// indices) of the worst Jacobian entry. Projection mode costs one sweep and 2 evaluations
// per input and projection, whatever the sizes: it draws v (output-shaped) and u
// (input-shaped) from N(0, 1), and compares vᵀJu from the vector-Jacobian product with
// (vᵀf(x + hu) − vᵀf(x − hu)) / 2h; worst_row is then the projection's number. A wrong
// Jacobian entry shows up in a projection with probability 1.
// Bad options (a step or tolerance as gradcheck refuses them, a negative full_limit, fewer
// than one projection) are an ad::Error before f is called.
template <class T = void, class F>
GradcheckResult gradcheck_jacobian(F&& f,
                                   const std::vector<Matrix<detail::CheckScalar<T, F>>>& inputs,
                                   const JacobianCheckOptions& options = {}) {
  using S = detail::CheckScalar<T, F>;
  return detail::gradcheck_jacobian<S>(detail::adapt<S>(f, inputs.size(), "gradcheck_jacobian"),
                                       inputs, options);
}

}  // namespace ad
