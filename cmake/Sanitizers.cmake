# AD_SANITIZE adds AddressSanitizer and UndefinedBehaviorSanitizer to everything built,
# and makes any sanitizer report fatal so that ctest sees it as a failure.
if(AD_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(AD_NATIVE)
  add_compile_options(-march=native)
endif()

# AD_TSAN builds everything with ThreadSanitizer (it cannot be combined with AddressSanitizer).
if(AD_TSAN)
  if(AD_SANITIZE)
    message(FATAL_ERROR "AD_TSAN and AD_SANITIZE cannot be combined: ThreadSanitizer excludes AddressSanitizer")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

# AD_BUILD_FUZZERS: everything gets libFuzzer's coverage instrumentation (fuzzer-no-link) and,
# unless AD_SANITIZE has added them already, ASan and UBSan; only the harnesses link libFuzzer's
# main (tests/fuzz). With AD_SANITIZE (the debug preset) one build runs the tests and the fuzzers.
if(AD_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang" OR CMAKE_CXX_COMPILER_VERSION VERSION_LESS 16)
    message(FATAL_ERROR "AD_BUILD_FUZZERS needs clang 16 or later (libFuzzer; clang 14 cannot "
                        "compile the project's std::source_location): use the debug or fuzz "
                        "preset, CMAKE_CXX_COMPILER=clang++-16 (Debian: clang-16 libclang-rt-16-dev)")
  endif()
  if(AD_TSAN)
    message(FATAL_ERROR "AD_BUILD_FUZZERS brings AddressSanitizer: leave AD_TSAN off")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
  if(NOT AD_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
  endif()
endif()
