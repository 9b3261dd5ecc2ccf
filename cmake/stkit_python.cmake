# The Python package (python/, `import stkit`): a pybind11 module built for STKIT_PYTHON (Debian's
# /usr/bin/python3, the one with python3-torch and python3-numpy).
#
# STKIT_BUILD_PYTHON: ON builds it and fails when pybind11 or the Python headers are missing; OFF
# skips it; left unset, it is built when both are found (top-level builds only). scripts/build
# passes ON, as scripts/setup installs pybind11-dev and python3-dev.
# stkit_add_python_test(NAME COMMAND args... [TIMEOUT s] [LABELS l...]): a script test run by
# STKIT_PYTHON with the build tree's package importable (PYTHONPATH) and STKIT_BIN set. In a
# sanitized build the sanitizer runtimes are preloaded, as the interpreter itself is not
# instrumented (and leak checks are off: an interpreter exits with memory still held).
function(stkit_add_python_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "COMMAND;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  stkit_add_script_test(${name} COMMAND ${STKIT_PYTHON} ${ARG_COMMAND} TIMEOUT ${ARG_TIMEOUT} LABELS ${ARG_LABELS})
  set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT "PYTHONPATH=${CMAKE_BINARY_DIR}/python")
  if(STKIT_SANITIZE)
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libasan.so
      OUTPUT_VARIABLE asan OUTPUT_STRIP_TRAILING_WHITESPACE)
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libubsan.so
      OUTPUT_VARIABLE ubsan OUTPUT_STRIP_TRAILING_WHITESPACE)
    set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT "LD_PRELOAD=${asan}:${ubsan}"
      "ASAN_OPTIONS=detect_leaks=0:halt_on_error=1")
  endif()
endfunction()

if(NOT DEFINED STKIT_BUILD_PYTHON AND NOT STKIT_TOP_LEVEL)
  set(STKIT_BUILD_PYTHON OFF)
endif()
if(DEFINED STKIT_BUILD_PYTHON AND NOT STKIT_BUILD_PYTHON)
  return()
endif()

set(Python_EXECUTABLE ${STKIT_PYTHON})
find_package(Python 3.8 QUIET COMPONENTS Interpreter Development.Module)
if(Python_FOUND)
  find_package(pybind11 2.6 CONFIG QUIET)
endif()
set(stkit_python_found OFF)
if(Python_FOUND AND pybind11_FOUND)
  set(stkit_python_found ON)
endif()

if(NOT DEFINED STKIT_BUILD_PYTHON)
  # Decided again at each configure (not cached), so installing pybind11 later is enough.
  set(STKIT_BUILD_PYTHON ${stkit_python_found})
  if(NOT stkit_python_found)
    message(STATUS "stkit: pybind11 or the headers of ${STKIT_PYTHON} not found, skipping the Python "
                   "package (Debian: apt-get install pybind11-dev python3-dev)")
  endif()
elseif(NOT stkit_python_found)
  message(FATAL_ERROR
    "STKIT_BUILD_PYTHON=ON but the Python package cannot be built: "
    "Python ${STKIT_PYTHON} with its headers found: ${Python_FOUND}, pybind11 found: ${pybind11_FOUND}. "
    "On Debian: apt-get install pybind11-dev python3-dev (scripts/setup installs both), "
    "or configure with -DSTKIT_BUILD_PYTHON=OFF.")
endif()
