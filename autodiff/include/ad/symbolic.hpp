#pragma once
// Adjoint rules as data: each op states, beside its value and adjoint rules, the
// contribution to an input's adjoint as a symbolic matrix expression (its `symbolic`
// member). ad::explain (ad/explain.hpp) chains these into the derivation of a gradient,
// prints it in the notation of matrix calculus and evaluates it with Eigen.
//
//   // C = A B      Ā += C̄ Bᵀ ;  B̄ += Aᵀ C̄
//   static ad::Expr<T> symbolic(const ad::Symbolic<T>& s, int i) {
//     return i == 0 ? s.ybar() * transpose(s.x(1)) : transpose(s.x(0)) * s.ybar();
//   }
//
// An expression is a tree of shared nodes (a subexpression used twice is one node); each
// builder checks its operands' shapes and throws ad::ShapeError if they do not fit.

#include <ad/error.hpp>
#include <ad/tape.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace ad {

template <class T>
class Expr {
 public:
  enum class Kind {
    value,       // a node's value on the tape, printed by its name
    adjoint,     // a node's adjoint (its expression in args[0]), printed inline or as z̄
    seed,        // ȳ, the seed of the sweep
    zero,        // a matrix of zeros (no contribution)
    ones,        // 𝟙, a column of ones
    identity,    // 𝐈
    literal,     // a matrix computed from the op's saved state (one-hot labels, a mask)
    product,     // A B
    transpose,   // Aᵀ
    sum,         // A + B
    hadamard,    // A ⊙ B
    quotient,    // A ⊘ B
    affine,      // α A + β, α and β numbers
    scaled,      // c A, c a 1x1 expression
    map,         // f(A) or f(A, B), a named function of matrices (sign(A), A⁻ᵀ, softmax(Z))
    derivative,  // f'(A), printed so or spelt out as args[1]
    block,       // A[i:i+r, j:j+c]
    embed,       // A placed at (i, j) in zeros of the node's shape
    opaque,      // an op without a symbolic rule: its adjoint rule applied to args[0]
  };
  struct Node {
    Kind kind = Kind::zero;
    Shape shape{};
    std::vector<Expr> args{};
    std::string symbol{};           // map: a format with {} for each argument; derivative: "σ'"
    std::uint32_t index = 0;        // value, adjoint, opaque: the tape node
    int input = 0;                  // opaque: which input's contribution
    T alpha = 1, beta = 0;          // affine
    Eigen::Index row = 0, col = 0;  // block, embed
    std::function<Matrix<T>(const std::vector<Matrix<T>>&)> function{};  // map: of args' values
    Matrix<T> matrix{};                                                  // literal
    bool unit = false;  // seed: a 1x1 seed of 1, left out of products
  };

  Expr() = default;
  explicit Expr(std::shared_ptr<const Node> node) : node_(std::move(node)) {}

  // No expression: an op's rule returns this for an input that receives nothing.
  bool empty() const { return node_ == nullptr; }
  const Node& node() const { return *node_; }
  Kind kind() const { return node_->kind; }
  Shape shape() const { return node_->shape; }
  Eigen::Index rows() const { return node_->shape.rows; }
  Eigen::Index cols() const { return node_->shape.cols; }
  // True for a seed of 1x1 and value 1, which products and ⊙ leave out.
  bool unit() const { return node_ && node_->unit; }

 private:
  std::shared_ptr<const Node> node_;
};

