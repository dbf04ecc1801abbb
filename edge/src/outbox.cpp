// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/outbox.hpp"

#include <sqlite3.h>

#include "wim/common/log.hpp"
#include "wim/common/sqlite.hpp"
#include "wim/common/time.hpp"

namespace wim::edge {

namespace {

// Schema 2 (2026-11-28): chain_head.time_unix_us, records.lane, thinned.time_unix_us and
// thinned.lane, so a restart knows the chain's time and a thinning event names each pass.
constexpr std::string_view kSchemaVersion = "2";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chain_head(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  manifest_sha256 TEXT NOT NULL,
  time_unix_us INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS records(
  seq INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('pass', 'violation', 'event')),
  manifest_sha256 TEXT NOT NULL,
  prev_sha256 TEXT NOT NULL,
  created_unix_us INTEGER NOT NULL,
  lane INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'conflict')),
  detail TEXT,
  size_bytes INTEGER NOT NULL,
  packet BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS thinned(
  seq INTEGER PRIMARY KEY,
  manifest_sha256 TEXT NOT NULL,
  thinned_unix_us INTEGER NOT NULL,
  reported INTEGER NOT NULL DEFAULT 0,
  time_unix_us INTEGER NOT NULL DEFAULT 0,
  lane INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS held(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event TEXT NOT NULL);
)sql";

std::vector<std::string> integrity_problems(sqlite::Db& db, const char* pragma) {
  std::vector<std::string> out;
  sqlite::Stmt st(db, pragma);
  while (st.step()) {
    std::string line = st.col_text(0);
    if (line != "ok") out.push_back(line);
  }
  return out;
}

OutboxRecord read_record(const sqlite::Stmt& st) {
  OutboxRecord r;
  r.seq = static_cast<std::uint64_t>(st.col_int(0));
  r.kind = record_kind_from_string(st.col_text(1));
  r.manifest_sha256 = st.col_text(2);
  r.prev_sha256 = st.col_text(3);
  r.created_unix_us = st.col_int(4);
  r.packet = st.col_blob(5);
  return r;
}

constexpr const char* kSelectRecord =
    "SELECT seq, kind, manifest_sha256, prev_sha256, created_unix_us, packet FROM records";

}  // namespace

std::string_view to_string(RecordKind k) {
  switch (k) {
    case RecordKind::pass:
      return "pass";
    case RecordKind::violation:
      return "violation";
    case RecordKind::event:
      return "event";
  }
  return "?";
}

RecordKind record_kind_from_string(std::string_view s) {
  if (s == "pass") return RecordKind::pass;
  if (s == "violation") return RecordKind::violation;
  if (s == "event") return RecordKind::event;
  throw InputError("record kind: '" + std::string(s) + "' is not pass, violation or event");
}

Outbox::Outbox(const OutboxOptions& options) : options_(options) {
  const auto& path = options_.path;
  const bool exists = std::filesystem::exists(path);
  if (!exists && !options_.create_new_chain) {
    throw OutboxMissing("outbox " + path.string() +
                        " does not exist: refusing to start a new chain at seq 1 (a lost "
                        "outbox must be recovered or the station re-provisioned with "
                        "--new-chain)");
  }
  try {
    int flags = SQLITE_OPEN_READWRITE | (exists ? 0 : SQLITE_OPEN_CREATE);
    db_ = std::make_unique<sqlite::Db>(path, flags);
    if (exists) {
      // Before anything writes: a damaged file must be reported, not built upon.
      auto problems = integrity_problems(*db_, "PRAGMA quick_check");
      if (!problems.empty()) {
        std::string msg = "outbox " + path.string() + " is damaged (quick_check):";
        for (std::size_t i = 0; i < problems.size() && i < 5; ++i) msg += " " + problems[i] + ";";
        throw OutboxCorrupt(msg + " refusing to continue or restart the chain over it");
      }
    }
    const std::string mode = db_->query_text("PRAGMA journal_mode=WAL");
    if (mode != "wal")
      throw SystemError(path.string() + ": cannot switch to WAL (got " + mode + ")");
    db_->exec("PRAGMA synchronous=FULL");
    if (options_.max_page_count > 0)
      db_->query_int("PRAGMA max_page_count=" + std::to_string(options_.max_page_count));
    if (!exists) {
      sqlite::Transaction tx(*db_);
      db_->exec(kSchema);
      sqlite::Stmt meta(*db_, "INSERT INTO meta(key, value) VALUES (?, ?)");
      meta.bind(1, "schema_version").bind(2, kSchemaVersion).step();
      meta.reset();
      meta.bind(1, "station_id").bind(2, options_.station_id).step();
      meta.reset();
      meta.bind(1, "created_utc").bind(2, time::format_utc_ms(time::now_unix_us())).step();
      db_->exec("INSERT INTO chain_head(id, seq, manifest_sha256) VALUES (1, 0, '')");
      tx.commit();
      log::notice("outbox", "created " + path.string() + " for station " + options_.station_id +
                                ": a new chain starts at seq 1");
    } else {
      migrate_schema();
      check_consistency();
    }
  } catch (const sqlite::SqliteCorrupt& e) {
    throw OutboxCorrupt("outbox " + path.string() + " is damaged: " + e.what() +
                        "; refusing to continue or restart the chain over it");
  }
}

