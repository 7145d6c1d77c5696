#pragma once
// Random matrices from a caller's generator, so that a seed fixes every draw.

#include <ad/config.hpp>

#include <random>

namespace ad {

// Entries drawn from N(mean, stddev²).
template <class T, class Rng>
Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> random_normal(Eigen::Index rows,
                                                               Eigen::Index cols, Rng& rng,
                                                               T mean = 0, T stddev = 1) {
  std::normal_distribution<T> dist(mean, stddev);
  return Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>::NullaryExpr(
      rows, cols, [&] { return dist(rng); });
}

// Entries drawn from U(lo, hi).
template <class T, class Rng>
Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> random_uniform(Eigen::Index rows,
                                                                Eigen::Index cols, Rng& rng,
                                                                T lo = -1, T hi = 1) {
  std::uniform_real_distribution<T> dist(lo, hi);
  return Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>::NullaryExpr(
      rows, cols, [&] { return dist(rng); });
}

}  // namespace ad
