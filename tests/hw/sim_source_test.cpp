// SPDX-License-Identifier: Apache-2.0
// SimSource (the in-process simulated roadside) and make_source() (the acquisition factory).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "record.hpp"
#include "sim_source.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/recording.hpp"
#include "wim/common/time.hpp"
#include "wim/hw/replay_source.hpp"
#include "wim/hw/source_factory.hpp"

namespace fs = std::filesystem;
using namespace wim;
using namespace std::chrono_literals;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("wim_hw_simsrc_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

sim::SimOptions two_lane_options() {
  sim::SimOptions o;
  o.seed = 11;
  o.site.lanes = 2;
  o.traffic.flow_veh_per_h = 1800;
  o.traffic.class_share = {0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05};
  return o;
}

/// Reads `n` samples per channel (unpaced) into flat vectors.
struct Stream {
  std::vector<std::int64_t> t_unix_us, t_mono_us;
  std::vector<std::vector<std::int32_t>> counts;
  std::vector<std::uint64_t> index;
  std::vector<hw::LostSpan> lost;
};
Stream drain(hw::SampleSource& src, std::uint64_t n) {
  Stream s;
  s.counts.resize(src.channels().size());
  hw::SampleBlock b;
  std::uint64_t seen = 0;
  while (seen < n) {
    REQUIRE(src.read(b, 0ms));
    s.lost.insert(s.lost.end(), b.lost.begin(), b.lost.end());
    for (const auto& l : b.lost) seen += l.count;
    for (std::size_t i = 0; i < b.size(); ++i) {
      s.index.push_back(b.first_index + i);
      s.t_unix_us.push_back(b.t_unix_us[i]);
      s.t_mono_us.push_back(b.t_mono_us[i]);
      for (std::size_t c = 0; c < b.counts.size(); ++c) s.counts[c].push_back(b.counts[c][i]);
    }
    seen += b.size();
  }
  return s;
}

}  // namespace

TEST_CASE("sim source: samples and truth equal what wim-sim record writes for the same traffic",
          "[hw][simsource]") {
  GIVEN("a recording of the first 6 vehicles and a SimSource with the same options") {
    auto opt = two_lane_options();
    opt.site.lanes = 1;  // one lane: vehicle N+1 arrives after vehicle N has left
    const auto dir = temp_dir("equiv");
    constexpr std::size_t kVehicles = 6;
    sim::record(opt, kVehicles, dir);
    const auto rec = recording::read_all(dir / "rec.csv");
    std::vector<std::string> truth_lines;
    {
      std::ifstream f(dir / "truth.jsonl");
      for (std::string line; std::getline(f, line);) truth_lines.push_back(line);
    }
    REQUIRE(truth_lines.size() == kVehicles);

    sim::SimSourceOptions so;
    so.sim = opt;
    so.paced = false;
    so.start_unix_us = opt.started_unix_us;
    so.block_samples = 1000;
    sim::SimSource src(so);
    std::vector<hw::SimTruth> truth;
    src.on_truth([&](const hw::SimTruth& t) { truth.push_back(t); });
    WHEN("it generates as many samples as the recording holds") {
      const Stream s = drain(src, rec.data.rows());
      THEN("channels, UTC times and counts are identical until vehicle N+1 reaches the sensors") {
        REQUIRE(src.channels() == rec.header.channels);
        REQUIRE(truth.size() > kVehicles);
        // The recorder stops drawing vehicles after N; vehicle N+1's first axle reaches the
        // sensors less than 0.35 m / 30 km/h = 42 ms before its t_us: from there they differ.
        const std::int64_t differ_from_us = truth[kVehicles].t_us - 100'000;
        std::size_t compared = 0;
        for (std::size_t i = 0; i < rec.data.rows() && rec.data.t_us[i] < differ_from_us; ++i) {
          REQUIRE(s.index[i] == i);
          REQUIRE(s.t_unix_us[i] == opt.started_unix_us + rec.data.t_us[i]);
          for (std::size_t c = 0; c < rec.data.counts.size(); ++c)
            REQUIRE(s.counts[c][i] == rec.data.counts[c][i]);
          ++compared;
        }
        // ...which covers every recorded vehicle's whole pass.
        REQUIRE(compared > 0);
        const auto& last = truth[kVehicles - 1].truth;
        double wheelbase_m = 0;
        for (const auto& d : last.at("axle_spacings_m").as_array())
          wheelbase_m += d.to_number<double>();
        const double pass_us =
            (wheelbase_m + 3.05) / (last.at("speed_kmh").to_number<double>() / 3.6) * 1e6;
        REQUIRE(rec.data.t_us[compared - 1] >
                truth[kVehicles - 1].t_us + static_cast<std::int64_t>(pass_us));
        AND_THEN("the first N truth events are truth.jsonl's lines, stamped in UTC") {
          for (std::size_t i = 0; i < kVehicles; ++i) {
            CHECK(json::canonical(truth[i].truth) == truth_lines[i]);
            CHECK(truth[i].t_unix_us == opt.started_unix_us + truth[i].t_us);
            CHECK(truth[i].id == i + 1);
            CHECK(!truth[i].plate_text.empty());
          }
        }
      }
    }
    fs::remove_all(dir);
  }
}

