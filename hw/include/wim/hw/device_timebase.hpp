// SPDX-License-Identifier: Apache-2.0
// Sample times of a device that numbers its samples (a FIFO counter) on its own clock:
// a line t(index) = anchor time + (index - anchor index) × period, kept honest by the
// reads that drain the FIFO. Each such read says its newest sample was taken between
// (request sent - one nominal period) and (reply received). From them:
//  - the line is never left early: when it would stamp a drained read's newest sample
//    before its request was sent, it is re-anchored at once at that read's reply (a
//    device that stopped sampling, or restarted with a counter that kept counting, shows
//    as a large jump: `observe()` returns it);
//  - every `window_s` the tightest observation (least reply - line) becomes the anchor,
//    and the period is re-estimated from the tightest observations up to `baseline_s`
//    apart: device clock drift (crystal ppm) is corrected, the times stay within the
//    best round trip + one period of the truth.
// Pure arithmetic on the times given (no clock read): tests drive it with made-up times.
#pragma once
#include <cstdint>
#include <deque>

namespace wim::hw {

class DeviceTimebase {
 public:
  explicit DeviceTimebase(double nominal_rate_hz, double window_s = 10, double baseline_s = 600);

  /// A hard anchor (connect, device restart): sample `index` taken at `mono_us`/`unix_us`
  /// (the reply of the read that held it); forgets the drift history.
  void anchor(std::uint64_t index, std::int64_t mono_us, std::int64_t unix_us);
  /// A read that drained the FIFO: `newest` is the index of its newest sample, the
  /// request left at `request_mono_us`, the reply came at `reply_mono_us`/`reply_unix_us`.
  /// Returns [us] by how much the line was early (0 when it was not): > 0 means it was
  /// re-anchored at this reply.
  std::int64_t observe(std::uint64_t newest, std::int64_t request_mono_us,
                       std::int64_t reply_mono_us, std::int64_t reply_unix_us);

  std::int64_t mono_at(std::uint64_t index) const;
  std::int64_t unix_at(std::uint64_t index) const;
  /// The index the device is sampling at `mono_us` by this line (may be fractional).
  double index_at(std::int64_t mono_us) const;
  double period_us() const { return period_us_; }
  double nominal_period_us() const { return nominal_us_; }
  /// [ppm] device clock fast (+) or slow (-) against the host's, as estimated.
  double drift_ppm() const { return (nominal_us_ / period_us_ - 1.0) * 1e6; }
  std::uint64_t reanchors() const { return reanchors_; }

 private:
  struct Point {
    std::uint64_t index;
    std::int64_t mono_us;
  };
  void move_anchor(const Point& p, std::int64_t unix_minus_mono_us);

  double nominal_us_, period_us_;
  std::uint64_t window_samples_, baseline_samples_;
  std::uint64_t anchor_index_ = 0;
  std::int64_t anchor_mono_us_ = 0, unix_minus_mono_us_ = 0;
  // The tightest observation of the current window (least slack above the line).
  bool have_best_ = false;
  Point best_{};
  double best_slack_us_ = 0;
  std::int64_t best_unix_minus_mono_us_ = 0;
  std::uint64_t window_start_ = 0;
  std::deque<Point> history_;  // the tightest point of each past window, oldest first
  std::uint64_t reanchors_ = 0;
};

}  // namespace wim::hw
