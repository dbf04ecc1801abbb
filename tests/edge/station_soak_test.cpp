// SPDX-License-Identifier: Apache-2.0
// The station soak: edge::Station on the in-process simulated roadside in compressed time,
// uplinked to the REAL collector (mutual TLS), with injected faults: a stuck and a dead
// channel, lost samples, the collector down for a stretch, the wall clock stepping back,
// outbox quota pressure (thinning). Afterwards every record is accounted for:
//  - every record the station sealed is at the collector, or was thinned and is named by a
//    thinning event (seq and manifest SHA-256);
//  - verify_chain over the collector's stored chain finds nothing but the gaps of those
//    thinned seqs;
//  - every vehicle of the simulator's truth has a record, or is explained (a thinned pass);
//  - every injected fault shows as an event record.
// Default: 120 simulated seconds at 60x (a few wall seconds). WIM_SOAK_S=3600 runs the
// hour (WIM_SOAK_SCALE sets the time compression, default 60).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <mutex>
#include <set>

#include "local_collector.hpp"
#include "station_fixture.hpp"
#include "wim/common/chain.hpp"

using namespace wim;

namespace {

double env_or(const char* name, double dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::atof(v) : dflt;
}

}  // namespace

SCENARIO("A station soak with injected faults accounts for every record and every vehicle") {
  const double soak_s = env_or("WIM_SOAK_S", 120);    // [s] simulated
  const double scale = env_or("WIM_SOAK_SCALE", 60);  // [-] simulated s per wall s
  const auto wall0 = std::chrono::steady_clock::now();
  const std::int64_t start = time::now_unix_us() / 1000 * 1000;

  // The simulated roadside's clock leads the station's by 30 s: the station_start record
  // (station clock) comes before the first sample however long the start takes.
  auto acq = test::sim_acquisition(21, 1200, scale, start + 30'000'000);
  acq["drop_prob"] = 0.0002;    // lost samples
  acq["overload_share"] = 0.5;  // violations (with their waveforms) fill the quota
  acq["faults"] =
      boost::json::array{{{"kind", "stuck"}, {"channel", "L1R2L"}, {"start_s", 0.25 * soak_s}},
                         {{"kind", "dead"}, {"channel", "L1R1R"}, {"start_s", 0.5 * soak_s}}};
  test::StationFixture f("soak", acq);
  f.cfg()["outbox"].as_object()["quota_mb"] = 1;  // quota pressure while the collector is down
  f.cfg()["outbox"].as_object()["pressure_percent"] = 50;
  test::make_pki(f.dir() / "pki", "G017");
  std::filesystem::create_directories(f.dir() / "coll");
  auto collector = std::make_unique<test::LocalCollector>(f.dir() / "pki", f.dir() / "coll", "G017",
                                                          f.key().public_key());
  const std::uint16_t port = collector->port();
  f.use_pki(f.dir() / "pki", port);

  test::SimClock clock(scale, start);
  std::mutex truth_mu;
  std::vector<hw::SimTruth> truth;
  auto hooks = test::sim_hooks(clock);
  hooks.on_truth = [&](const hw::SimTruth& t) {
    std::lock_guard lock(truth_mu);
    truth.push_back(t);
  };
  edge::Station station(f.config(), true, hooks);
  clock.mono0 = time::monotonic_us();  // simulated time runs from the start on
  station.start();

  // The fault schedule, in simulated seconds of the station's clock.
  auto sim_s = [&] { return static_cast<double>(clock.mono()) / 1e6; };
  REQUIRE(test::wait_for([&] { return sim_s() >= 0.3 * soak_s; }, soak_s));
  collector->stop();
  collector.reset();
  REQUIRE(test::wait_for([&] { return sim_s() >= 0.55 * soak_s; }, soak_s));
  const auto depth_in_outage = station.outbox().stats().depth;
  collector = std::make_unique<test::LocalCollector>(f.dir() / "pki", f.dir() / "coll", "G017",
                                                     f.key().public_key(), port);
  REQUIRE(test::wait_for([&] { return sim_s() >= 0.6 * soak_s; }, soak_s));
  clock.step_us = -20'000'000;  // the wall clock steps 20 s back
  REQUIRE(test::wait_for([&] { return sim_s() >= soak_s; }, 2 * soak_s));
  const auto status = boost::json::parse(station.status_json()).as_object();
  station.stop("soak end");
  REQUIRE(station.weighing_error().empty());

  // What is left in the outbox goes to the collector.
  edge::UplinkClient drain(test::uplink_config(f.dir() / "pki", "G017", port), station.outbox(),
                           {});
  for (int i = 0; i < 5 && station.outbox().pending(1, 1 << 30).size() > 0; ++i) {
    try {
      drain.run_once();
    } catch (const edge::UplinkError& e) {
      WARN("final drain attempt: " << e.what());
    }
  }
  const auto head = station.outbox().head().seq;
  CHECK(station.outbox().stats().depth == 0);
  CHECK(station.outbox().stats().conflicts == 0);

  // The collector's stored chain.
  auto packets = collector->stored_packets("G017");
  std::map<std::uint64_t, record::Manifest> stored;
  for (const auto& p : packets) {
    auto m = p.manifest();
    stored[m.seq] = std::move(m);
  }
  std::map<std::string, int> events;
  std::set<std::uint64_t> thinned;
  std::vector<record::Manifest> vehicles;
  for (const auto& [seq, m] : stored) {
    if (m.event) {
      ++events[m.event->type];
      if (m.event->type == "thinning")
        for (const auto& t : m.event->detail.at("thinned").as_array())
          thinned.insert(t.at("seq").to_number<std::uint64_t>());
    } else {
      vehicles.push_back(m);
    }
  }
  THEN("every sealed record reached the collector or is named by a thinning event") {
    CHECK(collector->counters().rejected.load() == 0);
    CHECK(collector->counters().conflict.load() == 0);
    for (std::uint64_t s = 1; s <= head; ++s) {
      INFO("seq " << s);
      // (A pass thinned while its batch was in flight can be both: named and delivered.)
      CHECK((stored.count(s) + thinned.count(s)) >= 1);
    }
  }
  THEN("the collector's chain verifies; its only gaps are the thinned seqs") {
    chain::KeyRegistry keys;
    keys.add("G017", f.key().public_key());
    chain::ChainSummary summary;
    const auto findings = chain::verify_chain(std::move(packets), keys, true, &summary);
    for (const auto& fd : findings) {
      if (fd.problem == chain::Problem::gap && thinned.count(fd.seq)) continue;
      FAIL_CHECK("seq " << fd.seq << ": " << chain::to_string(fd.problem) << ": " << fd.detail);
    }
    CHECK(summary.last_seq == head);
  }
  THEN("every vehicle of the truth has a record, or is explained by thinning") {
    std::lock_guard lock(truth_mu);
    REQUIRE(!truth.empty());
    // Vehicles still on the sensors when the station stopped are not complete: left out.
    const std::int64_t cut_us = truth.back().t_unix_us - 10'000'000;
    std::vector<bool> used(vehicles.size(), false);
    std::size_t matched = 0, unmatched = 0, not_enforceable = 0, counted = 0;
    for (const auto& t : truth) {
      if (t.t_unix_us > cut_us) continue;
      ++counted;
      bool found = false;
      for (std::size_t i = 0; i < vehicles.size() && !found; ++i) {
        if (used[i] || vehicles[i].lane != t.lane) continue;
        if (std::llabs(vehicles[i].time_unix_us - t.t_unix_us) < 300'000) {
          used[i] = found = true;
          if (!vehicles[i].measurement->fit_for_enforcement) ++not_enforceable;
        }
      }
      found ? ++matched : ++unmatched;
    }
    std::size_t extra = 0;
    for (std::size_t i = 0; i < vehicles.size(); ++i)
      if (!used[i] && vehicles[i].time_unix_us <= cut_us) ++extra;
    const auto wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    std::string ev;
    for (const auto& [k, n] : events) ev += k + "=" + std::to_string(n) + " ";
    WARN("soak " << soak_s << " simulated s at " << scale << "x in " << wall_s
                 << " wall s: truth vehicles " << counted << ", matched " << matched
                 << " (not enforceable " << not_enforceable << "), unmatched " << unmatched
                 << ", extra records " << extra << "; records " << head << " (vehicles "
                 << vehicles.size() << ", thinned " << thinned.size() << "), events: " << ev
                 << "; outbox depth in the outage " << depth_in_outage);
    // An unmatched truth vehicle is explained only by a thinned pass record.
    CHECK(unmatched <= thinned.size());
    CHECK(matched + thinned.size() >= counted);
    CHECK(extra <= counted / 20 + 1);
  }
  THEN("every injected fault shows as an event record") {
    std::set<std::string> fault_channels;
    for (const auto& [seq, m] : stored)
      if (m.event && m.event->type == "sensor_fault")
        fault_channels.insert(std::string(m.event->detail.at("channel").as_string()));
    CHECK(fault_channels.count("L1R2L") == 1);  // stuck
    CHECK(fault_channels.count("L1R1R") == 1);  // dead
    CHECK(events["lost_samples"] >= 1);
    CHECK(events["clock_step"] == 1);
    CHECK(events["disk_pressure"] >= 1);
    CHECK(events["station_start"] == 1);
    CHECK(events["station_stop"] == 1);
    if (!thinned.empty()) CHECK(events["thinning"] >= 1);
    CHECK(test::str(status.at("station_id")) == "G017");
  }
}
