// The builders of symbolic expressions (ad/symbolic.hpp). Builders check shapes as the ops do and
// make the simplifications a person would: a unit seed left out of products, ⊙ and scaling; α = 1,
// β = 0 dropped; Aᵀᵀ = A.

#include <ad/symbolic.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace ad {
namespace {

template <class T>
using Node = typename Expr<T>::Node;
template <class T>
using Kind = typename Expr<T>::Kind;

template <class T>
Expr<T> make(Kind<T> kind, Shape shape, std::vector<Expr<T>> args = {}) {
  Node<T> n{.kind = kind, .shape = shape, .args = std::move(args)};
  return make_expr<T>(std::move(n));
}

template <class T>
void require_operands(const char* what, std::initializer_list<Expr<T>> operands) {
  for (const Expr<T>& e : operands) {
    if (e.empty()) throw Error(fmt::format("{}: an operand is an empty expression", what));
  }
}

template <class T>
void require_equal(const char* what, const Expr<T>& a, const Expr<T>& b) {
  require_operands(what, {a, b});
  if (a.shape() != b.shape()) {
    throw ShapeError(what, a.shape(), b.shape(), "an elementwise operation needs equal shapes",
                     std::source_location::current());
  }
}

// The 1x1 seed of 1, or an adjoint that is it: a factor of 1 in products and scaling.
template <class T>
bool unit(const Expr<T>& e) {
  return e.unit() || (e.kind() == Kind<T>::adjoint && unit(e.node().args[0]));
}

// A factor of 1 in ⊙: the unit seed, a column of ones, or an adjoint that is one of them.
template <class T>
bool elementwise_one(const Expr<T>& e) {
  if (e.unit() || e.kind() == Kind<T>::ones) return true;
  return e.kind() == Kind<T>::adjoint && elementwise_one(e.node().args[0]);
}

}  // namespace

template <class T>
Expr<T> make_expr(typename Expr<T>::Node node) {
  return Expr<T>(std::make_shared<const typename Expr<T>::Node>(std::move(node)));
}

template <class T>
Expr<T> operator*(const Expr<T>& a, const Expr<T>& b) {
  require_operands("product", {a, b});
  if (a.cols() != b.rows()) {
    throw ShapeError("product", a.shape(), b.shape(),
                     fmt::format("A has {} columns but B has {} rows", a.cols(), b.rows()),
                     std::source_location::current());
  }
  if (unit(a)) return b;
  if (unit(b)) return a;
  return make<T>(Kind<T>::product, {a.rows(), b.cols()}, {a, b});
}

template <class T>
Expr<T> operator+(const Expr<T>& a, const Expr<T>& b) {
  require_equal("sum", a, b);
  if (a.kind() == Kind<T>::zero) return b;
  if (b.kind() == Kind<T>::zero) return a;
  return make<T>(Kind<T>::sum, a.shape(), {a, b});
}

template <class T>
Expr<T> operator-(const Expr<T>& a) {
  return affine(a, T(-1), T(0));
}

template <class T>
Expr<T> operator-(const Expr<T>& a, const Expr<T>& b) {
  return a + -b;
}

template <class T>
Expr<T> operator*(std::type_identity_t<T> alpha, const Expr<T>& a) {
  return affine(a, alpha, T(0));
}

template <class T>
Expr<T> affine(const Expr<T>& a, std::type_identity_t<T> alpha, std::type_identity_t<T> beta) {
  require_operands<T>("affine", {a});
  if (alpha == T(1) && beta == T(0)) return a;
  if (a.kind() == Kind<T>::affine && beta == T(0) && a.node().beta == T(0)) {
    return affine(a.node().args[0], alpha * a.node().alpha, T(0));
  }
  Node<T> n{.kind = Kind<T>::affine, .shape = a.shape(), .args = {a}};
  n.alpha = alpha;
  n.beta = beta;
  return make_expr<T>(std::move(n));
}

