// SPDX-License-Identifier: Apache-2.0
#include "wim/common/station_config.hpp"

#include <algorithm>
#include <set>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"

namespace wim::config {
namespace {

namespace bj = boost::json;
using wim::json::field_path;

/// Runs a json helper, prefixing its InputError with the source file.
template <typename F>
auto in_source(std::string_view source, F&& f) {
  try {
    return f();
  } catch (const InputError& e) {
    throw InputError(std::string(source) + ": " + e.what());
  }
}

void range(std::string_view ctx, double v, double lo, double hi) {
  if (!(v >= lo && v <= hi))
    throw InputError(std::string(ctx) + ": must be in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got " + std::to_string(v));
}

double num(const bj::object& o, std::string_view key, std::string_view ctx, double dflt, double lo,
           double hi) {
  double v = wim::json::get_number(o, key, ctx, dflt);
  range(field_path(ctx, key), v, lo, hi);
  return v;
}

ChannelConfig parse_channel(const bj::value& v, const std::string& ctx) {
  const bj::object& o = wim::json::as_object(v, ctx);
  ChannelConfig c;
  c.name = wim::json::get_string(o, "name", ctx);
  if (c.name.empty() || c.name.find(',') != std::string::npos)
    throw InputError(field_path(ctx, "name") + ": must be non-empty without ','");
  const std::int64_t lane = wim::json::get_int(o, "lane", ctx);
  if (lane < 1 || lane > 16) throw InputError(field_path(ctx, "lane") + ": must be 1..16");
  c.lane = static_cast<int>(lane);
  c.row_m = wim::json::get_number(o, "row_m", ctx);
  if (c.row_m < 0 || c.row_m > 100)
    throw InputError(field_path(ctx, "row_m") + ": must be in [0, 100] m");
  const std::string side = wim::json::get_string(o, "side", ctx);
  if (side == "left")
    c.side = Side::left;
  else if (side == "right")
    c.side = Side::right;
  else
    throw InputError(field_path(ctx, "side") + ": expected left or right, got '" + side + "'");
  const std::string kind = wim::json::get_string(o, "kind", ctx);
  if (kind == "strip")
    c.kind = SensorKind::strip;
  else if (kind == "plate")
    c.kind = SensorKind::plate;
  else
    throw InputError(field_path(ctx, "kind") + ": expected strip or plate, got '" + kind + "'");
  c.length_m = wim::json::get_number(o, "length_m", ctx);
  if (!(c.length_m > 0.005 && c.length_m <= 3))
    throw InputError(field_path(ctx, "length_m") + ": must be in (0.005, 3] m");
  c.gain = wim::json::get_number(o, "gain", ctx);
  if (!(c.gain > 0)) throw InputError(field_path(ctx, "gain") + ": must be > 0");
  c.zero = wim::json::get_number(o, "zero", ctx);
  c.temp_coeff_counts_per_c = wim::json::get_number(o, "temp_coeff_counts_per_c", ctx, 0.0);
  return c;
}

}  // namespace

std::string_view to_string(Side s) {
  return s == Side::left ? "left" : "right";
}
std::string_view to_string(SensorKind k) {
  return k == SensorKind::strip ? "strip" : "plate";
}

std::vector<int> StationConfig::lanes() const {
  std::set<int> s;
  for (const ChannelConfig& c : channels) s.insert(c.lane);
  return {s.begin(), s.end()};
}

int StationConfig::find(std::string_view name) const {
  for (std::size_t i = 0; i < channels.size(); ++i)
    if (channels[i].name == name) return static_cast<int>(i);
  return -1;
}

StationConfig parse_station_config(const bj::value& doc, std::string_view source) {
  return in_source(source, [&] {
    StationConfig cfg;
    const bj::object& root = wim::json::as_object(doc, "");
    cfg.station_id = wim::json::get_string(root, "station_id", "");
    if (cfg.station_id.empty()) throw InputError("station_id: must not be empty");
    const bj::array& chans = wim::json::get_array(root, "channels", "");
    if (chans.empty()) throw InputError("channels: at least one channel needed");
    for (std::size_t i = 0; i < chans.size(); ++i) {
      const std::string ctx = "channels[" + std::to_string(i) + "]";
      ChannelConfig c = parse_channel(chans[i], ctx);
      if (cfg.find(c.name) >= 0)
        throw InputError(ctx + ".name: duplicate channel name '" + c.name + "'");
      for (const ChannelConfig& o : cfg.channels)
        if (o.lane == c.lane && o.side == c.side && std::abs(o.row_m - c.row_m) < 1e-6)
          throw InputError(ctx + ": same lane, row_m and side as channel '" + o.name + "'");
      cfg.channels.push_back(std::move(c));
    }
    // Every row of a lane needs both wheel tracks: a lone side cannot weigh an axle.
    for (const ChannelConfig& c : cfg.channels) {
      bool other = false;
      for (const ChannelConfig& o : cfg.channels)
        other =
            other || (o.lane == c.lane && o.side != c.side && std::abs(o.row_m - c.row_m) < 1e-6);
      if (!other)
        throw InputError("channels: '" + c.name + "' (lane " + std::to_string(c.lane) + ", row_m " +
                         std::to_string(c.row_m) + ") has no channel for the " +
                         (c.side == Side::left ? "right" : "left") + " wheel track");
    }

    WeighSettings& w = cfg.weighing;
    if (root.contains("weighing")) {
      const std::string ctx = "weighing";
      const bj::object& o = wim::json::as_object(root.at("weighing"), ctx);
      w.detect_on_kg = num(o, "detect_on_kg", ctx, w.detect_on_kg, 1, 5000);
      w.detect_off_kg = num(o, "detect_off_kg", ctx, w.detect_off_kg, 0.1, w.detect_on_kg);
      w.contact_nominal_m = num(o, "contact_nominal_m", ctx, w.contact_nominal_m, 0.05, 1);
      w.noise_k_on = num(o, "noise_k_on", ctx, w.noise_k_on, 0, 50);
      w.noise_k_off = num(o, "noise_k_off", ctx, w.noise_k_off, 0, w.noise_k_on);
      w.noise_block_s = num(o, "noise_block_s", ctx, w.noise_block_s, 0.01, 10);
      w.smooth_s = num(o, "smooth_s", ctx, w.smooth_s, 0, 0.01);
      w.pulse_margin_s = num(o, "pulse_margin_s", ctx, w.pulse_margin_s, 0, 0.02);
      w.pulse_bridge_s = num(o, "pulse_bridge_s", ctx, w.pulse_bridge_s, 0, 0.05);
      w.min_pulse_s = num(o, "min_pulse_s", ctx, w.min_pulse_s, 0, 0.1);
      w.autozero_tau_s = num(o, "autozero_tau_s", ctx, w.autozero_tau_s, 0.01, 3600);
      w.autozero_rate_kg_per_s =
          num(o, "autozero_rate_kg_per_s", ctx, w.autozero_rate_kg_per_s, 0, 1e6);
      w.autozero_range_pct = num(o, "autozero_range_pct", ctx, w.autozero_range_pct, 0, 100);
      w.autozero_holdoff_s = num(o, "autozero_holdoff_s", ctx, w.autozero_holdoff_s, 0, 10);
      w.max_pulse_s = num(o, "max_pulse_s", ctx, w.max_pulse_s, 0.01, 60);
      w.stuck_s = num(o, "stuck_s", ctx, w.stuck_s, 0.01, 60);
      w.saturation_counts = static_cast<std::int32_t>(
          num(o, "saturation_counts", ctx, w.saturation_counts, 1, 2147483647.0));
      w.side_match_s = num(o, "side_match_s", ctx, w.side_match_s, 0.001, 1);
      w.vehicle_gap_s = num(o, "vehicle_gap_s", ctx, w.vehicle_gap_s, 0.1, 60);
      w.max_axle_spacing_m = num(o, "max_axle_spacing_m", ctx, w.max_axle_spacing_m, 1, 50);
      w.max_segment_s = num(o, "max_segment_s", ctx, w.max_segment_s, 5, 3600);
      w.certain_axle_spacing_m =
          num(o, "certain_axle_spacing_m", ctx, w.certain_axle_spacing_m, 1, w.max_axle_spacing_m);
      w.follower_speed_diff_pct =
          num(o, "follower_speed_diff_pct", ctx, w.follower_speed_diff_pct, 0.1, 100);
      w.light_axle_kg = num(o, "light_axle_kg", ctx, w.light_axle_kg, 0, 20000);
      w.light_tow_max_kg = num(o, "light_tow_max_kg", ctx, w.light_tow_max_kg, 0, 100000);
      w.car_wheelbase_min_m =
          num(o, "car_wheelbase_min_m", ctx, w.car_wheelbase_min_m, 0, w.certain_axle_spacing_m);
      w.min_speed_kmh = num(o, "min_speed_kmh", ctx, w.min_speed_kmh, 0, 300);
      w.max_speed_kmh = num(o, "max_speed_kmh", ctx, w.max_speed_kmh, w.min_speed_kmh, 300);
      w.max_accel_mps2 = num(o, "max_accel_mps2", ctx, w.max_accel_mps2, 0, 20);
      w.row_outlier_pct = num(o, "row_outlier_pct", ctx, w.row_outlier_pct, 1, 100);
      w.row_bias_pct = num(o, "row_bias_pct", ctx, w.row_bias_pct, 1, 100);
      const std::int64_t bias_n =
          wim::json::get_int(o, "row_bias_vehicles", ctx, w.row_bias_vehicles);
      range(field_path(ctx, "row_bias_vehicles"), static_cast<double>(bias_n), 1, 1000);
      w.row_bias_vehicles = static_cast<int>(bias_n);
      w.reference_temperature_c =
          num(o, "reference_temperature_c", ctx, w.reference_temperature_c, -60, 80);
      w.speed_corr_ref_kmh = num(o, "speed_corr_ref_kmh", ctx, w.speed_corr_ref_kmh, 0, 300);
      w.speed_corr_pct_per_10kmh =
          num(o, "speed_corr_pct_per_10kmh", ctx, w.speed_corr_pct_per_10kmh, -20, 20);
    }
    legal::LegalSettings& l = cfg.legal;
    if (root.contains("legal")) {
      const std::string ctx = "legal";
      const bj::object& o = wim::json::as_object(root.at("legal"), ctx);
      l.tolerance_kg = wim::json::get_number(o, "tolerance_kg", ctx, l.tolerance_kg);
      l.tolerance_pct = wim::json::get_number(o, "tolerance_pct", ctx, l.tolerance_pct);
      l.uncertainty_pct = wim::json::get_number(o, "uncertainty_pct", ctx, l.uncertainty_pct);
      l.axle_uncertainty_pct =
          wim::json::get_number(o, "axle_uncertainty_pct", ctx, l.axle_uncertainty_pct);
      l.warning_band_kg = wim::json::get_number(o, "warning_band_kg", ctx, l.warning_band_kg);
      l.group_max_spacing_m =
          wim::json::get_number(o, "group_max_spacing_m", ctx, l.group_max_spacing_m);
      if (o.contains("axle_limits")) {
        const std::string actx = "legal.axle_limits";
        const bj::object& a = wim::json::as_object(o.at("axle_limits"), actx);
        l.axle_limits.source = wim::json::get_string(a, "source", actx);
        const bj::array& rows = wim::json::get_array(a, "rows", actx);
        for (std::size_t i = 0; i < rows.size(); ++i) {
          const std::string rctx = actx + ".rows[" + std::to_string(i) + "]";
          const bj::object& r = wim::json::as_object(rows[i], rctx);
          legal::AxleLimitRow row;
          row.axles = static_cast<int>(wim::json::get_int(r, "axles", rctx));
          row.min_spacing_m = wim::json::get_number(r, "min_spacing_m", rctx, 0.0);
          row.max_spacing_m = wim::json::get_number(r, "max_spacing_m", rctx, 1e9);
          row.limit_kg = wim::json::get_number(r, "limit_kg", rctx);
          l.axle_limits.rows.push_back(row);
        }
      }
      l.validate("legal");
    }
    if (root.contains("calibration")) {
      const bj::object& o = wim::json::as_object(root.at("calibration"), "calibration");
      cfg.calibration_id = wim::json::get_string(o, "id", "calibration");
      cfg.calibration_date = wim::json::get_string(o, "date", "calibration", "");
    }
    return cfg;
  });
}

StationConfig load_station_config(const std::filesystem::path& path) {
  const bj::value doc = wim::json::load_file(path);
  return parse_station_config(doc, path.filename().string());
}

}  // namespace wim::config
