// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/backup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "wim/collector/retention.hpp"
#include "wim/collector/store.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/fs_sync.hpp"
#include "wim/common/json.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/sqlite.hpp"
#include "wim/common/time.hpp"

namespace fs = std::filesystem;
namespace bj = boost::json;

namespace wim::collector {
namespace {

// Order matters: cases refer to records and records to blobs, so each later snapshot
// holds everything an earlier one refers to. A record newer than the cases snapshot is
// picked up by the forwarder's catch-up after a restore.
constexpr std::array kDatabases = {"monitor.db", "cases.db", "meta.db"};

std::string blob_rel(const std::string& sha) {
  return "blobs/" + sha.substr(0, 2) + "/" + sha.substr(2, 2) + "/" + sha;
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Copies `from` to `to` (a new file), hashing the bytes on the way; fsyncs the copy.
BackupFile copy_hashed(const fs::path& from, const fs::path& to, const std::string& rel) {
  std::ifstream in(from, std::ios::binary);
  if (!in) throw SystemError(from.string() + ": cannot open");
  fs::create_directories(to.parent_path());
  const int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) throw SystemError(to.string() + ": cannot create");
  crypto::Sha256Stream h;
  std::int64_t size = 0;
  std::string buf(1 << 16, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    h.update(std::string_view(buf.data(), n));
    for (std::size_t off = 0; off < n;) {
      const auto w = ::write(fd, buf.data() + off, n - off);
      if (w <= 0) {
        ::close(fd);
        throw SystemError(to.string() + ": write failed (disk full?)");
      }
      off += static_cast<std::size_t>(w);
    }
    size += static_cast<std::int64_t>(n);
  }
  if (in.bad()) {
    ::close(fd);
    throw SystemError(from.string() + ": read failed");
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) throw SystemError(to.string() + ": fsync failed");
  return {rel, h.final_hex(), size};
}

// One consistent snapshot of a live database (another process may be writing it).
void sqlite_backup(const fs::path& src_path, const fs::path& dst_path) {
  sqlite::Db src(src_path, SQLITE_OPEN_READONLY);
  if (fs::exists(dst_path)) throw SystemError(dst_path.string() + ": exists");
  sqlite::Db dst(dst_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3_backup* b = sqlite3_backup_init(dst.handle(), "main", src.handle(), "main");
  if (!b)
    sqlite::throw_error(dst.handle(), sqlite3_errcode(dst.handle()),
                        "backup of " + src_path.string());
  int rc;
  // -1: all pages in one read transaction, so the copy is one committed state even while
  // the collector writes (WAL readers do not block the writer, nor it them).
  for (int tries = 0;; ++tries) {
    rc = sqlite3_backup_step(b, -1);
    if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && tries < 500) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    break;
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) sqlite::throw_error(dst.handle(), rc, "backup of " + src_path.string());
  // A single self-contained file: the copy opens read-only without -wal/-shm files.
  dst.exec("PRAGMA journal_mode=DELETE");
}

std::string manifest_text(const BackupResult& r, const fs::path& data_dir,
                          const crypto::SigningKey* key) {
  bj::object o;
  o["format"] = "wim-collector-backup 1";
  if (key) o["backup_key_fingerprint_sha256"] = key->public_key().fingerprint();
  o["created_utc"] = time::format_utc_ms(time::now_unix_us());
  o["source"] = fs::absolute(data_dir).string();
  bj::array files;
  for (const auto& f : r.files)
    files.push_back(
        bj::object{{"path", f.path}, {"sha256", f.sha256}, {"size_bytes", f.size_bytes}});
  o["files"] = std::move(files);
  bj::object st;
  for (const auto& [id, s] : r.stations)
    st[id] = bj::object{{"records", s.records}, {"highest_seq", s.highest_seq}};
  o["stations"] = std::move(st);
  return bj::serialize(o) + "\n";
}

std::map<std::string, BackupStation> station_counts(sqlite::Db& meta) {
  std::map<std::string, BackupStation> out;
  sqlite::Stmt q(meta, "SELECT station, COUNT(*), MAX(seq) FROM records GROUP BY station");
  while (q.step()) out[q.col_text(0)] = {q.col_int(1), q.col_int(2)};
  return out;
}

}  // namespace

BackupResult backup_data_dir(const fs::path& data_dir, const fs::path& out_dir,
                             const crypto::SigningKey* manifest_key) {
  if (!fs::exists(data_dir / "meta.db"))
    throw InputError("backup: no collector data at " + (data_dir / "meta.db").string());
  std::error_code ec;
  if (fs::exists(out_dir)) {
    if (!fs::is_directory(out_dir) || !fs::is_empty(out_dir))
      throw InputError("backup: " + out_dir.string() +
                       " exists and is not an empty folder; a backup never overwrites");
  } else if (!fs::create_directories(out_dir, ec) || ec) {
    throw SystemError("backup: cannot create " + out_dir.string() + ": " + ec.message());
  }
  BackupResult r;
  for (const char* name : kDatabases) {
    if (!fs::exists(data_dir / name)) continue;
    sqlite_backup(data_dir / name, out_dir / name);
    r.files.push_back({name, crypto::sha256_file_hex(out_dir / name),
                       static_cast<std::int64_t>(fs::file_size(out_dir / name))});
  }
  // The blobs the copied records refer to (blobs are stored before their records, so
  // every one of them exists).
  // A blob that only images removed by retention refer to may be gone (docs/retention.md).
  std::set<std::string> shas, purged;
  {
    sqlite::Db meta(out_dir / "meta.db", SQLITE_OPEN_READONLY);
    sqlite::Stmt q(meta, "SELECT DISTINCT sha256 FROM attachments");
    while (q.step()) shas.insert(q.col_text(0));
    r.stations = station_counts(meta);
    purged = purged_blob_files(meta);
  }
  for (const auto& sha : shas) {
    if (!is_hex64(sha)) throw InputError("backup: meta.db names a blob '" + sha + "'");
    const auto rel = blob_rel(sha);
    if (std::error_code ec; purged.contains(sha) && !fs::exists(data_dir / rel, ec)) continue;
    auto f = copy_hashed(data_dir / rel, out_dir / rel, rel);
    if (f.sha256 != sha)
      throw SystemError("backup: " + (data_dir / rel).string() +
                        " does not hash to its name (sha256 " + f.sha256 +
                        "): the live blob store is damaged; nothing was restored from it");
    r.files.push_back(std::move(f));
    ++r.blobs;
  }
  for (const auto& f : r.files) r.bytes += f.size_bytes;
  // Last: the manifest and its hash. Without them restore calls the backup incomplete.
  const auto text = manifest_text(r, data_dir, manifest_key);
  write_file_atomic(out_dir / kBackupManifest, text);
  write_file_atomic(out_dir / kBackupManifestHash,
                    crypto::sha256_hex(text) + "  " + kBackupManifest + "\n");
  if (manifest_key) write_file_atomic(out_dir / kBackupManifestSig, manifest_key->sign(text));
  for (auto it = fs::recursive_directory_iterator(out_dir / "blobs", ec);
       !ec && it != fs::recursive_directory_iterator(); ++it)
    if (it->is_directory()) fsync_dir(it->path());
  fsync_dir(out_dir);
  return r;
}

RestoreRefused::RestoreRefused(std::vector<std::string> problems)
    : InputError([&] {
        std::string s = "restore refused: " + std::to_string(problems.size()) + " problem(s)";
        for (const auto& p : problems) s += "\n  " + p;
        return s;
      }()),
      problems_(std::move(problems)) {}

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw SystemError(p.string() + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// backup.json, checked against its hash file; problems go to `out`.
std::optional<BackupResult> read_manifest(const fs::path& dir, const crypto::VerifyKey* key,
                                          std::vector<std::string>& out) {
  const auto mpath = dir / kBackupManifest, hpath = dir / kBackupManifestHash;
  if (!fs::exists(mpath) || !fs::exists(hpath)) {
    out.push_back(std::string(fs::exists(mpath) ? kBackupManifestHash : kBackupManifest) +
                  ": missing (an incomplete or damaged backup)");
    return std::nullopt;
  }
  const auto text = read_all(mpath);
  const auto hline = read_all(hpath);
  if (hline.substr(0, 64) != crypto::sha256_hex(text)) {
    out.push_back(std::string(kBackupManifest) + ": SHA-256 " + crypto::sha256_hex(text) +
                  " differs from " + kBackupManifestHash + " (the manifest was altered)");
    return std::nullopt;
  }
  if (key) {  // the hash file proves nothing to a forger who rewrites it: the signature does
    const auto spath = dir / kBackupManifestSig;
    if (!fs::exists(spath)) {
      out.push_back(std::string(kBackupManifestSig) +
                    ": missing (the backup is not signed; made without a backup key, or the "
                    "signature was removed)");
      return std::nullopt;
    }
    if (!key->verify(text, read_all(spath))) {
      out.push_back(std::string(kBackupManifestSig) + ": does not verify " + kBackupManifest +
                    " with the backup key " + key->fingerprint() +
                    " (the manifest was altered, or another key signed it)");
      return std::nullopt;
    }
  }
  BackupResult r;
  try {
    const auto doc = json::parse(text, kBackupManifest);
    const auto& o = doc.as_object();
    if (o.at("format").as_string() != "wim-collector-backup 1") throw InputError("unknown format");
    for (const auto& v : o.at("files").as_array()) {
      const auto& f = v.as_object();
      r.files.push_back({std::string(f.at("path").as_string()),
                         std::string(f.at("sha256").as_string()), f.at("size_bytes").as_int64()});
    }
    for (const auto& [id, v] : o.at("stations").as_object())
      r.stations[std::string(id)] = {v.as_object().at("records").as_int64(),
                                     v.as_object().at("highest_seq").as_int64()};
  } catch (const std::exception& e) {
    out.push_back(std::string(kBackupManifest) + ": unreadable: " + e.what());
    return std::nullopt;
  }
  return r;
}

void check_files(const fs::path& dir, BackupResult& r, std::vector<std::string>& out) {
  std::set<std::string> listed{kBackupManifest, kBackupManifestHash, kBackupManifestSig};
  for (const auto& f : r.files) {
    listed.insert(f.path);
    if (f.path.find("..") != std::string::npos || f.path.starts_with("/")) {
      out.push_back(f.path + ": not a path inside the backup");
      continue;
    }
    const auto p = dir / f.path;
    std::error_code ec;
    const auto size = fs::file_size(p, ec);
    if (ec) {
      out.push_back(f.path + ": missing");
      continue;
    }
    if (static_cast<std::int64_t>(size) != f.size_bytes) {
      out.push_back(f.path + ": " + std::to_string(size) + " bytes, backup.json says " +
                    std::to_string(f.size_bytes) + " (truncated or altered)");
      continue;
    }
    if (auto h = crypto::sha256_file_hex(p); h != f.sha256)
      out.push_back(f.path + ": SHA-256 " + h + ", backup.json says " + f.sha256);
    else if (f.path.starts_with("blobs/") && fs::path(f.path).filename().string() != h)
      out.push_back(f.path + ": blob does not hash to its name");
    if (f.path.starts_with("blobs/")) ++r.blobs;
    r.bytes += f.size_bytes;
  }
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    if (!it->is_regular_file()) continue;
    const auto rel = fs::relative(it->path(), dir).generic_string();
    if (!listed.contains(rel)) out.push_back(rel + ": in the backup folder but not in backup.json");
  }
  if (std::none_of(r.files.begin(), r.files.end(),
                   [](const BackupFile& f) { return f.path == "meta.db"; }))
    out.push_back("meta.db: not in the backup");
}

// Every station's chain in batches; the key in force and the link carry across batches.
void check_chains(const fs::path& dir, const BackupResult& r, const chain::KeyRegistry& keys,
                  std::size_t batch, std::vector<std::string>& out) {
  for (const char* name : kDatabases) {
    if (!fs::exists(dir / name)) continue;
    try {
      sqlite::Db db(dir / name, SQLITE_OPEN_READONLY);
      const auto ok = db.query_text("PRAGMA integrity_check");
      if (ok != "ok") out.push_back(std::string(name) + ": integrity check: " + ok);
    } catch (const std::exception& e) {
      out.push_back(std::string(name) + ": " + e.what());
    }
  }
  if (!out.empty()) return;
  sqlite::Db meta(dir / "meta.db", SQLITE_OPEN_READONLY);
  const auto counts = station_counts(meta);
  if (counts.size() != r.stations.size())
    out.push_back("meta.db: " + std::to_string(counts.size()) + " stations, backup.json says " +
                  std::to_string(r.stations.size()));
  sqlite::Stmt recs(meta,
                    "SELECT seq, manifest_sha256, prev_sha256, manifest, signature FROM records "
                    "WHERE station=?1 AND seq>?2 ORDER BY seq LIMIT ?3");
  sqlite::Stmt atts(meta, "SELECT name, sha256 FROM attachments WHERE manifest_sha256=?1");
  // Images removed by retention: expected absent, not damage (docs/retention.md).
  const auto purged = purged_attachments(meta);
  std::set<std::tuple<std::string, std::int64_t, std::string>> absent;  // station, seq, name
  for (const auto& [station, want] : r.stations) {
    auto c = counts.find(station);
    if (c == counts.end()) {
      out.push_back("meta.db: station " + station + ": no records, backup.json says " +
                    std::to_string(want.records));
      continue;
    }
    if (c->second.records != want.records || c->second.highest_seq != want.highest_seq)
      out.push_back("meta.db: station " + station + ": " + std::to_string(c->second.records) +
                    " records up to seq " + std::to_string(c->second.highest_seq) +
                    ", backup.json says " + std::to_string(want.records) + " up to seq " +
                    std::to_string(want.highest_seq));
    chain::KeyRegistry k = keys;
    std::int64_t after = 0;
    std::string last_sha;
    bool first_batch = true;
    for (;;) {
      std::vector<packet::Packet> packets;
      std::vector<std::pair<std::int64_t, std::string>> prevs;  // seq, prev_sha256
      recs.reset();
      recs.bind(1, std::string_view(station))
          .bind(2, after)
          .bind(3, static_cast<std::int64_t>(batch));
      while (recs.step()) {
        packet::Packet p;
        const auto seq = recs.col_int(0);
        const auto msha = recs.col_text(1);
        prevs.emplace_back(seq, recs.col_text(2));
        p.manifest_json = recs.col_blob(3);
        p.signature = recs.col_blob(4);
        atts.reset();
        atts.bind(1, std::string_view(msha));
        while (atts.step()) {
          const auto aname = atts.col_text(0), asha = atts.col_text(1);
          const auto path = dir / blob_rel(asha);
          std::error_code ec;
          if (purged.contains({msha, aname}) && !fs::exists(path, ec)) {
            absent.insert({station, seq, aname});
            continue;
          }
          if (!is_hex64(asha) || !fs::exists(path, ec)) {
            out.push_back("meta.db: " + packet::dir_name(station, static_cast<std::uint64_t>(seq)) +
                          ": attachment " + aname + " (" + asha + ") is not in the backup");
            continue;
          }
          p.attachments[aname] = read_all(path);
        }
        packets.push_back(std::move(p));
      }
      if (packets.empty()) break;
      // The link into this batch from the previous one.
      if (!first_batch && prevs.front().first == after + 1 && prevs.front().second != last_sha)
        out.push_back("meta.db: " + station + " seq " + std::to_string(prevs.front().first) +
                      ": broken_link: prev_sha256 is not the sha256 of seq " +
                      std::to_string(after));
      chain::ChainSummary sum;
      const auto last_seq = prevs.back().first;
      last_sha = crypto::sha256_hex(packets.back().manifest_json);
      auto findings = chain::verify_chain(std::move(packets), k, first_batch, &sum);
      for (const auto& f : findings) {
        if (f.problem == chain::Problem::attachment_missing &&
            absent.contains({f.station_id, static_cast<std::int64_t>(f.seq),
                             f.detail.substr(0, f.detail.find(" is listed"))}))
          continue;  // removed by retention, recorded in purged_blobs
        out.push_back("meta.db: " + f.station_id + " seq " + std::to_string(f.seq) + ": " +
                      std::string(chain::to_string(f.problem)) + ": " + f.detail);
      }
      if (sum.key_in_force) k.add(station, *sum.key_in_force);
      after = last_seq;
      first_batch = false;
    }
  }
}

}  // namespace

