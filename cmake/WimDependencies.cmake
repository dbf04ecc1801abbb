# SPDX-License-Identifier: Apache-2.0
# Every dependency comes from a Debian 12 package (scripts/install-deps.sh).
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG COMPONENTS json program_options)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(MODBUS REQUIRED IMPORTED_TARGET libmodbus)
pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive)
# Argon2id password hashes of the workbench users (Debian libargon2-dev, issue 18): the
# collector's only; a station build (WIM_EDGE_ONLY, the ARM cross build) does without.
if(NOT WIM_EDGE_ONLY)
  pkg_check_modules(LIBARGON2 REQUIRED IMPORTED_TARGET libargon2)
endif()
