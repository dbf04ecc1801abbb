// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "wim/common/json.hpp"
#include "wim/edge/heartbeat.hpp"

using namespace wim;
using namespace wim::edge;

TEST_CASE("A heartbeat carries the station's health with the fields of docs/uplink.md") {
  Health h;
  h.station_id = "G017";
  h.software_sha256 = std::string(64, 'a');
  h.now_unix_us = time::parse_utc("2026-11-27T08:00:00Z");
  h.uptime_s = 3600;
  h.clock = {time::ClockSync::synced, 12.5, -0.25};
  h.outbox.depth = 42;
  h.outbox.oldest_unsent_unix_us = h.now_unix_us - 90 * 1000000LL;
  h.disk = disk_usage(".");
  h.channels.push_back({"L1R1L", "fault", 7, 120});
  h.faults.push_back("L1R1L: no samples for 2 s");
  auto v = json::parse(heartbeat_json(h), "heartbeat");
  const auto& o = v.as_object();
  CHECK(o.at("station_id").as_string() == "G017");
  CHECK(o.at("sent_utc").as_string() == "2026-11-27T08:00:00.000Z");
  CHECK(o.at("clock").at("sync").as_string() == "synced");
  CHECK(o.at("clock").at("offset_ms").as_double() == -0.25);
  CHECK(o.at("clock").at("max_error_ms").as_double() == 12.5);
  CHECK(o.at("uptime_s").as_int64() == 3600);
  CHECK(o.at("outbox").at("depth").to_number<std::uint64_t>() == 42);
  CHECK(o.at("outbox").at("oldest_unsent_age_s").as_int64() == 90);
  CHECK(o.at("disk").at("free_bytes").to_number<std::uint64_t>() > 0);
  CHECK(o.at("channels").at(0).at("lost_samples").to_number<std::uint64_t>() == 120);
  CHECK(o.at("channels").at(0).at("state").as_string() == "fault");
  CHECK(o.at("faults").at(0).as_string() == "L1R1L: no samples for 2 s");
  CHECK(o.at("software_sha256").as_string().size() == 64);
}

TEST_CASE("The software identity is the SHA-256 of the running program") {
  auto id = software_sha256();
  CHECK(id.size() == 64);
  CHECK(id == software_sha256());
}
