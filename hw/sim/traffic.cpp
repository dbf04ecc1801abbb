// SPDX-License-Identifier: Apache-2.0
#include "traffic.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>

#include "wim/common/error.hpp"

namespace wim::sim {
namespace {

struct Range {
  double lo, hi;
};

/// Catalogue row: axle pattern, spacings and how the gross splits over the axles.
struct ClassSpec {
  std::vector<int> groups;
  std::vector<Range> spacings_m;
  std::vector<double> laden_share;    // of gross, per axle
  std::vector<double> unladen_share;  // of gross, per axle
};

/// Overhangs [m] (ISO 612 / DIN 70020: axle centre to the foremost / rearmost point of the
/// vehicle), per kind of vehicle; sources and why the short ends in docs/simulator.md.
struct Overhangs {
  Range front_m, rear_m;
};

const Overhangs& overhangs(VehicleClass c) {
  static const Overhangs car{{0.80, 1.00}, {0.70, 1.00}};
  static const Overhangs rigid{{1.20, 1.50}, {1.00, 2.50}};  // cab over the front axle, body
  static const Overhangs semi{{1.20, 1.50}, {1.00, 2.00}};   // semi-trailer's or trailer's rear
  switch (c) {
    case VehicleClass::car:
      return car;
    case VehicleClass::truck_2axle:
    case VehicleClass::truck_3axle:
    case VehicleClass::truck_4axle:
      return rigid;
    default:
      return semi;
  }
}

const ClassSpec& spec(VehicleClass c) {
  static const Range tandem{1.25, 1.40};
  static const std::array<ClassSpec, kClassCount> table = {{
      {{1, 1}, {{2.4, 2.9}}, {0.55, 0.45}, {0.55, 0.45}},
      {{1, 1}, {{3.8, 5.6}}, {0.35, 0.65}, {0.55, 0.45}},
      {{1, 2}, {{4.0, 5.5}, tandem}, {0.28, 0.36, 0.36}, {0.5, 0.25, 0.25}},
      {{1, 1, 1}, {{3.4, 3.9}, {5.0, 6.0}}, {0.25, 0.40, 0.35}, {0.45, 0.35, 0.20}},
      {{1, 1, 2}, {{2.5, 2.9}, {3.2, 4.2}, tandem}, {0.2, 0.2, 0.3, 0.3}, {0.3, 0.3, 0.2, 0.2}},
      {{1, 1, 2},
       {{3.4, 3.9}, {5.0, 6.0}, tandem},
       {0.17, 0.31, 0.26, 0.26},
       {0.35, 0.35, 0.15, 0.15}},
      {{1, 2, 2},
       {{3.0, 3.6}, tandem, {5.0, 6.0}, tandem},
       {0.14, 0.215, 0.215, 0.215, 0.215},
       {0.3, 0.2, 0.2, 0.15, 0.15}},
      {{1, 2, 3},
       {{3.0, 3.6}, tandem, {5.0, 6.0}, tandem, tandem},
       {0.13, 0.18, 0.18, 0.17, 0.17, 0.17},
       {0.25, 0.17, 0.17, 0.14, 0.14, 0.13}},
      {{1, 1, 2, 2},
       {{3.4, 3.9}, {4.5, 5.5}, tandem, {4.0, 5.0}, tandem},
       {0.13, 0.21, 0.165, 0.165, 0.165, 0.165},
       {0.25, 0.25, 0.125, 0.125, 0.125, 0.125}},
  }};
  return table[static_cast<std::size_t>(c)];
}

const char* const kProvinces[] = {"京", "津", "沪", "渝", "冀", "豫", "云", "辽", "黑", "湘", "皖",
                                  "鲁", "新", "苏", "浙", "赣", "鄂", "桂", "甘", "晋", "蒙", "陕",
                                  "吉", "闽", "贵", "粤", "青", "藏", "川", "宁", "琼"};
constexpr char kLetters[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";  // no I, O on plates

/// [s] time for a point of a vehicle to move d_m (negative: backwards in time) from where it
/// is at speed v0_mps, at constant acceleration a_mps2 (x = v0 t + a t^2 / 2, as physics.cpp).
/// A vehicle that would stop first is taken at 3 m/s (the synthesiser's floor).
double travel_s(double v0_mps, double a_mps2, double d_m) {
  const double disc = v0_mps * v0_mps + 2 * a_mps2 * d_m;
  if (std::abs(a_mps2) < 1e-9) return d_m / v0_mps;
  if (disc <= 0) return d_m / 3.0;
  return (std::sqrt(disc) - v0_mps) / a_mps2;
}

}  // namespace

double goods_limit_kg(VehicleClass c) {
  return c == VehicleClass::car ? 0.0 : legal::gross_limit_kg(c);
}

double Vehicle::gross_kg() const {
  return std::accumulate(axle_loads_kg.begin(), axle_loads_kg.end(), 0.0);
}

double Vehicle::wheelbase_m() const {
  return std::accumulate(axle_spacings_m.begin(), axle_spacings_m.end(), 0.0);
}

boost::json::object Vehicle::truth_json() const {
  boost::json::array loads, spacings, groups;
  for (double l : axle_loads_kg) loads.push_back(std::llround(l));
  for (double s : axle_spacings_m) spacings.push_back(std::round(s * 1000) / 1000);
  for (int g : axle_groups) groups.push_back(g);
  return boost::json::object{
      {"id", id},
      {"lane", lane},
      {"t_us", t_us},
      {"speed_kmh", std::round(speed_kmh * 100) / 100},
      {"accel_mps2", std::round(accel_mps2 * 1000) / 1000},
      {"class", to_string(cls)},
      {"axle_count", axle_loads_kg.size()},
      {"axle_loads_kg", std::move(loads)},
      {"axle_spacings_m", std::move(spacings)},
      {"axle_groups", std::move(groups)},
      {"front_overhang_m", std::round(front_overhang_m * 1000) / 1000},
      {"rear_overhang_m", std::round(rear_overhang_m * 1000) / 1000},
      {"gross_kg", std::llround(gross_kg())},
      {"limit_kg", std::llround(goods_limit_kg(cls))},
      {"laden", laden},
      {"overloaded", overloaded},
      {"plate", boost::json::object{{"text", plate_text}, {"colour", plate_colour}}},
      {"straddling", straddling},
  };
}

void TrafficConfig::validate() const {
  auto bad = [](const std::string& what) { throw InputError("traffic: " + what); };
  if (!(flow_veh_per_h > 0 && flow_veh_per_h <= 10000)) bad("flow: must be in (0, 10000] veh/h");
  double sum = 0;
  for (double s : class_share) {
    if (s < 0) bad("class share: negative");
    sum += s;
  }
  if (sum <= 0) bad("class share: all zero");
  for (auto [name, v] : {std::pair{"laden_share", laden_share},
                         {"overload_share", overload_share},
                         {"straddle_share", straddle_share}})
    if (v < 0 || v > 1) bad(std::string(name) + ": must be in [0, 1]");
  if (overload_min < 0 || overload_max < overload_min)
    bad("overload_min/max: need 0 <= min <= max");
  if (!(speed_min_kmh >= 5 && speed_max_kmh >= speed_min_kmh && speed_max_kmh <= 200))
    bad("speed_min/max_kmh: need 5 <= min <= max <= 200");
  if (speed_sd_kmh < 0) bad("speed_sd_kmh: must be >= 0");
  if (accel_max_mps2 < 0 || accel_max_mps2 > 3) bad("accel_max_mps2: must be in [0, 3]");
  if (bounce_amp < 0 || bounce_amp > 0.5) bad("bounce_amp: must be in [0, 0.5]");
  if (hop_amp < 0 || hop_amp > 0.5) bad("hop_amp: must be in [0, 0.5]");
  if (imbalance_max < 0 || imbalance_max > 0.3) bad("imbalance_max: must be in [0, 0.3]");
  if (min_headway_s < 0 || min_headway_s > 60) bad("min_headway_s: must be in [0, 60] s");
}

TrafficModel::TrafficModel(const TrafficConfig& cfg, int lanes, std::int64_t start_us,
                           std::uint64_t seed)
    : cfg_(cfg), lanes_(lanes), rng_(seed), shape_rng_(seed ^ 0x6f7665726861ULL) {
  cfg_.validate();
  lane_free_us_.assign(static_cast<std::size_t>(lanes), start_us);
  for (int l = 1; l <= lanes; ++l) pending_.push_back(make_vehicle(l, start_us));
}

Vehicle TrafficModel::make_vehicle(int lane, std::int64_t earliest_us) {
  Vehicle v;
  v.lane = lane;
  double total = std::accumulate(cfg_.class_share.begin(), cfg_.class_share.end(), 0.0);
  double pick = rng_.uniform() * total;
  std::size_t ci = 0;
  while (ci + 1 < kClassCount && pick >= cfg_.class_share[ci]) pick -= cfg_.class_share[ci++];
  v.cls = static_cast<VehicleClass>(ci);
  const ClassSpec& s = spec(v.cls);
  const double limit_kg = goods_limit_kg(v.cls);  // 0 for cars
  v.axle_groups = s.groups;
  for (const Range& r : s.spacings_m) v.axle_spacings_m.push_back(rng_.uniform(r.lo, r.hi));
  const Overhangs& oh = overhangs(v.cls);
  v.front_overhang_m = shape_rng_.uniform(oh.front_m.lo, oh.front_m.hi);
  v.rear_overhang_m = shape_rng_.uniform(oh.rear_m.lo, oh.rear_m.hi);

  double gross = 0;
  const std::vector<double>* shares = &s.laden_share;
  if (limit_kg == 0) {
    gross = rng_.uniform(1100, 2300);
  } else if (rng_.chance(cfg_.overload_share)) {
    v.laden = v.overloaded = true;
    gross = limit_kg * (1 + rng_.uniform(std::max(cfg_.overload_min, 0.001), cfg_.overload_max));
  } else if (rng_.chance(cfg_.laden_share)) {
    v.laden = true;
    gross = limit_kg * rng_.uniform(0.75, 0.97);
  } else {
    gross = limit_kg * rng_.uniform(0.33, 0.45);
    shares = &s.unladen_share;
  }
  std::vector<double> w;
  for (double sh : *shares) w.push_back(sh * (1 + 0.03 * std::clamp(rng_.normal(), -2.0, 2.0)));
  const double wsum = std::accumulate(w.begin(), w.end(), 0.0);
  for (double x : w) v.axle_loads_kg.push_back(std::round(gross * x / wsum));
  if (v.overloaded && v.gross_kg() <= limit_kg)
    v.axle_loads_kg.back() += limit_kg + 1 - v.gross_kg();
  for (std::size_t a = 0; a < w.size(); ++a) {
    v.left_share.push_back(0.5 + rng_.uniform(-cfg_.imbalance_max, cfg_.imbalance_max));
    v.hop_hz.push_back(rng_.uniform(10, 15));
    v.hop_phase.push_back(rng_.uniform(0, 2 * std::numbers::pi));
  }
  v.bounce_hz = rng_.uniform(1.5, 4);
  v.bounce_phase = rng_.uniform(0, 2 * std::numbers::pi);
  v.bounce_amp = cfg_.bounce_amp;
  v.hop_amp = cfg_.hop_amp;

  const double truck_slowdown = limit_kg > 0 ? 5 : 0;
  v.speed_kmh = std::clamp(rng_.normal(cfg_.speed_mean_kmh - truck_slowdown, cfg_.speed_sd_kmh),
                           cfg_.speed_min_kmh, cfg_.speed_max_kmh);
  v.accel_mps2 = rng_.uniform(-cfg_.accel_max_mps2, cfg_.accel_max_mps2);
  v.straddling = rng_.chance(cfg_.straddle_share);

  // Plate: province, letter, then five characters (six on green new-energy plates).
  v.plate_colour = limit_kg > 0 ? "yellow" : (rng_.chance(0.15) ? "green" : "blue");
  v.plate_text = kProvinces[rng_.integer(0, std::size(kProvinces) - 1)];
  v.plate_text += kLetters[rng_.integer(0, 23)];
  const int n = v.plate_colour == "green" ? 6 : 5;
  for (int i = 0; i < n; ++i)
    v.plate_text += rng_.chance(0.75) ? static_cast<char>('0' + rng_.integer(0, 9))
                                      : kLetters[rng_.integer(0, 23)];

  // Poisson arrivals per lane; next() holds a vehicle back to keep the least gap.
  const double mean_gap_s = 3600.0 * lanes_ / cfg_.flow_veh_per_h;
  v.t_us = earliest_us + static_cast<std::int64_t>(rng_.exponential(mean_gap_s) * 1e6);
  return v;
}

Vehicle TrafficModel::next() {
  // Hold every candidate back until its front end may pass row 1, then take the earliest,
  // so the stream stays in time order across lanes.
  for (Vehicle& p : pending_) {
    const auto l = static_cast<std::size_t>(p.lane - 1);
    // t_us is the first axle at row 1; the front end passes front_overhang_m earlier.
    const auto front_us = static_cast<std::int64_t>(
        -travel_s(p.speed_kmh / 3.6, p.accel_mps2, -p.front_overhang_m) * 1e6);
    std::int64_t free_us = lane_free_us_[l];
    if (p.straddling && p.lane < lanes_) free_us = std::max(free_us, lane_free_us_[l + 1]);
    p.t_us = std::max(p.t_us, free_us + front_us);
  }
  auto it = std::min_element(pending_.begin(), pending_.end(),
                             [](const Vehicle& a, const Vehicle& b) { return a.t_us < b.t_us; });
  Vehicle v = *it;
  const auto li = static_cast<std::size_t>(v.lane - 1);
  const double gap_s = cfg_.dense ? 0.3 : cfg_.min_headway_s;
  const bool straddles_two = v.straddling && v.lane < lanes_;
  v.id = next_id_++;
  // The gap is measured at a point (row 1), rear end to front end: the next front end may
  // pass when this rear end (last axle + rear overhang) has passed row 1, plus the gap.
  const double rear_s =
      travel_s(v.speed_kmh / 3.6, v.accel_mps2, v.wheelbase_m() + v.rear_overhang_m);
  const auto free_us = v.t_us + static_cast<std::int64_t>((rear_s + gap_s) * 1e6);
  lane_free_us_[li] = free_us;
  if (straddles_two) lane_free_us_[li + 1] = std::max(lane_free_us_[li + 1], free_us);
  *it = make_vehicle(v.lane, v.t_us);
  return v;
}

}  // namespace wim::sim
