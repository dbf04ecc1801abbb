// SPDX-License-Identifier: Apache-2.0
#include "wim/hw/source_factory.hpp"

#include <set>

#include "sim_source.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/time.hpp"
#include "wim/hw/json_fields.hpp"
#include "wim/hw/modbus_source.hpp"
#include "wim/hw/paced_source.hpp"
#include "wim/hw/replay_source.hpp"

namespace wim::hw {
namespace {

namespace bj = boost::json;
using json::field_path;

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& p) {
  const std::filesystem::path path(p);
  return path.is_absolute() || base.empty() ? path : base / path;
}

std::int64_t get_int_in(const bj::object& o, std::string_view key, const std::string& ctx,
                        std::int64_t dflt, std::int64_t lo, std::int64_t hi) {
  const std::int64_t v = json::get_int(o, key, ctx, dflt);
  if (v < lo || v > hi)
    throw InputError(field_path(ctx, key) + ": " + std::to_string(v) + " not in " +
                     std::to_string(lo) + ".." + std::to_string(hi));
  return v;
}

std::unique_ptr<SampleSource> make_sim(const bj::object& o, const std::string& ctx,
                                       const SourceFactoryOptions& fo) {
  refuse_unknown_fields(o,
                        {"source",
                         "seed",
                         "station_id",
                         "lanes",
                         "rows_m",
                         "kind",
                         "length_m",
                         "gain",
                         "sample_rate_hz",
                         "noise_counts",
                         "temperature_slope_c_per_h",
                         "saturation_counts",
                         "flow_veh_h",
                         "mix",
                         "laden_share",
                         "overload_share",
                         "overload_min",
                         "overload_max",
                         "speed_mean_kmh",
                         "speed_sd_kmh",
                         "speed_min_kmh",
                         "speed_max_kmh",
                         "accel_max_mps2",
                         "straddle_share",
                         "dense",
                         "bounce_amp",
                         "hop_amp",
                         "imbalance_max",
                         "faults",
                         "lead_in_s",
                         "paced",
                         "time_scale",
                         "start_utc",
                         "block_samples",
                         "chunk_samples",
                         "drop_prob",
                         "late_prob",
                         "late_ms"},
                        ctx);
  sim::SimSourceOptions so;
  sim::SimOptions& s = so.sim;
  s.seed = static_cast<std::uint64_t>(
      get_int_in(o, "seed", ctx, 1, 0, std::numeric_limits<std::int64_t>::max()));
  auto& site = s.site;
  site.station_id = json::get_string(o, "station_id", ctx, site.station_id);
  site.lanes = static_cast<int>(get_int_in(o, "lanes", ctx, 1, 1, 4));
  const std::string kind = json::get_string(o, "kind", ctx, "strip");
  if (kind == "strip") {
    site.kind = sim::SensorKind::strip;
  } else if (kind == "plate") {
    site.kind = sim::SensorKind::plate;
    site.length_m = 0.6;
    site.gain_kg_per_count = 1.0;
    site.rows_m = {0, 1.5};
  } else {
    throw InputError(field_path(ctx, "kind") + ": '" + kind + "' is neither strip nor plate");
  }
  if (o.contains("rows_m")) {
    site.rows_m.clear();
    const bj::array& rows = json::get_array(o, "rows_m", ctx);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (!rows[i].is_number())
        throw InputError(field_path(ctx, "rows_m") + "[" + std::to_string(i) +
                         "]: expected a number [m]");
      site.rows_m.push_back(rows[i].to_number<double>());
    }
  }
  site.length_m = json::get_number(o, "length_m", ctx, site.length_m);
  site.gain_kg_per_count = json::get_number(o, "gain", ctx, site.gain_kg_per_count);
  site.sample_rate_hz = json::get_number(o, "sample_rate_hz", ctx, site.sample_rate_hz);
  site.noise_counts = json::get_number(o, "noise_counts", ctx, site.noise_counts);
  site.temperature_slope_c_per_h =
      json::get_number(o, "temperature_slope_c_per_h", ctx, site.temperature_slope_c_per_h);
  site.saturation_counts = static_cast<std::int32_t>(
      get_int_in(o, "saturation_counts", ctx, site.saturation_counts, 100, 32767));
  auto& t = s.traffic;
  t.flow_veh_per_h = json::get_number(o, "flow_veh_h", ctx, t.flow_veh_per_h);
  if (!(t.flow_veh_per_h > 0 && t.flow_veh_per_h <= 10000))
    throw InputError(field_path(ctx, "flow_veh_h") + ": must be in (0, 10000] veh/h");
  if (o.contains("mix")) {
    const std::string mctx = field_path(ctx, "mix");
    for (const auto& kv : json::as_object(o.at("mix"), mctx)) {
      int ci = 0;
      while (ci < sim::kClassCount &&
             sim::to_string(static_cast<sim::VehicleClass>(ci)) != kv.key())
        ++ci;
      if (ci == sim::kClassCount)
        throw InputError(field_path(mctx, kv.key()) + ": unknown vehicle class");
      t.class_share[static_cast<std::size_t>(ci)] =
          json::get_number(json::as_object(o.at("mix"), mctx), kv.key(), mctx);
    }
  }
  t.laden_share = json::get_number(o, "laden_share", ctx, t.laden_share);
  t.overload_share = json::get_number(o, "overload_share", ctx, t.overload_share);
  t.overload_min = json::get_number(o, "overload_min", ctx, t.overload_min);
  t.overload_max = json::get_number(o, "overload_max", ctx, t.overload_max);
  t.speed_mean_kmh = json::get_number(o, "speed_mean_kmh", ctx, t.speed_mean_kmh);
  t.speed_sd_kmh = json::get_number(o, "speed_sd_kmh", ctx, t.speed_sd_kmh);
  t.speed_min_kmh = json::get_number(o, "speed_min_kmh", ctx, t.speed_min_kmh);
  t.speed_max_kmh = json::get_number(o, "speed_max_kmh", ctx, t.speed_max_kmh);
  t.accel_max_mps2 = json::get_number(o, "accel_max_mps2", ctx, t.accel_max_mps2);
  t.straddle_share = json::get_number(o, "straddle_share", ctx, t.straddle_share);
  t.dense = json::get_bool(o, "dense", ctx, t.dense);
  t.bounce_amp = json::get_number(o, "bounce_amp", ctx, t.bounce_amp);
  t.hop_amp = json::get_number(o, "hop_amp", ctx, t.hop_amp);
  t.imbalance_max = json::get_number(o, "imbalance_max", ctx, t.imbalance_max);
  s.lead_in_s = json::get_number(o, "lead_in_s", ctx, s.lead_in_s);
  if (!(s.lead_in_s >= 0 && s.lead_in_s <= 3600))
    throw InputError(field_path(ctx, "lead_in_s") + ": must be in [0, 3600] s");
  if (o.contains("faults")) {
    const bj::array& faults = json::get_array(o, "faults", ctx);
    for (std::size_t i = 0; i < faults.size(); ++i) {
      const std::string fctx = field_path(ctx, "faults") + "[" + std::to_string(i) + "]";
      const bj::object& f = json::as_object(faults[i], fctx);
      refuse_unknown_fields(f, {"kind", "channel", "start_s"}, fctx);
      sim::SimOptions::NamedFault nf;
      const std::string k = json::get_string(f, "kind", fctx);
      if (k == "stuck")
        nf.kind = sim::ChannelFaultKind::stuck;
      else if (k == "dead")
        nf.kind = sim::ChannelFaultKind::dead;
      else
        throw InputError(field_path(fctx, "kind") + ": '" + k + "' is neither stuck nor dead");
      nf.channel = json::get_string(f, "channel", fctx);
      nf.start_s = json::get_number(f, "start_s", fctx, 0.0);
      s.faults.push_back(nf);
    }
  }
  so.paced = json::get_bool(o, "paced", ctx, so.paced);
  so.time_scale = json::get_number(o, "time_scale", ctx, so.time_scale);
  if (o.contains("start_utc")) {
    const std::string st = json::get_string(o, "start_utc", ctx);
    try {
      so.start_unix_us = time::parse_utc(st);
    } catch (const InputError& e) {
      throw InputError(field_path(ctx, "start_utc") + ": " + e.what());
    }
  }
  so.block_samples = static_cast<std::size_t>(get_int_in(o, "block_samples", ctx, 400, 1, 1000000));
  so.chunk_samples = static_cast<std::size_t>(get_int_in(o, "chunk_samples", ctx, 15, 1, 1000000));
  so.drop_prob = json::get_number(o, "drop_prob", ctx, 0.0);
  so.late_prob = json::get_number(o, "late_prob", ctx, 0.0);
  so.late_ms = static_cast<int>(get_int_in(o, "late_ms", ctx, 0, 0, 60000));
  std::unique_ptr<sim::SimSource> src;
  try {
    so.validate();
    s.resolve_faults(site.channels(s.seed));
    src = std::make_unique<sim::SimSource>(std::move(so));
  } catch (const InputError& e) {
    throw InputError(ctx + ": " + e.what());  // validate() names the field
  }
  if (fo.on_truth) src->on_truth(fo.on_truth);
  return src;
}

