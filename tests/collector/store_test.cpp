// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/store.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "test_util.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"

using namespace wim::collector;
using wim::collector::test::temp_dir;

namespace {
StoredRecord rec(const std::string& station, std::int64_t seq, const std::string& body) {
  StoredRecord r;
  r.station_id = station;
  r.seq = seq;
  r.manifest = "{\"seq\":" + std::to_string(seq) + ",\"b\":\"" + body + "\"}";
  r.manifest_sha256 = wim::crypto::sha256_hex(r.manifest);
  r.signature = std::string(64, 's');
  r.kind = "pass";
  r.verdict = "ok";
  r.clock_sync = "synced";
  r.lane = 1;
  r.time_unix_us = 1'000'000 * seq;
  r.attachments.push_back({"plate.jpg", std::string(64, '0'), 10});
  return r;
}
}  // namespace

TEST_CASE("store: stored, duplicate, conflict, gaps derived and kept across reopen") {
  auto dir = temp_dir("store");
  {
    auto store = open_sqlite_store(dir / "meta.db");
    auto out = store->put_records({rec("G001", 1, "a"), rec("G001", 2, "a"), rec("G001", 5, "a"),
                                   rec("G001", 2, "a"), rec("G001", 1, "other")});
    CHECK(out == std::vector<PutOutcome>{PutOutcome::stored, PutOutcome::stored, PutOutcome::stored,
                                         PutOutcome::duplicate, PutOutcome::conflict});
    auto c = store->chain("G001");
    CHECK(c.acked_seq == 2);
    CHECK(c.highest_seq == 5);
    CHECK(c.missing == SeqRanges{{3, 4}});
    CHECK(c.conflict_count == 1);
    REQUIRE(store->conflicts("G001").size() == 1);
    CHECK(store->conflicts("G001")[0].incoming_sha256 == rec("G001", 1, "other").manifest_sha256);
    CHECK(store->chain("G002").highest_seq == 0);
  }
  GIVEN("the store reopened") {
    auto store = open_sqlite_store(dir / "meta.db");
    THEN("the chain state is derived again from the records") {
      auto c = store->chain("G001");
      CHECK(c.acked_seq == 2);
      CHECK(c.missing == SeqRanges{{3, 4}});
      CHECK(c.record_count == 3);
      CHECK(c.conflict_count == 1);
      auto r = store->get_record("G001", 5);
      REQUIRE(r);
      CHECK(r->manifest == rec("G001", 5, "a").manifest);
      REQUIRE(r->attachments.size() == 1);
      CHECK(r->attachments[0].name == "plate.jpg");
    }
    WHEN("the gap is filled") {
      store->put_records({rec("G001", 4, "a"), rec("G001", 3, "a")});
      THEN("acked_seq reaches the top and no gap remains") {
        auto c = store->chain("G001");
        CHECK(c.acked_seq == 5);
        CHECK(c.missing.empty());
        CHECK(store->records_between("G001", 2'000'000, 4'000'001).size() == 3);
      }
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("blob store: content-addressed, checked, idempotent") {
  auto dir = temp_dir("blobs");
  FileBlobStore blobs(dir);
  const std::string data = "jpeg bytes";
  const auto sha = wim::crypto::sha256_hex(data);
  blobs.put(sha, data);
  blobs.put(sha, data);
  CHECK(blobs.contains(sha));
  CHECK(*blobs.get(sha) == data);
  CHECK(blobs.path_of(sha).string().find(sha.substr(0, 2) + "/" + sha.substr(2, 2)) !=
        std::string::npos);
  CHECK_THROWS_WITH(blobs.put(sha, "forged"), Catch::Contains("does not match"));
  CHECK_FALSE(blobs.get(std::string(64, 'e')));
  CHECK_THROWS_AS(blobs.get("../../etc/passwd"), wim::InputError);
  std::filesystem::remove_all(dir);
}

TEST_CASE("store: concurrent put_records share commits (group commit) and all are durable") {
  auto dir = wim::collector::test::temp_dir("group");
  const int threads = 8, per_thread = 20;
  {
    auto store = open_sqlite_store(dir / "meta.db");
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        for (int i = 1; i <= per_thread; ++i) {
          StoredRecord r;
          r.station_id = "T" + std::to_string(t);
          r.seq = i;
          r.manifest_sha256 = wim::crypto::sha256_hex(r.station_id + std::to_string(i));
          r.kind = "pass";
          r.manifest = "{}";
          r.signature = std::string(64, 's');
          auto out = store->put_records({r});
          REQUIRE(out.size() == 1);
          CHECK(out[0] == PutOutcome::stored);
        }
      });
    for (auto& th : ts) th.join();
    const auto c = store->counters();
    CHECK(c.put_calls == threads * per_thread);
    CHECK(c.commits >= 1);
    CHECK(c.commits <= c.put_calls);
  }
  auto reopened = open_sqlite_store(dir / "meta.db");
  for (int t = 0; t < threads; ++t) {
    auto ch = reopened->chain("T" + std::to_string(t));
    CHECK(ch.acked_seq == per_thread);
    CHECK(ch.missing.empty());
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("blobs: put_many stores every blob durably, per file or with two group syncs") {
  auto dir = wim::collector::test::temp_dir("blobs-many");
  const bool per_file = GENERATE(true, false);
  FileBlobStore blobs(dir, per_file ? BlobSync::per_file : BlobSync::syncfs);
  std::vector<std::string> data{"alpha", "beta", "gamma", "alpha"};
  std::vector<std::pair<std::string, std::string_view>> in;
  for (const auto& d : data) in.emplace_back(wim::crypto::sha256_hex(d), d);
  blobs.put_many(in);
  for (const auto& d : data) CHECK(blobs.get(wim::crypto::sha256_hex(d)) == d);
  // per file: 3 file fsyncs + every folder created or written (<aa>/<bb>, <aa>, the root)
  std::set<std::filesystem::path> folders{dir};
  for (const auto& d : data) {
    auto p = blobs.path_of(wim::crypto::sha256_hex(d));
    folders.insert(p.parent_path());
    folders.insert(p.parent_path().parent_path());
  }
  CHECK(blobs.syncs() == (per_file ? 3 + folders.size() : 2));
  // Again: nothing new to write, but the names are made durable once more (another
  // caller may have renamed them and not synced yet): per file the 3 <aa>/<bb> folders.
  const auto before = blobs.syncs();
  blobs.put_many(in, HashCheck::trusted);
  CHECK(blobs.syncs() - before == (per_file ? 3u : 1u));
  // A wrong hash names the blob and stores nothing of the request.
  std::string bad = "delta";
  CHECK_THROWS_WITH(blobs.put_many(std::vector<std::pair<std::string, std::string_view>>{
                        {wim::crypto::sha256_hex("x"), "y"}, {wim::crypto::sha256_hex(bad), bad}}),
                    Catch::Contains("does not match"));
  CHECK_FALSE(blobs.contains(wim::crypto::sha256_hex(bad)));
  // No temporary file is left behind.
  std::size_t tmp = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    tmp += e.path().filename().string().find(".tmp.") != std::string::npos;
  CHECK(tmp == 0);
  std::filesystem::remove_all(dir);
}
