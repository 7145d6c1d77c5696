// Structure: reshaping, parts of a matrix, concatenation and explicit broadcasting. Sizes
// come from the node's and its inputs' shapes; a block's offsets are its saved state.

#include "support.hpp"

namespace ad {
namespace {

template <class T>
struct Reshape {
  static constexpr OpInfo info{.name = "reshape",
                               .value = "C = A reshaped to r x c, column-major order kept",
                               .adjoint = "Ā += C̄ reshaped back",
                               .domain = "total (same element count)"};
  static void value(const Rule<T>& r) {
    auto c = r.y();
    c = r.x(0).reshaped(c.rows(), c.cols());
  }
  static void adjoint(const Rule<T>& r) {
    auto cbar = r.ybar();
    r.accumulate(0, cbar.reshaped(r.x(0).rows(), r.x(0).cols()));
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    const Shape a = s.x(0).shape();
    return map<T>(fmt::format("reshape({{}}, {}, {})", a.rows, a.cols), s.ybar(), a,
                  [a](const Matrix<T>& c) { return Matrix<T>(c.reshaped(a.rows, a.cols)); });
  }
};

template <class T>
struct Block {
  static constexpr OpInfo info{.name = "block",
                               .value = "C = A[i:i+r, j:j+c]",
                               .adjoint = "Ā[i:i+r, j:j+c] += C̄",
                               .domain = "total (the block inside A)"};
  struct Saved {
    Eigen::Index row, col;
  };
  static void value(const Rule<T, Saved>& r) {
    const auto [row, col] = r.saved();
    auto c = r.y();
    c = r.x(0).block(row, col, c.rows(), c.cols());
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const auto [row, col] = r.saved();
    auto cbar = r.ybar();
    r.xbar(0).block(row, col, cbar.rows(), cbar.cols()) += cbar;
  }
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    return embed(s.ybar(), s.saved().row, s.saved().col, s.x(0).shape());
  }
};

// row and col record a Block; each has a row of the table of its own.
constexpr OpInfo row_info{.name = "row",
                          .value = "C = A[i, :]",
                          .adjoint = "Ā[i, :] += C̄",
                          .domain = "total (the row inside A)"};
constexpr OpInfo col_info{.name = "col",
                          .value = "C = A[:, j]",
                          .adjoint = "Ā[:, j] += C̄",
                          .domain = "total (the column inside A)"};

template <class T>
struct Hcat {
  static constexpr OpInfo info{.name = "hcat",
                               .value = "C = [A B …] (equal rows)",
                               .adjoint = "Ā += C̄[:, A's columns] ; B̄ += C̄[:, B's columns] ; …",
                               .domain = "total"};
  static void value(const Rule<T>& r) {
    auto c = r.y();
    for (Eigen::Index i = 0, col = 0; i < r.arity(); col += r.x(int(i)).cols(), ++i) {
      c.middleCols(col, r.x(int(i)).cols()) = r.x(int(i));
    }
  }
  static void adjoint(const Rule<T>& r) {
    auto cbar = r.ybar();
    for (Eigen::Index i = 0, col = 0; i < r.arity(); col += r.x(int(i)).cols(), ++i) {
      if (r.wants(int(i))) r.accumulate(int(i), cbar.middleCols(col, r.x(int(i)).cols()));
    }
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int i) {
    Eigen::Index col = 0;
    for (int k = 0; k < i; ++k) col += s.x(k).cols();
    return block(s.ybar(), 0, col, s.x(i).rows(), s.x(i).cols());
  }
};

template <class T>
struct Vcat {
  static constexpr OpInfo info{.name = "vcat",
                               .value = "C = [A; B; …] (equal columns)",
                               .adjoint = "Ā += C̄[A's rows, :] ; B̄ += C̄[B's rows, :] ; …",
                               .domain = "total"};
  static void value(const Rule<T>& r) {
    auto c = r.y();
    for (Eigen::Index i = 0, row = 0; i < r.arity(); row += r.x(int(i)).rows(), ++i) {
      c.middleRows(row, r.x(int(i)).rows()) = r.x(int(i));
    }
  }
  static void adjoint(const Rule<T>& r) {
    auto cbar = r.ybar();
    for (Eigen::Index i = 0, row = 0; i < r.arity(); row += r.x(int(i)).rows(), ++i) {
      if (r.wants(int(i))) r.accumulate(int(i), cbar.middleRows(row, r.x(int(i)).rows()));
    }
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int i) {
    Eigen::Index row = 0;
    for (int k = 0; k < i; ++k) row += s.x(k).rows();
    return block(s.ybar(), row, 0, s.x(i).rows(), s.x(i).cols());
  }
};

template <class T>
struct BroadcastTo {
  static constexpr OpInfo info{.name = "broadcast_to",
                               .value = "C = A stretched to r x c (dimensions of 1 stretch)",
                               .adjoint = "Ā += reduce(C̄)",
                               .domain = "total"};
  static void value(const Rule<T>& r) {
    auto c = r.y();
    c = detail::expand(r.x(0), c.rows(), c.cols());
  }
  static void adjoint(const Rule<T>& r) { detail::add_reduced(r, 0, r.ybar()); }
  static Expr<T> symbolic(const Symbolic<T>& s, int) { return reduce(s.ybar(), s.x(0).shape()); }
};

// Records a block of a under the name `op` (block, row or col).
template <class T>
Var<T> part(const char* op, const Var<T>& a, Eigen::Index row, Eigen::Index col, Eigen::Index rows,
            Eigen::Index cols, std::source_location where) {
  Tape<T>& tape = detail::tape_of(op, where, a);
  // Each sum is formed only once both terms are known to be in [0, 2^31): no overflow.
  const bool inside = row >= 0 && col >= 0 && rows >= 0 && cols >= 0 && row <= a.rows() &&
                      col <= a.cols() && rows <= a.rows() - row && cols <= a.cols() - col;
  if (!inside) {
    throw ShapeError(op, a.shape(), Shape{rows, cols},
                     fmt::format("the block at ({}, {}) does not lie inside the matrix", row, col),
                     where);
  }
  return detail::record<Block<T>>(tape, op, {a}, {rows, cols}, where,
                                  typename Block<T>::Saved{row, col});
}

// Records one node holding every part, side by side (hcat) or stacked (vcat).
template <class Op, class T>
Var<T> concatenate(const char* op, std::span<const Var<T>> parts, bool side_by_side,
                   std::source_location where) {
  Tape<T>& tape = detail::tape_of(op, where, parts);
  if (parts.size() == 1) return parts[0];
  const Shape first = parts[0].shape();
  Shape shape = first;
  (side_by_side ? shape.cols : shape.rows) = 0;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const Shape s = parts[k].shape();
    if (side_by_side ? s.rows != first.rows : s.cols != first.cols) {
      throw ShapeError(op, first, s,
                       fmt::format("part {} must have the same number of {} as part 0", k,
                                   side_by_side ? "rows" : "columns"),
                       where);
    }
    // Each dimension is below 2^31, so the sum cannot overflow before the tape's shape
    // check rejects it.
    (side_by_side ? shape.cols : shape.rows) += side_by_side ? s.cols : s.rows;
  }
  return detail::record_inputs<Op>(tape, op, parts, shape, where, nullptr);
}

}  // namespace

