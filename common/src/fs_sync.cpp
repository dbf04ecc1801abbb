// SPDX-License-Identifier: Apache-2.0
#include "wim/common/fs_sync.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "wim/common/error.hpp"

namespace wim {

void fsync_dir(const std::filesystem::path& dir) {
  const std::filesystem::path d = dir.empty() ? std::filesystem::path(".") : dir;
  const int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw SystemError(d.string() + ": open for fsync: " + std::strerror(errno));
  if (::fsync(fd) != 0) {
    const int e = errno;
    ::close(fd);
    throw SystemError(d.string() + ": fsync: " + std::strerror(e));
  }
  ::close(fd);
}

}  // namespace wim
