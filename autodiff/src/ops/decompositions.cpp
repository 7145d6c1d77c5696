// Decompositions with several factors: the symmetric eigendecomposition (eigh_values,
// eigh_vectors), the thin SVD (singular_values, svd_u, svd_v) and the thin QR (qr_q, qr_r).
//
// A node holds one value, so each factor is an op of its own. The factorisation lives in tape
// memory taken when the op is recorded, and a value rule computes it (so that a recording
// evaluated again factors its new input); eigh(), svd() and qr() record the nodes of all the
// factors on one factorisation, which the first node's value rule computes and the others'
// read (nodes are evaluated in recording order). The adjoint of a decomposition is linear in its
// factors' adjoints (Ā = Σ over factors of a linear map of that factor's adjoint), so each
// node adds its own part and the sum is the whole adjoint, whichever factors are used.
//
// Signs are fixed so that each factor is a continuous function of A, as finite differences
// and optimisers assume: the largest-magnitude element of each eigenvector and of each left
// singular vector is positive (a singular vector pair flips together), and R's diagonal is
// positive (which makes the QR of a full-rank A unique).
//
// Repeated eigenvalues or singular values: the eigenvalues and singular values stay
// differentiable as symmetric functions (their formula does not divide by gaps). The
// vectors are not unique there; their adjoints leave out the terms 1 / (λⱼ − λᵢ) for gaps
// below working precision (and S⁻¹ for zero singular values), which is exact for any loss
// that does not depend on the choice of basis inside a repeated eigenspace (a projector onto
// it, a sum over it), where PyTorch returns Inf or NaN.

#include "support.hpp"

#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <Eigen/SVD>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

