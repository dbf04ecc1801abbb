// SPDX-License-Identifier: Apache-2.0
// The daemon's acquisition + weighing wiring (load_acquisition, StationWeigher) on a short
// `wim-sim record` recording: one sealed record per vehicle, in pass order, violations with
// their waveform, a chain that verifies.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "record.hpp"  // wim_sim
#include "station_test_util.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/json.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/recording.hpp"
#include "wim/edge/outbox_sealer.hpp"
#include "wim/edge/station_weigher.hpp"
#include "wim/edge/weigh/software_id.hpp"

using namespace wim;

namespace {

std::vector<boost::json::object> read_truth(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<boost::json::object> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(boost::json::parse(line).as_object());
  return out;
}

}  // namespace

SCENARIO("wim-edge run weighs a replayed recording into a verified chain of records") {
  GIVEN("a 10-vehicle simulated recording, a third of the goods vehicles overloaded") {
    test::TempDir dir("weigher");
    sim::SimOptions so;
    so.seed = 11;
    so.site.station_id = "G017";
    so.traffic.overload_share = 0.4;
    so.traffic.speed_sd_kmh = 4;
    so.traffic.accel_max_mps2 = 0.05;
    const auto rr = sim::record(so, 10, dir.path());
    REQUIRE(rr.vehicles == 10);
    const auto truth = read_truth(dir / "truth.jsonl");
    REQUIRE(truth.size() == 10);

    // station.json as the simulator wrote it, plus the acquisition section.
    auto station = json::load_file(dir / "station.json").as_object();
    station["acquisition"] = {{"source", "replay"}, {"recording", "rec.csv"}, {"loop", false}};
    station["calibration"] = {{"id", "SIM-CAL-1"}};
    {
      std::ofstream out(dir / "station.json");
      out << boost::json::serialize(station);
    }

    WHEN("the daemon's weigher runs it through the outbox") {
      auto acq = edge::load_acquisition(dir / "station.json");
      REQUIRE(acq);
      CHECK_FALSE(acq->options.live_clock);
      const auto key = crypto::SigningKey::generate();
      edge::Outbox outbox(test::new_chain_outbox(dir / "outbox.db", "G017"));
      edge::OutboxSealer sealer(outbox, "G017", key, std::string(64, 'a'));
      edge::StationWeigher weigher(acq->station, *acq->source, sealer, acq->options);
      weigher.run();

      std::vector<packet::Packet> packets;
      for (auto& r : outbox.pending(100000, 1ULL << 40)) {
        auto ps = packet::from_tar(r.packet);
        REQUIRE(ps.size() == 1);
        packets.push_back(std::move(ps[0]));
      }

      THEN("there is one record per vehicle, in pass order, at started_utc + t_us") {
        std::vector<record::Manifest> vehicles;
        for (const auto& p : packets) {
          auto m = p.manifest();
          if (m.kind != record::Kind::event) vehicles.push_back(std::move(m));
        }
        REQUIRE(vehicles.size() == truth.size());
        CHECK(weigher.stats().vehicles == truth.size());
        for (std::size_t i = 0; i < vehicles.size(); ++i) {
          const auto& m = vehicles[i];
          INFO("vehicle " << i);
          const std::int64_t truth_us = so.started_unix_us + truth[i].at("t_us").as_int64();
          CHECK(std::abs(m.time_unix_us - truth_us) < 50000);  // [us] first axle, row 1
          CHECK(m.clock_sync == time::ClockSync::unknown);
          CHECK(m.software_sha256 == legal::software_sha256());
          CHECK(m.calibration_id == "SIM-CAL-1");
          REQUIRE(m.measurement);
          CHECK(m.measurement->axle_loads_kg.size() ==
                truth[i].at("axle_count").to_number<std::size_t>());
          if (i > 0) CHECK(m.time_unix_us > vehicles[i - 1].time_unix_us);
        }
      }
      THEN("violations carry the pass's waveform, passes carry no plate and no attachment") {
        int violations = 0, passes = 0;
        for (const auto& p : packets) {
          const auto m = p.manifest();
          if (m.kind == record::Kind::pass) {
            ++passes;
            CHECK_FALSE(m.measurement->plate);
            CHECK(m.attachments.empty());
          } else if (m.kind == record::Kind::violation) {
            ++violations;
            REQUIRE(m.legal);
            CHECK(m.legal->verdict == "overload");
            CHECK(m.measurement->gross_kg > m.legal->limit_kg);
            CHECK(m.measurement->fit_for_enforcement);
            REQUIRE(m.attachments.size() == 1);
            CHECK(m.attachments[0].name == "waveform.csv");
            const std::string& csv = p.attachments.at("waveform.csv");
            CHECK(m.attachments[0].sha256 == crypto::sha256_hex(csv));
            std::istringstream in(csv);
            recording::Reader reader(in, "waveform.csv");
            CHECK(reader.header().channels.size() == rr.channels);
            recording::Block b;
            REQUIRE(reader.read_block(b, 1u << 20) > 0);
            // The window covers the pass: it starts before the first axle, lasts > 1 s.
            const auto first_utc = *reader.header().started_unix_us + b.t_us.front();
            CHECK(first_utc < m.time_unix_us);
            CHECK(b.t_us.back() - b.t_us.front() > 1000000);
          }
        }
        std::size_t truth_over = 0;
        for (const auto& t : truth) truth_over += t.at("overloaded").as_bool();
        CHECK(truth_over > 0);
        CHECK(violations > 0);
        CHECK(passes > 0);
        CHECK(weigher.stats().violations == static_cast<std::uint64_t>(violations));
      }
      THEN("the chain verifies with the station key") {
        chain::KeyRegistry keys;
        keys.add("G017", key.public_key());
        chain::ChainSummary summary;
        const auto findings = chain::verify_chain(packets, keys, true, &summary);
        for (const auto& f : findings)
          UNSCOPED_INFO("seq " << f.seq << ": " << chain::to_string(f.problem) << ": " << f.detail
                               << "\n"
                               << packets.at(f.seq - 1).manifest_json);
        CHECK(findings.empty());
        CHECK(summary.records == packets.size());
      }
    }
  }
}

