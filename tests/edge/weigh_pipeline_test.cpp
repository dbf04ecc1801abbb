// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <numeric>
#include <string>

#include "weigh_signal.hpp"
#include "wim/edge/weigh/pipeline.hpp"
#include "wim/edge/weigh/software_id.hpp"

using wim::test::has_reason;
using wim::test::render;
using wim::test::TestSite;
using wim::test::TestVehicle;
using wim::test::weigh;
using wim::weigh::WeighedVehicle;

namespace {

void check_loads(const WeighedVehicle& v, const TestVehicle& truth, double tol) {
  REQUIRE(v.axles.size() == truth.axle_loads_kg.size());
  for (std::size_t a = 0; a < v.axles.size(); ++a) {
    INFO("axle " << a);
    CHECK(v.axles[a].load_kg == Approx(truth.axle_loads_kg[a]).epsilon(tol));
  }
  for (std::size_t a = 0; a < v.axle_spacings_m.size(); ++a)
    CHECK(v.axle_spacings_m[a] == Approx(truth.spacings_m[a]).margin(0.03));
  CHECK(v.gross_kg == Approx(truth.gross_kg()).epsilon(tol));
}

}  // namespace

TEST_CASE("A two-axle truck at 60 km/h is weighed to within 1 %") {
  GIVEN("a 4-row strip site and a rigid 2-axle truck") {
    TestSite site;
    TestVehicle v{1.0, 60, 0, {6000, 11000}, {4.5}};
    WHEN("the pipeline weighs it") {
      const auto out = weigh(site, {v}, 3.0);
      THEN("axle loads, spacing, speed, class and limit are right") {
        REQUIRE(out.size() == 1);
        check_loads(out[0], v, 0.01);
        CHECK(out[0].speed_kmh == Approx(60).epsilon(0.005));
        CHECK(out[0].t_us == Approx(1'000'000).margin(500));
        CHECK(out[0].valid);
        CHECK(out[0].legal.axle_config == "1-1");
        CHECK(out[0].legal.limit_kg == 18000);
        CHECK_FALSE(out[0].legal.overloaded);
        CHECK(out[0].axles[0].rows_used == 4);
      }
    }
  }
}

TEST_CASE("A single axle is weighed but is not a vehicle fit for enforcement") {
  TestSite site;
  TestVehicle v{1.0, 50, 0, {8000}, {}};
  const auto out = weigh(site, {v}, 2.5);
  REQUIRE(out.size() == 1);
  CHECK(out[0].axles.at(0).load_kg == Approx(8000).epsilon(0.01));
  CHECK_FALSE(out[0].valid);
  CHECK(has_reason(out[0], "fewer than 2 axles"));
  CHECK(out[0].legal.verdict == wim::legal::Verdict::not_enforceable);
}

TEST_CASE("A tandem is grouped and weighed axle by axle") {
  TestSite site;
  TestVehicle v{1.0, 70, 0, {7000, 9500, 9500}, {4.8, 1.3}};
  const auto out = weigh(site, {v}, 3.0);
  REQUIRE(out.size() == 1);
  check_loads(out[0], v, 0.01);
  CHECK(out[0].legal.axle_config == "1-2");
  CHECK(out[0].legal.classification.vehicle_class == wim::legal::VehicleClass::truck_3axle);
  REQUIRE(out[0].legal.groups.size() == 2);
  CHECK(out[0].legal.groups[1].load_kg == Approx(19000).epsilon(0.01));
}