Outbox::~Outbox() = default;

const std::filesystem::path& Outbox::path() const {
  return options_.path;
}

void Outbox::migrate_schema() {
  if (db_->query_int("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'") != 1)
    return;  // not an outbox: check_consistency says so
  // Held events (added within schema 2): a table of its own, created when missing.
  db_->exec(
      "CREATE TABLE IF NOT EXISTS held(id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL)");
  if (db_->query_text("SELECT coalesce((SELECT value FROM meta WHERE key='schema_version'), '')") !=
      "1")
    return;
  // Schema 1 -> 2 in one transaction: columns added with defaults, nothing rewritten or
  // dropped; the head's time from its record when that is still held.
  sqlite::Transaction tx(*db_);
  db_->exec(
      "ALTER TABLE chain_head ADD COLUMN time_unix_us INTEGER NOT NULL DEFAULT 0;"
      "ALTER TABLE records ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;"
      "ALTER TABLE thinned ADD COLUMN time_unix_us INTEGER NOT NULL DEFAULT 0;"
      "ALTER TABLE thinned ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;"
      "UPDATE chain_head SET time_unix_us = coalesce((SELECT created_unix_us FROM records "
      "WHERE records.seq = chain_head.seq), 0);"
      "UPDATE meta SET value = '2' WHERE key = 'schema_version';");
  tx.commit();
  log::notice("outbox", options_.path.string() + ": schema 1 migrated to 2 (chain time, lanes)");
}

void Outbox::check_consistency() {
  const auto& p = options_.path.string();
  if (db_->query_int("SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
                     "('meta','chain_head','records','thinned')") != 4)
    throw OutboxCorrupt("outbox " + p + " is not a wim outbox (tables missing)");
  const std::string version = db_->query_text("SELECT value FROM meta WHERE key='schema_version'");
  if (version != kSchemaVersion)
    throw OutboxCorrupt("outbox " + p + ": schema_version '" + version + "', expected " +
                        std::string(kSchemaVersion));
  const std::string station = db_->query_text("SELECT value FROM meta WHERE key='station_id'");
  if (station != options_.station_id)
    throw InputError("outbox " + p + " belongs to station '" + station + "', config says '" +
                     options_.station_id + "'");
  if (db_->query_int("SELECT count(*) FROM chain_head WHERE id=1") != 1)
    throw OutboxCorrupt("outbox " + p + ": chain head row missing");
  const ChainHead h = head();
  const auto max_seq = static_cast<std::uint64_t>(
      db_->query_int("SELECT max(m) FROM (SELECT max(seq) AS m FROM records UNION ALL "
                     "SELECT max(seq) FROM thinned)"));
  if (max_seq > h.seq)
    throw OutboxCorrupt("outbox " + p + ": records up to seq " + std::to_string(max_seq) +
                        " but chain head at seq " + std::to_string(h.seq));
  sqlite::Stmt st(*db_, "SELECT manifest_sha256 FROM records WHERE seq = ?");
  st.bind(1, static_cast<std::int64_t>(h.seq));
  if (st.step() && st.col_text(0) != h.manifest_sha256)
    throw OutboxCorrupt("outbox " + p + ": chain head sha256 differs from record seq " +
                        std::to_string(h.seq));
}

