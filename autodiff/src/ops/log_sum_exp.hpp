#pragma once
// The shifted exponential sum behind softmax, log_softmax and the softmax cross-entropies.

#include <ad/symbolic.hpp>

#include <cmath>
#include <utility>

namespace ad::detail {

// A column z as its largest element m and the sum s = Σᵢ e^(zᵢ − m) ≥ 1, so that no
// exponential overflows: lse(z) = m + ln s, log_softmax(z) = (z − m) − ln s and
// softmax(z) = e^(z − m) / s. Keeping m apart rather than forming lse(z) keeps z − m exact
// where it matters (near the maximum): at logits of magnitude 1e4 in float, m + ln s would
// round to the float spacing there (about 1e-3).
template <class X>
auto shifted_exp_sum(const X& z) {
  const auto m = z.maxCoeff();
  return std::pair{m, (z.array() - m).exp().sum()};
}

// softmax(Z) and log_softmax(Z), per column, as functions in a symbolic expression.
template <class T>
Expr<T> softmax_of(const Expr<T>& z) {
  return map<T>("softmax({})", z, z.shape(), [](const Matrix<T>& m) {
    Matrix<T> c(m.rows(), m.cols());
    for (Eigen::Index j = 0; j < m.cols(); ++j) {
      const auto [top, sum] = shifted_exp_sum(m.col(j));
      c.col(j).array() = (m.col(j).array() - top).exp() / sum;
    }
    return c;
  });
}
template <class T>
Expr<T> log_softmax_of(const Expr<T>& z) {
  return map<T>("log_softmax({})", z, z.shape(), [](const Matrix<T>& m) {
    Matrix<T> c(m.rows(), m.cols());
    for (Eigen::Index j = 0; j < m.cols(); ++j) {
      const auto [top, sum] = shifted_exp_sum(m.col(j));
      c.col(j).array() = (m.col(j).array() - top) - std::log(sum);
    }
    return c;
  });
}

}  // namespace ad::detail
