// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

namespace wim {

/// fsync(2) of a folder, so that a file created, renamed or removed in it survives a power
/// cut. An empty path is the current folder. Throws SystemError naming the folder and the
/// error.
void fsync_dir(const std::filesystem::path& dir);

/// Throws SystemError "<what>: <strerror(errno)>".
[[noreturn]] void throw_errno(const std::string& what);

/// An open file descriptor, closed when it goes out of scope (fd < 0: none).
struct UniqueFd {
  int fd = -1;
  explicit UniqueFd(int f) : fd(f) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
};

/// The whole file; SystemError "cannot read <path>" when it cannot be opened or read.
std::string read_file(const std::filesystem::path& p);

/// write(2) of all of `data` to `fd` (EINTR retried); SystemError naming `p` otherwise.
void write_all(int fd, std::string_view data, const std::filesystem::path& p);

}  // namespace wim
