// SPDX-License-Identifier: Apache-2.0
// Simulated plate camera: produces real JPEG frames of the vehicle the simulator says is
// passing (or the empty road), on a simulated clock, with fault modes. The station cannot
// tell it from OpenCvCamera.
#pragma once
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "wim/hw/camera.hpp"
#include "wim/hw/plate_render.hpp"

namespace wim::hw {

struct SimCameraConfig {
  cv::Size size{1920, 1080};                ///< [px] frame size
  std::int64_t start_utc_us = 0;            ///< [us] UTC time of frame 1
  std::int64_t frame_interval_us = 40'000;  ///< [us] 25 fps
  Condition condition = Condition::clear_day;
  std::uint32_t seed = 1;
  int jpeg_quality = 90;  ///< [-] 0..100, as the camera encodes
  PlateFonts fonts{};
};

/// Not thread-safe: one thread grabs.
class SimCamera final : public FrameSource {
 public:
  explicit SimCamera(SimCameraConfig config);
  /// The vehicle now in view (truth from the simulator); nullopt: empty road.
  void set_vehicle(std::optional<PlateSpec> plate) {
    plate_ = std::move(plate);
    traffic_.clear();
  }
  /// Dense traffic: these vehicles are in view, the weighed one first (render_traffic);
  /// empty: back to set_vehicle's single vehicle.
  void set_traffic(std::vector<VehicleInView> vehicles) { traffic_ = std::move(vehicles); }
  void set_condition(Condition c) { config_.condition = c; }
  /// Fault modes: the next n grabs find the stream down / deliver a corrupt JPEG.
  void fail_next(int n) { fail_ = n; }
  void corrupt_next(int n) { corrupt_ = n; }

  std::optional<Frame> grab() override;
  CameraStatus status() const override { return status_; }
  std::string describe() const override { return "sim:camera"; }
  const std::optional<Scene>& last_scene() const { return last_; }  ///< truth of the last frame

 private:
  SimCameraConfig config_;
  PlateRenderer renderer_;
  std::mt19937 rng_;
  std::optional<PlateSpec> plate_;
  std::vector<VehicleInView> traffic_;
  std::optional<Scene> last_;
  int fail_ = 0, corrupt_ = 0;
  std::uint64_t tick_ = 0, seq_ = 0;
  bool was_down_ = false;
  CameraStatus status_;
};

}  // namespace wim::hw
