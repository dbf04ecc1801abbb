// SPDX-License-Identifier: Apache-2.0
// Retention of violation images (issue 18, docs/retention.md). The images (attachments
// whose signed media type is image/*) of a case that ended (closed or rejected) more than
// `violation_images_days` ago are removed from the blob store. The signed manifest, the
// waveform and every other attachment stay. Each removal is recorded three times, in this
// order, so a crash between steps loses nothing and leaves no lie:
//   1. meta.db table purged_blobs(case_id, manifest_sha256, name, sha256, size_bytes,
//      purged_unix_us): from now on backup/verify/export treat the blob as expected-absent;
//   2. one audit entry "retention_purge" on the case (signed, hash-chained) naming each
//      file and its SHA-256;
//   3. the blob file is deleted (unless another, retained record refers to the same bytes);
//   4. when the collector spools cases (forward.spool_dir), the case's spool tar is
//      rewritten without the images: first <case_id>-retention.jsonl (the case's signed
//      retention_purge entries) and collector.pub.pem beside it, then the tar (temporary
//      name, fsync, rename, folder fsync), then meta.db purged_spool records it as done.
// After step 3 the blob folders are fsync'd and meta.db purged_cases records the case as
// done, so the hourly re-run skips it with one lookup (its spool tar, if not yet done,
// with one stat). A re-run completes whatever an interrupted one left and otherwise
// changes nothing.
#pragma once
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "wim/collector/review.hpp"
#include "wim/collector/store.hpp"
#include "wim/common/sqlite.hpp"

namespace wim::collector {

struct PurgeResult {
  std::vector<std::string> cases;        ///< cases that got a retention_purge entry in this run
  std::int64_t images_marked = 0;        ///< purged_blobs rows added in this run
  std::int64_t files_removed = 0;        ///< blob files deleted in this run
  std::int64_t bytes_removed = 0;        ///< [bytes] their size
  std::int64_t files_shared = 0;         ///< kept: another retained record refers to the bytes
  std::int64_t cases_already_done = 0;   ///< ended cases skipped: purged by an earlier run
  std::int64_t spool_rewritten = 0;      ///< spool tars rewritten without their images
  std::int64_t spool_bytes_removed = 0;  ///< [bytes] image bytes taken out of them
  /// Spool tars that could not be rewritten (unreadable, another manifest, I/O), one
  /// message each naming the file; retried at the next run. The rest of the run is done.
  std::vector<std::string> spool_problems;
};

/// The purge. `days` >= 1; `now_unix_us` [us UTC] the clock (injected in tests). Cases
/// still open are never touched (Review::ended_before lists only rejected / closed ones).
/// `spool_dir`: the config's forward.spool_dir (empty: no spool, step 4 skipped).
PurgeResult purge_images(const std::filesystem::path& meta_db, FileBlobStore& blobs,
                         const MetadataStore& store, Review& review, std::int64_t days,
                         std::int64_t now_unix_us, const std::filesystem::path& spool_dir = {});

/// Beside a rewritten spool tar <case_id>.tar: the case's retention_purge entries
/// (wim-verify reads it with the tar: `wim-verify --key keys/G001.pub.pem G001-...tar
/// G001-...-retention.jsonl`).
std::string spool_retention_list_name(const std::string& case_id);

/// Writes <case_id>-retention.jsonl (the case's retention_purge entries about
/// `manifest_sha256`) and collector.pub.pem into `spool_dir`, each atomically and only
/// when it differs. Before a spool tar without its images is written: by the purge, and
/// by the spool sink delivering a case purged while its delivery waited. InputError when
/// the case has no such entry (a tar without images would then be unverifiable).
void write_spool_retention_files(const std::filesystem::path& spool_dir, const std::string& case_id,
                                 const std::string& manifest_sha256, Review& review);

/// True when meta.db (`meta_db`, opened read-only; false when it or the table does not
/// exist) marks attachment `name` of the record with `manifest_sha256` as removed by
/// retention.
bool purged_by_retention(const std::filesystem::path& meta_db, const std::string& manifest_sha256,
                         const std::string& name);

/// (manifest_sha256, attachment name) of every purged image in the open meta.db `meta`
/// (read-only is enough); empty when the table does not exist (a data folder from before
/// retention).
std::set<std::pair<std::string, std::string>> purged_attachments(sqlite::Db& meta);

/// The SHA-256 (hex) of each blob that only purged attachments refer to: its file may be
/// absent (backup copies it when present, and does not call its absence damage).
std::set<std::string> purged_blob_files(sqlite::Db& meta);

/// What the operator sees of the purge (GET /v1/retention, /metrics "wim_retention_*").
struct RetentionStatus {
  std::int64_t days = 0;        ///< configured violation_images_days
  std::int64_t interval_s = 0;  ///< [s] between runs
  std::int64_t last_run_unix_us =
      0;  ///< [us UTC, collector host clock] start of the last run; 0 = none yet
  std::int64_t last_success_unix_us = 0;      ///< [us UTC] start of the last run that completed
  std::int64_t next_run_unix_us = 0;          ///< [us UTC] when the next run is due
  bool last_ok = false;                       ///< the last run completed (no error)
  std::string last_error;                     ///< its error, when it did not
  PurgeResult last;                           ///< what the last run did
  std::int64_t runs_ok = 0, runs_failed = 0;  ///< since this process started
  std::int64_t cases_purged = 0, files_removed = 0, bytes_removed = 0;  ///< since start, [bytes]
  /// All time, from meta.db purged_blobs after the last run (so also across restarts and
  /// purge-images runs): images (attachment rows) marked removed, their size [bytes]
  /// (a blob shared by records counts once per record) and cases with a removed image.
  std::int64_t images_marked_all = 0, bytes_marked_all = 0, cases_all = 0;
  /// All time, from meta.db: spool tars done (rewritten, or found without images) and
  /// cases whose purge is complete (skipped by later runs).
  std::int64_t spool_tars_all = 0, cases_done_all = 0;
};

/// The daemon's purge: runs purge_images when due (at the first call, then every
/// `interval_us`; after a failure too) and keeps a status for the operator. run_if_due is
/// called from one thread (the delivery thread); status() from any.
class RetentionRunner {
 public:
  RetentionRunner(std::filesystem::path meta_db, FileBlobStore& blobs, const MetadataStore& store,
                  Review& review, std::int64_t days, std::int64_t interval_us = 3600LL * 1'000'000,
                  std::filesystem::path spool_dir = {});
  /// True when a run was due and was made (it may have failed: see status()). Never throws
  /// the purge's error: it is kept in status().last_error (and the caller logs it).
  bool run_if_due(std::int64_t now_unix_us);
  RetentionStatus status() const;

 private:
  std::filesystem::path meta_db_;
  FileBlobStore& blobs_;
  const MetadataStore& store_;
  Review& review_;
  mutable std::mutex mutex_;
  RetentionStatus status_;
  std::int64_t interval_us_;
  std::filesystem::path spool_dir_;
};

}  // namespace wim::collector
