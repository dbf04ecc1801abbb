// SPDX-License-Identifier: Apache-2.0
// The station soak: edge::Station on the in-process simulated roadside in compressed time,
// uplinked to the REAL collector (mutual TLS), with injected faults: the station killed
// (Station::crash(): what kill -9 leaves) at random moments and restarted on the same
// outbox, once over a 30 s sample backlog (the first vehicles predate station_start); a
// stuck and a dead channel, lost samples; the collector down for a stretch; the wall clock
// set back 20 s while the station is down (clock_step before station_start) and 20 s while
// it runs; outbox quota pressure (thinning). Afterwards every record and every vehicle is
// accounted for:
//  - every record the station sealed is at the collector, or was thinned and is named by a
//    thinning event (seq, manifest SHA-256, time, lane);
//  - verify_chain over the collector's chain finds nothing but the gaps of those seqs;
//  - every truth vehicle has exactly one record at the collector, or is named in a
//    thinning event, or was not yet sealed when its run ended: a killed run's vehicles
//    after the last vehicle record that run committed (kill -9 loses what is in the
//    pipeline), or the final run's vehicles still on the sensors at the clean stop;
//    anything else is "unexplained" and fails the test;
//  - each restart resumes the chain and its station_start says how the last run ended.
// Default: 120 simulated seconds at 60x, 3 kills (a few wall seconds). WIM_SOAK_S=3600
// runs the hour (WIM_SOAK_SCALE: time compression, default 60; WIM_SOAK_KILLS: kills,
// default one per 3 simulated minutes, at least 3; WIM_SOAK_SEED: kill moments).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

#include "local_collector.hpp"
#include "station_fixture.hpp"
#include "wim/common/chain.hpp"

using namespace wim;

namespace {

double env_or(const char* name, double dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::atof(v) : dflt;
}

/// One life of the station process on the outbox: its records are seqs first..last.
struct Run {
  std::uint64_t first_seq = 0, last_seq = 0;
  bool crashed = false;
  std::int64_t backlog_us = 0;  ///< [us] its samples start this long before its start
};

/// A vehicle record (delivered or thinned) as the accounting sees it.
struct VehicleRecord {
  std::uint64_t seq = 0;
  int lane = 0;
  std::int64_t t_unix_us = 0;
  bool thinned = false;
  int truths = 0;  ///< [-] truth vehicles matched to it
};

}  // namespace