std::unique_ptr<SampleSource> make_replay(const bj::object& o, const std::string& ctx,
                                          const SourceFactoryOptions& fo) {
  refuse_unknown_fields(o, {"source", "recording", "loop", "block_samples", "pace"}, ctx);
  // "pace": true = real time, a number = that many recording seconds per second.
  double pace = 0;
  if (const auto* p = o.if_contains("pace")) {
    if (p->is_bool()) {
      pace = p->as_bool() ? 1.0 : 0.0;
    } else {
      pace = json::get_number(o, "pace", ctx, 0.0);
      if (!(pace > 0 && pace <= 1000))
        throw InputError(field_path(ctx, "pace") + ": must be true, false or a rate in (0, 1000]");
    }
  }
  const auto path = resolve(fo.base_dir, json::get_string(o, "recording", ctx));
  const bool loop = json::get_bool(o, "loop", ctx, false);
  const auto rows = static_cast<std::size_t>(get_int_in(o, "block_samples", ctx, 400, 1, 1000000));
  if (!std::filesystem::is_regular_file(path))
    throw InputError(field_path(ctx, "recording") + ": '" + path.string() + "' is not a file");
  auto src = ReplaySource::open(path, rows);
  if (loop) src->set_loop(path);
  if (pace > 0) return std::make_unique<PacedSource>(std::move(src), pace);
  return src;
}

