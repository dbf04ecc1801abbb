// SPDX-License-Identifier: Apache-2.0
#include <sqlite3.h>
#include <catch2/catch.hpp>
#include <fstream>

#include "station_test_util.hpp"
#include "wim/common/error.hpp"
#include "wim/common/sqlite.hpp"
#include "wim/edge/outbox.hpp"

using namespace wim;
using namespace wim::edge;

namespace {
OutboxOptions opts(const std::filesystem::path& p, bool create = false) {
  OutboxOptions o;
  o.path = p;
  o.station_id = "G017";
  o.create_new_chain = create;
  return o;
}
}  // namespace

SCENARIO("Records wait in the outbox in seq order until the collector acknowledges them") {
  test::TempDir dir("outbox");
  GIVEN("a new outbox with 20 records") {
    std::vector<OutboxRecord> made;
    {
      Outbox box(opts(dir / "outbox.db", true));
      for (int i = 0; i < 20; ++i) made.push_back(test::append_next(box));
    }
    WHEN("it is reopened") {
      Outbox box(opts(dir / "outbox.db"));
      THEN("all 20 are pending, in seq order, byte for byte") {
        auto p = box.pending(100, 1 << 20);
        REQUIRE(p.size() == 20);
        for (std::size_t i = 0; i < p.size(); ++i) {
          CHECK(p[i].seq == i + 1);
          CHECK(p[i].packet == made[i].packet);
          CHECK(p[i].manifest_sha256 == made[i].manifest_sha256);
          CHECK(p[i].kind == made[i].kind);
        }
        CHECK(box.stats().depth == 20);
        CHECK(box.stats().oldest_unsent_unix_us == made[0].created_unix_us);
      }
      THEN("a batch respects its record and byte limits but always holds one record") {
        CHECK(box.pending(5, 1 << 20).size() == 5);
        CHECK(box.pending(100, 1).size() == 1);
      }
      AND_WHEN("the collector acknowledges some seqs and then everything up to 20") {
        box.acknowledge({1, 2, 5});
        auto p = box.pending(100, 1 << 20);
        REQUIRE(p.size() == 17);
        CHECK(p[0].seq == 3);
        CHECK(p[2].seq == 6);
        box.acknowledge_upto(20);
        THEN("the outbox is empty but the chain head survives a restart") {
          CHECK(box.stats().depth == 0);
          Outbox again(opts(dir / "outbox.db"));
          CHECK(again.head().seq == 20);
          CHECK(again.head().manifest_sha256 == made.back().manifest_sha256);
          auto next = test::append_next(again);
          CHECK(next.seq == 21);
          CHECK(next.prev_sha256 == made.back().manifest_sha256);
        }
      }
    }
  }
}

TEST_CASE("The outbox accepts only records that continue the chain") {
  test::TempDir dir("outbox");
  Outbox box(opts(dir / "o.db", true));
  auto r1 = test::append_next(box);
  auto wrong_seq = test::make_record(3, r1.manifest_sha256, RecordKind::pass);
  CHECK_THROWS_AS(box.append(wrong_seq), ChainError);
  auto wrong_prev = test::make_record(2, std::string(64, '0'), RecordKind::pass);
  CHECK_THROWS_WITH(box.append(wrong_prev), Catch::Contains("prev_sha256"));
  auto dup = test::make_record(1, "", RecordKind::pass);
  CHECK_THROWS_AS(box.append(dup), ChainError);
  CHECK(box.head().seq == 1);
  CHECK(box.stats().depth == 1);
}

TEST_CASE("A missing outbox is not silently replaced by a new chain") {
  test::TempDir dir("outbox");
  CHECK_THROWS_WITH(Outbox(opts(dir / "gone.db")),
                    Catch::Contains("refusing to start a new chain"));
  CHECK_THROWS_AS(Outbox(opts(dir / "gone.db")), OutboxMissing);
  CHECK_FALSE(std::filesystem::exists(dir / "gone.db"));
}

TEST_CASE("An outbox of another station is refused, naming both ids") {
  test::TempDir dir("outbox");
  { Outbox box(opts(dir / "o.db", true)); }
  auto o = opts(dir / "o.db");
  o.station_id = "G018";
  CHECK_THROWS_WITH(Outbox(o), Catch::Contains("'G017'") && Catch::Contains("'G018'"));
}

