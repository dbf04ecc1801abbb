// SPDX-License-Identifier: Apache-2.0
// Per-channel front end: noise floor, baseline (auto-zero), pulse detection, saturation
// and fault detection. Fed one raw sample at a time; emits a Pulse when a wheel has passed.
//
// - Noise floor: the robust standard deviation (1.4826 x MAD) of the smoothed signal
//   between pulses, per block of noise_block_s, the median over the last 8 blocks.
//   Thresholds: on = max(detect_on, noise_k_on x sigma), off = max(detect_off,
//   noise_k_off x sigma), so ordinary amplifier noise never starts a pulse.
// - Detection runs on a moving average over smooth_s; the pulse window (the samples summed
//   into the area) is the raw signal from pulse_margin_s before the first crossing of the
//   off level to pulse_margin_s after the last one, so no part of the ramps is lost.
//   A dip below off shorter than pulse_bridge_s does not end a pulse (no split axle);
//   a pulse shorter than min_pulse_s is noise and dropped.
// - Auto-zero: tracking between pulses only: at the end of each between-pulse block the
//   zero moves toward the block's median (time constant autozero_tau_s), by at most
//   autozero_rate_kg_per_s x the time since the last block (slow drift, either direction). A zero
//   that moved faster than that (a step, up or down) is seen as the median of a between-pulse block
//   beyond the off level, or a "pulse" longer than max_pulse_s: it is re-zeroed at once and
//   reported as a fault interval, so a pass next to it is not enforceable. A zero further than
//   autozero_range_pct of full scale from the configured zero is an ongoing fault.
// Thread-safety: one instance per thread.
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "wim/common/station_config.hpp"
#include "wim/edge/weigh/types.hpp"

namespace wim::weigh {

class ChannelDetector {
 public:
  ChannelDetector(int channel, const config::ChannelConfig& ch, const config::WeighSettings& w,
                  double sample_rate_hz);

  /// Processes one raw sample [counts] at t_us [us]; returns a pulse when one ended.
  std::optional<Pulse> feed(std::int64_t t_us, std::int32_t raw) {
    if (raw == last_raw_) {
      if (++same_count_ == stuck_samples_) flat_begins(t_us);
    } else {
      if (same_count_ >= stuck_samples_) flat_ends(t_us);
      same_count_ = 0;
      last_raw_ = raw;
    }
    const auto y = static_cast<float>(raw - baseline_ - temp_offset_);
    // Moving average over smooth_n_ samples: the detection signal.
    ring_[pos_ & kRingMask] = y;
    sum_ += y;
    float ys;
    if (ring_n_ >= smooth_n_) {
      sum_ -= ring_[(pos_ - smooth_n_) & kRingMask];
      ys = static_cast<float>(sum_ * inv_smooth_);
    } else {
      ys = static_cast<float>(sum_ / static_cast<double>(ring_n_ + 1));
    }
    if (ring_n_ < kRingSize) ++ring_n_;
    ring_s_[pos_ & kRingMask] = ys;
    ++pos_;
    const bool sat = raw >= saturation_ || raw <= -saturation_;
    if (state_ == State::idle && !(ys > on_) && !sat) {  // the common case: empty road
      if (t_us >= holdoff_until_us_) push_block(t_us, ys);
      return std::nullopt;
    }
    return feed_slow(t_us, y, ys, sat);
  }

  /// Baseline temperature feed-forward: offset = temp_coeff x (T - T_ref).
  void set_temperature_c(double t_c);
  bool in_pulse() const { return state_ != State::idle; }
  std::int64_t pulse_start_us() const { return start_us_; }
  double baseline_counts() const { return baseline_; }  ///< [counts] tracked zero
  /// [counts] estimated RMS noise of the raw signal between pulses (0 until estimated).
  double noise_counts() const { return noise_raw_; }
  double on_counts() const { return on_; }    ///< [counts] current start threshold (smoothed)
  double off_counts() const { return off_; }  ///< [counts] current end threshold (smoothed)
  std::uint64_t rejected_pulses() const { return rejected_; }  ///< [-] shorter than min_pulse_s
  std::uint64_t zero_steps() const { return zero_steps_; }     ///< [-] re-zero events
  /// Fault intervals that overlap [from_us, to_us].
  std::vector<ChannelFault> faults_between(std::int64_t from_us, std::int64_t to_us) const;
  /// Forgets fault intervals that ended before t_us (keeps memory bounded).
  void prune_faults(std::int64_t before_us);

