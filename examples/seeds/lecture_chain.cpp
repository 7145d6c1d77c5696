// Seed 002: the lecture's scalar chain x → σ(w1 ·) → σ(w2 ·) → σ(w3 ·) = ŷ with binary
// cross-entropy J, differentiated by the tape, by the δ recursion by hand, and as
// ad::explain derives it, one adjoint a line.

#include "walkthroughs.hpp"

int main() {
  const walkthroughs::LectureChain p;
  const auto r = walkthroughs::lecture_chain(p);
  fmt::print("w(1) = {}, w(2) = {}, w(3) = {}; data point x = {}, y = {}\n", p.w1, p.w2, p.w3, p.x,
             p.y);
  fmt::print("ŷ = a(4) = {:.17g}, J = −(y ln ŷ + (1 − y) ln(1 − ŷ)) = {:.17g}\n\n", r.y_hat,
             r.loss);
  fmt::print(
      "The recursion as the engine performs it (z̄ = ∂J/∂z: z̄(l) is the lecture's δ(l); the\n"
      "first lines take J apart down to ∂J/∂a(4), then each layer is one ⊙ σ' and one product):\n\n"
      "{}\n",
      r.steps);
  fmt::print("{:<10} {:>24} {:>24} {:>24}\n", "", "tape", "δ(l+1) a(l)", "explained");
  for (int l = 0; l < 3; ++l) {
    fmt::print("∂J/∂w({})  {:>24.17g} {:>24.17g} {:>24.17g}\n", l + 1, r.tape[l], r.recursion[l],
               r.explained[l]);
  }
}
