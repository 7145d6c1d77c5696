#pragma once
// What gradcheck and gradcheck_jacobian share: the options resolved for the tape's type, the
// perturbed inputs, and the element comparison.
//
// An element passes when |analytic − numeric| ≤ abs_tolerance + rel_tolerance·|numeric|.
// The worst element is the one with the largest error / tolerance (closest to, or furthest
// past, its tolerance); NaN on either side fails and counts as the worst.

#include <ad/gradcheck.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

namespace ad::detail {

// options checked (check_options) and each unset one given the default for T.
template <class T>
GradcheckOptions resolve_options(const GradcheckOptions& options, const char* caller);

// "float" or "double".
template <class T>
constexpr const char* precision_name() {
  return std::is_same_v<T, float> ? "float" : "double";
}

// x0 ± h rounded to T, and the distance between them in double: the step the function sees
// (exact for float; for double within a rounding of 2h).
template <class T>
struct Step {
  Step(T x0, double h) : up(static_cast<T>(x0 + h)), down(static_cast<T>(x0 - h)) {}
  double width() const { return static_cast<double>(up) - static_cast<double>(down); }
  T up;
  T down;
};

// Folds comparisons one by one into an InputCheck (which it refers to, not owns).
class Comparison {
 public:
  // options: every one set (resolve_options).
  Comparison(InputCheck& check, const GradcheckOptions& options)
      : check_(&check),
        abs_tolerance_(options.abs_tolerance.value()),
        rel_tolerance_(options.rel_tolerance.value()) {}

  void add(double analytic, double numeric, Eigen::Index row, Eigen::Index col) {
    const double error = std::abs(analytic - numeric);
    const double scale = std::max(std::abs(analytic), std::abs(numeric));
    const double tolerance = abs_tolerance_ + rel_tolerance_ * std::abs(numeric);
    // NaN on either side fails: the comparisons below are false for NaN.
    const double margin = std::isnan(error) ? std::numeric_limits<double>::infinity()
                          : error == 0      ? 0
                                            : error / tolerance;
    check_->max_abs_error = std::max(check_->max_abs_error, error);
    if (scale > 0) check_->max_rel_error = std::max(check_->max_rel_error, error / scale);
    if (margin > worst_margin_) {
      worst_margin_ = margin;
      check_->worst_row = row;
      check_->worst_col = col;
      check_->analytic = analytic;
      check_->numeric = numeric;
    }
    if (!(error <= tolerance)) check_->passed = false;
  }

 private:
  InputCheck* check_;
  double abs_tolerance_;
  double rel_tolerance_;
  double worst_margin_ = -1;  // error / tolerance of the worst element so far
};

// Input k's line of a check's report: whether it passed, its largest errors and its worst
// element, "worst (i, j)<worst_of>: <computed_name> a, numeric b".
std::string describe(std::size_t k, const InputCheck& c, std::string_view worst_of,
                     std::string_view computed_name);

}  // namespace ad::detail