namespace ad {
namespace {

using detail::require_square;
using detail::symmetric_part;
using detail::triangular_inverse;

template <class T>
SavedMatrix<T> allocate_matrix(Tape<T>& tape, Eigen::Index rows, Eigen::Index cols) {
  return {detail::OpAccess<T>::template allocate<T>(tape, std::size_t(rows * cols)), rows, cols};
}

// Flips the sign of column j of `a` (and of each of `others`, which go with it) where the
// column's largest-magnitude element is negative.
template <class A, class... Others>
void fix_signs(A&& a, Others&&... others) {
  for (Eigen::Index j = 0; j < a.cols(); ++j) {
    Eigen::Index largest = 0;
    a.col(j).cwiseAbs().maxCoeff(&largest);
    if (a(largest, j) < 0) {
      a.col(j) *= -1;
      ((others.col(j) *= -1), ...);
    }
  }
}

// Fᵢⱼ = 1 / (dⱼ − dᵢ) for i ≠ j, 0 on the diagonal and where |dⱼ − dᵢ| is below working
// precision relative to the largest |d| (repeated values: see the top of this file).
template <class T, class D>
Matrix<T> inverse_gaps(const D& d) {
  const Eigen::Index k = d.size();
  const T scale = k == 0 ? T(0) : d.cwiseAbs().maxCoeff();
  const T tolerance = T(k) * std::numeric_limits<T>::epsilon() * scale;
  Matrix<T> f(k, k);
  for (Eigen::Index j = 0; j < k; ++j) {
    for (Eigen::Index i = 0; i < k; ++i) {
      const T gap = d(j) - d(i);
      using std::abs;
      f(i, j) = i == j || abs(gap) <= tolerance ? T(0) : T(1) / gap;
    }
  }
  return f;
}

// diag(x): the square matrix with the column x on its diagonal, in a symbolic rule.
template <class T>
Expr<T> diagonal_matrix(const Expr<T>& x) {
  return map<T>("diag({})", x, {x.rows(), x.rows()},
                [](const Matrix<T>& m) { return Matrix<T>(m.col(0).asDiagonal()); });
}

// A factor the op keeps as saved state (and that is no node of the tape), in a symbolic rule.
template <class T>
Expr<T> factor(std::string name, const SavedMatrix<T>& m) {
  return literal<T>(std::move(name), m.map());
}

// ---- eigh ----

// The eigendecomposition ½(A + Aᵀ) = V diag(λ) Vᵀ, λ ascending.
template <class T>
struct SavedEigh {
  SavedMatrix<T> values;   // n x 1
  SavedMatrix<T> vectors;  // n x n
};

template <class T>
SavedEigh<T> allocate_eigh(Tape<T>& tape, Eigen::Index n) {
  return {allocate_matrix(tape, n, 1), allocate_matrix(tape, n, n)};
}

template <class T>
Eigen::SelfAdjointEigenSolver<Matrix<T>> solve_eigh(std::string_view op, const Matrix<T>& symmetric,
                                                    std::source_location where) {
  Eigen::SelfAdjointEigenSolver<Matrix<T>> solver(symmetric);
  if (solver.info() != Eigen::Success || !solver.eigenvalues().allFinite()) {
    throw NumericError(fmt::format(
        "{}: the eigendecomposition of the {}x{} matrix failed (a NaN or Inf in it?) (at {})", op,
        symmetric.rows(), symmetric.cols(), to_string(where)));
  }
  return solver;
}

// On dual numbers, where the factors' tangents are written out: an ad::NumericError if two
// of the values d (eigenvalues, squared singular values) repeat to working precision, or
// (for the SVD) one is 0. There the tangents are not determined by the factors alone (the
// second derivative of a function of the eigenvalues needs its own divided differences), and a
// second derivative through them would be silently wrong.
template <class D>
void require_distinct(std::string_view op, const D& d, bool nonzero, std::source_location where) {
  const Matrix<double> gaps = inverse_gaps<double>(d);
  const Eigen::Index n = d.size();
  const double tolerance =
      double(n) * std::numeric_limits<double>::epsilon() * (n == 0 ? 0.0 : d.cwiseAbs().maxCoeff());
  const bool repeated = (gaps.array() == 0).count() > n;
  const bool zero = nonzero && (d.array().abs() <= tolerance).any();
  if (repeated || zero) {
    throw NumericError(
        fmt::format("{}: second derivatives where {} are not available (the values: {}) (at {})",
                    op, repeated ? "values repeat" : "a singular value is 0",
                    fmt::join(d.data(), d.data() + n, ", "), to_string(where)));
  }
}

// On dual numbers: the factorisation of the values, and the tangents by first-order
// perturbation, with P = Vᵀ Ȧ V:  λ̇ = diag(P) ;  V̇ = V (F ⊙ P), Fᵢⱼ = 1 / (λⱼ − λᵢ).
template <class T>
void factor_eigh(std::string_view op, const Eigen::Map<const Matrix<T>>& a, const SavedEigh<T>& f,
                 std::source_location where) {
  if constexpr (is_dual<T>) {
    const Matrix<double> values = detail::values_of(a), tangents = detail::tangents_of(a);
    const auto solver = solve_eigh<double>(op, (values + values.transpose()) * 0.5, where);
    require_distinct(op, solver.eigenvalues(), false, where);
    Matrix<double> v = solver.eigenvectors();
    fix_signs(v);
    const Matrix<double> p = v.transpose() * ((tangents + tangents.transpose()) * 0.5) * v;
    f.values.map() = detail::dual_of(solver.eigenvalues(), p.diagonal());
    f.vectors.map() =
        detail::dual_of(v, v * inverse_gaps<double>(solver.eigenvalues()).cwiseProduct(p));
  } else {
    const auto solver = solve_eigh<T>(op, (a + a.transpose()) * T(0.5), where);
    f.values.map() = solver.eigenvalues();
    f.vectors.map() = solver.eigenvectors();
    fix_signs(f.vectors.map());
  }
}

template <class T>
struct EighValues {
  static constexpr OpInfo info{
      .name = "eigh_values",
      .value = "λ = eigenvalues of ½(A + Aᵀ), ascending (n x 1)",
      .adjoint = "Ā += V diag(λ̄) Vᵀ",
      .domain =
          "total for finite A (NumericError for NaN or Inf); differentiable as a symmetric "
          "function where eigenvalues repeat"};
  struct Saved {
    SavedEigh<T> eigh;
    bool factors;  // whether this node's value rule computes the factorisation
  };
  static void value(const Rule<T, Saved>& r) {
    if (r.saved().factors) factor_eigh<T>(info.name, r.x(0), r.saved().eigh, r.where());
    r.y() = r.saved().eigh.values.map();
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const auto v = r.saved().eigh.vectors.map();
    r.accumulate(0, v * r.ybar().col(0).asDiagonal() * v.transpose());
  }
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    const Expr<T> v = factor("V", s.saved().eigh.vectors);
    return v * diagonal_matrix(s.ybar()) * transpose(v);
  }
};

template <class T>
struct EighVectors {
  static constexpr OpInfo info{
      .name = "eigh_vectors",
      .value = "V = eigenvectors of ½(A + Aᵀ) (columns, in the order of λ)",
      .adjoint = "Ā += ½(E + Eᵀ), E = V (F ⊙ Vᵀ V̄) Vᵀ, Fᵢⱼ = 1 / (λⱼ − λᵢ), 0 where λᵢ = λⱼ",
      .domain =
          "as eigh_values; where eigenvalues repeat, exact for losses that do not depend on "
          "the basis chosen inside the eigenspace"};
  struct Saved {
    SavedEigh<T> eigh;
    bool factors;  // whether this node's value rule computes the factorisation
  };
  static void value(const Rule<T, Saved>& r) {
    if (r.saved().factors) factor_eigh<T>(info.name, r.x(0), r.saved().eigh, r.where());
    r.y() = r.saved().eigh.vectors.map();
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const auto v = r.saved().eigh.vectors.map();
    const Matrix<T> inner =
        inverse_gaps<T>(r.saved().eigh.values.map().col(0)).cwiseProduct(v.transpose() * r.ybar());
    const Matrix<T> e = v * inner * v.transpose();
    r.accumulate(0, (e + e.transpose()) * T(0.5));
  }
  // Ā = sym(V (F ⊙ Vᵀ V̄) Vᵀ), V this node's value.
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    const Expr<T>& v = s.y();
    const Expr<T> f = literal<T>("F", inverse_gaps<T>(s.saved().eigh.values.map().col(0)));
    return symmetric_part(v * hadamard(f, transpose(v) * s.ybar()) * transpose(v));
  }
};

