# Installation (AD_INSTALL, on for the top-level project): headers, the two libraries, the
# CMake package (find_package(ad) gives ad::autodiff and ad::nn) and ad.pc for pkg-config,
# and the Debian package CPack builds from them (scripts/package).
include(CMakePackageConfigHelpers)

set(AD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ad)
set(AD_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(TARGETS ad_autodiff ad_nn EXPORT adTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The public headers only: autodiff/internal stays in the repository.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/autodiff/include/ad ${PROJECT_SOURCE_DIR}/nn/include/ad
        ${PROJECT_BINARY_DIR}/autodiff/generated/ad
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp")
install(EXPORT adTargets NAMESPACE ad:: DESTINATION ${AD_CMAKE_DIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/adConfig.cmake.in
  ${PROJECT_BINARY_DIR}/adConfig.cmake INSTALL_DESTINATION ${AD_CMAKE_DIR})
# 0.x: a new minor version may change the API, so only the same major.minor is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/adConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/adConfig.cmake ${PROJECT_BINARY_DIR}/adConfigVersion.cmake
        DESTINATION ${AD_CMAKE_DIR})

# ad.pc finds its prefix from its own directory (${pcfiledir}), so an installed tree can be
# moved, as the CMake package can. A static library needs zlib on the consumer's link line
# (nn reads gzip files); a shared one hides it.
file(RELATIVE_PATH AD_PC_TO_PREFIX ${CMAKE_INSTALL_PREFIX}/${AD_PKGCONFIG_DIR} ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" AD_PC_TO_PREFIX "${AD_PC_TO_PREFIX}")
set(AD_PC_CFLAGS "-DEIGEN_MAX_ALIGN_BYTES=64 -DEIGEN_STACK_ALLOCATION_LIMIT=2097152")
if(AD_DEBUG_CHECKS)
  string(APPEND AD_PC_CFLAGS " -DAD_DEBUG_CHECKS")
endif()
set(AD_PC_REQUIRES "eigen3 >= 3.4, fmt")
set(AD_PC_REQUIRES_PRIVATE "zlib")
set(AD_PC_LIBS_PRIVATE "")
if(AD_BLAS)
  string(APPEND AD_PC_CFLAGS " -DEIGEN_USE_BLAS")
  string(APPEND AD_PC_REQUIRES ", openblas")
endif()
if(NOT BUILD_SHARED_LIBS)
  string(APPEND AD_PC_REQUIRES ", zlib")
  set(AD_PC_REQUIRES_PRIVATE "")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/ad.pc.in ${PROJECT_BINARY_DIR}/ad.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ad.pc DESTINATION ${AD_PKGCONFIG_DIR})

# The Debian package: libad-dev, after Debian's name for a library's development files
# (lib<name>-dev). It holds the static libraries, headers, CMake package and ad.pc; programs
# linked with them do not depend on it at run time, so there is no runtime package (libad0).
# Build it from a portable configuration (the package preset: no -march=native). lintian
# finds nothing above its informational level in it (scripts/test-consumer runs it).
set(AD_PACKAGE_NAME libad-dev)
set(AD_PACKAGE_MAINTAINER
    "Seed 77dc55c9 maintainers <maintainers@users.noreply.h-seed-77dc55c9.example>")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ${AD_PACKAGE_NAME})
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION} (development files)")
# The extended description: lines of at most 79 characters (lintian).
set(CPACK_PACKAGE_DESCRIPTION
    "A C++20 engine that records matrix operations on a tape and sweeps it
backwards for the gradient of a result with respect to every matrix that went
into it, with a layer that builds and trains dense networks (ad::autodiff and
ad::nn). This package holds the static libraries, the headers, the CMake
package (find_package(ad)) and ad.pc for pkg-config.")
set(CPACK_PACKAGE_CONTACT "${AD_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
# What the installed CMake package and ad.pc ask for (find_dependency, Requires), within the
# versions the libraries were compiled against: fmt's symbols carry its major version
# (fmt::v9), and matrices pass between the libraries and their users, so Eigen's layout
# must be the one compiled in.
string(REGEX MATCH "^[0-9]+" ad_fmt_major "${fmt_VERSION}")
math(EXPR ad_fmt_next_major "${ad_fmt_major} + 1")
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libeigen3-dev (>= 3.4), libeigen3-dev (<< 3.5), libfmt-dev (>= ${fmt_VERSION}), libfmt-dev (<< ${ad_fmt_next_major}), zlib1g-dev")
if(AD_BLAS)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libopenblas-dev")
endif()
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "cmake, pkgconf")

# Debian's /usr/share/doc/<package>/: the copyright file and, gzip -9n, the changelog (a
# native package's changelog.gz), whose latest entry must be this version.
file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/debian/changelog ad_changelog_top LIMIT_COUNT 1)
if(NOT ad_changelog_top MATCHES "^ad \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "cmake/debian/changelog's latest entry is '${ad_changelog_top}': "
                      "add an entry for version ${PROJECT_VERSION}")
endif()
set(ad_changelog_gz ${PROJECT_BINARY_DIR}/debian/changelog.gz)
file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/debian)
execute_process(COMMAND gzip -9n -c ${CMAKE_CURRENT_LIST_DIR}/debian/changelog
                OUTPUT_FILE ${ad_changelog_gz} COMMAND_ERROR_IS_FATAL ANY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${CMAKE_CURRENT_LIST_DIR}/debian/changelog)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/debian/copyright ${ad_changelog_gz}
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${AD_PACKAGE_NAME})
include(CPack)
