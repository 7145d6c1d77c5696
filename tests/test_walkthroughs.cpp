// The seed walkthroughs' numbers, each against an independent source: the seed's own
// printed values, the update rule iterated by hand, the matrix-form gradients written out
// here, finite differences, and the lecture's closed form for the last layer.

#define BOOST_TEST_MODULE walkthroughs
#include <boost/test/unit_test.hpp>

#include "walkthroughs.hpp"

#include <cmath>

using walkthroughs::Mat;

BOOST_AUTO_TEST_CASE(single_weight_matches_the_seed) {
  // Printed by the seed's MATLAB program (format short: 4 decimals, 5 significant digits).
  const double seed[] = {-8.5948, -0.68736, 3.6233, 5.9732, 7.2542, 7.9525, 8.3332,
                         8.5408,  8.6539,   8.7156, 8.7492, 8.7675, 8.7775, 8.7829,
                         8.7859,  8.7875,   8.7884, 8.7889, 8.7892, 8.7893};
  const auto w = walkthroughs::single_weight();
  BOOST_REQUIRE_EQUAL(w.size(), 20u);
  double by_hand = -23.1;
  for (std::size_t k = 0; k < w.size(); ++k) {
    BOOST_TEST(std::abs(w[k] - seed[k]) <= 0.5e-4, "step " << k + 1 << ": " << w[k]);
    by_hand -= 0.007 * 5.7 * 2 * (5.7 * by_hand - 50.1);  // w ← w − R a 2(a w − y)
    BOOST_TEST(std::abs(w[k] - by_hand) <= 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(three_layer_gradients_have_the_weights_shapes_and_values) {
  const auto net = walkthroughs::ThreeLayer::seed();
  const auto r = walkthroughs::three_layer_sigmoid(net);
  BOOST_TEST(r.dW1.rows() == 2);
  BOOST_TEST(r.dW1.cols() == 2);
  BOOST_TEST(r.dW2.rows() == 2);
  BOOST_TEST(r.dW2.cols() == 2);
  BOOST_TEST(r.dW3.rows() == 1);
  BOOST_TEST(r.dW3.cols() == 2);

  // The forward pass and δ recursion written out element by element, independent of Eigen
  // expressions in the walkthrough: σ(t) = 1 / (1 + e^−t).
  auto s = [](double t) { return 1 / (1 + std::exp(-t)); };
  double a1[2], a2[2];
  for (int i = 0; i < 2; ++i) a1[i] = s(net.W1(i, 0) * 0.5 + net.W1(i, 1) * -1.5);
  for (int i = 0; i < 2; ++i) a2[i] = s(net.W2(i, 0) * a1[0] + net.W2(i, 1) * a1[1]);
  const double y = s(0.9 * a2[0] - 1.0 * a2[1]);
  BOOST_TEST(std::abs(r.y - y) <= 1e-15);

  const double d3 = y * (1 - y);
  double d2[2], d1[2];
  for (int i = 0; i < 2; ++i) d2[i] = net.W3(0, i) * d3 * a2[i] * (1 - a2[i]);
  for (int i = 0; i < 2; ++i) {
    d1[i] = (net.W2(0, i) * d2[0] + net.W2(1, i) * d2[1]) * a1[i] * (1 - a1[i]);
  }
  const double input[2] = {0.5, -1.5};
  for (int i = 0; i < 2; ++i) {
    BOOST_TEST(std::abs(r.dW3(0, i) - d3 * a2[i]) <= 1e-15);
    for (int j = 0; j < 2; ++j) {
      BOOST_TEST(std::abs(r.dW2(i, j) - d2[i] * a1[j]) <= 1e-15);
      BOOST_TEST(std::abs(r.dW1(i, j) - d1[i] * input[j]) <= 1e-15);
    }
  }
  BOOST_TEST((r.dW1 - r.matrix_dW1).cwiseAbs().maxCoeff() <= 1e-15);
  BOOST_TEST((r.dW2 - r.matrix_dW2).cwiseAbs().maxCoeff() <= 1e-15);
  BOOST_TEST((r.dW3 - r.matrix_dW3).cwiseAbs().maxCoeff() <= 1e-15);
  BOOST_TEST(r.check.passed, fmt::format("{}", r.check));
}

// ad::explain derives the matrix-form formulas written out by hand in the walkthrough, and
// its expressions evaluate to the same numbers.
BOOST_AUTO_TEST_CASE(three_layer_derivations_are_the_matrix_form) {
  const auto r = walkthroughs::three_layer_sigmoid();
  const Mat* by_hand[] = {&r.matrix_dW1, &r.matrix_dW2, &r.matrix_dW3};
  for (int l = 0; l < 3; ++l) {
    BOOST_TEST(r.explained[l] == walkthroughs::matrix_form[l]);
    BOOST_TEST((r.explained_dW[l] - *by_hand[l]).cwiseAbs().maxCoeff() <= 1e-15);
  }
  // The shapes a reader needs: the final outer products.
  BOOST_TEST(r.derivation[0].find("(2x1)(1x2) → 2x2") != std::string::npos, r.derivation[0]);
  BOOST_TEST(r.derivation[2].find("(1x1)(1x2) → 1x2") != std::string::npos, r.derivation[2]);
  BOOST_TEST(r.dot.find("W1\\nvariable 2x2") != std::string::npos, r.dot);
}

// The seed's product breaks at its fourth factor: (1x1) x (2x2).
BOOST_AUTO_TEST_CASE(the_seeds_product_fails_where_the_shapes_say) {
  const auto lines = walkthroughs::seed_product_shapes();
  BOOST_REQUIRE_EQUAL(lines.size(), 3u);
  BOOST_TEST(lines[0] == "ψ'(z3) x W3: (1x1) x (1x2) → 1x2");
  BOOST_TEST(lines[1] == "ψ'(z3) x W3 x ψ'(z2): (1x2) x (2x1) → 1x1");
  BOOST_TEST(lines[2] ==
             "ψ'(z3) x W3 x ψ'(z2) x W2: (1x1) x (2x2) does not fit: 1 columns against 2 rows");
}

BOOST_AUTO_TEST_CASE(lecture_chain_tape_matches_the_recursion) {
  const walkthroughs::LectureChain p;
  const auto r = walkthroughs::lecture_chain(p);
  for (int l = 0; l < 3; ++l) {
    BOOST_TEST(std::abs(r.tape[l] - r.recursion[l]) <= 1e-15 * std::abs(r.recursion[l]) + 1e-17);
  }
  // The lecture's closed form for the last layer: ∂J/∂w(3) = −(y − a(4)) a(3).
  auto s = [](double t) { return 1 / (1 + std::exp(-t)); };
  const double a3 = s(p.w2 * s(p.w1 * p.x));
  const double a4 = s(p.w3 * a3);
  BOOST_TEST(std::abs(r.y_hat - a4) <= 1e-15);
  BOOST_TEST(std::abs(r.tape[2] - -(p.y - a4) * a3) <= 1e-15);
  BOOST_TEST(std::abs(r.loss - -std::log(a4)) <= 1e-15);
  // The engine's recursion, evaluated, and its layer lines as the lecture writes them.
  for (int l = 0; l < 3; ++l) {
    BOOST_TEST(std::abs(r.explained[l] - r.recursion[l]) <= 1e-15 * std::abs(r.recursion[l]));
  }
  for (const char* line : {"z̄(4) = ā(4) ⊙ σ'(z(4))", "ā(3) = w(3)ᵀ z̄(4)", "z̄(3) = ā(3) ⊙ σ'(z(3))",
                           "w̄(1) = z̄(2) a(1)ᵀ"}) {
    BOOST_TEST(r.steps.find(line) != std::string::npos, line << " in\n" << r.steps);
  }
}
