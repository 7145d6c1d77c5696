#pragma once
// The element comparison of gradcheck and gradcheck_jacobian, written once.
//
// An element passes when |analytic − numeric| ≤ abs_tolerance + rel_tolerance·|numeric|.
// The worst element is the one with the largest error / tolerance (closest to, or furthest
// past, its tolerance); NaN on either side fails and counts as the worst.

#include <ad/gradcheck.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace ad::detail {

// Folds comparisons one by one into an InputCheck (which it refers to, not owns).
class Comparison {
 public:
  Comparison(InputCheck& check, const GradcheckOptions& options)
      : check_(&check), options_(&options) {}

  void add(double analytic, double numeric, Eigen::Index row, Eigen::Index col) {
    const double error = std::abs(analytic - numeric);
    const double scale = std::max(std::abs(analytic), std::abs(numeric));
    const double tolerance = options_->abs_tolerance + options_->rel_tolerance * std::abs(numeric);
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
  const GradcheckOptions* options_;
  double worst_margin_ = -1;  // error / tolerance of the worst element so far
};

}  // namespace ad::detail
