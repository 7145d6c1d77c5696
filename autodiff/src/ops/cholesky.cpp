// The Cholesky family: the factor itself, solves with triangular factors, and the log
// determinant of a symmetric positive-definite matrix. cholesky and logdet_spd factor
// ½(A + Aᵀ) with Eigen's blocked LLT in their value rules (so that a recording evaluated
// again factors its new input), into tape memory that the adjoint then reads: cholesky's
// value is its factor; logdet_spd keeps its factor as saved state. Every adjoint is a
// few triangular solves and products of whole matrices (level-3 BLAS), none a loop of scalar
// updates.

#include "support.hpp"

#include <Eigen/Cholesky>

#include <algorithm>
#include <cmath>
#include <string_view>

namespace ad {
namespace {

using detail::as_triangular;
using detail::require_square;
using detail::symmetric_part;
using detail::triangle_of;
using detail::triangular_inverse;

template <class T>
using ConstMap = Eigen::Map<const Matrix<T>>;

// L, the lower Cholesky factor of ½(A + Aᵀ), with zeros above the diagonal; an
// ad::NumericError naming the op and the first pivot that is not positive (or not finite) if
// ½(A + Aᵀ) is not positive definite. Called by the value rules, so that a recording
// evaluated again factors its new A (and refuses it as the recording would).
template <class T>
void factor_spd(std::string_view op, const Eigen::Map<const Matrix<T>>& x, Eigen::Map<Matrix<T>> l,
                std::source_location where) {
  l.template triangularView<Eigen::Lower>() = (x + x.transpose()) * T(0.5);
  // Eigen's blocked right-looking factorisation in place; the index of the failing pivot,
  // or −1. (LLT's public interface says only that it failed, not where.)
  Eigen::Index failed = Eigen::internal::llt_inplace<T, Eigen::Lower>::blocked(l);
  // A NaN pivot passes Eigen's test (x ≤ 0 is false) and propagates down the diagonal.
  if (failed < 0 && !l.diagonal().allFinite()) {
    using std::isfinite;
    for (failed = 0; isfinite(l(failed, failed));) ++failed;
  }
  if (failed >= 0) {
    // The pivot that failed: the diagonal element less the squares of the row of L already
    // computed to its left (final in every block before it).
    const T pivot = x(failed, failed) - l.row(failed).head(failed).squaredNorm();
    throw NumericError(
        fmt::format("{}: the {}x{} matrix (read as ½(A + Aᵀ)) is not positive definite: pivot {} "
                    "(0-based) is {:.6g} (at {})",
                    op, x.rows(), x.cols(), failed, pivot, to_string(where)));
  }
  l.template triangularView<Eigen::StrictlyUpper>().setZero();
}

// ad::NumericError unless every diagonal element of the triangular matrix t is nonzero and
// finite (else a solve with it divides by zero); called by the value rules.
template <class T>
void require_nonzero_diagonal(std::string_view op, const Eigen::Map<const Matrix<T>>& t,
                              std::source_location where) {
  const auto d = t.diagonal();
  for (Eigen::Index i = 0; i < d.size(); ++i) {
    using std::isfinite;
    if (d(i) == T(0) || !isfinite(d(i))) {
      throw NumericError(fmt::format(
          "{}: the {}x{} triangular matrix is singular: diagonal element {} (0-based) is {} (at "
          "{})",
          op, t.rows(), t.cols(), i, d(i), to_string(where)));
    }
  }
}

// The adjoint of A = L Lᵀ, in place: on entry the lower triangle of `abar` holds L̄, on exit
// M, the gradient with respect to the lower triangle of A (the only part a factorisation
// reads). Murray (2016), "Differentiation of the Cholesky decomposition": the forward
// algorithm's steps undone from the last column to the first. This unblocked form does
// O(n²) work per column with vector operations; blocked_cholesky_adjoint calls it for each
// diagonal block.
template <class L, class ABar>
void unblocked_cholesky_adjoint(const L& l, ABar&& abar) {
  const Eigen::Index n = l.rows();
  for (Eigen::Index j = n - 1; j >= 0; --j) {
    const Eigen::Index below = n - j - 1;
    // Column j was lⱼⱼ = √(aⱼⱼ − r rᵀ), c = (a_c − B rᵀ) / lⱼⱼ, with r = L[j, :j],
    // B = L[j+1:, :j], c = L[j+1:, j].
    auto r = l.row(j).head(j);
    auto b = l.bottomLeftCorner(below, j);
    auto c = l.col(j).tail(below);
    auto rbar = abar.row(j).head(j);
    auto bbar = abar.bottomLeftCorner(below, j);
    auto cbar = abar.col(j).tail(below);
    const auto d = l(j, j);
    auto dbar = abar(j, j) - c.dot(cbar) / d;  // l̄ⱼⱼ, with c's dependence on lⱼⱼ
    dbar /= d;                                 // ā of aⱼⱼ − r rᵀ, twice over
    cbar /= d;                                 // ā_c
    rbar -= dbar * r;
    rbar.noalias() -= cbar.transpose() * b;
    bbar.noalias() -= cbar * r;
    abar(j, j) = dbar / 2;
  }
}

// The same by blocks of columns, last block first, so that the work is matrix products
// (level-3 BLAS) with about twice the forward factorisation's flops. For the block [j, k):
// R = L[j:k, :j], D = L[j:k, j:k], B = L[k:, :j], C = L[k:, j:k], and the forward step was
// D = chol(A_D − R Rᵀ), C = (A_C − B Rᵀ) D⁻ᵀ.
template <class T, class L>
void cholesky_adjoint(const L& l, Matrix<T>& abar) {
  constexpr Eigen::Index block = 64;  // fastest of 32 to 256 at n = 1000
  const Eigen::Index n = l.rows();
  for (Eigen::Index k = n; k > 0; k -= block) {
    const Eigen::Index j = std::max<Eigen::Index>(0, k - block), size = k - j, rest = n - k;
    const auto r = l.block(j, 0, size, j);
    const auto d = l.block(j, j, size, size);
    const auto b = l.block(k, 0, rest, j);
    const auto c = l.block(k, j, rest, size);
    auto rbar = abar.block(j, 0, size, j);
    auto dbar = abar.block(j, j, size, size);
    auto bbar = abar.block(k, 0, rest, j);
    auto cbar = abar.block(k, j, rest, size);
    if (rest > 0) {
      d.template triangularView<Eigen::Lower>().template solveInPlace<Eigen::OnTheRight>(cbar);
      bbar.noalias() -= cbar * r;  // B̄ −= Ā_C R
      dbar.template triangularView<Eigen::Lower>() -= Matrix<T>(cbar.transpose() * c);
    }
    unblocked_cholesky_adjoint(d, dbar);  // Ā_D
    if (j > 0) {
      if (rest > 0) rbar.noalias() -= cbar.transpose() * b;  // R̄ −= Ā_Cᵀ B
      Matrix<T> symmetric = dbar.template triangularView<Eigen::Lower>();
      symmetric += symmetric.transpose().eval();
      rbar.noalias() -= symmetric * r;  // R̄ −= (Ā_D + Ā_Dᵀ) R
    }
  }
}

template <class T>
struct Cholesky {
  static constexpr OpInfo info{
      .name = "cholesky",
      .value = "L = chol(½(A + Aᵀ)), lower, with L Lᵀ = ½(A + Aᵀ)",
      .adjoint = "Ā += ½(S + Sᵀ), S = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹ (Φ: the lower triangle, its diagonal halved)",
      .domain = "NumericError naming the failing pivot if ½(A + Aᵀ) is not positive definite"};
  static void value(const Rule<T>& r) { factor_spd<T>(info.name, r.x(0), r.y(), r.where()); }
  // Murray's blocked algorithm (cholesky_adjoint) gives M = ∂/∂tril(A) from tril(L̄); A is
  // read as ½(A + Aᵀ), so Ā = ½(M + Mᵀ), which is the row's ½(S + Sᵀ).
  static void adjoint(const Rule<T>& r) {
    Matrix<T> m = r.ybar().template triangularView<Eigen::Lower>();
    cholesky_adjoint<T>(r.y(), m);
    m.template triangularView<Eigen::StrictlyLower>() *= T(0.5);
    m.template triangularView<Eigen::StrictlyUpper>() = m.transpose().eval();
    r.accumulate(0, m);
  }
  // Ā = sym(L⁻ᵀ Φ(Lᵀ tril(L̄)) L⁻¹): the row's formula, with the triangle of L̄ the rule reads.
  static Expr<T> symbolic(const Symbolic<T>& s, int) {
    const Expr<T>& l = s.y();
    const Expr<T> inner = transpose(l) * triangle_of(s.ybar(), Triangle::lower);
    const Expr<T> phi = map<T>("Φ({})", inner, inner.shape(), [](const Matrix<T>& m) {
      Matrix<T> lower = m.template triangularView<Eigen::Lower>();
      lower.diagonal() *= T(0.5);
      return lower;
    });
    return symmetric_part(triangular_inverse(l, Triangle::lower, true) * phi *
                          triangular_inverse(l, Triangle::lower, false));
  }
};

template <class T>
struct TriangularSolve {
  static constexpr OpInfo info{
      .name = "triangular_solve",
      .value = "X = op(T)⁻¹ B, T's lower or upper triangle, op(T) = T or Tᵀ",
      .adjoint = "B̄ += op(T)⁻ᵀ X̄ ;  T̄ += −tri(op(T)⁻ᵀ X̄ Xᵀ) (or its transpose for op(T) = Tᵀ)",
      .domain = "NumericError if a diagonal element of T is 0 or not finite"};
  struct Saved {
    Triangle triangle;
    Transposed transposed;
  };
  // x = op(T)⁻¹ x (for the adjoint: op(T)⁻ᵀ x) in place; Eigen's triangular solves read a
  // coefficient of an empty right-hand side, so that is skipped.
  template <class X>
  static void solve(const Rule<T, Saved>& r, X& x, bool for_adjoint) {
    if (x.size() == 0) return;
    const auto t = r.x(0);
    const bool with_transpose = (r.saved().transposed == Transposed::yes) != for_adjoint;
    if (r.saved().triangle == Triangle::lower) {
      if (with_transpose) {
        t.template triangularView<Eigen::Lower>().transpose().solveInPlace(x);
      } else {
        t.template triangularView<Eigen::Lower>().solveInPlace(x);
      }
    } else if (with_transpose) {
      t.template triangularView<Eigen::Upper>().transpose().solveInPlace(x);
    } else {
      t.template triangularView<Eigen::Upper>().solveInPlace(x);
    }
  }
  static void value(const Rule<T, Saved>& r) {
    require_nonzero_diagonal<T>(info.name, r.x(0), r.where());
    auto x = r.y();
    x = r.x(1);
    solve(r, x, false);
  }
  static void adjoint(const Rule<T, Saved>& r) {
    Matrix<T> g = r.ybar();  // G = op(T)⁻ᵀ X̄
    solve(r, g, true);
    if (r.wants(0)) {
      // op(T) = T: T̄ = −G Xᵀ; op(T) = Tᵀ: T̄ = −(G Xᵀ)ᵀ = −X Gᵀ; on T's triangle only.
      const Matrix<T> full = r.saved().transposed == Transposed::no
                                 ? Matrix<T>(-g * r.y().transpose())
                                 : Matrix<T>(-r.y() * g.transpose());
      auto tbar = r.xbar(0);
      if (r.saved().triangle == Triangle::lower) {
        tbar.template triangularView<Eigen::Lower>() += full;
      } else {
        tbar.template triangularView<Eigen::Upper>() += full;
      }
    }
    if (r.wants(1)) r.accumulate(1, g);
  }
  // G = op(T)⁻ᵀ X̄ (T⁻ᵀ X̄, or T⁻¹ X̄ for op(T) = Tᵀ): B̄ = G ;  T̄ = −tri(G Xᵀ), or −tri(X Gᵀ).
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int i) {
    const Triangle triangle = s.saved().triangle;
    const bool transposed = s.saved().transposed == Transposed::yes;
    const Expr<T> t = as_triangular(s.x(0), s.x_value(0), triangle);
    const Expr<T> g = triangular_inverse(t, triangle, !transposed) * s.ybar();
    if (i == 1) return g;
    return -triangle_of(transposed ? s.y() * transpose(g) : g * transpose(s.y()), triangle);
  }
};

template <class T>
struct CholeskySolve {
  static constexpr OpInfo info{.name = "cholesky_solve",
                               .value = "X = (L Lᵀ)⁻¹ B, L lower (a Cholesky factor)",
                               .adjoint = "B̄ += G, G = (L Lᵀ)⁻¹ X̄ ;  L̄ += −tril((G Xᵀ + X Gᵀ) L)",
                               .domain =
                                   "NumericError if a diagonal element of L is 0 or not "
                                   "finite; L's upper triangle is not read"};
  // x = (L Lᵀ)⁻¹ x in place.
  template <class X>
  static void solve(const Rule<T>& r, X& x) {
    if (x.size() == 0) return;
    const auto l = r.x(0).template triangularView<Eigen::Lower>();
    l.solveInPlace(x);
    l.transpose().solveInPlace(x);
  }
  static void value(const Rule<T>& r) {
    require_nonzero_diagonal<T>(info.name, r.x(0), r.where());
    auto x = r.y();
    x = r.x(1);
    solve(r, x);
  }
  static void adjoint(const Rule<T>& r) {
    Matrix<T> g = r.ybar();
    solve(r, g);
    if (r.wants(0)) {
      // K = L Lᵀ with K̄ = −G Xᵀ: L̄ = (K̄ + K̄ᵀ) L, formed as −G (LᵀX)ᵀ − X (LᵀG)ᵀ so that
      // it costs O(n² k) for k right-hand sides, not a product of two n x n matrices.
      const auto l = r.x(0).template triangularView<Eigen::Lower>();
      const auto x = r.y();
      const Matrix<T> ltx = l.transpose() * x;
      const Matrix<T> ltg = l.transpose() * g;
      r.xbar(0).template triangularView<Eigen::Lower>() -=
          g * ltx.transpose() + x * ltg.transpose();
    }
    if (r.wants(1)) r.accumulate(1, g);
  }
  // G = (L Lᵀ)⁻¹ X̄: B̄ = G ;  L̄ = −tril((G Xᵀ + X Gᵀ) L).
  static Expr<T> symbolic(const Symbolic<T>& s, int i) {
    const Expr<T> l = as_triangular(s.x(0), s.x_value(0), Triangle::lower);
    const Expr<T> k_inverse = map<T>("({0} {0}ᵀ)⁻¹", l, l.shape(), [](const Matrix<T>& m) {
      Matrix<T> inverse = Matrix<T>::Identity(m.rows(), m.cols());
      if (inverse.size() == 0) return inverse;
      const auto lower = m.template triangularView<Eigen::Lower>();
      lower.solveInPlace(inverse);
      lower.transpose().solveInPlace(inverse);
      return inverse;
    });
    const Expr<T> g = k_inverse * s.ybar();
    if (i == 1) return g;
    const Expr<T>& x = s.y();
    return -triangle_of((g * transpose(x) + x * transpose(g)) * l, Triangle::lower);
  }
};

template <class T>
struct LogdetSpd {
  static constexpr OpInfo info{
      .name = "logdet_spd",
      .value = "c = ln det ½(A + Aᵀ) = 2 Σᵢ ln Lᵢᵢ by Cholesky",
      .adjoint = "Ā += c̄ A⁻¹ (symmetric)",
      .domain = "NumericError naming the failing pivot if ½(A + Aᵀ) is not positive definite"};
  struct Saved {
    SavedMatrix<T> l;  // the factor, storage taken when recorded
  };
  static void value(const Rule<T, Saved>& r) {
    factor_spd<T>(info.name, r.x(0), r.saved().l.map(), r.where());
    r.y()(0, 0) = T(2) * r.saved().l.map().diagonal().array().log().sum();
  }
  static void adjoint(const Rule<T, Saved>& r) {
    // A⁻¹ = L⁻ᵀ L⁻¹: one triangular inverse, then its product with its transpose.
    const auto l = r.saved().l.map().template triangularView<Eigen::Lower>();
    const Eigen::Index n = r.saved().l.rows;
    Matrix<T> l_inv = Matrix<T>::Identity(n, n);
    l.solveInPlace(l_inv);
    Matrix<T> a_inv(n, n);
    a_inv.template triangularView<Eigen::Lower>() =
        l_inv.transpose().template triangularView<Eigen::Upper>() * l_inv;
    a_inv.template triangularView<Eigen::StrictlyUpper>() = a_inv.transpose().eval();
    r.accumulate(0, r.ybar()(0, 0) * a_inv);
  }
  // Ā = c̄ sym(A)⁻¹ (A itself where it is symmetric).
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    const auto value = s.x_value(0);
    const Expr<T> a = value == value.transpose() ? s.x(0) : symmetric_part(s.x(0));
    return scaled(
        s.ybar(), map<T>("{}⁻¹", a, a.shape(), [](const Matrix<T>& m) {
          return Matrix<T>(Eigen::LLT<Matrix<T>>(m).solve(Matrix<T>::Identity(m.rows(), m.cols())));
        }));
  }
};

}  // namespace

