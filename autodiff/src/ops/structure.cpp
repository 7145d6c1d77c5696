// Structure: reshaping, parts of a matrix, concatenation and explicit broadcasting. Sizes
// come from the node's and its inputs' shapes; a block's offsets are kept in the node's
// constants (exact in T, checked when recorded).

#include "support.hpp"

#include <limits>

namespace ad {
namespace {

// C = A reshaped (column-major)  Ā += C̄ reshaped back
template <class T>
struct Reshape {
  static void value(const Rule<T>& r) {
    auto c = r.y();
    c = r.x(0).reshaped(c.rows(), c.cols());
  }
  static void adjoint(const Rule<T>& r) {
    auto cbar = r.ybar();
    r.xbar(0).reshaped(cbar.rows(), cbar.cols()) += cbar;
  }
};

template <class T>
Eigen::Index offset(const Rule<T>& r, int k) {
  return static_cast<Eigen::Index>(r.constant(k));
}

// C = A[i:i+r, j:j+c]           Ā[i:i+r, j:j+c] += C̄
template <class T>
struct Block {
  static void value(const Rule<T>& r) {
    auto c = r.y();
    c = r.x(0).block(offset(r, 0), offset(r, 1), c.rows(), c.cols());
  }
  static void adjoint(const Rule<T>& r) {
    auto cbar = r.ybar();
    r.xbar(0).block(offset(r, 0), offset(r, 1), cbar.rows(), cbar.cols()) += cbar;
  }
};

// C = [A B]                     Ā += C̄[:, A's columns] ;  B̄ += C̄[:, B's columns]
template <class T>
struct Hcat {
  static void value(const Rule<T>& r) {
    r.y().leftCols(r.x(0).cols()) = r.x(0);
    r.y().rightCols(r.x(1).cols()) = r.x(1);
  }
  static void adjoint(const Rule<T>& r) {
    if (r.wants(0)) r.xbar(0) += r.ybar().leftCols(r.x(0).cols());
    if (r.wants(1)) r.xbar(1) += r.ybar().rightCols(r.x(1).cols());
  }
};

// C = [A; B]                    Ā += C̄[A's rows, :] ;  B̄ += C̄[B's rows, :]
template <class T>
struct Vcat {
  static void value(const Rule<T>& r) {
    r.y().topRows(r.x(0).rows()) = r.x(0);
    r.y().bottomRows(r.x(1).rows()) = r.x(1);
  }
  static void adjoint(const Rule<T>& r) {
    if (r.wants(0)) r.xbar(0) += r.ybar().topRows(r.x(0).rows());
    if (r.wants(1)) r.xbar(1) += r.ybar().bottomRows(r.x(1).rows());
  }
};

// C = A stretched               Ā += reduce(C̄)
template <class T>
struct BroadcastTo {
  static void value(const Rule<T>& r) {
    auto c = r.y();
    c = detail::expand(r.x(0), c.rows(), c.cols());
  }
  static void adjoint(const Rule<T>& r) { detail::add_reduced(r, 0, r.ybar()); }
};

// Records a block of a under the name `op` (block, row or col).
template <class T>
Var<T> part(const char* op, const Var<T>& a, Eigen::Index row, Eigen::Index col, Eigen::Index rows,
            Eigen::Index cols, std::source_location where) {
  Tape<T>& tape = detail::tape_of(op, where, a);
  if (row < 0 || col < 0 || rows < 0 || cols < 0 || row + rows > a.rows() ||
      col + cols > a.cols()) {
    throw ShapeError(op, a.shape(), Shape{rows, cols},
                     fmt::format("the block at ({}, {}) does not lie inside the matrix", row, col),
                     where);
  }
  constexpr auto exact = Eigen::Index{1} << std::numeric_limits<T>::digits;
  if (row > exact || col > exact) {
    throw ShapeError(op, a.shape(), Shape{rows, cols},
                     fmt::format("offsets past {} cannot be recorded exactly on this tape", exact),
                     where);
  }
  return detail::record<Block<T>>(tape, op, {a}, {rows, cols}, where,
                                  {static_cast<T>(row), static_cast<T>(col)});
}

// Concatenates parts pairwise, left to right, one node per pair.
template <class Op, class T>
Var<T> concatenate(const char* op, std::span<const Var<T>> parts, bool side_by_side,
                   std::source_location where) {
  if (parts.empty()) {
    throw Error(fmt::format("{}: needs at least one part (at {})", op, to_string(where)));
  }
  Var<T> c = parts[0];
  detail::tape_of(op, where, c);  // a single part is returned as it is: still check it
  for (std::size_t k = 1; k < parts.size(); ++k) {
    const Var<T>& b = parts[k];
    Tape<T>& tape = detail::tape_of(op, where, c, b);
    if (side_by_side ? c.rows() != b.rows() : c.cols() != b.cols()) {
      throw ShapeError(op, c.shape(), b.shape(),
                       fmt::format("part {} must have the same number of {}", k,
                                   side_by_side ? "rows" : "columns"),
                       where);
    }
    const Shape shape =
        side_by_side ? Shape{c.rows(), c.cols() + b.cols()} : Shape{c.rows() + b.rows(), c.cols()};
    c = detail::record<Op>(tape, op, {c, b}, shape, where);
  }
  return c;
}

}  // namespace

template <class T>
Var<T> reshape(const Var<T>& a, Eigen::Index rows, Eigen::Index cols, std::source_location where) {
  Tape<T>& tape = detail::tape_of("reshape", where, a);
  if (rows < 0 || cols < 0 || rows * cols != a.rows() * a.cols()) {
    throw ShapeError("reshape", a.shape(), Shape{rows, cols},
                     "a reshape must keep the number of elements", where);
  }
  return detail::record<Reshape<T>>(tape, "reshape", {a}, {rows, cols}, where);
}

template <class T>
Var<T> block(const Var<T>& a, Eigen::Index row, Eigen::Index col, Eigen::Index rows,
             Eigen::Index cols, std::source_location where) {
  return part("block", a, row, col, rows, cols, where);
}

// a is checked before its shape is read, so that an invalid a is reported as row's or
// col's input, at the caller's line.
template <class T>
Var<T> row(const Var<T>& a, Eigen::Index i, std::source_location where) {
  detail::tape_of("row", where, a);
  return part("row", a, i, 0, 1, a.cols(), where);
}

template <class T>
Var<T> col(const Var<T>& a, Eigen::Index j, std::source_location where) {
  detail::tape_of("col", where, a);
  return part("col", a, 0, j, a.rows(), 1, where);
}

template <class T>
Var<T> hcat(std::span<const Var<T>> parts, std::source_location where) {
  return concatenate<Hcat<T>>("hcat", parts, true, where);
}

template <class T>
Var<T> vcat(std::span<const Var<T>> parts, std::source_location where) {
  return concatenate<Vcat<T>>("vcat", parts, false, where);
}

template <class T>
Var<T> broadcast_to(const Var<T>& a, Eigen::Index rows, Eigen::Index cols,
                    std::source_location where) {
  Tape<T>& tape = detail::tape_of("broadcast_to", where, a);
  const Shape target{rows, cols};
  if (rows < 0 || cols < 0 ||
      detail::broadcast_shape("broadcast_to", a.shape(), target, where) != target) {
    throw ShapeError("broadcast_to", a.shape(), target,
                     "only a dimension of 1 can stretch, and no dimension can shrink", where);
  }
  return detail::record<BroadcastTo<T>>(tape, "broadcast_to", {a}, target, where);
}

template Var<float> reshape(const Var<float>&, Eigen::Index, Eigen::Index, std::source_location);
template Var<double> reshape(const Var<double>&, Eigen::Index, Eigen::Index, std::source_location);
template Var<float> block(const Var<float>&, Eigen::Index, Eigen::Index, Eigen::Index, Eigen::Index,
                          std::source_location);
template Var<double> block(const Var<double>&, Eigen::Index, Eigen::Index, Eigen::Index,
                           Eigen::Index, std::source_location);
template Var<float> row(const Var<float>&, Eigen::Index, std::source_location);
template Var<double> row(const Var<double>&, Eigen::Index, std::source_location);
template Var<float> col(const Var<float>&, Eigen::Index, std::source_location);
template Var<double> col(const Var<double>&, Eigen::Index, std::source_location);
template Var<float> hcat(std::span<const Var<float>>, std::source_location);
template Var<double> hcat(std::span<const Var<double>>, std::source_location);
template Var<float> vcat(std::span<const Var<float>>, std::source_location);
template Var<double> vcat(std::span<const Var<double>>, std::source_location);
template Var<float> broadcast_to(const Var<float>&, Eigen::Index, Eigen::Index,
                                 std::source_location);
template Var<double> broadcast_to(const Var<double>&, Eigen::Index, Eigen::Index,
                                  std::source_location);

}  // namespace ad