// ---- svd ----

// The thin SVD A = U diag(s) Vᵀ, s descending, k = min(m, n).
template <class T>
struct SavedSvd {
  SavedMatrix<T> u;  // m x k
  SavedMatrix<T> s;  // k x 1
  SavedMatrix<T> v;  // n x k

  // Sᵢ⁻¹, 0 where sᵢ is 0 to working precision.
  Eigen::Array<T, Eigen::Dynamic, 1> inverse_s() const {
    const auto values = s.map().col(0).array();
    const T tolerance = T(std::max(u.rows, v.rows)) * std::numeric_limits<T>::epsilon() *
                        (values.size() == 0 ? T(0) : values.maxCoeff());
    return (values > tolerance).select(values.inverse(), T(0));
  }
  // Fᵢⱼ = 1 / (sⱼ² − sᵢ²).
  Matrix<T> inverse_gaps_of_squares() const {
    return inverse_gaps<T>(s.map().col(0).array().square().matrix());
  }

  // The factors as a symbolic rule names them: U, V, S = diag(s), S⁻¹ (0 for a zero sᵢ) and F.
  Expr<T> u_factor() const { return factor("U", u); }
  Expr<T> v_factor() const { return factor("V", v); }
  Expr<T> s_factor() const { return literal<T>("S", s.map().col(0).asDiagonal()); }
  Expr<T> s_inverse_factor() const { return literal<T>("S⁻¹", inverse_s().matrix().asDiagonal()); }
  Expr<T> f_factor() const { return literal<T>("F", inverse_gaps_of_squares()); }
};