TEST_CASE("sim source: unpaced generation is bit-exact repeatable, also with lost chunks",
          "[hw][simsource]") {
  sim::SimSourceOptions so;
  so.sim = two_lane_options();
  so.paced = false;
  so.start_unix_us = time::parse_utc("2026-11-27T10:00:00Z");
  so.drop_prob = 0.01;
  so.block_samples = 777;
  constexpr std::uint64_t kSamples = 4000 * 15;  // 15 simulated seconds
  sim::SimSource a(so), b(so);
  const Stream sa = drain(a, kSamples), sb = drain(b, kSamples);
  REQUIRE(sa.counts == sb.counts);
  REQUIRE(sa.t_unix_us == sb.t_unix_us);
  REQUIRE(sa.index == sb.index);
  REQUIRE(sa.lost.size() == sb.lost.size());
  REQUIRE(!sa.lost.empty());
  std::uint64_t lost = 0;
  for (std::size_t i = 0; i < sa.lost.size(); ++i) {
    CHECK(sa.lost[i].first_index == sb.lost[i].first_index);
    CHECK(sa.lost[i].count % so.chunk_samples == 0);  // whole chunks
    CHECK(sa.lost[i].to_unix_us - sa.lost[i].from_unix_us ==
          static_cast<std::int64_t>((sa.lost[i].count - 1) * 250));
    lost += sa.lost[i].count;
  }
  // Every index is delivered or reported lost, exactly once.
  CHECK(a.counters().lost_samples == lost);
  CHECK(a.counters().samples + lost == sa.index.size() + lost);
  CHECK(sa.index.size() + lost >= kSamples);
  for (std::size_t i = 1; i < sa.index.size(); ++i) REQUIRE(sa.index[i] > sa.index[i - 1]);
  // Without drops the same seed gives the same signal: drops only remove samples.
  so.drop_prob = 0;
  sim::SimSource clean(so);
  const Stream sc = drain(clean, kSamples);
  for (std::size_t i = 0; i < sa.index.size() && sa.index[i] < sc.index.size(); ++i)
    REQUIRE(sa.counts[0][i] == sc.counts[0][sa.index[i]]);
}

TEST_CASE("sim source: paced, it never runs ahead of the wall clock x time_scale",
          "[hw][simsource]") {
  sim::SimSourceOptions so;
  so.sim = two_lane_options();
  so.time_scale = 20;
  so.block_samples = 200;
  sim::SimSource src(so);
  hw::SampleBlock b;
  const std::int64_t t0_unix = time::now_unix_us();
  const std::int64_t t0 = time::monotonic_us();
  std::uint64_t samples = 0, next = 0;
  std::int64_t last_unix = 0;
  while (time::monotonic_us() - t0 < 300'000) {
    REQUIRE(src.read(b, 50ms));
    if (b.size() == 0) continue;
    REQUIRE(b.first_index == next);
    REQUIRE(b.t_unix_us.front() >= t0_unix);
    REQUIRE(b.t_unix_us.front() > last_unix);
    last_unix = b.t_unix_us.back();
    next += b.size();
    samples += b.size();
    const double wall_s = static_cast<double>(time::monotonic_us() - t0) * 1e-6;
    // Samples handed out so far are due: their simulated time <= wall time x scale.
    REQUIRE(static_cast<double>(samples - 1) / 4000.0 <= wall_s * 20 + 1e-3);
  }
  CHECK(samples > 0);
  CHECK(b.clock_sync == time::query_clock().sync);
}

