// SPDX-License-Identifier: Apache-2.0
// SimSource: the simulated roadside in-process, as a SampleSource. The same traffic model
// and contract-2 physics as `wim-sim record`/`serve`, without Modbus: a station daemon (or
// 51 of them) can run on simulated sensors at a few ms of CPU per simulated second.
//
// Samples are those `wim-sim record` writes for the same SimOptions (bit-identical while
// the traffic is the same: see docs/simulator.md, "In-process source"). Times: sample k
// is at t_us_of(k) after the start; UTC = start_unix_us + that, monotonic = the
// CLOCK_MONOTONIC reading at the start + that. Paced: sample k is handed out once
// (wall time since the first read) × time_scale ≥ its simulated time; unpaced: each read()
// returns block_samples at once (tests, batch runs).
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>

#include "record.hpp"
#include "rng.hpp"
#include "wim/hw/channel_monitor.hpp"
#include "wim/hw/sample_source.hpp"
#include "wim/hw/sim_truth.hpp"

namespace wim::sim {

struct SimSourceOptions {
  SimOptions sim;           ///< seed, site, traffic, channel faults
  bool paced = true;        ///< false: generate as fast as read() is called
  double time_scale = 1.0;  ///< [-] simulated seconds per wall second (paced)
  /// [us] UTC of sample 0; unset: the system clock at the first read() (clock sync state
  /// then from the kernel; with a given start it is "unknown").
  std::optional<std::int64_t> start_unix_us;
  std::size_t block_samples = 400;  ///< [samples] per read(): unpaced exactly, paced at least
                                    ///< (unless the timeout comes first) and at most 10×
  // Acquisition faults, like `serve`'s Modbus faults, in chunks of chunk_samples (one
  // FIFO read of the simulated amplifier):
  std::size_t chunk_samples = 15;  ///< [samples] (8 channels: 15 per Modbus read)
  double drop_prob = 0;            ///< [-] chunks lost (reported as LostSpan)
  double late_prob = 0;            ///< [-] chunks handed out late_ms late (paced only)
  int late_ms = 0;                 ///< [ms]
  /// Throws InputError naming the field.
  void validate() const;
};

class SimSource final : public hw::SampleSource {
 public:
  explicit SimSource(SimSourceOptions opt);
  ~SimSource() override;

  const std::vector<std::string>& channels() const override { return names_; }
  double sample_rate_hz() const override { return opt_.sim.site.sample_rate_hz; }
  bool read(hw::SampleBlock& block, std::chrono::milliseconds timeout) override;
  hw::SourceCounters counters() const override { return counters_; }
  std::string status() const override;

  /// Truth of each vehicle as it passes (see SimTruthCallback). Without a callback the
  /// events queue up (at most 4096; older ones are dropped and counted).
  void on_truth(hw::SimTruthCallback cb) { on_truth_ = std::move(cb); }
  std::vector<hw::SimTruth> take_truth();
  /// Contract-2 station config (channels, gains, zeros) matching this source.
  boost::json::object station_json() const;
  const SimSourceOptions& options() const { return opt_; }
  /// [s] simulated time generated so far.
  double simulated_s() const;

 private:
  void anchor();
  std::uint64_t due_index() const;  // samples whose time has come (paced)
  void emit_truth_until(std::int64_t t_us);
  void generate(hw::SampleBlock& block, std::uint64_t upto);

  SimSourceOptions opt_;
  std::vector<Channel> chans_;
  std::vector<std::string> names_;
  std::unique_ptr<SignalSynth> synth_;
  Rng fault_rng_;
  hw::SimTruthCallback on_truth_;
  std::deque<Vehicle> pulled_;  // vehicles drawn by the synth whose t_us has not come yet
  std::deque<hw::SimTruth> truth_queue_;
  std::uint64_t truth_dropped_ = 0;
  bool anchored_ = false;
  std::int64_t start_unix_us_ = 0, start_mono_us_ = 0, wall_start_mono_us_ = 0;
  std::int64_t next_clock_check_us_ = 0;
  time::ClockSync sync_ = time::ClockSync::unknown;
  std::uint64_t late_until_index_ = 0;     // a late chunk holds back samples < this...
  std::int64_t late_release_mono_us_ = 0;  // ...until this wall time
  std::uint64_t chunk_end_ = 0;            // end index of the current fault chunk
  bool chunk_dropped_ = false;
  std::uint64_t late_chunks_ = 0;
  std::vector<std::int32_t> row_;
  hw::SourceCounters counters_;
  hw::ChannelMonitor monitor_;
};

}  // namespace wim::sim