ChainHead Outbox::head() const {
  sqlite::Stmt st(*db_, "SELECT seq, manifest_sha256, time_unix_us FROM chain_head WHERE id = 1");
  ChainHead h;
  if (st.step()) {
    h.seq = static_cast<std::uint64_t>(st.col_int(0));
    h.manifest_sha256 = st.col_text(1);
    h.time_unix_us = st.col_int(2);
  }
  return h;
}

void Outbox::append(const OutboxRecord& r, std::uint64_t reports_thinned_upto, std::int64_t held_id,
                    const std::vector<std::pair<std::string, std::string>>& facts) {
  std::lock_guard lock(mu_);
  try {
    sqlite::Transaction tx(*db_);
    const ChainHead h = head();
    if (r.seq != h.seq + 1)
      throw ChainError("outbox: record seq " + std::to_string(r.seq) +
                       " does not follow head seq " + std::to_string(h.seq));
    if (h.seq > 0 && r.prev_sha256 != h.manifest_sha256)
      throw ChainError("outbox: record seq " + std::to_string(r.seq) + " prev_sha256 " +
                       r.prev_sha256 + " does not match head " + h.manifest_sha256);
    sqlite::Stmt ins(*db_,
                     "INSERT INTO records(seq, kind, manifest_sha256, prev_sha256, "
                     "created_unix_us, size_bytes, packet, lane) VALUES (?,?,?,?,?,?,?,?)");
    ins.bind(1, static_cast<std::int64_t>(r.seq))
        .bind(2, to_string(r.kind))
        .bind(3, r.manifest_sha256)
        .bind(4, r.prev_sha256)
        .bind(5, r.created_unix_us)
        .bind(6, static_cast<std::int64_t>(r.packet.size()))
        .bind_blob(7, r.packet)
        .bind(8, static_cast<std::int64_t>(r.lane));
    ins.step();
    sqlite::Stmt upd(*db_,
                     "UPDATE chain_head SET seq = ?, manifest_sha256 = ?, time_unix_us = ? "
                     "WHERE id = 1");
    upd.bind(1, static_cast<std::int64_t>(r.seq))
        .bind(2, r.manifest_sha256)
        .bind(3, r.chain_time_unix_us ? r.chain_time_unix_us : r.created_unix_us)
        .step();
    if (reports_thinned_upto > 0) {
      sqlite::Stmt rep(*db_, "UPDATE thinned SET reported = 1 WHERE seq <= ?");
      rep.bind(1, static_cast<std::int64_t>(reports_thinned_upto)).step();
    }
    if (held_id > 0) {
      sqlite::Stmt del(*db_, "DELETE FROM held WHERE id = ?");
      del.bind(1, held_id).step();
    }
    for (const auto& [key, value] : facts) {
      sqlite::Stmt f(*db_, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
      f.bind(1, "station." + key).bind(2, value).step();
    }
    tx.commit();
  } catch (const sqlite::SqliteFull& e) {
    log::error("outbox", std::string("DISK FULL, record seq ") + std::to_string(r.seq) +
                             " not stored: " + e.what());
    throw OutboxFull("outbox " + options_.path.string() + " is full: record seq " +
                     std::to_string(r.seq) + " (" + std::string(to_string(r.kind)) +
                     ") not stored; stored records are intact");
  }
}

std::int64_t Outbox::add_held(const std::string& event_json) {
  std::lock_guard lock(mu_);
  try {
    sqlite::Stmt st(*db_, "INSERT INTO held(event) VALUES (?)");
    st.bind(1, event_json).step();
    return db_->query_int("SELECT last_insert_rowid()");
  } catch (const sqlite::SqliteFull& e) {
    throw OutboxFull("outbox " + options_.path.string() +
                     " is full: held event not stored: " + e.what());
  }
}

std::vector<std::pair<std::int64_t, std::string>> Outbox::held() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::int64_t, std::string>> out;
  sqlite::Stmt st(*db_, "SELECT id, event FROM held ORDER BY id");
  while (st.step()) out.emplace_back(st.col_int(0), st.col_text(1));
  return out;
}

