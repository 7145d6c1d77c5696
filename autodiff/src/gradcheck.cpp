#include <ad/gradcheck.hpp>
#include <ad/ops.hpp>
#include <ad/replay.hpp>

#include "compare.hpp"

#include <fmt/format.h>

#include <cmath>
#include <utility>

namespace ad {
void check_options(const GradcheckOptions& options, const char* caller) {
  if (!(std::isfinite(options.step) && options.step > 0)) {
    throw Error(fmt::format("{}: the option step must be a finite number > 0, got {}", caller,
                            options.step));
  }
  const std::pair<const char*, double> tolerances[] = {{"abs_tolerance", options.abs_tolerance},
                                                       {"rel_tolerance", options.rel_tolerance}};
  for (const auto& [name, value] : tolerances) {
    if (!(std::isfinite(value) && value >= 0)) {
      throw Error(fmt::format("{}: the option {} must be a finite number >= 0, got {}", caller,
                              name, value));
    }
  }
}

GradcheckResult gradcheck(const ScalarFunction& f, const std::vector<Matrix<double>>& inputs,
                          const GradcheckOptions& options) {
  check_options(options, "gradcheck");
  Recording<double> f_at = record<double>(f, inputs);
  const Var<double> y = f_at.output();
  if (y.rows() != 1 || y.cols() != 1) {
    throw ShapeError("gradcheck", y.shape(),
                     "the function must return a 1x1 value (reduce it, e.g. with sum, or check "
                     "its whole Jacobian with ad::gradcheck_jacobian from <ad/jacobian.hpp>)",
                     std::source_location::current());
  }
  f_at.tape().backward(y);
  std::vector<Matrix<double>> analytic;
  for (std::size_t k = 0; k < inputs.size(); ++k) analytic.emplace_back(f_at.grad(k));

  auto value_at = [&](const std::vector<Matrix<double>>& xs) { return f_at.value(xs)(0, 0); };

  GradcheckResult result;
  result.options = options;
  std::vector<Matrix<double>> xs = inputs;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    InputCheck check;
    check.shape = {xs[k].rows(), xs[k].cols()};
    detail::Comparison compare(check, options);
    for (Eigen::Index j = 0; j < xs[k].cols(); ++j) {
      for (Eigen::Index i = 0; i < xs[k].rows(); ++i) {
        const double x0 = xs[k](i, j);
        xs[k](i, j) = x0 + options.step;
        const double up = value_at(xs);
        xs[k](i, j) = x0 - options.step;
        const double down = value_at(xs);
        xs[k](i, j) = x0;
        compare.add(analytic[k](i, j), (up - down) / (2 * options.step), i, j);
      }
    }
    result.passed = result.passed && check.passed;
    result.inputs.push_back(check);
  }
  return result;
}

std::string to_string(const GradcheckResult& r) {
  std::string s = fmt::format("gradcheck {} (step {:g}, tolerance {:g} + {:g}·|numeric|)",
                              r.passed ? "PASS" : "FAIL", r.options.step, r.options.abs_tolerance,
                              r.options.rel_tolerance);
  for (std::size_t k = 0; k < r.inputs.size(); ++k) {
    const InputCheck& c = r.inputs[k];
    s += fmt::format(
        "\n  input {} ({}): {}, max abs error {:.3g}, max rel error {:.3g}, worst ({}, {}): "
        "analytic {:.17g}, numeric {:.17g}",
        k, to_string(c.shape), c.passed ? "pass" : "FAIL", c.max_abs_error, c.max_rel_error,
        c.worst_row, c.worst_col, c.analytic, c.numeric);
  }
  return s;
}

}  // namespace ad
