// SPDX-License-Identifier: Apache-2.0
// End-to-end: the station's outbox, sealer and UplinkClient against the REAL collector
// (wim_collector in this process, mutual TLS with a PKI from scripts/make-ca.sh).
#include <catch2/catch.hpp>
#include <thread>

#include "../common/record_samples.hpp"
#include "e2e_records.hpp"
#include "local_collector.hpp"
#include "station_test_util.hpp"
#include "wim/edge/heartbeat.hpp"
#include "wim/edge/outbox_sealer.hpp"
#include "wim/edge/uplink_client.hpp"

using namespace wim;
using namespace wim::edge;

namespace {

/// Waits up to 30 s for `pred` (another thread makes it true).
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 3000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

using test::describe;
using test::seal;

}  // namespace

SCENARIO("The backlog drains in order to the real collector across a collector outage") {
  test::TempDir dir("e2e");
  test::make_pki(dir / "pki", "G017");
  std::filesystem::create_directories(dir / "coll");
  const auto key = crypto::SigningKey::generate();

  OutboxOptions oo;
  oo.path = dir / "outbox.db";
  oo.station_id = "G017";
  oo.create_new_chain = true;
  Outbox box(oo);
  OutboxSealer sealer(box, "G017", key, test::kSoftwareSha);
  std::int64_t t_us = time::now_unix_us();  // after the start event's own time

  auto collector =
      std::make_unique<test::LocalCollector>(dir / "pki", dir / "coll", "G017", key.public_key());
  const std::uint16_t port = collector->port();
  auto cfg = test::uplink_config(dir / "pki", "G017", port);
  cfg.batch_max_records = 7;  // several batches per drain
  cfg.backoff_initial = std::chrono::milliseconds(20);
  cfg.backoff_max = std::chrono::milliseconds(200);
  cfg.heartbeat_period = std::chrono::milliseconds(100);
  UplinkClient client(cfg, box, [&box] {
    Health h;
    h.station_id = "G017";
    h.software_sha256 = test::kSoftwareSha;
    h.now_unix_us = time::now_unix_us();
    h.clock = time::query_clock();
    h.outbox = box.stats();
    h.channels = {{"L1", "ok", 0, 0}};
    return heartbeat_json(h);
  });
  std::thread uplink([&] { client.run(); });

  GIVEN("a station that sealed 30 records while the collector is up") {
    sealer.commit_event("station_start", {{"reason", "e2e test"}});
    seal(sealer, 29, t_us);
    client.notify();
    THEN("they drain in order and the outbox empties") {
      REQUIRE(eventually([&] { return box.stats().depth == 0; }));
      const auto ch = collector->store().chain("G017");
      CHECK(ch.acked_seq == 30);
      CHECK(ch.missing.empty());
      CHECK(client.status().last_error.empty());

      WHEN("the collector is down for a stretch while 45 more records are sealed") {
        collector->stop();
        collector.reset();
        seal(sealer, 20, t_us);
        client.notify();
        REQUIRE(eventually([&] { return client.status().consecutive_failures >= 3; }));
        seal(sealer, 25, t_us);
        CHECK(box.stats().depth == 45);
        CHECK(client.status().state == "backoff");

        AND_WHEN("it comes back on the same port with the same data") {
          collector = std::make_unique<test::LocalCollector>(dir / "pki", dir / "coll", "G017",
                                                             key.public_key(), port);
          THEN("the backlog drains in order, nothing lost or doubled, the chain verifies") {
            REQUIRE(eventually([&] { return box.stats().depth == 0; }));
            const auto c2 = collector->store().chain("G017");
            CHECK(c2.acked_seq == 75);
            CHECK(c2.highest_seq == 75);
            CHECK(c2.missing.empty());
            CHECK(c2.record_count == 75);
            CHECK(c2.conflict_count == 0);
            CHECK(collector->store().conflicts("G017").empty());
            CHECK(collector->counters().rejected.load() == 0);
            CHECK(collector->counters().conflict.load() == 0);
            CHECK(box.stats().conflicts == 0);

            // In order: the collector stored each seq no earlier than the one before.
            std::int64_t prev_received_us = 0;
            for (std::int64_t s = 1; s <= 75; ++s) {
              auto r = collector->store().get_record("G017", s);
              REQUIRE(r);
              CHECK(r->received_unix_us >= prev_received_us);
              prev_received_us = r->received_unix_us;
            }

            auto packets = collector->stored_packets("G017");
            REQUIRE(packets.size() == 75);
            CHECK(packets[4].attachments.count("plate.jpg") == 1);
            chain::KeyRegistry keys;
            keys.add("G017", key.public_key());
            chain::ChainSummary summary;
            auto findings = chain::verify_chain(std::move(packets), keys, true, &summary);
            INFO(describe(findings));
            CHECK(findings.empty());
            CHECK(summary.records == 75);
            CHECK(summary.first_seq == 1);
            CHECK(summary.last_seq == 75);
            // The collector's own heartbeat answer was accepted (no request-level error).
            CHECK(eventually([&] { return client.status().last_error.empty(); }));
          }
        }
      }
    }
  }
  client.stop();
  uplink.join();
}
