// SPDX-License-Identifier: Apache-2.0
#include "physics.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace wim::sim {

double contact_length_m(double wheel_static_kg, double min_m, double max_m) {
  return min_m + (max_m - min_m) * std::clamp(wheel_static_kg / 5000.0, 0.0, 1.0);
}

namespace {
/// Deterministic per (vehicle, axle, side) draw in [0, 1), independent of the sample stream.
double wheel_draw(std::uint64_t id, std::size_t axle, int side) {
  std::uint64_t z = id * 0x9e3779b97f4a7c15ull + axle * 0xbf58476d1ce4e5b9ull +
                    static_cast<std::uint64_t>(side) * 0x94d049bb133111ebull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) / 9007199254740992.0;
}
}  // namespace

SignalSynth::SignalSynth(const SiteConfig& site, std::vector<Channel> channels,
                         VehicleSource vehicles, std::vector<ChannelFault> faults,
                         std::uint64_t seed)
    : site_(site),
      channels_(std::move(channels)),
      source_(std::move(vehicles)),
      faults_(std::move(faults)),
      rng_(seed ^ 0x9a15e5ull),
      chan_(static_cast<std::size_t>(site.lanes),
            std::vector<std::array<int, 2>>(site.rows_m.size(), {-1, -1})),
      load_(channels_.size()),
      held_(channels_.size()),
      saturated_(channels_.size()),
      dead_(channels_.size()),
      lf_(channels_.size()),
      walk_(channels_.size()) {
  lf_a_ = std::exp(-2 * std::numbers::pi * site.noise_lf_hz / site.sample_rate_hz);
  lf_b_ = site.noise_lf_counts * std::sqrt(1 - lf_a_ * lf_a_);
  for (std::size_t i = 0; i < channels_.size(); ++i) {
    const Channel& c = channels_[i];
    chan_.at(static_cast<std::size_t>(c.lane - 1))
        .at(static_cast<std::size_t>(c.row - 1))[c.left ? 0 : 1] = static_cast<int>(i);
  }
}

std::int64_t SignalSynth::t_us_of(std::uint64_t index) const {
  return std::llround(static_cast<double>(index) * 1e6 / site_.sample_rate_hz);
}

std::optional<std::int64_t> SignalSynth::quiet_after_us() const {
  if (!exhausted_) return std::nullopt;
  return last_end_us_;
}

void SignalSynth::pull_until(std::int64_t t_us) {
  // Vehicles start affecting the sensors at most ~1 s before their t_us.
  while (!exhausted_ && (queue_.empty() || queue_.back().v.t_us < t_us + 2'000'000)) {
    std::optional<Vehicle> v = source_();
    if (!v) {
      exhausted_ = true;
      break;
    }
    if (on_vehicle_) on_vehicle_(*v);
    Active a{*v, 0, 0, {}, {}};
    double off = 0;
    a.offset_m.push_back(0);
    for (double s : v->axle_spacings_m) a.offset_m.push_back(off += s);
    for (std::size_t i = 0; i < v->axle_loads_kg.size(); ++i)
      a.contact_m.push_back(
          contact_length_m(v->axle_loads_kg[i] * 0.5, site_.contact_min_m, site_.contact_max_m));
    const double v0 = v->speed_kmh / 3.6;
    const double lead_m = 0.3 + site_.length_m;
    const double tail_m = v->wheelbase_m() + site_.span_m() + 0.3;
    const double v_low = std::max(v0 - std::abs(v->accel_mps2) * (tail_m / v0 + 1), 3.0);
    a.start_us = v->t_us - static_cast<std::int64_t>(lead_m / v0 * 1e6) - 1000;
    a.end_us = v->t_us + static_cast<std::int64_t>(tail_m / v_low * 1e6) + 1000;
    last_end_us_ = std::max(last_end_us_, a.end_us);
    queue_.push_back(std::move(a));
  }
}

