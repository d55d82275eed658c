# SPDX-License-Identifier: Apache-2.0
# Each file in SOURCES must appear verbatim inside a fenced code block of DOC.
file(READ ${DOC} doc)
foreach(source IN LISTS SOURCES)
  file(READ ${source} text)
  string(FIND "${doc}" "${text}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${DOC} does not show ${source} as it is: copy the file into the doc again")
  endif()
endforeach()
