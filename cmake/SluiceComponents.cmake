# SPDX-License-Identifier: Apache-2.0
# One INTERFACE target per component (sluice_<name>, alias and export name sluice::<name>), each
# with its own header file set and export set, so find_package(sluice COMPONENTS ...) loads only
# what a consumer asks for.
include_guard(GLOBAL)
include(${CMAKE_CURRENT_LIST_DIR}/sluice-deps.cmake)

set(SLUICE_COMPONENTS "" CACHE INTERNAL "components built")

# sluice_add_component(NAME [DIRS dir...] [HEADERS file-or-glob...])
# DIRS are folders under include/sluice whose headers (recursively) belong to the component.
function(sluice_add_component name)
  cmake_parse_arguments(ARG "" "" "DIRS;HEADERS" ${ARGN})
  set(headers "")
  foreach(dir IN LISTS ARG_DIRS)
    file(GLOB_RECURSE found CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/include/sluice/${dir}/*.hpp")
    list(APPEND headers ${found})
  endforeach()
  foreach(pattern IN LISTS ARG_HEADERS)
    file(GLOB found CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/${pattern}")
    list(APPEND headers ${found})
  endforeach()
  set(target sluice_${name})
  add_library(${target} INTERFACE)
  add_library(sluice::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  target_compile_features(${target} INTERFACE cxx_std_20)
  target_sources(${target} INTERFACE FILE_SET HEADERS BASE_DIRS "${PROJECT_SOURCE_DIR}/include" FILES ${headers})
  set(components ${SLUICE_COMPONENTS})
  list(APPEND components ${name})
  set(SLUICE_COMPONENTS "${components}" CACHE INTERNAL "components built")
endfunction()

# sluice_require(OPTION component): SLUICE_WITH_<OPTION>=ON fails when the component could not
# be built (its dependency is missing); AUTO accepts it; OFF removes it.
function(sluice_require option component)
  if(SLUICE_WITH_${option} STREQUAL "ON" AND NOT TARGET sluice_${component})
    message(FATAL_ERROR "SLUICE_WITH_${option}=ON but the dependencies of sluice::${component} were not found")
  endif()
  if(SLUICE_WITH_${option} STREQUAL "OFF" AND TARGET sluice_${component})
    set(components ${SLUICE_COMPONENTS})
    list(REMOVE_ITEM components ${component})
    set(SLUICE_COMPONENTS "${components}" CACHE INTERNAL "components built")
  endif()
endfunction()

macro(sluice_find_zstd)
  sluice_dep_zstd()
  set(SLUICE_ZSTD_FOUND FALSE)
  if(TARGET sluice::dep::zstd AND NOT SLUICE_WITH_ZSTD STREQUAL "OFF")
    set(SLUICE_ZSTD_FOUND TRUE)
  endif()
endmacro()

macro(sluice_find_isal)
  sluice_dep_isal()
  set(SLUICE_ISAL_FOUND FALSE)
  if(TARGET sluice::dep::isal)
    set(SLUICE_ISAL_FOUND TRUE)
  endif()
endmacro()

function(sluice_install_package)
  set(cmake_dir ${CMAKE_INSTALL_DATADIR}/cmake/sluice)
  foreach(component IN LISTS SLUICE_COMPONENTS)
    install(TARGETS sluice_${component} EXPORT sluice-${component}-targets FILE_SET HEADERS)
    install(EXPORT sluice-${component}-targets NAMESPACE sluice:: DESTINATION ${cmake_dir})
    export(EXPORT sluice-${component}-targets NAMESPACE sluice::
           FILE ${PROJECT_BINARY_DIR}/sluice-${component}-targets.cmake)
  endforeach()
  install(TARGETS sluice_sluice EXPORT sluice-sluice-targets FILE_SET HEADERS)
  install(EXPORT sluice-sluice-targets NAMESPACE sluice:: DESTINATION ${cmake_dir})
  export(EXPORT sluice-sluice-targets NAMESPACE sluice:: FILE ${PROJECT_BINARY_DIR}/sluice-sluice-targets.cmake)

  # What each component needs from find_dependency, recorded for the package config.
  set(SLUICE_GZIP_USES_ISAL ${SLUICE_ISAL_FOUND})
  configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/sluice-config.cmake.in
                                ${PROJECT_BINARY_DIR}/sluice-config.cmake INSTALL_DESTINATION ${cmake_dir})
  write_basic_package_version_file(${PROJECT_BINARY_DIR}/sluice-config-version.cmake
                                   COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
  install(FILES ${PROJECT_BINARY_DIR}/sluice-config.cmake ${PROJECT_BINARY_DIR}/sluice-config-version.cmake
                ${PROJECT_SOURCE_DIR}/cmake/sluice-deps.cmake
          DESTINATION ${cmake_dir})
  configure_file(${PROJECT_SOURCE_DIR}/cmake/sluice-deps.cmake ${PROJECT_BINARY_DIR}/sluice-deps.cmake COPYONLY)
endfunction()