template <class T>
SavedSvd<T> allocate_svd(Tape<T>& tape, Eigen::Index m, Eigen::Index n) {
  const Eigen::Index k = std::min(m, n);
  return {allocate_matrix(tape, m, k), allocate_matrix(tape, k, 1), allocate_matrix(tape, n, k)};
}

// On dual numbers: the SVD of the values A, and the tangents by first-order perturbation,
// with P = Uᵀ Ȧ V and Fᵢⱼ = 1 / (sⱼ² − sᵢ²):
//   ṡ = diag(P) ;  U̇ = U (F ⊙ (P S + S Pᵀ)) + (I − U Uᵀ) Ȧ V S⁻¹ ;
//   V̇ = V (F ⊙ (S P + Pᵀ S)) + (I − V Vᵀ) Ȧᵀ U S⁻¹
// (repeated and zero singular values as in the adjoints: the terms dividing by them left out).
template <class T>
void factor_svd_dual(std::string_view op, const Matrix<double>& a, const Matrix<double>& tangents,
                     const SavedSvd<T>& f, std::source_location where) {
  const Eigen::JacobiSVD<Matrix<double>> svd(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
  Matrix<double> u = svd.matrixU(), v = svd.matrixV();
  Matrix<double> s = svd.singularValues();
  require_distinct(op, Eigen::VectorXd(s.col(0).array().square()), true, where);
  fix_signs(u, v);
  const SavedSvd<double> values{
      {u.data(), u.rows(), u.cols()}, {s.data(), s.rows(), 1}, {v.data(), v.rows(), v.cols()}};
  const Eigen::VectorXd s_inverse_values = values.inverse_s().matrix();
  const auto s_diagonal = s.col(0).asDiagonal();
  const auto s_inverse = s_inverse_values.asDiagonal();
  const Matrix<double> gaps = values.inverse_gaps_of_squares();
  const Matrix<double> p = u.transpose() * tangents * v;
  const Matrix<double> ps = p * s_diagonal, sp = s_diagonal * p;
  const Matrix<double> au = tangents * v, atu = tangents.transpose() * u;
  f.u.map() = detail::dual_of(
      u, u * gaps.cwiseProduct(ps + ps.transpose()) + (au - u * (u.transpose() * au)) * s_inverse);
  f.s.map() = detail::dual_of(s, p.diagonal());
  f.v.map() = detail::dual_of(v, v * gaps.cwiseProduct(sp + sp.transpose()) +
                                     (atu - v * (v.transpose() * atu)) * s_inverse);
}

template <class T>
void factor_svd(std::string_view op, const Eigen::Map<const Matrix<T>>& a, const SavedSvd<T>& f,
                std::source_location where) {
  if (!a.allFinite()) {
    throw NumericError(fmt::format("{}: the {}x{} matrix holds a NaN or Inf (at {})", op, a.rows(),
                                   a.cols(), to_string(where)));
  }
  if constexpr (is_dual<T>) {
    factor_svd_dual(op, detail::values_of(a), detail::tangents_of(a), f, where);
  } else {
    const Eigen::JacobiSVD<Matrix<T>> svd(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
    f.u.map() = svd.matrixU();
    f.s.map() = svd.singularValues();
    f.v.map() = svd.matrixV();
    fix_signs(f.u.map(), f.v.map());
  }
}

template <class T>
struct SingularValues {
  static constexpr OpInfo info{
      .name = "singular_values",
      .value = "s = singular values, descending (k x 1)",
      .adjoint = "Ā += U diag(s̄) Vᵀ",
      .domain =
          "total for finite A (NumericError for NaN or Inf); differentiable as a symmetric "
          "function where singular values repeat"};
  struct Saved {
    SavedSvd<T> svd;
    bool factors;  // whether this node's value rule computes the factorisation
  };
  static void value(const Rule<T, Saved>& r) {
    if (r.saved().factors) factor_svd<T>(info.name, r.x(0), r.saved().svd, r.where());
    r.y() = r.saved().svd.s.map();
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const SavedSvd<T>& f = r.saved().svd;
    r.accumulate(0, f.u.map() * r.ybar().col(0).asDiagonal() * f.v.map().transpose());
  }
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    const SavedSvd<T>& f = s.saved().svd;
    return f.u_factor() * diagonal_matrix(s.ybar()) * transpose(f.v_factor());
  }
};

template <class T>
struct SvdU {
  static constexpr OpInfo info{
      .name = "svd_u",
      .value = "U (m x k)",
      .adjoint = "Ā += U (F ⊙ (UᵀŪ − ŪᵀU)) S Vᵀ + (I − U Uᵀ) Ū S⁻¹ Vᵀ, Fᵢⱼ = 1 / (sⱼ² − sᵢ²)",
      .domain =
          "as singular_values; for repeated or zero singular values, the terms dividing by "
          "their gaps or by 0 are left out"};
  struct Saved {
    SavedSvd<T> svd;
    bool factors;  // whether this node's value rule computes the factorisation
  };
  static void value(const Rule<T, Saved>& r) {
    if (r.saved().factors) factor_svd<T>(info.name, r.x(0), r.saved().svd, r.where());
    r.y() = r.saved().svd.u.map();
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const SavedSvd<T>& f = r.saved().svd;
    const auto u = f.u.map();
    const auto ubar = r.ybar();
    const Matrix<T> utubar = u.transpose() * ubar;
    const Matrix<T> j = f.inverse_gaps_of_squares().cwiseProduct(utubar - utubar.transpose());
    // U J S + (Ū − U UᵀŪ) S⁻¹, then times Vᵀ.
    const Matrix<T> left = u * (j * f.s.map().col(0).asDiagonal()) +
                           (ubar - u * utubar) * f.inverse_s().matrix().asDiagonal();
    r.accumulate(0, left * f.v.map().transpose());
  }
  // Ā = (U (F ⊙ (UᵀŪ − ŪᵀU)) S + (𝐈 − U Uᵀ) Ū S⁻¹) Vᵀ, U this node's value.
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    const SavedSvd<T>& f = s.saved().svd;
    const Expr<T>& u = s.y();
    const Expr<T>& ubar = s.ybar();
    const Expr<T> j = hadamard(f.f_factor(), transpose(u) * ubar - transpose(ubar) * u);
    const Expr<T> projected = (identity<T>(u.rows()) - u * transpose(u)) * ubar;
    return (u * j * f.s_factor() + projected * f.s_inverse_factor()) * transpose(f.v_factor());
  }
};

