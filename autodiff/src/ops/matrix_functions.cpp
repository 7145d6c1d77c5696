// Functions of whole matrices: the matrix exponential, log-sum-exp (of all elements, or along
// an axis) and the Kronecker product.

#include "log_sum_exp.hpp"
#include "support.hpp"

#include <unsupported/Eigen/MatrixFunctions>

#include <cmath>
#include <optional>

namespace ad {
namespace {

using detail::require_square;

// e^(A − C) for C = lse(A) (all of A, or by columns or rows, stretched to A's shape), in a
// symbolic rule; evaluated as e^(A − m) / s per part, as the adjoints do, so that the rounding
// of C is left out (see shifted_exp_sum).
template <class T>
Expr<T> exp_shifted(const Expr<T>& a, const Expr<T>& c, std::optional<Axis> axis) {
  return map<T>("e^({} − {})", a, c, a.shape(), [axis](const Matrix<T>& x, const Matrix<T>&) {
    Matrix<T> e(x.rows(), x.cols());
    if (!axis) {
      const auto [m, sum] = detail::shifted_exp_sum(x);
      e.array() = (x.array() - m).exp() / sum;
    } else if (*axis == Axis::rows) {
      for (Eigen::Index j = 0; j < x.cols(); ++j) {
        const auto [m, sum] = detail::shifted_exp_sum(x.col(j));
        e.col(j).array() = (x.col(j).array() - m).exp() / sum;
      }
    } else {
      for (Eigen::Index i = 0; i < x.rows(); ++i) {
        const auto [m, sum] = detail::shifted_exp_sum(x.row(i));
        e.row(i).array() = (x.row(i).array() - m).exp() / sum;
      }
    }
    return e;
  });
}

// e^M. On dual numbers M = Mᵥ + Mₜ ε, e^M = e^Mᵥ + L(Mᵥ, Mₜ) ε, with the Fréchet derivative L
// the top right block of exp([[Mᵥ, Mₜ], [0, Mᵥ]]) (Eigen's scaling and squaring picks its
// steps by comparing norms, which it cannot do on dual numbers).
template <class T>
Matrix<T> exponential(const Matrix<T>& m) {
  if constexpr (is_dual<T>) {
    const Eigen::Index n = m.rows();
    Matrix<double> block(2 * n, 2 * n);
    block.topLeftCorner(n, n) = detail::values_of(m);
    block.topRightCorner(n, n) = detail::tangents_of(m);
    block.bottomLeftCorner(n, n).setZero();
    block.bottomRightCorner(n, n) = block.topLeftCorner(n, n);
    const Matrix<double> e = block.exp();
    return detail::dual_of(e.topLeftCorner(n, n), e.topRightCorner(n, n));
  } else {
    return m.exp();
  }
}

template <class T>
struct MatrixExp {
  static constexpr OpInfo info{
      .name = "matrix_exp",
      .value = "C = e^A (scaling and squaring with Padé)",
      .adjoint = "Ā += the top right block of exp([[Aᵀ, C̄], [0, Aᵀ]])",
      .domain = "total (square A); IEEE overflow to Inf where ‖A‖ is too large for e^A"};
  // Eigen's MatrixFunctions: Higham's scaling and squaring with a Padé approximant of the
  // degree the scalar type's precision needs.
  static void value(const Rule<T>& r) { r.y() = exponential<T>(r.x(0)); }
  // The Fréchet derivative L(A, E) of exp is the top right block of exp([[A, E], [0, A]]),
  // and its adjoint in E is L(Aᵀ, ·): so Ā = L(Aᵀ, C̄), one exponential of twice the size.
  static void adjoint(const Rule<T>& r) {
    const Eigen::Index n = r.x(0).rows();
    Matrix<T> block(2 * n, 2 * n);
    block.topLeftCorner(n, n) = r.x(0).transpose();
    block.topRightCorner(n, n) = r.ybar();
    block.bottomLeftCorner(n, n).setZero();
    block.bottomRightCorner(n, n) = r.x(0).transpose();
    const Matrix<T> e = exponential(block);
    r.accumulate(0, e.topRightCorner(n, n));
  }
  // Ā = L_exp(Aᵀ, C̄), the Fréchet derivative of exp at Aᵀ in the direction C̄.
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    return map<T>("L_exp({}, {})", transpose(s.x(0)), s.ybar(), s.x(0).shape(),
                  [](const Matrix<T>& at, const Matrix<T>& cbar) {
                    const Eigen::Index n = at.rows();
                    Matrix<T> block = Matrix<T>::Zero(2 * n, 2 * n);
                    block.topLeftCorner(n, n) = at;
                    block.topRightCorner(n, n) = cbar;
                    block.bottomRightCorner(n, n) = at;
                    return Matrix<T>(block.exp().topRightCorner(n, n));
                  });
  }
};

template <class T>
struct LogSumExp {
  static constexpr OpInfo info{.name = "log_sum_exp",
                               .value = "c = ln Σᵢⱼ e^Aᵢⱼ, stable at any magnitude",
                               .adjoint = "Ā += c̄ e^(A − c)",
                               .domain =
                                   "total (ShapeError for an empty A); finite for elements "
                                   "of any finite magnitude"};
  static void value(const Rule<T>& r) {
    const auto [m, sum] = detail::shifted_exp_sum(r.x(0));
    using std::log;
    r.y()(0, 0) = m + log(sum);
  }
  // e^(A − c) as e^(A − m) / s: the rounding of c = m + ln s is left out (see
  // shifted_exp_sum).
  static void adjoint(const Rule<T>& r) {
    const auto a = r.x(0);
    const auto [m, sum] = detail::shifted_exp_sum(a);
    r.accumulate(0, (r.ybar()(0, 0) / sum) * (a.array() - m).exp());
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    return scaled(s.ybar(), exp_shifted(s.x(0), s.y(), std::nullopt));
  }
};

template <class T>
struct LogSumExpAxis {
  static constexpr OpInfo info{
      .name = "log_sum_exp",
      .also = "along an axis, as `sum(a, axis)`",
      .value = "C = ln 𝟙ᵀe^A or ln e^A𝟙",
      .adjoint = "Ā += 𝟙C̄ ⊙ e^(A − 𝟙C) (or C̄𝟙ᵀ alike)",
      .domain = "total (ShapeError if the reduced dimension is 0); stable at any magnitude"};
  struct Saved {
    Axis axis;
  };
  static void value(const Rule<T, Saved>& r) {
    const auto a = r.x(0);
    auto c = r.y();
    if (r.saved().axis == Axis::rows) {
      for (Eigen::Index j = 0; j < a.cols(); ++j) {
        const auto [m, sum] = detail::shifted_exp_sum(a.col(j));
        using std::log;
        c(0, j) = m + log(sum);
      }
    } else {
      for (Eigen::Index i = 0; i < a.rows(); ++i) {
        const auto [m, sum] = detail::shifted_exp_sum(a.row(i));
        using std::log;
        c(i, 0) = m + log(sum);
      }
    }
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const auto a = r.x(0);
    const auto cbar = r.ybar();
    auto abar = r.xbar(0);
    if (r.saved().axis == Axis::rows) {
      for (Eigen::Index j = 0; j < a.cols(); ++j) {
        const auto [m, sum] = detail::shifted_exp_sum(a.col(j));
        abar.col(j).array() += (cbar(0, j) / sum) * (a.col(j).array() - m).exp();
      }
    } else {
      for (Eigen::Index i = 0; i < a.rows(); ++i) {
        const auto [m, sum] = detail::shifted_exp_sum(a.row(i));
        abar.row(i).array() += (cbar(i, 0) / sum) * (a.row(i).array() - m).exp();
      }
    }
  }
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    const Shape a = s.x(0).shape();
    return hadamard(stretch(s.ybar(), a),
                    exp_shifted(s.x(0), stretch(s.y(), a), std::optional(s.saved().axis)));
  }
};

