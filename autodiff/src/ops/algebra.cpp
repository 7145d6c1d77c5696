// Linear algebra beyond the product: trace, inverse, determinants, solves, inner and outer
// products, the Frobenius norm and diagonals. inverse, det, logdet and solve factor A once,
// with Eigen's LU, and keep the factors for their adjoints; a matrix whose reciprocal
// condition number is below machine epsilon counts as singular.

#include "support.hpp"

#include <Eigen/LU>
#include <Eigen/SVD>

#include <cmath>
#include <limits>

namespace ad {
namespace {

using detail::require_square;

// A's LU factorisation P A = L U, kept on the tape by the ops that use it (value and adjoint
// from one factorisation): L below the diagonal of `lu` (its unit diagonal implied), U on
// and above it; P as the row order of P A. Its storage is taken when the op is recorded;
// the value rule factors A into it, so that a recording evaluated again factors the new A.
template <class T>
struct SavedLU {
  SavedMatrix<T> lu;
  int* order;
  T rcond;  // Eigen's estimate of the reciprocal condition number; 0 if a pivot is 0 or not finite
  T sign;   // det P

  static SavedLU on(Tape<T>& tape, Eigen::Index n) {
    using Access = detail::OpAccess<T>;
    return {{Access::template allocate<T>(tape, std::size_t(n * n)), n, n},
            Access::template allocate<int>(tape, std::size_t(n)),
            T(0),
            T(1)};
  }
  void factor(const Eigen::Map<const Matrix<T>>& a) {
    Eigen::Map<Matrix<T>> f = lu.map();
    f = a;
    const Eigen::PartialPivLU<Eigen::Ref<Matrix<T>>> in_place(f);
    const auto& p = in_place.permutationP().indices();
    std::copy(p.data(), p.data() + lu.rows, order);
    sign = in_place.permutationP().determinant();
    // Eigen's estimate means nothing where a pivot is 0 or not finite (it returns 1 for a
    // matrix with a zero row).
    const auto pivots = f.diagonal().cwiseAbs();
    rcond = pivots.allFinite() && pivots.minCoeff() > T(0) ? in_place.rcond() : T(0);
  }
  // Throws ad::NumericError naming the op if A is singular to working precision: the value
  // rules of the ops that need a regular A call it, so a singular input leaves no node.
  void require_regular(std::string_view op, std::source_location where) const {
    if (!regular()) {
      throw NumericError(fmt::format(
          "{}: the {}x{} matrix is singular to working precision (reciprocal condition number "
          "{:.3g}) (at {})",
          op, lu.rows, lu.cols, rcond, to_string(where)));
    }
  }

  using Permutation = Eigen::Map<Eigen::PermutationMatrix<Eigen::Dynamic, Eigen::Dynamic, int>>;
  Permutation p() const { return Permutation(order, lu.rows); }
  auto l() const { return lu.map().template triangularView<Eigen::UnitLower>(); }
  auto u() const { return lu.map().template triangularView<Eigen::Upper>(); }

