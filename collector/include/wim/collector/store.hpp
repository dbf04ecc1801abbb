// SPDX-License-Identifier: Apache-2.0
// Storage behind two narrow interfaces, so SQLite + local files are one backend among
// others (PostgreSQL + S3 for a province): MetadataStore (records, conflicts, station
// state, alerts, cases) and BlobStore (attachments by SHA-256).
//
// Durability rule: put_records() returns only after the transaction is durable; the
// ingest acknowledges nothing before it returns. Blobs are written (fsync + rename)
// before the metadata that refers to them, so a stored record never lacks its files.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace wim::collector {

struct AttachmentRef {
  std::string name;
  std::string sha256;  ///< lower-case hex
  std::int64_t size_bytes = 0;
};

/// One verified record as the collector keeps it.
struct StoredRecord {
  std::string station_id;
  std::int64_t seq = 0;
  std::string manifest_sha256;    ///< hex SHA-256 of manifest.json
  std::string prev_sha256;        ///< hex, from the manifest ("" for seq 1)
  std::string kind;               ///< record kind ("pass", "event", ...)
  std::int64_t time_unix_us = 0;  ///< [us] UTC time the station stamped
  std::string clock_sync;         ///< wim::time::ClockSync as text
  std::string verdict;            ///< "ok", "warning", "overload", "" for events
  int lane = 0;
  std::string manifest;   ///< exact manifest.json bytes (what was signed)
  std::string signature;  ///< 64 raw bytes
  std::vector<AttachmentRef> attachments;
  std::int64_t received_unix_us = 0;  ///< [us] collector clock at storage
};

/// Inclusive seq ranges [first, last].
using SeqRanges = std::vector<std::pair<std::int64_t, std::int64_t>>;

struct ChainSummary {
  std::int64_t acked_seq = 0;    ///< every seq 1..acked_seq is stored
  std::int64_t highest_seq = 0;  ///< highest stored seq (0: none)
  SeqRanges missing;             ///< gaps below highest_seq
  std::int64_t record_count = 0;
  std::int64_t conflict_count = 0;
};

enum class PutOutcome { stored, duplicate, conflict };

/// How many put_records() calls were answered by how many durable commits (group commit).
struct StoreCounters {
  std::uint64_t put_calls = 0;
  std::uint64_t commits = 0;
};

struct ConflictRow {
  std::string station_id;
  std::int64_t seq = 0;
  std::string stored_sha256;    ///< the manifest we had
  std::string incoming_sha256;  ///< the other manifest, kept as evidence
  std::int64_t received_unix_us = 0;
};

/// Whether put_many() hashes each blob again to check it against its name.
enum class HashCheck {
  check,    ///< hash and compare (InputError on mismatch)
  trusted,  ///< the caller has just hashed these very bytes (the ingest's verification)
};

/// Content-addressed evidence files. Thread-safe.
/// A lock on a blob store, held while it lives (BlobStore::hold_references,
/// FileBlobStore::hold_for_delete).
class BlobHold {
 public:
  virtual ~BlobHold() = default;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  /// Stores `data` under its SHA-256 `sha256_hex` (checked: InputError on mismatch).
  /// Durable on return. Storing the same content twice is a no-op.
  virtual void put(std::string_view sha256_hex, std::string_view data) = 0;
  virtual std::optional<std::string> get(std::string_view sha256_hex) const = 0;
  virtual bool contains(std::string_view sha256_hex) const = 0;
  /// Stores several blobs, all durable on return; implementations batch the syncs.
  virtual void put_many(const std::vector<std::pair<std::string, std::string_view>>& blobs,
                        HashCheck check = HashCheck::check) {
    (void)check;
    for (const auto& [sha, data] : blobs) put(sha, data);
  }
  /// Held by a writer from putting blobs until the metadata that names them is committed,
  /// so that a delete of blobs no record refers to (the retention purge) cannot remove one
  /// it is about to name (put is a no-op when the bytes exist). nullptr: this store never
  /// deletes, nothing to hold.
  virtual std::unique_ptr<BlobHold> hold_references() { return nullptr; }
};