 private:
  enum class State { warmup, idle, pulse };
  static constexpr std::size_t kRingSize = 512;
  static constexpr std::size_t kRingMask = kRingSize - 1;
  static constexpr std::size_t kNoiseBlocks = 8;
  std::optional<Pulse> feed_slow(std::int64_t t_us, float y, float ys, bool sat);
  void flat_begins(std::int64_t t_us);
  void flat_ends(std::int64_t t_us);
  /// Every stride_-th (2 x smooth_n_) between-pulse sample goes into the noise/zero block:
  /// the moving average is correlated over smooth_n_ samples anyway, and the medians are
  /// the detector's largest cost.
  void push_block(std::int64_t t_us, float ys) {
    if (++sub_ < stride_) return;
    sub_ = 0;
    if (block_.empty()) block_start_us_ = t_us;
    block_.push_back(ys);
    if (block_.size() >= block_n_) end_noise_block(t_us);
  }
  void start_pulse(std::int64_t t_us);
  std::optional<Pulse> end_pulse(std::int64_t t_us);
  void idle_sample(std::int64_t t_us, float ys);
  void end_noise_block(std::int64_t t_us);
  void rezero(std::int64_t from_us, std::int64_t t_us, double delta, const char* how);
  void check_range(std::int64_t t_us);
  void begin_fault(std::int64_t t_us, const char* what);
  void end_fault(std::int64_t t_us, std::string_view prefix);
  void add_fault(ChannelFault f);

  int channel_;
  double dt_s_;
  std::int64_t dt_us_;
  float on_min_, off_min_;  // [counts] configured floors (smoothed signal)
  float on_, off_;          // [counts] in use
  double k_on_, k_off_;
  double tau_s_;     // [s] time constant of drift tracking
  double max_rate_;  // [counts/s] largest tracking rate
  double range_;     // [counts] allowed |baseline - configured zero|
  double zero_cfg_;
  std::int64_t holdoff_us_;
  std::int64_t max_pulse_us_;
  std::size_t smooth_n_, margin_n_, bridge_n_, min_core_n_, block_n_;
  std::int32_t saturation_;
  std::uint32_t stuck_samples_;
  double temp_coeff_, temp_ref_c_;

  double baseline_;         // [counts]
  double temp_offset_ = 0;  // [counts]
  std::int32_t last_raw_ = INT32_MIN;
  std::uint32_t same_count_ = 0;
  // Raw (baseline-removed) and smoothed samples, the last kRingSize of them.
  std::array<float, kRingSize> ring_{}, ring_s_{};
  std::size_t pos_ = 0, ring_n_ = 0;
  double sum_ = 0;  // sum of the last smooth_n_ raw samples
  double inv_smooth_ = 1;
  std::size_t sub_ = 0;     // samples since the last one put into the block
  std::size_t stride_ = 1;  // [samples]
  State state_ = State::warmup;
  std::int64_t start_us_ = 0, holdoff_until_us_ = 0;
  std::vector<float> buf_;
  std::size_t first_above_ = 0, last_above_ = 0;  // indices into buf_ (smoothed > off)
  bool sat_in_pulse_ = false;
  // Noise and zero estimation between pulses.
  std::vector<float> block_;
  std::int64_t block_start_us_ = 0, last_block_us_ = 0;
  std::array<float, kNoiseBlocks> sigmas_{};
  std::size_t n_sigmas_ = 0;
  double noise_raw_ = 0;
  bool out_of_range_ = false;
  std::uint64_t rejected_ = 0, zero_steps_ = 0;
  std::deque<ChannelFault> faults_;
};

}  // namespace wim::weigh
