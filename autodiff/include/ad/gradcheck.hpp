#pragma once
// Numerical gradient checking: compares the tape's gradient of a 1x1 function of one or
// several matrices with central finite differences.
//
//   const ad::Matrix<double> C = ...;                   // the caller's own data, captured
//   auto f = [&](std::span<const ad::Var<double>> x) {
//     return sum(hadamard(x[0] * x[1], x[0].tape().constant(C)));
//   };
//   ad::GradcheckResult r = ad::gradcheck(f, {A, B});
//   fmt::print("{}\n", r);   // PASS/FAIL and, per input, the errors and the worst element
//
// The function is any callable (a lambda with captures, a function object, a function, a
// std::function; copyable or not) taking the inputs either as one std::span<const Var<T>>
// or as one Var<T> per input: `[&](const ad::Var<double>& a, const ad::Var<double>& b)`.
// A generic lambda of one `auto` parameter is given the span (name the type for one Var).
//
// Precision. The check runs on a double tape whenever f can run on one (a function of
// double Vars, or a generic or template callable): a generic f is checked in double, with
// the double tolerances. A function of float Vars only is checked on a float tape with the
// float defaults; ad::gradcheck<float>(f, ...) asks for the float check of a generic f (for a
// custom op's float-specific code). The differences are taken in double either way.
//
// An element passes when |analytic − numeric| ≤ abs_tolerance + rel_tolerance·|numeric|, with
// numeric = (f(x₊) − f(x₋)) / (x₊ − x₋) and x± = x ± h rounded to the tape's type, so that
// the denominator is the step the function actually saw. The numeric derivative's error is a
// truncation error of about (h²/6)·|f'''| plus a rounding error of about κε·|f| / h, where ε
// is the machine epsilon of the tape's type and κε the relative error of one evaluation of f
// (a few ε for a graph of a few ops and sums of up to ~100 elements; κ = 10 below).
//
//   double, ε = 2⁻⁵² ≈ 2.2e-16, h = 1e-6: truncation ≈ 2e-13·|f'''|, rounding ≈ 2e-9·|f|;
//     abs_tolerance 1e-6 and rel_tolerance 1e-5 leave a wide margin for values of order
//     1–100.
//   float, ε = 2⁻²³ ≈ 1.2e-7: the two errors balance near h = (3κε|f| / |f'''|)^⅓ ≈ 1e-2
//     for |f| ≈ |f'''|, giving truncation ≈ 1.7e-5·|f'''| and rounding ≈ 1.2e-4·|f|.
//     abs_tolerance 1e-3 covers the rounding for |f| up to about 8; rel_tolerance 1e-2 the
//     truncation for |f'''| up to a few hundred times |f'|, and the analytic gradient's own
//     rounding (a few ε). A float check thus catches a gradient wrong by more than about
//     1 % + 1e-3 (a missing factor, a sign, a transpose), not a subtle error: prefer the
//     double check where f allows it. Keep a float function's value small (a mean rather
//     than a sum of many elements) and its inputs further than h from a kink (relu, abs).

#include <ad/format.hpp>
#include <ad/tape.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ad {

// Unset options take the default for the precision the check runs in (see above):
//   double: step 1e-6, abs_tolerance 1e-6, rel_tolerance 1e-5;
//   float:  step 1e-2, abs_tolerance 1e-3, rel_tolerance 1e-2.
struct GradcheckOptions {
  std::optional<double> step = std::nullopt;
  std::optional<double> abs_tolerance = std::nullopt;
  std::optional<double> rel_tolerance = std::nullopt;
};

// The defaults for a tape of type T (float or double), every option set.
template <class T>
GradcheckOptions default_gradcheck_options();

// The comparison for one input. The worst element is the one closest to (or furthest
// past) its tolerance.
struct InputCheck {
  Shape shape;
  double max_abs_error = 0;
  double max_rel_error = 0;  // |analytic − numeric| / max(|analytic|, |numeric|)
  Eigen::Index worst_row = 0;
  Eigen::Index worst_col = 0;
  double analytic = 0;
  double numeric = 0;
  bool passed = true;
};

struct GradcheckResult {
  bool passed = true;
  std::vector<InputCheck> inputs;
  GradcheckOptions options;    // those used, every one set
  const char* precision = "";  // the tape's type: "double" or "float"
  explicit operator bool() const { return passed; }
};

std::string to_string(const GradcheckResult& result);

// An ad::Error naming the option unless step (where set) is a finite number > 0 and both
// tolerances (where set) are finite numbers >= 0: with step = NaN every difference is NaN
// and a check would report FAIL for a correct gradient. `caller` starts the message.
void check_options(const GradcheckOptions& options, const char* caller);