template <class T>
Var<T> cholesky(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("cholesky", where, a);
  require_square("cholesky", a, where);
  return detail::record<Cholesky<T>>(tape, "cholesky", {a}, a.shape(), where);
}

template <class T>
Var<T> triangular_solve(const Var<T>& t, const Var<T>& b, Triangle triangle, Transposed transposed,
                        std::source_location where) {
  Tape<T>& tape = detail::tape_of("triangular_solve", where, t, b);
  require_square("triangular_solve", t, where);
  if (b.rows() != t.rows()) {
    throw ShapeError("triangular_solve", t.shape(), b.shape(),
                     fmt::format("T has {} rows but B has {}", t.rows(), b.rows()), where);
  }
  return detail::record<TriangularSolve<T>>(tape, "triangular_solve", {t, b}, b.shape(), where,
                                            {triangle, transposed});
}

template <class T>
Var<T> cholesky_solve(const Var<T>& l, const Var<T>& b, std::source_location where) {
  Tape<T>& tape = detail::tape_of("cholesky_solve", where, l, b);
  require_square("cholesky_solve", l, where);
  if (b.rows() != l.rows()) {
    throw ShapeError("cholesky_solve", l.shape(), b.shape(),
                     fmt::format("L has {} rows but B has {}", l.rows(), b.rows()), where);
  }
  return detail::record<CholeskySolve<T>>(tape, "cholesky_solve", {l, b}, b.shape(), where);
}