  // x = A⁻¹ x = U⁻¹ L⁻¹ P x
  // (Eigen's triangular solves read a coefficient of an empty right-hand side: skipped.)
  template <class X>
  void solve_in_place(X&& x) const {
    if (x.size() == 0) return;
    x = p() * x;
    l().solveInPlace(x);
    u().solveInPlace(x);
  }
  // A⁻ᵀ b = Pᵀ L⁻ᵀ U⁻ᵀ b
  template <class B>
  Matrix<T> solve_transposed(const B& b) const {
    Matrix<T> x = b;
    if (x.size() == 0) return x;
    u().transpose().solveInPlace(x);
    l().transpose().solveInPlace(x);
    return p().transpose() * x;
  }
  T determinant() const { return sign * lu.map().diagonal().prod(); }
  bool regular() const { return rcond > std::numeric_limits<T>::epsilon(); }
};

// A⁻ᵀ in a symbolic expression, computed afresh from A's value.
template <class T>
Expr<T> inverse_transpose(const Expr<T>& a) {
  return map<T>("{}⁻ᵀ", a, a.shape(), [](const Matrix<T>& m) {
    return Matrix<T>(m.partialPivLu().inverse().transpose());
  });
}

template <class T>
struct Trace {
  static constexpr OpInfo info{
      .name = "trace", .value = "c = tr A", .adjoint = "Ā += c̄ I", .domain = "total (square A)"};
  static void value(const Rule<T>& r) { r.y()(0, 0) = r.x(0).trace(); }
  static void adjoint(const Rule<T>& r) { r.xbar(0).diagonal().array() += r.ybar()(0, 0); }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    return scaled(s.ybar(), identity<T>(s.x(0).rows()));
  }
};

template <class T>
struct Inverse {
  static constexpr OpInfo info{
      .name = "inverse",
      .value = "C = A⁻¹",
      .adjoint = "Ā += −Cᵀ C̄ Cᵀ",
      .domain = "NumericError if A is singular (reciprocal condition number ≤ ε, or a zero pivot)"};
  struct Saved {
    SavedLU<T> a;
  };
  static void value(const Rule<T, Saved>& r) {
    SavedLU<T>& lu = r.saved().a;
    lu.factor(r.x(0));
    lu.require_regular(info.name, r.where());
    auto c = r.y();
    c.setIdentity();
    lu.solve_in_place(c);
  }
  static void adjoint(const Rule<T, Saved>& r) {
    auto c = r.y();
    const Matrix<T> cbar_ct = r.ybar() * c.transpose();
    r.accumulate(0, -(c.transpose() * cbar_ct));
  }
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    return -(transpose(s.y()) * s.ybar() * transpose(s.y()));
  }
};

// adj(A) = det(A) A⁻¹ for any A, from A = U S Vᵀ: adj(A) = det(V) det(U) V adj(S) Uᵀ with
// adj(S)ᵢᵢ = Πⱼ≠ᵢ sⱼ, which stays exact when A is singular (where det(A) A⁻¹ is 0 · ∞).
template <class T>
Matrix<T> adjugate(const Eigen::Ref<const Matrix<T>>& a) {
  const Eigen::JacobiSVD<Matrix<T>> svd(a, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const auto& s = svd.singularValues();
  const Eigen::Index n = s.size();
  Eigen::Matrix<T, Eigen::Dynamic, 1> others(n);
  T before = 1;  // product of the singular values before i, then times those after i
  for (Eigen::Index i = 0; i < n; ++i) {
    others(i) = before;
    before *= s(i);
  }
  T after = 1;
  for (Eigen::Index i = n; i-- > 0;) {
    others(i) *= after;
    after *= s(i);
  }
  const T sign = svd.matrixU().determinant() * svd.matrixV().determinant();
  return sign * svd.matrixV() * others.asDiagonal() * svd.matrixU().transpose();
}

template <class T>
struct Det {
  static constexpr OpInfo info{
      .name = "det",
      .value = "c = det A",
      .adjoint = "Ā += c̄ adj(A)ᵀ (= c̄ c A⁻ᵀ when A is well conditioned; by SVD otherwise)",
      .domain = "total: defined and differentiable at singular A"};
  struct Saved {
    SavedLU<T> a;
  };
  // c A⁻ᵀ loses accuracy as A nears singularity; the SVD form does not.
  static bool inverse_is_accurate(const SavedLU<T>& lu) {
    using std::sqrt;
    return lu.rcond > sqrt(std::numeric_limits<T>::epsilon());
  }
  static void value(const Rule<T, Saved>& r) {
    SavedLU<T>& lu = r.saved().a;
    lu.factor(r.x(0));
    // On dual numbers the SVD form would differentiate an iterative solver's steps, which
    // carry the tangent only as far as they converge: second derivatives near singularity
    // are refused rather than approximated.
    if constexpr (is_dual<T>) {
      if (!inverse_is_accurate(lu)) {
        throw NumericError(fmt::format(
            "{}: second derivatives of det at a nearly singular {}x{} matrix (reciprocal "
            "condition number {:.3g}) are not available (at {})",
            info.name, lu.lu.rows, lu.lu.cols, lu.rcond, to_string(r.where())));
      }
    }
    r.y()(0, 0) = lu.determinant();
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const SavedLU<T>& lu = r.saved().a;
    const T cbar = r.ybar()(0, 0);
    if (inverse_is_accurate(lu)) {
      const Eigen::Index n = lu.lu.rows;
      r.accumulate(0, (cbar * r.y()(0, 0)) * lu.solve_transposed(Matrix<T>::Identity(n, n)));
    } else if constexpr (!is_dual<T>) {
      r.accumulate(0, cbar * adjugate<T>(r.x(0)).transpose());
    }
  }
  // The same choice of form as the adjoint rule: c A⁻ᵀ while A is well conditioned.
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    if (s.saved().a.rcond > std::sqrt(std::numeric_limits<T>::epsilon())) {
      return scaled(s.ybar() * s.y(), inverse_transpose(s.x(0)));
    }
    return scaled(s.ybar(), map<T>("adj({})ᵀ", s.x(0), s.x(0).shape(), [](const Matrix<T>& a) {
                    return Matrix<T>(adjugate<T>(a).transpose());
                  }));
  }
};

