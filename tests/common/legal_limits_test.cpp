// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <vector>

#include "wim/common/error.hpp"
#include "wim/common/legal_limits.hpp"

using namespace wim::legal;

TEST_CASE("Every row of the gross-limit table carries the figure of the source") {
  // MOT Order 2016 No. 62 Art. 3 / GB 1589-2016, as in shared/domain/FACTS.md.
  const std::vector<std::pair<VehicleClass, double>> expected = {
      {VehicleClass::truck_2axle, 18000},
      {VehicleClass::truck_3axle, 25000},
      {VehicleClass::combination_3axle, 27000},
      {VehicleClass::truck_4axle, 31000},
      {VehicleClass::combination_4axle, 36000},
      {VehicleClass::combination_5axle, 43000},
      {VehicleClass::combination_6axle, 49000},
      {VehicleClass::combination_6axle_single_drive, 46000}};
  REQUIRE(gross_limit_table().size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(gross_limit_table()[i].vehicle_class == expected[i].first);
    CHECK(gross_limit_table()[i].limit_kg == expected[i].second);
    CHECK(gross_limit_kg(expected[i].first) == expected[i].second);
    CHECK(vehicle_class_from_string(to_string(expected[i].first)) == expected[i].first);
  }
  CHECK(kGrossLimitSource.find("MOT Order 2016 No. 62") != std::string_view::npos);
  CHECK(kGrossLimitSource.find("GB 1589-2016") != std::string_view::npos);
  CHECK_THROWS_AS(vehicle_class_from_string("lorry"), wim::InputError);
}

TEST_CASE("Axle groups and configuration codes follow the spacings") {
  const std::vector<double> six{3.3, 1.3, 5.5, 1.3, 1.3};
  CHECK(axle_groups(six, 2.0) == std::vector<int>{1, 2, 3});
  CHECK(axle_config_code(axle_groups(six, 2.0)) == "1-2-3");
  const std::vector<double> two{4.0};
  CHECK(axle_config_code(axle_groups(two, 2.0)) == "1-1");
}

TEST_CASE("Each axle pattern gets its class and limit") {
  struct Case {
    std::vector<double> spacings;
    VehicleClass cls;
    double limit;
    bool ambiguous;
  };
  const std::vector<Case> cases = {
      {{4.5}, VehicleClass::truck_2axle, 18000, false},
      {{4.5, 1.3}, VehicleClass::truck_3axle, 25000, false},
      {{1.8, 4.5}, VehicleClass::truck_3axle, 25000, false},
      {{3.5, 5.5}, VehicleClass::combination_3axle, 27000, true},
      {{1.8, 4.0, 1.3}, VehicleClass::truck_4axle, 31000, false},
      {{2.7, 3.8, 1.3}, VehicleClass::combination_4axle, 36000, true},
      {{3.3, 1.3, 5.5, 1.3}, VehicleClass::combination_5axle, 43000, false},
      {{3.3, 1.3, 5.5, 1.3, 1.3}, VehicleClass::combination_6axle, 49000, true},
      {{3.6, 5.0, 1.3, 4.5, 1.3}, VehicleClass::combination_6axle_single_drive, 46000, false},
  };
  for (const Case& c : cases) {
    const auto g = axle_groups(c.spacings, 2.0);
    const Classification k = classify(g, c.spacings, 20000);
    INFO(axle_config_code(g) << " -> " << k.rule);
    CHECK(k.vehicle_class == c.cls);
    CHECK(k.limit_kg == c.limit);
    CHECK(k.ambiguous == c.ambiguous);
  }
  const std::vector<double> car{2.6};
  CHECK(classify(axle_groups(car, 2.0), car, 1500).vehicle_class == VehicleClass::car);
  CHECK(classify(axle_groups(car, 2.0), car, 1500).limit_kg == 18000);
}

TEST_CASE("Ambiguity takes the higher limit: no penalty rests on a guess") {
  GIVEN("a 3-axle vehicle 1-1-1 at 26 000 kg: over a truck's 25 t, within a combination's 27 t") {
    const std::vector<double> loads{7000, 10000, 9000};
    const std::vector<double> spacings{3.5, 5.5};
    LegalSettings s;
    s.uncertainty_pct = 0;
    WHEN("the pattern is decided") {
      const LegalBasis b = decide(loads, spacings, s, true);
      THEN("the 27 000 kg limit applies and no case is raised") {
        CHECK(b.classification.ambiguous);
        CHECK(b.limit_kg == 27000);
        CHECK(b.verdict == Verdict::within_limit);
        CHECK_FALSE(b.overloaded);
        CHECK(b.classification.candidates.size() == 2);
        CHECK(b.classification.rule.find("higher limit") != std::string::npos);
      }
    }
  }
}

