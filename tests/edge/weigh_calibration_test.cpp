// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "weigh_signal.hpp"
#include "wim/edge/weigh/calibration.hpp"

namespace fs = std::filesystem;

TEST_CASE("Calibration recovers a row's gain from reference-truck passes") {
  GIVEN("row 2 whose true gain is 10 % above the configured one, and 4 passes of a 3-axle truck") {
    const fs::path dir = fs::temp_directory_path() / "wim_weigh_calibration_test";
    fs::create_directories(dir);
    wim::test::TestSite site;
    site.wrong_gain_row_factor = 1.10;
    const std::vector<double> loads{6200, 9900, 9900};
    std::vector<wim::weigh::ReferenceRun> runs;
    int k = 0;
    for (double kmh : {40.0, 60.0, 80.0, 95.0}) {
      const auto rec = wim::test::render(site, {{1.0, kmh, 0, loads, {4.6, 1.3}}}, 3.0);
      const fs::path p = dir / ("run" + std::to_string(k++) + ".csv");
      std::ofstream f(p);
      wim::recording::Writer w(f, rec.header);
      std::vector<std::int32_t> row(rec.data.counts.size());
      for (std::size_t i = 0; i < rec.data.rows(); ++i) {
        for (std::size_t c = 0; c < row.size(); ++c) row[c] = rec.data.counts[c][i];
        w.write(rec.data.t_us[i], row);
      }
      runs.push_back({p, loads});
    }
    WHEN("the station is calibrated") {
      const auto res = wim::weigh::calibrate(site.config(), runs, "CAL-T1", "2026-11-27");
      THEN("row 2's channels get +10 %, the others stay, and the residuals are small") {
        for (std::size_t c = 0; c < res.new_gain.size(); ++c) {
          INFO(res.calibrated.channels[c].name);
          const double expect = res.calibrated.channels[c].row_m == 1.0 ? 0.275 : 0.25;
          CHECK(res.new_gain[c] == Approx(expect).epsilon(0.015));
          CHECK(res.wheels[c] == 12);
        }
        CHECK(res.calibrated.calibration_id == "CAL-T1");
        CHECK(std::abs(res.gross_after.bias_pct) < 1.0);
        CHECK(res.gross_after.sd_pct < 1.0);
        CHECK(res.gross_after.n == 4);
        CHECK(res.axle_after.n == 12);
        CHECK(res.gross_before.bias_pct < res.gross_after.bias_pct);
        const auto j = wim::weigh::to_json(res);
        CHECK(j.at("calibration_id").as_string() == "CAL-T1");
        CHECK(j.at("gross_after").as_object().contains("ci95_pct"));
      }
    }
    fs::remove_all(dir);
  }
}

TEST_CASE("Residuals report bias, standard deviation and the 95 % interval") {
  const auto r = wim::weigh::residuals({1.0, -1.0, 2.0, 0.0});
  CHECK(r.n == 4);
  CHECK(r.bias_pct == Approx(0.5));
  CHECK(r.sd_pct == Approx(std::sqrt(5.0 / 3)));
  CHECK(r.ci95_lo_pct == Approx(0.5 - 1.96 * std::sqrt(5.0 / 3)));
}

TEST_CASE("Calibration needs at least two passes and a vehicle with the reference axles") {
  wim::test::TestSite site;
  CHECK_THROWS_WITH(wim::weigh::calibrate(site.config(), {}, "X", "D"),
                    Catch::Contains("at least 2"));
}