template <class T>
struct Logdet {
  static constexpr OpInfo info{.name = "logdet",
                               .value = "c = ln |det A|",
                               .adjoint = "Ā += c̄ A⁻ᵀ",
                               .domain = "NumericError if A is singular"};
  struct Saved {
    SavedLU<T> a;
  };
  static void value(const Rule<T, Saved>& r) {
    SavedLU<T>& lu = r.saved().a;
    lu.factor(r.x(0));
    lu.require_regular(info.name, r.where());
    r.y()(0, 0) = lu.lu.map().diagonal().array().abs().log().sum();
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const SavedLU<T>& lu = r.saved().a;
    const Eigen::Index n = lu.lu.rows;
    r.accumulate(0, r.ybar()(0, 0) * lu.solve_transposed(Matrix<T>::Identity(n, n)));
  }
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    return scaled(s.ybar(), inverse_transpose(s.x(0)));
  }
};

template <class T>
struct Solve {
  static constexpr OpInfo info{.name = "solve",
                               .value = "X = A⁻¹ B, by LU, without forming A⁻¹",
                               .adjoint = "B̄ += A⁻ᵀ X̄ ; Ā += −A⁻ᵀ X̄ Xᵀ",
                               .domain = "NumericError if A is singular"};
  struct Saved {
    SavedLU<T> a;
  };
  static void value(const Rule<T, Saved>& r) {
    SavedLU<T>& lu = r.saved().a;
    lu.factor(r.x(0));
    lu.require_regular(info.name, r.where());
    auto x = r.y();
    x = r.x(1);
    lu.solve_in_place(x);
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const Matrix<T> g = r.saved().a.solve_transposed(r.ybar());  // A⁻ᵀ X̄
    if (r.wants(0)) r.accumulate(0, -(g * r.y().transpose()));
    if (r.wants(1)) r.accumulate(1, g);
  }
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int i) {
    const Expr<T> g = inverse_transpose(s.x(0)) * s.ybar();
    return i == 0 ? -(g * transpose(s.y())) : g;
  }
};

