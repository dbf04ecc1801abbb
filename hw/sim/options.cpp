// SPDX-License-Identifier: Apache-2.0
#include "options.hpp"

#include <charconv>
#include <sstream>

#include "wim/common/error.hpp"
#include "wim/common/time.hpp"

namespace po = boost::program_options;

namespace wim::sim {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

double to_number(const std::string& s, const std::string& option) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    throw InputError("--" + option + ": '" + s + "' is not a number");
  return v;
}

}  // namespace

void add_sim_options(po::options_description& d, SimOptions& o) {
  auto& s = o.site;
  auto& t = o.traffic;
  // clang-format off
  d.add_options()
    ("seed", po::value(&o.seed)->default_value(o.seed), "random seed (same seed, same output)")
    ("station", po::value(&s.station_id)->default_value(s.station_id), "station id")
    ("lanes", po::value(&s.lanes)->default_value(s.lanes), "lanes 1..4")
    ("rows", po::value<std::string>(), "sensor rows' positions [m], comma separated (default 0,1,2,3)")
    ("row-count", po::value<int>(), "N rows at --row-spacing-m (instead of --rows)")
    ("row-spacing-m", po::value<double>()->default_value(1.0), "[m] spacing for --row-count")
    ("kind", po::value<std::string>()->default_value("strip"), "sensor kind: strip | plate")
    ("length-m", po::value<double>(), "[m] sensor length along travel (strip 0.05, plate 0.6)")
    ("gain", po::value<double>(), "[kg/count] (strip 0.25, plate 1.0)")
    ("sample-rate", po::value(&s.sample_rate_hz)->default_value(s.sample_rate_hz), "[Hz]")
    ("noise", po::value(&s.noise_counts)->default_value(s.noise_counts), "[counts] RMS noise")
    ("temp-slope", po::value(&s.temperature_slope_c_per_h)->default_value(s.temperature_slope_c_per_h), "[°C/h] temperature ramp (baseline drift)")
    ("saturation-counts", po::value(&s.saturation_counts)->default_value(s.saturation_counts), "[counts] amplifier clamps at ±this")
    ("noise-lf", po::value(&s.noise_lf_counts)->default_value(s.noise_lf_counts), "[counts] RMS low-frequency noise (1st-order, --noise-lf-hz)")
    ("noise-lf-hz", po::value(&s.noise_lf_hz)->default_value(s.noise_lf_hz), "[Hz] corner of the low-frequency noise")
    ("zero-walk", po::value(&s.zero_walk_counts_per_sqrt_s)->default_value(s.zero_walk_counts_per_sqrt_s), "[counts/sqrt(s)] random-walk zero per channel")
    ("zero-step", po::value(&s.zero_step_counts)->default_value(s.zero_step_counts), "[counts] every zero steps by this at --zero-step-at")
    ("zero-step-at", po::value(&s.zero_step_at_s)->default_value(s.zero_step_at_s), "[s] time of the zero step (< 0: none)")
    ("contact-min-m", po::value(&s.contact_min_m)->default_value(s.contact_min_m), "[m] tyre contact length of a light wheel")
    ("contact-max-m", po::value(&s.contact_max_m)->default_value(s.contact_max_m), "[m] tyre contact length at 5 t and more")
    ("faulty-row", po::value(&s.faulty_row)->default_value(s.faulty_row), "1-based row with a faulty sensor (0: none)")
    ("faulty-row-gain", po::value(&s.faulty_row_gain)->default_value(s.faulty_row_gain), "[-] its true sensitivity / configured")
    ("faulty-row-miss", po::value(&s.faulty_row_miss)->default_value(s.faulty_row_miss), "[-] probability it misses a wheel")
    ("flow", po::value(&t.flow_veh_per_h)->default_value(t.flow_veh_per_h), "[veh/h] all lanes")
    ("mix", po::value<std::string>(), "class shares, e.g. car=0.5,truck_2axle=0.1 (unnamed classes keep defaults)")
    ("laden-share", po::value(&t.laden_share)->default_value(t.laden_share), "[-] of goods vehicles")
    ("overload-share", po::value(&t.overload_share)->default_value(t.overload_share), "[-] of goods vehicles")
    ("overload-min", po::value(&t.overload_min)->default_value(t.overload_min), "[-] smallest overload ratio")
    ("overload-max", po::value(&t.overload_max)->default_value(t.overload_max), "[-] largest overload ratio")
    ("speed-mean", po::value(&t.speed_mean_kmh)->default_value(t.speed_mean_kmh), "[km/h]")
    ("speed-sd", po::value(&t.speed_sd_kmh)->default_value(t.speed_sd_kmh), "[km/h]")
    ("speed-min", po::value(&t.speed_min_kmh)->default_value(t.speed_min_kmh), "[km/h]")
    ("speed-max", po::value(&t.speed_max_kmh)->default_value(t.speed_max_kmh), "[km/h]")
    ("accel-max", po::value(&t.accel_max_mps2)->default_value(t.accel_max_mps2), "[m/s^2] |acceleration| up to")
    ("straddle-share", po::value(&t.straddle_share)->default_value(t.straddle_share), "[-] vehicles straddling lanes")
    ("dense", po::bool_switch(&t.dense), "dense traffic (0.3 s gaps)")
    ("headway-s", po::value(&t.min_headway_s)->default_value(t.min_headway_s), "[s] least time gap at row 1: the leader's rear end to the follower's front end")
    ("bounce-amp", po::value(&t.bounce_amp)->default_value(t.bounce_amp), "[-] body bounce amplitude")
    ("hop-amp", po::value(&t.hop_amp)->default_value(t.hop_amp), "[-] wheel hop amplitude")
    ("imbalance", po::value(&t.imbalance_max)->default_value(t.imbalance_max), "[-] left/right share 0.5 ± up to this")
    ("fault", po::value<std::vector<std::string>>()->composing(), "stuck:CHANNEL@START_S or dead:CHANNEL@START_S (repeatable)")
    ("start-utc", po::value<std::string>(), "recording start, e.g. 2026-11-27T08:00:00Z");
  // clang-format on
}