template <class T>
struct SvdV {
  static constexpr OpInfo info{.name = "svd_v",
                               .value = "V (n x k)",
                               .adjoint = "Ā += U S (F ⊙ (VᵀV̄ − V̄ᵀV)) Vᵀ + U S⁻¹ V̄ᵀ (I − V Vᵀ)",
                               .domain = "as svd_u"};
  struct Saved {
    SavedSvd<T> svd;
    bool factors;  // whether this node's value rule computes the factorisation
  };
  static void value(const Rule<T, Saved>& r) {
    if (r.saved().factors) factor_svd<T>(info.name, r.x(0), r.saved().svd, r.where());
    r.y() = r.saved().svd.v.map();
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const SavedSvd<T>& f = r.saved().svd;
    const auto v = f.v.map();
    const auto vbar = r.ybar();
    const Matrix<T> vtvbar = v.transpose() * vbar;
    const Matrix<T> k = f.inverse_gaps_of_squares().cwiseProduct(vtvbar - vtvbar.transpose());
    // S K Vᵀ + S⁻¹ (V̄ − V VᵀV̄)ᵀ, then U times it.
    const Matrix<T> right = f.s.map().col(0).asDiagonal() * k * v.transpose() +
                            f.inverse_s().matrix().asDiagonal() * (vbar - v * vtvbar).transpose();
    r.accumulate(0, f.u.map() * right);
  }
  // Ā = U (S (F ⊙ (VᵀV̄ − V̄ᵀV)) Vᵀ + S⁻¹ V̄ᵀ (𝐈 − V Vᵀ)), V this node's value.
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    const SavedSvd<T>& f = s.saved().svd;
    const Expr<T>& v = s.y();
    const Expr<T>& vbar = s.ybar();
    const Expr<T> k = hadamard(f.f_factor(), transpose(v) * vbar - transpose(vbar) * v);
    const Expr<T> projected = transpose(vbar) * (identity<T>(v.rows()) - v * transpose(v));
    return f.u_factor() * (f.s_factor() * k * transpose(v) + f.s_inverse_factor() * projected);
  }
};

