// SPDX-License-Identifier: Apache-2.0
// Messages between the weighing stages: plain structs, a unit on every field.
//   ChannelDetector --Pulse--> LaneAssembler --WeighedVehicle--> Pipeline (pass order)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "wim/common/legal_limits.hpp"

namespace wim::weigh {

/// One wheel crossing one sensor, baseline removed.
struct Pulse {
  int channel = 0;               ///< [-] index into StationConfig::channels
  std::int64_t start_us = 0;     ///< [us] first sample of the window (a margin before the rise)
  std::int64_t end_us = 0;       ///< [us] last sample of the window (a margin after the fall)
  double centroid_us = 0;        ///< [us] load-weighted centre time
  double area_counts_s = 0;      ///< [counts*s] sum of (count - baseline) * dt
  double peak_counts = 0;        ///< [counts] highest baseline-removed sample
  double ramp_s = 0;             ///< [s] mean of 10-90 % rise and fall times / 0.8
  double dt_s = 0;               ///< [s] sample interval
  bool saturated = false;        ///< a raw sample reached the saturation level
  std::size_t lead_samples = 0;  ///< [-] samples before the part above the off level
  std::size_t core_samples = 0;  ///< [-] samples above the off level (plates: duration)
  std::vector<float> samples;    ///< [counts] baseline-removed samples (plates: plateau mean)
};

/// A channel's fault interval (flat/stuck signal, saturation outside a pulse, pulse too long).
struct ChannelFault {
  int channel = 0;           ///< [-]
  std::int64_t from_us = 0;  ///< [us]
  std::int64_t to_us = 0;    ///< [us] INT64_MAX while ongoing
  std::string what;          ///< e.g. "flat signal (stuck or dead)"
};

/// One axle of a weighed vehicle.
struct WeighedAxle {
  double t_us = 0;                     ///< [us] axle centre over the first row
  double speed_kmh = 0;                ///< [km/h] from the row timing (fit over rows)
  double load_kg = 0;                  ///< [kg] combined over the rows kept
  double left_kg = 0;                  ///< [kg] left wheel, mean over rows kept
  double right_kg = 0;                 ///< [kg]
  std::vector<double> row_loads_kg;    ///< [kg] per row (NaN: row missing)
  std::vector<double> row_left_kg;     ///< [kg] left wheel per row (NaN: missing)
  std::vector<double> row_right_kg;    ///< [kg] right wheel per row (NaN: missing)
  std::vector<int> row_left_channel;   ///< [-] channel index per row (-1: none)
  std::vector<int> row_right_channel;  ///< [-]
  int rows_used = 0;                   ///< [-] rows kept after outlier rejection
};

/// A vehicle as weighed, with the legal decision.
struct WeighedVehicle {
  std::int64_t t_us = 0;  ///< [us] first axle over the first row (recording time)
  int lane = 1;           ///< [-]
  double speed_kmh = 0;   ///< [km/h] mean axle speed
  double accel_mps2 = 0;  ///< [m/s^2] fitted over the axles
  std::vector<WeighedAxle> axles;
  std::vector<double> axle_spacings_m;  ///< [m] axle i to i+1
  double gross_kg = 0;                  ///< [kg]
  int rows = 0;                         ///< [-] sensor rows in the lane
  bool valid = true;                    ///< fit for enforcement
  std::vector<std::string> reasons;     ///< why not valid (empty when valid)
  legal::LegalBasis legal;              ///< class, limit, tolerance, verdict
  std::vector<double> axle_loads_kg() const;
  std::vector<double> axle_speeds_kmh() const;
};

}  // namespace wim::weigh
