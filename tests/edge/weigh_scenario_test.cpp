// SPDX-License-Identifier: Apache-2.0
// The hardest cells of the weigh_accuracy matrix (issue 21) as regression cases: wim-sim
// traffic through the pipeline, small enough for the default run (~40 vehicles each).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <optional>

#include "physics.hpp"
#include "site.hpp"
#include "traffic.hpp"
#include "wim/edge/weigh/pipeline.hpp"

namespace {

struct Outcome {
  std::size_t truth = 0, out = 0, axles_ok = 0, valid = 0, within5 = 0, false_cases = 0;
  std::size_t wrong_axles_valid = 0;  ///< output with a wrong axle count yet enforceable
  std::size_t speed_split = 0;        ///< outputs separated from a neighbour by speed only
  std::size_t speed_split_valid = 0;  ///< ... of them enforceable (must be 0)
  std::size_t car_split = 0;          ///< outputs separated by the car-wheelbase rule
  std::size_t car_split_valid = 0;    ///< ... of them enforceable (must be 0)
};

/// The signals of `source`'s vehicles through the pipeline: the vehicles drawn and the outputs.
std::pair<std::vector<wim::sim::Vehicle>, std::vector<wim::weigh::WeighedVehicle>> weigh(
    const wim::sim::SiteConfig& site, wim::sim::SignalSynth::VehicleSource source,
    std::uint64_t seed, double light_tow_max_kg = -1, double car_wheelbase_min_m = -1) {
  const auto channels = site.channels(seed);
  auto cfg = wim::config::parse_station_config(site.station_json(channels), "sim");
  if (light_tow_max_kg >= 0) cfg.weighing.light_tow_max_kg = light_tow_max_kg;
  if (car_wheelbase_min_m >= 0) cfg.weighing.car_wheelbase_min_m = car_wheelbase_min_m;
  std::vector<std::string> names;
  for (const auto& c : channels) names.push_back(c.name);
  wim::weigh::Pipeline p(cfg, site.sample_rate_hz, names);
  std::vector<wim::sim::Vehicle> truth;
  wim::sim::SignalSynth synth(site, channels, std::move(source), {}, seed);
  synth.on_vehicle([&](const wim::sim::Vehicle& v) { truth.push_back(v); });
  std::vector<std::int32_t> row(channels.size());
  for (;;) {
    const std::int64_t t = synth.next(row);
    p.feed(t, row);
    if (auto q = synth.quiet_after_us(); q && t >= *q + 4'000'000) break;
  }
  p.finish();
  return {std::move(truth), p.take()};
}

Outcome run(const wim::sim::SiteConfig& site, const wim::sim::TrafficConfig& traffic,
            std::size_t vehicles, std::uint64_t seed) {
  wim::sim::TrafficModel model(traffic, 1, 2'000'000, seed);
  std::size_t drawn = 0;
  const auto [truth, out] = weigh(
      site,
      [&]() -> std::optional<wim::sim::Vehicle> {
        if (drawn >= vehicles) return std::nullopt;
        ++drawn;
        return model.next();
      },
      seed);
  Outcome o;
  o.truth = truth.size();
  o.out = out.size();
  std::vector<bool> used(out.size());
  for (const auto& t : truth) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (used[i] || std::abs(static_cast<double>(out[i].t_us - t.t_us)) > 0.3e6) continue;
      used[i] = true;
      const auto& v = out[i];
      o.valid += v.valid;
      for (const std::string& r : v.reasons)
        if (r.starts_with("vehicle separation by speed only")) {
          ++o.speed_split;
          o.speed_split_valid += v.valid;
          break;
        }
      for (const std::string& r : v.reasons)
        if (r.starts_with("vehicle separation by car wheelbase")) {
          ++o.car_split;
          o.car_split_valid += v.valid;
          break;
        }
      if (v.axles.size() == t.axle_loads_kg.size()) {
        ++o.axles_ok;
        o.within5 += std::abs(v.gross_kg - t.gross_kg()) <= 0.05 * t.gross_kg();
      } else {
        o.wrong_axles_valid += v.valid;
      }
      const double limit = wim::sim::goods_limit_kg(t.cls);
      o.false_cases += v.legal.overloaded && !(limit > 0 && t.gross_kg() > limit);
      break;
    }
  }
  return o;
}