/// Metadata. Thread-safe (implementations serialise writers).
class MetadataStore {
 public:
  virtual ~MetadataStore() = default;
  /// Stores records in one durable transaction. For each: `stored` when the seq was new,
  /// `duplicate` when the same manifest bytes were stored, `conflict` when another
  /// manifest holds this seq (the incoming one is then kept in the conflicts table).
  virtual std::vector<PutOutcome> put_records(const std::vector<StoredRecord>& records) = 0;
  virtual std::optional<StoredRecord> get_record(std::string_view station,
                                                 std::int64_t seq) const = 0;
  /// Calls and commits so far (for /metrics and tests).
  virtual StoreCounters counters() const { return {}; }
  /// Manifest SHA-256 (hex) and prev_sha256 of a stored seq.
  virtual std::optional<std::pair<std::string, std::string>> link(std::string_view station,
                                                                  std::int64_t seq) const = 0;
  virtual ChainSummary chain(std::string_view station) const = 0;
  virtual std::vector<ConflictRow> conflicts(std::string_view station) const = 0;
  /// Stations that have stored at least one record.
  virtual std::vector<std::string> stations_with_records() const = 0;
  /// (station, seq, received_unix_us) of records with verdict "overload" that the collector
  /// received at or after `from_unix_us` (collector clock), ascending received time. The
  /// forwarder's catch-up reads only these (a watermark), not the whole table.
  virtual std::vector<std::tuple<std::string, std::int64_t, std::int64_t>> overloads_received_since(
      std::int64_t from_unix_us) const = 0;
  /// (seq, manifest bytes) of the station's stored event records whose manifest text
  /// holds `"type":"<type>"`, ascending seq: candidates, the caller parses each (the
  /// ingest reads its key_change events with it).
  virtual std::vector<std::pair<std::int64_t, std::string>> event_manifests(
      std::string_view station, std::string_view type) const = 0;
  /// Records of a station with time in [from_us, to_us), ascending seq (for statistics).
  virtual std::vector<StoredRecord> records_between(std::string_view station,
                                                    std::int64_t from_unix_us,
                                                    std::int64_t to_unix_us) const = 0;
};

/// How FileBlobStore::put_many makes its files durable. Measured on the shared 2-core
/// machine (docs/notes/issue-6.md, 2026-11-28 afternoon): syncfs carried 4x the ingest
/// rate of per_file and a lower ack p99, so it is the default.
enum class BlobSync {
  /// fsync of each new file, rename, fsync of each folder touched: flushes only our
  /// files, but two or more flushes per blob.
  per_file,
  /// syncfs() of the whole filesystem, renames, syncfs() again (two syncs per call,
  /// shared by concurrent callers); it also flushes what other processes wrote.
  syncfs,
};

/// Attachments as files: <root>/<aa>/<bb>/<sha256>, written to a temporary name, fsync'd,
/// renamed, directory fsync'd.
class FileBlobStore final : public BlobStore {
 public:
  explicit FileBlobStore(std::filesystem::path root, BlobSync sync = BlobSync::syncfs);
  void put(std::string_view sha256_hex, std::string_view data) override;
  std::optional<std::string> get(std::string_view sha256_hex) const override;
  bool contains(std::string_view sha256_hex) const override;
  /// Writes every new blob to a temporary file, makes the contents durable, renames them
  /// all, makes the names durable (see BlobSync). Every blob of the call, also one that
  /// already existed, is durable on return.
  void put_many(const std::vector<std::pair<std::string, std::string_view>>& blobs,
                HashCheck check = HashCheck::check) override;
  std::filesystem::path path_of(std::string_view sha256_hex) const;
  /// flock(2) LOCK_SH on "<root>.lock" (beside the folder): many writers at once, across
  /// threads and processes. SystemError naming the file when it cannot be taken.
  std::unique_ptr<BlobHold> hold_references() override;
  /// LOCK_EX on the same file: while held, no writer is between its blob write and its
  /// commit. The purge holds it from its "does a retained record refer to it" query to the
  /// unlink (also from `purge-images` beside the daemon).
  std::unique_ptr<BlobHold> hold_for_delete();
  /// sync calls made by put_many (syncfs or fsync, files and folders)
  std::uint64_t syncs() const { return syncs_done_; }

 private:
  /// Returns once a syncfs() that started after this call has finished (group sync).
  void sync_barrier();

  std::filesystem::path root_;
  BlobSync sync_;
  std::mutex sync_mutex_;
  std::condition_variable sync_cv_;
  std::uint64_t sync_requested_ = 0, sync_done_ = 0;
  bool syncing_ = false;
  std::atomic<std::uint64_t> syncs_done_{0};
};

/// Writes `data` to a unique temporary name next to `path`, fsyncs it, renames it to
/// `path` and fsyncs the folder (creating it). SystemError names the step and the file.
void write_file_atomic(const std::filesystem::path& path, std::string_view data);

std::unique_ptr<MetadataStore> open_sqlite_store(const std::filesystem::path& db_path);

}  // namespace wim::collector
