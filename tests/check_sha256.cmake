# cmake -DFILE=path -DEXPECTED=hex -P check_sha256.cmake
file(SHA256 "${FILE}" actual)
if(NOT actual STREQUAL EXPECTED)
  message(FATAL_ERROR "${FILE}: sha256 expected ${EXPECTED}, found ${actual}")
endif()
message(STATUS "${FILE}: sha256 ${actual} as expected")
