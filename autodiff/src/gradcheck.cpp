#include <ad/gradcheck.hpp>
#include <ad/ops.hpp>
#include <ad/replay.hpp>

#include "compare.hpp"

#include <fmt/format.h>

#include <cmath>
#include <utility>

namespace ad {

template <>
GradcheckOptions default_gradcheck_options<double>() {
  return {.step = 1e-6, .abs_tolerance = 1e-6, .rel_tolerance = 1e-5};
}
template <>
GradcheckOptions default_gradcheck_options<float>() {
  return {.step = 1e-2, .abs_tolerance = 1e-3, .rel_tolerance = 1e-2};
}

void check_options(const GradcheckOptions& options, const char* caller) {
  if (options.step && !(std::isfinite(*options.step) && *options.step > 0)) {
    throw Error(fmt::format("{}: the option step must be a finite number > 0, got {}", caller,
                            *options.step));
  }
  const std::pair<const char*, const std::optional<double>&> tolerances[] = {
      {"abs_tolerance", options.abs_tolerance}, {"rel_tolerance", options.rel_tolerance}};
  for (const auto& [name, value] : tolerances) {
    if (value && !(std::isfinite(*value) && *value >= 0)) {
      throw Error(fmt::format("{}: the option {} must be a finite number >= 0, got {}", caller,
                              name, *value));
    }
  }
}

namespace detail {

[[noreturn]] void throw_arity_mismatch(const char* caller, std::size_t arity, std::size_t inputs) {
  throw Error(fmt::format("{}: the function takes {} input{} as separate Vars, given {}", caller,
                          arity, arity == 1 ? "" : "s", inputs));
}

template <class T>
GradcheckOptions resolve_options(const GradcheckOptions& options, const char* caller) {
  check_options(options, caller);
  const GradcheckOptions defaults = default_gradcheck_options<T>();
  return {.step = options.step.value_or(*defaults.step),
          .abs_tolerance = options.abs_tolerance.value_or(*defaults.abs_tolerance),
          .rel_tolerance = options.rel_tolerance.value_or(*defaults.rel_tolerance)};
}

template <class T>
GradcheckResult gradcheck(const Function<T>& f, const std::vector<Matrix<T>>& inputs,
                          const GradcheckOptions& given) {
  const GradcheckOptions options = resolve_options<T>(given, "gradcheck");
  Recording<T> f_at = record<T>(f, inputs);
  const Var<T> y = f_at.output();
  if (y.rows() != 1 || y.cols() != 1) {
    throw ShapeError("gradcheck", y.shape(),
                     "the function must return a 1x1 value (reduce it, e.g. with sum, or check "
                     "its whole Jacobian with ad::gradcheck_jacobian from <ad/jacobian.hpp>)",
                     std::source_location::current());
  }
  f_at.tape().backward(y);
  std::vector<Matrix<T>> analytic;
  for (std::size_t k = 0; k < inputs.size(); ++k) analytic.emplace_back(f_at.grad(k));

  auto value_at = [&](const std::vector<Matrix<T>>& xs) -> double { return f_at.value(xs)(0, 0); };

  GradcheckResult result;
  result.options = options;
  result.precision = precision_name<T>();
  std::vector<Matrix<T>> xs = inputs;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    InputCheck check;
    check.shape = {xs[k].rows(), xs[k].cols()};
    Comparison compare(check, options);
    for (Eigen::Index j = 0; j < xs[k].cols(); ++j) {
      for (Eigen::Index i = 0; i < xs[k].rows(); ++i) {
        const T x0 = xs[k](i, j);
        const Step<T> h(x0, *options.step);
        xs[k](i, j) = h.up;
        const double up = value_at(xs);
        xs[k](i, j) = h.down;
        const double down = value_at(xs);
        xs[k](i, j) = x0;
        compare.add(analytic[k](i, j), (up - down) / h.width(), i, j);
      }
    }
    result.passed = result.passed && check.passed;
    result.inputs.push_back(check);
  }
  return result;
}

template GradcheckOptions resolve_options<float>(const GradcheckOptions&, const char*);
template GradcheckOptions resolve_options<double>(const GradcheckOptions&, const char*);
template GradcheckResult gradcheck<float>(const Function<float>&, const std::vector<Matrix<float>>&,
                                          const GradcheckOptions&);
template GradcheckResult gradcheck<double>(const Function<double>&,
                                           const std::vector<Matrix<double>>&,
                                           const GradcheckOptions&);

std::string describe(std::size_t k, const InputCheck& c, std::string_view worst_of,
                     std::string_view computed_name) {
  return fmt::format(
      "\n  input {} ({}): {}, max abs error {:.3g}, max rel error {:.3g}, worst ({}, {}){}: {} "
      "{:.17g}, numeric {:.17g}",
      k, to_string(c.shape), c.passed ? "pass" : "FAIL", c.max_abs_error, c.max_rel_error,
      c.worst_row, c.worst_col, worst_of, computed_name, c.analytic, c.numeric);
}

}  // namespace detail

std::string to_string(const GradcheckResult& r) {
  std::string s =
      fmt::format("gradcheck {} ({}, step {:g}, tolerance {:g} + {:g}·|numeric|)",
                  r.passed ? "PASS" : "FAIL", r.precision, r.options.step.value_or(0),
                  r.options.abs_tolerance.value_or(0), r.options.rel_tolerance.value_or(0));
  for (std::size_t k = 0; k < r.inputs.size(); ++k) {
    s += detail::describe(k, r.inputs[k], "", "analytic");
  }
  return s;
}

}  // namespace ad
