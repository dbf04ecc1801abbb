// SPDX-License-Identifier: Apache-2.0
#include <boost/beast/_experimental/test/stream.hpp>
#include <catch2/catch.hpp>
#include <cstdio>

#include "memory_collector.hpp"
#include "station_test_util.hpp"
#include "wim/edge/batch_tar.hpp"
#include "wim/edge/uplink.hpp"

using namespace wim;
using namespace wim::edge;
namespace net = boost::asio;
namespace btest = boost::beast::test;

namespace {

/// A record whose packet is a tar "G017-<seq>/manifest.json + manifest.sig" (the signed
/// bytes stand in for a real manifest; the outbox and uplink treat packets as opaque).
OutboxRecord tar_record(std::uint64_t seq, const std::string& prev) {
  auto r = test::make_record(seq, prev, test::kind_of(seq));
  char dir[32];
  std::snprintf(dir, sizeof dir, "G017-%010llu", static_cast<unsigned long long>(seq));
  const std::string manifest = r.packet;
  r.packet = write_tar({{std::string(dir) + "/manifest.json", manifest},
                        {std::string(dir) + "/manifest.sig", std::string(64, 's')}});
  r.manifest_sha256 = crypto::sha256_hex(manifest);
  return r;
}

std::vector<OutboxRecord> fill(Outbox& box, int n) {
  std::vector<OutboxRecord> made;
  for (int i = 0; i < n; ++i) {
    auto h = box.head();
    made.push_back(tar_record(h.seq + 1, h.manifest_sha256));
    box.append(made.back());
  }
  return made;
}

std::string manifest_of(const OutboxRecord& r) {
  return read_tar(r.packet).at(0).data;
}

OutboxOptions opts(const std::filesystem::path& p) {
  OutboxOptions o;
  o.path = p;
  o.station_id = "G017";
  o.create_new_chain = true;
  return o;
}

UplinkConfig config() {
  UplinkConfig c;
  c.station_id = "G017";
  c.batch_max_records = 4;
  c.op_timeout = std::chrono::milliseconds(2000);
  return c;
}

/// One uplink connection to the memory collector; `client_fc`/`peer_fc` inject failures.
/// Returns true when the drain completed, false when it failed with UplinkError.
bool attempt(Outbox& box, test::MemoryCollector& collector, btest::fail_count* client_fc,
             btest::fail_count* peer_fc, std::string* error = nullptr) {
  net::io_context ioc;
  auto client = client_fc ? btest::stream(ioc, *client_fc) : btest::stream(ioc);
  auto server = peer_fc ? btest::stream(ioc, *peer_fc) : btest::stream(ioc);
  client.connect(server);
  auto peer = std::make_shared<test::MemoryPeer>(std::move(server), collector);
  peer->start();
  bool ok = true;
  const UplinkConfig cfg = config();
  try {
    UplinkSession<btest::stream> session(ioc, client, cfg);
    drain_outbox(session, box, cfg);
  } catch (const UplinkError& e) {
    ok = false;
    if (error) *error = e.what();
  }
  client.close();
  ioc.restart();
  ioc.run();
  return ok;
}

/// Nothing acknowledged that the peer did not store, nothing changed, nothing lost.
void check_accounted(Outbox& box, const test::MemoryCollector& collector,
                     const std::vector<OutboxRecord>& made) {
  std::map<std::uint64_t, std::string> pending;
  for (auto& r : box.pending(10000, 1ULL << 30)) pending[r.seq] = r.packet;
  for (const auto& r : made) {
    INFO("seq " << r.seq);
    auto s = collector.stored.find(r.seq);
    if (!pending.count(r.seq)) REQUIRE(s != collector.stored.end());
    if (s != collector.stored.end()) REQUIRE(s->second == manifest_of(r));
  }
}

}  // namespace

TEST_CASE("Backoff grows exponentially with jitter and is capped") {
  Backoff b(std::chrono::milliseconds(100), std::chrono::milliseconds(5000), 42);
  std::vector<long> d;
  for (int i = 0; i < 12; ++i) d.push_back(b.next().count());
  for (int i = 0; i < 12; ++i) {
    const long full = std::min(5000L, 100L << i);
    CHECK(d[i] >= full / 2);
    CHECK(d[i] <= full);
  }
  CHECK(d[11] >= 2500);
  b.reset();
  CHECK(b.next().count() <= 100);
  Backoff a(std::chrono::milliseconds(1000), std::chrono::milliseconds(60000), 1);
  Backoff c(std::chrono::milliseconds(1000), std::chrono::milliseconds(60000), 2);
  bool differ = false;
  for (int i = 0; i < 8; ++i) differ = differ || a.next() != c.next();
  CHECK(differ);  // two stations do not retry in lockstep
}

TEST_CASE("Collector answers are parsed strictly, errors name the field") {
  auto r = parse_records_reply(
      R"({"station_id":"G017","results":[{"seq":3,"status":"stored"},{"seq":4,"status":"conflict","problem":"fork","detail":"x"}],"acked_seq":3,"missing":[]})",
      "G017");
  REQUIRE(r.results.size() == 2);
  CHECK(r.results[1].status == "conflict");
  CHECK(r.results[1].detail == "x");
  CHECK(r.results[1].problem == "fork");
  CHECK(r.results[0].problem.empty());
  CHECK(r.acked_seq == 3);
  CHECK_THROWS_WITH(
      parse_records_reply(R"({"station_id":"G018","results":[],"acked_seq":1})", "G017"),
      Catch::Contains("G018"));
  CHECK_THROWS_WITH(
      parse_records_reply(
          R"({"station_id":"G017","results":[{"seq":1,"status":"ok"}],"acked_seq":1})", "G017"),
      Catch::Contains("results[0].status"));
  CHECK_THROWS_WITH(parse_ack_reply(R"({"station_id":"G017"})", "G017"),
                    Catch::Contains("acked_seq"));
  CHECK_THROWS_AS(parse_ack_reply("not json", "G017"), UplinkError);
  auto a = parse_ack_reply(
      R"({"station_id":"G017","acked_seq":5,"highest_seq":9,"missing":[[6,7]]})", "G017");
  CHECK(a.acked_seq == 5);
  REQUIRE(a.missing.size() == 1);
  CHECK(a.missing[0].second == 7);
}

