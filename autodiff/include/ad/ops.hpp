#pragma once
// The ops. Each is a free function found by argument-dependent lookup; the operators on
// Var call them. Every op checks its inputs' shapes when it is recorded and throws
// ad::ShapeError naming the op, the shapes and the caller's line.
//
// The value and adjoint rule of each op are written side by side in src/ops/; the table
// in docs/ops.md lists them all.

#include <ad/tape.hpp>

#include <initializer_list>
#include <source_location>
#include <span>
#include <type_traits>

namespace ad {

// C = A B                       Ā += C̄ Bᵀ ;  B̄ += Aᵀ C̄
template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b,
              std::source_location where = std::source_location::current());

// C = Aᵀ                        Ā += C̄ᵀ
template <class T>
Var<T> transpose(const Var<T>& a, std::source_location where = std::source_location::current());

// C = α A + β (scale, negate, shift by a scalar)     Ā += α C̄
// (α and β take the tape's scalar type, so affine(x, 2.0, 1.0) works on a float tape.)
template <class T>
Var<T> affine(const Var<T>& a, std::type_identity_t<T> alpha, std::type_identity_t<T> beta,
              std::source_location where = std::source_location::current());

// Elementwise binary ops with NumPy-style 2-D broadcasting: each dimension of A and B is
// equal or 1, and a dimension of 1 stretches. The adjoint is summed back over stretched
// dimensions (written "reduce" below).
//
// C = A + B, broadcasting      Ā += reduce(C̄) ;  B̄ += reduce(C̄)
template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b,
           std::source_location where = std::source_location::current());
// C = A − B, broadcasting      Ā += reduce(C̄) ;  B̄ −= reduce(C̄)
template <class T>
Var<T> subtract(const Var<T>& a, const Var<T>& b,
                std::source_location where = std::source_location::current());
// C = A ⊙ B, broadcasting      Ā += reduce(C̄ ⊙ B) ;  B̄ += reduce(C̄ ⊙ A)
template <class T>
Var<T> hadamard(const Var<T>& a, const Var<T>& b,
                std::source_location where = std::source_location::current());

// Elementwise functions.
//
// C = σ(A) = 1 / (1 + e^−A)     Ā += C̄ ⊙ C ⊙ (1 − C)
template <class T>
Var<T> sigmoid(const Var<T>& a, std::source_location where = std::source_location::current());
// C = tanh A                    Ā += C̄ ⊙ (1 − C ⊙ C)
template <class T>
Var<T> tanh(const Var<T>& a, std::source_location where = std::source_location::current());
// C = max(A, 0)                 Ā += C̄ ⊙ [A > 0]     (subgradient 0 at 0)
template <class T>
Var<T> relu(const Var<T>& a, std::source_location where = std::source_location::current());
// C = e^A                       Ā += C̄ ⊙ C
template <class T>
Var<T> exp(const Var<T>& a, std::source_location where = std::source_location::current());
// C = ln A                      Ā += C̄ ⊘ A           (IEEE: ln 0 = −∞, ln of a negative is NaN)
template <class T>
Var<T> log(const Var<T>& a, std::source_location where = std::source_location::current());

// Reductions to 1x1.
//
// c = Σᵢⱼ Aᵢⱼ                   Ā += c̄ 𝟙𝟙ᵀ
template <class T>
Var<T> sum(const Var<T>& a, std::source_location where = std::source_location::current());
// c = Σᵢⱼ Aᵢⱼ / (m n)           Ā += c̄ 𝟙𝟙ᵀ / (m n)
template <class T>
Var<T> mean(const Var<T>& a, std::source_location where = std::source_location::current());

// Linear algebra. Square inputs must be at least 1x1. Singular input: inverse, solve and
// logdet throw ad::NumericError (reciprocal condition number below machine epsilon); det
// is defined everywhere.
//
// c = tr A                      Ā += c̄ I
template <class T>
Var<T> trace(const Var<T>& a, std::source_location where = std::source_location::current());
// C = A⁻¹                       Ā += −Cᵀ C̄ Cᵀ
template <class T>
Var<T> inverse(const Var<T>& a, std::source_location where = std::source_location::current());
// c = det A
//     Ā += c̄ adj(A)ᵀ (= c̄ c A⁻ᵀ when A is well conditioned; by SVD otherwise)
template <class T>
Var<T> det(const Var<T>& a, std::source_location where = std::source_location::current());
// c = ln |det A|                Ā += c̄ A⁻ᵀ
template <class T>
Var<T> logdet(const Var<T>& a, std::source_location where = std::source_location::current());
// X = A⁻¹ B, by LU, without forming A⁻¹     B̄ += A⁻ᵀ X̄ ;  Ā += −A⁻ᵀ X̄ Xᵀ
template <class T>
Var<T> solve(const Var<T>& a, const Var<T>& b,
             std::source_location where = std::source_location::current());
