# ad_warnings(target): the project's warning set, applied to its own targets only.
function(ad_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow)
  if(AD_NATIVE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 reports its own AVX-512 intrinsics (avx512fintrin.h, inlined into Eigen's
    # kernels) as "(may be) used uninitialized": GCC bug 105593, not our code. The debug
    # preset builds without -march=native and keeps both warnings.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized -Wno-uninitialized)
  endif()
endfunction()