SCENARIO("A station soak with kills and injected faults accounts for every record and vehicle") {
  const double soak_s = env_or("WIM_SOAK_S", 120);    // [s] simulated
  const double scale = env_or("WIM_SOAK_SCALE", 60);  // [-] simulated s per wall s
  const int kills = static_cast<int>(env_or("WIM_SOAK_KILLS", std::max(3.0, soak_s / 180)));
  const auto seed = static_cast<unsigned>(env_or("WIM_SOAK_SEED", 5));
  const auto wall0 = std::chrono::steady_clock::now();
  const std::int64_t start = time::now_unix_us() / 1000 * 1000;
  constexpr std::int64_t kBacklogUs = 30'000'000;  // [us] the restart over a sample backlog
  constexpr std::int64_t kMatchUs = 300'000;       // [us] record vs truth first-axle time

  test::SimClock clock(scale, start);
  auto sim_s = [&] { return static_cast<double>(clock.mono()) / 1e6; };
  // A run's sim section: its own seed and traffic, faults at the same simulated moments of
  // the whole soak (one that began before the run is there from its start), after the
  // outage, whose enforceable violations (with their waveforms) fill the quota.
  auto acquisition = [&](int run, std::int64_t start_utc) {
    auto acq = test::sim_acquisition(21 + static_cast<unsigned>(run), 1200, scale, start_utc);
    acq["drop_prob"] = 0.0002;    // lost samples
    acq["overload_share"] = 0.5;  // violations (with their waveforms) fill the quota
    const double at = sim_s();
    acq["faults"] = boost::json::array{
        {{"kind", "stuck"}, {"channel", "L1R2L"}, {"start_s", std::max(0.0, 0.62 * soak_s - at)}},
        {{"kind", "dead"}, {"channel", "L1R1R"}, {"start_s", std::max(0.0, 0.7 * soak_s - at)}}};
    return acq;
  };
  test::StationFixture f("soak", acquisition(0, start));
  f.cfg()["outbox"].as_object()["quota_mb"] = 1;  // quota pressure while the collector is down
  f.cfg()["outbox"].as_object()["pressure_percent"] = 25;
  test::make_pki(f.dir() / "pki", "G017");
  std::filesystem::create_directories(f.dir() / "coll");
  auto collector = std::make_unique<test::LocalCollector>(f.dir() / "pki", f.dir() / "coll", "G017",
                                                          f.key().public_key());
  const std::uint16_t port = collector->port();
  f.use_pki(f.dir() / "pki", port);

  std::mutex truth_mu;
  std::vector<std::pair<int, hw::SimTruth>> truth;  // (run, vehicle)
  std::vector<Run> runs;
  int current_run = 0;
  auto hooks = test::sim_hooks(clock);
  hooks.on_truth = [&](const hw::SimTruth& t) {
    std::lock_guard lock(truth_mu);
    truth.emplace_back(current_run, t);
  };
  std::unique_ptr<edge::Station> station;
  auto start_run = [&](std::int64_t backlog_us) {
    {
      std::lock_guard lock(truth_mu);
      current_run = static_cast<int>(runs.size());
    }
    // The simulated time stands still while the station is built (no thread reads the
    // clock then): the sim starts timing samples from its first read, just after start(),
    // so the samples' clock and the station's agree as on a real roadside.
    const std::int64_t paused_mono = clock.mono();
    f.cfg()["acquisition"] = acquisition(current_run, clock.now() / 1000 * 1000 - backlog_us);
    f.write();
    station = std::make_unique<edge::Station>(f.config(), runs.empty(), hooks);
    Run r;
    r.first_seq = station->outbox().head().seq + 1;
    r.backlog_us = backlog_us;
    runs.push_back(r);
    clock.mono0 = time::monotonic_us() - static_cast<std::int64_t>(paused_mono / scale);
    station->start();
  };
  auto kill = [&] {
    station->crash();
    runs.back().last_seq = station->outbox().head().seq;
    runs.back().crashed = true;
    station.reset();
  };

  // The fault schedule, in simulated seconds since the start.
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> when(0.05, 0.78);
  std::vector<double> kill_at;
  for (int i = 0; i < kills; ++i) kill_at.push_back(when(rng) * soak_s);
  std::sort(kill_at.begin(), kill_at.end());
  enum class Act { kill, collector_down, collector_up, step_while_down, step_running };
  std::vector<std::pair<double, Act>> plan;
  for (double t : kill_at) plan.emplace_back(t, Act::kill);
  plan.emplace_back(0.3 * soak_s, Act::collector_down);
  plan.emplace_back(0.55 * soak_s, Act::collector_up);
  plan.emplace_back(0.6 * soak_s, Act::step_while_down);
  plan.emplace_back(0.8 * soak_s, Act::step_running);
  std::stable_sort(plan.begin(), plan.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  clock.mono0 = time::monotonic_us();  // simulated time runs from the start on
  start_run(0);
  std::uint64_t depth_in_outage = 0, bytes_in_outage = 0;
  int kills_done = 0;
  for (const auto& [at, act] : plan) {
    REQUIRE(test::wait_for([&, at = at] { return sim_s() >= at; }, soak_s));
    switch (act) {
      case Act::kill:
        kill();
        // The first restart finds a 30 s backlog of samples (an amplifier's FIFO).
        start_run(kills_done++ == 0 ? kBacklogUs : 0);
        break;
      case Act::collector_down:
        collector->stop();
        collector.reset();
        break;
      case Act::collector_up:
        depth_in_outage = station->outbox().stats().depth;
        bytes_in_outage = station->outbox().stats().stored_bytes;
        collector = std::make_unique<test::LocalCollector>(f.dir() / "pki", f.dir() / "coll",
                                                           "G017", f.key().public_key(), port);
        break;
      case Act::step_while_down:
        kill();
        // Set back while no daemon runs: 20 s plus what a restart may take (3 wall s), so
        // the clock at start is still behind the chain head however slow the build.
        clock.step_us -= 20'000'000 + static_cast<std::int64_t>(3e6 * scale);
        start_run(0);
        break;
      case Act::step_running:
        clock.step_us -= 20'000'000;
        break;
    }
  }
  REQUIRE(test::wait_for([&] { return sim_s() >= soak_s; }, 2 * soak_s));
  const auto status = boost::json::parse(station->status_json()).as_object();
  station->stop("soak end");
  REQUIRE(station->weighing_error().empty());
  runs.back().last_seq = station->outbox().head().seq;

  // What is left in the outbox goes to the collector.
  edge::UplinkClient drain(test::uplink_config(f.dir() / "pki", "G017", port), station->outbox(),
                           {});
  for (int i = 0; i < 5 && station->outbox().pending(1, 1 << 30).size() > 0; ++i) {
    try {
      drain.run_once();
    } catch (const edge::UplinkError& e) {
      WARN("final drain attempt: " << e.what());
    }
  }
  const auto head = station->outbox().head().seq;
  CHECK(station->outbox().stats().depth == 0);
  CHECK(station->outbox().stats().conflicts == 0);

  // The collector's stored chain, and the thinned passes its thinning events name.
  auto packets = collector->stored_packets("G017");
  std::map<std::uint64_t, record::Manifest> stored;
  for (const auto& p : packets) {
    auto m = p.manifest();
    stored[m.seq] = std::move(m);
  }
  std::map<std::string, int> events;
  std::map<std::uint64_t, VehicleRecord> vehicles;  // by seq: delivered and thinned
  std::size_t late = 0, thinned_named = 0;
  for (const auto& [seq, m] : stored) {
    if (m.event) {
      ++events[m.event->type];
      if (m.event->type != "thinning") continue;
      for (const auto& t : m.event->detail.at("thinned").as_array()) {
        const auto& o = t.as_object();
        VehicleRecord v;
        v.seq = o.at("seq").to_number<std::uint64_t>();
        v.lane = static_cast<int>(o.at("lane").to_number<std::int64_t>());
        v.t_unix_us = time::parse_utc(test::str(o.at("time_utc")));
        v.thinned = true;
        ++thinned_named;
        vehicles.emplace(v.seq, v);  // a pass thinned while in flight may also be delivered
      }
    } else {
      if (m.sealed_after_unix_us) ++late;
      vehicles[seq] = VehicleRecord{seq, m.lane, m.time_unix_us, false, 0};
    }
  }
  std::set<std::uint64_t> thinned;
  for (const auto& [seq, v] : vehicles)
    if (v.thinned) thinned.insert(seq);

  // Every sealed record: at the collector, else thinned and named, else missing.
  std::size_t rec_at_collector = 0, rec_thinned = 0, rec_missing = 0;
  {  // every sealed record reached the collector or is named by a thinning event
    CHECK(collector->counters().rejected.load() == 0);
    CHECK(collector->counters().conflict.load() == 0);
    for (std::uint64_t s = 1; s <= head; ++s) {
      INFO("seq " << s);
      CHECK((stored.count(s) + thinned.count(s)) >= 1);
      (stored.count(s) ? rec_at_collector : thinned.count(s) ? rec_thinned : rec_missing) += 1;
    }
  }
  {  // the collector's chain verifies; its only gaps are the thinned seqs
    chain::KeyRegistry keys;
    keys.add("G017", f.key().public_key());
    chain::ChainSummary summary;
    const auto findings = chain::verify_chain(std::move(packets), keys, true, &summary);
    for (const auto& fd : findings) {
      if (fd.problem == chain::Problem::gap && thinned.count(fd.seq)) continue;
      FAIL_CHECK("seq " << fd.seq << ": " << chain::to_string(fd.problem) << ": " << fd.detail);
    }
    CHECK(summary.last_seq == head);
    // The backlog run's first vehicles predate its station_start: sealed with their own
    // time and marked. (A random kill can end that run before it seals any vehicle.)
    std::size_t backlog_vehicles = 0;
    for (const auto& r : runs)
      if (r.backlog_us > 0)
        for (const auto& [seq, m] : stored)
          if (!m.event && seq >= r.first_seq && seq <= r.last_seq) ++backlog_vehicles;
    if (backlog_vehicles > 0) CHECK(late >= 1);
    WARN("vehicle records of the run over the sample backlog: " << backlog_vehicles);
  }
  {  // each restart resumes the chain and says how the last run ended
    REQUIRE(runs.size() == static_cast<std::size_t>(kills + 2));
    std::size_t carried = 0;  // events sealed after a restart by the next run
    for (std::size_t r = 0; r < runs.size(); ++r) {
      INFO("run " << r << " from seq " << runs[r].first_seq);
      if (r > 0) CHECK(runs[r].first_seq == runs[r - 1].last_seq + 1);
      auto first = stored.find(runs[r].first_seq);
      REQUIRE(first != stored.end());
      // Events the killed run before had detected but still held: sealed first, marked;
      // and thinning events (passes thinned to make room, or thinned by the killed run
      // but not yet named) that the sealer puts before the record they made room for.
      while (first != stored.end() && first->second.event &&
             (first->second.event->detail.contains("sealed_after_restart") ||
              first->second.event->type == "thinning")) {
        if (first->second.event->type != "thinning") {
          CHECK(r > 0);
          CHECK(runs[r - 1].crashed);
          ++carried;
        }
        ++first;
      }
      REQUIRE(first != stored.end());
      auto start_rec = first;
      if (first->second.event && first->second.event->type == "clock_step") {
        CHECK(test::str(first->second.event->detail.at("detected")) ==
              "at start: behind the chain head");
        ++start_rec;
      }
      REQUIRE(start_rec != stored.end());
      REQUIRE(start_rec->second.event);
      CHECK(start_rec->second.event->type == "station_start");
      const auto& d = start_rec->second.event->detail;
      CHECK(test::str(d.at("previous_stop")) == (r == 0 ? "none" : "unclean"));
      CHECK(d.at("previous_head_seq").to_number<std::uint64_t>() == runs[r].first_seq - 1);
    }
    // The step while no daemon ran is reported before the station_start of the run after it.
    std::size_t steps_at_start = 0;
    for (const auto& [seq, m] : stored)
      if (m.event && m.event->type == "clock_step" &&
          test::str(m.event->detail.at("detected")) == "at start: behind the chain head")
        ++steps_at_start;
    CHECK(steps_at_start == 1);
    WARN("events held by a killed run, sealed after its restart: " << carried);
  }
  {  // every truth vehicle has exactly one record, is named as thinned, or is explained
    std::lock_guard lock(truth_mu);
    REQUIRE(!truth.empty());
    // Each truth vehicle to the nearest record of its run (same lane, within kMatchUs).
    std::vector<std::int64_t> last_record_us(runs.size(), INT64_MIN);
    for (const auto& [seq, v] : vehicles)
      for (std::size_t r = 0; r < runs.size(); ++r)
        if (seq >= runs[r].first_seq && seq <= runs[r].last_seq)
          last_record_us[r] = std::max(last_record_us[r], v.t_unix_us);
    std::size_t once = 0, as_thinned = 0, killed = 0, at_stop = 0, duplicated = 0, unexplained = 0;
    std::int64_t max_killed_lag_us = 0;
    for (const auto& [run, t] : truth) {
      const auto& rr = runs[static_cast<std::size_t>(run)];
      std::vector<VehicleRecord*> hits;
      for (auto it = vehicles.lower_bound(rr.first_seq);
           it != vehicles.end() && it->first <= rr.last_seq; ++it)
        if (it->second.lane == t.lane && std::llabs(it->second.t_unix_us - t.t_unix_us) < kMatchUs)
          hits.push_back(&it->second);
      for (auto* h : hits) ++h->truths;
      std::size_t delivered = 0, named = 0;
      for (auto* h : hits) (h->thinned ? named : delivered) += 1;
      if (delivered == 1 || (delivered == 0 && named >= 1)) {
        delivered == 1 ? ++once : ++as_thinned;
      } else if (delivered > 1) {
        ++duplicated;
      } else if (t.t_unix_us > last_record_us[static_cast<std::size_t>(run)]) {
        // Not sealed when its run ended: vehicles are sealed in pass order, so nothing
        // after the run's last vehicle record was committed.
        if (rr.crashed) {
          ++killed;
          // (A run killed before its first vehicle record has no lag to show.)
          const std::int64_t last = last_record_us[static_cast<std::size_t>(run)];
          if (last != INT64_MIN)
            max_killed_lag_us = std::max(max_killed_lag_us, t.t_unix_us - last);
        } else {
          ++at_stop;
        }
      } else {
        ++unexplained;
        UNSCOPED_INFO("unexplained: run " << run << " vehicle " << t.id << " lane " << t.lane
                                          << " at " << time::format_utc_us(t.t_unix_us));
      }
    }
    std::size_t extra = 0;
    for (const auto& [seq, v] : vehicles)
      if (v.truths == 0) ++extra;
    const auto wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    std::string ev, per_run;
    for (const auto& [k, n] : events) ev += k + "=" + std::to_string(n) + " ";
    std::vector<int> truth_of(runs.size(), 0);
    for (const auto& [run, t] : truth) ++truth_of[static_cast<std::size_t>(run)];
    for (std::size_t r = 0; r < runs.size(); ++r)
      per_run += " " + std::to_string(truth_of[r]) + "/" + std::to_string(runs[r].first_seq) +
                 ".." + std::to_string(runs[r].last_seq);
    WARN("soak " << soak_s << " simulated s at " << scale << "x in " << wall_s << " wall s, "
                 << runs.size() << " runs (" << kills + 1 << " kills): truth vehicles "
                 << truth.size() << ": one record " << once << ", thinned (named) " << as_thinned
                 << ", killed before commit " << killed << " (latest " << max_killed_lag_us / 1000
                 << " ms after its run's last record), in passage "
                 << "at the final stop " << at_stop << ", duplicated " << duplicated
                 << ", unexplained " << unexplained << "; records " << head << " (vehicle "
                 << vehicles.size() << ", thinned " << thinned_named << ", sealed late " << late
                 << "), records matching no truth " << extra << "; events: " << ev
                 << "; outbox depth at the outage's end " << depth_in_outage << " ("
                 << bytes_in_outage << " B)"
                 << "; per run truth vehicles/seqs:" << per_run);
    std::ostringstream table;
    auto row = [&](const std::string& what, std::size_t n) {
      table << "  " << what << std::string(what.size() < 58 ? 58 - what.size() : 1, ' ') << n
            << "\n";
    };
    table << "accounting (" << soak_s << " simulated s, " << kills + 1 << " kills)\n";
    row("truth vehicles", truth.size());
    row("-> one record at the collector", once);
    row("-> thinned, named per vehicle in a thinning event", as_thinned);
    row("-> in the pipeline at a kill -9 (never sealed)", killed);
    row("-> on the sensors at the final clean stop", at_stop);
    row("-> more than one record (duplicated)", duplicated);
    row("-> missing (none of the above)", unexplained);
    row("records sealed (seq 1..head)", head);
    row("-> at the collector", rec_at_collector);
    row("-> not at the collector, thinned and named", rec_thinned);
    row("-> missing", rec_missing);
    row("vehicle records matching no truth vehicle", extra);
    WARN(table.str());
    CHECK(rec_missing == 0);
    CHECK(unexplained == 0);
    CHECK(duplicated == 0);
    CHECK(once + as_thinned + killed + at_stop == truth.size());
    // Most vehicles have a record: delivered, or thinned and named (quota pressure).
    CHECK(once + as_thinned > truth.size() / 2);
    CHECK(extra <= truth.size() / 20 + 1);
  }
  {  // every injected fault shows as an event record
    std::set<std::string> fault_channels;
    for (const auto& [seq, m] : stored)
      if (m.event && m.event->type == "sensor_fault")
        fault_channels.insert(std::string(m.event->detail.at("channel").as_string()));
    CHECK(fault_channels.count("L1R2L") == 1);  // stuck
    CHECK(fault_channels.count("L1R1R") == 1);  // dead
    CHECK(events["lost_samples"] >= 1);
    CHECK(events["clock_step"] == 2);  // at the start after the step while down; running
    CHECK(events["disk_pressure"] >= 1);
    CHECK(events["station_start"] == kills + 2);
    CHECK(events["station_stop"] == 1);
    if (!thinned.empty()) CHECK(events["thinning"] >= 1);
    CHECK(test::str(status.at("station_id")) == "G017");
  }
}
