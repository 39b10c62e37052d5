# Proves core/ is sans-I/O: every header a core source reaches (g++ -M) must be core's own, or
# one that the C++ standard library, nlohmann/json or OpenSSL's libcrypto reach themselves (a
# probe source that includes them gives that set). Asio, ns-3, sockets, files, threads of the
# operating system's own API are then all refused, not only the few named in a list.
file(GLOB sources ${CORE_DIR}/src/*.cpp)
set(probe ${WORK_DIR}/core_isolation_probe.cpp)
file(MAKE_DIRECTORY ${WORK_DIR})
set(std_headers
  algorithm any array atomic bit bitset charconv chrono cmath compare concepts cstddef cstdint
  cstdio cstdlib cstring ctime deque exception filesystem functional initializer_list iomanip
  ios iosfwd iostream istream iterator limits list map memory mutex new numeric optional ostream
  queue random ranges ratio set shared_mutex source_location span sstream stdexcept stop_token
  string string_view system_error thread tuple type_traits typeinfo unordered_map unordered_set
  utility variant vector)
set(text "")
foreach(h IN LISTS std_headers)
  string(APPEND text "#include <${h}>\n")
endforeach()
string(APPEND text "#include <nlohmann/json.hpp>\n#include <openssl/evp.h>\n")
file(WRITE ${probe} "${text}")

function(headers_of src out)
  execute_process(COMMAND ${CXX} -std=c++20 -M -I${CORE_DIR}/include ${src}
    OUTPUT_VARIABLE deps ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cannot preprocess ${src}: ${err}")
  endif()
  string(REGEX MATCHALL "[^ \\\\\n]+\\.(h|hpp|hh|tcc|ipp)|[^ \\\\\n]+/c\\+\\+/[0-9]+/[a-z_]+" found "${deps}")
  set(resolved "")
  foreach(h IN LISTS found)
    get_filename_component(real ${h} REALPATH)
    list(APPEND resolved ${real})
  endforeach()
  set(${out} ${resolved} PARENT_SCOPE)
endfunction()

headers_of(${probe} allowed)
get_filename_component(core_real ${CORE_DIR} REALPATH)
set(failed FALSE)
foreach(src IN LISTS sources)
  headers_of(${src} reached)
  foreach(h IN LISTS reached)
    string(FIND "${h}" "${core_real}/" in_core)
    if(in_core EQUAL 0)
      continue()
    endif()
    list(FIND allowed "${h}" at)
    if(at EQUAL -1)
      message(SEND_ERROR "${src} reaches ${h}: not core's, nor the standard library's, nlohmann/json's or OpenSSL's")
      set(failed TRUE)
    endif()
  endforeach()
endforeach()
list(LENGTH sources n)
list(LENGTH allowed n_allowed)
if(failed)
  message(FATAL_ERROR "core isolation check failed")
endif()
message(STATUS "core isolation: ${n} sources reach only core's headers and ${n_allowed} allowed ones")
