# Same stored data in two HDF5 datasets, compared with h5dump's binary output (attributes ignored):
#   cmake -DH5DUMP=h5dump -DA=file1 -DA_PATH=/x -DB=file2 -DB_PATH=/y -DWORK=dir -P h5_same_data.cmake
file(MAKE_DIRECTORY "${WORK}")
foreach(side A B)
  execute_process(COMMAND ${H5DUMP} -d ${${side}_PATH} -b LE -o ${WORK}/${side}.bin ${${side}}
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "h5dump ${${side}} ${${side}_PATH} failed (${rc}): ${err}")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/A.bin ${WORK}/B.bin RESULT_VARIABLE same)
file(SIZE ${WORK}/A.bin size)
if(NOT same EQUAL 0 OR size EQUAL 0)
  message(FATAL_ERROR "${A}:${A_PATH} and ${B}:${B_PATH} differ (${size} bytes dumped)")
endif()
message(STATUS "${A}:${A_PATH} == ${B}:${B_PATH} (${size} bytes)")
