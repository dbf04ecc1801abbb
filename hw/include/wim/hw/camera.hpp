// SPDX-License-Identifier: Apache-2.0
// The plate camera: one interface for every frame source (V4L2 device, RTSP/HTTP stream,
// video file, folder of images, simulated camera), a ring buffer of timestamped frames and
// the choice of the frames around the moment a vehicle passed the camera's view.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "wim/common/time.hpp"

namespace wim::hw {

/// One camera frame, as captured. Plain data; copying shares the pixel buffer (cv::Mat).
struct Frame {
  cv::Mat image;                  ///< [BGR8] decoded pixels
  std::string jpeg;               ///< original JPEG bytes when the source delivered JPEG, else ""
  std::int64_t utc_us = 0;        ///< [us] UTC capture time (Unix epoch)
  std::int64_t monotonic_us = 0;  ///< [us] CLOCK_MONOTONIC at capture (intervals only)
  time::ClockSync clock_sync = time::ClockSync::unknown;  ///< sync state of the UTC clock
  std::uint64_t seq = 0;  ///< [-] frame number of this source, from 1
};

/// Counters and state of a frame source, for the station's health report.
struct CameraStatus {
  bool connected = false;             ///< a frame was read since the last (re)open
  std::uint64_t frames = 0;           ///< [-] frames delivered
  std::uint64_t read_failures = 0;    ///< [-] reads that returned no frame (stream dropped)
  std::uint64_t decode_errors = 0;    ///< [-] corrupt images skipped
  std::uint64_t reconnects = 0;       ///< [-] successful re-opens after a drop
  std::uint64_t open_failures = 0;    ///< [-] failed open attempts
  std::int64_t retry_backoff_us = 0;  ///< [us] wait before the next open attempt
  std::string last_error;             ///< what went wrong last, naming the source
};

/// A source of frames. Implementations are not thread-safe: one thread grabs.
class FrameSource {
 public:
  virtual ~FrameSource() = default;
  /// Next frame, or nullopt when none is available now (stream down, end of file, waiting
  /// for the reconnect backoff). Stream faults never throw: they show in status().
  virtual std::optional<Frame> grab() = 0;
  virtual CameraStatus status() const = 0;
  virtual std::string describe() const = 0;  ///< e.g. "v4l2:/dev/video0"
};

/// [us] UTC time at which a vehicle that crossed the sensors at `sensor_utc_us` is in the
/// middle of the camera's view, `camera_offset_m` downstream (+) or upstream (-) of the
/// sensors, at `speed_kmh`. Throws InputError when the speed is not positive.
std::int64_t camera_pass_time_us(std::int64_t sensor_utc_us, double camera_offset_m,
                                 double speed_kmh);

/// Which frames to keep around a pass.
struct FrameWindow {
  std::int64_t lead_us = 400'000;  ///< [us] frames kept before the camera pass time
  std::int64_t lag_us = 400'000;   ///< [us] frames kept after it
  std::size_t max_frames = 8;      ///< [-] at most this many, the closest in time first kept
};

/// Bounded ring of the newest frames. Thread-safe: the capture thread pushes, the
/// pipeline selects.
class FrameRing {
 public:
  explicit FrameRing(std::size_t capacity);
  void push(Frame frame);  ///< drops the oldest frame when full
  /// Frames with utc_us in [t - lead, t + lag], in time order, thinned to max_frames by
  /// keeping those nearest to t.
  std::vector<Frame> select(std::int64_t camera_pass_utc_us, const FrameWindow& window) const;
  std::size_t size() const;
  std::uint64_t dropped() const;  ///< [-] frames pushed out by newer ones

 private:
  mutable std::mutex mutex_;
  std::deque<Frame> frames_;
  std::size_t capacity_;
  std::uint64_t dropped_ = 0;
};

}  // namespace wim::hw