template <class T>
Expr<T> transpose(const Expr<T>& a) {
  require_operands<T>("transpose", {a});
  if (a.kind() == Kind<T>::transpose) return a.node().args[0];
  if (a.unit()) return a;
  return make<T>(Kind<T>::transpose, {a.cols(), a.rows()}, {a});
}

template <class T>
Expr<T> hadamard(const Expr<T>& a, const Expr<T>& b) {
  require_equal("hadamard", a, b);
  // A 1x1 seed of 1 and a column of ones are factors of 1.
  if (elementwise_one(a)) return b;
  if (elementwise_one(b)) return a;
  return make<T>(Kind<T>::hadamard, a.shape(), {a, b});
}

template <class T>
Expr<T> quotient(const Expr<T>& a, const Expr<T>& b) {
  require_equal("quotient", a, b);
  return make<T>(Kind<T>::quotient, a.shape(), {a, b});
}

template <class T>
Expr<T> scaled(const Expr<T>& c, const Expr<T>& a) {
  require_operands("scaled", {c, a});
  if (c.rows() != 1 || c.cols() != 1) {
    throw ShapeError("scaled", c.shape(), a.shape(), "the factor must be 1x1",
                     std::source_location::current());
  }
  if (unit(c)) return a;
  if (a.rows() == 1 && a.cols() == 1) return c * a;
  return make<T>(Kind<T>::scaled, a.shape(), {c, a});
}

template <class T>
Expr<T> ones(Eigen::Index n) {
  return make<T>(Kind<T>::ones, {n, 1});
}

template <class T>
Expr<T> identity(Eigen::Index n) {
  return make<T>(Kind<T>::identity, {n, n});
}

template <class T>
Expr<T> zero(Shape shape) {
  return make<T>(Kind<T>::zero, shape);
}

template <class T>
Expr<T> literal(std::string name, Matrix<T> m) {
  Node<T> n{.kind = Kind<T>::literal, .shape = {m.rows(), m.cols()}};
  n.symbol = std::move(name);
  n.matrix = std::move(m);
  return make_expr<T>(std::move(n));
}

template <class T>
Expr<T> map(std::string format, const Expr<T>& a, Shape shape,
            std::function<Matrix<T>(const Matrix<T>&)> f) {
  require_operands<T>("map", {a});
  Node<T> n{.kind = Kind<T>::map, .shape = shape, .args = {a}};
  n.symbol = std::move(format);
  n.function = [f = std::move(f)](const std::vector<Matrix<T>>& x) { return f(x[0]); };
  return make_expr<T>(std::move(n));
}

template <class T>
Expr<T> map(std::string format, const Expr<T>& a, const Expr<T>& b, Shape shape,
            std::function<Matrix<T>(const Matrix<T>&, const Matrix<T>&)> f) {
  require_operands<T>("map", {a, b});
  Node<T> n{.kind = Kind<T>::map, .shape = shape, .args = {a, b}};
  n.symbol = std::move(format);
  n.function = [f = std::move(f)](const std::vector<Matrix<T>>& x) { return f(x[0], x[1]); };
  return make_expr<T>(std::move(n));
}

template <class T>
Expr<T> map_elements(std::string format, const Expr<T>& a, std::function<T(T)> f) {
  return map<T>(std::move(format), a, a.shape(),
                [f = std::move(f)](const Matrix<T>& m) -> Matrix<T> { return m.unaryExpr(f); });
}

template <class T>
Expr<T> derivative(std::string name, const Expr<T>& a, const Expr<T>& spelt) {
  require_equal("derivative", a, spelt);
  Node<T> n{.kind = Kind<T>::derivative, .shape = a.shape(), .args = {a, spelt}};
  n.symbol = std::move(name);
  return make_expr<T>(std::move(n));
}

