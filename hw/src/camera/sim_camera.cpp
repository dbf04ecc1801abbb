// SPDX-License-Identifier: Apache-2.0
#include <opencv2/imgcodecs.hpp>

#include "wim/hw/camera_sim.hpp"

namespace wim::hw {

SimCamera::SimCamera(SimCameraConfig config)
    : config_(std::move(config)), renderer_(config_.fonts), rng_(config_.seed) {}

std::optional<Frame> SimCamera::grab() {
  const std::int64_t utc =
      config_.start_utc_us + static_cast<std::int64_t>(tick_++) * config_.frame_interval_us;
  if (fail_ > 0) {
    --fail_;
    ++status_.read_failures;
    status_.connected = false;
    status_.last_error = describe() + ": stream down (simulated)";
    was_down_ = true;
    return std::nullopt;
  }
  if (was_down_) {
    ++status_.reconnects;
    was_down_ = false;
  }
  Scene scene;
  if (!traffic_.empty()) {
    scene = renderer_.render_traffic(traffic_, config_.condition, rng_, config_.size);
  } else if (plate_) {
    scene = renderer_.render_scene(*plate_, config_.condition, rng_, config_.size);
  } else {
    scene.image = renderer_.render_empty(config_.condition, rng_, config_.size);
  }
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", scene.image, jpeg, {cv::IMWRITE_JPEG_QUALITY, config_.jpeg_quality});
  if (corrupt_ > 0) {
    --corrupt_;
    jpeg.resize(jpeg.size() / 3);  // a truncated transfer
    for (std::size_t i = 2; i < jpeg.size(); i += 7) jpeg[i] ^= 0x5A;
  }
  cv::Mat decoded;
  try {
    decoded = cv::imdecode(jpeg, cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    decoded.release();
  }
  if (decoded.empty()) {
    ++status_.decode_errors;
    status_.last_error =
        describe() + ": frame " + std::to_string(tick_) + " is not a decodable JPEG, skipped";
    return std::nullopt;
  }
  Frame f;
  f.image = decoded;
  f.jpeg.assign(jpeg.begin(), jpeg.end());
  f.utc_us = utc;
  f.monotonic_us = utc - config_.start_utc_us;
  f.clock_sync = time::ClockSync::synced;
  f.seq = ++seq_;
  ++status_.frames;
  status_.connected = true;
  scene.image = decoded;
  last_ = std::move(scene);
  return f;
}

}  // namespace wim::hw
