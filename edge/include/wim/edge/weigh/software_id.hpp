// SPDX-License-Identifier: Apache-2.0
// Software identity of the legally relevant code (weighing, limits, overload decision):
// a SHA-256 that CMake computes at build time over the source files listed in
// edge/CMakeLists.txt (WIM_LEGAL_SOURCES). Recompute by hand from the repository root:
//   sha256sum <the files, in the listed order> | sha256sum
// (docs/weighing.md explains it). Every record carries it.
#pragma once
#include <string_view>

namespace wim::legal {

/// 64 lower-case hex characters.
std::string_view software_sha256();
/// The files hashed, relative to the repository root, in hashing order.
std::string_view software_files();

}  // namespace wim::legal