SCENARIO("The uplink drains the outbox in seq order and resumes from the collector's ack") {
  test::TempDir dir("uplink");
  Outbox box(opts(dir / "o.db"));
  auto made = fill(box, 10);
  test::MemoryCollector collector;
  GIVEN("a collector that already stored seq 1..3 (the station restarted before the answer)") {
    collector.stored[1] = manifest_of(made[0]);
    collector.stored[2] = manifest_of(made[1]);
    collector.stored[3] = manifest_of(made[2]);
    WHEN("the uplink connects") {
      REQUIRE(attempt(box, collector, nullptr, nullptr));
      THEN("everything is stored once, with its content, and the outbox is empty") {
        CHECK(box.stats().depth == 0);
        CHECK(collector.stored.size() == 10);
        CHECK(collector.acked_seq() == 10);
        check_accounted(box, collector, made);
      }
    }
  }
  GIVEN("a collector holding other content under seq 5") {
    collector.stored[5] = "{\"forged\":true}";
    WHEN("the uplink drains") {
      REQUIRE(attempt(box, collector, nullptr, nullptr));
      THEN("seq 5 stays in the outbox as a conflict, everything else is acknowledged") {
        auto s = box.stats();
        CHECK(s.depth == 1);
        CHECK(s.conflicts == 1);
        CHECK(collector.stored[5] == "{\"forged\":true}");
        CHECK(collector.stored.size() == 10);
      }
    }
  }
}

SCENARIO("An uplink failing at every possible operation loses nothing") {
  for (bool peer_side : {false, true}) {
    std::size_t failure_points = 0;
    for (std::size_t n = 0; n < 500; ++n) {
      test::TempDir dir("uplinkfail");
      Outbox box(opts(dir / "o.db"));
      auto made = fill(box, 10);
      test::MemoryCollector collector;
      collector.stored[1] = manifest_of(made[0]);
      btest::fail_count fc(n);
      INFO((peer_side ? "collector" : "station") << " stream fails at operation " << n);
      std::string err;
      const bool ok = peer_side ? attempt(box, collector, nullptr, &fc, &err)
                                : attempt(box, collector, &fc, nullptr, &err);
      // WHEN the connection broke at operation n THEN nothing removed was unstored.
      check_accounted(box, collector, made);
      if (ok) break;
      ++failure_points;
      CHECK_THAT(err, Catch::Contains("uplink:"));
      // AND a later connection (the retry) drains everything, each record stored once.
      REQUIRE(attempt(box, collector, nullptr, nullptr));
      CHECK(box.stats().depth == 0);
      CHECK(collector.stored.size() == 10);
      check_accounted(box, collector, made);
    }
    CHECK(failure_points >= 8);  // ack GET, 3 batches, each write and read
    WARN((peer_side ? "collector" : "station")
         << " side: " << failure_points << " failure points exercised");
  }
}

SCENARIO("A batch the collector refuses whole (400 broken_tar) is not resent forever") {
  test::TempDir dir("uplinkbad");
  Outbox box(opts(dir / "o.db"));
  auto made = fill(box, 10);
  test::MemoryCollector collector;
  GIVEN("a collector that cannot read the tar of seq 6 (every batch holding it gets 400)") {
    collector.unreadable = {6};
    WHEN("the uplink drains in batches of 4") {
      std::string err;
      const bool ok = attempt(box, collector, nullptr, nullptr, &err);
      INFO(err);
      THEN("the batches are split until seq 6 alone is refused; it is kept as rejected") {
        REQUIRE(ok);
        CHECK(collector.stored.size() == 9);
        CHECK_FALSE(collector.stored.count(6));
        const auto s = box.stats();
        CHECK(s.depth == 1);      // seq 6 stays in the outbox
        CHECK(s.conflicts == 1);  // flagged for an operator, counted in health/heartbeat
        CHECK(box.pending(100, 1ULL << 30).empty());  // and no longer sent
        // 5..8 refused, 5..6 refused, 5 stored, 6 refused alone, then 7.. go on: a few
        // refusals, not one per retry forever.
        CHECK(collector.refused >= 3);
        CHECK(collector.refused <= 5);
        for (const auto& r : made)
          if (r.seq != 6) CHECK(collector.stored.at(r.seq) == manifest_of(r));
      }
      AND_WHEN("the uplink connects again") {
        const auto refused_before = collector.refused;
        REQUIRE(attempt(box, collector, nullptr, nullptr));
        THEN("the rejected record is not resent") {
          CHECK(collector.refused == refused_before);
        }
      }
    }
  }
}

TEST_CASE("A batch tar holds the packets' entries in seq order") {
  std::vector<OutboxRecord> rs{tar_record(1, ""), tar_record(2, "x")};
  auto entries = read_tar(make_batch(rs));
  REQUIRE(entries.size() == 4);
  CHECK(entries[0].name == "G017-0000000001/manifest.json");
  CHECK(entries[3].name == "G017-0000000002/manifest.sig");
  CHECK(entries[3].data == std::string(64, 's'));
  CHECK_THROWS_AS(read_tar("garbage that is not a tar archive at all"), InputError);
}
