// SPDX-License-Identifier: Apache-2.0
// The simulated roadside: reproducible, truth consistent with the recorded signal.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "options.hpp"
#include "physics.hpp"
#include "record.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/recording.hpp"

namespace fs = std::filesystem;
using namespace wim;
using namespace wim::sim;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("wim_hw_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<boost::json::object> read_truth(const fs::path& p) {
  std::vector<boost::json::object> out;
  std::ifstream f(p);
  for (std::string line; std::getline(f, line);)
    out.push_back(json::as_object(json::parse(line, "truth"), "truth"));
  return out;
}

/// Wheel loads [kg] per channel by the contract-2 strip formula, summed over the pass.
std::map<std::string, double> strip_loads(const recording::Recording& rec,
                                          const boost::json::object& station,
                                          const boost::json::object& v) {
  const double t0 = static_cast<double>(v.at("t_us").to_number<std::int64_t>());
  const double v_mps = v.at("speed_kmh").to_number<double>() / 3.6;
  double wheelbase_m = 0;
  for (const auto& s : v.at("axle_spacings_m").as_array()) wheelbase_m += s.to_number<double>();
  const double dt_s = 1.0 / rec.header.sample_rate_hz;
  std::map<std::string, double> out;
  const auto& chans = station.at("channels").as_array();
  for (std::size_t c = 0; c < chans.size(); ++c) {
    const auto& ch = chans[c].as_object();
    const double row_m = ch.at("row_m").to_number<double>();
    const double from_us = t0 + (row_m - 0.6) / v_mps * 1e6;
    const double to_us = t0 + (row_m + wheelbase_m + 0.6) / v_mps * 1e6;
    double sum = 0;
    for (std::size_t i = 0; i < rec.data.rows(); ++i) {
      const auto t = static_cast<double>(rec.data.t_us[i]);
      if (t >= from_us && t <= to_us)
        sum += (rec.data.counts[c][i] - ch.at("zero").to_number<double>()) * dt_s;
    }
    out[std::string(ch.at("name").as_string())] =
        ch.at("gain").to_number<double>() * v_mps * sum / ch.at("length_m").to_number<double>();
  }
  return out;
}

}  // namespace