template <class T>
struct Dot {
  static constexpr OpInfo info{.name = "dot",
                               .value = "c = Σᵢⱼ Aᵢⱼ Bᵢⱼ (equal shapes)",
                               .adjoint = "Ā += c̄ B ; B̄ += c̄ A",
                               .domain = "total"};
  static void value(const Rule<T>& r) { r.y()(0, 0) = r.x(0).cwiseProduct(r.x(1)).sum(); }
  static void adjoint(const Rule<T>& r) {
    const T cbar = r.ybar()(0, 0);
    if (r.wants(0)) r.accumulate(0, cbar * r.x(1));
    if (r.wants(1)) r.accumulate(1, cbar * r.x(0));
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int i) { return scaled(s.ybar(), s.x(1 - i)); }
};

template <class T>
struct Outer {
  static constexpr OpInfo info{.name = "outer",
                               .value = "C = x yᵀ (column vectors)",
                               .adjoint = "x̄ += C̄ y ; ȳ += C̄ᵀ x",
                               .domain = "total"};
  static void value(const Rule<T>& r) { r.y().noalias() = r.x(0) * r.x(1).transpose(); }
  static void adjoint(const Rule<T>& r) {
    if (r.wants(0)) r.accumulate(0, r.ybar() * r.x(1));
    if (r.wants(1)) r.accumulate(1, r.ybar().transpose() * r.x(0));
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int i) {
    return i == 0 ? s.ybar() * s.x(1) : transpose(s.ybar()) * s.x(0);
  }
};

template <class T>
struct Norm {
  static constexpr OpInfo info{.name = "norm",
                               .value = "c = ‖A‖_F",
                               .adjoint = "Ā += c̄ A / c",
                               .domain = "total; subgradient 0 at A = 0"};
  static void value(const Rule<T>& r) { r.y()(0, 0) = r.x(0).norm(); }
  static void adjoint(const Rule<T>& r) {
    const T c = r.y()(0, 0);
    if (c > T(0)) r.accumulate(0, (r.ybar()(0, 0) / c) * r.x(0));
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    if (!(s.y_value()(0, 0) > T(0))) return {};
    return scaled(quotient(s.ybar(), s.y()), s.x(0));
  }
};

template <class T>
struct DiagMatrix {
  static constexpr OpInfo info{.name = "diag",
                               .also = "of a column vector",
                               .value = "C = diag(x)",
                               .adjoint = "x̄ += diag(C̄)",
                               .domain = "total"};
  static void value(const Rule<T>& r) { r.y() = r.x(0).col(0).asDiagonal(); }
  static void adjoint(const Rule<T>& r) { r.xbar(0).col(0) += r.ybar().diagonal(); }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    return map<T>("diag({})", s.ybar(), s.x(0).shape(),
                  [](const Matrix<T>& c) { return Matrix<T>(c.diagonal()); });
  }
};

template <class T>
struct DiagVector {
  static constexpr OpInfo info{.name = "diag",
                               .also = "of a square matrix",
                               .value = "c = diag(A)",
                               .adjoint = "Ā += diag(c̄) on the diagonal",
                               .domain = "total"};
  static void value(const Rule<T>& r) { r.y().col(0) = r.x(0).diagonal(); }
  static void adjoint(const Rule<T>& r) { r.xbar(0).diagonal() += r.ybar().col(0); }
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    return map<T>("diag({})", s.ybar(), s.x(0).shape(),
                  [](const Matrix<T>& c) { return Matrix<T>(c.col(0).asDiagonal()); });
  }
};

}  // namespace

template <class T>
Var<T> trace(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("trace", where, a);
  require_square("trace", a, where);
  return detail::record<Trace<T>>(tape, "trace", {a}, {1, 1}, where);
}

template <class T>
Var<T> inverse(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("inverse", where, a);
  require_square("inverse", a, where);
  return detail::record<Inverse<T>>(tape, "inverse", {a}, a.shape(), where,
                                    {SavedLU<T>::on(tape, a.rows())});
}

template <class T>
Var<T> det(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("det", where, a);
  require_square("det", a, where);
  return detail::record<Det<T>>(tape, "det", {a}, {1, 1}, where, {SavedLU<T>::on(tape, a.rows())});
}

