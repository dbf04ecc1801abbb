// SPDX-License-Identifier: Apache-2.0
// The simulated site: lanes, sensor rows and channels (contract 2), and the
// station.json that describes them to the weighing pipeline.
#pragma once
#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace wim::sim {

enum class SensorKind { strip, plate };

/// One amplifier channel = one sensor under one wheel track of one row of one lane.
struct Channel {
  std::string name;  ///< "L<lane>R<row><L|R>", e.g. "L1R2L"
  int lane = 1;      ///< [-] 1-based
  int row = 1;       ///< [-] 1-based row index
  double row_m = 0;  ///< [m] leading edge of the sensor, from the lane's first row
  bool left = true;  ///< wheel track: left or right
  SensorKind kind = SensorKind::strip;
  double length_m = 0.05;         ///< [m] sensor length along travel (strip width, plate length)
  double gain = 0.25;             ///< [kg/count]
  std::int32_t zero = 0;          ///< [counts] true baseline at t = 0
  double drift_counts_per_c = 0;  ///< [counts/°C] baseline temperature coefficient
};

struct SiteConfig {
  std::string station_id = "SIM001";
  int lanes = 1;                                    ///< [-] 1..4
  std::vector<double> rows_m = {0, 1.0, 2.0, 3.0};  ///< [m] row positions (first is 0)
  SensorKind kind = SensorKind::strip;
  double length_m = 0.05;                  ///< [m] strip width; plate default 0.6
  double gain_kg_per_count = 0.25;         ///< [kg/count] strip default; plate default 1.0
  double sample_rate_hz = 4000;            ///< [Hz]
  double noise_counts = 2.0;               ///< [counts] RMS sensor/amplifier noise
  double zero_max_counts = 300;            ///< [counts] channel baselines drawn in ±this
  double drift_max_counts_per_c = 1.5;     ///< [counts/°C] per-channel coefficient, ±this
  double temperature_c = 15;               ///< [°C] at t = 0
  double temperature_slope_c_per_h = 2;    ///< [°C/h] ramp (sun on the road)
  std::int32_t saturation_counts = 32767;  ///< [counts] amplifier output clamps at ±this
  // Knobs for signals less clean than the defaults (0 / off by default: the default output
  // is unchanged). Physical sources: docs/simulator.md, "Harder signals".
  double noise_lf_counts = 0;              ///< [counts] RMS of low-frequency (1st-order) noise
  double noise_lf_hz = 5;                  ///< [Hz] its corner frequency
  double zero_walk_counts_per_sqrt_s = 0;  ///< [counts/√s] per-channel random-walk zero
  double zero_step_counts = 0;             ///< [counts] every channel's zero steps by this...
  double zero_step_at_s = -1;              ///< [s] ...at this time (< 0: never)
  double contact_min_m = 0.18;             ///< [m] tyre contact length of a light wheel
  double contact_max_m = 0.30;             ///< [m] ... of a wheel of 5 t and more
  int faulty_row = 0;                      ///< [-] 1-based row with a faulty sensor (0: none)
  double faulty_row_gain = 1;              ///< [-] its true sensitivity / the configured one
  double faulty_row_miss = 0;              ///< [-] probability it gives no signal for a wheel

  /// Throws InputError naming the field when a value is out of range.
  void validate() const;
  /// Channels in amplifier order: lane, then row, then left before right.
  std::vector<Channel> channels(std::uint64_t seed) const;
  /// Station config (contract 2) matching `channels`.
  boost::json::object station_json(const std::vector<Channel>& channels) const;
  /// Rows' span [m] from the first row's leading edge to the last row's trailing edge.
  double span_m() const { return rows_m.back() + length_m; }
};

std::string_view to_string(SensorKind k);

}  // namespace wim::sim
