// SPDX-License-Identifier: Apache-2.0
// Station config (contract 2): the channels of a station and the weighing settings.
// A config holding only "station_id" and "channels" is complete: every other field has
// a default (docs/station-config.md lists them all). Unknown top-level keys are left to
// other parsers (uplink, outbox, keys). Errors are InputError naming the source and field,
// e.g. "station.json: channels[3].kind: expected strip or plate".
#pragma once
#include <boost/json/fwd.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "wim/common/legal_limits.hpp"

namespace wim::config {

enum class Side { left, right };
enum class SensorKind { strip, plate };

struct ChannelConfig {
  std::string name;        ///< column name in recordings, e.g. "L1R2L"
  int lane = 1;            ///< [-] 1-based
  double row_m = 0;        ///< [m] row position along travel from the lane's first row
  Side side = Side::left;  ///< wheel track
  SensorKind kind = SensorKind::strip;
  double length_m = 0.05;              ///< [m] active length along travel (strip width / plate)
  double gain = 1;                     ///< [kg/count] calibration factor
  double zero = 0;                     ///< [counts] initial baseline
  double temp_coeff_counts_per_c = 0;  ///< [counts/degC] baseline temperature coefficient
};

/// Weighing settings ("weighing" object); defaults suit a strip site at 4 kHz.
struct WeighSettings {
  double detect_on_kg = 60;        ///< [kg] wheel-load equivalent that starts a pulse
  double detect_off_kg = 15;       ///< [kg] ... that ends it (hysteresis)
  double contact_nominal_m = 0.2;  ///< [m] tyre contact length to scale strip thresholds
  double noise_k_on = 6;         ///< [-] start threshold at least this many noise sigmas (smoothed)
  double noise_k_off = 3;        ///< [-] end threshold at least this many noise sigmas
  double noise_block_s = 0.128;  ///< [s] between-pulse block for the noise and zero estimate
  double smooth_s = 0.001;       ///< [s] moving average the detection runs on
  double pulse_margin_s = 0.002;  ///< [s] raw samples kept before/after the off crossings
  double pulse_bridge_s = 0.002;  ///< [s] a dip below off shorter than this does not end a pulse
  double min_pulse_s = 0.002;     ///< [s] a pulse shorter than this above off is noise
  double autozero_tau_s = 0.1;    ///< [s] time constant of baseline tracking between pulses
  double autozero_rate_kg_per_s = 25;  ///< [kg/s] largest tracking rate (wheel-load equivalent)
  double autozero_range_pct = 4;       ///< [% of saturation_counts] zero further from config: fault
  double autozero_holdoff_s = 0.05;    ///< [s] no tracking this long after a pulse
  double max_pulse_s = 2.0;            ///< [s] longer = channel fault (stuck high)
  double stuck_s = 0.5;                ///< [s] identical raw samples this long = channel fault
  std::int32_t saturation_counts = 32767;  ///< [counts] |raw| at or above = saturated
  double side_match_s = 0.02;              ///< [s] left/right pulses this close belong to one axle
  double vehicle_gap_s = 3.0;              ///< [s] lane quiet this long closes a group of vehicles
  double max_axle_spacing_m = 9.0;         ///< [m] a larger spacing starts a new vehicle
  double certain_axle_spacing_m = 6.5;     ///< [m] longer spacings: separation uncertain (flag)
  double follower_speed_diff_pct = 3;      ///< [%] axles further apart than certain_axle_spacing_m
                                           ///< with speeds this much apart (+ accel): two vehicles
  double light_axle_kg =
      1500;  ///< [kg] a car-like axle; a light pair at a heavy vehicle's end: flag
  /// [kg] the most a light 2-axle unit (both axles below light_axle_kg) may tow: a part
  /// heavier than this (+ legal.axle_uncertainty_pct) more than certain_axle_spacing_m
  /// behind it is another vehicle (split, flagged on both sides). 0: off. Default 5 250 kg
  /// = 1.5 x 3 500 kg, the largest towed load of a vehicle of at most 3.5 t (§ 42 (1) StVZO;
  /// docs/weighing.md "Towing limit").
  double light_tow_max_kg = 5250;
  /// [m] the shortest wheelbase of a car: behind a spacing above certain_axle_spacing_m, a
  /// part of exactly two axles, both below light_axle_kg, at least this far apart (and at
  /// most certain_axle_spacing_m), with no axle within certain_axle_spacing_m behind it, is
  /// a car, not a trailer's axle group: another vehicle (split, flagged on both sides). 0:
  /// off. Default 1.8 m: the shortest production car (Smart Fortwo W450, 1.812 m) and the
  /// 1.8 m bound of the tandem classes of Directive 96/53/EC Annex I (docs/weighing.md
  /// "Car wheelbase").
  double car_wheelbase_min_m = 1.8;
  double max_segment_s = 60;    ///< [s] bound on buffered traffic per lane (dense flow)
  double min_speed_kmh = 10;    ///< [km/h] valid speed range for enforcement
  double max_speed_kmh = 130;   ///< [km/h]
  double max_accel_mps2 = 1.0;  ///< [m/s^2] stronger acceleration: not enforceable
  double row_outlier_pct = 25;  ///< [%] one row's axle load this far from the median: dropped
  double row_bias_pct = 10;     ///< [%] a row off this much (median of recent vehicles): dropped
  int row_bias_vehicles = 5;    ///< [-] recent vehicles whose median row bias decides the drop
  double reference_temperature_c = 20;  ///< [degC] where temp_coeff gives no correction
  double speed_corr_ref_kmh = 60;       ///< [km/h] speed where the correction is 0
  double speed_corr_pct_per_10kmh = 0;  ///< [%/(10 km/h)] load correction (calibration)
};

struct StationConfig {
  std::string station_id;
  std::vector<ChannelConfig> channels;
  WeighSettings weighing;
  legal::LegalSettings legal;  ///< "legal" object: tolerance, uncertainty, axle limits
  std::string calibration_id;  ///< "calibration": {"id": ...}; empty when none
  std::string calibration_date;

  /// Lanes present, ascending.
  std::vector<int> lanes() const;
  /// Index of the channel named `name`, or -1.
  int find(std::string_view name) const;
};

/// Parses a station config; `source` names it in errors ("station.json").
StationConfig parse_station_config(const boost::json::value& doc, std::string_view source);
StationConfig load_station_config(const std::filesystem::path& path);
std::string_view to_string(Side s);
std::string_view to_string(SensorKind k);

}  // namespace wim::config
