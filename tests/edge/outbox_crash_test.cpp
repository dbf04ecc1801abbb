// SPDX-License-Identifier: Apache-2.0
// kill -9 at random moments: a child process seals records into the outbox, "uploads"
// them to a collector store (its own SQLite file) and acknowledges them, and is killed
// by a timer at a random point. After every kill the parent reopens both and checks:
// the outbox passes its start checks, every record the child saw committed is somewhere
// (outbox or collector), no seq holds other content than it was sealed with, and the
// chain links from seq 1 to the head without a gap.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <thread>

#include "../common/record_samples.hpp"
#include "station_test_util.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/packet.hpp"
#include "wim/edge/outbox.hpp"
#include "wim/edge/outbox_sealer.hpp"

using namespace wim;
using namespace wim::edge;

namespace {

edge::OutboxOptions opts(const std::filesystem::path& p, bool create = false) {
  edge::OutboxOptions o;
  o.path = p;
  o.station_id = "G017";
  o.create_new_chain = create;
  return o;
}

// A stand-in for the collector's durable store: seq -> packet, idempotent insert.
struct CollectorStore {
  sqlite3* db = nullptr;
  explicit CollectorStore(const std::filesystem::path& p) {
    if (sqlite3_open(p.c_str(), &db) != SQLITE_OK) throw std::runtime_error("collector db");
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("CREATE TABLE IF NOT EXISTS stored(seq INTEGER PRIMARY KEY, packet BLOB NOT NULL)");
    exec("CREATE TABLE IF NOT EXISTS conflicts(seq INTEGER NOT NULL, packet BLOB NOT NULL)");
  }
  ~CollectorStore() { sqlite3_close(db); }
  void exec(const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db));
  }
  void store(const std::vector<OutboxRecord>& batch) {
    exec("BEGIN IMMEDIATE");
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO stored(seq, packet) VALUES (?, ?)", -1, &st,
                       nullptr);
    sqlite3_stmt* conflict = nullptr;
    // The same seq with other bytes is kept as conflict evidence, as the collector does.
    sqlite3_prepare_v2(db,
                       "INSERT INTO conflicts(seq, packet) SELECT ?1, ?2 WHERE EXISTS (SELECT 1 "
                       "FROM stored WHERE seq = ?1 AND packet <> ?2)",
                       -1, &conflict, nullptr);
    for (const auto& r : batch) {
      for (auto* s : {conflict, st}) {
        sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(r.seq));
        sqlite3_bind_blob(s, 2, r.packet.data(), static_cast<int>(r.packet.size()),
                          SQLITE_TRANSIENT);
        sqlite3_step(s);
        sqlite3_reset(s);
      }
    }
    sqlite3_finalize(conflict);
    sqlite3_finalize(st);
    exec("COMMIT");
  }
  std::int64_t conflicts() {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM conflicts", -1, &st, nullptr);
    sqlite3_step(st);
    auto n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
  }
  std::map<std::uint64_t, std::string> all() {
    std::map<std::uint64_t, std::string> out;
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT seq, packet FROM stored", -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) {
      auto p = static_cast<const char*>(sqlite3_column_blob(st, 1));
      out[static_cast<std::uint64_t>(sqlite3_column_int64(st, 0))] =
          std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, 1)));
    }
    sqlite3_finalize(st);
    return out;
  }
};

/// The child: seals records in a loop with `seal_one(box)` (which returns the seq), reports
/// each committed seq through `report_fd` (only then does it count as done) and now and
/// then "uploads" a batch to the collector store and acknowledges it. Runs until killed.
template <class MakeSealOne>
[[noreturn]] void child_loop(const std::filesystem::path& outbox_path,
                             const std::filesystem::path& collector_path, int report_fd,
                             unsigned seed, MakeSealOne make_seal_one) {
  std::mt19937 rng(seed);
  try {
    Outbox box(opts(outbox_path));
    CollectorStore collector(collector_path);
    auto seal_one = make_seal_one(box, rng);
    for (;;) {
      std::uint64_t s = seal_one();
      if (::write(report_fd, &s, sizeof s) != sizeof s) ::_exit(3);
      if (rng() % 4 == 0) {
        auto batch = box.pending(static_cast<std::size_t>(1 + rng() % 20), 1 << 20);
        collector.store(batch);
        std::vector<std::uint64_t> seqs;
        for (const auto& b : batch) seqs.push_back(b.seq);
        box.acknowledge(seqs);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child: %s\n", e.what());
    ::_exit(2);
  }
}

/// Forks the child, waits for its FIRST committed record (so a slow machine, e.g. qemu,
/// still kills it while it seals, not while it opens the database), lets it run a random
/// 0..150 ms more and kills it with SIGKILL. Returns the highest seq the child reported and
/// the wait status.
template <class MakeSealOne>
std::pair<std::uint64_t, int> run_and_kill(const std::filesystem::path& outbox_path,
                                           const std::filesystem::path& collector_path,
                                           unsigned seed, MakeSealOne make_seal_one) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    child_loop(outbox_path, collector_path, fds[1], seed, make_seal_one);
  }
  ::close(fds[1]);
  std::uint64_t reported = 0, s = 0;
  if (::read(fds[0], &s, sizeof s) == sizeof s) {
    reported = s;
    std::mt19937 rng(seed);
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<int>(0, 150000)(rng)));
  }
  ::kill(pid, SIGKILL);
  while (::read(fds[0], &s, sizeof s) == sizeof s) reported = std::max(reported, s);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {reported, status};
}

}  // namespace

