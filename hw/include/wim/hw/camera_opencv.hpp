// SPDX-License-Identifier: Apache-2.0
// Frame source on OpenCV: a V4L2 device, an RTSP/HTTP stream, a video file or a folder of
// images (replay and tests). Reopens a dropped source with exponential backoff.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/videoio.hpp>

#include "wim/hw/camera.hpp"

namespace wim::hw {

struct OpenCvCameraConfig {
  /// "/dev/video0" or "0" (V4L2), "rtsp://…" / "http://…" (stream), a video file, or a
  /// folder of .jpg/.jpeg/.png/.bmp images read in name order.
  std::string uri;
  bool loop = false;                         ///< replay a file or folder endlessly
  std::int64_t backoff_min_us = 500'000;     ///< [us] first wait before reopening
  std::int64_t backoff_max_us = 30'000'000;  ///< [us] longest wait between attempts
};

enum class SourceKind { v4l2, stream, video_file, image_folder };
/// Throws InputError for an empty uri.
SourceKind classify_uri(const std::string& uri);

/// Not thread-safe: one capture thread calls grab().
class OpenCvCamera final : public FrameSource {
 public:
  explicit OpenCvCamera(OpenCvCameraConfig config);
  std::optional<Frame> grab() override;
  CameraStatus status() const override { return status_; }
  std::string describe() const override;
  bool ended() const { return ended_; }  ///< a non-looping file or folder was read to its end

 private:
  bool try_open(bool rewind = false);  ///< rewind: replaying a file again, not a reconnect
  void drop(const std::string& why);
  std::optional<Frame> read_folder_frame();
  std::optional<Frame> read_capture_frame();
  Frame stamp(cv::Mat image, std::string jpeg);

  OpenCvCameraConfig config_;
  SourceKind kind_;
  cv::VideoCapture capture_;
  std::vector<std::filesystem::path> files_;
  std::size_t next_file_ = 0;
  bool open_ = false;
  bool ever_opened_ = false;
  bool ended_ = false;
  std::int64_t next_attempt_mono_us_ = 0;
  std::int64_t backoff_us_ = 0;
  std::uint64_t seq_ = 0;
  CameraStatus status_;
};

}  // namespace wim::hw