// ---- qr ----

// The thin QR A = Q R of an m x n A, m ≥ n, R's diagonal positive.
template <class T>
struct SavedQr {
  SavedMatrix<T> q;  // m x n
  SavedMatrix<T> r;  // n x n, upper triangular

  // X R⁻ᵀ
  Matrix<T> times_r_inverse_transposed(Matrix<T> x) const {
    if (x.size() > 0) {
      r.map()
          .template triangularView<Eigen::Upper>()
          .transpose()
          .template solveInPlace<Eigen::OnTheRight>(x);
    }
    return x;
  }
};

// tril(M) + tril(M, −1)ᵀ: the symmetric matrix with M's lower triangle.
template <class T>
Matrix<T> symmetric_from_lower(const Matrix<T>& m) {
  Matrix<T> s = m.template triangularView<Eigen::Lower>();
  s.template triangularView<Eigen::StrictlyUpper>() = m.transpose();
  return s;
}
template <class T>
Expr<T> symmetric_from_lower(const Expr<T>& m) {
  return map<T>("sym_l({})", m, m.shape(),
                [](const Matrix<T>& x) { return symmetric_from_lower<T>(x); });
}

// R⁻ᵀ of QR's upper triangular R, in a symbolic rule.
template <class T>
Expr<T> r_inverse_transposed(const Expr<T>& r) {
  return triangular_inverse(r, Triangle::upper, true);
}

template <class T>
SavedQr<T> allocate_qr(Tape<T>& tape, Eigen::Index m, Eigen::Index n) {
  return {allocate_matrix(tape, m, n), allocate_matrix(tape, n, n)};
}

template <class T>
void factor_qr(std::string_view op, const Eigen::Map<const Matrix<T>>& a, const SavedQr<T>& f,
               std::source_location where) {
  const Eigen::Index m = a.rows(), n = a.cols();
  const Eigen::HouseholderQR<Matrix<T>> qr(a);
  f.q.map() = qr.householderQ() * Matrix<T>::Identity(m, n);
  f.r.map() = qr.matrixQR().topRows(n).template triangularView<Eigen::Upper>();
  const auto d = f.r.map().diagonal().cwiseAbs();
  // Full column rank to working precision (rank-revealing it is not, but a zero or tiny
  // pivot of Householder QR means a column is a combination of the ones before it).
  if (!d.allFinite() || d.minCoeff() <= T(m) * std::numeric_limits<T>::epsilon() * d.maxCoeff() ||
      d.maxCoeff() == T(0)) {
    throw NumericError(
        fmt::format("{}: the {}x{} matrix is not of full column rank to working precision (at {})",
                    op, m, n, to_string(where)));
  }
  for (Eigen::Index i = 0; i < n; ++i) {
    if (f.r.map()(i, i) < 0) {
      f.r.map().row(i) *= -1;
      f.q.map().col(i) *= -1;
    }
  }
}

