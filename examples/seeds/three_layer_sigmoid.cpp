// Seed 001: the gradients of y = ψ(W3 ψ(W2 ψ(W1 I))) with respect to each weight matrix,
// from the tape, from the matrix-form expressions and as ad::explain derives them, with
// the shape of every factor; and why the seed's own product does not fit.
//
//   three_layer_sigmoid [--dot FILE]   also writes the network's graph for Graphviz

#include "walkthroughs.hpp"

#include <cstring>
#include <fstream>

int main(int argc, char** argv) {
  const auto net = walkthroughs::ThreeLayer::seed();
  const auto r = walkthroughs::three_layer_sigmoid(net);
  fmt::print("W1 = {}  ({})\nW2 = {}  ({})\nW3 = {}  ({})\nI  = {}  ({})\n", net.W1,
             ad::Shape{2, 2}, net.W2, ad::Shape{2, 2}, net.W3, ad::Shape{1, 2}, net.I,
             ad::Shape{2, 1});
  fmt::print("y = ψ(W3 ψ(W2 ψ(W1 I))) = {:.17g}, ψ = σ the logistic sigmoid\n\n", r.y);

  // The seed's chain rule, factor by factor.
  fmt::print("The seed's product for dy/dW1, multiplied out left to right:\n");
  for (const std::string& line : walkthroughs::seed_product_shapes(net)) {
    fmt::print("  {}\n", line);
  }
  fmt::print(
      "Three things are out of order. ψ'(z) is a column of derivatives, one per unit: it\n"
      "multiplies elementwise (⊙), not as a matrix product. A weight carries the adjoint\n"
      "backwards transposed: W3 is 1x2, so W3ᵀ (2x1) turns the 1x1 output adjoint into one per\n"
      "unit of layer 2. And the input comes last, as a row: δ1 Iᵀ is (2x1)(1x2) → 2x2, an\n"
      "outer product shaped like W1; the seed's x I at the end multiplies by a 2x1 column.\n"
      "The engine's derivation, from the adjoint rules of the ops it recorded:\n\n");

  const walkthroughs::Mat* tape[] = {&r.dW1, &r.dW2, &r.dW3};
  const walkthroughs::Mat* by_hand[] = {&r.matrix_dW1, &r.matrix_dW2, &r.matrix_dW3};
  bool agree = true;
  for (int l = 0; l < 3; ++l) {
    fmt::print("{}", r.derivation[l]);
    fmt::print("  by hand:     {}  {}\n", walkthroughs::matrix_form[l],
               r.explained[l] == walkthroughs::matrix_form[l] ? "(the same)" : "(DIFFERENT)");
    fmt::print("  tape:        {:.17g}\n  by hand:     {:.17g}\n  explained:   {:.17g}\n", *tape[l],
               *by_hand[l], r.explained_dW[l]);
    const double hand = (*tape[l] - *by_hand[l]).cwiseAbs().maxCoeff();
    const double explained = (*tape[l] - r.explained_dW[l]).cwiseAbs().maxCoeff();
    fmt::print("  max |tape − by hand| = {:.3g}, max |tape − explained| = {:.3g}\n\n", hand,
               explained);
    agree = agree && r.explained[l] == walkthroughs::matrix_form[l];
  }
  fmt::print("{}\n", r.check);

  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--dot") == 0) {
      std::ofstream out(argv[i + 1]);
      out << r.dot;
      if (!out) {
        fmt::print(stderr, "could not write {}\n", argv[i + 1]);
        return 1;
      }
    }
  }
  return r.check.passed && agree ? 0 : 1;
}
