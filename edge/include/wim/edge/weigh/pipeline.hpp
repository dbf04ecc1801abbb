// SPDX-License-Identifier: Apache-2.0
// The streaming weighing pipeline: raw samples in (blocks or rows of a contract-1
// recording), weighed vehicles with their legal decision out, in pass order.
//   per channel: ChannelDetector (baseline, pulses, faults)
//   per lane:    segment of pulses until the lane is quiet -> LaneAssembler -> vehicles
//   all lanes:   fault check, legal::decide, reordering into pass order
// Memory is bounded: a lane's segment is cut at weighing.max_segment_s.
// Thread-safety: one instance per thread. Errors: InputError (column mapping).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "wim/common/recording.hpp"
#include "wim/common/station_config.hpp"
#include "wim/edge/weigh/channel_detector.hpp"
#include "wim/edge/weigh/lane_assembler.hpp"
#include "wim/edge/weigh/types.hpp"

namespace wim::weigh {

struct PipelineStats {
  std::uint64_t samples = 0;   ///< [-] rows fed
  std::uint64_t pulses = 0;    ///< [-] wheel pulses detected
  std::uint64_t vehicles = 0;  ///< [-] vehicles assembled
  std::uint64_t cuts = 0;      ///< [-] segments cut at max_segment_s
};

class Pipeline {
 public:
  /// `columns`: channel names of the input rows in order (a recording's header). Every
  /// configured channel must be among them (InputError naming the missing one); columns
  /// not in the config are ignored.
  Pipeline(config::StationConfig cfg, double sample_rate_hz,
           const std::vector<std::string>& columns);
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  /// One row: t_us [us] strictly increasing, counts [counts] one per column.
  void feed(std::int64_t t_us, std::span<const std::int32_t> counts);
  void feed(const recording::Block& block);
  /// Station temperature [degC] for the baseline feed-forward.
  void set_temperature_c(double t_c);
  /// Presence/loop input: the lane's loop changed state at t_us [us].
  void presence(int lane, std::int64_t t_us, bool occupied);
  /// End of input: weighs whatever is still buffered.
  void finish();
  /// Vehicles complete and in pass order (t_us ascending) so far; removes them.
  std::vector<WeighedVehicle> take();

  const config::StationConfig& config() const { return cfg_; }
  /// Channel fault intervals (flat/stuck, saturation, over-long pulse re-zero) that
  /// overlap [from_us, to_us], every channel; ChannelFault::channel indexes config().channels.
  std::vector<ChannelFault> faults_between(std::int64_t from_us, std::int64_t to_us) const;
  const PipelineStats& stats() const { return stats_; }

 private:
  struct Lane {
    std::vector<Pulse> pulses;
    std::int64_t first_start_us = 0, last_end_us = 0;
    std::vector<std::int64_t> presence_gaps_us;
    bool carry_cut = false;  // first vehicle of the next segment follows a cut
  };
  void on_pulse(Pulse&& p);
  void close(std::size_t lane, bool forced);
  void finalise(std::size_t lane, std::vector<WeighedVehicle>& vehicles);
  void merge_straddlers();

  config::StationConfig cfg_;
  double sample_rate_hz_;
  std::vector<int> column_to_channel_;  // per input column: channel or -1
  std::vector<ChannelDetector> detectors_;
  std::vector<int> lane_of_channel_;  // index into lanes_
  std::vector<int> lane_numbers_;
  std::vector<LaneAssembler> assemblers_;
  std::vector<Lane> lanes_;
  std::vector<WeighedVehicle> pending_;
  std::int64_t now_us_ = 0;
  std::int64_t gap_us_, max_segment_us_;
  PipelineStats stats_;
};

}  // namespace wim::weigh
