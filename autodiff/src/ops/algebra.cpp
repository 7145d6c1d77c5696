// Linear algebra beyond the product: trace, inverse, determinants, solves, inner and outer
// products, the Frobenius norm and diagonals. Factorisations use Eigen's LU; a matrix
// whose reciprocal condition number is below machine epsilon counts as singular.

#include "support.hpp"

#include <Eigen/LU>
#include <Eigen/SVD>

#include <cmath>
#include <limits>

namespace ad {
namespace {

template <class T>
using LU = Eigen::PartialPivLU<Matrix<T>>;

template <class T>
void require_square(const char* op, const Var<T>& a, std::source_location where) {
  if (a.rows() != a.cols() || a.rows() == 0) {
    throw ShapeError(op, a.shape(), "needs a square matrix of at least 1x1", where);
  }
}

// Eigen's rcond() estimate, or 0 if a pivot is 0 or not finite: the estimate itself is
// meaningless there (it returns 1 for a matrix with a zero row).
template <class T>
T reciprocal_condition(const LU<T>& lu) {
  const auto pivots = lu.matrixLU().diagonal().cwiseAbs();
  if (!pivots.allFinite() || !(pivots.minCoeff() > T(0))) return T(0);
  return lu.rcond();
}

// Throws ad::NumericError naming the op if A is singular to working precision. The ops
// that need it test A before recording, so a singular input leaves no node on the tape;
// the value rule then factors A again (an O(n³) cost paid twice, for that guarantee).
template <class T>
void require_regular(const char* op, const Var<T>& a, std::source_location where) {
  const T rcond = reciprocal_condition(LU<T>(a.value()));
  if (!(rcond > std::numeric_limits<T>::epsilon())) {
    throw NumericError(fmt::format(
        "{}: the {} matrix is singular to working precision (reciprocal condition number "
        "{:.3g}) (at {})",
        op, to_string(a.shape()), rcond, to_string(where)));
  }
}

// c = tr A                      Ā += c̄ I
template <class T>
struct Trace {
  static void value(const Rule<T>& r) { r.y()(0, 0) = r.x(0).trace(); }
  static void adjoint(const Rule<T>& r) { r.xbar(0).diagonal().array() += r.ybar()(0, 0); }
};

// C = A⁻¹                       Ā += −Cᵀ C̄ Cᵀ
template <class T>
struct Inverse {
  static void value(const Rule<T>& r) { r.y() = LU<T>(r.x(0)).inverse(); }
  static void adjoint(const Rule<T>& r) {
    auto c = r.y();
    const Matrix<T> cbar_ct = r.ybar() * c.transpose();
    r.xbar(0).noalias() -= c.transpose() * cbar_ct;
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

// c = det A                     Ā += c̄ adj(A)ᵀ   (= c̄ c A⁻ᵀ when A is invertible)
template <class T>
struct Det {
  static void value(const Rule<T>& r) { r.y()(0, 0) = LU<T>(r.x(0)).determinant(); }
  static void adjoint(const Rule<T>& r) {
    const LU<T> lu(r.x(0));
    const T cbar = r.ybar()(0, 0);
    // c A⁻ᵀ loses accuracy as A nears singularity; the SVD form does not.
    if (reciprocal_condition(lu) > std::sqrt(std::numeric_limits<T>::epsilon())) {
      r.xbar(0) += (cbar * r.y()(0, 0)) * lu.inverse().transpose();
    } else {
      r.xbar(0) += cbar * adjugate<T>(r.x(0)).transpose();
    }
  }
};

// c = ln |det A|                Ā += c̄ A⁻ᵀ
template <class T>
struct Logdet {
  static void value(const Rule<T>& r) {
    const LU<T> lu(r.x(0));
    r.y()(0, 0) = lu.matrixLU().diagonal().array().abs().log().sum();
  }
  static void adjoint(const Rule<T>& r) {
    r.xbar(0) += r.ybar()(0, 0) * LU<T>(r.x(0)).inverse().transpose();
  }
};

// X = A⁻¹ B                     B̄ += A⁻ᵀ X̄ ;  Ā += −A⁻ᵀ X̄ Xᵀ
template <class T>
struct Solve {
  static void value(const Rule<T>& r) { r.y() = LU<T>(r.x(0)).solve(r.x(1)); }
  static void adjoint(const Rule<T>& r) {
    const Matrix<T> g = LU<T>(r.x(0)).transpose().solve(r.ybar());  // A⁻ᵀ X̄
    if (r.wants(0)) r.xbar(0).noalias() -= g * r.y().transpose();
    if (r.wants(1)) r.xbar(1) += g;
  }
};

// c = Σᵢⱼ Aᵢⱼ Bᵢⱼ                Ā += c̄ B ;  B̄ += c̄ A
template <class T>
struct Dot {
  static void value(const Rule<T>& r) { r.y()(0, 0) = r.x(0).cwiseProduct(r.x(1)).sum(); }
  static void adjoint(const Rule<T>& r) {
    const T cbar = r.ybar()(0, 0);
    if (r.wants(0)) r.xbar(0) += cbar * r.x(1);
    if (r.wants(1)) r.xbar(1) += cbar * r.x(0);
  }
};

// C = x yᵀ                      x̄ += C̄ y ;  ȳ += C̄ᵀ x
template <class T>
struct Outer {
  static void value(const Rule<T>& r) { r.y().noalias() = r.x(0) * r.x(1).transpose(); }
  static void adjoint(const Rule<T>& r) {
    if (r.wants(0)) r.xbar(0).noalias() += r.ybar() * r.x(1);
    if (r.wants(1)) r.xbar(1).noalias() += r.ybar().transpose() * r.x(0);
  }
};

// c = ‖A‖_F                     Ā += c̄ A / c     (subgradient 0 at A = 0)
template <class T>
struct Norm {
  static void value(const Rule<T>& r) { r.y()(0, 0) = r.x(0).norm(); }
  static void adjoint(const Rule<T>& r) {
    const T c = r.y()(0, 0);
    if (c > T(0)) r.xbar(0) += (r.ybar()(0, 0) / c) * r.x(0);
  }
};

// C = diag(x)                   x̄ += diag(C̄)
template <class T>
struct DiagMatrix {
  static void value(const Rule<T>& r) { r.y() = r.x(0).col(0).asDiagonal(); }
  static void adjoint(const Rule<T>& r) { r.xbar(0).col(0) += r.ybar().diagonal(); }
};

// c = diag(A)                   Ā += diag(c̄)
template <class T>
struct DiagVector {
  static void value(const Rule<T>& r) { r.y().col(0) = r.x(0).diagonal(); }
  static void adjoint(const Rule<T>& r) { r.xbar(0).diagonal() += r.ybar().col(0); }
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
  require_regular("inverse", a, where);
  return detail::record<Inverse<T>>(tape, "inverse", {a}, a.shape(), where);
}

template <class T>
Var<T> det(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("det", where, a);
  require_square("det", a, where);
  return detail::record<Det<T>>(tape, "det", {a}, {1, 1}, where);
}

template <class T>
Var<T> logdet(const Var<T>& a, std::source_location where) {
  Tape<T>& tape = detail::tape_of("logdet", where, a);
  require_square("logdet", a, where);
  require_regular("logdet", a, where);
  return detail::record<Logdet<T>>(tape, "logdet", {a}, {1, 1}, where);
}

template <class T>
Var<T> solve(const Var<T>& a, const Var<T>& b, std::source_location where) {
  Tape<T>& tape = detail::tape_of("solve", where, a, b);
  require_square("solve", a, where);
  if (b.rows() != a.rows()) {
    throw ShapeError("solve", a.shape(), b.shape(),
                     fmt::format("A has {} rows but B has {}", a.rows(), b.rows()), where);
  }
  require_regular("solve", a, where);
  return detail::record<Solve<T>>(tape, "solve", {a, b}, b.shape(), where);
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

template Var<float> trace(const Var<float>&, std::source_location);
template Var<double> trace(const Var<double>&, std::source_location);
template Var<float> inverse(const Var<float>&, std::source_location);
template Var<double> inverse(const Var<double>&, std::source_location);
template Var<float> det(const Var<float>&, std::source_location);
template Var<double> det(const Var<double>&, std::source_location);
template Var<float> logdet(const Var<float>&, std::source_location);
template Var<double> logdet(const Var<double>&, std::source_location);
template Var<float> solve(const Var<float>&, const Var<float>&, std::source_location);
template Var<double> solve(const Var<double>&, const Var<double>&, std::source_location);
template Var<float> dot(const Var<float>&, const Var<float>&, std::source_location);
template Var<double> dot(const Var<double>&, const Var<double>&, std::source_location);
template Var<float> outer(const Var<float>&, const Var<float>&, std::source_location);
template Var<double> outer(const Var<double>&, const Var<double>&, std::source_location);
template Var<float> norm(const Var<float>&, std::source_location);
template Var<double> norm(const Var<double>&, std::source_location);
template Var<float> diag(const Var<float>&, std::source_location);
template Var<double> diag(const Var<double>&, std::source_location);

}  // namespace ad
