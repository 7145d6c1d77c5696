#include <ad/hessian.hpp>

#include "compare.hpp"

#include <fmt/format.h>

#include <memory>
#include <random>

namespace ad {
namespace {

using D = Dual<double>;

// The inputs' values x + ε v, checked against each other: a direction per input, of its
// shape.
std::vector<Matrix<D>> dual_inputs(const char* caller, const std::vector<Matrix<double>>& xs,
                                   const std::vector<Matrix<double>>& vs) {
  if (xs.size() != vs.size()) {
    throw Error(fmt::format("{}: {} inputs but {} directions; give one direction per input", caller,
                            xs.size(), vs.size()));
  }
  std::vector<Matrix<D>> duals;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const Shape x{xs[k].rows(), xs[k].cols()}, v{vs[k].rows(), vs[k].cols()};
    if (x.rows != v.rows || x.cols != v.cols) {
      throw ShapeError(caller, x, v,
                       fmt::format("direction {} must have the shape of input {}", k, k),
                       std::source_location::current());
    }
    duals.push_back(xs[k].binaryExpr(vs[k], [](double a, double t) { return D(a, t); }));
  }
  return duals;
}

// Records f at x + ε v on `tape` (cleared first) and sweeps backward from its value: the
// inputs' adjoints then hold ∇f(x) in their values and H v in their tangents.
std::vector<Var<D>> sweep(Tape<D>& tape, const HessianFunction& f, const std::vector<Matrix<D>>& x,
                          const char* caller) {
  tape.clear();
  std::vector<Var<D>> inputs;
  for (const Matrix<D>& m : x) inputs.push_back(tape.variable(m));
  const Var<D> y = f(inputs);
  if (y.rows() != 1 || y.cols() != 1) {
    throw ShapeError(caller, y.shape(), "the function must return a 1x1 value",
                     std::source_location::current());
  }
  tape.backward(y);
  return inputs;
}

// A tape of dual numbers for one call of hvp, hessian or gradgradcheck. Each thread keeps
// the last one returned, cleared, for its next call: making a tape (its node list, its
// arena's blocks, first touched page by page) cost more than the seed network's whole hvp,
// and 40 % of the MLP's. A tape that grew beyond kept_bytes is freed instead, and a call made
// from inside f (an hvp within an hvp) gets a tape of its own.
class PooledTape {
 public:
  PooledTape() : tape_(idle_ ? std::move(idle_) : std::make_unique<Tape<D>>()) {
    tape_->check_finite(false);  // as a new tape: an f that turned it on does so for its call
  }
  ~PooledTape() {
    tape_->clear();
    if (tape_->arena_bytes() <= kept_bytes) idle_ = std::move(tape_);
  }
  PooledTape(const PooledTape&) = delete;
  PooledTape& operator=(const PooledTape&) = delete;
  Tape<D>& operator*() { return *tape_; }

 private:
  static constexpr std::size_t kept_bytes = std::size_t{64} << 20;
  static thread_local std::unique_ptr<Tape<D>> idle_;
  std::unique_ptr<Tape<D>> tape_;
};
thread_local std::unique_ptr<Tape<D>> PooledTape::idle_;

template <class Part>
Matrix<double> part_of(const Var<D>& v, Part part) {
  return v.grad().unaryExpr(part);
}
constexpr auto value_part = [](const D& a) { return a.value; };
constexpr auto tangent_part = [](const D& a) { return a.tangent; };

}  // namespace

