// SPDX-License-Identifier: Apache-2.0
// Per-channel front end: baseline (auto-zero between pulses, never during one; a
// temperature feed-forward), pulse detection with hysteresis, saturation and fault
// detection. Fed one raw sample at a time; emits a Pulse when a wheel has passed.
// Thread-safety: one instance per thread.
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <optional>

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
      if (++same_count_ == stuck_samples_)
        begin_fault(t_us - static_cast<std::int64_t>(stuck_samples_) * dt_us_,
                    "flat signal (stuck or dead)");
    } else {
      if (same_count_ >= stuck_samples_) end_fault(t_us);
      same_count_ = 0;
      last_raw_ = raw;
    }
    const float y = static_cast<float>(raw - baseline_ - temp_offset_);
    const bool sat = raw >= saturation_ || raw <= -saturation_;
    if (!in_pulse_) {
      if (y > on_) return start_pulse(t_us, y, sat), std::nullopt;
      ring_[ring_pos_++ & kRingMask] = y;
      if (sat) begin_fault(t_us, "saturated outside a pulse");
      if (t_us >= holdoff_until_us_ && y > -on_) baseline_ += alpha_ * y;  // y < on here
      return std::nullopt;
    }
    return continue_pulse(t_us, y, sat, raw);
  }

  /// Baseline temperature feed-forward: offset = temp_coeff x (T - T_ref).
  void set_temperature_c(double t_c);
  bool in_pulse() const { return in_pulse_; }
  std::int64_t pulse_start_us() const { return start_us_; }
  double baseline_counts() const { return baseline_; }  ///< [counts] tracked zero
  /// Fault intervals that overlap [from_us, to_us].
  std::vector<ChannelFault> faults_between(std::int64_t from_us, std::int64_t to_us) const;
  /// Forgets fault intervals that ended before t_us (keeps memory bounded).
  void prune_faults(std::int64_t before_us);

 private:
  static constexpr std::size_t kRingSize = 64;
  static constexpr std::size_t kRingMask = kRingSize - 1;
  void start_pulse(std::int64_t t_us, float y, bool sat);
  std::optional<Pulse> continue_pulse(std::int64_t t_us, float y, bool sat, std::int32_t raw);
  void begin_fault(std::int64_t t_us, const char* what);
  void end_fault(std::int64_t t_us);

  int channel_;
  double dt_s_;
  std::int64_t dt_us_;
  float on_, off_;  // [counts]
  double alpha_;
  std::int64_t holdoff_us_;
  std::int64_t max_pulse_us_;
  std::int32_t saturation_;
  std::uint32_t stuck_samples_;
  double temp_coeff_, temp_ref_c_;

  double baseline_;         // [counts]
  double temp_offset_ = 0;  // [counts]
  std::int32_t last_raw_ = INT32_MIN;
  std::uint32_t same_count_ = 0;
  std::array<float, kRingSize> ring_{};
  std::size_t ring_pos_ = 0;
  bool in_pulse_ = false;
  std::int64_t start_us_ = 0, holdoff_until_us_ = 0;
  std::vector<float> buf_;
  bool sat_in_pulse_ = false;
  std::deque<ChannelFault> faults_;
};

}  // namespace wim::weigh
