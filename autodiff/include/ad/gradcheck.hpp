#pragma once
// Numerical gradient checking: compares the tape's gradient of a 1x1 function of one or
// several matrices with central finite differences, in double precision.
//
//   auto f = [](std::span<const ad::Var<double>> x) { return sum(hadamard(x[0], x[1])); };
//   ad::GradcheckResult r = ad::gradcheck(f, {A, B});
//   fmt::print("{}\n", r);   // PASS/FAIL and, per input, the errors and the worst element
//
// An element passes when |analytic − numeric| ≤ abs_tolerance + rel_tolerance·|numeric|.
// With the default step h = 1e-6, the central difference (f(x+h) − f(x−h)) / 2h has a
// truncation error of order h²·|f'''| ≈ 1e-12 and a rounding error of order
// ε·|f| / h ≈ 2e-10·|f|, well inside the default tolerances for values of order 1–100.

#include <ad/format.hpp>
#include <ad/tape.hpp>

#include <functional>
#include <span>
#include <string>
#include <vector>

namespace ad {

struct GradcheckOptions {
  double step = 1e-6;
  double abs_tolerance = 1e-6;
  double rel_tolerance = 1e-5;
};

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
  GradcheckOptions options;
  explicit operator bool() const { return passed; }
};

std::string to_string(const GradcheckResult& result);

// An ad::Error naming the option unless step is a finite number > 0 and both tolerances are
// finite numbers >= 0: with step = NaN every difference is NaN and a check would report FAIL
// for a correct gradient. `caller` starts the message.
void check_options(const GradcheckOptions& options, const char* caller);

// A function of matrices recorded on a tape, returning a 1x1 value.
using ScalarFunction = std::function<Var<double>(std::span<const Var<double>>)>;

// Records f on a fresh tape at `inputs`, takes the gradient by one backward sweep, and
// compares it element by element with central differences of f. Throws ad::Error for bad
// options (check_options), before f is called, and ad::ShapeError if
// f's value is not 1x1: a matrix-valued f is checked by ad::gradcheck_jacobian
// (<ad/jacobian.hpp>), whose InputCheck reports Jacobian entries (output element, input
// element) rather than (row, column) of the input, so it is a separate call, not a fallback.
GradcheckResult gradcheck(const ScalarFunction& f, const std::vector<Matrix<double>>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace ad

template <>
struct fmt::formatter<ad::GradcheckResult> : fmt::formatter<std::string> {
  template <class Ctx>
  auto format(const ad::GradcheckResult& r, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(ad::to_string(r), ctx);
  }
};
