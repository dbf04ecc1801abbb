// SPDX-License-Identifier: Apache-2.0
// The station's outbox: every sealed record (pass, violation, event) is committed here
// before the pass counts as done, and stays until the collector has acknowledged it.
//
// Durability (power loss at a roadside cabinet is routine, not exceptional):
//  - journal_mode=WAL: a crash mid-write never damages committed pages; readers (status,
//    uplink) never block the writer.
//  - synchronous=FULL: in WAL mode, NORMAL may lose the last transactions on power loss
//    (the WAL is only fsync'd at checkpoints). A record that is "done" must survive a
//    power cut, so every commit fsyncs the WAL. Cost: one fsync per record (measured in
//    tests/bench/outbox_bench.cpp); a WIM lane sees at most a few vehicles per second.
//  - The chain head (last seq, last manifest SHA-256) lives in its own row, updated in
//    the same transaction as the record, so a restart continues the chain even after
//    every record has been acknowledged and removed.
//
// Thread-safety: all members may be called from several threads (one connection,
// serialised by a mutex). Errors: OutboxCorrupt, OutboxFull, ChainError, SystemError.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "wim/common/error.hpp"

namespace wim::sqlite {
class Db;
}

namespace wim::edge {

enum class RecordKind { pass, violation, event };
std::string_view to_string(RecordKind k);
/// Throws InputError naming the bad value.
RecordKind record_kind_from_string(std::string_view s);

/// One sealed record as the outbox keeps it. The packet bytes are opaque here: the
/// packet as it goes on the wire (a tar of manifest.json, manifest.sig, attachments).
struct OutboxRecord {
  std::uint64_t seq = 0;  ///< [-] per-station sequence number, from 1, no gaps
  RecordKind kind = RecordKind::pass;
  std::string manifest_sha256;       ///< hex SHA-256 of manifest.json (the chain link)
  std::string prev_sha256;           ///< hex SHA-256 of the previous record's manifest.json
  std::int64_t created_unix_us = 0;  ///< [us] UTC, the record's time (manifest time_utc)
  int lane = 0;                      ///< [-] 1-based; 0 for events
  /// [us] UTC, the chain's time after this record (what the next record must not precede:
  /// the record's time, or the head's when it was sealed late); 0: created_unix_us.
  std::int64_t chain_time_unix_us = 0;
  std::string packet;  ///< the packet's wire bytes (tar)
};

/// Where the chain stands: the last record sealed (acknowledged or not).
struct ChainHead {
  std::uint64_t seq = 0;        ///< [-] 0 when no record was ever sealed
  std::string manifest_sha256;  ///< hex; empty when seq == 0
  /// [us] UTC chain time of the head record (0 when unknown: no record, or an outbox
  /// from before schema 2 whose head record was already acknowledged).
  std::int64_t time_unix_us = 0;
};

/// A pass record removed under disk pressure before it was sent: its seq and manifest
/// hash stay known, so the thinning event can name them and the chain stays verifiable.
struct ThinnedRecord {
  std::uint64_t seq = 0;
  std::string manifest_sha256;
  std::int64_t time_unix_us = 0;  ///< [us] UTC, the pass's time (manifest time_utc)
  int lane = 0;                   ///< [-] 1-based; 0 when unknown (schema 1 row)
};

struct OutboxStats {
  std::uint64_t depth = 0;                 ///< [-] records not yet acknowledged
  std::uint64_t violations = 0;            ///< [-] of which violations
  std::uint64_t conflicts = 0;             ///< [-] records the collector reported as conflict
  std::uint64_t stored_bytes = 0;          ///< [B] packet bytes held
  std::int64_t oldest_unsent_unix_us = 0;  ///< [us] 0 when empty
  std::uint64_t thinned_total = 0;         ///< [-] pass records ever thinned
  std::uint64_t thinned_unreported = 0;    ///< [-] thinned but no event record names them yet
  std::uint64_t quota_bytes = 0;           ///< [B] configured quota (0 = none)
};

struct OutboxOptions {
  std::filesystem::path path;
  std::string station_id;
  /// [B] soft quota on stored packet bytes. Above it, the oldest unsent pass records are
  /// thinned; violations and events are never removed before acknowledgment.
  std::uint64_t quota_bytes = 0;
  /// true only when provisioning a new station: creates the database and starts a chain.
  /// Otherwise a missing file is an error (a lost outbox must never silently restart
  /// the chain at seq 1).
  bool create_new_chain = false;
  /// Schema 1 files (before chain time and lanes were kept) are migrated in place at open.
  /// Test hook: SQLite max_page_count (0 = unlimited), to emulate a full disk.
  std::int64_t max_page_count = 0;
};

/// The database file is damaged, not a database, or inconsistent with its chain head.
/// The daemon refuses to start over it; what() names the file and what was found.
class OutboxCorrupt : public SystemError {
 public:
  using SystemError::SystemError;
};
/// The outbox file does not exist and a new chain was not asked for (--new-chain): a
/// technician must recover the file or re-provision; the daemon exits 3 (not restarted).
class OutboxMissing : public SystemError {
 public:
  using SystemError::SystemError;
};
/// The disk (or the page limit) is full: the record was NOT stored, nothing was damaged.
class OutboxFull : public SystemError {
 public:
  using SystemError::SystemError;
};
/// A record that does not continue the chain (wrong seq or prev_sha256).
class ChainError : public InputError {
 public:
  using InputError::InputError;
};

/// What a damaged outbox still yields, row by row (best effort, read-only).
struct SalvageReport {
  std::vector<std::string> problems;  ///< integrity_check lines and read errors
  std::optional<ChainHead> head;      ///< the stored chain head, when readable
  std::vector<OutboxRecord> records;  ///< every record that could be read, in seq order
};

class Outbox {
 public:
  /// Opens (or with create_new_chain creates) the outbox and checks it: quick_check,
  /// schema, station id and chain head against the stored records. Throws OutboxCorrupt.
  explicit Outbox(const OutboxOptions& options);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  ChainHead head() const;

