// SPDX-License-Identifier: Apache-2.0
// The station side of a record-signing key rotation (`wim-edge rotate-key`, docs/station.md).
//
// Steps, each of which a power cut may interrupt:
//  1. the new Ed25519 key is written to `<key>.next` (0600, owner of the old key file,
//     fsync'd, directory fsync'd);
//  2. the key_change event (chain::ChainWriter::rotate_key), signed with the OLD key, is
//     committed to the outbox, and in the same SQLite transaction the outbox's fact
//     "signing_key_fingerprint" becomes the new key's fingerprint: from here on the chain
//     says the new key is in force;
//  3. `<key>.next` is renamed over the key file (atomic; the old private key is gone);
//  4. the new public key is written beside it (`<station>.pub.pem` when the key file is
//     `<station>.key.pem`, else `<key>.pub.pem`) for the collector's operator.
// At every start, signing_key_in_force() reads the fact and finishes an interrupted
// step 3 (the key file still holds the old key, `<key>.next` the announced one), or drops
// a `<key>.next` the chain never announced (cut before step 2). So the station always
// signs with the key the chain announced last, and the collector accepts what follows.
//
// One process at a time: the daemon holds OutboxLock while it runs, rotate_signing_key
// takes it too (a rotation under a running daemon would leave it signing with the old
// key after the event). Errors: InputError (key file does not match the chain, lock
// held), SystemError (I/O), OutboxFull (nothing changed but a `<key>.next`).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "wim/common/crypto.hpp"
#include "wim/edge/outbox_sealer.hpp"

namespace wim::edge {

/// Exclusive advisory lock (flock) on `<outbox>.lock`, held for the object's lifetime.
/// Throws InputError when another process holds it.
class OutboxLock {
 public:
  explicit OutboxLock(const std::filesystem::path& outbox_path);
  ~OutboxLock();
  OutboxLock(const OutboxLock&) = delete;
  OutboxLock& operator=(const OutboxLock&) = delete;

 private:
  int fd_ = -1;
};

std::filesystem::path next_key_path(const std::filesystem::path& key_file);
std::filesystem::path public_key_path(const std::filesystem::path& key_file);

/// The key to sign with, after completing or undoing an interrupted rotation (see the
/// top of this file). An outbox without the fact (before rotation existed) takes the key
/// file's fingerprint as the fact. Throws InputError naming both fingerprints when the key
/// file holds neither the key in force nor can `<key>.next` complete the rotation.
crypto::SigningKey signing_key_in_force(const std::filesystem::path& key_file, Outbox& outbox);

enum class RotationStep {
  next_key_written,
  event_committed,
  key_file_replaced,
  public_key_written
};
std::string_view to_string(RotationStep s);

struct KeyRotation {
  std::uint64_t seq = 0;  ///< [-] seq of the key_change event
  std::string old_fingerprint, new_fingerprint;
  std::filesystem::path key_file, public_key;
};

/// Rotates: steps 1-4 above. `sealer` continues the outbox's chain with the key in force
/// (signing_key_in_force). `after_step` (tests) runs after each step; throwing from it
/// emulates a power cut there.
KeyRotation rotate_signing_key(const std::filesystem::path& key_file, Outbox& outbox,
                               OutboxSealer& sealer,
                               const std::function<void(RotationStep)>& after_step = {});

}  // namespace wim::edge