template <class T>
struct QrQ {
  static constexpr OpInfo info{
      .name = "qr_q",
      .value = "Q (m x n, orthonormal columns)",
      .adjoint = "Ā += (Q̄ + Q sym_l(−Q̄ᵀQ)) R⁻ᵀ, sym_l(M) = tril(M) + tril(M, −1)ᵀ",
      .domain = "ShapeError unless m ≥ n; NumericError unless A has full column rank"};
  struct Saved {
    SavedQr<T> qr;
    bool factors;  // whether this node's value rule computes the factorisation
  };
  static void value(const Rule<T, Saved>& r) {
    if (r.saved().factors) factor_qr<T>(info.name, r.x(0), r.saved().qr, r.where());
    r.y() = r.saved().qr.q.map();
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const SavedQr<T>& f = r.saved().qr;
    const auto q = f.q.map();
    const auto qbar = r.ybar();
    const Matrix<T> m = -(qbar.transpose() * q);
    r.accumulate(0, f.times_r_inverse_transposed(qbar + q * symmetric_from_lower<T>(m)));
  }
  // Ā = (Q̄ + Q sym_l(−Q̄ᵀQ)) R⁻ᵀ, Q this node's value.
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    const Expr<T>& q = s.y();
    const Expr<T> inner = q * symmetric_from_lower(-(transpose(s.ybar()) * q));
    return (s.ybar() + inner) * r_inverse_transposed(factor("R", s.saved().qr.r));
  }
};

template <class T>
struct QrR {
  static constexpr OpInfo info{.name = "qr_r",
                               .value = "R (n x n, upper triangular)",
                               .adjoint = "Ā += Q sym_l(R R̄ᵀ) R⁻ᵀ",
                               .domain = "as qr_q"};
  struct Saved {
    SavedQr<T> qr;
    bool factors;  // whether this node's value rule computes the factorisation
  };
  static void value(const Rule<T, Saved>& r) {
    if (r.saved().factors) factor_qr<T>(info.name, r.x(0), r.saved().qr, r.where());
    r.y() = r.saved().qr.r.map();
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const SavedQr<T>& f = r.saved().qr;
    const Matrix<T> m = f.r.map() * r.ybar().transpose();
    r.accumulate(0, f.times_r_inverse_transposed(f.q.map() * symmetric_from_lower<T>(m)));
  }
  // Ā = Q sym_l(R R̄ᵀ) R⁻ᵀ, R this node's value.
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    const Expr<T>& r = s.y();
    return factor("Q", s.saved().qr.q) * symmetric_from_lower(r * transpose(s.ybar())) *
           r_inverse_transposed(r);
  }
};

}  // namespace

// The shape checks of the factorisations that need them (eigh needs a square matrix).
template <class T>
void require_nonempty(const char* op, const Var<T>& a, std::source_location where) {
  if (a.rows() == 0 || a.cols() == 0) {
    throw ShapeError(op, a.shape(), "needs a matrix of at least 1x1", where);
  }
}

template <class T>
void require_tall(const char* op, const Var<T>& a, std::source_location where) {
  if (a.cols() == 0 || a.rows() < a.cols()) {
    throw ShapeError(op, a.shape(), "needs an m x n matrix with m ≥ n ≥ 1 (thin QR)", where);
  }
}

template <class T>
Var<T> eigh_values(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("eigh_values", where, a);
  require_square("eigh_values", a, where);
  return detail::record<EighValues<T>>(tape, "eigh_values", {a}, {a.rows(), 1}, where,
                                       {allocate_eigh(tape, a.rows()), true});
}

template <class T>
Var<T> eigh_vectors(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("eigh_vectors", where, a);
  require_square("eigh_vectors", a, where);
  return detail::record<EighVectors<T>>(tape, "eigh_vectors", {a}, a.shape(), where,
                                        {allocate_eigh(tape, a.rows()), true});
}

template <class T>
Eigh<T> eigh(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("eigh", where, a);
  require_square("eigh", a, where);
  const SavedEigh<T> f = allocate_eigh(tape, a.rows());
  const Var<T> values =
      detail::record<EighValues<T>>(tape, "eigh_values", {a}, {a.rows(), 1}, where, {f, true});
  return {values,
          detail::record<EighVectors<T>>(tape, "eigh_vectors", {a}, a.shape(), where, {f, false})};
}

