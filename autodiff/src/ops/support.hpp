#pragma once
// Helpers shared by the op definitions: finding the tape of an op's inputs, shape checks
// that throw ShapeError, NumPy-style broadcasting with its reduction for adjoints, and the
// symbolic forms the linear-algebra ops' symbolic rules share.

#include <ad/custom_op.hpp>
#include <ad/op_table.hpp>
#include <ad/ops.hpp>

#include <ad/kernels/product.hpp>

#include <fmt/format.h>

// The scalar types a translation unit instantiates the ops for: float and double in
// src/ops/, ad::Dual<double> (for second derivatives) in src/second_order/, which compiles
// each op file again with AD_DUAL_INSTANCES defined. F is a macro of one scalar type.
#ifdef AD_DUAL_INSTANCES
#define AD_INSTANTIATE_OPS(F) F(Dual<double>)
#else
#define AD_INSTANTIATE_OPS(F) F(float) F(double)
#endif

namespace ad::detail {

// Each op family's rows of the op table (ad::op_table), defined in the family's file.
std::span<const OpInfo> linear_ops();
std::span<const OpInfo> broadcast_ops();
std::span<const OpInfo> elementwise_ops();
std::span<const OpInfo> math_ops();
std::span<const OpInfo> reduce_ops();
std::span<const OpInfo> axis_ops();
std::span<const OpInfo> algebra_ops();
std::span<const OpInfo> structure_ops();
std::span<const OpInfo> softmax_ops();
std::span<const OpInfo> losses_ops();
std::span<const OpInfo> cholesky_ops();
std::span<const OpInfo> decompositions_ops();
std::span<const OpInfo> matrix_functions_ops();

// ShapeError unless A is square and at least 1x1 (the factorising ops are undefined on
// nothing).
template <class T>
void require_square(const char* op, const Var<T>& a, std::source_location where) {
  if (a.rows() != a.cols() || a.rows() == 0) {
    throw ShapeError(op, a.shape(), "needs a square matrix of at least 1x1", where);
  }
}

// The shape of v, an input that tape_of has checked.
template <class T>
Shape shape_of(const Tape<T>& tape, const Var<T>& v) {
  return OpAccess<T>::shape(tape, v);
}

// The shape of A and B broadcast together: per dimension, equal or one of them 1.
Shape broadcast_shape(const char* op, Shape a, Shape b, std::source_location where);

// Records a one-input elementwise op Op: C has A's shape; saved is its Saved state, if any
// (pow's p, clamp's bounds).
template <class Op, class T, class... Saved>
[[gnu::always_inline]] inline Var<T> elementwise(const char* name, const Var<T>& a,
                                                 std::source_location where,
                                                 const Saved&... saved) {
  Tape<T>& tape = tape_of(name, where, a);
  return record<Op>(tape, name, {a}, shape_of(tape, a), where, saved...);
}

// Records a two-input op with NumPy broadcasting (add, subtract, hadamard, divide).
template <class Op, class T>
Var<T> broadcasting(const char* name, const Var<T>& a, const Var<T>& b,
                    std::source_location where) {
  Tape<T>& tape = tape_of(name, where, a, b);
  const Shape shape = broadcast_shape(name, shape_of(tape, a), shape_of(tape, b), where);
  return record<Op>(tape, name, {a, b}, shape, where);
}

// Āᵢ += A B for the rule's input i (assigned when first written in the sweep).
template <class T, class A, class B>
void add_product(const Rule<T>& r, int i, const A& a, const B& b) {
  auto [xbar, written] = OpAccess<T>::slot(r, i);
  kernels::product(xbar, a, b, written);
}

// The values and the tangents of a matrix of dual numbers, and the dual matrix made of them:
// for the ops whose tangent rule is written out (an iterative factorisation carries a tangent
// only as far as its iterations converge, so eigh and svd differentiate their factors by
// formula).
template <class M>
Matrix<double> values_of(const M& m) {
  return m.unaryExpr([](const Dual<double>& x) { return x.value; });
}
template <class M>
Matrix<double> tangents_of(const M& m) {
  return m.unaryExpr([](const Dual<double>& x) { return x.tangent; });
}
inline Matrix<Dual<double>> dual_of(const Matrix<double>& values, const Matrix<double>& tangents) {
  return values.binaryExpr(tangents, [](double v, double t) { return Dual<double>(v, t); });
}

// x stretched to rows x cols along the dimensions where it has size 1.
template <class X>
auto expand(const X& x, Eigen::Index rows, Eigen::Index cols) {
  return x.replicate(x.rows() == rows ? 1 : rows, x.cols() == cols ? 1 : cols);
}

// Calls f with x as it is when it already has the shape rows x cols (the common case,
// kept free of the replicate expression), else with x stretched to it.
template <class X, class F>
void with_expanded(const X& x, Eigen::Index rows, Eigen::Index cols, F f) {
  if (x.rows() == rows && x.cols() == cols) {
    f(x.array());
  } else {
    f(expand(x, rows, cols).array());
  }
}

// C = f(A, B) with A and B broadcast to C's shape; f works on Eigen arrays.
template <class T, class F>
void broadcast_into(const Rule<T>& r, F f) {
  auto a = r.x(0);
  auto b = r.x(1);
  auto c = r.y();
  if (a.rows() == b.rows() && a.cols() == b.cols()) {
    c.array() = f(a.array(), b.array());
  } else if (a.rows() == c.rows() && b.rows() == c.rows()) {
    // Only columns stretch (a bias added to every sample): column by column, vectorised,
    // rather than through replicate's index arithmetic per element.
    for (Eigen::Index j = 0; j < c.cols(); ++j) {
      c.col(j).array() =
          f(a.col(a.cols() == 1 ? 0 : j).array(), b.col(b.cols() == 1 ? 0 : j).array());
    }
  } else {
    c.array() = f(expand(a, c.rows(), c.cols()).array(), expand(b, c.rows(), c.cols()).array());
  }
}

// Āᵢ += src summed over the dimensions where input i has size 1 and src does not: the
// adjoint of a broadcast (assigned when first written in the sweep).
template <class T, class Src>
void add_reduced(const Rule<T>& r, int i, const Src& src) {
  const auto x = r.x(i);
  if (x.rows() == src.rows() && x.cols() == src.cols()) {
    r.accumulate(i, src);
  } else if (x.rows() == 1 && x.cols() == 1) {
    r.accumulate(i, Matrix<T>::Constant(1, 1, src.sum()));
  } else if (x.rows() == 1) {
    r.accumulate(i, src.colwise().sum());
  } else {
    r.accumulate(i, src.rowwise().sum());
  }
}

// sym(S) = ½(S + Sᵀ): how a rule reads a matrix it takes as symmetric, and the symmetric part
// of an adjoint.
template <class T>
Expr<T> symmetric_part(const Expr<T>& s) {
  return map<T>("sym({})", s, s.shape(),
                [](const Matrix<T>& m) { return Matrix<T>((m + m.transpose()) * T(0.5)); });
}

// tril(M) or triu(M): M with zeros outside the triangle; M itself if it is that triangle of
// something already (or a multiple of one, or an adjoint that is one).
template <class T>
Expr<T> triangle_of(const Expr<T>& m, Triangle triangle) {
  using Kind = typename Expr<T>::Kind;
  const bool lower = triangle == Triangle::lower;
  const char* format = lower ? "tril({})" : "triu({})";
  const Expr<T>* inner = &m;
  while (inner->kind() == Kind::adjoint ||
         (inner->kind() == Kind::affine && inner->node().beta == T(0))) {
    inner = &inner->node().args[0];
  }
  if (inner->kind() == Kind::map && inner->node().symbol == format) return m;
  return map<T>(format, m, m.shape(), [lower](const Matrix<T>& x) {
    return lower ? Matrix<T>(x.template triangularView<Eigen::Lower>())
                 : Matrix<T>(x.template triangularView<Eigen::Upper>());
  });
}

// A square input as a rule that reads only its triangle sees it: the input itself where the
// other triangle is zero already (a Cholesky or QR factor), else tril(X) or triu(X).
template <class T>
Expr<T> as_triangular(const Expr<T>& x, const Eigen::Map<const Matrix<T>>& value,
                      Triangle triangle) {
  const bool lower = triangle == Triangle::lower;
  for (Eigen::Index j = 0; j < value.cols(); ++j) {
    for (Eigen::Index i = 0; i < value.rows(); ++i) {
      if ((lower ? i < j : i > j) && value(i, j) != T(0)) return triangle_of(x, triangle);
    }
  }
  return x;
}

// T⁻¹, or T⁻ᵀ, of a matrix read as its triangle, by a triangular solve.
template <class T>
Expr<T> triangular_inverse(const Expr<T>& t, Triangle triangle, bool transposed) {
  const bool lower = triangle == Triangle::lower;
  return map<T>(transposed ? "{}⁻ᵀ" : "{}⁻¹", t, t.shape(),
                [lower, transposed](const Matrix<T>& m) {
                  Matrix<T> inverse = Matrix<T>::Identity(m.rows(), m.cols());
                  if (inverse.size() > 0) {
                    if (lower) {
                      m.template triangularView<Eigen::Lower>().solveInPlace(inverse);
                    } else {
                      m.template triangularView<Eigen::Upper>().solveInPlace(inverse);
                    }
                  }
                  if (transposed) inverse.transposeInPlace();
                  return inverse;
                });
}

}  // namespace ad::detail