TEST_CASE("sim source: truth events queue when no callback is set, in order", "[hw][simsource]") {
  sim::SimSourceOptions so;
  so.sim = two_lane_options();
  so.paced = false;
  so.start_unix_us = 1'800'000'000'000'000;
  sim::SimSource src(so);
  hw::SampleBlock b;
  std::int64_t last_t = 0;
  std::vector<hw::SimTruth> all;
  for (int i = 0; i < 200; ++i) {  // 20 s
    src.read(b, 0ms);
    for (auto& t : src.take_truth()) {
      CHECK(t.t_unix_us <= b.t_unix_us.back());  // it has passed by the end of this block
      CHECK(t.t_unix_us >= last_t);
      last_t = t.t_unix_us;
      all.push_back(std::move(t));
    }
  }
  REQUIRE(all.size() >= 2);
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].id == i + 1);
}

TEST_CASE("acquisition factory: builds sim, replay and modbus sources", "[hw][factory]") {
  GIVEN("a sim section with two lanes, a dead channel and a truth callback") {
    std::size_t events = 0;
    hw::SourceFactoryOptions fo;
    fo.on_truth = [&](const hw::SimTruth&) { ++events; };
    const auto cfg = json::parse(
        R"({"source":"sim","seed":7,"flow_veh_h":1800,"lanes":2,"paced":false,
            "start_utc":"2026-11-27T08:00:00Z","faults":[{"kind":"dead","channel":"L2R1R"}],
            "mix":{"car":0.2,"truck_2axle":0.8}})",
        "test");
    auto src = hw::make_source(cfg, "station.json: acquisition", fo);
    REQUIRE(src->channels().size() == 16);
    REQUIRE(src->sample_rate_hz() == 4000);
    hw::SampleBlock b;
    for (int i = 0; i < 100; ++i) src->read(b, 0ms);  // 10 s
    CHECK(b.t_unix_us.front() > time::parse_utc("2026-11-27T08:00:09Z"));
    CHECK(events > 0);
    const auto dead = std::find(b.channels.begin(), b.channels.end(), "L2R1R") - b.channels.begin();
    CHECK(b.health[static_cast<std::size_t>(dead)] == hw::ChannelHealth::dead);
    CHECK(b.health[0] == hw::ChannelHealth::ok);
    CHECK(src->status().find("source: sim") != std::string::npos);
  }
  GIVEN("a replay section with loop on") {
    const auto dir = temp_dir("loop");
    sim::SimOptions o;
    o.lead_in_s = 0.5;
    o.tail_s = 0.5;
    const auto r = sim::record(o, 1, dir);
    hw::SourceFactoryOptions fo;
    fo.base_dir = dir;
    auto src = hw::make_source(
        json::parse(R"({"source":"replay","recording":"rec.csv","loop":true})", "t"), "acq", fo);
    const Stream s = drain(*src, r.samples * 2 + 10);
    THEN("it plays the file again with times and index going on, nothing lost") {
      CHECK(s.lost.empty());
      for (std::size_t i = 1; i < s.index.size(); ++i) {
        REQUIRE(s.index[i] == i);
        REQUIRE(s.t_unix_us[i] - s.t_unix_us[i - 1] == 250);
      }
      CHECK(s.counts[0][r.samples] == s.counts[0][0]);
      CHECK(dynamic_cast<hw::ReplaySource&>(*src).passes() >= 2);
    }
    fs::remove_all(dir);
  }
  GIVEN("a modbus section with the shipped map") {
    const auto cfg = json::parse(std::string(R"({"source":"modbus","map":")") + WIM_SOURCE_DIR +
                                     R"(/hw/maps/wim-sim-amplifier.json","tcp":"127.0.0.1:1",
                                     "channels":["a","b","c","d","e","f","g","h"],
                                     "response_timeout_ms":50})",
                                 "t");
    auto src = hw::make_source(cfg, "acq");
    CHECK(src->channels().size() == 8);
    CHECK(src->status().find("tcp:127.0.0.1:1") != std::string::npos);
  }
}