void SignalSynth::add_vehicle(const Active& a, std::int64_t t_us, double* load) {
  const Vehicle& v = a.v;
  const double tau = static_cast<double>(t_us - v.t_us) * 1e-6;  // [s]
  const double v0 = v.speed_kmh / 3.6;
  const double x_front = v0 * tau + 0.5 * v.accel_mps2 * tau * tau;  // [m] first axle centre
  const double bounce =
      v.bounce_amp * std::sin(2 * std::numbers::pi * v.bounce_hz * tau + v.bounce_phase);
  const double half_len = site_.length_m / 2;
  const auto lane = static_cast<std::size_t>(v.lane - 1);
  for (std::size_t ax = 0; ax < v.axle_loads_kg.size(); ++ax) {
    const double x = x_front - a.offset_m[ax];
    const double c = a.contact_m[ax];
    if (x + c / 2 < site_.rows_m.front() - half_len || x - c / 2 > site_.rows_m.back() + half_len)
      continue;
    const double dyn =
        1 + bounce +
        v.hop_amp * std::sin(2 * std::numbers::pi * v.hop_hz[ax] * tau + v.hop_phase[ax]);
    const double force_left = v.axle_loads_kg[ax] * v.left_share[ax] * dyn;
    const double force_right = v.axle_loads_kg[ax] * (1 - v.left_share[ax]) * dyn;
    for (std::size_t r = 0; r < site_.rows_m.size(); ++r) {
      const double lo = std::max(x - c / 2, site_.rows_m[r] - half_len);
      const double hi = std::min(x + c / 2, site_.rows_m[r] + half_len);
      if (hi <= lo) continue;
      double frac = (hi - lo) / c;
      double miss_l = 1, miss_r = 1;
      if (static_cast<int>(r) + 1 == site_.faulty_row) {
        frac *= site_.faulty_row_gain;
        if (site_.faulty_row_miss > 0) {
          miss_l = wheel_draw(v.id, ax, 0) < site_.faulty_row_miss ? 0 : 1;
          miss_r = wheel_draw(v.id, ax, 1) < site_.faulty_row_miss ? 0 : 1;
        }
      }
      // Straddling: left wheels over this lane's right sensors, right wheels over the
      // next lane's left sensors (or between sensors when there is no next lane).
      const int left_ch = v.straddling ? chan_[lane][r][1] : chan_[lane][r][0];
      const int right_ch =
          v.straddling ? (lane + 1 < chan_.size() ? chan_[lane + 1][r][0] : -1) : chan_[lane][r][1];
      if (left_ch >= 0)
        load[left_ch] +=
            miss_l * force_left * frac / channels_[static_cast<std::size_t>(left_ch)].gain;
      if (right_ch >= 0)
        load[right_ch] +=
            miss_r * force_right * frac / channels_[static_cast<std::size_t>(right_ch)].gain;
    }
  }
}

std::int64_t SignalSynth::next(std::span<std::int32_t> counts) {
  const std::int64_t t_us = t_us_of(index_);
  pull_until(t_us);
  while (!queue_.empty() && queue_.front().end_us < t_us) queue_.pop_front();
  std::fill(load_.begin(), load_.end(), 0.0);
  for (const Active& a : queue_)
    if (a.start_us <= t_us && t_us <= a.end_us) add_vehicle(a, t_us, load_.data());

  const double hours = static_cast<double>(t_us) / 3.6e9;
  const double dtemp_c = site_.temperature_slope_c_per_h * hours;
  const double sat = site_.saturation_counts;
  for (std::size_t i = 0; i < channels_.size(); ++i) {
    const Channel& c = channels_[i];
    double value =
        c.zero + c.drift_counts_per_c * dtemp_c + load_[i] + site_.noise_counts * rng_.normal();
    // Harder signals: drawn only when switched on, so the default stream is unchanged.
    if (site_.noise_lf_counts > 0) value += lf_[i] = lf_a_ * lf_[i] + lf_b_ * rng_.normal();
    if (site_.zero_walk_counts_per_sqrt_s > 0)
      value += walk_[i] +=
          site_.zero_walk_counts_per_sqrt_s * std::sqrt(1 / site_.sample_rate_hz) * rng_.normal();
    if (site_.zero_step_at_s >= 0 && static_cast<double>(t_us) >= site_.zero_step_at_s * 1e6)
      value += site_.zero_step_counts;
    saturated_[i] = std::abs(value) >= sat;
    value = std::clamp(value, -sat, sat);
    counts[i] = static_cast<std::int32_t>(std::lround(value));
  }
  for (const ChannelFault& f : faults_) {
    if (f.channel >= counts.size() || t_us < f.start_us) continue;
    if (f.kind == ChannelFaultKind::dead) {
      counts[f.channel] = 0;
      dead_[f.channel] = true;
    } else {
      if (t_us_of(index_ - (index_ > 0)) < f.start_us || index_ == 0)
        held_[f.channel] = counts[f.channel];
      counts[f.channel] = held_[f.channel];
    }
  }
  ++index_;
  return t_us;
}

}  // namespace wim::sim
