// SPDX-License-Identifier: Apache-2.0
// Turns the pulses of one lane (a "segment": traffic between two quiet gaps) into
// weighed vehicles: pairs left/right pulses into row hits, matches hits across rows into
// axles, fits speed per axle from the row timing and acceleration over the axles,
// computes wheel loads (contract 2, strip and plate), combines rows robustly (median
// with outlier rejection), separates vehicles by spacing and presence, and flags passes
// unfit for enforcement. The legal decision is applied by the caller (Pipeline).
// Thread-safety: const member functions, no shared state.
#pragma once
#include <deque>
#include <span>
#include <vector>

#include "wim/common/station_config.hpp"
#include "wim/edge/weigh/types.hpp"

namespace wim::weigh {

class LaneAssembler {
 public:
  LaneAssembler(int lane, const config::StationConfig& cfg);

  /// `pulses` of this lane's channels (any order). `presence_gaps_us`: times [us] at which
  /// a presence loop saw the lane empty (split vehicles there). `cut`: the segment was
  /// closed early (max_segment_s), so its vehicles are flagged.
  std::vector<WeighedVehicle> assemble(std::vector<Pulse> pulses,
                                       std::span<const std::int64_t> presence_gaps_us, bool cut);
  int lane() const { return lane_; }
  const std::vector<int>& channels() const { return channels_; }
  std::size_t rows() const { return rows_m_.size(); }

 private:
  struct Hit {
    double t_us = 0;
    const Pulse* side[2] = {nullptr, nullptr};  // left, right
  };
  std::vector<Hit> pair_sides(std::vector<const Pulse*>& row_pulses) const;
  double wheel_load_kg(const Pulse& p, double speed_mps) const;

  int lane_;
  const config::StationConfig& cfg_;
  std::vector<int> channels_;                         // indices into cfg.channels, this lane only
  std::vector<double> rows_m_;                        // [m] distinct row positions, ascending
  std::vector<int> row_of_;                           // per station channel: row index or -1
  std::vector<std::deque<double>> row_bias_history_;  // per row: [-] recent vehicles' bias
  /// [%] |speed difference| / speed of recent adjacent axle pairs closer than
  /// kOneVehicleSpacingM (certainly one vehicle): the site's measured speed noise.
  std::deque<double> pair_speed_diff_pct_;

 public:
  /// [m] adjacent axles closer than this are one vehicle whatever the traffic: the gap to a
  /// follower is at least the leader's rear plus the follower's front overhang (>= 1.5 m,
  /// docs/simulator.md) plus speed x time gap.
  static constexpr double kOneVehicleSpacingM = 3.0;
  static constexpr std::size_t kSpeedNoisePairs = 400;    ///< [-] pairs kept
  static constexpr std::size_t kSpeedNoiseMinPairs = 50;  ///< [-] fewer: no measured margin
  static constexpr double kSpeedNoiseP99Factor = 3;       ///< [-] margin = this x p99
  /// [%] the margin from the measured speed noise (3 x its 99th percentile), NaN while
  /// fewer than kSpeedNoiseMinPairs pairs were seen.
  double speed_noise_margin_pct() const;
};

}  // namespace wim::weigh