// c = Σᵢⱼ Aᵢⱼ Bᵢⱼ (equal shapes)  Ā += c̄ B ;  B̄ += c̄ A
template <class T>
Var<T> dot(const Var<T>& a, const Var<T>& b,
           std::source_location where = std::source_location::current());
// C = x yᵀ (column vectors)      x̄ += C̄ y ;  ȳ += C̄ᵀ x
template <class T>
Var<T> outer(const Var<T>& x, const Var<T>& y,
             std::source_location where = std::source_location::current());
// c = ‖A‖_F                     Ā += c̄ A / c          (subgradient 0 at A = 0)
template <class T>
Var<T> norm(const Var<T>& a, std::source_location where = std::source_location::current());
// C = diag(x) from a column vector x (n x 1 → n x n)   x̄ += diag(C̄)
// c = diag(A) from a square matrix A (n x n → n x 1)   Ā += diag(c̄) on the diagonal
template <class T>
Var<T> diag(const Var<T>& a, std::source_location where = std::source_location::current());

// Elementwise functions, part two. Out-of-domain input gives the IEEE result (NaN, ±Inf);
// a tape with check_finite(true) turns it into ad::NumericError naming the op.
//
// C = A ⊘ B, broadcasting      Ā += reduce(C̄ ⊘ B) ;  B̄ −= reduce(C̄ ⊙ C ⊘ B)
template <class T>
Var<T> divide(const Var<T>& a, const Var<T>& b,
              std::source_location where = std::source_location::current());
// C = A^p (scalar p)            Ā += C̄ ⊙ p A^(p−1) (nothing for p = 0)
template <class T>
Var<T> pow(const Var<T>& a, std::type_identity_t<T> p,
           std::source_location where = std::source_location::current());
// C = √A                        Ā += C̄ ⊘ (2 C)
template <class T>
Var<T> sqrt(const Var<T>& a, std::source_location where = std::source_location::current());
// C = ln(1 + A)                 Ā += C̄ ⊘ (1 + A)       (exact near 0, where ln(1 + A) is not)
template <class T>
Var<T> log1p(const Var<T>& a, std::source_location where = std::source_location::current());
// C = |A|                       Ā += C̄ ⊙ sign(A)      (subgradient 0 at 0)
template <class T>
Var<T> abs(const Var<T>& a, std::source_location where = std::source_location::current());
// C = A ⊙ A                     Ā += 2 C̄ ⊙ A
template <class T>
Var<T> square(const Var<T>& a, std::source_location where = std::source_location::current());
// C = ln(1 + e^A) = max(A, 0) + ln(1 + e^−|A|)     Ā += C̄ ⊙ σ(A)
template <class T>
Var<T> softplus(const Var<T>& a, std::source_location where = std::source_location::current());
// C = ln σ(A) = min(A, 0) − ln(1 + e^−|A|)         Ā += C̄ ⊙ σ(−A)
template <class T>
Var<T> log_sigmoid(const Var<T>& a, std::source_location where = std::source_location::current());
// C = min(max(A, lo), hi)       Ā += C̄ ⊙ [lo ≤ A ≤ hi]   (ad::Error if lo > hi)
template <class T>
Var<T> clamp(const Var<T>& a, std::type_identity_t<T> lo, std::type_identity_t<T> hi,
             std::source_location where = std::source_location::current());

// Reductions along one axis, keeping 2-D shapes. Axis::rows reduces down the rows, leaving
// one value per column (m x n → 1 x n; NumPy's axis=0, Eigen's colwise()); Axis::cols
// reduces across the columns, leaving one value per row (m x n → m x 1).
enum class Axis { rows, cols };

// c = 𝟙ᵀA or A𝟙 (rows or cols)  Ā += 𝟙c̄ or c̄𝟙ᵀ
template <class T>
Var<T> sum(const Var<T>& a, Axis axis,
           std::source_location where = std::source_location::current());
// c = 𝟙ᵀA / m or A𝟙 / n         Ā += 𝟙c̄ / m or c̄𝟙ᵀ / n
template <class T>
Var<T> mean(const Var<T>& a, Axis axis,
            std::source_location where = std::source_location::current());
