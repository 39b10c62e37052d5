# One place for the warning set; SWARMLAB_WERROR (on in CI) turns them into errors.
function(swarmlab_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual)
  # g++ 12 at -O3 reports -Wrestrict, -Wstringop-overflow, -Wmaybe-uninitialized and -Warray-bounds on ordinary std::string and
  # std::vector code in libstdc++ itself (GCC bugs 105329, 106199): false positives.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict -Wno-stringop-overflow -Wno-maybe-uninitialized
      -Wno-array-bounds)
  endif()
  if(SWARMLAB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
