// Seed 001: the gradients of y = ψ(W3 ψ(W2 ψ(W1 I))) with respect to each weight matrix,
// from the tape and from the matrix-form expressions, with their shapes.

#include "walkthroughs.hpp"

int main() {
  const auto net = walkthroughs::ThreeLayer::seed();
  const auto r = walkthroughs::three_layer_sigmoid(net);
  fmt::print("W1 = {}  ({})\nW2 = {}  ({})\nW3 = {}  ({})\nI  = {}  ({})\n", net.W1,
             ad::Shape{2, 2}, net.W2, ad::Shape{2, 2}, net.W3, ad::Shape{1, 2}, net.I,
             ad::Shape{2, 1});
  fmt::print("y = ψ(W3 ψ(W2 ψ(W1 I))) = {:.17g}\n\n", r.y);

  struct Row {
    const char* name;
    const char* formula;
    const walkthroughs::Mat& tape;
    const walkthroughs::Mat& by_hand;
  };
  const Row rows[] = {
      {"∂y/∂W1", "((W2ᵀ((W3ᵀ δ3) ⊙ ψ'(z2))) ⊙ ψ'(z1)) Iᵀ", r.dW1, r.matrix_dW1},
      {"∂y/∂W2", "((W3ᵀ δ3) ⊙ ψ'(z2)) ψ(z1)ᵀ", r.dW2, r.matrix_dW2},
      {"∂y/∂W3", "δ3 ψ(z2)ᵀ,  δ3 = ψ'(z3)", r.dW3, r.matrix_dW3},
  };
  for (const Row& row : rows) {
    fmt::print("{} ({}x{})\n  tape:        {:.17g}\n  matrix form: {:.17g}\n  = {}\n  max |difference| = {:.3g}\n\n",
               row.name, row.tape.rows(), row.tape.cols(), row.tape, row.by_hand, row.formula,
               (row.tape - row.by_hand).cwiseAbs().maxCoeff());
  }
  fmt::print("Why the seed's chain rule gave mismatched dimensions: each factor must be\n"
             "transposed and the sigmoid derivative applied elementwise (⊙), so that every\n"
             "gradient is a column δ times a row input ᵀ, shaped like its weight.\n\n");
  fmt::print("{}\n", r.check);
  return r.check.passed ? 0 : 1;
}