TEST_CASE("An overloaded 6-axle combination raises a case, one within its limit does not") {
  TestSite site;
  TestVehicle heavy{
      1.0, 65, 0, {7000, 10000, 10000, 10000, 10000, 10000}, {3.3, 1.3, 5.5, 1.3, 1.3}};
  TestVehicle legal{1.0, 65, 0, {6000, 8000, 8000, 8000, 8000, 8000}, {3.3, 1.3, 5.5, 1.3, 1.3}};
  const auto h = weigh(site, {heavy}, 3.5);
  const auto l = weigh(site, {legal}, 3.5);
  REQUIRE(h.size() == 1);
  REQUIRE(l.size() == 1);
  check_loads(h[0], heavy, 0.01);
  CHECK(h[0].legal.axle_config == "1-2-3");
  CHECK(h[0].legal.limit_kg == 49000);
  CHECK(h[0].legal.overload_ratio == Approx((57000.0 - 49000) / 49000).epsilon(0.05));
  CHECK(h[0].legal.overloaded);
  CHECK_FALSE(l[0].legal.overloaded);
  CHECK(l[0].legal.verdict == wim::legal::Verdict::within_limit);
}

TEST_CASE("Speed and loads are right at 30 and at 100 km/h") {
  TestSite site;
  for (double kmh : {30.0, 100.0}) {
    TestVehicle v{1.0, kmh, 0, {5000, 9000}, {4.0}};
    const auto out = weigh(site, {v}, 3.5);
    INFO(kmh << " km/h");
    REQUIRE(out.size() == 1);
    CHECK(out[0].speed_kmh == Approx(kmh).epsilon(0.005));
    check_loads(out[0], v, 0.015);
    CHECK(out[0].valid);
  }
}

TEST_CASE("Acceleration is measured, strong acceleration makes the pass unfit") {
  TestSite site;
  TestVehicle mild{1.0, 50, 0.4, {5000, 9000}, {4.0}};
  TestVehicle hard{1.0, 50, 2.5, {5000, 9000}, {4.0}};
  const auto m = weigh(site, {mild}, 3.0);
  const auto h = weigh(site, {hard}, 3.0);
  REQUIRE(m.size() == 1);
  REQUIRE(h.size() == 1);
  CHECK(m[0].accel_mps2 == Approx(0.4).margin(0.15));
  CHECK(m[0].valid);
  check_loads(m[0], mild, 0.015);
  CHECK_FALSE(h[0].valid);
  CHECK(has_reason(h[0], "acceleration"));
}

TEST_CASE("Baseline drift is tracked between vehicles, never during a pulse") {
  TestSite site;
  site.drift_counts_per_s = 10;  // 170 counts over the run: far beyond the 2-count noise
  std::vector<TestVehicle> vs;
  for (int i = 0; i < 4; ++i) vs.push_back({2.0 + 4.0 * i, 60, 0, {6000, 10000}, {4.5}});
  const auto out = weigh(site, vs, 17.0);
  REQUIRE(out.size() == 4);
  for (std::size_t i = 0; i < out.size(); ++i) check_loads(out[i], vs[i], 0.015);
}

TEST_CASE("A dead channel makes the pass unfit and never raises a case") {
  TestSite site;
  site.dead_channel = 2;                            // L1R2L
  TestVehicle v{1.0, 60, 0, {9000, 16000}, {4.5}};  // 25 t on 2 axles: far over 18 t
  const auto out = weigh(site, {v}, 3.0);
  REQUIRE(out.size() == 1);
  CHECK_FALSE(out[0].valid);
  CHECK(has_reason(out[0], "L1R2L"));
  CHECK_FALSE(out[0].legal.overloaded);
  CHECK(out[0].legal.verdict == wim::legal::Verdict::not_enforceable);
  CHECK(out[0].gross_kg == Approx(25000).epsilon(0.02));  // the other rows still weigh
}

TEST_CASE("A saturated channel makes the pass unfit") {
  TestSite site;
  site.saturation = 4000;  // a 10 t wheel gives ~10 000 counts on a 0.05 m strip
  wim::config::StationConfig cfg = site.config();
  cfg.weighing.saturation_counts = 4000;
  TestVehicle v{1.0, 60, 0, {6000, 20000}, {4.5}};
  const auto out = weigh(site, {v}, 3.0, 4096, &cfg);
  REQUIRE(out.size() == 1);
  CHECK_FALSE(out[0].valid);
  CHECK(has_reason(out[0], "saturated"));
  CHECK_FALSE(out[0].legal.overloaded);
}