SCENARIO("A damaged outbox is detected at start, reported, and what is readable is kept") {
  test::TempDir dir("outbox");
  const auto path = dir / "outbox.db";
  std::vector<OutboxRecord> made;
  {
    Outbox box(opts(path, true));
    for (int i = 0; i < 300; ++i) made.push_back(test::append_next(box));
  }  // the last connection closes: the WAL is checkpointed into the main file
  REQUIRE(std::filesystem::file_size(path) > 40 * 4096);
  GIVEN("a file whose middle pages were overwritten with garbage") {
    {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(20 * 4096);
      std::string junk(3 * 4096, '\xA5');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    THEN("opening it fails with OutboxCorrupt naming the file") {
      CHECK_THROWS_AS(Outbox(opts(path)), OutboxCorrupt);
      CHECK_THROWS_WITH(Outbox(opts(path)), Catch::Contains("outbox.db") &&
                                                Catch::Contains("damaged") &&
                                                Catch::Contains("refusing"));
      AND_THEN("salvage reports the problems and returns the intact records unchanged") {
        auto rep = Outbox::salvage(path);
        CHECK_FALSE(rep.problems.empty());
        REQUIRE(rep.head.has_value());
        CHECK(rep.head->seq == 300);
        CHECK(rep.records.size() > 100);
        CHECK(rep.records.size() < 300);
        for (const auto& r : rep.records) {
          REQUIRE(r.seq >= 1);
          REQUIRE(r.seq <= 300);
          CHECK(r.packet == made[r.seq - 1].packet);
        }
      }
    }
  }
  GIVEN("a file that is not a database at all") {
    {
      std::ofstream(path, std::ios::binary | std::ios::trunc)
          << "this is not sqlite, it is a log\n";
    }
    std::filesystem::remove(dir / "outbox.db-wal");
    THEN("it is reported as damaged, and no new chain is written over it") {
      CHECK_THROWS_AS(Outbox(opts(path, true)), OutboxCorrupt);
      CHECK(std::filesystem::file_size(path) == 32);
    }
  }
}

SCENARIO("A full disk stops new records loudly without damaging stored ones") {
  test::TempDir dir("outbox");
  const auto path = dir / "outbox.db";
  GIVEN("an outbox limited to 40 pages (an emulated full disk)") {
    { Outbox box(opts(path, true)); }
    auto o = opts(path);
    o.max_page_count = 40;
    std::vector<OutboxRecord> stored;
    std::string full_error;
    {
      Outbox box(o);
      WHEN("records are appended until the disk is full") {
        for (int i = 0; i < 2000 && full_error.empty(); ++i) {
          try {
            stored.push_back(test::append_next(box));
          } catch (const OutboxFull& e) {
            full_error = e.what();
          }
        }
        THEN("OutboxFull names the file and the record not stored") {
          REQUIRE_FALSE(full_error.empty());
          CHECK_THAT(full_error, Catch::Contains("outbox.db") && Catch::Contains("is full") &&
                                     Catch::Contains("seq " + std::to_string(stored.size() + 1)));
          CHECK(box.head().seq == stored.size());
          AND_THEN("after acknowledgments free space, appending works again") {
            box.acknowledge_upto(stored.size());
            stored.push_back(test::append_next(box));
            CHECK(box.head().seq == stored.size());
          }
        }
      }
    }
    if (!stored.empty()) {
      Outbox box(opts(path));  // passes quick_check and the head consistency check
      CHECK(box.head().seq == stored.size());
      auto p = box.pending(10000, 1ULL << 30);
      for (const auto& r : p) CHECK(r.packet == stored[r.seq - 1].packet);
    }
  }
}

SCENARIO("Under quota pressure plain passes are thinned first and violations never") {
  test::TempDir dir("outbox");
  auto o = opts(dir / "o.db", true);
  o.quota_bytes = 40000;
  Outbox box(o);
  for (int i = 0; i < 100; ++i) test::append_next(box);  // 14 violations of ~2 kB, passes, events
  const auto before = box.stats();
  REQUIRE(before.stored_bytes > o.quota_bytes);
  WHEN("the outbox thins to make room for 3000 bytes") {
    auto thinned = box.thin_to_quota(3000);
    const auto after = box.stats();
    THEN("only pass records went, oldest first, until the new record fits") {
      REQUIRE_FALSE(thinned.empty());
      for (const auto& t : thinned) CHECK(test::kind_of(t.seq) == RecordKind::pass);
      for (std::size_t i = 1; i < thinned.size(); ++i) CHECK(thinned[i].seq > thinned[i - 1].seq);
      CHECK(thinned.front().seq == 1);
      CHECK(after.violations == before.violations);
      CHECK(after.stored_bytes + 3000 <= o.quota_bytes);
      CHECK(after.thinned_unreported == thinned.size());
    }
    AND_WHEN("the thinning event record is appended") {
      const auto h = box.head();
      auto ev = test::make_record(h.seq + 1, h.manifest_sha256, RecordKind::event);
      box.append(ev, thinned.back().seq);
      THEN("the thinned records are reported and their hashes stay known") {
        CHECK(box.unreported_thinned().empty());
        CHECK(box.stats().thinned_total == thinned.size());
      }
    }
  }
  WHEN("only violations and events would be left to remove") {
    auto first = box.thin_to_quota(1 << 20);
    auto second = box.thin_to_quota(1 << 20);
    THEN(
        "every pass is thinned, nothing else, and the quota is exceeded rather than lose "
        "evidence") {
      CHECK(second.empty());
      auto p = box.pending(1000, 1ULL << 30);
      for (const auto& r : p) CHECK(r.kind != RecordKind::pass);
      CHECK(box.stats().violations == before.violations);
    }
  }
}

TEST_CASE("A record the collector reports as conflict is kept and no longer sent") {
  test::TempDir dir("outbox");
  Outbox box(opts(dir / "o.db", true));
  for (int i = 0; i < 3; ++i) test::append_next(box);
  box.mark_conflict(2, "different manifest stored");
  box.acknowledge({2});  // a stray ack must not remove conflict evidence
  auto p = box.pending(10, 1 << 20);
  REQUIRE(p.size() == 2);
  CHECK(p[0].seq == 1);
  CHECK(p[1].seq == 3);
  CHECK(box.stats().conflicts == 1);
  CHECK(box.stats().depth == 3);
}

SCENARIO("An outbox of schema 1 is migrated in place and keeps every record") {
  test::TempDir dir("outbox");
  const auto path = dir / "old.db";
  GIVEN("a schema-1 file: 3 records held, seq 4 thinned and unreported, head at seq 5") {
    std::vector<OutboxRecord> made;
    {
      sqlite::Db db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
      db.exec(R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE chain_head(id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL,
  manifest_sha256 TEXT NOT NULL);
CREATE TABLE records(seq INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('pass', 'violation', 'event')),
  manifest_sha256 TEXT NOT NULL, prev_sha256 TEXT NOT NULL, created_unix_us INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'conflict')), detail TEXT,
  size_bytes INTEGER NOT NULL, packet BLOB NOT NULL);
CREATE TABLE thinned(seq INTEGER PRIMARY KEY, manifest_sha256 TEXT NOT NULL,
  thinned_unix_us INTEGER NOT NULL, reported INTEGER NOT NULL DEFAULT 0);
INSERT INTO meta VALUES ('schema_version', '1'), ('station_id', 'G017');
)sql");
      std::string prev;
      for (std::uint64_t s = 1; s <= 5; ++s) {
        made.push_back(test::make_record(s, prev, RecordKind::pass));
        prev = made.back().manifest_sha256;
      }
      sqlite::Stmt ins(db,
                       "INSERT INTO records(seq, kind, manifest_sha256, prev_sha256, "
                       "created_unix_us, size_bytes, packet) VALUES (?,'pass',?,?,?,?,?)");
      for (std::size_t i : {1u, 2u, 4u}) {  // seqs 2, 3, 5 held; 1 acknowledged
        const auto& r = made[i];
        ins.bind(1, static_cast<std::int64_t>(r.seq))
            .bind(2, r.manifest_sha256)
            .bind(3, r.prev_sha256)
            .bind(4, r.created_unix_us)
            .bind(5, static_cast<std::int64_t>(r.packet.size()))
            .bind_blob(6, r.packet);
        ins.step();
        ins.reset();
      }
      sqlite::Stmt th(db,
                      "INSERT INTO thinned(seq, manifest_sha256, thinned_unix_us) VALUES (4,?,1)");
      th.bind(1, made[3].manifest_sha256).step();
      sqlite::Stmt h(db, "INSERT INTO chain_head VALUES (1, 5, ?)");
      h.bind(1, made[4].manifest_sha256).step();
    }
    WHEN("the current daemon opens it, appends, and opens it again") {
      Outbox box(opts(path));
      const auto head = box.head();
      const auto p = box.pending(100, 1ULL << 30);
      const auto t = box.unreported_thinned();
      auto next = test::make_record(6, made[4].manifest_sha256, RecordKind::pass);
      next.lane = 2;
      next.chain_time_unix_us = next.created_unix_us + 5;
      box.append(next);
      THEN("nothing is lost, the head's chain time comes from its record, the chain goes on") {
        CHECK(head.seq == 5);
        CHECK(head.time_unix_us == made[4].created_unix_us);
        REQUIRE(p.size() == 3);
        CHECK(p[0].packet == made[1].packet);
        CHECK(p[2].packet == made[4].packet);
        REQUIRE(t.size() == 1);
        CHECK(t[0].seq == 4);
        CHECK(t[0].manifest_sha256 == made[3].manifest_sha256);
        CHECK(t[0].lane == 0);  // not kept by schema 1: reported as unknown
        CHECK(box.head().time_unix_us == next.created_unix_us + 5);
        Outbox again(opts(dir / "old.db"));  // schema 2 now: opens as it is
        CHECK(again.head().seq == 6);
        CHECK(again.pending(100, 1ULL << 30).size() == 4);
      }
    }
  }
}