SCENARIO("kill -9 of a station sealing signed records: the whole chain verifies") {
  test::TempDir dir("crashchain");
  const auto outbox_path = dir / "outbox.db";
  const auto collector_path = dir / "collector.db";
  { Outbox create(opts(outbox_path, true)); }
  const auto key = crypto::SigningKey::generate();
  std::uint64_t committed_max = 0;
  const int kRuns = 20;
  std::uint64_t records_before_kill = 0;
  for (int run = 0; run < kRuns; ++run) {
    const auto [reported, status] = run_and_kill(
        outbox_path, collector_path, 7000u + static_cast<unsigned>(run),
        [&key](Outbox& box, std::mt19937& rng) {
          auto sealer = std::make_shared<OutboxSealer>(box, "G017", key, test::kSoftwareSha);
          sealer->commit_event("station_start", {{"reason", "restart"}});
          return [sealer, &rng] {
            return rng() % 5 == 0
                       ? sealer->commit(test::violation_record(0), test::violation_attachments())
                       : sealer->commit(test::pass_record(0));
          };
        });
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(reported > committed_max);  // the child sealed at least one record this run
    records_before_kill += reported - committed_max;
    committed_max = std::max(committed_max, reported);
    Outbox box(opts(outbox_path));
    REQUIRE(box.head().seq >= committed_max);
    committed_max = box.head().seq;
  }
  // Every seq from 1 to the head is at the collector or in the outbox (both: same bytes).
  Outbox box(opts(outbox_path));
  CollectorStore collector(collector_path);
  CHECK(collector.conflicts() == 0);
  std::map<std::uint64_t, std::string> all = collector.all();
  for (auto& r : box.pending(1000000, 1ULL << 40)) {
    auto [it, inserted] = all.emplace(r.seq, r.packet);
    if (!inserted) CHECK(it->second == r.packet);
  }
  REQUIRE(all.size() == box.head().seq);
  std::vector<packet::Packet> packets;
  for (auto& [seq, tar] : all) {
    auto ps = packet::from_tar(tar);
    REQUIRE(ps.size() == 1);
    packets.push_back(std::move(ps[0]));
  }
  chain::KeyRegistry keys;
  keys.add("G017", key.public_key());
  chain::ChainSummary summary;
  auto findings = chain::verify_chain(std::move(packets), keys, true, &summary);
  for (const auto& f : findings)
    FAIL_CHECK("seq " << f.seq << ": " << chain::to_string(f.problem) << ": " << f.detail);
  CHECK(summary.last_seq == box.head().seq);
  WARN("kill -9 runs: " << kRuns << ", signed records sealed and verified: " << summary.records
                        << " (" << records_before_kill << " reported before the kills)");
}

SCENARIO("kill -9 at random moments loses nothing and never changes a sealed record") {
  test::TempDir dir("crash");
  const auto outbox_path = dir / "outbox.db";
  const auto collector_path = dir / "collector.db";
  { Outbox create(opts(outbox_path, true)); }

  // The deterministic chain the child builds: seq -> expected packet.
  std::vector<OutboxRecord> expected{OutboxRecord{}};
  auto expect = [&](std::uint64_t seq) -> const OutboxRecord& {
    while (expected.size() <= seq) {
      const auto& prev = expected.back();
      const auto n = expected.size();
      expected.push_back(
          test::make_record(n, n == 1 ? "" : prev.manifest_sha256, test::kind_of(n)));
    }
    return expected[seq];
  };

  const int kRuns = 40;
  std::uint64_t committed_max = 0;
  int killed = 0;
  for (int run = 0; run < kRuns; ++run) {
    const auto [reported, status] = run_and_kill(
        outbox_path, collector_path, 1000u + static_cast<unsigned>(run),
        [](Outbox& box, std::mt19937&) { return [&box] { return test::append_next(box).seq; }; });
    REQUIRE(reported > committed_max);  // the child sealed at least one record this run
    committed_max = reported;
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    ++killed;

    Outbox box(opts(outbox_path));  // start checks: quick_check, head vs records
    const auto head = box.head();
    // Every record reported as committed survived; at most one more was committed
    // between the commit and the report.
    REQUIRE(head.seq >= committed_max);
    REQUIRE(head.seq <= committed_max + 1);
    committed_max = head.seq;
    if (head.seq > 0) CHECK(head.manifest_sha256 == expect(head.seq).manifest_sha256);

    CollectorStore collector(collector_path);
    auto at_collector = collector.all();
    std::map<std::uint64_t, std::string> in_outbox;
    for (auto& r : box.pending(1000000, 1ULL << 40)) in_outbox[r.seq] = r.packet;
    for (std::uint64_t seq = 1; seq <= head.seq; ++seq) {
      const auto& want = expect(seq);
      auto c = at_collector.find(seq);
      auto o = in_outbox.find(seq);
      INFO("run " << run << " seq " << seq);
      REQUIRE((c != at_collector.end() || o != in_outbox.end()));
      if (c != at_collector.end()) REQUIRE(c->second == want.packet);
      if (o != in_outbox.end()) REQUIRE(o->second == want.packet);
      // The chain links: each record names its predecessor's manifest hash.
      if (seq > 1) REQUIRE(want.prev_sha256 == expect(seq - 1).manifest_sha256);
      REQUIRE(crypto::sha256_hex(want.packet) == want.manifest_sha256);
    }
  }
  CHECK(killed == kRuns);
  CHECK(committed_max > 0);
  WARN("kill -9 runs: " << killed << ", records sealed: " << committed_max);
}