template <class T>
Var<T> singular_values(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("singular_values", where, a);
  require_nonempty("singular_values", a, where);
  const SavedSvd<T> f = allocate_svd(tape, a.rows(), a.cols());
  return detail::record<SingularValues<T>>(tape, "singular_values", {a}, {f.s.rows, 1}, where,
                                           {f, true});
}

template <class T>
Var<T> svd_u(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("svd_u", where, a);
  require_nonempty("svd_u", a, where);
  const SavedSvd<T> f = allocate_svd(tape, a.rows(), a.cols());
  return detail::record<SvdU<T>>(tape, "svd_u", {a}, {f.u.rows, f.u.cols}, where, {f, true});
}

template <class T>
Var<T> svd_v(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("svd_v", where, a);
  require_nonempty("svd_v", a, where);
  const SavedSvd<T> f = allocate_svd(tape, a.rows(), a.cols());
  return detail::record<SvdV<T>>(tape, "svd_v", {a}, {f.v.rows, f.v.cols}, where, {f, true});
}

template <class T>
Svd<T> svd(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("svd", where, a);
  require_nonempty("svd", a, where);
  const SavedSvd<T> f = allocate_svd(tape, a.rows(), a.cols());
  const Var<T> u =
      detail::record<SvdU<T>>(tape, "svd_u", {a}, {f.u.rows, f.u.cols}, where, {f, true});
  const Var<T> s = detail::record<SingularValues<T>>(tape, "singular_values", {a}, {f.s.rows, 1},
                                                     where, {f, false});
  return {u, s,
          detail::record<SvdV<T>>(tape, "svd_v", {a}, {f.v.rows, f.v.cols}, where, {f, false})};
}

template <class T>
Var<T> qr_q(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("qr_q", where, a);
  require_tall("qr_q", a, where);
  return detail::record<QrQ<T>>(tape, "qr_q", {a}, a.shape(), where,
                                {allocate_qr(tape, a.rows(), a.cols()), true});
}

template <class T>
Var<T> qr_r(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("qr_r", where, a);
  require_tall("qr_r", a, where);
  return detail::record<QrR<T>>(tape, "qr_r", {a}, {a.cols(), a.cols()}, where,
                                {allocate_qr(tape, a.rows(), a.cols()), true});
}

template <class T>
Qr<T> qr(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("qr", where, a);
  require_tall("qr", a, where);
  const SavedQr<T> f = allocate_qr(tape, a.rows(), a.cols());
  const Var<T> q = detail::record<QrQ<T>>(tape, "qr_q", {a}, a.shape(), where, {f, true});
  return {q, detail::record<QrR<T>>(tape, "qr_r", {a}, {a.cols(), a.cols()}, where, {f, false})};
}

#define AD_DECOMPOSITIONS(T)                                            \
  template Var<T> eigh_values(const Var<T>&, std::source_location);     \
  template Var<T> eigh_vectors(const Var<T>&, std::source_location);    \
  template Eigh<T> eigh(const Var<T>&, std::source_location);           \
  template Var<T> singular_values(const Var<T>&, std::source_location); \
  template Var<T> svd_u(const Var<T>&, std::source_location);           \
  template Var<T> svd_v(const Var<T>&, std::source_location);           \
  template Svd<T> svd(const Var<T>&, std::source_location);             \
  template Var<T> qr_q(const Var<T>&, std::source_location);            \
  template Var<T> qr_r(const Var<T>&, std::source_location);            \
  template Qr<T> qr(const Var<T>&, std::source_location);
AD_INSTANTIATE_OPS(AD_DECOMPOSITIONS)
#undef AD_DECOMPOSITIONS

#ifndef AD_DUAL_INSTANCES
namespace detail {
std::span<const OpInfo> decompositions_ops() {
  static constexpr OpInfo rows[] = {
      EighValues<double>::info, EighVectors<double>::info, SingularValues<double>::info,
      SvdU<double>::info,       SvdV<double>::info,        QrQ<double>::info,
      QrR<double>::info};
  return rows;
}
}  // namespace detail
#endif

}  // namespace ad
