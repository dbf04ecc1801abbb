// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "wim/common/error.hpp"
#include "wim/hw/camera.hpp"

namespace wim::hw {

std::int64_t camera_pass_time_us(std::int64_t sensor_utc_us, double camera_offset_m,
                                 double speed_kmh) {
  if (!(speed_kmh > 0.0) || !std::isfinite(speed_kmh))
    throw InputError("camera_pass_time_us: speed_kmh must be positive, got " +
                     std::to_string(speed_kmh));
  const double speed_mps = speed_kmh / 3.6;
  return sensor_utc_us + static_cast<std::int64_t>(std::llround(camera_offset_m / speed_mps * 1e6));
}

FrameRing::FrameRing(std::size_t capacity) : capacity_(capacity) {
  if (capacity_ == 0) throw InputError("FrameRing: capacity must be at least 1");
}

void FrameRing::push(Frame frame) {
  std::lock_guard lock(mutex_);
  if (frames_.size() == capacity_) {
    frames_.pop_front();
    ++dropped_;
  }
  frames_.push_back(std::move(frame));
}

std::vector<Frame> FrameRing::select(std::int64_t t_us, const FrameWindow& w) const {
  std::vector<Frame> out;
  {
    std::lock_guard lock(mutex_);
    for (const auto& f : frames_)
      if (f.utc_us >= t_us - w.lead_us && f.utc_us <= t_us + w.lag_us) out.push_back(f);
  }
  if (out.size() > w.max_frames) {
    std::stable_sort(out.begin(), out.end(), [t_us](const Frame& a, const Frame& b) {
      return std::llabs(a.utc_us - t_us) < std::llabs(b.utc_us - t_us);
    });
    out.resize(w.max_frames);
  }
  std::sort(out.begin(), out.end(),
            [](const Frame& a, const Frame& b) { return a.utc_us < b.utc_us; });
  return out;
}

std::size_t FrameRing::size() const {
  std::lock_guard lock(mutex_);
  return frames_.size();
}

std::uint64_t FrameRing::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace wim::hw
