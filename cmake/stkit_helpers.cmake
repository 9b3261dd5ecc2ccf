# Helpers shared by every subsystem's CMakeLists.txt.
#
# The library is made of one static library per subsystem (stkit_core, stkit_format, stkit_pickle,
# ...), so a subsystem and its tests build without the others. The umbrella target stkit::stkit
# (src/CMakeLists.txt) links them all; consumers use only that.

set(STKIT_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
if(STKIT_WERROR)
  list(APPEND STKIT_WARNINGS -Werror)
endif()
if(STKIT_LIBFUZZER)
  # Coverage instrumentation for the whole library, so libFuzzer is guided by every parser it reaches;
  # fuzz targets themselves link with -fsanitize=fuzzer (fuzz/CMakeLists.txt).
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
if(STKIT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()

# stkit_add_component(NAME SOURCES files... [PUBLIC_DEPS targets...] [PRIVATE_DEPS targets...])
# Defines static library stkit_NAME and records it for the umbrella target and for installation.
function(stkit_add_component name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set(target stkit_${name})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(stkit::${name} ALIAS ${target})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_compile_options(${target} PRIVATE ${STKIT_WARNINGS})
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  if(STKIT_SANITIZE)
    # A sanitized static library needs the sanitizer runtimes wherever it is linked, including in
    # a find_package(stkit) consumer of the installed build: the exported target says so.
    target_link_options(${target} INTERFACE -fsanitize=address,undefined)
  endif()
  set_property(GLOBAL APPEND PROPERTY STKIT_COMPONENTS ${target})
endfunction()

# stkit_add_gtest(NAME SOURCES files... LIBS targets...)
# A GoogleTest executable whose cases are registered with ctest one by one.
function(stkit_add_gtest name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(${name} PRIVATE ${STKIT_WARNINGS})
  target_compile_definitions(${name} PRIVATE
    STKIT_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    STKIT_PYTHON="${STKIT_PYTHON}")
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
    PROPERTIES ENVIRONMENT "STKIT_BIN=$<TARGET_FILE:stkit_cli>;STKIT_PYTHON=${STKIT_PYTHON}")
endfunction()

# stkit_add_script_test(NAME COMMAND args...)
# A test driven by a script (Python with python3-torch, or shell) against the stkit executable.
# The environment gives STKIT_BIN (the executable), STKIT_PYTHON (Debian's python3 with torch) and
# STKIT_SOURCE_DIR; each test gets its own scratch folder in STKIT_SCRATCH.
function(stkit_add_script_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "COMMAND;LABELS" ${ARGN})
  set(scratch ${CMAKE_BINARY_DIR}/test-scratch/${name})
  add_test(NAME ${name} COMMAND ${ARG_COMMAND})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES
    TIMEOUT ${ARG_TIMEOUT}
    LABELS "${ARG_LABELS}"
    ENVIRONMENT "STKIT_BIN=$<TARGET_FILE:stkit_cli>;STKIT_PYTHON=${STKIT_PYTHON};STKIT_SOURCE_DIR=${PROJECT_SOURCE_DIR};STKIT_SCRATCH=${scratch};PYTHONDONTWRITEBYTECODE=1")
endfunction()
