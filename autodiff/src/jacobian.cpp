#include <ad/jacobian.hpp>

#include <ad/random.hpp>
#include <ad/replay.hpp>

#include "compare.hpp"

#include <random>

namespace ad {
namespace {

// Flattened column-major, as a row of the Jacobian.
template <class M>
auto as_row(const M& m) {
  return m.reshaped().transpose();
}

}  // namespace

template <class T>
Matrix<T> jacobian(const std::type_identity_t<std::function<Var<T>(const Var<T>&)>>& f,
                   const Matrix<T>& x) {
  return jacobians<T>([&](std::span<const Var<T>> v) { return f(v[0]); }, {x})[0];
}

template <class T>
std::vector<Matrix<T>> jacobians(const std::type_identity_t<Function<T>>& f,
                                 const std::vector<Matrix<T>>& xs) {
  // The sweeps reuse the recording at xs: its inputs' nodes hold xs.
  Recording<T> f_at = record<T>(f, xs);
  const Var<T> y = f_at.output();
  const Eigen::Index outputs = y.rows() * y.cols();
  std::vector<Matrix<T>> j;
  for (const auto& x : xs) j.push_back(Matrix<T>::Zero(outputs, x.size()));
  Matrix<T> seed = Matrix<T>::Zero(y.rows(), y.cols());
  for (Eigen::Index i = 0; i < outputs; ++i) {
    seed.reshaped()(i) = 1;
    f_at.tape().backward(y, seed);
    seed.reshaped()(i) = 0;
    for (std::size_t k = 0; k < xs.size(); ++k) j[k].row(i) = as_row(f_at.grad(k));
  }
  return j;
}

template <class T>
VjpResult<T> vjp(const std::type_identity_t<Function<T>>& f, const std::vector<Matrix<T>>& xs,
                 const Matrix<T>& v) {
  Recording<T> f_at = record<T>(f, xs);
  f_at.tape().backward(f_at.output(), v);
  VjpResult<T> result{Matrix<T>(f_at.output().value()), {}};
  for (std::size_t k = 0; k < xs.size(); ++k) result.grads.emplace_back(f_at.grad(k));
  return result;
}

namespace {

// f_at: f recorded at xs, evaluated again at each x ± h.
template <class T>
void check_full(const Function<T>& f, Recording<T>& f_at, std::vector<Matrix<T>> xs, double h,
                GradcheckResult& result) {
  const std::vector<Matrix<T>> analytic = jacobians<T>(f, xs);
  for (std::size_t k = 0; k < xs.size(); ++k) {
    detail::Comparison compare(result.inputs[k], result.options);
    for (Eigen::Index e = 0; e < xs[k].size(); ++e) {
      T& x = xs[k].reshaped()(e);
      const T x0 = x;
      const detail::Step<T> step(x0, h);
      x = step.up;
      const Matrix<double> up = f_at.value(xs).template cast<double>();
      x = step.down;
      const Matrix<double> down = f_at.value(xs).template cast<double>();
      x = x0;
      const Matrix<double> numeric = (up - down) / step.width();
      for (Eigen::Index i = 0; i < numeric.size(); ++i) {
        compare.add(analytic[k](i, e), numeric.reshaped()(i), i, e);
      }
    }
  }
}

// vᵀJu against (vᵀf(x₊) − vᵀf(x₋)) / 2h, x± = x ± hu rounded to T: the analytic side takes
// the direction the function actually saw, (x₊ − x₋) / 2h, in double.
template <class T>
void check_projected(Recording<T>& f_at, std::vector<Matrix<T>> xs, Shape shape, double h,
                     int projections, std::uint64_t seed, GradcheckResult& result) {
  std::mt19937_64 rng(seed);
  std::vector<detail::Comparison> compare;
  for (auto& check : result.inputs) compare.emplace_back(check, result.options);
  for (int p = 0; p < projections; ++p) {
    const Matrix<double> v = random_normal<double>(shape.rows, shape.cols, rng);
    f_at.vjp(xs, v.cast<T>());
    std::vector<Matrix<double>> vjps;
    for (std::size_t k = 0; k < xs.size(); ++k)
      vjps.emplace_back(f_at.grad(k).template cast<double>());
    for (std::size_t k = 0; k < xs.size(); ++k) {
      const Matrix<double> u = random_normal<double>(xs[k].rows(), xs[k].cols(), rng);
      const Matrix<T> x0 = xs[k];
      const Matrix<T> x_up = (x0.template cast<double>() + h * u).template cast<T>();
      const Matrix<T> x_down = (x0.template cast<double>() - h * u).template cast<T>();
      xs[k] = x_up;
      const double up = v.cwiseProduct(f_at.value(xs).template cast<double>()).sum();
      xs[k] = x_down;
      const double down = v.cwiseProduct(f_at.value(xs).template cast<double>()).sum();
      xs[k] = x0;
      const Matrix<double> direction =
          (x_up.template cast<double>() - x_down.template cast<double>()) / (2 * h);
      compare[k].add(vjps[k].cwiseProduct(direction).sum(), (up - down) / (2 * h), p, 0);
    }
  }
}

}  // namespace

namespace detail {

template <class T>
GradcheckResult gradcheck_jacobian(const Function<T>& f, const std::vector<Matrix<T>>& inputs,
                                   const JacobianCheckOptions& options) {
  GradcheckResult result;
  result.options = resolve_options<T>(options.tolerances, "gradcheck_jacobian");
  result.precision = precision_name<T>();
  if (options.full_limit < 0 || options.projections < 1) {
    throw Error(
        fmt::format("gradcheck_jacobian: full_limit must be >= 0 and projections >= 1, "
                    "got {} and {}",
                    options.full_limit, options.projections));
  }
  Recording<T> f_at = record<T>(f, inputs);
  const Shape shape = f_at.output().shape();
  Eigen::Index input_elements = 0;
  for (const auto& x : inputs) {
    result.inputs.push_back(InputCheck{.shape = {x.rows(), x.cols()}});
    input_elements += x.size();
  }
  const bool full = options.mode == JacobianCheckOptions::Mode::full ||
                    (options.mode == JacobianCheckOptions::Mode::automatic &&
                     shape.rows * shape.cols * input_elements <= options.full_limit);
  const double h = *result.options.step;
  if (full) {
    check_full(f, f_at, inputs, h, result);
  } else {
    check_projected(f_at, inputs, shape, h, options.projections, options.seed, result);
  }
  for (const auto& check : result.inputs) result.passed = result.passed && check.passed;
  return result;
}

template GradcheckResult gradcheck_jacobian<float>(const Function<float>&,
                                                   const std::vector<Matrix<float>>&,
                                                   const JacobianCheckOptions&);
template GradcheckResult gradcheck_jacobian<double>(const Function<double>&,
                                                    const std::vector<Matrix<double>>&,
                                                    const JacobianCheckOptions&);

}  // namespace detail

template Matrix<float> jacobian<float>(
    const std::type_identity_t<std::function<Var<float>(const Var<float>&)>>&,
    const Matrix<float>&);
template Matrix<double> jacobian<double>(
    const std::type_identity_t<std::function<Var<double>(const Var<double>&)>>&,
    const Matrix<double>&);
template std::vector<Matrix<float>> jacobians<float>(const std::type_identity_t<Function<float>>&,
                                                     const std::vector<Matrix<float>>&);
template std::vector<Matrix<double>> jacobians<double>(
    const std::type_identity_t<Function<double>>&, const std::vector<Matrix<double>>&);
template VjpResult<float> vjp<float>(const std::type_identity_t<Function<float>>&,
                                     const std::vector<Matrix<float>>&, const Matrix<float>&);
template VjpResult<double> vjp<double>(const std::type_identity_t<Function<double>>&,
                                       const std::vector<Matrix<double>>&, const Matrix<double>&);

}  // namespace ad