wim::sim::SiteConfig hard_site(double noise) {
  wim::sim::SiteConfig s;
  s.rows_m = {0, 1.5, 3, 4.5};
  s.noise_counts = noise;
  s.noise_lf_counts = 8;
  s.zero_walk_counts_per_sqrt_s = 2;
  s.temperature_slope_c_per_h = 10;
  s.contact_min_m = 0.15;
  s.contact_max_m = 0.25;
  return s;
}

wim::sim::TrafficConfig dense_rough() {
  wim::sim::TrafficConfig t;
  t.bounce_amp = 0.10;
  t.hop_amp = 0.05;
  t.min_headway_s = 0.4;
  t.flow_veh_per_h = 2400;
  return t;
}

}  // namespace

TEST_CASE(
    "Hard cell: 15 counts noise, drift, rough road, 0.4 s gaps: every vehicle, no false case") {
  const Outcome o = run(hard_site(15), dense_rough(), 40, 4);
  CHECK(o.truth == 40);
  // Gaps are measured at row 1 (rear end to front end, docs/simulator.md): a follower 0.4 s
  // behind is v x 0.4 s + the overhangs (7-9 m) axle to axle, within the uncertain band
  // (certain_axle_spacing_m .. max_axle_spacing_m), and at about the leader's speed 3 of
  // the 40 are merged. Until 2026-12-07 wim-sim added the array's 4.5 m to every gap, and
  // this case expected 40 of 40.
  CHECK(o.out >= 37);  // 37 measured; nothing split or invented (out <= truth)
  CHECK(o.out <= 40);
  CHECK(o.axles_ok >= 34);
  CHECK(o.wrong_axles_valid == 0);  // a merge is flagged "separation uncertain", never a case
  CHECK(o.false_cases == 0);
  CHECK(o.valid >= 34);    // a segment's stray pulse no longer flags its neighbours
  CHECK(o.within5 >= 34);  // COST 323 A(5) needs ~95 %; dynamics 2.5x cost a few
}

TEST_CASE("Hard cell at 40 counts of noise degrades into not enforceable, never a wrong case") {
  const Outcome o = run(hard_site(40), dense_rough(), 40, 5);
  CHECK(o.truth == 40);
  CHECK(o.out >= 38);  // 38 measured (2 close followers merged, see the case above)
  CHECK(o.out <= 40);
  CHECK(o.axles_ok >= 36);
  CHECK(o.wrong_axles_valid == 0);
  CHECK(o.false_cases == 0);
}

TEST_CASE("A faulty row that misses wheels and reads 15 % low is outvoted by the others") {
  wim::sim::SiteConfig s = hard_site(15);
  s.faulty_row = 2;
  s.faulty_row_gain = 0.85;
  s.faulty_row_miss = 0.03;
  wim::sim::TrafficConfig t;
  const Outcome o = run(s, t, 40, 6);
  CHECK(o.out == 40);
  CHECK(o.axles_ok == 40);
  CHECK(o.false_cases == 0);
  CHECK(o.valid >= 38);  // a row that missed one axle is lined up, not a reason to refuse
  CHECK(o.within5 >= 38);
}

