// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <string>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/station_config.hpp"

using namespace wim::config;

namespace {
std::string channels(const std::string& extra = "") {
  return R"({"station_id":"G017",)" + extra + R"("channels":[
    {"name":"L1R1L","lane":1,"row_m":0,"side":"left","kind":"strip","length_m":0.05,"gain":0.25,"zero":12},
    {"name":"L1R1R","lane":1,"row_m":0,"side":"right","kind":"strip","length_m":0.05,"gain":0.25,"zero":-3}]})";
}
StationConfig parse(const std::string& text) {
  return parse_station_config(wim::json::parse(text, "station.json"), "station.json");
}
std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const wim::InputError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("A config with only the contract-2 fields is complete") {
  const StationConfig c = parse(channels(R"("uplink":{"url":"x"},)"));
  CHECK(c.station_id == "G017");
  REQUIRE(c.channels.size() == 2);
  CHECK(c.channels[1].name == "L1R1R");
  CHECK(c.channels[1].side == Side::right);
  CHECK(c.channels[0].gain == 0.25);
  CHECK(c.channels[1].zero == -3);
  CHECK(c.lanes() == std::vector<int>{1});
  CHECK(c.weighing.vehicle_gap_s == WeighSettings{}.vehicle_gap_s);
  CHECK(c.weighing.car_wheelbase_min_m == 1.8);  // [m] docs/station-config.md
  CHECK(c.legal.uncertainty_pct == wim::legal::LegalSettings{}.uncertainty_pct);
}

TEST_CASE("Weighing and legal settings override the defaults") {
  const StationConfig c = parse(channels(
      R"("weighing":{"min_speed_kmh":20,"max_accel_mps2":0.5,"row_bias_vehicles":9,"light_tow_max_kg":3500,"car_wheelbase_min_m":2.0},"legal":{"tolerance_kg":500,
      "axle_limits":{"source":"DB-XX","rows":[{"axles":2,"min_spacing_m":1.3,"limit_kg":18000}]}},
      "calibration":{"id":"CAL-7","date":"2026-11-27"},)"));
  CHECK(c.weighing.min_speed_kmh == 20);
  CHECK(c.weighing.max_accel_mps2 == 0.5);
  CHECK(c.weighing.row_bias_vehicles == 9);
  CHECK(c.weighing.light_tow_max_kg == 3500);
  CHECK(c.weighing.car_wheelbase_min_m == 2.0);
  CHECK(c.legal.tolerance_kg == 500);
  CHECK(c.legal.axle_limits.source == "DB-XX");
  CHECK(c.legal.axle_limits.rows.at(0).limit_kg == 18000);
  CHECK(c.calibration_id == "CAL-7");
}

TEST_CASE("Every config error names the file and the field") {
  std::string bad = channels();
  bad.replace(bad.find(R"("kind":"strip")"), 14, R"("kind":"piezo")");
  CHECK(error_of(bad) == "station.json: channels[0].kind: expected strip or plate, got 'piezo'");
  std::string nogain = channels();
  nogain.replace(nogain.find(R"("gain":0.25,)"), 12, "");
  CHECK(error_of(nogain) == "station.json: channels[0].gain: missing");
  CHECK_THAT(error_of(R"({"channels":[]})"), Catch::Contains("station.json: station_id"));
  CHECK_THAT(error_of(channels(R"("weighing":{"min_speed_kmh":-4},)")),
             Catch::Contains("station.json: weighing.min_speed_kmh: must be in"));
  CHECK_THAT(error_of(channels(R"("weighing":{"row_bias_vehicles":0},)")),
             Catch::Contains("station.json: weighing.row_bias_vehicles: must be in"));
  CHECK_THAT(error_of(channels(R"("weighing":{"row_bias_vehicles":2.5},)")),
             Catch::Contains("weighing.row_bias_vehicles"));
  CHECK_THAT(error_of(channels(R"("weighing":{"light_tow_max_kg":-1},)")),
             Catch::Contains("station.json: weighing.light_tow_max_kg: must be in"));
  // A car's wheelbase: not negative, not a word, and not beyond certain_axle_spacing_m
  // (a longer "wheelbase" would be a spacing the rule treats as a gap to a follower).
  CHECK_THAT(error_of(channels(R"("weighing":{"car_wheelbase_min_m":-0.5},)")),
             Catch::Contains("station.json: weighing.car_wheelbase_min_m: must be in"));
  CHECK_THAT(error_of(channels(R"("weighing":{"car_wheelbase_min_m":"1.8 m"},)")),
             Catch::Contains("weighing.car_wheelbase_min_m"));
  CHECK_THAT(
      error_of(channels(R"("weighing":{"certain_axle_spacing_m":5,"car_wheelbase_min_m":5.5},)")),
      Catch::Contains("station.json: weighing.car_wheelbase_min_m: must be in"));
  CHECK_THAT(error_of(channels(R"("legal":{"uncertainty_pct":"five"},)")),
             Catch::Contains("station.json: legal.uncertainty_pct"));
  const std::string lone = R"({"station_id":"G017","channels":[
    {"name":"L1R1L","lane":1,"row_m":0,"side":"left","kind":"strip","length_m":0.05,"gain":0.25,"zero":0}]})";
  CHECK_THAT(error_of(lone), Catch::Contains("no channel for the right wheel track"));
}
