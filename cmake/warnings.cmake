# One place for the warning set; SWARMLAB_WERROR (on in CI) turns them into errors.
function(swarmlab_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual)
  if(SWARMLAB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
