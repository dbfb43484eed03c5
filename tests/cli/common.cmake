# Helpers of the CLI tests: run the binary and check its exit code and stderr.

# run(<expected exit code> <command...>): fails the test on another exit code; leaves the
# output in last_out and last_err.
function(run expected_code)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL expected_code)
    message(FATAL_ERROR "expected exit ${expected_code}, got ${code}: ${ARGN}\n${out}\n${err}")
  endif()
  set(last_out "${out}" PARENT_SCOPE)
  set(last_err "${err}" PARENT_SCOPE)
endfunction()

# Fails unless the last stderr is one line matching `needle`.
function(expect_one_line_naming needle)
  string(STRIP "${last_err}" err)
  string(FIND "${err}" "\n" newline)
  if(NOT newline EQUAL -1 OR NOT err MATCHES "${needle}")
    message(FATAL_ERROR "expected one error line naming '${needle}', got:\n${last_err}")
  endif()
endfunction()
