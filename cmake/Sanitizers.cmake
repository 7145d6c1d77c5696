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