TEST_CASE(
    "Hard cell, 0.4 s gaps: a follower at another speed is counted apart, never made a case") {
  // The weigh_accuracy cell "hard n15 rows1.5 dyn2.5 gaps0.4 drift", seed 2, 200 vehicles.
  // Until 2026-12-07 (fourth session) a follower 6.5-9 m behind its leader was split only
  // when the speeds differed by more than 3 % + 1 m/s^2 x the time between the axles, and
  // one closer than 6.5 m never: 195 outputs, 190 with the right axle count. Now the 3 % is the
  // site's measured speed noise margin (3 x the 99th percentile of the speed difference of axles <
  // 3 m apart, ~0.4 % here) at any spacing above 3 m; such a split is flagged: 197 outputs,
  // 194 right. The 3 followers left at the leader's speed were light 2-axle cars; since
  // 2026-12-08 (seventh session) they are split off by the car-wheelbase rule, flagged too.
  wim::sim::SiteConfig s = hard_site(15);
  s.noise_lf_hz = 5;
  const Outcome o = run(s, dense_rough(), 200, 2);
  CHECK(o.truth == 200);
  CHECK(o.out == 200);              // 2 followers split off by speed, 3 cars by their wheelbase
  CHECK(o.axles_ok == 200);         // was 194 (190 before the speed rule)
  CHECK(o.speed_split == 4);        // both sides of the 2 splits carry the reason
  CHECK(o.speed_split_valid == 0);  // separated by speed alone: counted, never a case
  CHECK(o.car_split == 6);          // both sides of the 3 splits
  CHECK(o.car_split_valid == 0);
  CHECK(o.wrong_axles_valid == 0);
  CHECK(o.false_cases == 0);
}

namespace {

/// A hand-built unit for the towing-limit cases: `loads` [kg] per axle, `spacings` [m],
/// its first axle at row 1 at `t_s`, constant speed, no imbalance.
wim::sim::Vehicle unit(wim::sim::VehicleClass cls, std::vector<double> loads,
                       std::vector<double> spacings, double t_s, double kmh) {
  wim::sim::Vehicle v;
  v.cls = cls;
  v.t_us = static_cast<std::int64_t>(t_s * 1e6);
  v.speed_kmh = kmh;
  v.axle_loads_kg = std::move(loads);
  v.axle_spacings_m = std::move(spacings);
  const std::size_t n = v.axle_loads_kg.size();
  v.axle_groups.assign(n, 1);
  v.left_share.assign(n, 0.5);
  v.hop_hz.assign(n, 12);
  v.hop_phase.assign(n, 0);
  v.front_overhang_m = 0.9;
  v.rear_overhang_m = 0.8;
  return v;
}

/// The hand-built units' speed [km/h], the follower's first axle behind the leader's last
/// [m] (a 0.4 s gap plus the overhangs, at 60 km/h) and a car's wheelbase [m].
constexpr double kUnitKmh = 60, kGapM = 7.5, kCarWbM = 2.6;

/// [s] when a follower's first axle reaches row 1 behind a leader whose first axle did at
/// `t_s` and whose axles span `wheelbase_m`.
double behind(double t_s, double wheelbase_m) {
  return t_s + (wheelbase_m + kGapM) / (kUnitKmh / 3.6);
}

/// `traffic` (hand-built units in pass order) through the hard 4 x 1.5 m site (noise 15,
/// drift), seed 7; a setting below 0 keeps its default.
std::pair<std::vector<wim::sim::Vehicle>, std::vector<wim::weigh::WeighedVehicle>> weigh_units(
    const std::vector<wim::sim::Vehicle>& traffic, double light_tow_max_kg,
    double car_wheelbase_min_m) {
  std::size_t next = 0;
  return weigh(
      hard_site(15),
      [&]() -> std::optional<wim::sim::Vehicle> {
        if (next >= traffic.size()) return std::nullopt;
        return traffic[next++];
      },
      7, light_tow_max_kg, car_wheelbase_min_m);
}

/// Reasons of `v` that start with `prefix`.
std::size_t count_reasons(const wim::weigh::WeighedVehicle& v, std::string_view prefix) {
  return static_cast<std::size_t>(
      std::count_if(v.reasons.begin(), v.reasons.end(),
                    [&](const std::string& r) { return r.starts_with(prefix); }));
}

}  // namespace

