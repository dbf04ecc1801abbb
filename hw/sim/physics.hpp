// SPDX-License-Identifier: Apache-2.0
// Contract-2 physics: each tyre's contact patch crossing strip or plate sensors, with
// dynamic wheel loads, noise, temperature drift, saturation and channel faults.
//
// Strip: counts = wheel_force_kg × overlap_m / contact_length_m / gain, so that
//   gain × v × Σ(count − baseline)·Δt / length_m = wheel_force_kg (the pipeline's inverse).
// Plate: counts = Σ wheel_force_kg × overlap_m / contact_length_m / gain over the wheels on
//   the plate, = wheel_force_kg / gain while one wheel is fully on it.
// Sensors are centred on their row_m; a vehicle's t_us is its first axle's centre over
// the centre of row 1.
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "rng.hpp"
#include "site.hpp"
#include "traffic.hpp"

namespace wim::sim {

enum class ChannelFaultKind { stuck, dead };

/// A sensor fault switched on at start_us (recording time) on one channel.
struct ChannelFault {
  std::size_t channel = 0;
  ChannelFaultKind kind = ChannelFaultKind::stuck;
  std::int64_t start_us = 0;  ///< [us]
};

/// Contact patch length [m] of a wheel carrying static_kg: ~0.18 m light, ~0.30 m at 5 t
/// (the site's contact_min_m / contact_max_m).
double contact_length_m(double wheel_static_kg, double min_m = 0.18, double max_m = 0.30);

class SignalSynth {
 public:
  using VehicleSource = std::function<std::optional<Vehicle>()>;

  /// `vehicles` yields vehicles in t_us order, nullopt when there are no more.
  SignalSynth(const SiteConfig& site, std::vector<Channel> channels, VehicleSource vehicles,
              std::vector<ChannelFault> faults, std::uint64_t seed);

  /// Produces sample `index()` into `counts` (one per channel) and advances. Returns its
  /// t_us [us] = round(index × 1e6 / sample_rate_hz).
  std::int64_t next(std::span<std::int32_t> counts);
  std::uint64_t index() const { return index_; }
  std::int64_t t_us_of(std::uint64_t index) const;
  const std::vector<Channel>& channels() const { return channels_; }
  /// Per channel: sample was clamped at the last next() / channel is dead (open circuit).
  const std::vector<bool>& saturated() const { return saturated_; }
  const std::vector<bool>& dead() const { return dead_; }
  /// Every vehicle pulled from the source so far (for truth files), in t_us order.
  void on_vehicle(std::function<void(const Vehicle&)> cb) { on_vehicle_ = std::move(cb); }
  /// t_us [us] after which no vehicle is on any sensor, once the source is exhausted.
  std::optional<std::int64_t> quiet_after_us() const;

 private:
  struct Active {
    Vehicle v;
    std::int64_t start_us, end_us;
    std::vector<double> offset_m;   // per axle, behind the first axle
    std::vector<double> contact_m;  // per axle
  };
  void pull_until(std::int64_t t_us);
  void add_vehicle(const Active& a, std::int64_t t_us, double* load_counts);

  SiteConfig site_;
  std::vector<Channel> channels_;
  VehicleSource source_;
  std::vector<ChannelFault> faults_;
  Rng rng_;
  std::function<void(const Vehicle&)> on_vehicle_;
  std::deque<Active> queue_;
  bool exhausted_ = false;
  std::int64_t last_end_us_ = 0;
  std::uint64_t index_ = 0;
  // chan_[lane-1][row-1][0 left / 1 right] = channel index
  std::vector<std::vector<std::array<int, 2>>> chan_;
  std::vector<double> load_;  // per channel, counts from vehicles
  std::vector<std::int32_t> held_;
  std::vector<bool> saturated_, dead_;
  std::vector<double> lf_, walk_;  // per channel: low-frequency noise, random-walk zero [counts]
  double lf_a_ = 0, lf_b_ = 0;     // first-order low-pass coefficients
};

}  // namespace wim::sim
