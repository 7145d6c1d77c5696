// ad::explain and ad::to_dot. The derivation's text is checked against the matrix-form
// formulas written by hand in the seed walkthrough; its value, evaluated with Eigen, against
// the tape's gradient for every case of the op catalog and every graph of the
// random-expression generator: it cannot print one thing and compute another.

#define BOOST_TEST_MODULE explain
#include <ad/ad.hpp>
#include <ad/explain.hpp>

#include "ops.hpp"  // examples/custom_op
#include "ops/catalog.hpp"
#include "ops/op_checks.hpp"
#include "random_expression.hpp"
#include "temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <string>

using Mat = ad::Matrix<double>;

namespace {

// |e − g| ≤ 1e-12 · max(1, max |g|) elementwise: relative to the gradient's scale.
bool agrees(const Mat& e, const Mat& g) {
  if (e.rows() != g.rows() || e.cols() != g.cols()) return false;
  if (g.size() == 0) return true;
  const double scale = std::max(1.0, g.cwiseAbs().maxCoeff());
  for (Eigen::Index k = 0; k < g.size(); ++k) {
    const double a = e.data()[k], b = g.data()[k];
    if (std::isnan(a) != std::isnan(b)) return false;
    if (std::isnan(b)) continue;
    if (std::isinf(b) ? a != b : std::abs(a - b) > 1e-12 * scale) return false;
  }
  return true;
}

struct Seed {
  Mat W1{{0.1, -0.2}, {0.3, 0.4}};
  Mat W2{{-0.5, 0.6}, {0.7, -0.8}};
  Mat W3{{0.9, -1.0}};
  Mat I{{0.5}, {-1.5}};
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_seed_network_derivation_is_the_matrix_form) {
  const Seed n;
  ad::Tape<double> tape;
  auto W1 = tape.variable(n.W1, "W1");
  auto W2 = tape.variable(n.W2, "W2");
  auto W3 = tape.variable(n.W3, "W3");
  auto I = tape.constant(n.I, "I");
  auto y = sigmoid(W3 * sigmoid(W2 * sigmoid(W1 * I)));
  tape.backward(y);

  // The walkthrough's formulas (examples/seeds/three_layer_sigmoid.cpp), with ψ = σ.
  const auto d1 = ad::explain(y, W1);
  BOOST_TEST(d1.formula() == "((W2ᵀ ((W3ᵀ σ'(z3)) ⊙ σ'(z2))) ⊙ σ'(z1)) Iᵀ");
  BOOST_TEST(d1.subject() == "∂y/∂W1");
  BOOST_TEST(ad::explain(y, W2).formula() == "((W3ᵀ σ'(z3)) ⊙ σ'(z2)) a1ᵀ");
  BOOST_TEST(ad::explain(y, W3).formula() == "σ'(z3) a2ᵀ");
  // The seed kept, as the issue writes it.
  BOOST_TEST(ad::explain(y, W1, {.keep_unit_seed = true}).formula() ==
             "((W2ᵀ ((W3ᵀ (ȳ ⊙ σ'(z3))) ⊙ σ'(z2))) ⊙ σ'(z1)) Iᵀ");
  // σ' spelt out: σ'(z) = a ⊙ (1 − a).
  BOOST_TEST(ad::explain(y, W3, {.spell_derivatives = true}).formula() == "(y ⊙ (1 − y)) a2ᵀ");

  // Shapes of the factors: the last product is a column times a row.
  const std::string text = d1.text();
  BOOST_TEST(text.find("(2x1)(1x2) → 2x2") != std::string::npos, text);
  BOOST_TEST(text.find("(2x2)(2x1) → 2x1") != std::string::npos, text);
  BOOST_TEST(text.find("W1 2x2") != std::string::npos, text);

  // The δ recursion, one line per adjoint from the output down.
  const std::string steps = d1.steps();
  for (const char* line : {"ȳ = 1", "z̄3 = σ'(z3)", "ā2 = W3ᵀ z̄3", "z̄2 = ā2 ⊙ σ'(z2)", "ā1 = W2ᵀ z̄2",
                           "z̄1 = ā1 ⊙ σ'(z1)", "W̄1 = z̄1 Iᵀ", "∂y/∂W1 = W̄1"}) {
    BOOST_TEST(steps.find(line) != std::string::npos, line << " in\n" << steps);
  }

  BOOST_TEST(agrees(d1.evaluate(), W1.grad()));
  BOOST_TEST(agrees(ad::explain(y, W2).evaluate(), W2.grad()));
  BOOST_TEST(agrees(ad::explain(y, W3).evaluate(), W3.grad()));
}

BOOST_AUTO_TEST_CASE(names_given_to_ops_are_used_and_others_follow_recording_order) {
  ad::Tape<double> tape;
  auto x = tape.variable(Mat{{1.0}, {2.0}});
  auto A = tape.constant(Mat{{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}});
  auto h = (A * x).named("h");
  auto L = sum(hadamard(h, h));
  const auto d = ad::explain(L, x);
  BOOST_TEST(d.subject() == "∂y/∂x0");
  BOOST_TEST(d.name_of(h) == "h");
  // h is used twice: its adjoint gets both contributions (h̄ = z̄1 ⊙ h + z̄1 ⊙ h with
  // z̄1 = 𝟙, the adjoint of a sum, a factor of 1 in ⊙).
  BOOST_TEST(d.formula() == "c0ᵀ (h + h)", d.text());
  // A shared adjoint that is more than one symbol is named once and defined in where().
  auto B = tape.constant(Mat{{1.0, 2.0}, {3.0, 4.0}}, "B");
  auto u = tape.variable(Mat{{0.5}, {-1.0}}, "u");
  auto g = tanh(B * u);
  auto L2 = sum(square(hadamard(g, B * g)));
  const auto d2 = ad::explain(L2, u);
  // L2 = Σ (a1 ⊙ z2)² with z3 = a1 ⊙ z2: z̄3 = 2 z3 reaches a1 by both of its inputs.
  BOOST_TEST(d2.formula() == "Bᵀ (((z̄3 ⊙ z2) + Bᵀ (z̄3 ⊙ a1)) ⊙ tanh'(z1))", d2.text());
  const auto where = d2.where();
  BOOST_REQUIRE_EQUAL(where.size(), 1u);
  BOOST_TEST(where[0] == "z̄3 = 2 z3");
  tape.backward(L2);
  BOOST_TEST(agrees(d2.evaluate(), u.grad()));
  tape.backward(L);
  BOOST_TEST(agrees(d.evaluate(), x.grad()));
}

// The factorisations read as their rows of the op table (docs/ops.md): y = ½ αᵀα with
// α = L⁻¹ t, L = chol(K), the solve's B̄ = L⁻ᵀ X̄ and T̄ = −tril(L⁻ᵀ X̄ Xᵀ), the factor's
// Ā = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹); an eigendecomposition's factor kept as saved state is listed.
BOOST_AUTO_TEST_CASE(a_cholesky_derivation_reads_as_the_op_table) {
  ad::Tape<double> tape;
  auto K = tape.variable(Mat{{4, 1, 0}, {1, 3, 0.5}, {0, 0.5, 2}}, "K");
  auto t = tape.variable(Mat{{1}, {-2}, {0.5}}, "t");
  auto L = cholesky(K).named("L");
  auto alpha = triangular_solve(L, t, ad::Triangle::lower, ad::Transposed::no).named("α");
  auto y = 0.5 * dot(alpha, alpha);
  tape.backward(y);
  const auto d = ad::explain(y, K);
  const std::string steps = d.steps();
  BOOST_TEST(steps.find("L̄ = −tril(L⁻ᵀ α\u0304 αᵀ)") != std::string::npos, steps);
  BOOST_TEST(steps.find("K̄ = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹)") != std::string::npos, steps);
  BOOST_TEST(agrees(d.evaluate(), K.grad()));
  const auto dt = ad::explain(y, t);
  BOOST_TEST(dt.steps().find("t̄ = L⁻ᵀ α\u0304") != std::string::npos, dt.steps());
  BOOST_TEST(agrees(dt.evaluate(), t.grad()));

  auto values = eigh_values(K);
  auto y2 = sum(values);
  tape.backward(y2);
  const auto d2 = ad::explain(y2, K);
  BOOST_TEST(d2.formula() == "V diag(𝟙) Vᵀ", d2.text());
  BOOST_TEST(d2.text().find("from the ops' saved state: V 3x3") != std::string::npos, d2.text());
  BOOST_TEST(agrees(d2.evaluate(), K.grad()));
}

BOOST_AUTO_TEST_CASE(a_leaf_that_does_not_reach_the_output_has_a_zero_derivation) {
  ad::Tape<double> tape;
  auto x = tape.variable(Mat::Ones(2, 3));
  auto z = tape.variable(Mat::Ones(1, 1));
  auto y = sum(z);
  const auto d = ad::explain(y, x);
  BOOST_TEST(d.formula() == "0");
  BOOST_TEST((d.evaluate() == Mat::Zero(2, 3)));
}

namespace {

// A custom op without a symbolic rule: c = s A, s saved.
template <class T>
struct Scale {
  static constexpr const char* name = "scale_by";
  struct Saved {
    T s;
  };
  static ad::Shape shape(const ad::InputShapes<T>& in) { return in[0]; }
  static void value(const ad::Rule<T, Saved>& r) { r.y() = r.saved().s * r.x(0); }
  static void adjoint(const ad::Rule<T, Saved>& r) { r.accumulate(0, r.saved().s * r.ybar()); }
};

// The same op with one.
template <class T>
struct ScaleExplained : Scale<T> {
  using typename Scale<T>::Saved;
  static ad::Expr<T> symbolic(const ad::Symbolic<T, Saved>& s, int) {
    return s.saved().s * s.ybar();
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_custom_op_without_a_symbolic_rule_is_an_opaque_factor_that_evaluates) {
  ad::Tape<double> tape;
  auto x = tape.variable(Mat{{1.0, -2.0}});
  auto c = ad::custom_op<Scale<double>>({x}, {.s = 3.0});
  auto y = sum(hadamard(c, c));
  tape.backward(y);
  const Mat before = x.grad();
  const auto d = ad::explain(y, x);
  BOOST_TEST(d.formula().find("vjp⟨scale_by, 0⟩(") != std::string::npos, d.formula());
  BOOST_TEST(agrees(d.evaluate(), x.grad()));
  BOOST_TEST((x.grad() == before));  // evaluating ran the op's rule on scratch adjoints

  auto c2 = ad::custom_op<ScaleExplained<double>>({x}, {.s = 3.0});
  auto y2 = sum(c2);
  const auto d2 = ad::explain(y2, x);
  BOOST_TEST(d2.formula() == "3 𝟙ᵀ", d2.formula());
  tape.backward(y2);
  BOOST_TEST(agrees(d2.evaluate(), x.grad()));
}

// The two ops of examples/custom_op: bilinear states its rule, log_sum_exp does not.
BOOST_AUTO_TEST_CASE(the_example_custom_ops_explain_and_evaluate) {
  ad::Tape<double> tape;
  auto x = tape.variable(Mat{{1.0}, {-2.0}}, "x");
  auto A = tape.variable(Mat{{0.5, 1.0, -1.0}, {2.0, 0.25, 3.0}}, "A");
  auto v = tape.variable(Mat{{0.3}, {0.7}, {-0.2}}, "v");
  auto Z = tape.variable(Mat{{1.0, -1.0}, {0.5, 2.0}, {-3.0, 0.0}}, "Z");
  auto y = example::bilinear(x, A, v) + sum(example::log_sum_exp(Z));
  tape.backward(y);
  BOOST_TEST(ad::explain(y, x).formula() == "A v");
  BOOST_TEST(ad::explain(y, A).formula() == "x vᵀ");
  BOOST_TEST(ad::explain(y, v).formula() == "Aᵀ x");
  BOOST_TEST(ad::explain(y, Z).formula() == "vjp⟨log_sum_exp, 0⟩(𝟙ᵀ)");
  for (const auto& leaf : {x, A, v, Z}) {
    BOOST_TEST(agrees(ad::explain(y, leaf).evaluate(), leaf.grad()), leaf.name());
  }
}

// Every case of the op catalog, at each of its samples, with a random seed of the output's
// shape: the derivation for each input evaluates to the tape's gradient.
BOOST_AUTO_TEST_CASE(every_op_derivation_evaluates_to_the_tapes_gradient) {
  std::mt19937_64 rng(7);
  std::set<std::string> ops;
  int checked = 0;
  for (const ad_test::CatalogCase& c : ad_test::catalog()) {
    for (const ad_test::Sample& sample : c.samples) {
      const std::vector<Mat> inputs = ad_test::draw(sample, rng);
      ad::Tape<double> tape;
      std::vector<ad::Var<double>> x;
      for (const Mat& m : inputs) x.push_back(tape.variable(m));
      const ad::Var<double> y = c.f(std::span<const ad::Var<double>>(x));
      const Mat seed = ad::random_uniform<double>(y.rows(), y.cols(), rng, -1, 1);
      tape.backward(y, seed);
      for (const auto& xk : x) {
        const auto d = ad::explain(y, xk, seed);
        BOOST_TEST(d.formula().find("vjp⟨") == std::string::npos, c.label << ": " << d.formula());
        BOOST_TEST(agrees(d.evaluate(), xk.grad()),
                   c.label << " on" << ad_test::shapes_of(inputs) << ": " << d.text()
                           << "\nexplained " << d.evaluate() << "\ntape " << xk.grad());
        ++checked;
      }
      ops.emplace(c.name);
    }
  }
  BOOST_TEST_MESSAGE(checked << " derivations over " << ops.size() << " ops");
  std::set<std::string> all;
  for (const ad::OpInfo& op : ad::op_table()) all.emplace(op.name);
  BOOST_TEST(ops == all);
}

BOOST_AUTO_TEST_CASE(every_random_graph_derivation_evaluates_to_the_tapes_gradient) {
  int mismatches = 0;
  std::set<std::string> ops;
  for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
    const auto e = ad::testing::random_expression(seed);
    ad::Tape<double> tape;
    std::vector<ad::Var<double>> x;
    for (const Mat& m : e.inputs) x.push_back(tape.variable(m));
    const ad::Var<double> y = e(x);
    std::vector<ad::Var<double>> todo{y};
    while (!todo.empty()) {
      const ad::Var<double> v = todo.back();
      todo.pop_back();
      ops.emplace(v.op());
      for (int k = 0; k < v.arity(); ++k) todo.push_back(v.input(k));
    }
    std::mt19937_64 rng(seed);
    const Mat s = ad::random_uniform<double>(y.rows(), y.cols(), rng, -1, 1);
    tape.backward(y, s);
    for (const auto& xk : x) {
      const auto d = ad::explain(y, xk, s);
      if (!agrees(d.evaluate(), xk.grad())) {
        ++mismatches;
        BOOST_ERROR("seed " << seed << "\n"
                            << e.text() << "\n"
                            << d.text() << "\nexplained\n"
                            << d.evaluate() << "\ntape\n"
                            << xk.grad());
      }
    }
  }
  BOOST_TEST(mismatches == 0);
  // The generator reaches every op of the table, the linear-algebra ones included.
  for (const ad::OpInfo& op : ad::op_table())
    BOOST_TEST(ops.count(std::string(op.name)) == 1, op.name);
}

BOOST_AUTO_TEST_CASE(dot_shows_the_nodes_that_lead_to_the_output_with_names_and_shapes) {
  const Seed n;
  ad::Tape<double> tape;
  auto W1 = tape.variable(n.W1, "W1");
  tape.variable(n.W1, "unused");
  ad::Parameter<double> W2(n.W2);
  auto I = tape.constant(n.I, "I");
  auto y = sum(tape.parameter(W2, "W2") * sigmoid(W1 * I));
  tape.backward(y);
  const std::string dot = ad::to_dot(y, {.norms = true});
  BOOST_TEST(dot.find("unused") == std::string::npos);
  BOOST_TEST(dot.find("W1\\nvariable 2x2") != std::string::npos, dot);
  BOOST_TEST(dot.find("W2\\nparameter 2x2") != std::string::npos, dot);
  BOOST_TEST(dot.find("I\\nconstant 2x1") != std::string::npos, dot);
  BOOST_TEST(dot.find("a1 = sigmoid\\n2x1") != std::string::npos, dot);
  BOOST_TEST(dot.find("‖adjoint‖") != std::string::npos, dot);
  BOOST_TEST(dot.find("red") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(dot_marks_non_finite_nodes_red_with_their_line) {
  ad::Tape<double> tape;
  auto x = tape.variable(Mat{{-1.0}});
  auto y = log(x);  // NaN
  const int line = __LINE__ - 1;
  const std::string dot = ad::to_dot(sum(y));
  BOOST_TEST(dot.find("color=red") != std::string::npos, dot);
  BOOST_TEST(dot.find(fmt::format("test_explain.cpp:{}", line)) != std::string::npos, dot);
}

// Graphviz's dot parses the output of every random graph (skipped without graphviz).
BOOST_AUTO_TEST_CASE(dot_parses_the_random_graphs) {
  if (std::system("dot -V > /dev/null 2>&1") != 0) {
    BOOST_TEST_MESSAGE("graphviz is not installed: skipped");
    return;
  }
  const ad_test::TempDir dir("test_explain");
  const std::string path = (dir.path / "graphs.dot").string();
  {
    std::ofstream out(path);
    for (std::uint64_t seed = 1; seed <= 200; ++seed) {
      const auto e = ad::testing::random_expression(seed);
      ad::Tape<double> tape;
      std::vector<ad::Var<double>> x;
      for (const Mat& m : e.inputs) x.push_back(tape.variable(m));
      out << ad::to_dot(e(x), {.norms = true, .title = fmt::format("seed {}", seed)});
    }
  }
  // One file of 200 graphs, one run of dot: -Tcanon parses and lays out each.
  const std::string command = "dot -Tcanon " + path + " > /dev/null";
  BOOST_TEST(std::system(command.c_str()) == 0);
}