TEST_CASE("Overload ratio, uncertainty margin, tolerance and the warning band") {
  const std::vector<double> spacings{4.5};
  LegalSettings s;
  s.uncertainty_pct = 0;
  s.tolerance_kg = 0;
  auto verdict = [&](double gross) {
    const std::vector<double> loads{gross * 0.4, gross * 0.6};
    return decide(loads, spacings, s, true);
  };
  GIVEN("no tolerance and no margin") {
    CHECK(verdict(18000).verdict == Verdict::within_limit);
    CHECK(verdict(18000).overload_ratio == Approx(0.0));
    CHECK(verdict(18500).verdict == Verdict::warning);  // excess 500 kg <= 1 000 kg
    CHECK(verdict(19000).verdict == Verdict::warning);  // exactly 1 000 kg: still a warning
    CHECK(verdict(19001).verdict == Verdict::overload);
    CHECK(verdict(19001).overloaded);
    CHECK(verdict(22500).overload_ratio == Approx(0.25));
    CHECK(verdict(9000).overload_ratio == Approx(-0.5));
  }
  GIVEN("a 5 % measurement-uncertainty margin") {
    s.uncertainty_pct = 5;
    const LegalBasis b = verdict(20000);  // 20 000 - 1 000 - 18 000 = 1 000 kg
    CHECK(b.uncertainty_kg == Approx(1000));
    CHECK(b.excess_kg == Approx(1000));
    CHECK(b.verdict == Verdict::warning);
    CHECK(verdict(18900).verdict == Verdict::within_tolerance);
    CHECK(verdict(21000).verdict == Verdict::overload);
  }
  GIVEN("a tolerance of 500 kg or 5 %: the larger applies and is recorded") {
    s.tolerance_kg = 500;
    s.tolerance_pct = 5;  // 900 kg of 18 000 kg
    const LegalBasis b = verdict(19800);
    CHECK(b.tolerance_kg == Approx(900));
    CHECK(b.excess_kg == Approx(900));
    CHECK(b.verdict == Verdict::warning);
    CHECK(b.settings.tolerance_kg == 500);
    CHECK(b.settings.tolerance_pct == 5);
    CHECK(verdict(18800).verdict == Verdict::within_tolerance);
  }
  GIVEN("an invalid pass") {
    const std::vector<double> loads{12000, 18000};
    const LegalBasis b = decide(loads, spacings, s, false);
    THEN("it is not enforceable and raises no case, though the ratio is computed") {
      CHECK(b.verdict == Verdict::not_enforceable);
      CHECK_FALSE(b.overloaded);
      CHECK(b.overload_ratio == Approx(12000.0 / 18000));
    }
  }
}

TEST_CASE("Axle-group limits come from a configured table with its source") {
  LegalSettings s;
  s.axle_uncertainty_pct = 0;
  const std::vector<double> loads{6000, 9000, 9000, 8000, 8000, 8000};
  const std::vector<double> spacings{3.3, 1.3, 5.5, 1.3, 1.3};
  GIVEN("no table configured") {
    const LegalBasis b = decide(loads, spacings, s, true);
    THEN("groups are reported without limits and never overloaded") {
      REQUIRE(b.groups.size() == 3);
      CHECK(b.groups[1].load_kg == 18000);
      CHECK(b.groups[1].limit_kg == 0);
      CHECK_FALSE(b.group_overload);
    }
  }
  GIVEN("a table: tandem 17 t and tridem 21 t at 1.3-1.8 m, single 10 t") {
    s.axle_limits.source = "test table";
    s.axle_limits.rows = {{2, 1.3, 1.8, 17000}, {3, 1.3, 1.8, 21000}, {1, 0, 1e9, 10000}};
    s.validate("legal");
    const LegalBasis b = decide(loads, spacings, s, true);
    THEN("the tandem (18 t) and tridem (24 t) are over, the steer axle within") {
      CHECK_FALSE(b.groups[0].overloaded);
      CHECK(b.groups[1].overloaded);
      CHECK(b.groups[1].excess_kg == Approx(1000));
      CHECK(b.groups[2].overloaded);
      CHECK(b.groups[2].excess_kg == Approx(3000));
      CHECK(b.group_overload);
    }
    s.axle_limits.source.clear();
    CHECK_THROWS_WITH(s.validate("legal"), Catch::Contains("legal.axle_limits.source"));
  }
}