void finish_sim_options(const po::variables_map& vm, SimOptions& o) {
  auto& s = o.site;
  const std::string kind = vm["kind"].as<std::string>();
  if (kind == "strip") {
    s.kind = SensorKind::strip;
    s.length_m = 0.05;
    s.gain_kg_per_count = 0.25;
  } else if (kind == "plate") {
    s.kind = SensorKind::plate;
    s.length_m = 0.6;
    s.gain_kg_per_count = 1.0;
  } else {
    throw InputError("--kind: '" + kind + "' is neither strip nor plate");
  }
  if (vm.count("length-m")) s.length_m = vm["length-m"].as<double>();
  if (vm.count("gain")) s.gain_kg_per_count = vm["gain"].as<double>();
  if (vm.count("rows")) {
    s.rows_m.clear();
    for (const auto& r : split(vm["rows"].as<std::string>(), ','))
      s.rows_m.push_back(to_number(r, "rows"));
  } else if (vm.count("row-count")) {
    const int n = vm["row-count"].as<int>();
    if (n < 1 || n > 16) throw InputError("--row-count: must be in 1..16");
    s.rows_m.clear();
    for (int i = 0; i < n; ++i) s.rows_m.push_back(i * vm["row-spacing-m"].as<double>());
  } else if (s.kind == SensorKind::plate) {
    s.rows_m = {0, 1.5};  // a two-row bending-plate site
  }
  if (vm.count("mix")) {
    for (const auto& item : split(vm["mix"].as<std::string>(), ',')) {
      const auto eq = item.find('=');
      if (eq == std::string::npos) throw InputError("--mix: '" + item + "' is not class=share");
      const std::string name = item.substr(0, eq);
      int ci = 0;
      while (ci < kClassCount && to_string(static_cast<VehicleClass>(ci)) != name) ++ci;
      if (ci == kClassCount) throw InputError("--mix: unknown class '" + name + "'");
      o.traffic.class_share[static_cast<std::size_t>(ci)] = to_number(item.substr(eq + 1), "mix");
    }
  }
  if (vm.count("fault")) {
    for (const auto& f : vm["fault"].as<std::vector<std::string>>()) {
      const auto colon = f.find(':'), at = f.find('@');
      if (colon == std::string::npos || at == std::string::npos || at < colon)
        throw InputError("--fault: '" + f + "' is not KIND:CHANNEL@START_S");
      const std::string k = f.substr(0, colon);
      SimOptions::NamedFault nf;
      if (k == "stuck")
        nf.kind = ChannelFaultKind::stuck;
      else if (k == "dead")
        nf.kind = ChannelFaultKind::dead;
      else
        throw InputError("--fault: kind '" + k + "' is neither stuck nor dead");
      nf.channel = f.substr(colon + 1, at - colon - 1);
      nf.start_s = to_number(f.substr(at + 1), "fault");
      o.faults.push_back(nf);
    }
  }
  if (vm.count("start-utc")) o.started_unix_us = time::parse_utc(vm["start-utc"].as<std::string>());
  s.validate();
  o.traffic.validate();
}

}  // namespace wim::sim