template <class T>
Expr<T> block(const Expr<T>& a, Eigen::Index row, Eigen::Index col, Eigen::Index rows,
              Eigen::Index cols) {
  require_operands<T>("block", {a});
  if (row == 0 && col == 0 && rows == a.rows() && cols == a.cols()) return a;
  Node<T> n{.kind = Kind<T>::block, .shape = {rows, cols}, .args = {a}};
  n.row = row;
  n.col = col;
  return make_expr<T>(std::move(n));
}

template <class T>
Expr<T> embed(const Expr<T>& a, Eigen::Index row, Eigen::Index col, Shape shape) {
  require_operands<T>("embed", {a});
  if (a.shape() == shape) return a;
  Node<T> n{.kind = Kind<T>::embed, .shape = shape, .args = {a}};
  n.row = row;
  n.col = col;
  return make_expr<T>(std::move(n));
}

template <class T>
Expr<T> stretch(const Expr<T>& a, Shape shape) {
  require_operands<T>("stretch", {a});
  Expr<T> e = a;
  if (e.rows() != shape.rows) e = ones<T>(shape.rows) * e;             // 𝟙 A: rows repeat
  if (e.cols() != shape.cols) e = e * transpose(ones<T>(shape.cols));  // A 𝟙ᵀ: columns repeat
  return e;
}

template <class T>
Expr<T> reduce(const Expr<T>& a, Shape shape) {
  require_operands<T>("reduce", {a});
  Expr<T> e = a;
  if (shape.rows != e.rows()) e = transpose(ones<T>(e.rows())) * e;  // 𝟙ᵀ A: sums columns
  if (shape.cols != e.cols()) e = e * ones<T>(e.cols());             // A 𝟙: sums rows
  return e;
}

#define AD_SYMBOLIC_INSTANTIATE(T)                                                                \
  template Expr<T> make_expr<T>(Expr<T>::Node);                                                   \
  template Expr<T> operator*(const Expr<T>&, const Expr<T>&);                                     \
  template Expr<T> operator+(const Expr<T>&, const Expr<T>&);                                     \
  template Expr<T> operator-(const Expr<T>&, const Expr<T>&);                                     \
  template Expr<T> operator-(const Expr<T>&);                                                     \
  template Expr<T> operator*(T, const Expr<T>&);                                                  \
  template Expr<T> affine(const Expr<T>&, T, T);                                                  \
  template Expr<T> transpose(const Expr<T>&);                                                     \
  template Expr<T> hadamard(const Expr<T>&, const Expr<T>&);                                      \
  template Expr<T> quotient(const Expr<T>&, const Expr<T>&);                                      \
  template Expr<T> scaled(const Expr<T>&, const Expr<T>&);                                        \
  template Expr<T> ones<T>(Eigen::Index);                                                         \
  template Expr<T> identity<T>(Eigen::Index);                                                     \
  template Expr<T> zero<T>(Shape);                                                                \
  template Expr<T> literal(std::string, Matrix<T>);                                               \
  template Expr<T> map(std::string, const Expr<T>&, Shape,                                        \
                       std::function<Matrix<T>(const Matrix<T>&)>);                               \
  template Expr<T> map(std::string, const Expr<T>&, const Expr<T>&, Shape,                        \
                       std::function<Matrix<T>(const Matrix<T>&, const Matrix<T>&)>);             \
  template Expr<T> map_elements(std::string, const Expr<T>&, std::function<T(T)>);                \
  template Expr<T> derivative(std::string, const Expr<T>&, const Expr<T>&);                       \
  template Expr<T> block(const Expr<T>&, Eigen::Index, Eigen::Index, Eigen::Index, Eigen::Index); \
  template Expr<T> embed(const Expr<T>&, Eigen::Index, Eigen::Index, Shape);                      \
  template Expr<T> stretch(const Expr<T>&, Shape);                                                \
  template Expr<T> reduce(const Expr<T>&, Shape);

AD_SYMBOLIC_INSTANTIATE(float)
AD_SYMBOLIC_INSTANTIATE(double)
#undef AD_SYMBOLIC_INSTANTIATE

}  // namespace ad
