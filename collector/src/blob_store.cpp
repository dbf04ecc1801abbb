// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "wim/collector/store.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"
#include "wim/common/fs_sync.hpp"

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

FileBlobStore::FileBlobStore(std::filesystem::path root, BlobSync sync)
    : root_(std::move(root)), sync_(sync) {
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

void FileBlobStore::sync_barrier() {
  std::unique_lock lock(sync_mutex_);
  const std::uint64_t ticket = ++sync_requested_;  // our writes finished before this
  while (sync_done_ < ticket) {
    if (syncing_) {
      sync_cv_.wait(lock);
      continue;
    }
    syncing_ = true;
    const std::uint64_t covers = sync_requested_;
    lock.unlock();
    int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? -1 : ::syncfs(fd);
    int e = errno;
    if (fd >= 0) ::close(fd);
    lock.lock();
    syncing_ = false;
    sync_cv_.notify_all();
    if (rc != 0) {
      errno = e;
      sys_fail("syncfs", root_);
    }
    sync_done_ = std::max(sync_done_, covers);
    ++syncs_done_;
  }
}

void FileBlobStore::put_many(const std::vector<std::pair<std::string, std::string_view>>& blobs,
                             HashCheck check) {
  struct Pending {
    std::filesystem::path tmp, path;
  };
  std::vector<Pending> pending;
  auto cleanup = [&] {
    for (const auto& p : pending)
      if (!p.tmp.empty()) ::unlink(p.tmp.c_str());
  };
  std::set<std::string> seen;
  std::set<std::filesystem::path> dirs;  // BlobSync::per_file: folders to fsync at the end
  try {
    for (const auto& [sha, data] : blobs) {
      const auto path = path_of(sha);
      if (check == HashCheck::check && crypto::sha256_hex(data) != sha)
        throw InputError("blob " + sha + ": content does not match its SHA-256");
      if (!seen.insert(sha).second) continue;
      const auto dir = path.parent_path();
      dirs.insert(dir);  // also for a blob that exists: its name may not be durable yet
      if (std::filesystem::exists(path)) continue;
      if (std::filesystem::create_directories(dir)) {
        dirs.insert(dir.parent_path());  // the new <aa>/<bb> names themselves
        dirs.insert(root_);
      }
      auto tmp = dir / (path.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                        std::to_string(reinterpret_cast<std::uintptr_t>(&data)));
      pending.push_back({tmp, path});
      int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) sys_fail("create", tmp);
      std::size_t off = 0;
      while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
          if (errno == EINTR) continue;
          int e = errno;
          ::close(fd);
          errno = e;
          sys_fail("write", tmp);  // e.g. ENOSPC: nothing is acknowledged, the station resends
        }
        off += static_cast<std::size_t>(n);
      }
      if (sync_ == BlobSync::per_file) {
        if (::fsync(fd) != 0) {
          int e = errno;
          ::close(fd);
          errno = e;
          sys_fail("fsync", tmp);
        }
        ++syncs_done_;
      }
      if (::close(fd) != 0) sys_fail("close", tmp);
    }
    // Contents durable before any name points at them.
    if (sync_ == BlobSync::syncfs && !pending.empty()) sync_barrier();
    for (auto& p : pending) {
      if (::rename(p.tmp.c_str(), p.path.c_str()) != 0) sys_fail("rename", p.tmp);
      p.tmp.clear();
    }
  } catch (...) {
    cleanup();
    throw;
  }
  // Names durable (also those another request renamed and may not have synced yet).
  if (sync_ == BlobSync::syncfs) {
    if (!blobs.empty()) sync_barrier();
    return;
  }
  for (const auto& d : dirs) {
    fsync_dir(d);
    ++syncs_done_;
  }
}

bool FileBlobStore::contains(std::string_view sha) const {
  return std::filesystem::exists(path_of(sha));
}

namespace {

/// flock(2) on its own open file description: two holds conflict also within a process.
class FlockHold final : public BlobHold {
 public:
  FlockHold(const std::filesystem::path& file, int op) {
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0)
      throw SystemError(file.string() + ": cannot open the blob lock: " + std::strerror(errno));
    int rc;
    while ((rc = ::flock(fd_, op)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
      const int err = errno;
      ::close(fd_);
      throw SystemError(file.string() + ": cannot lock: " + std::strerror(err));
    }
  }
  ~FlockHold() override { ::close(fd_); }  // closing releases the lock
  FlockHold(const FlockHold&) = delete;
  FlockHold& operator=(const FlockHold&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace

std::unique_ptr<BlobHold> FileBlobStore::hold_references() {
  return std::make_unique<FlockHold>(root_.string() + ".lock", LOCK_SH);
}

std::unique_ptr<BlobHold> FileBlobStore::hold_for_delete() {
  return std::make_unique<FlockHold>(root_.string() + ".lock", LOCK_EX);
}

}  // namespace wim::collector
