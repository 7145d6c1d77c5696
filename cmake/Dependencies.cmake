# Every dependency comes from Debian's packages (scripts/packages.txt).
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(fmt REQUIRED)
find_package(ZLIB REQUIRED)
find_package(CLI11 REQUIRED)
# Data-parallel training (ad::nn_mpi): Debian's OpenMPI.
find_package(MPI REQUIRED COMPONENTS CXX)
if(AD_BUILD_TESTS)
  find_package(Boost 1.74 REQUIRED COMPONENTS unit_test_framework)
endif()
if(AD_BLAS)
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS REQUIRED)
endif()