namespace detail {

std::vector<Matrix<double>> hvp(const HessianFunction& f, const std::vector<Matrix<double>>& xs,
                                const std::vector<Matrix<double>>& vs) {
  PooledTape tape;
  const std::vector<Var<D>> inputs = sweep(*tape, f, dual_inputs("hvp", xs, vs), "hvp");
  std::vector<Matrix<double>> products;
  for (const Var<D>& x : inputs) products.push_back(part_of(x, tangent_part));
  return products;
}

Matrix<double> hessian(const HessianFunction& f, const std::vector<Matrix<double>>& xs) {
  Eigen::Index n = 0;
  for (const Matrix<double>& x : xs) n += x.size();
  std::vector<Matrix<D>> at;
  for (const Matrix<double>& x : xs) at.push_back(x.cast<D>());
  PooledTape tape;
  Matrix<double> h(n, n);
  // Column j: H eⱼ, the tangent of the gradient when input element j carries tangent 1.
  Eigen::Index j = 0;
  for (Matrix<D>& x : at) {
    for (Eigen::Index e = 0; e < x.size(); ++e, ++j) {
      x.data()[e].tangent = 1;
      const std::vector<Var<D>> inputs = sweep(*tape, f, at, "hessian");
      x.data()[e].tangent = 0;
      Eigen::Index i = 0;
      for (const Var<D>& v : inputs) {
        const Matrix<double> block = part_of(v, tangent_part);
        h.col(j).segment(i, block.size()) = block.reshaped();
        i += block.size();
      }
    }
  }
  return (h + h.transpose()) / 2;
}

GradgradcheckResult gradgradcheck(const HessianFunction& f, const std::vector<Matrix<double>>& xs,
                                  const GradgradcheckOptions& options) {
  const GradcheckOptions tolerances{options.step, options.abs_tolerance, options.rel_tolerance};
  check_options(tolerances, "gradgradcheck");
  if (options.directions < 1) {
    throw Error(fmt::format("gradgradcheck: the option directions must be >= 1, got {}",
                            options.directions));
  }
  GradgradcheckResult result;
  result.options = options;
  for (const Matrix<double>& x : xs) result.inputs.push_back({.shape = {x.rows(), x.cols()}});
  std::vector<detail::Comparison> compare;
  for (InputCheck& check : result.inputs) compare.emplace_back(check, tolerances);

  std::mt19937_64 random(options.seed);
  std::uniform_real_distribution<double> uniform(-1, 1);
  PooledTape tape;
  for (int d = 0; d < options.directions; ++d) {
    std::vector<Matrix<double>> u;
    for (const Matrix<double>& x : xs) {
      u.push_back(Matrix<double>::NullaryExpr(x.rows(), x.cols(), [&] { return uniform(random); }));
    }
    // The gradient at x ± h u, from the values of the same tape's adjoints (tangent 0).
    auto gradient_at = [&](double sign) {
      std::vector<Matrix<D>> shifted;
      for (std::size_t k = 0; k < xs.size(); ++k) {
        shifted.push_back((xs[k] + sign * options.step * u[k]).cast<D>());
      }
      std::vector<Matrix<double>> g;
      for (const Var<D>& v : sweep(*tape, f, shifted, "gradgradcheck")) {
        g.push_back(part_of(v, value_part));
      }
      return g;
    };
    const std::vector<Matrix<double>> up = gradient_at(1), down = gradient_at(-1);
    std::vector<Matrix<double>> exact;
    for (const Var<D>& v : sweep(*tape, f, dual_inputs("gradgradcheck", xs, u), "gradgradcheck")) {
      exact.push_back(part_of(v, tangent_part));
    }
    for (std::size_t k = 0; k < xs.size(); ++k) {
      for (Eigen::Index j = 0; j < xs[k].cols(); ++j) {
        for (Eigen::Index i = 0; i < xs[k].rows(); ++i) {
          compare[k].add(exact[k](i, j), (up[k](i, j) - down[k](i, j)) / (2 * options.step), i, j);
        }
      }
    }
  }
  for (const InputCheck& check : result.inputs) result.passed = result.passed && check.passed;
  return result;
}

}  // namespace detail

std::string to_string(const GradgradcheckResult& r) {
  std::string s =
      fmt::format("gradgradcheck {} ({} directions, step {:g}, tolerance {:g} + {:g}·|numeric|)",
                  r.passed ? "PASS" : "FAIL", r.options.directions, r.options.step,
                  r.options.abs_tolerance, r.options.rel_tolerance);
  for (std::size_t k = 0; k < r.inputs.size(); ++k) {
    s += detail::describe(k, r.inputs[k], " of H u", "exact");
  }
  return s;
}

}  // namespace ad