template <class T>
Var<T> logdet_spd(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("logdet_spd", where, a);
  require_square("logdet_spd", a, where);
  const Eigen::Index n = a.rows();
  const SavedMatrix<T> l{detail::OpAccess<T>::template allocate<T>(tape, std::size_t(n * n)), n, n};
  return detail::record<LogdetSpd<T>>(tape, "logdet_spd", {a}, {1, 1}, where, {l});
}

#define AD_CHOLESKY(T)                                                                 \
  template Var<T> cholesky(const Var<T>&, std::source_location);                       \
  template Var<T> triangular_solve(const Var<T>&, const Var<T>&, Triangle, Transposed, \
                                   std::source_location);                              \
  template Var<T> cholesky_solve(const Var<T>&, const Var<T>&, std::source_location);  \
  template Var<T> logdet_spd(const Var<T>&, std::source_location);
AD_INSTANTIATE_OPS(AD_CHOLESKY)
#undef AD_CHOLESKY

#ifndef AD_DUAL_INSTANCES
namespace detail {
std::span<const OpInfo> cholesky_ops() {
  static constexpr OpInfo rows[] = {Cholesky<double>::info, TriangularSolve<double>::info,
                                    CholeskySolve<double>::info, LogdetSpd<double>::info};
  return rows;
}
}  // namespace detail
#endif

}  // namespace ad
