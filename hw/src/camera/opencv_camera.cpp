// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>

#include <opencv2/imgcodecs.hpp>

#include "wim/common/error.hpp"
#include "wim/common/log.hpp"
#include "wim/hw/camera_opencv.hpp"

namespace wim::hw {
namespace fs = std::filesystem;

SourceKind classify_uri(const std::string& uri) {
  if (uri.empty()) throw InputError("camera: uri is empty");
  if (uri.rfind("/dev/video", 0) == 0 ||
      std::all_of(uri.begin(), uri.end(), [](unsigned char c) { return std::isdigit(c); }))
    return SourceKind::v4l2;
  if (uri.find("://") != std::string::npos) return SourceKind::stream;
  std::error_code ec;
  if (fs::is_directory(uri, ec)) return SourceKind::image_folder;
  if (!uri.empty() && uri.back() == '/') return SourceKind::image_folder;
  return SourceKind::video_file;
}

OpenCvCamera::OpenCvCamera(OpenCvCameraConfig config)
    : config_(std::move(config)), kind_(classify_uri(config_.uri)) {
  if (config_.backoff_min_us <= 0 || config_.backoff_max_us < config_.backoff_min_us)
    throw InputError("camera " + config_.uri +
                     ": backoff_min_us must be > 0 and <= backoff_max_us");
  backoff_us_ = config_.backoff_min_us;
}

std::string OpenCvCamera::describe() const {
  switch (kind_) {
    case SourceKind::v4l2:
      return "v4l2:" + config_.uri;
    case SourceKind::stream:
      return "stream:" + config_.uri;
    case SourceKind::video_file:
      return "file:" + config_.uri;
    case SourceKind::image_folder:
      return "folder:" + config_.uri;
  }
  return config_.uri;
}

bool OpenCvCamera::try_open(bool rewind) {
  bool ok = false;
  std::string why;
  if (kind_ == SourceKind::image_folder) {
    files_.clear();
    std::error_code ec;
    for (fs::directory_iterator it(config_.uri, ec), end; !ec && it != end; it.increment(ec)) {
      std::string ext = it->path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp")
        files_.push_back(it->path());
    }
    std::sort(files_.begin(), files_.end());
    next_file_ = 0;
    ok = !files_.empty();
    why = ec ? ec.message() : "no .jpg/.jpeg/.png/.bmp images";
  } else {
    try {
      if (kind_ == SourceKind::v4l2) {
        const bool numeric = config_.uri.rfind("/dev/", 0) != 0;
        ok = numeric ? capture_.open(std::stoi(config_.uri), cv::CAP_V4L2)
                     : capture_.open(config_.uri, cv::CAP_V4L2);
      } else {
        // FFmpeg for streams and video files alike: CAP_ANY also tries backends (gPhoto2,
        // GStreamer, image sequences) that enumerate USB devices and leak libusb memory on
        // every failed open (LeakSanitizer), and a file that is missing is retried often.
        ok = capture_.open(config_.uri, cv::CAP_FFMPEG);
      }
    } catch (const cv::Exception& e) {
      why = e.what();
    }
    ok = ok && capture_.isOpened();
    if (!ok && why.empty()) why = "cannot be opened";
  }
  if (!ok) {
    ++status_.open_failures;
    status_.last_error = describe() + ": " + why;
    next_attempt_mono_us_ = time::monotonic_us() + backoff_us_;
    status_.retry_backoff_us = backoff_us_;
    backoff_us_ = std::min(backoff_us_ * 2, config_.backoff_max_us);
    return false;
  }
  if (ever_opened_ && !rewind) {
    ++status_.reconnects;
    log::notice("camera", describe() + ": reconnected");
  }
  ever_opened_ = true;
  open_ = true;
  backoff_us_ = config_.backoff_min_us;
  status_.retry_backoff_us = 0;
  return true;
}

void OpenCvCamera::drop(const std::string& why) {
  ++status_.read_failures;
  status_.last_error = describe() + ": " + why;
  status_.connected = false;
  open_ = false;
  if (capture_.isOpened()) capture_.release();
  next_attempt_mono_us_ = time::monotonic_us() + backoff_us_;
  status_.retry_backoff_us = backoff_us_;
  log::warning("camera",
               status_.last_error + "; reopening in " + std::to_string(backoff_us_ / 1000) + " ms");
}

Frame OpenCvCamera::stamp(cv::Mat image, std::string jpeg) {
  Frame f;
  f.image = std::move(image);
  f.jpeg = std::move(jpeg);
  f.utc_us = time::now_unix_us();
  f.monotonic_us = time::monotonic_us();
  f.clock_sync = time::query_clock().sync;
  f.seq = ++seq_;
  ++status_.frames;
  status_.connected = true;
  return f;
}

std::optional<Frame> OpenCvCamera::read_folder_frame() {
  while (next_file_ < files_.size()) {
    const fs::path path = files_[next_file_++];
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      drop(path.string() + ": image vanished");
      return std::nullopt;
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    cv::Mat image;
    if (!bytes.empty()) {
      try {
        image = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, bytes.data()),
                             cv::IMREAD_COLOR);
      } catch (const cv::Exception&) {
        image.release();
      }
    }
    if (image.empty()) {
      ++status_.decode_errors;
      status_.last_error = describe() + ": " + path.string() + ": not a decodable image, skipped";
      log::warning("camera", status_.last_error);
      continue;
    }
    const bool is_jpeg = bytes.size() > 2 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
                         static_cast<unsigned char>(bytes[1]) == 0xD8;
    return stamp(std::move(image), is_jpeg ? std::move(bytes) : std::string());
  }
  return std::nullopt;  // end of the folder
}

std::optional<Frame> OpenCvCamera::read_capture_frame() {
  cv::Mat image;
  bool ok = false;
  try {
    ok = capture_.read(image);
  } catch (const cv::Exception& e) {
    status_.last_error = describe() + ": " + e.what();
  }
  if (ok && !image.empty()) return stamp(std::move(image), {});
  return std::nullopt;
}

std::optional<Frame> OpenCvCamera::grab() {
  if (ended_) return std::nullopt;
  if (!open_) {
    if (time::monotonic_us() < next_attempt_mono_us_) return std::nullopt;
    if (!try_open()) return std::nullopt;
  }
  const bool replay = kind_ == SourceKind::image_folder || kind_ == SourceKind::video_file;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto frame = kind_ == SourceKind::image_folder ? read_folder_frame() : read_capture_frame();
    if (frame) return frame;
    if (!open_) return std::nullopt;  // dropped inside the read
    if (!replay) break;
    // End of a file or folder: replay from the start, or stop.
    if (!config_.loop) {
      ended_ = true;
      open_ = false;
      status_.connected = false;
      status_.last_error = describe() + ": end of input";
      return std::nullopt;
    }
    open_ = false;
    if (capture_.isOpened()) capture_.release();
    if (!try_open(/*rewind=*/true)) {
      ++status_.read_failures;
      status_.connected = false;
      return std::nullopt;
    }
  }
  drop("no frame (stream dropped)");
  return std::nullopt;
}

}  // namespace wim::hw