template <class T>
struct Kron {
  static constexpr OpInfo info{
      .name = "kron",
      .value = "C = A ⊗ B (the Kronecker product, mp x nq)",
      .adjoint = "Āᵢⱼ += ⟨C̄ᵢⱼ, B⟩ (C̄ᵢⱼ: C̄'s p x q block at i, j) ;  B̄ += Σᵢⱼ Aᵢⱼ C̄ᵢⱼ",
      .domain = "total"};
  static void value(const Rule<T>& r) {
    const auto a = r.x(0);
    const auto b = r.x(1);
    auto c = r.y();
    const Eigen::Index p = b.rows(), q = b.cols();
    for (Eigen::Index j = 0; j < a.cols(); ++j) {
      for (Eigen::Index i = 0; i < a.rows(); ++i) c.block(i * p, j * q, p, q) = a(i, j) * b;
    }
  }
  static void adjoint(const Rule<T>& r) {
    const auto a = r.x(0);
    const auto b = r.x(1);
    const auto cbar = r.ybar();
    const Eigen::Index p = b.rows(), q = b.cols();
    if (r.wants(0)) {
      Matrix<T> abar(a.rows(), a.cols());
      for (Eigen::Index j = 0; j < a.cols(); ++j) {
        for (Eigen::Index i = 0; i < a.rows(); ++i) {
          abar(i, j) = cbar.block(i * p, j * q, p, q).cwiseProduct(b).sum();
        }
      }
      r.accumulate(0, abar);
    }
    if (r.wants(1)) {
      Matrix<T> bbar = Matrix<T>::Zero(p, q);
      for (Eigen::Index j = 0; j < a.cols(); ++j) {
        for (Eigen::Index i = 0; i < a.rows(); ++i)
          bbar += a(i, j) * cbar.block(i * p, j * q, p, q);
      }
      r.accumulate(1, bbar);
    }
  }
  // Āᵢⱼ = ⟨C̄ᵢⱼ, B⟩ ;  B̄ = Σᵢⱼ Aᵢⱼ C̄ᵢⱼ, C̄ᵢⱼ the p x q block of C̄ at block row i, column j.
  static Expr<T> symbolic(const Symbolic<T>& s, int i) {
    if (i == 0) {
      return map<T>("[⟨{}ᵢⱼ, {}⟩]", s.ybar(), s.x(1), s.x(0).shape(),
                    [a = s.x(0).shape()](const Matrix<T>& cbar, const Matrix<T>& b) {
                      const Eigen::Index p = b.rows(), q = b.cols();
                      Matrix<T> abar(a.rows, a.cols);
                      for (Eigen::Index j = 0; j < a.cols; ++j) {
                        for (Eigen::Index k = 0; k < a.rows; ++k) {
                          abar(k, j) = cbar.block(k * p, j * q, p, q).cwiseProduct(b).sum();
                        }
                      }
                      return abar;
                    });
    }
    return map<T>("Σᵢⱼ {1}ᵢⱼ {0}ᵢⱼ", s.ybar(), s.x(0), s.x(1).shape(),
                  [b = s.x(1).shape()](const Matrix<T>& cbar, const Matrix<T>& a) {
                    Matrix<T> bbar = Matrix<T>::Zero(b.rows, b.cols);
                    for (Eigen::Index j = 0; j < a.cols(); ++j) {
                      for (Eigen::Index k = 0; k < a.rows(); ++k) {
                        bbar += a(k, j) * cbar.block(k * b.rows, j * b.cols, b.rows, b.cols);
                      }
                    }
                    return bbar;
                  });
  }
};

}  // namespace

