// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "wim/collector/store.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"

namespace wim::collector {
namespace {

bool valid_sha(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

[[noreturn]] void sys_fail(const std::string& what, const std::filesystem::path& p) {
  throw SystemError(what + " " + p.string() + ": " + std::strerror(errno));
}

void fsync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) sys_fail("open dir", dir);
  if (::fsync(fd) != 0) {
    ::close(fd);
    sys_fail("fsync dir", dir);
  }
  ::close(fd);
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path, std::string_view data) {
  const auto dir = path.parent_path();
  std::filesystem::create_directories(dir);
  // A unique temporary name: concurrent writers of the same blob never clash.
  auto tmp = dir / (path.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                    std::to_string(reinterpret_cast<std::uintptr_t>(&data)));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) sys_fail("create", tmp);
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      errno = e;
      sys_fail("write", tmp);  // e.g. ENOSPC: nothing is acknowledged, the station resends
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    errno = e;
    sys_fail("fsync", tmp);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    sys_fail("rename", tmp);
  }
  fsync_dir(dir);
}

FileBlobStore::FileBlobStore(std::filesystem::path root) : root_(std::move(root)) {
  std::filesystem::create_directories(root_);
}

std::filesystem::path FileBlobStore::path_of(std::string_view sha) const {
  if (!valid_sha(sha)) throw InputError("blob id: expected 64 lower-case hex digits");
  const std::string s(sha);
  return root_ / s.substr(0, 2) / s.substr(2, 2) / s;
}

void FileBlobStore::put(std::string_view sha, std::string_view data) {
  const auto path = path_of(sha);
  if (crypto::sha256_hex(data) != sha)
    throw InputError("blob " + std::string(sha) + ": content does not match its SHA-256");
  if (std::filesystem::exists(path)) return;  // content-addressed: same name, same bytes
  write_file_atomic(path, data);
}

std::optional<std::string> FileBlobStore::get(std::string_view sha) const {
  std::ifstream in(path_of(sha), std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool FileBlobStore::contains(std::string_view sha) const {
  return std::filesystem::exists(path_of(sha));
}

}  // namespace wim::collector
