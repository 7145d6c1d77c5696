#pragma once
// Random, well-shaped expression graphs over every op, for testing adjoint rules in
// combination: random depth and shapes (1x1, vectors, non-square), inputs kept inside each
// op's domain (positive arguments for log, sqrt and fractional powers; well-conditioned
// matrices for inverse, solve and logdet; symmetric positive-definite ones for cholesky;
// separated eigenvalues and singular values for eigh and svd; full column rank for qr), shared
// subexpressions (any earlier node may feed a new op) and the same node twice in one op (A A,
// hadamard(x, x), x / x).
//
// A graph is a list of steps, replayed on whatever tape the inputs are on, so that the
// same graph can be recorded again at perturbed inputs by a gradient check.

#include <ad/ad.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ad::testing {

struct Step {
  int op = 0;                 // index into the generator's op list
  std::vector<int> operands;  // earlier nodes (inputs first, then steps)
  std::vector<Eigen::Index> sizes;
  double scalar = 0;
  Matrix<double> constant;  // for ops that need one (a shift, targets)
};

struct RandomExpression {
  std::uint64_t seed = 0;
  std::vector<Matrix<double>> inputs;
  std::vector<Step> steps;

  // Records the graph on the inputs' tape; returns its output node.
  Var<double> operator()(std::span<const Var<double>> x) const;
  // The same on a tape of dual numbers, for second derivatives (<ad/hessian.hpp>).
  Var<Dual<double>> operator()(std::span<const Var<Dual<double>>> x) const;
  // The readable form (ops and shapes), from one recording at the inputs.
  std::string text() const;
};

// The graph for a seed: the same seed gives the same graph.
RandomExpression random_expression(std::uint64_t seed);

}  // namespace ad::testing
