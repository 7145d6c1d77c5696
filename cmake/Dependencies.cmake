# Every dependency comes from Debian's packages (scripts/packages.txt). The libraries need
# only Eigen, fmt and zlib (cmake/adConfig.cmake.in finds the same for a consumer); the
# others are looked for only when the part that uses them is built.
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(fmt REQUIRED)
find_package(ZLIB REQUIRED)
if(AD_BUILD_EXAMPLES)
  find_package(CLI11 REQUIRED)
endif()
# Data-parallel training (ad::nn_mpi) with Debian's OpenMPI, built when this is the top-level
# project, so that a project using the two libraries does not need MPI.
if(PROJECT_IS_TOP_LEVEL)
  find_package(MPI REQUIRED COMPONENTS CXX)
endif()
if(AD_BUILD_TESTS)
  find_package(Boost 1.74 REQUIRED COMPONENTS unit_test_framework)
endif()
if(AD_BLAS)
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS REQUIRED)
endif()
