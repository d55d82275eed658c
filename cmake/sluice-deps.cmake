# SPDX-License-Identifier: Apache-2.0
# Imported targets for dependencies that ship no usable CMake target on Debian 12. Used by the
# build and by the installed package, so both link the same names.
include_guard(GLOBAL)

# zstd 1.5.4 exports zstd::libzstd_shared/_static but no zstd::libzstd: use pkg-config.
function(sluice_dep_zstd)
  if(TARGET sluice::dep::zstd)
    return()
  endif()
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(SLUICE_PC_ZSTD QUIET IMPORTED_TARGET GLOBAL libzstd)
  endif()
  if(TARGET PkgConfig::SLUICE_PC_ZSTD)
    add_library(sluice::dep::zstd INTERFACE IMPORTED GLOBAL)
    target_link_libraries(sluice::dep::zstd INTERFACE PkgConfig::SLUICE_PC_ZSTD)
  endif()
endfunction()

# ISA-L (libisal-dev) has a pkg-config file only.
function(sluice_dep_isal)
  if(TARGET sluice::dep::isal)
    return()
  endif()
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(SLUICE_PC_ISAL QUIET IMPORTED_TARGET GLOBAL libisal)
  endif()
  if(TARGET PkgConfig::SLUICE_PC_ISAL)
    add_library(sluice::dep::isal INTERFACE IMPORTED GLOBAL)
    target_link_libraries(sluice::dep::isal INTERFACE PkgConfig::SLUICE_PC_ISAL)
  endif()
endfunction()
