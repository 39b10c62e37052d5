# Fails if any C++ source differs from what clang-format (with .clang-format) would write.
file(GLOB_RECURSE files ${ROOT}/core/*.cpp ${ROOT}/core/*.hpp ${ROOT}/tests/*.cpp ${ROOT}/tests/*.hpp
     ${ROOT}/realnet/*.cpp ${ROOT}/realnet/*.hpp ${ROOT}/sim/*.cpp ${ROOT}/sim/*.hpp
     ${ROOT}/bench/*.cpp ${ROOT}/bench/*.hpp)
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${files}
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "clang-format: these files need 'make format':\n${err}")
endif()
