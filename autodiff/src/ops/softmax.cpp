// Softmax over columns (samples are columns) and the cross-entropy against target
// probabilities. Each column is shifted by its max before exponentiating, so every value
// and adjoint is finite for finite logits of any magnitude. Work goes column by column:
// contiguous in column-major storage, and free of temporaries.

#include "log_sum_exp.hpp"
#include "support.hpp"

#include <cmath>

namespace ad {
namespace {

template <class T>
struct Softmax {
  static constexpr OpInfo info{.name = "softmax",
                               .value = "C = softmax(Z) per column = e^(Z − 𝟙 lse(Z))",
                               .adjoint = "Z̄ += C ⊙ (C̄ − 𝟙 𝟙ᵀ(C̄ ⊙ C))",
                               .domain = "total; stable for any finite Z (max subtracted)"};
  static void value(const Rule<T>& r) {
    auto z = r.x(0);
    auto c = r.y();
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
      c.col(j).array() = (z.col(j).array() - z.col(j).maxCoeff()).exp();
      c.col(j) /= c.col(j).sum();
    }
  }
  static void adjoint(const Rule<T>& r) {
    auto c = r.y();
    auto cbar = r.ybar();
    auto zbar = r.xbar(0);
    for (Eigen::Index j = 0; j < c.cols(); ++j) {
      const T inner = cbar.col(j).dot(c.col(j));
      zbar.col(j).array() += c.col(j).array() * (cbar.col(j).array() - inner);
    }
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    const Expr<T>&c = s.y(), &cbar = s.ybar();
    const Expr<T> one = ones<T>(c.rows());
    return hadamard(c, cbar - one * (transpose(one) * hadamard(cbar, c)));
  }
};

template <class T>
struct LogSoftmax {
  static constexpr OpInfo info{.name = "log_softmax",
                               .value = "C = Z − 𝟙 lse(Z) per column",
                               .adjoint = "Z̄ += C̄ − e^C ⊙ 𝟙 𝟙ᵀC̄",
                               .domain = "total; stable for any finite Z"};
  static void value(const Rule<T>& r) {
    auto z = r.x(0);
    auto c = r.y();
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
      const auto [m, sum] = detail::shifted_exp_sum(z.col(j));
      using std::log;
      c.col(j).array() = (z.col(j).array() - m) - log(sum);
    }
  }
  static void adjoint(const Rule<T>& r) {
    auto c = r.y();
    auto cbar = r.ybar();
    auto zbar = r.xbar(0);
    for (Eigen::Index j = 0; j < c.cols(); ++j) {
      zbar.col(j).array() += cbar.col(j).array() - c.col(j).array().exp() * cbar.col(j).sum();
    }
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    const Expr<T>&c = s.y(), &cbar = s.ybar();
    const Expr<T> one = ones<T>(c.rows());
    const Expr<T> exp_c = map_elements<T>("e^{}", c, [](T v) { return std::exp(v); });
    return cbar - hadamard(exp_c, one * (transpose(one) * cbar));
  }
};

template <class T>
struct SoftmaxCrossEntropy {
  static constexpr OpInfo info{
      .name = "softmax_cross_entropy",
      .also = "against target probabilities P",
      .value = "l = −(1/N) Σᵢⱼ Pᵢⱼ log_softmax(Z)ᵢⱼ",
      .adjoint = "Z̄ += l̄ (softmax(Z) ⊙ 𝟙𝟙ᵀP − P) / N ; P̄ += −l̄ log_softmax(Z) / N",
      .domain = "total; stable for logits of magnitude 1e4"};
  static void value(const Rule<T>& r) {
    auto z = r.x(0);
    auto p = r.x(1);
    T total = 0;
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
      const auto [m, sum] = detail::shifted_exp_sum(z.col(j));
      using std::log;
      total -= (p.col(j).array() * ((z.col(j).array() - m) - log(sum))).sum();
    }
    r.y()(0, 0) = total / static_cast<T>(z.cols());
  }
  static void adjoint(const Rule<T>& r) {
    auto z = r.x(0);
    auto p = r.x(1);
    const T scale = r.ybar()(0, 0) / static_cast<T>(z.cols());
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
      const auto [m, sum] = detail::shifted_exp_sum(z.col(j));
      if (r.wants(0)) {
        r.xbar(0).col(j).array() +=
            scale * ((z.col(j).array() - m).exp() * (p.col(j).sum() / sum) - p.col(j).array());
      }
      if (r.wants(1)) {
        using std::log;
        r.xbar(1).col(j).array() -= scale * ((z.col(j).array() - m) - log(sum));
      }
    }
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int i) {
    const Expr<T>&z = s.x(0), &p = s.x(1);
    const T n = static_cast<T>(z.cols());
    if (i == 1) return scaled(s.ybar(), (T(-1) / n) * detail::log_softmax_of(z));
    const Expr<T> one = ones<T>(z.rows());
    return scaled(s.ybar(),
                  (T(1) / n) * (hadamard(detail::softmax_of(z), one * (transpose(one) * p)) - p));
  }
};

template <class T>
void require_classes(const char* op, const Var<T>& z, std::source_location where) {
  if (z.rows() == 0) {
    throw ShapeError(op, z.shape(), "needs at least one row (one class) per column", where);
  }
}

}  // namespace

template <class T>
Var<T> softmax(const Var<T>& z, std::source_location where) {
  Tape<T>& tape = detail::tape_of("softmax", where, z);
  require_classes("softmax", z, where);
  return detail::record<Softmax<T>>(tape, "softmax", {z}, z.shape(), where);
}

template <class T>
Var<T> log_softmax(const Var<T>& z, std::source_location where) {
  Tape<T>& tape = detail::tape_of("log_softmax", where, z);
  require_classes("log_softmax", z, where);
  return detail::record<LogSoftmax<T>>(tape, "log_softmax", {z}, z.shape(), where);
}

template <class T>
Var<T> softmax_cross_entropy(const Var<T>& logits, const Var<T>& targets,
                             std::source_location where) {
  constexpr const char* op = "softmax_cross_entropy";
  Tape<T>& tape = detail::tape_of(op, where, logits, targets);
  if (logits.shape() != targets.shape()) {
    throw ShapeError(op, logits.shape(), targets.shape(),
                     "the targets must have the logits' shape (classes x batch)", where);
  }
  require_classes(op, logits, where);
  if (logits.cols() == 0) {
    throw ShapeError(op, logits.shape(), "the mean over an empty batch is undefined", where);
  }
  return detail::record<SoftmaxCrossEntropy<T>>(tape, op, {logits, targets}, {1, 1}, where);
}

#define AD_SOFTMAX(T)                                               \
  template Var<T> softmax(const Var<T>&, std::source_location);     \
  template Var<T> log_softmax(const Var<T>&, std::source_location); \
  template Var<T> softmax_cross_entropy(const Var<T>&, const Var<T>&, std::source_location);
AD_INSTANTIATE_OPS(AD_SOFTMAX)
#undef AD_SOFTMAX

#ifndef AD_DUAL_INSTANCES
namespace detail {
std::span<const OpInfo> softmax_ops() {
  static constexpr OpInfo rows[] = {Softmax<double>::info, LogSoftmax<double>::info,
                                    SoftmaxCrossEntropy<double>::info};
  return rows;
}
}  // namespace detail
#endif

}  // namespace ad