std::vector<std::string> verify_backup(const fs::path& backup_dir, const chain::KeyRegistry& keys,
                                       BackupResult* result, std::size_t batch_records,
                                       const crypto::VerifyKey* backup_key) {
  std::vector<std::string> problems;
  if (!fs::is_directory(backup_dir)) return {backup_dir.string() + ": not a folder"};
  auto r = read_manifest(backup_dir, backup_key, problems);
  if (!r) return problems;
  check_files(backup_dir, *r, problems);
  if (problems.empty())
    check_chains(backup_dir, *r, keys, std::max<std::size_t>(1, batch_records), problems);
  if (result) *result = std::move(*r);
  return problems;
}

RestoreResult restore_data_dir(const fs::path& backup_dir, const fs::path& data_dir,
                               const chain::KeyRegistry& keys, const RestoreOptions& options) {
  RestoreResult res;
  // The target first: refusing costs nothing, and nothing is touched either way.
  const bool live = fs::exists(data_dir) && !fs::is_empty(data_dir);
  if (live && !options.replace_existing)
    throw RestoreRefused({data_dir.string() + ": holds data (" +
                          (fs::exists(data_dir / "meta.db") ? "meta.db" : "files") +
                          "); stop the collector and give --replace to move it aside"});
  auto problems = verify_backup(backup_dir, keys, &res.verified, options.batch_records,
                                options.backup_key ? &*options.backup_key : nullptr);
  if (!problems.empty()) throw RestoreRefused(std::move(problems));

  // Copy next to the target, hashing again what is copied (the backup may sit on a
  // medium that changes under us), then switch with renames.
  const auto abs = fs::absolute(data_dir).lexically_normal();
  const auto parent = abs.parent_path();
  fs::create_directories(parent);
  const auto stage = parent / ("." + abs.filename().string() + ".restoring");
  fs::remove_all(stage);  // a previous interrupted restore's leftover (ours by name)
  fs::create_directories(stage);
  try {
    std::vector<std::string> changed;
    for (const auto& f : res.verified.files) {
      auto c = copy_hashed(backup_dir / f.path, stage / f.path, f.path);
      if (c.sha256 != f.sha256) changed.push_back(f.path + ": changed while being restored");
    }
    if (!changed.empty()) throw RestoreRefused(std::move(changed));
    for (auto it = fs::recursive_directory_iterator(stage);
         it != fs::recursive_directory_iterator(); ++it)
      if (it->is_directory()) fsync_dir(it->path());
    fsync_dir(stage);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(stage, ec);
    throw;
  }
  if (fs::exists(abs) && fs::is_empty(abs)) fs::remove(abs);
  if (fs::exists(abs)) {
    std::string stamp = time::format_utc_ms(time::now_unix_us());
    for (auto& ch : stamp)
      if (ch == ':') ch = '-';
    res.moved_aside = parent / (abs.filename().string() + ".replaced-" + stamp);
    fs::rename(abs, res.moved_aside);
  }
  fs::rename(stage, abs);
  fsync_dir(parent);
  return res;
}

}  // namespace wim::collector
