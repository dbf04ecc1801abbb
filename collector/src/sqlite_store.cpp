// SPDX-License-Identifier: Apache-2.0
// MetadataStore on SQLite. WAL mode with synchronous=FULL: in WAL mode NORMAL may lose
// the last committed transactions on power loss, and we acknowledge records to stations
// (which then delete them) right after commit, so the commit must already be on disk.
// One connection, writers serialised by a mutex and grouped (group commit: the batches
// of concurrent put_records() calls share one transaction and one fsync); a chain summary per
// station is derived from the records table at open and kept up to date in memory.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>

#include "wim/collector/store.hpp"
#include "wim/common/error.hpp"
#include "wim/common/sqlite.hpp"

namespace wim::collector {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS records(
  station TEXT NOT NULL, seq INTEGER NOT NULL, manifest_sha256 TEXT NOT NULL,
  prev_sha256 TEXT NOT NULL, kind TEXT NOT NULL, time_unix_us INTEGER NOT NULL,
  clock_sync TEXT NOT NULL, verdict TEXT NOT NULL, lane INTEGER NOT NULL,
  manifest BLOB NOT NULL, signature BLOB NOT NULL, received_unix_us INTEGER NOT NULL,
  PRIMARY KEY(station, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_by_time ON records(station, time_unix_us);
CREATE INDEX IF NOT EXISTS records_by_received ON records(received_unix_us);
CREATE TABLE IF NOT EXISTS attachments(
  manifest_sha256 TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL,
  size_bytes INTEGER NOT NULL, PRIMARY KEY(manifest_sha256, name)) WITHOUT ROWID;
-- Which records refer to a blob: the retention purge asks this for every image it removes
-- (without the index, a scan of every attachment row per image: quadratic in the store).
CREATE INDEX IF NOT EXISTS attachments_by_sha ON attachments(sha256);
CREATE TABLE IF NOT EXISTS conflicts(
  station TEXT NOT NULL, seq INTEGER NOT NULL, stored_sha256 TEXT NOT NULL,
  incoming_sha256 TEXT NOT NULL, manifest BLOB NOT NULL, signature BLOB NOT NULL,
  received_unix_us INTEGER NOT NULL, PRIMARY KEY(station, seq, incoming_sha256)) WITHOUT ROWID;
)sql";

/// Stored seqs of one station as merged inclusive intervals (first -> last).
struct Intervals {
  std::map<std::int64_t, std::int64_t> runs;
  std::int64_t count = 0;
  std::int64_t conflicts = 0;

  void add(std::int64_t seq) {
    ++count;
    auto next = runs.lower_bound(seq);
    bool joins_next = next != runs.end() && next->first == seq + 1;
    if (next != runs.begin()) {
      auto prev = std::prev(next);
      if (prev->second + 1 == seq) {
        prev->second = joins_next ? next->second : seq;
        if (joins_next) runs.erase(next);
        return;
      }
    }
    if (joins_next) {
      auto last = next->second;
      runs.erase(next);
      runs.emplace(seq, last);
    } else {
      runs.emplace(seq, seq);
    }
  }

  ChainSummary summary() const {
    ChainSummary s;
    s.record_count = count;
    s.conflict_count = conflicts;
    if (runs.empty()) return s;
    s.highest_seq = runs.rbegin()->second;
    auto first = runs.begin();
    s.acked_seq = first->first == 1 ? first->second : 0;
    std::int64_t expect = 1;
    for (const auto& [a, b] : runs) {
      if (a > expect) s.missing.emplace_back(expect, a - 1);
      expect = b + 1;
    }
    return s;
  }
};

class SqliteStore final : public MetadataStore {
 public:
  explicit SqliteStore(const std::filesystem::path& path) : db_(path) {
    db_.exec("PRAGMA journal_mode=WAL");
    db_.exec("PRAGMA synchronous=FULL");
    db_.exec("PRAGMA foreign_keys=ON");
    db_.exec(kSchema);
    // Derive the chain state (islands of consecutive seqs) from the records table.
    sqlite::Stmt st(db_,
                    "SELECT station, MIN(seq), MAX(seq), COUNT(*) FROM (SELECT station, seq, "
                    "seq - ROW_NUMBER() OVER (PARTITION BY station ORDER BY seq) AS grp "
                    "FROM records) GROUP BY station, grp");
    while (st.step()) {
      auto& iv = chains_[st.col_text(0)];
      iv.runs.emplace(st.col_int(1), st.col_int(2));
      iv.count += st.col_int(3);
    }
    sqlite::Stmt c(db_, "SELECT station, COUNT(*) FROM conflicts GROUP BY station");
    while (c.step()) chains_[c.col_text(0)].conflicts = c.col_int(1);
  }

  /// Group commit: callers queue their batch; whoever finds no commit in progress becomes
  /// the leader and commits every queued batch in one transaction (one WAL fsync), then
  /// wakes the others. Each caller returns only after the transaction holding its
  /// records has committed (or rethrows the error that rolled it back).
  std::vector<PutOutcome> put_records(const std::vector<StoredRecord>& records) override {
    Job job{&records, {}, nullptr, false};
    std::unique_lock ql(queue_mutex_);
    queue_.push_back(&job);
    while (!job.done) {
      if (leader_active_) {
        queue_cv_.wait(ql);
        continue;
      }
      leader_active_ = true;
      std::vector<Job*> group(queue_.begin(), queue_.end());
      queue_.clear();
      ql.unlock();
      commit_group(group);
      ql.lock();
      for (auto* j : group) j->done = true;
      leader_active_ = false;
      queue_cv_.notify_all();
    }
    ++put_calls_;
    if (job.error) std::rethrow_exception(job.error);
    return std::move(job.out);
  }

  StoreCounters counters() const override {
    std::lock_guard lock(mutex_);
    return StoreCounters{put_calls_.load(), commits_};
  }

  std::optional<StoredRecord> get_record(std::string_view station,
                                         std::int64_t seq) const override {
    std::lock_guard lock(mutex_);
    sqlite::Stmt st(db_,
                    "SELECT manifest_sha256, prev_sha256, kind, time_unix_us, clock_sync, "
                    "verdict, lane, manifest, signature, received_unix_us FROM records "
                    "WHERE station=?1 AND seq=?2");
    st.bind(1, station).bind(2, seq);
    if (!st.step()) return std::nullopt;
    StoredRecord r = row_to_record(st, station, seq);
    load_attachments(r);
    return r;
  }

  std::optional<std::pair<std::string, std::string>> link(std::string_view station,
                                                          std::int64_t seq) const override {
    std::lock_guard lock(mutex_);
    // Asked two or three times per ingested record: prepared once, reused.
    if (!link_stmt_)
      link_stmt_ = std::make_unique<sqlite::Stmt>(
          db_, "SELECT manifest_sha256, prev_sha256 FROM records WHERE station=?1 AND seq=?2");
    sqlite::Stmt& st = reset(*link_stmt_);
    st.bind(1, station).bind(2, seq);
    if (!st.step()) return std::nullopt;
    auto out = std::make_pair(st.col_text(0), st.col_text(1));
    st.reset();  // ends the read, so it holds no snapshot of the WAL
    return out;
  }

  ChainSummary chain(std::string_view station) const override {
    std::lock_guard lock(mutex_);
    auto it = chains_.find(std::string(station));
    return it == chains_.end() ? ChainSummary{} : it->second.summary();
  }

  std::vector<ConflictRow> conflicts(std::string_view station) const override {
    std::lock_guard lock(mutex_);
    sqlite::Stmt st(db_,
                    "SELECT seq, stored_sha256, incoming_sha256, received_unix_us FROM conflicts "
                    "WHERE station=?1 ORDER BY seq");
    st.bind(1, station);
    std::vector<ConflictRow> out;
    while (st.step())
      out.push_back(
          {std::string(station), st.col_int(0), st.col_text(1), st.col_text(2), st.col_int(3)});
    return out;
  }

  std::vector<std::string> stations_with_records() const override {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [k, v] : chains_)
      if (v.count > 0) out.push_back(k);
    return out;
  }

  std::vector<std::tuple<std::string, std::int64_t, std::int64_t>> overloads_received_since(
      std::int64_t from_us) const override {
    std::lock_guard lock(mutex_);
    sqlite::Stmt st(db_,
                    "SELECT station, seq, received_unix_us FROM records WHERE received_unix_us>=?1 "
                    "AND verdict='overload' ORDER BY received_unix_us");
    st.bind(1, from_us);
    std::vector<std::tuple<std::string, std::int64_t, std::int64_t>> out;
    while (st.step()) out.emplace_back(st.col_text(0), st.col_int(1), st.col_int(2));
    return out;
  }

  std::vector<std::pair<std::int64_t, std::string>> event_manifests(
      std::string_view station, std::string_view type) const override {
    std::lock_guard lock(mutex_);
    sqlite::Stmt st(db_,
                    "SELECT seq, manifest FROM records WHERE station=?1 AND kind='event' "
                    "AND instr(CAST(manifest AS TEXT), ?2) > 0 ORDER BY seq");
    const std::string needle = "\"type\":\"" + std::string(type) + "\"";
    st.bind(1, station).bind(2, std::string_view(needle));
    std::vector<std::pair<std::int64_t, std::string>> out;
    while (st.step()) out.emplace_back(st.col_int(0), st.col_blob(1));
    return out;
  }

  std::vector<StoredRecord> records_between(std::string_view station, std::int64_t from_us,
                                            std::int64_t to_us) const override {
    std::lock_guard lock(mutex_);
    sqlite::Stmt st(db_,
                    "SELECT manifest_sha256, prev_sha256, kind, time_unix_us, clock_sync, "
                    "verdict, lane, '', '', received_unix_us, seq FROM records "
                    "WHERE station=?1 AND time_unix_us>=?2 AND time_unix_us<?3 ORDER BY seq");
    st.bind(1, station).bind(2, from_us).bind(3, to_us);
    std::vector<StoredRecord> out;
    while (st.step()) out.push_back(row_to_record(st, station, st.col_int(10)));
    return out;
  }

 private:
  struct Job {
    const std::vector<StoredRecord>* records;
    std::vector<PutOutcome> out;
    std::exception_ptr error;
    bool done;
  };

  void commit_group(const std::vector<Job*>& group) {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<std::string, std::int64_t>> added;
    std::map<std::string, std::int64_t> added_conflicts;
    try {
      sqlite::Transaction tx(db_);
      for (auto* j : group) put_in_tx(*j->records, j->out, added, added_conflicts);
      tx.commit();
      ++commits_;
    } catch (...) {
      for (auto* j : group) j->error = std::current_exception();
      return;
    }
    // Only after the commit: the in-memory chain mirrors what is durable.
    for (const auto& [st, seq] : added) chains_[st].add(seq);
    for (const auto& [st, n] : added_conflicts) chains_[st].conflicts += n;
  }

  void put_in_tx(const std::vector<StoredRecord>& records, std::vector<PutOutcome>& out,
                 std::vector<std::pair<std::string, std::int64_t>>& added,
                 std::map<std::string, std::int64_t>& added_conflicts) {
    out.clear();
    out.reserve(records.size());
    sqlite::Stmt find(db_, "SELECT manifest_sha256 FROM records WHERE station=?1 AND seq=?2");
    sqlite::Stmt ins(db_,
                     "INSERT INTO records(station, seq, manifest_sha256, prev_sha256, kind, "
                     "time_unix_us, clock_sync, verdict, lane, manifest, signature, "
                     "received_unix_us) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)");
    sqlite::Stmt conf(db_,
                      "INSERT OR IGNORE INTO conflicts(station, seq, stored_sha256, "
                      "incoming_sha256, manifest, signature, received_unix_us) "
                      "VALUES(?1,?2,?3,?4,?5,?6,?7)");
    sqlite::Stmt att(db_,
                     "INSERT OR IGNORE INTO attachments(manifest_sha256, name, sha256, "
                     "size_bytes) VALUES(?1,?2,?3,?4)");
    for (const auto& r : records) {
      auto& f = reset(find);
      f.bind(1, r.station_id).bind(2, r.seq);
      std::string existing;
      if (f.step()) existing = f.col_text(0);
      if (!existing.empty() && existing == r.manifest_sha256) {
        out.push_back(PutOutcome::duplicate);
        continue;
      }
      if (!existing.empty()) {
        reset(conf)
            .bind(1, r.station_id)
            .bind(2, r.seq)
            .bind(3, existing)
            .bind(4, r.manifest_sha256)
            .bind_blob(5, r.manifest)
            .bind_blob(6, r.signature)
            .bind(7, r.received_unix_us)
            .step();
        if (sqlite3_changes(db_.handle()) > 0) ++added_conflicts[r.station_id];
        out.push_back(PutOutcome::conflict);
      } else {
        reset(ins)
            .bind(1, r.station_id)
            .bind(2, r.seq)
            .bind(3, r.manifest_sha256)
            .bind(4, r.prev_sha256)
            .bind(5, r.kind)
            .bind(6, r.time_unix_us)
            .bind(7, r.clock_sync)
            .bind(8, r.verdict)
            .bind(9, static_cast<std::int64_t>(r.lane))
            .bind_blob(10, r.manifest)
            .bind_blob(11, r.signature)
            .bind(12, r.received_unix_us)
            .step();
        added.emplace_back(r.station_id, r.seq);
        out.push_back(PutOutcome::stored);
      }
      for (const auto& a : r.attachments)
        reset(att)
            .bind(1, r.manifest_sha256)
            .bind(2, a.name)
            .bind(3, a.sha256)
            .bind(4, a.size_bytes)
            .step();
    }
  }

  static sqlite::Stmt& reset(sqlite::Stmt& s) {
    s.reset();
    return s;
  }

  static StoredRecord row_to_record(const sqlite::Stmt& st, std::string_view station,
                                    std::int64_t seq) {
    StoredRecord r;
    r.station_id = std::string(station);
    r.seq = seq;
    r.manifest_sha256 = st.col_text(0);
    r.prev_sha256 = st.col_text(1);
    r.kind = st.col_text(2);
    r.time_unix_us = st.col_int(3);
    r.clock_sync = st.col_text(4);
    r.verdict = st.col_text(5);
    r.lane = static_cast<int>(st.col_int(6));
    r.manifest = st.col_blob(7);
    r.signature = st.col_blob(8);
    r.received_unix_us = st.col_int(9);
    return r;
  }

  void load_attachments(StoredRecord& r) const {
    sqlite::Stmt st(db_,
                    "SELECT name, sha256, size_bytes FROM attachments WHERE manifest_sha256=?1 "
                    "ORDER BY name");
    st.bind(1, r.manifest_sha256);
    while (st.step()) r.attachments.push_back({st.col_text(0), st.col_text(1), st.col_int(2)});
  }

  mutable std::mutex mutex_;  // the connection, link_stmt_ and chains_
  mutable sqlite::Db db_;     // const readers prepare statements on it
  mutable std::unique_ptr<sqlite::Stmt> link_stmt_;
  std::uint64_t commits_ = 0;
  std::atomic<std::uint64_t> put_calls_{0};
  std::mutex queue_mutex_;  // queue_ and leader_active_
  std::condition_variable queue_cv_;
  std::deque<Job*> queue_;
  bool leader_active_ = false;
  std::map<std::string, Intervals, std::less<>> chains_;
};

}  // namespace

std::unique_ptr<MetadataStore> open_sqlite_store(const std::filesystem::path& db_path) {
  return std::make_unique<SqliteStore>(db_path);
}

}  // namespace wim::collector
