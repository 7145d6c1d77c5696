#pragma once
// Included before Eigen by every public header.
//
// Debug builds (AD_DEBUG_CHECKS) turn Eigen's assertions into exceptions, so that an
// adjoint rule that writes an adjoint of the wrong shape is reported as an ad::Error that
// names the op, rather than an abort without context.
//
// It also checks that the program is compiled with the definitions the library was built
// with (the usage requirements of ad::autodiff, or `pkg-config --cflags ad`): they change the
// layout of classes and the alignment of matrices that pass between the two.

#include <ad/version.hpp>

#if defined(AD_DEBUG_CHECKS) != AD_BUILT_WITH_DEBUG_CHECKS
#error \
    "AD_DEBUG_CHECKS must be defined exactly when the ad library was built with it: compile with the usage requirements of ad::autodiff or the flags of `pkg-config --cflags ad`"
#endif

namespace ad::detail {
// Throws ad::Error naming the failed condition.
[[noreturn]] void eigen_assertion_failed(const char* condition, const char* file, int line);
}  // namespace ad::detail

#if defined(AD_DEBUG_CHECKS) && !defined(eigen_assert)
#define eigen_assert(x) \
  ((x) ? static_cast<void>(0) : ::ad::detail::eigen_assertion_failed(#x, __FILE__, __LINE__))
#endif

#include <Eigen/Core>

#if EIGEN_MAX_ALIGN_BYTES != 64
#error \
    "ad's matrices are 64-byte aligned (EIGEN_MAX_ALIGN_BYTES=64): define it for every file that includes Eigen, as the usage requirements of ad::autodiff and `pkg-config --cflags ad` do"
#endif
