#pragma once
// The ops. Each is a free function found by argument-dependent lookup; the operators on
// Var call them. Every op checks its inputs' shapes when it is recorded and throws
// ad::ShapeError naming the op, the shapes and the caller's line.
//
// The value and adjoint rule of each op are written side by side in src/ops/; the table
// in docs/ops.md lists them all.

#include <ad/tape.hpp>

#include <source_location>
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
// C = A + B                     Ā += reduce(C̄) ;  B̄ += reduce(C̄)
template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b,
           std::source_location where = std::source_location::current());
// C = A − B                     Ā += reduce(C̄) ;  B̄ −= reduce(C̄)
template <class T>
Var<T> subtract(const Var<T>& a, const Var<T>& b,
                std::source_location where = std::source_location::current());
// C = A ⊙ B                     Ā += reduce(C̄ ⊙ B) ;  B̄ += reduce(C̄ ⊙ A)
template <class T>
Var<T> hadamard(const Var<T>& a, const Var<T>& b,
                std::source_location where = std::source_location::current());

// Elementwise functions.
//
// C = σ(A) = 1 / (1 + e^−A)     Ā += C̄ ⊙ C ⊙ (1 − C)
template <class T>
Var<T> sigmoid(const Var<T>& a, std::source_location where = std::source_location::current());
// C = tanh(A)                   Ā += C̄ ⊙ (1 − C ⊙ C)
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

}  // namespace ad
