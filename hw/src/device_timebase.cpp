// SPDX-License-Identifier: Apache-2.0
#include "wim/hw/device_timebase.hpp"

#include <algorithm>
#include <cmath>

namespace wim::hw {

namespace {
// Beyond this the estimate is not drift but something else (a freeze, a wrong rate in
// the map): keep the last good period. Quartz crystals are within ±100 ppm.
constexpr double kMaxDriftPpm = 2000;
}  // namespace

DeviceTimebase::DeviceTimebase(double nominal_rate_hz, double window_s, double baseline_s)
    : nominal_us_(1e6 / nominal_rate_hz),
      period_us_(nominal_us_),
      window_samples_(static_cast<std::uint64_t>(std::max(1.0, window_s * nominal_rate_hz))),
      baseline_samples_(static_cast<std::uint64_t>(std::max(1.0, baseline_s * nominal_rate_hz))) {}

void DeviceTimebase::anchor(std::uint64_t index, std::int64_t mono_us, std::int64_t unix_us) {
  anchor_index_ = index;
  anchor_mono_us_ = mono_us;
  unix_minus_mono_us_ = unix_us - mono_us;
  period_us_ = nominal_us_;
  have_best_ = false;
  window_start_ = index;
  history_.clear();
}

void DeviceTimebase::move_anchor(const Point& p, std::int64_t unix_minus_mono_us) {
  anchor_index_ = p.index;
  anchor_mono_us_ = p.mono_us;
  unix_minus_mono_us_ = unix_minus_mono_us;
  ++reanchors_;
}

std::int64_t DeviceTimebase::mono_at(std::uint64_t index) const {
  const double d = static_cast<double>(static_cast<std::int64_t>(index - anchor_index_));
  return anchor_mono_us_ + std::llround(d * period_us_);
}

std::int64_t DeviceTimebase::unix_at(std::uint64_t index) const {
  return mono_at(index) + unix_minus_mono_us_;
}

double DeviceTimebase::index_at(std::int64_t mono_us) const {
  return static_cast<double>(anchor_index_) +
         static_cast<double>(mono_us - anchor_mono_us_) / period_us_;
}

std::int64_t DeviceTimebase::observe(std::uint64_t newest, std::int64_t request_mono_us,
                                     std::int64_t reply_mono_us, std::int64_t reply_unix_us) {
  const std::int64_t line = mono_at(newest);
  // The newest sample was taken no earlier than one period before the request left.
  const std::int64_t earliest = request_mono_us - std::llround(std::ceil(nominal_us_));
  if (line < earliest) {
    // Early: the device produced fewer samples than the line says. Re-anchor now (times
    // jump later, so they stay increasing), keep the period estimate.
    move_anchor({newest, reply_mono_us}, reply_unix_us - reply_mono_us);
    return earliest - line;
  }
  // Slack above a line of this period through a fixed origin: comparable across the
  // window although the anchor may move within it.
  const double slack =
      static_cast<double>(reply_mono_us) - static_cast<double>(newest) * period_us_;
  if (!have_best_ || slack < best_slack_us_) {
    have_best_ = true;
    best_ = {newest, reply_mono_us};
    best_slack_us_ = slack;
    best_unix_minus_mono_us_ = reply_unix_us - reply_mono_us;
  }
  if (newest - window_start_ < window_samples_) return 0;
  // Window over: its tightest point becomes the anchor; the period comes from the oldest
  // tightest point within the baseline to this one.
  if (!have_best_) return 0;
  history_.push_back(best_);
  while (history_.size() > 2 && best_.index - history_.front().index > baseline_samples_)
    history_.pop_front();
  if (history_.size() >= 2) {
    const Point& a = history_.front();
    const double p =
        static_cast<double>(best_.mono_us - a.mono_us) / static_cast<double>(best_.index - a.index);
    if (std::abs(nominal_us_ / p - 1.0) * 1e6 <= kMaxDriftPpm) period_us_ = p;
  }
  move_anchor(best_, best_unix_minus_mono_us_);
  have_best_ = false;
  window_start_ = newest;
  return 0;
}

}  // namespace wim::hw