std::string Outbox::station_fact(const std::string& key) const {
  std::lock_guard lock(mu_);
  sqlite::Stmt st(*db_, "SELECT value FROM meta WHERE key = ?");
  st.bind(1, "station." + key);
  return st.step() ? st.col_text(0) : std::string();
}

void Outbox::set_station_fact(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  sqlite::Stmt st(*db_, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
  st.bind(1, "station." + key).bind(2, value).step();
}

std::vector<OutboxRecord> Outbox::pending(std::size_t max_records, std::uint64_t max_bytes) const {
  std::lock_guard lock(mu_);
  std::vector<OutboxRecord> out;
  sqlite::Stmt st(*db_,
                  std::string(kSelectRecord) + " WHERE state = 'pending' ORDER BY seq LIMIT ?");
  st.bind(1, static_cast<std::int64_t>(max_records));
  std::uint64_t bytes = 0;
  while (st.step()) {
    OutboxRecord r = read_record(st);
    if (!out.empty() && bytes + r.packet.size() > max_bytes) break;
    bytes += r.packet.size();
    out.push_back(std::move(r));
  }
  return out;
}

void Outbox::acknowledge(const std::vector<std::uint64_t>& seqs) {
  if (seqs.empty()) return;
  std::lock_guard lock(mu_);
  sqlite::Transaction tx(*db_);
  sqlite::Stmt del(*db_, "DELETE FROM records WHERE seq = ? AND state = 'pending'");
  for (auto s : seqs) {
    del.bind(1, static_cast<std::int64_t>(s)).step();
    del.reset();
  }
  tx.commit();
}

void Outbox::acknowledge_upto(std::uint64_t acked_seq) {
  std::lock_guard lock(mu_);
  sqlite::Stmt del(*db_, "DELETE FROM records WHERE seq <= ? AND state = 'pending'");
  del.bind(1, static_cast<std::int64_t>(acked_seq)).step();
}

void Outbox::mark_conflict(std::uint64_t seq, const std::string& detail) {
  std::lock_guard lock(mu_);
  sqlite::Stmt st(*db_, "UPDATE records SET state = 'conflict', detail = ? WHERE seq = ?");
  st.bind(1, detail).bind(2, static_cast<std::int64_t>(seq)).step();
  log::error("outbox", "collector holds other content for seq " + std::to_string(seq) + ": " +
                           detail + "; record kept for an operator");
}

std::vector<ThinnedRecord> Outbox::thin_to_quota(std::uint64_t incoming_bytes) {
  std::lock_guard lock(mu_);
  std::vector<ThinnedRecord> out;
  if (options_.quota_bytes == 0) return out;
  sqlite::Transaction tx(*db_);
  auto total = static_cast<std::uint64_t>(
      db_->query_int("SELECT coalesce(sum(size_bytes), 0) FROM records"));
  if (total + incoming_bytes <= options_.quota_bytes) return out;
  // Oldest unsent passes go first: violations and events are evidence and are never thinned.
  sqlite::Stmt sel(*db_,
                   "SELECT seq, manifest_sha256, size_bytes, created_unix_us, lane FROM records "
                   "WHERE kind = 'pass' AND state = 'pending' ORDER BY seq");
  sqlite::Stmt del(*db_, "DELETE FROM records WHERE seq = ?");
  sqlite::Stmt keep(*db_,
                    "INSERT INTO thinned(seq, manifest_sha256, thinned_unix_us, time_unix_us, "
                    "lane) VALUES (?,?,?,?,?)");
  const auto now = time::now_unix_us();
  while (total + incoming_bytes > options_.quota_bytes && sel.step()) {
    ThinnedRecord t{static_cast<std::uint64_t>(sel.col_int(0)), sel.col_text(1), sel.col_int(3),
                    static_cast<int>(sel.col_int(4))};
    total -= static_cast<std::uint64_t>(sel.col_int(2));
    out.push_back(t);
  }
  sel.reset();
  for (const auto& t : out) {
    del.bind(1, static_cast<std::int64_t>(t.seq)).step();
    del.reset();
    keep.bind(1, static_cast<std::int64_t>(t.seq))
        .bind(2, t.manifest_sha256)
        .bind(3, now)
        .bind(4, t.time_unix_us)
        .bind(5, static_cast<std::int64_t>(t.lane))
        .step();
    keep.reset();
  }
  tx.commit();
  if (!out.empty())
    log::warning("outbox", "disk quota: thinned " + std::to_string(out.size()) +
                               " unsent pass records, seq " + std::to_string(out.front().seq) +
                               ".." + std::to_string(out.back().seq));
  return out;
}

std::vector<ThinnedRecord> Outbox::unreported_thinned() const {
  std::lock_guard lock(mu_);
  std::vector<ThinnedRecord> out;
  sqlite::Stmt st(*db_,
                  "SELECT seq, manifest_sha256, time_unix_us, lane FROM thinned WHERE reported = 0 "
                  "ORDER BY seq");
  while (st.step())
    out.push_back({static_cast<std::uint64_t>(st.col_int(0)), st.col_text(1), st.col_int(2),
                   static_cast<int>(st.col_int(3))});
  return out;
}

OutboxStats Outbox::stats() const {
  std::lock_guard lock(mu_);
  OutboxStats s;
  sqlite::Stmt st(*db_,
                  "SELECT count(*), coalesce(sum(kind = 'violation'), 0), "
                  "coalesce(sum(state = 'conflict'), 0), coalesce(sum(size_bytes), 0), "
                  "coalesce(min(created_unix_us), 0) FROM records");
  st.step();
  s.depth = static_cast<std::uint64_t>(st.col_int(0));
  s.violations = static_cast<std::uint64_t>(st.col_int(1));
  s.conflicts = static_cast<std::uint64_t>(st.col_int(2));
  s.stored_bytes = static_cast<std::uint64_t>(st.col_int(3));
  s.oldest_unsent_unix_us = st.col_int(4);
  s.thinned_total = static_cast<std::uint64_t>(db_->query_int("SELECT count(*) FROM thinned"));
  s.thinned_unreported =
      static_cast<std::uint64_t>(db_->query_int("SELECT count(*) FROM thinned WHERE reported = 0"));
  s.quota_bytes = options_.quota_bytes;
  return s;
}

SalvageReport Outbox::salvage(const std::filesystem::path& path) {
  SalvageReport rep;
  std::unique_ptr<sqlite::Db> db;
  try {
    db = std::make_unique<sqlite::Db>(path, SQLITE_OPEN_READONLY);
    for (auto& p : integrity_problems(*db, "PRAGMA integrity_check")) rep.problems.push_back(p);
  } catch (const std::exception& e) {
    rep.problems.push_back(e.what());
    if (!db) return rep;
  }
  try {
    sqlite::Stmt st(*db, "SELECT seq, manifest_sha256 FROM chain_head WHERE id = 1");
    if (st.step()) rep.head = ChainHead{static_cast<std::uint64_t>(st.col_int(0)), st.col_text(1)};
  } catch (const std::exception& e) {
    rep.problems.push_back(std::string("chain head unreadable: ") + e.what());
  }
  // Walk forward by seq; when a page is unreadable, skip ahead one seq at a time so that
  // records behind the damage are still found.
  std::uint64_t after = 0;
  const std::uint64_t last = rep.head ? rep.head->seq : 0;
  int failures = 0;
  while (failures < 1000) {
    try {
      sqlite::Stmt st(*db, std::string(kSelectRecord) + " WHERE seq > ? ORDER BY seq");
      st.bind(1, static_cast<std::int64_t>(after));
      while (st.step()) {
        rep.records.push_back(read_record(st));
        after = rep.records.back().seq;
      }
      break;
    } catch (const std::exception& e) {
      ++failures;
      rep.problems.push_back("reading records after seq " + std::to_string(after) + ": " +
                             e.what());
      ++after;
      if (last > 0 && after > last) break;
    }
  }
  return rep;
}

}  // namespace wim::edge
