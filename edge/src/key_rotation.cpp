// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/key_rotation.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "wim/common/error.hpp"
#include "wim/common/fs_sync.hpp"
#include "wim/common/log.hpp"
#include "wim/edge/outbox.hpp"

namespace wim::edge {
namespace fs = std::filesystem;

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

/// Writes `data` to `path` through `<path>.tmp` + rename (atomic), fsync'd.
void replace_file(const fs::path& path, const std::string& data, mode_t mode) {
  const fs::path tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw SystemError(tmp.string() + ": cannot create: " + errno_text());
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw SystemError(path.string() + ": cannot write: " + errno_text());
  }
  fsync_dir(path.parent_path());
}

/// `<key>.next` renamed over the key file, directory fsync'd (step 3).
void install_next_key(const fs::path& key_file) {
  const fs::path next = next_key_path(key_file);
  if (::rename(next.c_str(), key_file.c_str()) != 0)
    throw SystemError(next.string() + ": cannot rename over " + key_file.string() + ": " +
                      errno_text());
  fsync_dir(key_file.parent_path());
}

/// Step 4 redone at start when a cut left the public key file behind (or it was lost):
/// a convenience for the operator, so a failure is logged, not fatal.
void ensure_public_key_file(const fs::path& key_file, const crypto::VerifyKey& pub) {
  const fs::path p = public_key_path(key_file);
  try {
    std::error_code ec;
    if (fs::exists(p, ec) && crypto::VerifyKey::load_pem_file(p).fingerprint() == pub.fingerprint())
      return;
  } catch (const std::exception&) {  // unreadable: written again below
  }
  try {
    replace_file(p, pub.to_pem(), 0644);
    log::notice("station", p.string() + ": public key of the key in force written");
  } catch (const std::exception& e) {
    log::warning("station", p.string() + ": cannot write the public key: " + e.what());
  }
}

}  // namespace

OutboxLock::OutboxLock(const fs::path& outbox_path) {
  const fs::path p = outbox_path.string() + ".lock";
  fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw SystemError(p.string() + ": cannot open: " + errno_text());
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    if (e == EWOULDBLOCK)
      throw InputError(p.string() + ": the outbox is in use by another process (a running " +
                       "wim-edge daemon? stop it first)");
    throw SystemError(p.string() + ": cannot lock: " + std::strerror(e));
  }
}

OutboxLock::~OutboxLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

fs::path next_key_path(const fs::path& key_file) {
  return key_file.string() + ".next";
}

fs::path public_key_path(const fs::path& key_file) {
  const std::string s = key_file.string();
  constexpr std::string_view suffix = ".key.pem";
  if (s.ends_with(suffix)) return s.substr(0, s.size() - suffix.size()) + ".pub.pem";
  return s + ".pub.pem";
}

std::string_view to_string(RotationStep s) {
  switch (s) {
    case RotationStep::next_key_written:
      return "next_key_written";
    case RotationStep::event_committed:
      return "event_committed";
    case RotationStep::key_file_replaced:
      return "key_file_replaced";
    case RotationStep::public_key_written:
      return "public_key_written";
  }
  return "?";
}

crypto::SigningKey signing_key_in_force(const fs::path& key_file, Outbox& outbox) {
  auto key = crypto::SigningKey::load_pem_file(key_file);
  const std::string have = key.public_key().fingerprint();
  const std::string in_force = outbox.station_fact(kSigningKeyFact);
  const fs::path next = next_key_path(key_file);
  std::error_code ec;
  if (in_force.empty()) {  // an outbox from before key rotation: the key file is the key
    outbox.set_station_fact(kSigningKeyFact, have);
  } else if (have != in_force) {
    // A cut between steps 2 and 3: the chain announced the key in <key>.next.
    if (fs::exists(next, ec)) {
      auto announced = crypto::SigningKey::load_pem_file(next);
      if (announced.public_key().fingerprint() == in_force) {
        install_next_key(key_file);
        log::notice("station", "key rotation completed at start: " + key_file.string() +
                                   " now holds the key in force " + in_force);
        ensure_public_key_file(key_file, announced.public_key());
        return announced;
      }
    }
    throw InputError(key_file.string() + ": holds key " + have + ", but the outbox's chain (" +
                     outbox.path().string() + ") says key " + in_force +
                     " is in force (announced by its last key_change event); " +
                     "records signed with this key would be refused");
  }
  if (fs::exists(next, ec)) {  // a cut before step 2: never announced, never used
    fs::remove(next);
    log::notice("station", next.string() + ": removed (a key rotation cut before its event)");
  }
  if (!in_force.empty()) ensure_public_key_file(key_file, key.public_key());
  return key;
}

KeyRotation rotate_signing_key(const fs::path& key_file, Outbox& outbox, OutboxSealer& sealer,
                               const std::function<void(RotationStep)>& after_step) {
  auto step_done = [&](RotationStep s) {
    if (after_step) after_step(s);
  };
  KeyRotation r;
  r.key_file = key_file;
  r.public_key = public_key_path(key_file);
  const auto old_key = signing_key_in_force(key_file, outbox);
  r.old_fingerprint = old_key.public_key().fingerprint();

  // Step 1: the new key beside the old one, with the old file's owner (the daemon's user
  // must read it; a technician runs this as root).
  struct stat st {};
  if (::stat(key_file.c_str(), &st) != 0)
    throw SystemError(key_file.string() + ": cannot stat: " + errno_text());
  const fs::path next = next_key_path(key_file);
  const auto new_key = crypto::SigningKey::generate();
  new_key.save_pem_file(next);
  if (::chown(next.c_str(), st.st_uid, st.st_gid) != 0 && errno != EPERM) {
    fs::remove(next);
    throw SystemError(next.string() + ": cannot chown: " + errno_text());
  }
  fsync_dir(next.parent_path());
  r.new_fingerprint = new_key.public_key().fingerprint();
  step_done(RotationStep::next_key_written);

  // Step 2: the event, signed with the old key; the fact in the same transaction.
  try {
    r.seq = sealer.rotate_key(new_key);
  } catch (...) {
    fs::remove(next);  // not announced: the old key stays in force
    throw;
  }
  step_done(RotationStep::event_committed);

  // Step 3 and 4.
  install_next_key(key_file);
  step_done(RotationStep::key_file_replaced);
  replace_file(r.public_key, new_key.public_key().to_pem(), 0644);
  step_done(RotationStep::public_key_written);
  return r;
}

}  // namespace wim::edge
