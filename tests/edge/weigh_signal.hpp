// SPDX-License-Identifier: Apache-2.0
// Hand-built contract-2 signals with exactly known answers, for the weighing tests:
// rigid vehicles (no dynamic load), a fixed tyre contact length, deterministic noise.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "wim/common/recording.hpp"
#include "wim/common/station_config.hpp"
#include "wim/edge/weigh/pipeline.hpp"

namespace wim::test {

struct TestVehicle {
  double t_s = 1.0;                   ///< [s] first axle centre over row 0
  double speed_kmh = 60;              ///< [km/h] at t_s
  double accel_mps2 = 0;              ///< [m/s^2]
  std::vector<double> axle_loads_kg;  ///< [kg] static = dynamic here
  std::vector<double> spacings_m;     ///< [m]
  double left_share = 0.5;            ///< [-]
  bool straddling = false;            ///< left wheels miss the sensors
  double gross_kg() const {
    double g = 0;
    for (double a : axle_loads_kg) g += a;
    return g;
  }
};

struct TestSite {
  int rows = 4;
  double row_spacing_m = 1.0;
  config::SensorKind kind = config::SensorKind::strip;
  double length_m = 0.05;  ///< [m] strip width / plate length
  double gain = 0.25;      ///< [kg/count]
  double contact_m = 0.2;  ///< [m] tyre contact length
  double rate_hz = 4000;
  double noise_counts = 2;           ///< [counts] peak of the deterministic noise
  double drift_counts_per_s = 0;     ///< [counts/s] baseline drift
  std::int32_t saturation = 32767;   ///< [counts]
  int dead_channel = -1;             ///< channel reading 0 throughout
  double wrong_gain_row_factor = 1;  ///< row 2's true gain differs by this factor
  double step_at_s = -1;             ///< [s] every channel's zero steps here (< 0: never)
  double step_counts = 0;            ///< [counts] by this much
  config::StationConfig config() const {
    config::StationConfig c;
    c.station_id = "T001";
    for (int r = 0; r < rows; ++r)
      for (int s = 0; s < 2; ++s) {
        config::ChannelConfig ch;
        ch.name = "L1R" + std::to_string(r + 1) + (s == 0 ? "L" : "R");
        ch.lane = 1;
        ch.row_m = r * row_spacing_m;
        ch.side = s == 0 ? config::Side::left : config::Side::right;
        ch.kind = kind;
        ch.length_m = length_m;
        ch.gain = gain;
        ch.zero = 100 * (s + 1) - 50 * r;
        c.channels.push_back(ch);
      }
    return c;
  }
};

/// Renders `vehicles` into a recording block of `duration_s`.
inline recording::Recording render(const TestSite& site, const std::vector<TestVehicle>& vehicles,
                                   double duration_s) {
  const config::StationConfig cfg = site.config();
  recording::Recording rec;
  rec.header.sample_rate_hz = site.rate_hz;
  rec.header.station = cfg.station_id;
  for (const auto& ch : cfg.channels) rec.header.channels.push_back(ch.name);
  const auto n = static_cast<std::size_t>(duration_s * site.rate_hz);
  rec.data.counts.assign(cfg.channels.size(), std::vector<std::int32_t>(n));
  std::uint32_t lcg = 12345;
  std::vector<double> load(cfg.channels.size());
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / site.rate_hz;
    rec.data.t_us.push_back(std::llround(t * 1e6));
    std::fill(load.begin(), load.end(), 0.0);
    for (const TestVehicle& v : vehicles) {
      const double tau = t - v.t_s;
      const double x_front = v.speed_kmh / 3.6 * tau + 0.5 * v.accel_mps2 * tau * tau;
      double offset = 0;
      for (std::size_t a = 0; a < v.axle_loads_kg.size(); ++a) {
        if (a > 0) offset += v.spacings_m[a - 1];
        const double x = x_front - offset;
        for (std::size_t c = 0; c < cfg.channels.size(); ++c) {
          const auto& ch = cfg.channels[c];
          const bool left = ch.side == config::Side::left;
          if (left && v.straddling) continue;
          const double lo = std::max(x - site.contact_m / 2, ch.row_m - site.length_m / 2);
          const double hi = std::min(x + site.contact_m / 2, ch.row_m + site.length_m / 2);
          if (hi <= lo) continue;
          const double wheel = v.axle_loads_kg[a] * (left ? v.left_share : 1 - v.left_share);
          const double g =
              ch.row_m == site.row_spacing_m ? site.gain * site.wrong_gain_row_factor : site.gain;
          load[c] += wheel * (hi - lo) / site.contact_m / g;
        }
      }
    }
    for (std::size_t c = 0; c < cfg.channels.size(); ++c) {
      lcg = lcg * 1664525u + 1013904223u;
      const double noise = site.noise_counts * ((lcg >> 8) / 16777216.0 * 2 - 1);
      const double step = site.step_at_s >= 0 && t >= site.step_at_s ? site.step_counts : 0;
      double v = cfg.channels[c].zero + site.drift_counts_per_s * t + step + load[c] + noise;
      v = std::clamp(v, -static_cast<double>(site.saturation),
                     static_cast<double>(site.saturation));
      rec.data.counts[c][i] =
          static_cast<int>(c) == site.dead_channel ? 0 : static_cast<std::int32_t>(std::lround(v));
    }
  }
  return rec;
}

/// Weighs `vehicles` rendered on `site`, fed in blocks of `block_rows`.
inline std::vector<weigh::WeighedVehicle> weigh(
    const TestSite& site, const std::vector<TestVehicle>& vs, double duration_s,
    std::size_t block_rows = 4096, const config::StationConfig* cfg_override = nullptr) {
  const config::StationConfig cfg = cfg_override ? *cfg_override : site.config();
  const recording::Recording rec = render(site, vs, duration_s);
  weigh::Pipeline p(cfg, site.rate_hz, rec.header.channels);
  std::vector<weigh::WeighedVehicle> out;
  for (std::size_t at = 0; at < rec.data.rows(); at += block_rows) {
    recording::Block b;
    const std::size_t end = std::min(rec.data.rows(), at + block_rows);
    b.t_us.assign(rec.data.t_us.begin() + static_cast<long>(at),
                  rec.data.t_us.begin() + static_cast<long>(end));
    for (const auto& c : rec.data.counts)
      b.counts.emplace_back(c.begin() + static_cast<long>(at), c.begin() + static_cast<long>(end));
    p.feed(b);
    for (auto& v : p.take()) out.push_back(std::move(v));
  }
  p.finish();
  for (auto& v : p.take()) out.push_back(std::move(v));
  return out;
}

inline bool has_reason(const weigh::WeighedVehicle& v, const std::string& part) {
  for (const std::string& r : v.reasons)
    if (r.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace wim::test
