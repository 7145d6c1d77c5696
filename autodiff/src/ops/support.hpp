#pragma once
// Helpers shared by the op definitions: finding the tape of an op's inputs, shape checks
// that throw ShapeError, and NumPy-style broadcasting with its reduction for adjoints.

#include <ad/ops.hpp>

#include <fmt/format.h>

namespace ad::detail {

// The tape all inputs are on; an ad::Error naming the op if one is empty, stale or from
// another tape.
template <class T, class... Rest>
Tape<T>& tape_of(const char* op, std::source_location where, const Var<T>& first,
                 const Rest&... rest) {
  if (first.empty()) {
    throw Error(fmt::format("{}: an empty (default-constructed) Var was used (at {})", op,
                            to_string(where)));
  }
  Tape<T>& tape = first.tape();
  tape.check(first, op, where);
  (tape.check(rest, op, where), ...);
  return tape;
}

// The shape of A and B broadcast together: per dimension, equal or one of them 1.
Shape broadcast_shape(const char* op, Shape a, Shape b, std::source_location where);

// Appends the node of op Op (a struct with static value() and adjoint() rules) and
// computes its value.
template <class Op, class T>
Var<T> record(Tape<T>& tape, const char* name, std::initializer_list<Var<T>> inputs, Shape shape,
              std::source_location where, std::array<T, 2> constants = {}) {
  Var<T> c = tape.record({name, inputs, shape, &Op::adjoint, constants}, where);
  Op::value(Rule<T>(tape, c.index()));
  if (tape.check_finite()) tape.require_finite(c);
  return c;
}

// Records a one-input elementwise op Op: C has A's shape; constants are its scalar
// arguments (pow's p, clamp's bounds).
template <class Op, class T>
Var<T> elementwise(const char* name, const Var<T>& a, std::source_location where,
                   std::array<T, 2> constants = {}) {
  Tape<T>& tape = tape_of(name, where, a);
  return record<Op>(tape, name, {a}, a.shape(), where, constants);
}

// Records a two-input op with NumPy broadcasting (add, subtract, hadamard, divide).
template <class Op, class T>
Var<T> broadcasting(const char* name, const Var<T>& a, const Var<T>& b,
                    std::source_location where) {
  Tape<T>& tape = tape_of(name, where, a, b);
  return record<Op>(tape, name, {a, b}, broadcast_shape(name, a.shape(), b.shape(), where), where);
}

// C = A B, or C += A B when Accumulate. Products as small as the seeds' 2x2 networks cost
// less as three plain loops than through Eigen's run-time dispatch for dynamic sizes
// (which is built for GEMM); anything larger goes to Eigen's GEMM. A and B may be
// transposed views.
template <bool Accumulate, class C, class A, class B>
void product(C&& c, const A& a, const B& b) {
  constexpr Eigen::Index small = 8 * 8 * 8;
  if (c.rows() * c.cols() * a.cols() > small) {
    if constexpr (Accumulate) {
      c.noalias() += a * b;
    } else {
      c.noalias() = a * b;
    }
    return;
  }
  for (Eigen::Index j = 0; j < c.cols(); ++j) {
    for (Eigen::Index i = 0; i < c.rows(); ++i) {
      typename std::decay_t<C>::Scalar sum = Accumulate ? c(i, j) : 0;
      for (Eigen::Index k = 0; k < a.cols(); ++k) sum += a(i, k) * b(k, j);
      c(i, j) = sum;
    }
  }
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

// dst += src summed over the dimensions where dst has size 1 and src does not: the
// adjoint of a broadcast.
template <class Dst, class Src>
void add_reduced(Dst&& dst, const Src& src) {
  if (dst.rows() == src.rows() && dst.cols() == src.cols()) {
    dst += src;
  } else if (dst.rows() == 1 && dst.cols() == 1) {
    dst(0, 0) += src.sum();
  } else if (dst.rows() == 1) {
    dst += src.colwise().sum();
  } else {
    dst += src.rowwise().sum();
  }
}

}  // namespace ad::detail
