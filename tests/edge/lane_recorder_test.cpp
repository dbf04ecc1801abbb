// SPDX-License-Identifier: Apache-2.0
// `wim-edge record` (edge::LaneRecorder): the station's acquisition source into a
// contract-1 recording that `wim-edge weigh`/`calibrate` read back: against the in-process
// simulated roadside, the real Modbus driver on the simulated amplifier, and the program
// stopped by SIGINT.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <thread>

#include "modbus_server.hpp"
#include "sim_source.hpp"
#include "station_test_util.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/recording.hpp"
#include "wim/edge/lane_recorder.hpp"
#include "wim/edge/weigh/calibration.hpp"
#include "wim/hw/source_factory.hpp"

using namespace wim;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kMap = std::string(WIM_SOURCE_DIR) + "/hw/maps/wim-sim-amplifier.json";

/// An in-process simulated roadside from an "acquisition" object; `truth` collects the
/// vehicles as they pass.
std::unique_ptr<hw::SampleSource> sim_source(boost::json::object acq,
                                             std::vector<hw::SimTruth>* truth = nullptr) {
  acq["source"] = "sim";
  hw::SourceFactoryOptions fo;
  if (truth) fo.on_truth = [truth](const hw::SimTruth& t) { truth->push_back(t); };
  return hw::make_source(acq, "test: acquisition", fo);
}

/// The station config matching a simulated source (its channels, gains and zeros).
config::StationConfig station_of(hw::SampleSource& src) {
  auto* sim = dynamic_cast<sim::SimSource*>(&src);
  REQUIRE(sim);
  return config::parse_station_config(sim->station_json(), "sim station.json");
}

