# SPDX-License-Identifier: Apache-2.0
# cmake -DCXX=g++ -DINCLUDE_DIR=include -DHEADER=sluice/sluice.hpp -P check_firewall.cmake
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/firewall_probe.cpp "#include <${HEADER}>\n")
execute_process(COMMAND ${CXX} -std=c++20 -H -E -I${INCLUDE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/firewall_probe.cpp
                OUTPUT_QUIET ERROR_VARIABLE includes RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "preprocessing ${HEADER} failed:\n${includes}")
endif()
string(REGEX MATCHALL "[^\n]*(zstd\\.h|zlib\\.h|openssl/|curl/|libpq|libssh|nats|isa-l|boost/asio|boost/beast|boost/json)[^\n]*"
       leaks "${includes}")
if(leaks)
  string(REPLACE ";" "\n" leaks "${leaks}")
  message(FATAL_ERROR "${HEADER} pulls in optional dependencies:\n${leaks}")
endif()
string(REGEX MATCHALL "\n\\.+ [^\n]*" all "${includes}")
list(LENGTH all count)
message(STATUS "${HEADER}: ${count} headers, none of them an optional dependency")
