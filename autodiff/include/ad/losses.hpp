#pragma once
// Loss functions as fused ops: each is one node whose value is the mean loss (1x1) and
// whose adjoint rule is the closed form, so that no intermediate (a softmax, a log of a
// sigmoid) can overflow or underflow on the way. Samples are columns.
//
// The value and adjoint rules are written side by side in src/ops/losses.cpp.

#include <ad/tape.hpp>

#include <source_location>
#include <span>

namespace ad {

// Softmax cross-entropy of logits Z (classes x N) against integer labels y (one per
// column, each in [0, classes)), averaged over the batch:
//
// l = (1/N) Σⱼ (lse(Z:,ⱼ) − Z_yⱼ,ⱼ)       Z̄ += l̄ (softmax(Z) − Y) / N
//
// where lse(z) = m + ln Σᵢ e^(zᵢ − m) with m = maxᵢ zᵢ, so no exponential overflows, and Y
// is the one-hot matrix of the labels. The labels are copied onto the tape.
template <class T>
Var<T> softmax_cross_entropy(const Var<T>& logits, std::span<const int> labels,
                             std::source_location where = std::source_location::current());

// Softmax cross-entropy against labels held as numbers in a 1 x N Var y (a constant: class
// indices have no gradient), for a recording evaluated again with new labels
// (<ad/replay.hpp>); each label must be a whole number in [0, classes), else ad::Error:
//
// l = (1/N) Σⱼ (lse(Z:,ⱼ) − Z_yⱼ,ⱼ)       Z̄ += l̄ (softmax(Z) − Y) / N
template <class T>
Var<T> sparse_softmax_cross_entropy(const Var<T>& logits, const Var<T>& labels,
                                    std::source_location where = std::source_location::current());

// Binary cross-entropy of logits Z against targets P in [0, 1] (same shape), averaged over
// all elements (m n of them):
//
// l = (1/mn) Σᵢⱼ max(Z, 0) − Z ⊙ P + ln(1 + e^−|Z|)
//                          Z̄ += l̄ (σ(Z) − P) / mn ;  P̄ += −l̄ Z / mn
//
// the usual −P ln σ(Z) − (1 − P) ln(1 − σ(Z)) rewritten so that no logarithm sees 0.
template <class T>
Var<T> binary_cross_entropy_with_logits(
    const Var<T>& logits, const Var<T>& targets,
    std::source_location where = std::source_location::current());

// Mean squared error of a prediction Ŷ against a target Y (same shape), over all elements:
//
// l = (1/mn) Σᵢⱼ (Ŷ − Y)²ᵢⱼ       Ŷ̄ += 2 l̄ (Ŷ − Y) / mn ;  Ȳ += −2 l̄ (Ŷ − Y) / mn
template <class T>
Var<T> mse(const Var<T>& prediction, const Var<T>& target,
           std::source_location where = std::source_location::current());

}  // namespace ad
