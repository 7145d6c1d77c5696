#pragma once
// The floors of the small-expression benchmarks: the seed network's gradient and the chain's,
// written by hand with fixed-size Eigen matrices and no tape. The engine's recorded and
// replayed gradients are measured against these (bench_ops, small_expressions).

#include <Eigen/Core>

#include <cmath>
#include <vector>

namespace ad::bench {

inline Eigen::Vector2d sigmoid(const Eigen::Vector2d& z) {
  return (1 + (-z.array()).exp()).inverse().matrix();
}

// y = σ(W3 σ(W2 σ(W1 I))) and ∂y/∂W1, ∂y/∂W2, ∂y/∂W3, by the δ recursion:
// δ3 = y(1 − y), W̄3 = δ3 a2ᵀ; δ2 = W3ᵀ δ3 ⊙ a2(1 − a2), W̄2 = δ2 a1ᵀ; δ1 = W2ᵀ δ2 ⊙ a1(1 − a1),
// W̄1 = δ1 Iᵀ.
struct SeedGradient {
  Eigen::Matrix2d w1;
  Eigen::Matrix2d w2;
  Eigen::RowVector2d w3;
};
inline double seed_network_by_hand(const Eigen::Matrix2d& W1, const Eigen::Matrix2d& W2,
                                   const Eigen::RowVector2d& W3, const Eigen::Vector2d& I,
                                   SeedGradient& g) {
  const Eigen::Vector2d a1 = sigmoid(W1 * I);
  const Eigen::Vector2d a2 = sigmoid(W2 * a1);
  const double y = 1 / (1 + std::exp(-W3.dot(a2)));
  const double d3 = y * (1 - y);
  g.w3 = d3 * a2.transpose();
  const Eigen::Vector2d d2 = (W3.transpose() * d3).cwiseProduct(a2 - a2.cwiseAbs2());
  g.w2 = d2 * a1.transpose();
  const Eigen::Vector2d d1 = (W2.transpose() * d2).cwiseProduct(a1 - a1.cwiseAbs2());
  g.w1 = d1 * I.transpose();
  return y;
}

// x ← σ(A x) `links` times from x0, and ∂ sum(x) / ∂A: x̄ = 1, then per link from the last,
// δ = x̄ ⊙ x(1 − x), Ā += δ xₚᵀ, x̄ = Aᵀ δ. xs holds links + 1 vectors (no allocation here).
inline void chain_by_hand(const Eigen::Matrix2d& A, const Eigen::Vector2d& x0,
                          std::vector<Eigen::Vector2d>& xs, Eigen::Matrix2d& abar) {
  const std::size_t links = xs.size() - 1;
  xs[0] = x0;
  for (std::size_t i = 0; i < links; ++i) xs[i + 1] = sigmoid(A * xs[i]);
  abar.setZero();
  Eigen::Vector2d xbar = Eigen::Vector2d::Ones();
  for (std::size_t i = links; i-- > 0;) {
    const Eigen::Vector2d delta = xbar.cwiseProduct(xs[i + 1] - xs[i + 1].cwiseAbs2());
    abar.noalias() += delta * xs[i].transpose();
    xbar.noalias() = A.transpose() * delta;
  }
}

}  // namespace ad::bench
