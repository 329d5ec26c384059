# Runs a command and checks its exit status and output:
#   cmake -DCMD="a;b;c" -DEXPECT_RC=N -DEXPECT_REGEX=re -P cli_expect.cmake
execute_process(COMMAND ${CMD} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
message("${all}")
if(NOT rc EQUAL EXPECT_RC)
  message(FATAL_ERROR "exit status: expected ${EXPECT_RC}, found ${rc}")
endif()
if(NOT all MATCHES "${EXPECT_REGEX}")
  message(FATAL_ERROR "output does not match: ${EXPECT_REGEX}")
endif()