// A function of matrices recorded on a tape: the form every callable is adapted to.
template <class T>
using Function = std::function<Var<T>(std::span<const Var<T>>)>;
// The double form, by its earlier name.
using ScalarFunction = Function<double>;

namespace detail {

template <std::size_t, class X>
using Repeat = X;

// F takes the inputs as one span of Var<T>, returning a Var<T>.
template <class F, class T>
concept TakesSpan = std::is_invocable_r_v<Var<T>, F&, std::span<const Var<T>>>;

// F takes N arguments of Var<T>, returning a Var<T>.
template <class F, class T, std::size_t N>
constexpr bool takes_vars() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    return std::is_invocable_r_v<Var<T>, F&, Repeat<I, const Var<T>&>...>;
  }
  (std::make_index_sequence<N>{});
}

// The number of Var<T> arguments F takes (the fewest, from 1 to 16); 0 if none of these.
template <class F, class T>
constexpr std::size_t var_arity() {
  return []<std::size_t... N>(std::index_sequence<N...>) {
    std::size_t arity = 0;
    (void)((takes_vars<F, T, N + 1>() && (arity = N + 1, true)) || ...);
    return arity;
  }
  (std::make_index_sequence<16>{});
}

template <class F, class T>
concept RunsOn = TakesSpan<F, T> ||(var_arity<F, T>() > 0);

// Double when F runs on a double tape, float when on a float tape only, double when on
// neither (adapt's static_assert then says why). if constexpr keeps the float question
// from being asked of a generic F that runs on double.
template <class F>
auto check_scalar() {
  if constexpr (RunsOn<F, double>) {
    return double{};
  } else if constexpr (RunsOn<F, float>) {
    return float{};
  } else {
    return double{};
  }
}

// The tape type a check of F runs on: T where the caller names it, else check_scalar's.
template <class T, class F>
struct CheckScalarOf {
  using type = T;
};
template <class F>
struct CheckScalarOf<void, F> {
  using type = decltype(check_scalar<F>());
};
template <class T, class F>
using CheckScalar = typename CheckScalarOf<T, F>::type;

[[noreturn]] void throw_arity_mismatch(const char* caller, std::size_t arity, std::size_t inputs);

// f as a Function<T> referring to f (valid while f lives). An ad::Error, naming `caller`,
// for a function of separate Vars given another number of inputs.
template <class T, class F>
Function<T> adapt(F& f, std::size_t inputs, const char* caller) {
  static_assert(RunsOn<F, T>,
                "ad::gradcheck: the function must take a std::span<const ad::Var<T>>, or one "
                "const ad::Var<T>& per input, and return an ad::Var<T>, with T the check's "
                "precision (double, or float for a function of float Vars only)");
  if constexpr (TakesSpan<F, T>) {
    return [&f](std::span<const Var<T>> x) { return Var<T>(std::invoke(f, x)); };
  } else {
    constexpr std::size_t arity = var_arity<F, T>();
    if (inputs != arity) throw_arity_mismatch(caller, arity, inputs);
    return [&f](std::span<const Var<T>> x) {
      return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return Var<T>(std::invoke(f, x[I]...));
      }
      (std::make_index_sequence<arity>{});
    };
  }
}

template <class T>
GradcheckResult gradcheck(const Function<T>& f, const std::vector<Matrix<T>>& inputs,
                          const GradcheckOptions& options);

}  // namespace detail

// Records f on a fresh tape at `inputs`, takes the gradient by one backward sweep, and
// compares it element by element with central differences of f, on the tape type chosen
// as Precision above says (T, when given, chooses it). Throws ad::Error for bad options
// (check_options) or a number of inputs that a function of separate Vars does not take,
// before f is called, and ad::ShapeError if f's value is not 1x1: a matrix-valued f is
// checked by ad::gradcheck_jacobian (<ad/jacobian.hpp>), whose InputCheck reports Jacobian
// entries (output element, input element) rather than (row, column) of the input, so it is
// a separate call, not a fallback.
template <class T = void, class F>
GradcheckResult gradcheck(F&& f, const std::vector<Matrix<detail::CheckScalar<T, F>>>& inputs,
                          const GradcheckOptions& options = {}) {
  using S = detail::CheckScalar<T, F>;
  return detail::gradcheck<S>(detail::adapt<S>(f, inputs.size(), "gradcheck"), inputs, options);
}

}  // namespace ad

template <>
struct fmt::formatter<ad::GradcheckResult> : fmt::formatter<std::string> {
  template <class Ctx>
  auto format(const ad::GradcheckResult& r, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(ad::to_string(r), ctx);
  }
};