// The builders, each checking shapes like the op it describes.
template <class T>
Expr<T> make_expr(typename Expr<T>::Node node);
template <class T>
Expr<T> operator*(const Expr<T>& a, const Expr<T>& b);  // A B
template <class T>
Expr<T> operator+(const Expr<T>& a, const Expr<T>& b);  // A + B (equal shapes)
template <class T>
Expr<T> operator-(const Expr<T>& a, const Expr<T>& b);  // A + (−1) B
template <class T>
Expr<T> operator-(const Expr<T>& a);  // −A
template <class T>
Expr<T> operator*(std::type_identity_t<T> alpha, const Expr<T>& a);  // α A
template <class T>
Expr<T> affine(const Expr<T>& a, std::type_identity_t<T> alpha, std::type_identity_t<T> beta);
template <class T>
Expr<T> transpose(const Expr<T>& a);
template <class T>
Expr<T> hadamard(const Expr<T>& a, const Expr<T>& b);  // A ⊙ B (equal shapes)
template <class T>
Expr<T> quotient(const Expr<T>& a, const Expr<T>& b);  // A ⊘ B (equal shapes)
template <class T>
Expr<T> scaled(const Expr<T>& c, const Expr<T>& a);  // c A for a 1x1 c
// 𝟙, a column of n ones; 𝐈, the n x n identity; zeros of a shape.
template <class T>
Expr<T> ones(Eigen::Index n);
template <class T>
Expr<T> identity(Eigen::Index n);
template <class T>
Expr<T> zero(Shape shape);
// A matrix the rule computes itself (from saved state), printed as `name`.
template <class T>
Expr<T> literal(std::string name, Matrix<T> m);
// f(A): `format` has {} where A goes ("sign({})"); f maps A's value to the result.
template <class T>
Expr<T> map(std::string format, const Expr<T>& a, Shape shape,
            std::function<Matrix<T>(const Matrix<T>&)> f);
// f(A, B): `format` has {} for A, then for B (or {0} and {1}).
template <class T>
Expr<T> map(std::string format, const Expr<T>& a, const Expr<T>& b, Shape shape,
            std::function<Matrix<T>(const Matrix<T>&, const Matrix<T>&)> f);
// The same for an elementwise function of one element.
template <class T>
Expr<T> map_elements(std::string format, const Expr<T>& a, std::function<T(T)> f);
// f'(A), named `name` ("σ'"), equal to `spelt` (its value, and what it prints as when
// ExplainOptions::spell_derivatives is set).
template <class T>
Expr<T> derivative(std::string name, const Expr<T>& a, const Expr<T>& spelt);
template <class T>
Expr<T> block(const Expr<T>& a, Eigen::Index row, Eigen::Index col, Eigen::Index rows,
              Eigen::Index cols);
template <class T>
Expr<T> embed(const Expr<T>& a, Eigen::Index row, Eigen::Index col, Shape shape);
// A stretched to `shape` (broadcasting: a dimension of 1 repeats) as products with 𝟙, and
// its adjoint: A summed back to `shape` over the dimensions that were stretched.
template <class T>
Expr<T> stretch(const Expr<T>& a, Shape shape);
template <class T>
Expr<T> reduce(const Expr<T>& a, Shape shape);

namespace detail {
// What an op's symbolic rule sees of its node (filled by ad::explain).
template <class T>
struct SymbolicNode {
  std::vector<Expr<T>> x{};                           // the inputs' values
  std::vector<Eigen::Map<const Matrix<T>>> values{};  // and their numbers
  std::vector<bool> wants{};
  Expr<T> y{};
  Eigen::Map<const Matrix<T>> y_value{nullptr, 0, 0};
  Expr<T> ybar{};
  void* saved = nullptr;
};
}  // namespace detail

// An op's node as its symbolic rule sees it: the inputs' and the output's values as
// expressions x(i) and y(), the output's adjoint ybar() (C̄), the numbers behind them (for a
// rule that depends on them, as det's does) and the op's saved state.
template <class T, class Saved>  // Saved = void, declared in ad/tape.hpp
class Symbolic {
 public:
  explicit Symbolic(const detail::SymbolicNode<T>& node) : node_(&node) {}
  template <class Other>
  explicit Symbolic(const Symbolic<T, Other>& s) : node_(s.node_) {}

  int arity() const { return static_cast<int>(node_->x.size()); }
  const Expr<T>& x(int i) const { return node_->x[static_cast<std::size_t>(i)]; }
  const Expr<T>& y() const { return node_->y; }
  const Expr<T>& ybar() const { return node_->ybar; }
  Eigen::Map<const Matrix<T>> x_value(int i) const {
    return node_->values[static_cast<std::size_t>(i)];
  }
  Eigen::Map<const Matrix<T>> y_value() const { return node_->y_value; }
  bool wants(int i) const { return node_->wants[static_cast<std::size_t>(i)]; }
  std::add_lvalue_reference_t<const Saved> saved() const requires(!std::is_void_v<Saved>) {
    return *static_cast<const Saved*>(node_->saved);
  }

 private:
  template <class, class>
  friend class Symbolic;
  const detail::SymbolicNode<T>* node_;
};

}  // namespace ad