TEST_CASE("sim: the same seed writes byte-identical recordings and truth", "[hw][sim]") {
  SimOptions opt;
  opt.seed = 42;
  opt.traffic.flow_veh_per_h = 3000;
  const auto a = temp_dir("det_a"), b = temp_dir("det_b");
  record(opt, 5, a);
  record(opt, 5, b);
  CHECK(slurp(a / "rec.csv") == slurp(b / "rec.csv"));
  CHECK(slurp(a / "truth.jsonl") == slurp(b / "truth.jsonl"));
  CHECK(slurp(a / "station.json") == slurp(b / "station.json"));
  opt.seed = 43;
  record(opt, 5, b);
  CHECK(slurp(a / "truth.jsonl") != slurp(b / "truth.jsonl"));
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST_CASE("sim: truth lines carry every documented field, consistently", "[hw][sim]") {
  SimOptions opt;
  opt.seed = 3;
  opt.site.lanes = 2;
  opt.traffic.flow_veh_per_h = 4000;
  const auto dir = temp_dir("truth");
  const RecordResult r = record(opt, 40, dir);
  REQUIRE(r.vehicles == 40);
  CHECK(r.channels == 16);
  const auto truth = read_truth(dir / "truth.jsonl");
  REQUIRE(truth.size() == 40);
  std::int64_t last_t = -1;
  for (const auto& v : truth) {
    for (const char* k :
         {"id", "lane", "t_us", "speed_kmh", "accel_mps2", "class", "axle_count", "axle_loads_kg",
          "axle_spacings_m", "axle_groups", "gross_kg", "plate", "straddling"})
      REQUIRE(v.contains(k));
    const auto n = v.at("axle_count").to_number<std::size_t>();
    CHECK(v.at("axle_loads_kg").as_array().size() == n);
    CHECK(v.at("axle_spacings_m").as_array().size() == n - 1);
    std::size_t in_groups = 0;
    for (const auto& g : v.at("axle_groups").as_array()) in_groups += g.to_number<std::size_t>();
    CHECK(in_groups == n);
    double sum = 0;
    for (const auto& l : v.at("axle_loads_kg").as_array()) sum += l.to_number<double>();
    CHECK(sum == v.at("gross_kg").to_number<double>());
    const double kmh = v.at("speed_kmh").to_number<double>();
    CHECK(kmh >= 30);
    CHECK(kmh <= 100);
    const auto t = v.at("t_us").to_number<std::int64_t>();
    CHECK(t > last_t);
    last_t = t;
    CHECK(!v.at("plate").as_object().at("text").as_string().empty());
  }
  // The station config names every recording column, in order.
  const auto station = json::as_object(json::load_file(dir / "station.json"), "station");
  auto reader = recording::Reader::open(dir / "rec.csv");
  const auto& chans = station.at("channels").as_array();
  REQUIRE(chans.size() == reader->header().channels.size());
  for (std::size_t i = 0; i < chans.size(); ++i)
    CHECK(chans[i].as_object().at("name").as_string() == reader->header().channels[i]);
  fs::remove_all(dir);
}

TEST_CASE("sim: a vehicle's energy in the strip signal matches its truth", "[hw][sim]") {
  GIVEN("a 4-row strip site with dynamics, noise, drift and acceleration at their defaults") {
    SimOptions opt;
    opt.seed = 11;
    opt.traffic.flow_veh_per_h = 3000;
    opt.traffic.class_share = {0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
    const auto dir = temp_dir("energy");
    record(opt, 8, dir);
    const auto rec = recording::read_all(dir / "rec.csv");
    const auto station = json::as_object(json::load_file(dir / "station.json"), "station");
    const auto truth = read_truth(dir / "truth.jsonl");
    for (const auto& v : truth) {
      WHEN("vehicle " + std::to_string(v.at("id").to_number<int>()) +
           " is inverted by the formula") {
        const auto loads = strip_loads(rec, station, v);
        double all_rows = 0;
        for (const auto& [name, kg] : loads) all_rows += kg;
        const double rows = 4;
        const double gross = v.at("gross_kg").to_number<double>();
        THEN("the mean over the rows is within 4 % of the static gross") {
          CHECK(std::abs(all_rows / rows / gross - 1) < 0.04);
        }
      }
    }
    fs::remove_all(dir);
  }
  GIVEN("no dynamics, noise, drift or acceleration") {
    SimOptions opt;
    opt.seed = 5;
    opt.traffic.flow_veh_per_h = 3000;
    opt.traffic.bounce_amp = opt.traffic.hop_amp = opt.traffic.accel_max_mps2 = 0;
    opt.site.noise_counts = 0;
    opt.site.temperature_slope_c_per_h = 0;
    const auto dir = temp_dir("energy_clean");
    record(opt, 4, dir);
    const auto rec = recording::read_all(dir / "rec.csv");
    const auto station = json::as_object(json::load_file(dir / "station.json"), "station");
    for (const auto& v : read_truth(dir / "truth.jsonl")) {
      const auto loads = strip_loads(rec, station, v);
      // Every row gives the gross within 0.5 %.
      INFO("vehicle " << v.at("id").to_number<int>());
      for (int row = 1; row <= 4; ++row) {
        const std::string r = "L1R" + std::to_string(row);
        const double gross = loads.at(r + "L") + loads.at(r + "R");
        CHECK(gross == Approx(v.at("gross_kg").to_number<double>()).epsilon(0.005));
      }
    }
    fs::remove_all(dir);
  }
}

TEST_CASE("sim: bad site, traffic and fault options are refused naming the field", "[hw][sim]") {
  SimOptions opt;
  opt.site.lanes = 5;
  CHECK_THROWS_WITH(record(opt, 1, temp_dir("bad")), Catch::Contains("lanes"));
  opt = SimOptions{};
  opt.site.rows_m = {0, 0.02};
  CHECK_THROWS_WITH(record(opt, 1, temp_dir("bad")), Catch::Contains("rows_m[1]"));
  opt = SimOptions{};
  opt.traffic.overload_share = 1.5;
  CHECK_THROWS_WITH(record(opt, 1, temp_dir("bad")), Catch::Contains("overload_share"));
  opt = SimOptions{};
  opt.faults.push_back({"L9R1L", ChannelFaultKind::dead, 0});
  CHECK_THROWS_WITH(record(opt, 1, temp_dir("bad")), Catch::Contains("L9R1L"));
  fs::remove_all(temp_dir("bad"));
}

TEST_CASE("sim: stuck and dead channels and saturation show in the signal", "[hw][sim]") {
  SiteConfig site;
  site.saturation_counts = 600;
  std::vector<Channel> chans = site.channels(1);
  TrafficConfig tc;
  tc.flow_veh_per_h = 3000;
  tc.class_share = {0, 0, 0, 0, 0, 0, 0, 1, 0};  // heavy 6-axle combinations
  tc.overload_share = 1;
  TrafficModel traffic(tc, 1, 100'000, 1);
  SignalSynth synth(
      site, chans, [&]() -> std::optional<Vehicle> { return traffic.next(); },
      {{0, ChannelFaultKind::dead, 0}, {1, ChannelFaultKind::stuck, 500'000}}, 1);
  std::vector<std::int32_t> row(chans.size());
  std::int32_t stuck_value = 0;
  bool saw_saturation = false;
  for (int i = 0; i < 4000 * 6; ++i) {
    const auto t_us = synth.next(row);
    CHECK(row[0] == 0);
    if (t_us == 500'000) stuck_value = row[1];
    if (t_us >= 500'000) CHECK(row[1] == stuck_value);
    saw_saturation = saw_saturation || synth.saturated()[2];
    CHECK(std::abs(row[2]) <= 600);
  }
  CHECK(synth.dead()[0]);
  CHECK(saw_saturation);
}

TEST_CASE("sim: a plate reads the axle load while the wheels are fully on it", "[hw][sim]") {
  GIVEN("a plate site without dynamics, noise or drift") {
    SimOptions opt;
    opt.seed = 17;
    opt.site.kind = SensorKind::plate;
    opt.site.length_m = 0.6;
    opt.site.gain_kg_per_count = 1.0;
    opt.site.rows_m = {0, 1.5};
    opt.site.noise_counts = 0;
    opt.site.temperature_slope_c_per_h = 0;
    opt.traffic.bounce_amp = opt.traffic.hop_amp = opt.traffic.accel_max_mps2 = 0;
    opt.traffic.flow_veh_per_h = 3000;
    const auto dir = temp_dir("plate");
    record(opt, 4, dir);
    const auto rec = recording::read_all(dir / "rec.csv");
    const auto station = json::as_object(json::load_file(dir / "station.json"), "station");
    const auto& ch = station.at("channels").as_array();
    const double zl = ch[0].as_object().at("zero").to_number<double>();
    const double zr = ch[1].as_object().at("zero").to_number<double>();
    for (const auto& v : read_truth(dir / "truth.jsonl")) {
      const auto t0 = v.at("t_us").to_number<std::int64_t>();
      const double v_mps = v.at("speed_kmh").to_number<double>() / 3.6;
      double wheelbase = 0, max_axle = 0;
      for (const auto& s : v.at("axle_spacings_m").as_array()) wheelbase += s.to_number<double>();
      for (const auto& a : v.at("axle_loads_kg").as_array())
        max_axle = std::max(max_axle, a.to_number<double>());
      double peak = 0;
      for (std::size_t i = 0; i < rec.data.rows(); ++i) {
        const auto t = rec.data.t_us[i];
        if (t < t0 - 1'000'000 || t > t0 + static_cast<std::int64_t>((wheelbase + 1) / v_mps * 1e6))
          continue;
        peak = std::max(peak, rec.data.counts[0][i] - zl + rec.data.counts[1][i] - zr);
      }
      // The plateau of row 1 (left + right) is the heaviest axle's static load.
      INFO("vehicle " << v.at("id").to_number<int>());
      CHECK(peak == Approx(max_axle).epsilon(0.002).margin(2));
    }
    fs::remove_all(dir);
  }
}

namespace {
/// [s] when a point of a vehicle d_m ahead of (d_m < 0: behind) its first axle passes row 1,
/// relative to the first axle's time there: found by bisection on x(t) = v0 t + a t^2 / 2 + d,
/// independently of the traffic model's closed form.
double passes_row1_s(const Vehicle& v, double d_m) {
  const double v0 = v.speed_kmh / 3.6, a = v.accel_mps2;
  double lo = -10, hi = 10;
  for (int i = 0; i < 200; ++i) {
    const double t = (lo + hi) / 2;
    (v0 * t + 0.5 * a * t * t + d_m < 0 ? lo : hi) = t;
  }
  return (lo + hi) / 2;
}
}  // namespace

TEST_CASE(
    "sim: the least time gap is kept at row 1, from the leader's rear end to the "
    "follower's front end",
    "[hw][sim]") {
  TrafficConfig tc;
  tc.flow_veh_per_h = 6000;  // nearly every vehicle is held back by the gap
  tc.min_headway_s = 0.4;
  tc.accel_max_mps2 = 1.0;
  TrafficModel traffic(tc, 1, 0, 3);
  std::vector<Vehicle> vs;
  for (int i = 0; i < 400; ++i) vs.push_back(traffic.next());
  std::size_t binding = 0;
  double least = 1e9;
  for (std::size_t i = 1; i < vs.size(); ++i) {
    const Vehicle& l = vs[i - 1];
    const Vehicle& f = vs[i];
    const double rear_s = static_cast<double>(l.t_us) * 1e-6 +
                          passes_row1_s(l, -(l.wheelbase_m() + l.rear_overhang_m));
    const double front_s =
        static_cast<double>(f.t_us) * 1e-6 + passes_row1_s(f, f.front_overhang_m);
    const double gap_s = front_s - rear_s;
    least = std::min(least, gap_s);
    binding += gap_s < 0.4 + 1e-3;
  }
  CHECK(least >= 0.4 - 2e-6);  // t_us is whole microseconds
  CHECK(least <= 0.4 + 2e-6);
  CHECK(binding > vs.size() / 2);

  // Overhangs come from their class's range (docs/simulator.md) and are in the truth.
  for (const Vehicle& v : vs) {
    const bool car = v.cls == VehicleClass::car;
    CHECK(v.front_overhang_m >= (car ? 0.8 : 1.2));
    CHECK(v.front_overhang_m <= (car ? 1.0 : 1.5));
    CHECK(v.rear_overhang_m >= (car ? 0.7 : 1.0));
    CHECK(v.rear_overhang_m <= (car ? 1.0 : 2.5));
    CHECK(v.truth_json().at("rear_overhang_m").as_double() ==
          Approx(v.rear_overhang_m).margin(5e-4));
  }
}
