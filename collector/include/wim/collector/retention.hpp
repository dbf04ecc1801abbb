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
//   3. the blob file is deleted (unless another, retained record refers to the same bytes).
// A re-run completes whatever an interrupted one left and otherwise changes nothing.
#pragma once
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "wim/collector/review.hpp"
#include "wim/collector/store.hpp"
#include "wim/common/sqlite.hpp"

namespace wim::collector {

struct PurgeResult {
  std::vector<std::string> cases;  ///< cases that got a retention_purge entry in this run
  std::int64_t images_marked = 0;  ///< purged_blobs rows added in this run
  std::int64_t files_removed = 0;  ///< blob files deleted in this run
  std::int64_t bytes_removed = 0;  ///< [bytes] their size
  std::int64_t files_shared = 0;   ///< kept: another retained record refers to the bytes
};

/// The purge. `days` >= 1; `now_unix_us` [us UTC] the clock (injected in tests). Cases
/// still open are never touched (Review::ended_before lists only rejected / closed ones).
PurgeResult purge_images(const std::filesystem::path& meta_db, FileBlobStore& blobs,
                         const MetadataStore& store, Review& review, std::int64_t days,
                         std::int64_t now_unix_us);

/// (manifest_sha256, attachment name) of every purged image in the open meta.db `meta`
/// (read-only is enough); empty when the table does not exist (a data folder from before
/// retention).
std::set<std::pair<std::string, std::string>> purged_attachments(sqlite::Db& meta);

/// The SHA-256 (hex) of each blob that only purged attachments refer to: its file may be
/// absent (backup copies it when present, and does not call its absence damage).
std::set<std::string> purged_blob_files(sqlite::Db& meta);

}  // namespace wim::collector