TEST_CASE("One row with a wrong gain is outvoted by the others") {
  TestSite site;
  site.wrong_gain_row_factor = 1.3;  // row 2 reads 30 % low
  TestVehicle v{1.0, 60, 0, {6000, 11000}, {4.5}};
  const auto out = weigh(site, {v}, 3.0);
  REQUIRE(out.size() == 1);
  check_loads(out[0], v, 0.015);
  CHECK(out[0].axles[0].rows_used == 3);
}

TEST_CASE("Two vehicles close together are separated") {
  TestSite site;
  // Car 1.0 s ahead of a truck at 60 km/h: 16.7 m front to front, lane never quiet.
  TestVehicle car{1.0, 60, 0, {900, 700}, {2.6}};
  TestVehicle truck{2.0, 60, 0, {6000, 9000, 9000}, {4.5, 1.3}};
  const auto out = weigh(site, {car, truck}, 4.0);
  REQUIRE(out.size() == 2);
  check_loads(out[0], car, 0.02);
  check_loads(out[1], truck, 0.01);
  CHECK(out[0].legal.classification.vehicle_class == wim::legal::VehicleClass::car);
  CHECK(out[0].t_us < out[1].t_us);
}

TEST_CASE("Out-of-range speed and a straddling vehicle are flagged with reasons") {
  TestSite site;
  TestVehicle slow{1.0, 6, 0, {3000, 5000}, {3.0}};
  const auto s = weigh(site, {slow}, 4.5);
  REQUIRE(s.size() == 1);
  CHECK_FALSE(s[0].valid);
  CHECK(has_reason(s[0], "speed"));
  TestVehicle straddle{1.0, 60, 0, {6000, 11000}, {4.5}};
  straddle.straddling = true;
  const auto t = weigh(site, {straddle}, 3.0);
  REQUIRE(t.size() == 1);
  CHECK_FALSE(t[0].valid);
  CHECK(has_reason(t[0], "straddling"));
}

TEST_CASE("Plates weigh by the mean while the wheel is wholly on the plate") {
  TestSite site;
  site.kind = wim::config::SensorKind::plate;
  site.length_m = 0.6;
  site.gain = 1.0;
  site.rows = 2;
  site.row_spacing_m = 2.0;
  TestVehicle v{1.0, 50, 0, {6000, 10000}, {4.5}};
  const auto out = weigh(site, {v}, 3.0);
  REQUIRE(out.size() == 1);
  check_loads(out[0], v, 0.01);
  CHECK(out[0].speed_kmh == Approx(50).epsilon(0.01));
}

TEST_CASE("A single-row strip site measures speed from the pulse ramps") {
  TestSite site;
  site.rows = 1;
  TestVehicle v{1.0, 60, 0, {6000, 11000}, {4.5}};
  const auto out = weigh(site, {v}, 3.0);
  REQUIRE(out.size() == 1);
  CHECK(out[0].speed_kmh == Approx(60).epsilon(0.06));
  CHECK(out[0].gross_kg == Approx(17000).epsilon(0.06));
}

TEST_CASE("Results do not depend on how the samples are cut into blocks") {
  TestSite site;
  std::vector<TestVehicle> vs{{1.0, 60, 0, {900, 700}, {2.6}},
                              {2.5, 80, 0, {6000, 9000, 9000}, {4.5, 1.3}}};
  const auto a = weigh(site, vs, 5.0, 1);
  const auto b = weigh(site, vs, 5.0, 4096);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].t_us == b[i].t_us);
    CHECK(a[i].gross_kg == b[i].gross_kg);
  }
}

TEST_CASE("The legal code has a software identity") {
  const std::string_view id = wim::legal::software_sha256();
  CHECK(id.size() == 64);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string_view::npos);
  CHECK(wim::legal::software_files().find("legal_limits.cpp") != std::string_view::npos);
}