template <class T>
Var<T> logdet(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("logdet", where, a);
  require_square("logdet", a, where);
  return detail::record<Logdet<T>>(tape, "logdet", {a}, {1, 1}, where,
                                   {SavedLU<T>::on(tape, a.rows())});
}

template <class T>
Var<T> solve(const Var<T>& a, const Var<T>& b, std::source_location where) {
  Tape<T>& tape = detail::tape_of("solve", where, a, b);
  require_square("solve", a, where);
  if (b.rows() != a.rows()) {
    throw ShapeError("solve", a.shape(), b.shape(),
                     fmt::format("A has {} rows but B has {}", a.rows(), b.rows()), where);
  }
  return detail::record<Solve<T>>(tape, "solve", {a, b}, b.shape(), where,
                                  {SavedLU<T>::on(tape, a.rows())});
}

template <class T>
Var<T> dot(const Var<T>& a, const Var<T>& b, std::source_location where) {
  Tape<T>& tape = detail::tape_of("dot", where, a, b);
  if (a.shape() != b.shape()) {
    throw ShapeError("dot", a.shape(), b.shape(), "the inner product needs equal shapes", where);
  }
  return detail::record<Dot<T>>(tape, "dot", {a, b}, {1, 1}, where);
}

template <class T>
Var<T> outer(const Var<T>& x, const Var<T>& y, std::source_location where) {
  Tape<T>& tape = detail::tape_of("outer", where, x, y);
  if (x.cols() != 1 || y.cols() != 1) {
    throw ShapeError("outer", x.shape(), y.shape(),
                     "x and y must be column vectors (n x 1); transpose a row vector first", where);
  }
  return detail::record<Outer<T>>(tape, "outer", {x, y}, {x.rows(), y.rows()}, where);
}

template <class T>
Var<T> norm(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("norm", where, a);
  return detail::record<Norm<T>>(tape, "norm", {a}, {1, 1}, where);
}

template <class T>
Var<T> diag(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("diag", where, a);
  if (a.cols() == 1 && a.rows() >= 1) {
    return detail::record<DiagMatrix<T>>(tape, "diag", {a}, {a.rows(), a.rows()}, where);
  }
  if (a.rows() == a.cols() && a.rows() >= 1) {
    return detail::record<DiagVector<T>>(tape, "diag", {a}, {a.rows(), 1}, where);
  }
  throw ShapeError("diag", a.shape(),
                   "needs a column vector (to make a diagonal matrix) or a square matrix (to "
                   "take its diagonal)",
                   where);
}

#define AD_ALGEBRA(T)                                                        \
  template Var<T> trace(const Var<T>&, std::source_location);                \
  template Var<T> inverse(const Var<T>&, std::source_location);              \
  template Var<T> det(const Var<T>&, std::source_location);                  \
  template Var<T> logdet(const Var<T>&, std::source_location);               \
  template Var<T> solve(const Var<T>&, const Var<T>&, std::source_location); \
  template Var<T> dot(const Var<T>&, const Var<T>&, std::source_location);   \
  template Var<T> outer(const Var<T>&, const Var<T>&, std::source_location); \
  template Var<T> norm(const Var<T>&, std::source_location);                 \
  template Var<T> diag(const Var<T>&, std::source_location);
AD_INSTANTIATE_OPS(AD_ALGEBRA)
#undef AD_ALGEBRA

#ifndef AD_DUAL_INSTANCES
namespace detail {
std::span<const OpInfo> algebra_ops() {
  static constexpr OpInfo rows[] = {
      Trace<double>::info,      Inverse<double>::info,   Det<double>::info,   Logdet<double>::info,
      Solve<double>::info,      Dot<double>::info,       Outer<double>::info, Norm<double>::info,
      DiagMatrix<double>::info, DiagVector<double>::info};
  return rows;
}
}  // namespace detail
#endif

}  // namespace ad
