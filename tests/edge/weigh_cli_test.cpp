// SPDX-License-Identifier: Apache-2.0
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "weigh_signal.hpp"

int cmd_weigh(int argc, char** argv);

namespace fs = std::filesystem;

namespace {

struct Run {
  int rc;
  std::string out, err;
};

Run run_weigh(const std::vector<std::string>& args) {
  std::vector<std::string> a{"weigh"};
  a.insert(a.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : a) argv.push_back(s.data());
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  const int rc = cmd_weigh(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return {rc, out.str(), err.str()};
}

struct Dir {
  fs::path path;
  Dir() {
    path = fs::temp_directory_path() /
           ("wim_weigh_cli_" + std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::create_directories(path);
    std::ofstream(path / "station.json") << R"({"station_id":"T001","channels":[
      {"name":"L1R1L","lane":1,"row_m":0,"side":"left","kind":"strip","length_m":0.05,"gain":0.25,"zero":0},
      {"name":"L1R1R","lane":1,"row_m":0,"side":"right","kind":"strip","length_m":0.05,"gain":0.25,"zero":0},
      {"name":"L1R2L","lane":1,"row_m":1,"side":"left","kind":"strip","length_m":0.05,"gain":0.25,"zero":0},
      {"name":"L1R2R","lane":1,"row_m":1,"side":"right","kind":"strip","length_m":0.05,"gain":0.25,"zero":0}]})";
  }
  ~Dir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

const char* kHead = "# wim-recording 1\n# sample_rate_hz=4000\n# station=T001\n";

}  // namespace

TEST_CASE("wim-edge weigh prints one contract-3 line per vehicle in pass order") {
  GIVEN("a recording of two trucks made with the station's own geometry") {
    Dir d;
    wim::test::TestSite site;
    site.rows = 2;
    const auto rec = wim::test::render(
        site, {{1.0, 60, 0, {6000, 11000}, {4.5}}, {3.0, 70, 0, {7000, 12000, 12000}, {4.8, 1.3}}},
        5.0);
    wim::config::StationConfig cfg = site.config();
    std::ostringstream csv;
    wim::recording::Writer w(csv, rec.header);
    std::vector<std::int32_t> row(rec.data.counts.size());
    for (std::size_t i = 0; i < rec.data.rows(); ++i) {
      for (std::size_t c = 0; c < row.size(); ++c) row[c] = rec.data.counts[c][i];
      w.write(rec.data.t_us[i], row);
    }
    const std::string rec_path = d.write("rec.csv", csv.str());
    std::string station = R"({"station_id":"T001","channels":[)";
    for (std::size_t i = 0; i < cfg.channels.size(); ++i) {
      const auto& c = cfg.channels[i];
      station +=
          (i ? "," : "") + std::string(R"({"name":")") + c.name + R"(","lane":1,"row_m":)" +
          std::to_string(c.row_m) + R"(,"side":")" + std::string(wim::config::to_string(c.side)) +
          R"(","kind":"strip","length_m":0.05,"gain":0.25,"zero":)" + std::to_string(c.zero) + "}";
    }
    station += "]}";
    const std::string cfg_path = d.write("station2.json", station);
    WHEN("a technician runs wim-edge weigh") {
      const Run r = run_weigh({"--config", cfg_path, "--recording", rec_path});
      THEN("two JSON lines come out with the named fields") {
        INFO(r.err);
        REQUIRE(r.rc == 0);
        std::istringstream lines(r.out);
        std::string line;
        std::vector<boost::json::object> objs;
        while (std::getline(lines, line)) objs.push_back(boost::json::parse(line).as_object());
        REQUIRE(objs.size() == 2);
        for (const char* k : {"t_us", "lane", "speed_kmh", "axle_loads_kg", "axle_spacings_m",
                              "gross_kg", "axle_config", "limit_kg", "overload_ratio", "overloaded",
                              "valid", "reasons", "legal_basis", "software_sha256"})
          CHECK(objs[0].contains(k));
        CHECK(objs[0].at("t_us").as_int64() < objs[1].at("t_us").as_int64());
        CHECK(objs[0].at("axle_config").as_string() == "1-1");
        CHECK(objs[1].at("axle_config").as_string() == "1-2");
        CHECK(objs[1].at("gross_kg").to_number<double>() == Approx(31000).epsilon(0.01));
        CHECK(objs[1].at("overloaded").as_bool());  // 31 t on a 25 t rigid 3-axle truck
      }
    }
  }
}

TEST_CASE("Malformed recordings give a clear error with the line number") {
  Dir d;
  const std::string cfg = (d.path / "station.json").string();
  struct Case {
    const char* what;
    std::string text;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"bad header", std::string(kHead) + "time,L1R1L,L1R1R,L1R2L,L1R2R\n0,1,2,3,4\n", "rec.csv:4"},
      {"non-monotonic time",
       std::string(kHead) + "t_us,L1R1L,L1R1R,L1R2L,L1R2R\n0,1,2,3,4\n250,1,2,3,4\n250,1,2,3,4\n",
       "rec.csv:7"},
      {"missing value",
       std::string(kHead) + "t_us,L1R1L,L1R1R,L1R2L,L1R2R\n0,1,2,3,4\n250,1,2,,4\n", "rec.csv:6"},
      {"missing channel", std::string(kHead) + "t_us,L1R1L,L1R1R,L1R2L\n0,1,2,3\n", "L1R2R"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const std::string rec = d.write("rec.csv", c.text);
    const Run r = run_weigh({"--config", cfg, "--recording", rec});
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::Contains(c.expect));
    CHECK(r.out.empty());
  }
}

TEST_CASE("A malformed station config names the field, missing options show usage") {
  Dir d;
  const std::string bad = d.write("bad.json", R"({"station_id":"T001","channels":[{"name":"A"}]})");
  const std::string rec = d.write("rec.csv", std::string(kHead) + "t_us,A\n0,1\n");
  const Run r = run_weigh({"--config", bad, "--recording", rec});
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("bad.json: channels[0].lane: missing"));
  const Run u = run_weigh({"--config", bad});
  CHECK(u.rc == 2);
  CHECK_THAT(u.err, Catch::Contains("usage"));
}
