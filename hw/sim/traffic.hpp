// SPDX-License-Identifier: Apache-2.0
// The traffic model: a seeded stream of vehicles (class, axles, static loads, speed,
// lane, plate) arriving at a site, and their ground truth as JSON Lines.
#pragma once
#include <array>
#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "rng.hpp"
#include "wim/common/legal_limits.hpp"

namespace wim::sim {

/// Vehicle classes: cars and one per row of the legal-limits table (common/legal_limits).
using legal::to_string;
using legal::VehicleClass;
inline constexpr int kClassCount = 9;
static_assert(static_cast<int>(VehicleClass::combination_6axle_single_drive) + 1 == kClassCount);
/// Gross limit [kg] of the class (0 for cars: no limit applies).
double goods_limit_kg(VehicleClass c);

struct Vehicle {
  std::uint64_t id = 0;   ///< [-] from 1, in order of arrival at row 1
  int lane = 1;           ///< [-] lane whose sensors it crosses (left wheels' lane if straddling)
  std::int64_t t_us = 0;  ///< [us] first axle's centre at row 1 (row_m = 0), recording time
  double speed_kmh = 0;   ///< [km/h] at row 1
  double accel_mps2 = 0;  ///< [m/s^2] constant during the pass
  VehicleClass cls = VehicleClass::car;
  std::vector<double> axle_loads_kg;    ///< [kg] static, left + right
  std::vector<double> left_share;       ///< [-] share of each axle's static load on the left wheel
  std::vector<double> axle_spacings_m;  ///< [m] axle i to axle i+1
  std::vector<int> axle_groups;         ///< [-] axles per group, e.g. {1, 2}
  double front_overhang_m = 0;          ///< [m] first axle to the front end (ISO 612)
  double rear_overhang_m = 0;           ///< [m] last axle to the rear end (ISO 612)
  bool laden = false;
  bool overloaded = false;  ///< gross above the class's limit
  bool straddling = false;  ///< drives between lanes: see docs/simulator.md
  std::string plate_text;
  std::string plate_colour;  ///< "blue", "yellow", "green"
  // Dynamic load terms (per vehicle, drawn by the traffic model)
  double bounce_hz = 2;           ///< [Hz] body bounce
  double bounce_amp = 0.04;       ///< [-] relative amplitude
  double bounce_phase = 0;        ///< [rad]
  std::vector<double> hop_hz;     ///< [Hz] wheel hop per axle
  double hop_amp = 0.02;          ///< [-] relative amplitude
  std::vector<double> hop_phase;  ///< [rad] per axle

  double gross_kg() const;
  double wheelbase_m() const;  ///< [m] first to last axle
  boost::json::object truth_json() const;
};

struct TrafficConfig {
  double flow_veh_per_h = 900;  ///< [veh/h] all lanes together
  /// Share of each class among vehicles, indexed by VehicleClass; normalised on use.
  std::array<double, kClassCount> class_share = {0.55, 0.08, 0.06, 0.04, 0.05,
                                                 0.05, 0.07, 0.06, 0.04};
  double laden_share = 0.7;      ///< [-] goods vehicles that are laden
  double overload_share = 0.15;  ///< [-] goods vehicles above their limit
  double overload_min = 0.05;    ///< [-] overload ratio drawn in [min, max]
  double overload_max = 0.60;
  double speed_mean_kmh = 65;
  double speed_sd_kmh = 12;
  double speed_min_kmh = 30;
  double speed_max_kmh = 100;
  double accel_max_mps2 = 0.3;  ///< [m/s^2] |accel| drawn uniformly up to this
  double straddle_share = 0.0;  ///< [-] vehicles straddling two lanes
  /// [s] least time gap at row 1 (row_m = 0): the leader's rear end to the follower's front
  /// end passing that point (the traffic-engineering "gap", rear to front; docs/simulator.md)
  double min_headway_s = 1.0;
  bool dense = false;           ///< short gaps (0.3 s minimum)
  double bounce_amp = 0.04;     ///< [-] body bounce amplitude (of static load)
  double hop_amp = 0.02;        ///< [-] wheel hop amplitude
  double imbalance_max = 0.04;  ///< [-] left share drawn in 0.5 ± this
  void validate() const;        ///< throws InputError naming the field
};

/// Vehicles in order of t_us (across lanes). Lanes get independent Poisson arrivals; a
/// vehicle's front end never passes row 1 (row_m = 0) less than the least gap after the
/// previous vehicle's rear end passed it (a gap is measured at a point, not over the array:
/// on a long array two vehicles can be on the sensors at once, as on a road).
class TrafficModel {
 public:
  TrafficModel(const TrafficConfig& cfg, int lanes, std::int64_t start_us, std::uint64_t seed);
  Vehicle next();

 private:
  Vehicle make_vehicle(int lane, std::int64_t earliest_us);
  TrafficConfig cfg_;
  int lanes_;
  Rng rng_;
  Rng shape_rng_;  // overhangs: a stream of their own, so the other draws are unchanged
  std::uint64_t next_id_ = 1;
  std::vector<std::int64_t> lane_free_us_;  // [us] when the next front end may pass row 1
  std::vector<Vehicle> pending_;            // one drawn vehicle per lane
};

}  // namespace wim::sim