std::unique_ptr<SampleSource> make_modbus(const bj::object& o, const std::string& ctx,
                                          const SourceFactoryOptions& fo) {
  refuse_unknown_fields(o,
                        {"source", "map", "tcp", "rtu", "channels", "response_timeout_ms",
                         "reconnect_min_ms", "reconnect_max_ms", "errors_before_reconnect",
                         "stuck_window_s", "status_period_ms", "max_block_samples"},
                        ctx);
  const std::string mctx = field_path(ctx, "map");
  const bj::value& mv = json::require(o, "map", ctx);
  RegisterMap map;
  if (mv.is_string()) {
    const auto path = resolve(fo.base_dir, std::string(mv.as_string()));
    if (!std::filesystem::is_regular_file(path))
      throw InputError(mctx + ": '" + path.string() + "' is not a file");
    map = RegisterMap::load(path);
  } else if (mv.is_object()) {
    map = RegisterMap::from_json(mv, mctx);
  } else {
    throw InputError(mctx + ": expected a file name or a register map object");
  }
  if (o.contains("tcp") == o.contains("rtu"))
    throw InputError(ctx +
                     ": give exactly one of \"tcp\" (HOST:PORT) or \"rtu\" (DEVICE[:BAUD[:8N1]])");
  ModbusEndpoint ep;
  try {
    ep = o.contains("tcp") ? ModbusEndpoint::parse("tcp:" + json::get_string(o, "tcp", ctx))
                           : ModbusEndpoint::parse("rtu:" + json::get_string(o, "rtu", ctx));
  } catch (const InputError& e) {
    throw InputError(field_path(ctx, o.contains("tcp") ? "tcp" : "rtu") + ": " + e.what());
  }
  std::vector<std::string> names = fo.channel_names;
  if (o.contains("channels")) {
    names.clear();
    const bj::array& a = json::get_array(o, "channels", ctx);
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_string())
        throw InputError(field_path(ctx, "channels") + "[" + std::to_string(i) +
                         "]: expected a channel name");
      names.emplace_back(a[i].as_string());
    }
  }
  if (names.size() != static_cast<std::size_t>(map.channel_count))
    throw InputError(field_path(ctx, "channels") + ": " + std::to_string(names.size()) +
                     " names for the map's " + std::to_string(map.channel_count) + " channels");
  ModbusOptions mo;
  mo.response_timeout_ms =
      static_cast<int>(get_int_in(o, "response_timeout_ms", ctx, mo.response_timeout_ms, 1, 60000));
  mo.reconnect_min_ms =
      static_cast<int>(get_int_in(o, "reconnect_min_ms", ctx, mo.reconnect_min_ms, 1, 600000));
  mo.reconnect_max_ms = static_cast<int>(
      get_int_in(o, "reconnect_max_ms", ctx, mo.reconnect_max_ms, mo.reconnect_min_ms, 600000));
  mo.errors_before_reconnect = static_cast<int>(
      get_int_in(o, "errors_before_reconnect", ctx, mo.errors_before_reconnect, 1, 1000));
  mo.stuck_window_s = json::get_number(o, "stuck_window_s", ctx, mo.stuck_window_s);
  if (!(mo.stuck_window_s > 0 && mo.stuck_window_s <= 3600))
    throw InputError(field_path(ctx, "stuck_window_s") + ": must be in (0, 3600] s");
  mo.status_period_ms =
      static_cast<int>(get_int_in(o, "status_period_ms", ctx, mo.status_period_ms, 10, 600000));
  mo.max_block_samples = static_cast<std::size_t>(get_int_in(
      o, "max_block_samples", ctx, static_cast<std::int64_t>(mo.max_block_samples), 1, 1000000));
  return std::make_unique<ModbusSource>(std::move(map), ep, std::move(names), mo);
}

}  // namespace

std::unique_ptr<SampleSource> make_source(const boost::json::value& config, const std::string& what,
                                          const SourceFactoryOptions& options) {
  const bj::object& o = json::as_object(config, what);
  const std::string kind = json::get_string(o, "source", what);
  if (kind == "sim") return make_sim(o, what, options);
  if (kind == "replay") return make_replay(o, what, options);
  if (kind == "modbus") return make_modbus(o, what, options);
  throw InputError(field_path(what, "source") + ": '" + kind +
                   "' is not one of sim, replay, modbus");
}

}  // namespace wim::hw
