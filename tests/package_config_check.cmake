# Installs swarmlab's core into a scratch prefix, then builds and runs a separate project
# that uses find_package(swarmlab) and links swarmlab::core.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}\n${err}")
  endif()
endfunction()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/swarmlab -G ${GENERATOR}
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=${prefix}
    -DSWARMLAB_BUILD_TESTS=OFF -DSWARMLAB_BUILD_REALNET=OFF -DSWARMLAB_BUILD_SIM=OFF
    -DSWARMLAB_BUILD_BENCH=OFF)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/swarmlab --target install)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package_consumer -B ${WORK_DIR}/consumer
    -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
run(${WORK_DIR}/consumer/consumer)
message(STATUS "package config: find_package(swarmlab) from ${prefix} works")