/// Every sample of `src` for `samples` rows, counts[c][i] in the source's channel order.
std::vector<std::vector<std::int32_t>> read_rows(hw::SampleSource& src, std::size_t samples) {
  std::vector<std::vector<std::int32_t>> out(src.channels().size());
  hw::SampleBlock b;
  while (out[0].size() < samples && src.read(b, 100ms))
    for (std::size_t c = 0; c < out.size(); ++c)
      out[c].insert(out[c].end(), b.counts[c].begin(), b.counts[c].end());
  for (auto& col : out) col.resize(std::min(col.size(), samples));
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

SCENARIO("a recording of the simulated roadside reads back sample for sample") {
  GIVEN("an unpaced simulated lane and the station's channels in reverse order") {
    test::TempDir dir("rec-sim");
    const boost::json::object acq{{"seed", 11}, {"paced", false}, {"flow_veh_h", 1200}};
    auto src = sim_source(acq);
    auto station = station_of(*src);
    std::reverse(station.channels.begin(), station.channels.end());
    edge::RecorderOptions o;
    o.duration_s = 3.0;
    o.live_clock = false;
    o.source_kind = "sim";
    edge::LaneRecorder rec(station, *src, o);

    WHEN("3 s are recorded") {
      const edge::RecordResult r = rec.record(dir.path());
      THEN("the file holds 3 s x 4000 Hz rows, the station's columns, the source's samples") {
        CHECK(r.end == edge::RecordEnd::duration);
        CHECK(r.samples == 12000);
        CHECK(r.expected_samples == 12000);
        CHECK(r.lost_samples == 0);
        CHECK(r.recorded_s == Approx(3.0));
        CHECK(r.path.filename().string().rfind(station.station_id + "-", 0) == 0);
        CHECK_FALSE(fs::exists(fs::path(r.path).concat(".part")));
        const auto back = recording::read_all(r.path);
        CHECK(back.header.sample_rate_hz == 4000);
        CHECK(back.header.station == station.station_id);
        CHECK(back.header.started_unix_us == r.started_unix_us);
        CHECK(back.header.meta.at("clock_sync") == std::string(time::to_string(r.clock_sync)));
        CHECK(back.header.meta.at("source") == "sim");
        REQUIRE(back.header.channels.size() == station.channels.size());
        for (std::size_t c = 0; c < station.channels.size(); ++c)
          CHECK(back.header.channels[c] == station.channels[c].name);
        REQUIRE(back.data.rows() == 12000);
        CHECK(back.data.t_us.front() < 1000);  // started_utc is the first sample's ms
        CHECK(back.data.t_us[1] - back.data.t_us[0] == 250);

        auto again = sim_source(acq);  // same seed: the same samples
        const auto want = read_rows(*again, 12000);
        const auto& names = again->channels();
        for (std::size_t c = 0; c < back.header.channels.size(); ++c) {
          const auto sc = static_cast<std::size_t>(
              std::find(names.begin(), names.end(), back.header.channels[c]) - names.begin());
          INFO(back.header.channels[c]);
          REQUIRE(sc < names.size());
          CHECK(back.data.counts[c] == want[sc]);
        }
      }
      AND_WHEN("a second recording starts in the same second") {
        auto src2 = sim_source(acq);
        edge::LaneRecorder rec2(station_of(*src2), *src2, o);
        const auto r2 = rec2.record(dir.path());
        THEN("it gets its own file; the first is untouched") {
          CHECK(r2.path != r.path);
          CHECK(recording::read_all(r.path).data.rows() == 12000);
        }
      }
    }
  }
}

SCENARIO("the recorder refuses what it cannot record") {
  test::TempDir dir("rec-bad");
  auto src = sim_source({{"seed", 1}, {"paced", false}});
  auto station = station_of(*src);
  edge::RecorderOptions o;
  o.duration_s = 1;
  WHEN("a station channel is not one of the source's") {
    station.channels[2].name = "L9R9X";
    THEN("it names the channel") {
      CHECK_THROWS_AS(edge::LaneRecorder(station, *src, o), InputError);
      CHECK_THROWS_WITH(edge::LaneRecorder(station, *src, o), Catch::Contains("'L9R9X'"));
    }
  }
  WHEN("the duration is not positive") {
    o.duration_s = 0;
    CHECK_THROWS_WITH(edge::LaneRecorder(station, *src, o), Catch::Contains("must be > 0"));
  }
  WHEN("a finite source has nothing to give") {
    const fs::path empty = dir / "empty.csv";
    std::ofstream(empty) << "# wim-recording 1\n# sample_rate_hz=4000\nt_us,L1R1L\n";
    auto replay = hw::make_source({{"source", "replay"}, {"recording", empty.string()}}, "t");
    config::StationConfig one;
    one.station_id = "T1";
    one.channels.resize(1);
    one.channels[0].name = "L1R1L";
    o.live_clock = false;
    edge::LaneRecorder rec(one, *replay, o);
    THEN("no file is left and the error says why") {
      CHECK_THROWS_WITH(rec.record(dir / "out"), Catch::Contains("no sample"));
      CHECK(fs::is_empty(dir / "out"));
    }
  }
}

SCENARIO("a live recording stops early on request and stays complete") {
  GIVEN("a paced simulated lane recorded for 60 s") {
    test::TempDir dir("rec-stop");
    auto src = sim_source({{"seed", 5}, {"paced", true}});
    edge::RecorderOptions o;
    o.duration_s = 60;
    edge::LaneRecorder rec(station_of(*src), *src, o);
    WHEN("stop() comes after about 1 s") {
      std::thread stopper([&] {
        std::this_thread::sleep_for(1s);
        rec.stop();
      });
      const auto r = rec.record(dir.path());
      stopper.join();
      THEN("the recording ends as stopped, with about 1 s of samples, readable to the end") {
        CHECK(r.end == edge::RecordEnd::stopped);
        CHECK(r.samples > 0);
        CHECK(r.samples < 4 * 4000);  // far short of 60 s
        const auto back = recording::read_all(r.path);
        CHECK(back.data.rows() == r.samples);
        CHECK(back.header.meta.at("clock_sync") != "unknown");  // live: the kernel's state
        CHECK(back.header.meta.count("clock_max_error_ms") == 1);
      }
    }
  }
}

SCENARIO("a recording of the Modbus amplifier covers the duration within one FIFO block") {
  GIVEN("the simulated amplifier served over Modbus TCP and the real driver") {
    sim::SimOptions so;
    so.seed = 21;
    sim::ServerOptions srv;
    srv.seed = so.seed;
    sim::AmplifierServer server(sim::make_synth(so), srv);
    const int port = server.listen_tcp("127.0.0.1", 0);
    std::atomic<bool> stop_server{false};
    std::thread serving([&] { server.run(stop_server); });
    std::vector<std::string> names;
    for (const auto& c : so.site.channels(so.seed)) names.push_back(c.name);
    hw::SourceFactoryOptions fo;
    fo.channel_names = names;
    auto src = hw::make_source(
        {{"source", "modbus"}, {"map", kMap}, {"tcp", "127.0.0.1:" + std::to_string(port)}},
        "test: acquisition", fo);
    config::StationConfig station;
    station.station_id = "G017";
    for (const auto& n : names) {
      config::ChannelConfig c;
      c.name = n;
      station.channels.push_back(c);
    }
    test::TempDir dir("rec-modbus");
    edge::RecorderOptions o;
    o.duration_s = 2.0;
    o.source_kind = "modbus";

    WHEN("2 s are recorded") {
      edge::LaneRecorder rec(station, *src, o);
      const auto r = rec.record(dir.path());
      stop_server = true;
      serving.join();
      THEN("2 s x 4000 Hz rows arrive, give or take one FIFO read, none lost") {
        CHECK(r.end == edge::RecordEnd::duration);
        const auto block = static_cast<std::uint64_t>(server.fifo_max_samples());
        CHECK(r.samples + r.lost_samples + block >= 8000);
        CHECK(r.samples <= 8000 + block);
        CHECK(r.lost_samples == 0);
        const auto back = recording::read_all(r.path);
        CHECK(back.data.rows() == r.samples);
        CHECK(back.header.channels == names);
        CHECK(back.header.meta.at("source") == "modbus");
        CHECK(back.data.t_us.back() < 2'001'000);
      }
    }
    if (serving.joinable()) {
      stop_server = true;
      serving.join();
    }
  }
}

SCENARIO("reference passes recorded from a lane with a gain error calibrate it back") {
  GIVEN("a lane of 3-axle trucks whose configured gains read 10 % high") {
    test::TempDir dir("rec-cal");
    boost::json::object mix;
    for (const char* c :
         {"car", "truck_2axle", "combination_3axle", "truck_4axle", "combination_4axle",
          "combination_5axle", "combination_6axle", "combination_6axle_single_drive"})
      mix[c] = 0;
    mix["truck_3axle"] = 1;
    std::vector<hw::SimTruth> truth;
    auto src = sim_source(
        {{"seed", 4}, {"paced", false}, {"flow_veh_h", 600}, {"lead_in_s", 2}, {"mix", mix}},
        &truth);
    auto station = station_of(*src);
    for (auto& c : station.channels) c.gain *= 1.10;
    WHEN("8 passes are recorded one after the other and the station calibrated on them") {
      std::vector<weigh::ReferenceRun> runs;
      edge::RecorderOptions o;
      o.duration_s = 8;
      o.live_clock = false;
      edge::LaneRecorder rec(station, *src, o);
      for (int k = 0; k < 80 && runs.size() < 8; ++k) {
        const auto r = rec.record(dir.path());
        // A pass is usable when its first truck comes whole into the recording: none
        // still on the sensors at the start, the first one at least 2 s before the end
        // (the same seed every time: the same passes are usable).
        const hw::SimTruth* first = nullptr;
        for (const auto& t : truth)
          if (t.t_unix_us > r.started_unix_us - 1'500'000) {
            first = &t;
            break;
          }
        if (!first || first->t_unix_us < r.started_unix_us + 500'000 ||
            first->t_unix_us > r.started_unix_us + 6'000'000)
          continue;
        std::vector<double> loads;
        for (const auto& l : first->truth.at("axle_loads_kg").as_array())
          loads.push_back(l.to_number<double>());
        runs.push_back({r.path, loads});
      }
      REQUIRE(runs.size() == 8);
      const auto res = weigh::calibrate(station, runs, "CAL-REC-1", "2026-11-28");
      THEN("the fitted gains come back near the true 0.25 kg/count, the gross bias to ~0") {
        double mean_gain = 0;
        for (std::size_t c = 0; c < res.new_gain.size(); ++c) {
          INFO(res.calibrated.channels[c].name);
          CHECK(res.old_gain[c] == Approx(0.275));
          CHECK(res.new_gain[c] == Approx(0.25).epsilon(0.06));
          mean_gain += res.new_gain[c] / static_cast<double>(res.new_gain.size());
        }
        CHECK(mean_gain == Approx(0.25).epsilon(0.03));
        CHECK(res.gross_before.bias_pct == Approx(10).margin(2));
        CHECK(std::abs(res.gross_after.bias_pct) < 1.5);
        CHECK(res.gross_after.n == 8);
      }
    }
  }
}

SCENARIO("wim-edge record ends on SIGINT with a complete recording") {
  GIVEN("a station.json whose acquisition is the paced simulated lane") {
    test::TempDir dir("rec-cli");
    auto probe = sim_source({{"seed", 3}});
    auto cfg = dynamic_cast<sim::SimSource&>(*probe).station_json();
    cfg["acquisition"] = {{"source", "sim"}, {"seed", 3}};
    std::ofstream(dir / "station.json") << boost::json::serialize(cfg);
    WHEN("wim-edge record --duration 60 gets SIGINT after 2 s") {
      const std::string cmd = "cd " + dir.path().string() + " && (" + WIM_TEST_EMULATOR +
                              WIM_BINARY_DIR +
                              "/edge/wim-edge record --config station.json --out rec --duration "
                              "60 >out.json 2>err.txt & pid=$!; sleep 2; kill -INT $pid; wait "
                              "$pid; echo $?)";
      FILE* p = popen(cmd.c_str(), "r");
      REQUIRE(p);
      char buf[64] = {};
      const bool got = std::fgets(buf, sizeof buf, p) != nullptr;
      pclose(p);
      THEN("it exits 0, says it stopped, and the recording reads back whole") {
        REQUIRE(got);
        CHECK(std::string(buf) == "0\n");
        const auto out = json::load_file(dir / "out.json");
        CHECK(out.at("end").as_string() == "stopped");
        const fs::path rec(std::string(out.at("recording").as_string()));
        const auto back = recording::read_all(dir.path() / rec);
        CHECK(back.data.rows() == static_cast<std::size_t>(out.at("samples").as_int64()));
        CHECK(back.data.rows() > 0);
        CHECK(slurp(dir / "err.txt").find("stopping on SIGINT") != std::string::npos);
      }
    }
  }
}
