#pragma once
// The seed documents' worked examples, computed with the tape. Each returns its numbers so
// that a program can print them and a test can check them.

#include <ad/ad.hpp>
#include <ad/explain.hpp>

#include <string>
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
// The matrix-form gradients, written by hand (with a(l) = σ(z(l)), z1 = W1 I,
// z2 = W2 a1, z3 = W3 a2, y = σ(z3) and the seed ȳ = 1 left out); three_layer_sigmoid
// computes each of them with Eigen, and ad::explain must print the same.
inline constexpr const char* matrix_form[3] = {
    "((W2ᵀ ((W3ᵀ σ'(z3)) ⊙ σ'(z2))) ⊙ σ'(z1)) Iᵀ",
    "((W3ᵀ σ'(z3)) ⊙ σ'(z2)) a1ᵀ",
    "σ'(z3) a2ᵀ",
};
struct ThreeLayerResult {
  double y = 0;
  Mat dW1, dW2, dW3;                       // from the tape
  Mat matrix_dW1, matrix_dW2, matrix_dW3;  // from the matrix-form expressions, by hand
  std::string explained[3];                // ad::explain's formula for W1, W2, W3
  std::string derivation[3];               // and its whole text (shapes of every factor)
  Mat explained_dW[3];                     // its expression evaluated with Eigen
  std::string dot;                         // the graph, for Graphviz
  ad::GradcheckResult check;
};
// The seed's own product for ∂y/∂W1, ψ'(z3) x W3 x ψ'(z2) x W2 x ψ'(z1) x I, multiplied
// out left to right with the shape of each factor: one line per step, up to the first one
// whose shapes do not fit.
std::vector<std::string> seed_product_shapes(const ThreeLayer& net = ThreeLayer::seed());
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
  std::string steps;         // ad::explain's recursion for ∂J/∂w(1), from J down
  double explained[3] = {};  // ad::explain's derivations for each w(l), evaluated
};
LectureChainResult lecture_chain(const LectureChain& problem = {});

}  // namespace walkthroughs
