// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/retention.hpp"

#include <system_error>

#include "wim/collector/case_export.hpp"
#include "wim/collector/chain_export.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"
#include "wim/common/fs_sync.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/record.hpp"
#include "wim/common/time.hpp"

namespace wim::collector {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS purged_blobs(
  case_id TEXT NOT NULL, manifest_sha256 TEXT NOT NULL, name TEXT NOT NULL,
  sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL, purged_unix_us INTEGER NOT NULL,
  PRIMARY KEY(manifest_sha256, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS purged_by_sha ON purged_blobs(sha256);
CREATE TABLE IF NOT EXISTS purged_spool(
  case_id TEXT PRIMARY KEY, manifest_sha256 TEXT NOT NULL, tar_bytes INTEGER NOT NULL,
  done_unix_us INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS purged_cases(
  case_id TEXT PRIMARY KEY, manifest_sha256 TEXT NOT NULL, done_unix_us INTEGER NOT NULL)
  WITHOUT ROWID;
)sql";

constexpr const char* kAction = "retention_purge";

bool has_table(sqlite::Db& db, const char* name) {
  sqlite::Stmt st(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?");
  st.bind(1, std::string_view(name));
  return st.step();
}

struct Image {
  std::string name, sha256;
  std::int64_t size_bytes = 0;
};

std::set<std::string> case_ids(sqlite::Db& db, const char* table) {
  std::set<std::string> out;
  for (sqlite::Stmt st(db, std::string("SELECT case_id FROM ") + table); st.step();)
    out.insert(st.col_text(0));
  return out;
}

/// Step 4 for one case: its spool tar without the images. Returns the tar's new size
/// [bytes], or -1 when the spool holds no tar of the case. Throws InputError /
/// SystemError naming the file when it cannot be rewritten (nothing is changed then
/// except, possibly, the list beside it, which only names what the entries say).
std::int64_t purge_spool_copy(const std::filesystem::path& spool_dir, const std::string& case_id,
                              const StoredRecord& rec, const std::vector<Image>& images,
                              Review& review, PurgeResult& res) {
  const auto tar_path = spool_dir / (case_id + ".tar");
  std::error_code ec;
  if (!std::filesystem::exists(tar_path, ec)) return -1;
  std::vector<packet::Packet> packets;
  try {
    packets = packet::from_tar(read_file(tar_path));
  } catch (const InputError& e) {
    throw InputError(tar_path.string() + ": " + e.what());
  }
  if (packets.size() != 1 || packets[0].origin != case_id)
    throw InputError(tar_path.string() + ": expected the one packet " + case_id);
  auto& p = packets[0];
  if (crypto::sha256_hex(p.manifest_json) != rec.manifest_sha256)
    throw InputError(tar_path.string() + ": its manifest.json is not the stored record's (sha256 " +
                     rec.manifest_sha256 + "): left as it is");
  bool changed = false;
  std::int64_t removed = 0;
  for (const auto& im : images) {
    const auto it = p.attachments.find(im.name);
    if (it == p.attachments.end()) continue;
    removed += static_cast<std::int64_t>(it->second.size());
    p.attachments.erase(it);
    changed = true;
  }
  // The entries first: a spool tar without its image always has them beside it.
  try {
    write_spool_retention_files(spool_dir, case_id, rec.manifest_sha256, review);
  } catch (const InputError& e) {
    throw InputError(tar_path.string() + ": " + e.what());
  }
  if (!changed) return static_cast<std::int64_t>(std::filesystem::file_size(tar_path));
  const auto tar = packet::to_tar({p}, packet::TarEnd::full_records);
  write_file_atomic(tar_path, tar);  // temporary name, fsync, rename, folder fsync
  ++res.spool_rewritten;
  res.spool_bytes_removed += removed;
  return static_cast<std::int64_t>(tar.size());
}

}  // namespace

std::string spool_retention_list_name(const std::string& case_id) {
  return case_id + "-retention.jsonl";
}

void write_spool_retention_files(const std::filesystem::path& spool_dir, const std::string& case_id,
                                 const std::string& manifest_sha256, Review& review) {
  std::vector<AuditEntry> entries;
  for (auto& e : review.audit(case_id))
    if (e.action == kAction && e.manifest_sha256 == manifest_sha256)
      entries.push_back(std::move(e));
  if (entries.empty())
    throw InputError("no retention_purge entry of " + case_id + " to write beside its tar");
  std::error_code ec;
  const auto list = spool_dir / spool_retention_list_name(case_id);
  const auto jsonl = audit_jsonl(entries);
  if (!std::filesystem::exists(list, ec) || read_file(list) != jsonl)
    write_file_atomic(list, jsonl);
  const auto key_path = spool_dir / kCollectorKeyName;
  const auto pem = review.public_key().to_pem();
  if (!std::filesystem::exists(key_path, ec) || read_file(key_path) != pem)
    write_file_atomic(key_path, pem);
}

bool purged_by_retention(const std::filesystem::path& meta_db, const std::string& manifest_sha256,
                         const std::string& name) {
  std::error_code ec;
  if (!std::filesystem::exists(meta_db, ec)) return false;
  sqlite::Db db(meta_db, SQLITE_OPEN_READONLY);
  if (!has_table(db, "purged_blobs")) return false;
  sqlite::Stmt st(db, "SELECT 1 FROM purged_blobs WHERE manifest_sha256=? AND name=?");
  st.bind(1, manifest_sha256).bind(2, name);
  return st.step();
}

std::set<std::pair<std::string, std::string>> purged_attachments(sqlite::Db& meta) {
  std::set<std::pair<std::string, std::string>> out;
  if (!has_table(meta, "purged_blobs")) return out;
  for (sqlite::Stmt st(meta, "SELECT manifest_sha256, name FROM purged_blobs"); st.step();)
    out.emplace(st.col_text(0), st.col_text(1));
  return out;
}

std::set<std::string> purged_blob_files(sqlite::Db& meta) {
  std::set<std::string> out;
  if (!has_table(meta, "purged_blobs")) return out;
  for (sqlite::Stmt st(meta,
                       "SELECT a.sha256 FROM attachments a GROUP BY a.sha256 HAVING SUM(NOT EXISTS("
                       "SELECT 1 FROM purged_blobs p WHERE p.manifest_sha256=a.manifest_sha256 "
                       "AND p.name=a.name)) = 0");
       st.step();)
    out.insert(st.col_text(0));
  return out;
}

PurgeResult purge_images(const std::filesystem::path& meta_db, FileBlobStore& blobs,
                         const MetadataStore& store, Review& review, std::int64_t days,
                         std::int64_t now_unix_us, const std::filesystem::path& spool_dir) {
  if (days < 1) throw InputError("retention: violation_images_days must be >= 1");
  constexpr std::int64_t kDayUs = 86400LL * 1'000'000;
  PurgeResult res;
  sqlite::Db db(meta_db);
  db.exec("PRAGMA busy_timeout=5000");
  db.exec(kSchema);
  // Cases whose steps 1-3 are done (durably: the blob folders were fsync'd first) and
  // spool tars done: read once, so an hourly re-run over 100 000 ended cases costs one
  // lookup per case, not a record read and two transactions.
  const auto done_cases = case_ids(db, "purged_cases");
  const auto spool_done = case_ids(db, "purged_spool");
  const auto mark_case_done = [&](const std::string& case_id, const std::string& manifest_sha) {
    sqlite::Stmt st(db,
                    "INSERT OR REPLACE INTO purged_cases(case_id, manifest_sha256, done_unix_us) "
                    "VALUES(?,?,?)");
    st.bind(1, case_id).bind(2, manifest_sha).bind(3, now_unix_us);
    st.step();
  };
  for (const auto& [case_id, ended_us] : review.ended_before(now_unix_us - days * kDayUs)) {
    const bool case_done = done_cases.count(case_id) > 0;
    const bool spool_pending = !spool_dir.empty() && !spool_done.count(case_id);
    // Done, or done but for a spool tar the spool does not hold (one stat).
    std::error_code ec;
    if (case_done &&
        (!spool_pending || !std::filesystem::exists(spool_dir / (case_id + ".tar"), ec))) {
      ++res.cases_already_done;
      continue;
    }
    std::string station;
    std::uint64_t seq = 0;
    if (!packet::parse_dir_name(case_id, station, seq)) continue;  // not a packet's case
    const auto rec = store.get_record(station, static_cast<std::int64_t>(seq));
    if (!rec) continue;  // its record is not at this collector: nothing to remove
    // Images by the signed manifest's media type (the waveform and others stay).
    std::vector<Image> images;
    for (const auto& a : record::parse_manifest(rec->manifest).attachments)
      if (a.media_type.starts_with("image/"))
        images.push_back({a.name, a.sha256, static_cast<std::int64_t>(a.size_bytes)});
    if (images.empty()) {  // the signed manifest never changes: nothing to do, ever
      mark_case_done(case_id, rec->manifest_sha256);
      continue;
    }
    if (!case_done) {
      // 1. Mark (one transaction; a row already there from an interrupted run is kept).
      {
        sqlite::Transaction tx(db);
        sqlite::Stmt ins(db,
                         "INSERT OR IGNORE INTO purged_blobs(case_id, manifest_sha256, name, "
                         "sha256, size_bytes, purged_unix_us) VALUES(?,?,?,?,?,?)");
        for (const auto& im : images) {
          ins.reset();
          ins.bind(1, case_id).bind(2, rec->manifest_sha256).bind(3, im.name).bind(4, im.sha256);
          ins.bind(5, im.size_bytes).bind(6, now_unix_us);
          ins.step();
          res.images_marked += sqlite3_changes(db.handle());
        }
        tx.commit();
      }
      // 2. The audit entry, once per case (also against a concurrent purge-images).
      {
        std::string reason = "violation images removed by retention (" + std::to_string(days) +
                             " day(s) after the case ended at " + time::format_utc_ms(ended_us) +
                             "); the signed manifest stays:";
        for (const auto& im : images)
          reason += " " + im.name + " sha256=" + im.sha256 + " (" + std::to_string(im.size_bytes) +
                    " bytes);";
        if (review.record_system_once(case_id, kAction, reason)) res.cases.push_back(case_id);
      }
      // 3. The files, unless a record not purged refers to the same bytes. The query and the
      // unlink happen under the blob store's exclusive lock, so an ingest that has just put
      // the same bytes (a no-op, the file exists) and not yet committed its record either
      // finished before the query (its reference is seen) or waits until the file is gone
      // (it then writes the file anew).
      std::set<std::filesystem::path> folders;
      for (const auto& im : images) {
        const auto hold = blobs.hold_for_delete();
        sqlite::Stmt kept(db,
                          "SELECT COUNT(*) FROM attachments a WHERE a.sha256=? AND NOT EXISTS "
                          "(SELECT 1 FROM purged_blobs p WHERE p.manifest_sha256=a.manifest_sha256 "
                          "AND p.name=a.name)");
        kept.bind(1, im.sha256);
        kept.step();
        const auto path = blobs.path_of(im.sha256);
        if (!std::filesystem::exists(path, ec)) continue;
        if (kept.col_int(0) > 0) {
          ++res.files_shared;  // removed by the purge of the last record that refers to it
          continue;
        }
        const auto size = static_cast<std::int64_t>(std::filesystem::file_size(path, ec));
        if (!std::filesystem::remove(path, ec) || ec)
          throw SystemError("retention: cannot remove " + path.string() + ": " + ec.message());
        folders.insert(path.parent_path());
        ++res.files_removed;
        res.bytes_removed += size;
      }
      // The removals made durable before the case is marked done: a file a power cut
      // brought back would otherwise never be looked at again.
      for (const auto& f : folders) fsync_dir(f);
      mark_case_done(case_id, rec->manifest_sha256);
    }
    // 4. The spool copy, unless done before. A case whose tar is not (or no longer) in the
    // spool costs one stat per run and is not marked: a tar written later is still seen.
    if (spool_pending) {
      try {
        const auto size = purge_spool_copy(spool_dir, case_id, *rec, images, review, res);
        if (size >= 0) {
          sqlite::Stmt done(db,
                            "INSERT OR REPLACE INTO purged_spool(case_id, manifest_sha256, "
                            "tar_bytes, done_unix_us) VALUES(?,?,?,?)");
          done.bind(1, case_id).bind(2, rec->manifest_sha256).bind(3, size).bind(4, now_unix_us);
          done.step();
        }
      } catch (const std::exception& e) {
        res.spool_problems.push_back(std::string("spool: ") + e.what());
      }
    }
  }
  return res;
}

RetentionRunner::RetentionRunner(std::filesystem::path meta_db, FileBlobStore& blobs,
                                 const MetadataStore& store, Review& review, std::int64_t days,
                                 std::int64_t interval_us, std::filesystem::path spool_dir)
    : meta_db_(std::move(meta_db)),
      blobs_(blobs),
      store_(store),
      review_(review),
      interval_us_(interval_us),
      spool_dir_(std::move(spool_dir)) {
  if (days < 1) throw InputError("retention: violation_images_days must be >= 1");
  if (interval_us < 1) throw InputError("retention: the purge interval must be positive");
  status_.days = days;
  status_.interval_s = interval_us / 1'000'000;
}

bool RetentionRunner::run_if_due(std::int64_t now_unix_us) {
  std::int64_t days = 0;
  {
    std::lock_guard lock(mutex_);
    if (status_.last_run_unix_us != 0 && now_unix_us < status_.next_run_unix_us) return false;
    days = status_.days;
  }
  PurgeResult r;
  std::string error;
  std::int64_t images_all = 0, bytes_all = 0, cases_all = 0, spool_all = 0, done_all = 0;
  try {
    r = purge_images(meta_db_, blobs_, store_, review_, days, now_unix_us, spool_dir_);
    for (const auto& p : r.spool_problems) error += (error.empty() ? "" : "; ") + p;
    sqlite::Db db(meta_db_, SQLITE_OPEN_READONLY);
    sqlite::Stmt st(db,
                    "SELECT COUNT(*), COALESCE(SUM(size_bytes), 0), COUNT(DISTINCT case_id), "
                    "(SELECT COUNT(*) FROM purged_spool), (SELECT COUNT(*) FROM purged_cases) "
                    "FROM purged_blobs");
    st.step();
    images_all = st.col_int(0);
    bytes_all = st.col_int(1);
    cases_all = st.col_int(2);
    spool_all = st.col_int(3);
    done_all = st.col_int(4);
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "unknown error";
  }
  std::lock_guard lock(mutex_);
  auto& s = status_;
  s.last_run_unix_us = now_unix_us;
  s.next_run_unix_us = now_unix_us + interval_us_;
  s.last_ok = error.empty();
  s.last_error = error;
  s.last = r;
  if (s.last_ok) {
    s.last_success_unix_us = now_unix_us;
    ++s.runs_ok;
    s.images_marked_all = images_all;
    s.bytes_marked_all = bytes_all;
    s.cases_all = cases_all;
    s.spool_tars_all = spool_all;
    s.cases_done_all = done_all;
  } else {
    ++s.runs_failed;
  }
  s.cases_purged += static_cast<std::int64_t>(r.cases.size());
  s.files_removed += r.files_removed;
  s.bytes_removed += r.bytes_removed;
  return true;
}

RetentionStatus RetentionRunner::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

}  // namespace wim::collector
