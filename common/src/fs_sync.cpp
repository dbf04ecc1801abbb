// SPDX-License-Identifier: Apache-2.0
#include "wim/common/fs_sync.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
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

void throw_errno(const std::string& what) {
  throw SystemError(what + ": " + std::strerror(errno));
}

UniqueFd::~UniqueFd() {
  if (fd >= 0) ::close(fd);
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw SystemError("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw SystemError("cannot read " + p.string() + ": read error");
  return ss.str();
}

void write_all(int fd, std::string_view data, const std::filesystem::path& p) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(p.string() + ": write");
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace wim
