// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <filesystem>

namespace wim {

/// fsync(2) of a folder, so that a file created, renamed or removed in it survives a power
/// cut. An empty path is the current folder. Throws SystemError naming the folder and the
/// error.
void fsync_dir(const std::filesystem::path& dir);

}  // namespace wim
