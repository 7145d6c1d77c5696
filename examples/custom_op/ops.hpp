#pragma once
// Two ops written outside the engine with ad::custom_op (docs/custom-ops.md), each one
// definition with its shape rule, value, adjoint and saved state side by side.

#include <ad/ad.hpp>

#include <fmt/format.h>

#include <source_location>

namespace example {

// Log-sum-exp of each column, computed after subtracting the column's max so that no
// exponential overflows:
//
// cⱼ = ln Σᵢ e^Zᵢⱼ (m x n → 1 x n)        Z̄ += S ⊙ 𝟙 c̄   with S = softmax(Z) = e^(Z − 𝟙c)
//
// The value rule saves S, which the adjoint needs and would otherwise recompute.
template <class T>
struct LogSumExp {
  static constexpr const char* name = "log_sum_exp";
  struct Saved {
    ad::SavedMatrix<T> softmax;
  };
  static ad::Shape shape(const ad::InputShapes<T>& in) {
    if (in[0].rows == 0) throw ad::ShapeMismatch("the log-sum-exp of an empty column is -inf");
    return {1, in[0].cols};
  }
  static void value(const ad::Rule<T, Saved>& r) {
    auto z = r.x(0);
    auto c = r.y();
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
      const T m = z.col(j).maxCoeff();
      c(0, j) = m + std::log((z.col(j).array() - m).exp().sum());
    }
    r.saved().softmax = r.save((z.array().rowwise() - c.row(0).array()).exp().matrix());
  }
  static void adjoint(const ad::Rule<T, Saved>& r) {
    r.accumulate(0, r.saved().softmax.map() * r.ybar().asDiagonal());
  }
};

template <class T>
ad::Var<T> log_sum_exp(const ad::Var<T>& z,
                       std::source_location where = std::source_location::current()) {
  return ad::custom_op<LogSumExp<T>>({z}, where);
}

// The bilinear form of two column vectors through a matrix, with three inputs:
//
// c = xᵀ A y (x: n x 1, A: n x m, y: m x 1)
//                 x̄ += c̄ A y ;  Ā += c̄ x yᵀ ;  ȳ += c̄ Aᵀ x
//
// It saves A y from the value rule for x̄.
template <class T>
struct Bilinear {
  static constexpr const char* name = "bilinear";
  struct Saved {
    ad::SavedMatrix<T> ay;
  };
  static ad::Shape shape(const ad::InputShapes<T>& in) {
    const ad::Shape x = in[0], a = in[1], y = in[2];
    if (x.cols != 1 || y.cols != 1) throw ad::ShapeMismatch("x and y must be column vectors");
    if (a.rows != x.rows || a.cols != y.rows) {
      throw ad::ShapeMismatch(
          fmt::format("A must be {}x{} to sit between xᵀ and y", x.rows, y.rows));
    }
    return {1, 1};
  }
  static void value(const ad::Rule<T, Saved>& r) {
    r.saved().ay = r.save(r.x(1) * r.x(2));
    r.y()(0, 0) = r.x(0).col(0).dot(r.saved().ay.map().col(0));
  }
  static void adjoint(const ad::Rule<T, Saved>& r) {
    const T cbar = r.ybar()(0, 0);
    if (r.wants(0)) r.accumulate(0, cbar * r.saved().ay.map());
    if (r.wants(1)) r.accumulate(1, cbar * r.x(0) * r.x(2).transpose());
    if (r.wants(2)) r.accumulate(2, cbar * r.x(1).transpose() * r.x(0));
  }
  // The same three terms as data, for ad::explain (docs/explain.md). LogSumExp gives none:
  // a derivation shows it as vjp⟨log_sum_exp, 0⟩(c̄), its adjoint rule applied to c̄.
  static ad::Expr<T> symbolic(const ad::Symbolic<T, Saved>& s, int i) {
    if (i == 0) return scaled(s.ybar(), s.x(1) * s.x(2));
    if (i == 1) return scaled(s.ybar(), s.x(0) * transpose(s.x(2)));
    return scaled(s.ybar(), transpose(s.x(1)) * s.x(0));
  }
};

template <class T>
ad::Var<T> bilinear(const ad::Var<T>& x, const ad::Var<T>& a, const ad::Var<T>& y,
                    std::source_location where = std::source_location::current()) {
  return ad::custom_op<Bilinear<T>>({x, a, y}, where);
}

}  // namespace example