template <class T>
Var<T> matrix_exp(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("matrix_exp", where, a);
  require_square("matrix_exp", a, where);
  return detail::record<MatrixExp<T>>(tape, "matrix_exp", {a}, a.shape(), where);
}

template <class T>
Var<T> log_sum_exp(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("log_sum_exp", where, a);
  if (a.rows() == 0 || a.cols() == 0) {
    throw ShapeError("log_sum_exp", a.shape(), "is undefined on an empty matrix", where);
  }
  return detail::record<LogSumExp<T>>(tape, "log_sum_exp", {a}, {1, 1}, where);
}

template <class T>
Var<T> log_sum_exp(const Var<T>& a, Axis axis, std::source_location where) {
  Tape<T>& tape = detail::tape_of("log_sum_exp", where, a);
  const bool down_rows = axis == Axis::rows;
  if ((down_rows ? a.rows() : a.cols()) == 0) {
    throw ShapeError(
        "log_sum_exp", a.shape(),
        down_rows ? "has no rows to reduce (Axis::rows)" : "has no columns to reduce (Axis::cols)",
        where);
  }
  const Shape shape = down_rows ? Shape{1, a.cols()} : Shape{a.rows(), 1};
  return detail::record<LogSumExpAxis<T>>(tape, "log_sum_exp", {a}, shape, where, {axis});
}

template <class T>
Var<T> kron(const Var<T>& a, const Var<T>& b, std::source_location where) {
  Tape<T>& tape = detail::tape_of("kron", where, a, b);
  // Each product of dimensions below 2³¹ (the tape's limit) fits in Eigen::Index; the tape
  // refuses a larger result.
  return detail::record<Kron<T>>(tape, "kron", {a, b}, {a.rows() * b.rows(), a.cols() * b.cols()},
                                 where);
}

#define AD_MATRIX_FUNCTIONS(T)                                            \
  template Var<T> matrix_exp(const Var<T>&, std::source_location);        \
  template Var<T> log_sum_exp(const Var<T>&, std::source_location);       \
  template Var<T> log_sum_exp(const Var<T>&, Axis, std::source_location); \
  template Var<T> kron(const Var<T>&, const Var<T>&, std::source_location);
AD_INSTANTIATE_OPS(AD_MATRIX_FUNCTIONS)
#undef AD_MATRIX_FUNCTIONS

#ifndef AD_DUAL_INSTANCES
namespace detail {
std::span<const OpInfo> matrix_functions_ops() {
  static constexpr OpInfo rows[] = {MatrixExp<double>::info, LogSumExp<double>::info,
                                    LogSumExpAxis<double>::info, Kron<double>::info};
  return rows;
}
}  // namespace detail
#endif

}  // namespace ad