template <class T>
Var<T> reshape(const Var<T>& a, Eigen::Index rows, Eigen::Index cols, std::source_location where) {
  Tape<T>& tape = detail::tape_of("reshape", where, a);
  // rows * cols is formed only where it cannot overflow.
  const Eigen::Index size = a.rows() * a.cols();
  const bool fits =
      rows >= 0 && cols >= 0 && (rows == 0 || cols <= size / rows) && rows * cols == size;
  if (!fits) {
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

#define AD_STRUCTURE(T)                                                                        \
  template Var<T> reshape(const Var<T>&, Eigen::Index, Eigen::Index, std::source_location);    \
  template Var<T> block(const Var<T>&, Eigen::Index, Eigen::Index, Eigen::Index, Eigen::Index, \
                        std::source_location);                                                 \
  template Var<T> row(const Var<T>&, Eigen::Index, std::source_location);                      \
  template Var<T> col(const Var<T>&, Eigen::Index, std::source_location);                      \
  template Var<T> hcat(std::span<const Var<T>>, std::source_location);                         \
  template Var<T> vcat(std::span<const Var<T>>, std::source_location);                         \
  template Var<T> broadcast_to(const Var<T>&, Eigen::Index, Eigen::Index, std::source_location);
AD_INSTANTIATE_OPS(AD_STRUCTURE)
#undef AD_STRUCTURE

#ifndef AD_DUAL_INSTANCES
namespace detail {
std::span<const OpInfo> structure_ops() {
  static constexpr OpInfo rows[] = {
      Reshape<double>::info, Block<double>::info,      row_info, col_info, Hcat<double>::info,
      Vcat<double>::info,    BroadcastTo<double>::info};
  return rows;
}
}  // namespace detail
#endif

}  // namespace ad
