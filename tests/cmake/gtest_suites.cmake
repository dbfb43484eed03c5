# Registers one CTest test per GoogleTest suite of a test binary (run after each link of it,
# like gtest_discover_tests, but grouped): a LibTorch process spends ~0.7 s of CPU starting,
# more than most of our tests take, so one process per test cost ~4 CPU minutes of start-ups.
# Each CTest test runs `<binary> --gtest_filter=<Suite>.*`; on a failure, CTest's
# --output-on-failure shows GoogleTest's output, which names the failed tests and assertions.
# Usage: cmake -DTEST_EXECUTABLE=... -DCTEST_FILE=... -DTEST_TIMEOUT=... -P gtest_suites.cmake
execute_process(
  COMMAND "${TEST_EXECUTABLE}" --gtest_list_tests
  OUTPUT_VARIABLE listing
  RESULT_VARIABLE result
  TIMEOUT 60)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "'${TEST_EXECUTABLE} --gtest_list_tests' failed (${result}):\n${listing}")
endif()

string(REPLACE ";" "\\;" listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")
set(script "")
set(count 0)
foreach(line IN LISTS lines)
  # Suite lines start in column 0 and end with '.'; a typed or parameterised suite may be
  # followed by a comment ("  # TypeParam = ..."). Test lines are indented.
  if(line MATCHES "^([^ #][^ ]*)\\.( *#.*)?$")
    set(suite "${CMAKE_MATCH_1}")
    string(APPEND script
      "add_test([==[${suite}]==] [==[${TEST_EXECUTABLE}]==] [==[--gtest_filter=${suite}.*]==])\n"
      "set_tests_properties([==[${suite}]==] PROPERTIES TIMEOUT ${TEST_TIMEOUT})\n")
    math(EXPR count "${count} + 1")
  endif()
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "no test suite in the listing of '${TEST_EXECUTABLE}':\n${listing}")
endif()
file(WRITE "${CTEST_FILE}" "${script}")