SCENARIO("station.json without an acquisition section weighs nothing, a bad one is refused") {
  test::TempDir dir("weigher-cfg");
  sim::SimOptions so;
  sim::record(so, 1, dir.path());
  CHECK_FALSE(edge::load_acquisition(dir / "station.json"));
  auto station = json::load_file(dir / "station.json").as_object();
  auto write = [&] {
    std::ofstream out(dir / "station.json");
    out << boost::json::serialize(station);
  };
  // No calibration id: records could not name the calibration in force.
  station["acquisition"] = {{"source", "replay"}, {"recording", "rec.csv"}};
  write();
  CHECK_THROWS_WITH(edge::load_acquisition(dir / "station.json"),
                    Catch::Contains("calibration.id"));
  station["calibration"] = {{"id", "SIM-CAL-1"}};
  station["acquisition"] = {{"source", "replay"}, {"recording", "missing.csv"}};
  write();
  CHECK_THROWS_AS(edge::load_acquisition(dir / "station.json"), InputError);
  station["acquisition"] = {{"source", "replay"}, {"recording", "rec.csv"}};
  write();
  CHECK(edge::load_acquisition(dir / "station.json"));
}

TEST_CASE("A pass measured with a negative speed or load on faulty sensors is recorded, not fit") {
  // Seen in the soak: a stuck and a dead channel made the pipeline measure a negative speed;
  // the record was refused by contract 4 and the weighing thread stopped for good.
  weigh::WeighedVehicle v;
  v.lane = 1;
  v.speed_kmh = -12.5;
  v.valid = true;  // whatever the pipeline said: a negative value is never enforceable
  v.legal.overloaded = true;
  v.legal.limit_kg = 18000;
  weigh::WeighedAxle a1, a2;
  a1.left_kg = 3000;
  a1.right_kg = 3100;
  a1.load_kg = 6100;
  a2.left_kg = -40;
  a2.right_kg = 5000;
  a2.load_kg = 4960;
  v.axles = {a1, a2};
  v.axle_spacings_m = {4.2};
  const auto m = edge::vehicle_manifest(v, 1795766400000000, {}, "CAL-1");
  CHECK(m.kind == record::Kind::pass);
  CHECK_FALSE(m.legal);
  REQUIRE(m.measurement);
  const auto& x = *m.measurement;
  CHECK(x.speed_kmh == 0);
  CHECK(x.axles[1].left_wheel_kg == 0);
  CHECK(x.axles[1].right_wheel_kg == 5000);
  CHECK_FALSE(x.fit_for_enforcement);
  REQUIRE(x.invalid_reasons.size() == 2);
  CHECK_THAT(x.invalid_reasons[0], Catch::Contains("speed_kmh measured as -12.5"));
  CHECK_THAT(x.invalid_reasons[1], Catch::Contains("axles[1].left_kg measured as -40"));
  // It can be signed (contract 4 validation passes) and reads back the same.
  const auto key = crypto::SigningKey::generate();
  chain::ChainWriter w("G017", key, 0, "");
  auto mm = m;
  mm.station_id = "G017";
  mm.software_sha256 = std::string(legal::software_sha256());
  const auto p = w.append(mm, {});
  CHECK_FALSE(p.manifest().measurement->fit_for_enforcement);
  CHECK(p.manifest().measurement->speed_kmh == 0);
}
