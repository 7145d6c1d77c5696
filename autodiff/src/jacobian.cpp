#include <ad/jacobian.hpp>

#include <ad/random.hpp>

#include "compare.hpp"

#include <random>

namespace ad {
namespace {

// f recorded at xs on the (cleared) tape: its variables and its value.
template <class T>
struct Recording {
  std::vector<Var<T>> x;
  Var<T> y;
};

template <class T>
Recording<T> record(Tape<T>& tape, const Function<T>& f, const std::vector<Matrix<T>>& xs) {
  tape.clear();
  Recording<T> r;
  for (const auto& x : xs) r.x.push_back(tape.variable(x));
  r.y = f(r.x);
  return r;
}

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
  Tape<T> tape;
  const Recording<T> r = record(tape, f, xs);
  const Eigen::Index outputs = r.y.rows() * r.y.cols();
  std::vector<Matrix<T>> j;
  for (const auto& x : xs) j.push_back(Matrix<T>::Zero(outputs, x.size()));
  Matrix<T> seed = Matrix<T>::Zero(r.y.rows(), r.y.cols());
  for (Eigen::Index i = 0; i < outputs; ++i) {
    seed.reshaped()(i) = 1;
    tape.backward(r.y, seed);
    seed.reshaped()(i) = 0;
    for (std::size_t k = 0; k < xs.size(); ++k) j[k].row(i) = as_row(r.x[k].grad());
  }
  return j;
}

template <class T>
VjpResult<T> vjp(const std::type_identity_t<Function<T>>& f, const std::vector<Matrix<T>>& xs,
                 const Matrix<T>& v) {
  Tape<T> tape;
  const Recording<T> r = record(tape, f, xs);
  tape.backward(r.y, v);
  VjpResult<T> result{Matrix<T>(r.y.value()), {}};
  for (const auto& x : r.x) result.grads.emplace_back(x.grad());
  return result;
}

namespace {

Matrix<double> value_at(Tape<double>& tape, const Function<double>& f,
                        const std::vector<Matrix<double>>& xs, Shape shape) {
  const Var<double> y = record(tape, f, xs).y;
  if (y.shape() != shape) {
    throw ShapeError("gradcheck_jacobian", shape, y.shape(),
                     "f's value changed shape when its input moved",
                     std::source_location::current());
  }
  return y.value();
}

void check_full(const Function<double>& f, std::vector<Matrix<double>> xs, Shape shape, double h,
                GradcheckResult& result) {
  const std::vector<Matrix<double>> analytic = jacobians<double>(f, xs);
  Tape<double> tape;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    detail::Comparison compare(result.inputs[k], result.options);
    for (Eigen::Index e = 0; e < xs[k].size(); ++e) {
      double& x = xs[k].reshaped()(e);
      const double x0 = x;
      x = x0 + h;
      const Matrix<double> up = value_at(tape, f, xs, shape);
      x = x0 - h;
      const Matrix<double> down = value_at(tape, f, xs, shape);
      x = x0;
      const Matrix<double> numeric = (up - down) / (2 * h);
      for (Eigen::Index i = 0; i < numeric.size(); ++i) {
        compare.add(analytic[k](i, e), numeric.reshaped()(i), i, e);
      }
    }
  }
}

void check_projected(const Function<double>& f, std::vector<Matrix<double>> xs, Shape shape,
                     double h, int projections, std::uint64_t seed, GradcheckResult& result) {
  std::mt19937_64 rng(seed);
  Tape<double> tape;
  std::vector<detail::Comparison> compare;
  for (auto& check : result.inputs) compare.emplace_back(check, result.options);
  for (int p = 0; p < projections; ++p) {
    const Matrix<double> v = random_normal<double>(shape.rows, shape.cols, rng);
    const VjpResult<double> g = vjp<double>(f, xs, v);
    for (std::size_t k = 0; k < xs.size(); ++k) {
      const Matrix<double> u = random_normal<double>(xs[k].rows(), xs[k].cols(), rng);
      const Matrix<double> x0 = xs[k];
      xs[k] = x0 + h * u;
      const double up = v.cwiseProduct(value_at(tape, f, xs, shape)).sum();
      xs[k] = x0 - h * u;
      const double down = v.cwiseProduct(value_at(tape, f, xs, shape)).sum();
      xs[k] = x0;
      compare[k].add(g.grads[k].cwiseProduct(u).sum(), (up - down) / (2 * h), p, 0);
    }
  }
}

}  // namespace

GradcheckResult gradcheck_jacobian(const Function<double>& f,
                                   const std::vector<Matrix<double>>& inputs,
                                   const JacobianCheckOptions& options) {
  check_options(options.tolerances, "gradcheck_jacobian");
  if (options.full_limit < 0 || options.projections < 1) {
    throw Error(
        fmt::format("gradcheck_jacobian: full_limit must be >= 0 and projections >= 1, "
                    "got {} and {}",
                    options.full_limit, options.projections));
  }
  Tape<double> tape;
  const Shape shape = record(tape, f, inputs).y.shape();
  GradcheckResult result;
  result.options = options.tolerances;
  Eigen::Index input_elements = 0;
  for (const auto& x : inputs) {
    result.inputs.push_back(InputCheck{.shape = {x.rows(), x.cols()}});
    input_elements += x.size();
  }
  const bool full = options.mode == JacobianCheckOptions::Mode::full ||
                    (options.mode == JacobianCheckOptions::Mode::automatic &&
                     shape.rows * shape.cols * input_elements <= options.full_limit);
  const double h = options.tolerances.step;
  if (full) {
    check_full(f, inputs, shape, h, result);
  } else {
    check_projected(f, inputs, shape, h, options.projections, options.seed, result);
  }
  for (const auto& check : result.inputs) result.passed = result.passed && check.passed;
  return result;
}

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
