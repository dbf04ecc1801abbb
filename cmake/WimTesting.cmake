# SPDX-License-Identifier: Apache-2.0
# wim_add_test(<name> SOURCES <files...> LIBS <targets...>)
# Builds one Catch2 (v2) executable from several test files and registers each
# TEST_CASE with ctest, so every case shows by name in ctest's output.
find_package(Catch2 2 REQUIRED)
include(Catch)

if(NOT TARGET wim_catch_main)
  add_library(wim_catch_main STATIC ${PROJECT_SOURCE_DIR}/tests/catch_main.cpp)
  target_link_libraries(wim_catch_main PUBLIC Catch2::Catch2)
endif()

function(wim_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  # catch_discover_tests splits a case name at ';' into two filters that match
  # nothing, so such a case would never run while ctest reports it passed.
  foreach(_src IN LISTS ARG_SOURCES)
    file(STRINGS "${_src}" _bad REGEX "^(TEST_CASE|SCENARIO)\\(\"[^\"]*;")
    if(_bad)
      message(FATAL_ERROR "${_src}: a test case name contains ';', ctest would never run it: ${_bad}")
    endif()
  endforeach()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE wim_catch_main ${ARG_LIBS})
  target_compile_definitions(${name} PRIVATE
    WIM_SOURCE_DIR="${PROJECT_SOURCE_DIR}" WIM_BINARY_DIR="${PROJECT_BINARY_DIR}")
  # Cross builds: a test that runs one of our programs (popen, system) must prefix it
  # with WIM_TEST_EMULATOR ("" natively, "/usr/bin/qemu-aarch64 " under the aarch64
  # toolchain): qemu-user does not follow exec into another ARM binary.
  string(JOIN " " _wim_emulator ${CMAKE_CROSSCOMPILING_EMULATOR})
  if(_wim_emulator)
    string(APPEND _wim_emulator " ")
  endif()
  target_compile_definitions(${name} PRIVATE WIM_TEST_EMULATOR="${_wim_emulator}")
  catch_discover_tests(${name} TEST_PREFIX "${name}:" PROPERTIES TIMEOUT 600
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
endfunction()
