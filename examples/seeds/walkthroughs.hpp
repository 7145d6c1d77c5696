#pragma once
// The seed documents' worked examples, computed with the tape. Each returns its numbers so
// that a program can print them and a test can check them.

#include <ad/ad.hpp>

#include <vector>

namespace walkthroughs {

using Mat = ad::Matrix<double>;

// Seed 000: one weight, C = (a·w − target)², w ← w − R·∂C/∂w for 20 steps.
struct SingleWeight {
  double a = 5.7;
  double w0 = -23.1;
  double target = 50.1;
  double rate = 0.007;
  int steps = 20;
};
// The weight after each step.
std::vector<double> single_weight(const SingleWeight& problem = {});

// Seed 001: y = ψ(W3 ψ(W2 ψ(W1 I))), ψ the logistic sigmoid.
struct ThreeLayer {
  Mat W1, W2, W3, I;
  static ThreeLayer seed();
};
struct ThreeLayerResult {
  double y = 0;
  Mat dW1, dW2, dW3;                 // from the tape
  Mat matrix_dW1, matrix_dW2, matrix_dW3;  // from the matrix-form expressions, by hand
  ad::GradcheckResult check;
};
ThreeLayerResult three_layer_sigmoid(const ThreeLayer& net = ThreeLayer::seed());

// Seed 002: scalar weights, a sigmoid after each, binary cross-entropy for one point.
struct LectureChain {
  double w1 = 0.01;
  double w2 = 0.1;
  double w3 = -0.3;
  double x = 2.0;
  double y = 1.0;
};
struct LectureChainResult {
  double y_hat = 0;
  double loss = 0;
  double tape[3] = {};       // ∂J/∂w(l) from the tape
  double recursion[3] = {};  // from δ(l) = δ(l+1) w(l) σ'(z(l)), ∂J/∂w(l) = δ(l+1) a(l)
};
LectureChainResult lecture_chain(const LectureChain& problem = {});

}  // namespace walkthroughs
