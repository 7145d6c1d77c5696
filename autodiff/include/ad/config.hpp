#pragma once
// Included before Eigen by every public header.
//
// Debug builds (AD_DEBUG_CHECKS) turn Eigen's assertions into exceptions, so that an
// adjoint rule that writes an adjoint of the wrong shape is reported as an ad::Error that
// names the op, rather than an abort without context.

namespace ad::detail {
// Throws ad::Error naming the failed condition.
[[noreturn]] void eigen_assertion_failed(const char* condition, const char* file, int line);
}  // namespace ad::detail

#if defined(AD_DEBUG_CHECKS) && !defined(eigen_assert)
#define eigen_assert(x) \
  ((x) ? static_cast<void>(0) : ::ad::detail::eigen_assertion_failed(#x, __FILE__, __LINE__))
#endif

#include <Eigen/Core>
