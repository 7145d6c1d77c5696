#pragma once
// The gradient explained: the derivation the backward sweep performs, in the notation of
// matrix calculus, and pictures of the graph.
//
//   auto d = ad::explain(y, W1);
//   fmt::print("{}\n", d);                 // ∂y/∂W1 = ((W2ᵀ ((W3ᵀ σ'(z3)) ⊙ σ'(z2))) ⊙ σ'(z1)) Iᵀ
//                                          // with the shape of every factor
//   fmt::print("{}\n", d.steps());         // one line per adjoint, from the output down
//   d.evaluate();                          // the same expression computed with Eigen
//   std::string dot = ad::to_dot(y);       // Graphviz: dot -Tsvg
//
// The derivation is built from each op's symbolic rule (ad/symbolic.hpp), the data form of
// the adjoint rule the sweep runs. An op without one (a custom op that gives none) appears as
// vjp⟨name, i⟩(C̄): its contribution, evaluated by calling its own adjoint rule.
//
// Names: those given with Var::named or when recording a leaf; else leaves are x0, x1, …
// (variables), p0, … (parameters), c0, … (constants) in tape order, the output is y, an
// elementwise function of a node zk is ak, and other intermediates are z1, z2, … in
// recording order. The adjoint of a node named z is z̄.

#include <ad/symbolic.hpp>
#include <ad/tape.hpp>

#include <fmt/format.h>

#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ad {

struct ExplainOptions {
  // Print ȳ even when the seed is a 1x1 one (backward(y)), where it is a factor of 1.
  bool keep_unit_seed = false;
  // Write f'(A) as what it is (σ'(z) as a ⊙ (1 − a) with a = σ(z)).
  bool spell_derivatives = false;
};

template <class T>
class Derivation;

// d output / d leaf with a 1x1 output (seed 1), or any output with a seed of its shape (the
// vector-Jacobian product backward(output, seed) computes). The leaf may be any node of the
// tape, usually a variable or parameter; ad::Error if output and leaf are on different tapes.
template <class T>
Derivation<T> explain(const Var<T>& output, const Var<T>& leaf, ExplainOptions options = {});
template <class T>
Derivation<T> explain(const Var<T>& output, const Var<T>& leaf,
                      const Eigen::Ref<const Matrix<std::type_identity_t<T>>>& seed,
                      ExplainOptions options = {});

template <class T>
class Derivation {
 public:
  // The gradient as an expression tree, and its parts by name (for printing).
  const Expr<T>& gradient() const { return gradient_; }
  Shape shape() const { return gradient_.shape(); }
  // "∂y/∂W1": what the derivation computes.
  const std::string& subject() const { return subject_; }
  // The right-hand side alone: one expression, with adjoints used more than once named
  // (their definitions are in where()).
  std::string formula() const;
  // "z̄2 = …" for each named adjoint of formula(), innermost first.
  std::vector<std::string> where() const;
  // Every compound factor with its operands' shapes, innermost first, one a line:
  // "W3ᵀ σ'(z3)    (2x1)(1x1) → 2x1".
  std::string factors() const;
  // The whole derivation: subject = formula, where, the names' shapes and the factors.
  std::string text() const;
  // One line per adjoint from the output down (the δ recursion): "z̄2 = ā2 ⊙ σ'(z2)".
  std::string steps() const;
  // The name of a node on the tape, as the derivation prints it.
  std::string name_of(const Var<T>& v) const;
  // The expression computed with Eigen from the tape's values (and the op's own adjoint rule
  // for an op without a symbolic rule). Valid while the tape keeps the recording.
  Matrix<T> evaluate() const;

 private:
  std::vector<std::pair<std::string, std::string>> factor_rows() const;
  template <class U>
  friend Derivation<U> explain(const Var<U>&, const Var<U>&,
                               const Eigen::Ref<const Matrix<std::type_identity_t<U>>>&,
                               ExplainOptions);
  Tape<T>* tape_ = nullptr;
  Expr<T> gradient_;
  std::string subject_;
  std::map<std::uint32_t, std::string> names_;  // every node the derivation mentions
  std::vector<std::uint32_t> path_;             // nodes whose adjoint it forms, output first
  std::map<std::uint32_t, Expr<T>> adjoints_;   // their adjoints (Expr::Kind::adjoint)
  Matrix<T> seed_;
  ExplainOptions options_;
};

struct DotOptions {
  // Each node's ‖value‖_F, and ‖adjoint‖_F where the latest sweep wrote one.
  bool norms = false;
  // The graph's title (Graphviz `label`); none if empty.
  std::string title{};
};

// Graphviz DOT of the nodes that lead to output: one box per op with its name (and the
// user's name), shape and optionally norms; leaves styled by kind (variable, parameter,
// constant); edges from inputs, labelled with the input's position for ops of several
// inputs; a node whose value or adjoint holds NaN or Inf filled red, with the line of the
// program that recorded it. Render with `dot -Tsvg graph.dot -o graph.svg`.
template <class T>
std::string to_dot(const Var<T>& output, const DotOptions& options = {});

}  // namespace ad

template <class T>
struct fmt::formatter<ad::Derivation<T>> : fmt::formatter<std::string> {
  template <class Ctx>
  auto format(const ad::Derivation<T>& d, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(d.text(), ctx);
  }
};