TEST_CASE(
    "A car closely followed by a truck at its speed is split by the towing limit, never a case") {
  // Pairs 10 s apart, both units at 60 km/h (16.67 m/s), the follower's first axle 7.5 m
  // behind the leader's last (a 0.4 s gap plus the overhangs): inside the uncertain band
  // (certain_axle_spacing_m 6.5 .. max_axle_spacing_m 9 m) and at one speed, so neither
  // spacing nor speed can separate them. § 42 (1) StVZO: a Pkw may tow at most 3 500 kg
  // (actual trailer mass), a Lkw with continuous brakes 1.5 x its permissible mass, i.e. at
  // most 5 250 kg for one of 3.5 t; light_tow_max_kg 5 250 kg + axle_uncertainty_pct 10 %.
  using C = wim::sim::VehicleClass;
  const double car_wb = kCarWbM;
  std::vector<wim::sim::Vehicle> traffic = {
      // 1. car + unladen 2-axle truck (6 900 kg): two vehicles.
      unit(C::car, {1150, 950}, {car_wb}, 3, kUnitKmh),
      unit(C::truck_2axle, {3800, 3100}, {4.5}, behind(3, car_wb), kUnitKmh),
      // 2. car + a 2-axle part of 5 200 kg (what a 3.5 t van with continuous brakes may
      //    tow): stays one, flagged "separation uncertain" as before.
      unit(C::car, {1150, 950}, {car_wb}, 13, kUnitKmh),
      unit(C::car, {2700, 2500}, {car_wb}, behind(13, car_wb), kUnitKmh),
      // 3. truck + truck: a truck may tow a heavy trailer, the rule does not apply.
      unit(C::truck_2axle, {3800, 3100}, {4.5}, 23, kUnitKmh),
      unit(C::truck_2axle, {3800, 3100}, {4.5}, behind(23, 4.5), kUnitKmh),
      // 4. car + 3-axle truck of 21 000 kg with a tandem: two vehicles.
      unit(C::car, {1250, 1050}, {car_wb}, 33, kUnitKmh),
      unit(C::truck_3axle, {6000, 7500, 7500}, {4.5, 1.3}, behind(33, car_wb), kUnitKmh),
  };
  // The rule off (light_tow_max_kg 0, as before 2026-12-08): all four pairs merged. The car
  // wheelbase rule off too: the followers here are not light 2-axle parts, but say so.
  CHECK(weigh_units(traffic, 0, 0).second.size() == 4);
  CHECK(weigh_units(traffic, 0, -1).second.size() == 4);
  const auto [truth, out] = weigh_units(traffic, -1, -1);  // the defaults
  CHECK(wim::config::WeighSettings{}.light_tow_max_kg == 5250);
  REQUIRE(truth.size() == 8);
  REQUIRE(out.size() == 6);
  const std::string_view tow = "vehicle separation by towing limit";
  const std::string_view uncertain = "vehicle separation uncertain: axle spacing";
  // 1: the car and the truck apart, each 2 axles, both flagged, none enforceable.
  CHECK(out[0].axles.size() == 2);
  CHECK(out[1].axles.size() == 2);
  CHECK(count_reasons(out[0], tow) == 1);
  CHECK(count_reasons(out[1], tow) == 1);
  CHECK(std::abs(out[0].gross_kg - 2100) <= 0.05 * 2100);
  CHECK(std::abs(out[1].gross_kg - 6900) <= 0.05 * 6900);
  // 2: merged, flagged by the spacing as before, not by the towing limit.
  CHECK(out[2].axles.size() == 4);
  CHECK(count_reasons(out[2], tow) == 0);
  CHECK(count_reasons(out[2], uncertain) == 1);
  // 3: merged, the leader is not light.
  CHECK(out[3].axles.size() == 4);
  CHECK(count_reasons(out[3], tow) == 0);
  CHECK(count_reasons(out[3], uncertain) == 1);
  // 4: apart, 2 + 3 axles.
  CHECK(out[4].axles.size() == 2);
  CHECK(out[5].axles.size() == 3);
  CHECK(count_reasons(out[4], tow) == 1);
  CHECK(count_reasons(out[5], tow) == 1);
  for (const auto& o : out) {
    CHECK_FALSE(o.valid);  // every output here is either merged or split by a legal limit
    CHECK_FALSE(o.legal.overloaded);
  }
}