TEST_CASE("acquisition factory: bad sections are refused naming the field", "[hw][factory]") {
  auto err = [](const std::string& text) {
    try {
      hw::make_source(json::parse(text, "t"), "acq");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  using Catch::Matchers::Contains;
  CHECK_THAT(err(R"([1])"), Contains("acq"));
  CHECK_THAT(err(R"({})"), Contains("acq.source: missing"));
  CHECK_THAT(err(R"({"source":"camera"})"), Contains("acq.source: 'camera'"));
  CHECK_THAT(err(R"({"source":"sim","flow":600})"), Contains("acq.flow: unknown field"));
  CHECK_THAT(err(R"({"source":"sim","lanes":5})"), Contains("acq.lanes: 5 not in 1..4"));
  CHECK_THAT(err(R"({"source":"sim","lanes":"two"})"), Contains("acq.lanes: expected"));
  CHECK_THAT(err(R"({"source":"sim","flow_veh_h":-3})"), Contains("acq.flow_veh_h"));
  CHECK_THAT(err(R"({"source":"sim","kind":"loop"})"), Contains("acq.kind: 'loop'"));
  CHECK_THAT(err(R"({"source":"sim","rows_m":[0,"x"]})"), Contains("acq.rows_m[1]"));
  CHECK_THAT(err(R"({"source":"sim","rows_m":[0,0.02]})"), Contains("rows_m[1]"));
  CHECK_THAT(err(R"({"source":"sim","mix":{"bus":1}})"),
             Contains("acq.mix.bus: unknown vehicle class"));
  CHECK_THAT(err(R"({"source":"sim","faults":[{"kind":"hot","channel":"L1R1L"}]})"),
             Contains("acq.faults[0].kind: 'hot'"));
  CHECK_THAT(err(R"({"source":"sim","faults":[{"kind":"dead","channel":"L9R1L"}]})"),
             Contains("'L9R1L'"));
  CHECK_THAT(err(R"({"source":"sim","start_utc":"yesterday"})"), Contains("acq.start_utc"));
  CHECK_THAT(err(R"({"source":"sim","time_scale":0})"), Contains("time_scale"));
  CHECK_THAT(err(R"({"source":"sim","drop_prob":1.5})"), Contains("drop_prob"));
  CHECK_THAT(err(R"({"source":"sim","overload_share":2})"), Contains("overload_share"));
  CHECK_THAT(err(R"({"source":"replay"})"), Contains("acq.recording: missing"));
  CHECK_THAT(err(R"({"source":"replay","recording":"/nonexistent/rec.csv"})"),
             Contains("acq.recording: '/nonexistent/rec.csv' is not a file"));
  CHECK_THAT(err(R"({"source":"replay","recording":"r.csv","speed":2})"),
             Contains("acq.speed: unknown field"));
  const std::string map = std::string(WIM_SOURCE_DIR) + "/hw/maps/wim-sim-amplifier.json";
  CHECK_THAT(err(R"({"source":"modbus","tcp":"127.0.0.1:1502"})"), Contains("acq.map: missing"));
  CHECK_THAT(err(R"({"source":"modbus","map":")" + map + R"("})"), Contains("exactly one of"));
  CHECK_THAT(err(R"({"source":"modbus","map":")" + map + R"(","tcp":"localhost"})"),
             Contains("acq.tcp"));
  CHECK_THAT(err(R"({"source":"modbus","map":")" + map + R"(","tcp":"127.0.0.1:1502"})"),
             Contains("acq.channels: 0 names for the map's 8 channels"));
  CHECK_THAT(err(R"({"source":"modbus","map":{"channel_count":0},"tcp":"127.0.0.1:1502"})"),
             Contains("acq.map"));
  CHECK_THAT(
      err(R"({"source":"modbus","map":")" + map +
          R"(","tcp":"127.0.0.1:1502","response_timeout_ms":0,"channels":["a","b","c","d","e","f","g","h"]})"),
      Contains("acq.response_timeout_ms: 0 not in"));
}
