# SPDX-License-Identifier: Apache-2.0
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/docs/getting-started -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
# The program must not have compiled against the source tree: its include path is the prefix.
file(READ ${WORK_DIR}/build/compile_commands.json commands)
if(commands MATCHES "${SOURCE_DIR}/include")
  message(FATAL_ERROR "the consumer compiled against the source tree, not the installed package")
endif()
file(WRITE ${WORK_DIR}/input.txt "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n")
execute_process(COMMAND ${WORK_DIR}/build/ingest ${WORK_DIR}/lake WORKING_DIRECTORY ${WORK_DIR}
                INPUT_FILE ${WORK_DIR}/input.txt RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "ingest failed (${status}):\n${out}\n${err}")
endif()
file(GLOB_RECURSE landed ${WORK_DIR}/lake/*.esdk)
list(LENGTH landed count)
if(count EQUAL 0)
  message(FATAL_ERROR "ingest wrote no encrypted object under ${WORK_DIR}/lake:\n${out}")
endif()
message(STATUS "consumer wrote ${count} object(s): ${out}")

# The S3 component from the installed tree: find_package(... COMPONENTS s3) loads its
# dependencies (libcurl, OpenSSL, and the crypto and aws components) and a program using
# store::s3 builds against it.
if(EXISTS ${WORK_DIR}/prefix/share/cmake/sluice/sluice-s3-targets.cmake)
  file(WRITE ${WORK_DIR}/s3-consumer/CMakeLists.txt
       "cmake_minimum_required(VERSION 3.25)\nproject(s3_consumer CXX)\n"
       "find_package(sluice CONFIG REQUIRED COMPONENTS s3)\n"
       "add_executable(s3_consumer main.cpp)\ntarget_link_libraries(s3_consumer PRIVATE sluice::s3)\n")
  file(WRITE ${WORK_DIR}/s3-consumer/main.cpp
       "#include <sluice/store/s3.hpp>\n#include <sluice/format/jsonl.hpp>\n"
       "int main() {\n  sluice::store::s3 sink{.url = \"s3://bucket/prefix\"};\n  sink.validate();\n"
       "  return sluice::store::s3_location::parse(sink.url).bucket == \"bucket\" ? 0 : 1;\n}\n")
  run(${CMAKE_COMMAND} -S ${WORK_DIR}/s3-consumer -B ${WORK_DIR}/s3-build -G ${GENERATOR}
      -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release)
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/s3-build)
  run(${WORK_DIR}/s3-build/s3_consumer)
endif()