// cⱼ = maxᵢ Aᵢⱼ (rows; cols alike)  Āᵢⱼ += c̄ⱼ at the first i attaining the max
// Subgradient: on a tie the whole adjoint goes to the first maximal element.
template <class T>
Var<T> max(const Var<T>& a, Axis axis,
           std::source_location where = std::source_location::current());

// Structure: views and copies of parts, column-major throughout.
//
// C = A reshaped to r x c, column-major order kept   Ā += C̄ reshaped back
template <class T>
Var<T> reshape(const Var<T>& a, Eigen::Index rows, Eigen::Index cols,
               std::source_location where = std::source_location::current());
// C = A[i:i+r, j:j+c]           Ā[i:i+r, j:j+c] += C̄
template <class T>
Var<T> block(const Var<T>& a, Eigen::Index row, Eigen::Index col, Eigen::Index rows,
             Eigen::Index cols, std::source_location where = std::source_location::current());
// C = A[i, :] (1 x n)           Ā[i, :] += C̄
template <class T>
Var<T> row(const Var<T>& a, Eigen::Index i,
           std::source_location where = std::source_location::current());
// C = A[:, j] (m x 1)           Ā[:, j] += C̄
template <class T>
Var<T> col(const Var<T>& a, Eigen::Index j,
           std::source_location where = std::source_location::current());
// C = [A B …] (equal rows)       Ā += C̄[:, A's columns] ; B̄ += C̄[:, B's columns] ; …
template <class T>
Var<T> hcat(std::span<const Var<T>> parts,
            std::source_location where = std::source_location::current());
template <class T>
Var<T> hcat(std::initializer_list<Var<T>> parts,
            std::source_location where = std::source_location::current()) {
  return hcat(std::span<const Var<T>>(parts.begin(), parts.size()), where);
}
// Two parts, found by argument-dependent lookup (a braced list needs ad::hcat({…})).
template <class T>
Var<T> hcat(const Var<T>& a, const Var<T>& b,
            std::source_location where = std::source_location::current()) {
  return hcat({a, b}, where);
}
// C = [A; B; …] (equal columns)  Ā += C̄[A's rows, :] ; B̄ += C̄[B's rows, :] ; …
template <class T>
Var<T> vcat(std::span<const Var<T>> parts,
            std::source_location where = std::source_location::current());
template <class T>
Var<T> vcat(std::initializer_list<Var<T>> parts,
            std::source_location where = std::source_location::current()) {
  return vcat(std::span<const Var<T>>(parts.begin(), parts.size()), where);
}
// Two parts, found by argument-dependent lookup (a braced list needs ad::vcat({…})).
template <class T>
Var<T> vcat(const Var<T>& a, const Var<T>& b,
            std::source_location where = std::source_location::current()) {
  return vcat({a, b}, where);
}
// C = A stretched to r x c (dimensions of 1 stretch)   Ā += reduce(C̄)
template <class T>
Var<T> broadcast_to(const Var<T>& a, Eigen::Index rows, Eigen::Index cols,
                    std::source_location where = std::source_location::current());

// Softmax over each column (samples are columns), computed after subtracting the column's
// max so that no exponential overflows: finite for logits of any finite magnitude.
//
// C = softmax(Z) per column = e^(Z − 𝟙 lse(Z))    Z̄ += C ⊙ (C̄ − 𝟙 𝟙ᵀ(C̄ ⊙ C))
template <class T>
Var<T> softmax(const Var<T>& z, std::source_location where = std::source_location::current());
// C = Z − 𝟙 lse(Z) per column    Z̄ += C̄ − e^C ⊙ 𝟙 𝟙ᵀC̄
template <class T>
Var<T> log_softmax(const Var<T>& z, std::source_location where = std::source_location::current());
// Softmax cross-entropy of logits Z (classes x N) against target probabilities P (same
// shape; one-hot or soft, each column summing to 1), averaged over the batch. For integer
// labels see the overload in <ad/losses.hpp>.
//
// l = −(1/N) Σᵢⱼ Pᵢⱼ log_softmax(Z)ᵢⱼ
//                  Z̄ += l̄ (softmax(Z) ⊙ 𝟙𝟙ᵀP − P) / N ;  P̄ += −l̄ log_softmax(Z) / N
template <class T>
Var<T> softmax_cross_entropy(const Var<T>& logits, const Var<T>& targets,
                             std::source_location where = std::source_location::current());

}  // namespace ad
