// SPDX-License-Identifier: Apache-2.0
// Helpers for the station tests: deterministic chained records (the same seq always
// yields the same bytes, so "same seq, different content" is detectable) and temp dirs.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

#include "wim/common/crypto.hpp"
#include "wim/edge/outbox.hpp"

namespace wim::test {

/// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("wim-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Options of a fresh outbox at `path` that starts a new chain for `station_id`.
inline edge::OutboxOptions new_chain_outbox(const std::filesystem::path& path,
                                            const std::string& station_id) {
  edge::OutboxOptions oo;
  oo.path = path;
  oo.station_id = station_id;
  oo.create_new_chain = true;
  return oo;
}

/// Kind of the deterministic record `seq`: every 7th a violation, every 11th an event.
inline edge::RecordKind kind_of(std::uint64_t seq) {
  if (seq % 7 == 0) return edge::RecordKind::violation;
  if (seq % 11 == 0) return edge::RecordKind::event;
  return edge::RecordKind::pass;
}

/// The record `seq` following `prev_sha256`; its packet is a small JSON "manifest"
/// (the outbox treats packet bytes as opaque). Violations carry a larger attachment.
inline edge::OutboxRecord make_record(std::uint64_t seq, const std::string& prev_sha256,
                                      edge::RecordKind kind) {
  edge::OutboxRecord r;
  r.seq = seq;
  r.kind = kind;
  r.prev_sha256 = prev_sha256;
  r.created_unix_us = 1795766400LL * 1000000 + static_cast<std::int64_t>(seq) * 1000;
  std::string pad(kind == edge::RecordKind::violation ? 2000 + seq % 500 : seq % 200,
                  static_cast<char>('a' + seq % 26));
  r.packet = "{\"seq\":" + std::to_string(seq) + ",\"kind\":\"" +
             std::string(edge::to_string(kind)) + "\",\"prev_sha256\":\"" + prev_sha256 +
             "\",\"body\":\"" + pad + "\"}";
  r.manifest_sha256 = crypto::sha256_hex(r.packet);
  return r;
}

/// Appends the next deterministic record to `box` and returns it.
inline edge::OutboxRecord append_next(edge::Outbox& box) {
  auto h = box.head();
  auto r = make_record(h.seq + 1, h.manifest_sha256, kind_of(h.seq + 1));
  box.append(r);
  return r;
}

}  // namespace wim::test