  /// Commits one record durably. It must continue the chain: seq == head.seq + 1 and
  /// prev_sha256 == head.manifest_sha256 (any prev for seq 1). `reports_thinned_upto`:
  /// when the record is the thinning event, the thinned entries up to this seq are marked
  /// reported in the same transaction. `facts`: station facts (set_station_fact) set in
  /// the same transaction. Throws ChainError, OutboxFull (nothing stored).
  void append(const OutboxRecord& record, std::uint64_t reports_thinned_upto = 0,
              std::int64_t held_id = 0,
              const std::vector<std::pair<std::string, std::string>>& facts = {});

  /// Up to max_records unacknowledged records in ascending seq, stopping before
  /// max_bytes of packets (at least one record is returned when any is pending).
  /// Records in conflict are not returned (they wait for an operator).
  std::vector<OutboxRecord> pending(std::size_t max_records, std::uint64_t max_bytes) const;

  /// The collector stored these seqs (status stored or duplicate): remove them.
  void acknowledge(const std::vector<std::uint64_t>& seqs);
  /// Every seq <= acked_seq is stored at the collector: remove them.
  void acknowledge_upto(std::uint64_t acked_seq);
  /// The collector holds other content under this seq: keep the record, flag it.
  void mark_conflict(std::uint64_t seq, const std::string& detail);

  /// When stored bytes exceed the quota, removes the oldest unsent pass records until
  /// `incoming_bytes` more would fit (or no pass is left). The removed records are kept
  /// as (seq, sha) in the same transaction until an event record reports them.
  std::vector<ThinnedRecord> thin_to_quota(std::uint64_t incoming_bytes);
  /// Thinned records no event record has named yet (after a crash, too).
  std::vector<ThinnedRecord> unreported_thinned() const;

  /// An event detected but held back for time order (OutboxSealer::hold_event), kept
  /// durably so that a kill does not lose it: `event_json` is the sealer's own form.
  /// Returns its id; append(..., held_id) removes it in the record's transaction.
  std::int64_t add_held(const std::string& event_json);
  /// Every held event, (id, event_json), oldest id first.
  std::vector<std::pair<std::int64_t, std::string>> held() const;

  OutboxStats stats() const;
  const std::filesystem::path& path() const;

  /// Station facts kept beside the chain (e.g. "config_sha256", "calibration_id" as last
  /// recorded in an event), so a restart can tell what changed. Keys starting with
  /// "station." only; empty string when never set.
  std::string station_fact(const std::string& key) const;
  void set_station_fact(const std::string& key, const std::string& value);

  /// Reads what it can from a (possibly damaged) outbox without changing it.
  static SalvageReport salvage(const std::filesystem::path& path);

 private:
  void check_consistency();
  void migrate_schema();
  mutable std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;
  OutboxOptions options_;
};

}  // namespace wim::edge