TEST_CASE(
    "A light 2-axle part a car's wheelbase long behind an uncertain spacing is split off as a "
    "car, a caravan's tandem is not") {
  // Units 10 s apart at 60 km/h (16.67 m/s). The band between certain_axle_spacing_m 6.5 m
  // and max_axle_spacing_m 9 m: a follower 0.4 s behind, or a long trailer's drawbar. A
  // car's wheelbase is at least ~1.8 m (Smart Fortwo W450: 1.812 m); a caravan's tandem
  // ~1 m; Directive 96/53/EC's trailer tandem classes below 1.8 m (1.3-1.8 m: 18 t).
  using C = wim::sim::VehicleClass;
  const double car_wb = kCarWbM;
  std::vector<wim::sim::Vehicle> traffic = {
      // 1. car + car: two vehicles.
      unit(C::car, {1150, 950}, {car_wb}, 3, kUnitKmh),
      unit(C::car, {1100, 900}, {car_wb}, behind(3, car_wb), kUnitKmh),
      // 2. unladen 2-axle truck + car: two vehicles.
      unit(C::truck_2axle, {3800, 3100}, {4.5}, 13, kUnitKmh),
      unit(C::car, {1100, 900}, {car_wb}, behind(13, 4.5), kUnitKmh),
      // 3. car with a long tandem caravan: axles 1.0 m apart, the first 7.0 m behind the
      //    car's rear axle (in the band): one vehicle.
      unit(C::car, {1150, 1050, 700, 700}, {car_wb, 7.0, 1.0}, 23, kUnitKmh),
      // 4. truck with a light centre-axle trailer, tandem 1.4 m (the 1.3-1.8 m class): one.
      unit(C::truck_2axle, {3800, 3300, 1200, 1200}, {4.5, 7.0, 1.4}, 33, kUnitKmh),
      // 5. car + car with a single-axle trailer 3.5 m behind its rear axle: the follower
      //    part has 3 axles, so the rule does not apply (nor the towing limit: 2 750 kg).
      unit(C::car, {1150, 950}, {car_wb}, 43, kUnitKmh),
      unit(C::car, {1150, 950, 650}, {car_wb, 3.5}, behind(43, car_wb), kUnitKmh),
  };
  const std::string_view car = "vehicle separation by car wheelbase";
  const std::string_view uncertain = "vehicle separation uncertain: axle spacing";
  // The rule off (car_wheelbase_min_m 0, as before 2026-12-08): every unit or pair is one output.
  const auto off = weigh_units(traffic, -1, 0).second;
  CHECK(off.size() == 5);
  for (const auto& o : off) CHECK(count_reasons(o, car) == 0);
  const auto [truth, out] = weigh_units(traffic, -1, -1);  // the default, 1.8 m
  CHECK(wim::config::WeighSettings{}.car_wheelbase_min_m == 1.8);
  REQUIRE(truth.size() == 8);
  REQUIRE(out.size() == 7);
  // 1: car | car, 2: truck | car: each side 2 axles, the rule's reason once, within 5 %.
  const double split_gross_kg[] = {2100, 2000, 6900, 2000};
  for (std::size_t k = 0; k < 4; ++k) {
    CHECK(out[k].axles.size() == 2);
    CHECK(count_reasons(out[k], car) == 1);
    CHECK(std::abs(out[k].gross_kg - split_gross_kg[k]) <= 0.05 * split_gross_kg[k]);
  }
  // 3 and 4: one output each, flagged by the spacing, not by this rule.
  CHECK(out[4].axles.size() == 4);
  CHECK(out[5].axles.size() == 4);
  // 5: merged, 5 axles.
  CHECK(out[6].axles.size() == 5);
  for (std::size_t k = 4; k < 7; ++k) {
    CHECK(count_reasons(out[k], car) == 0);
    CHECK(count_reasons(out[k], uncertain) == 1);
  }
  for (const auto& o : out) {
    CHECK_FALSE(o.valid);  // every output here is either merged or split by this rule
    CHECK_FALSE(o.legal.overloaded);
  }
}
