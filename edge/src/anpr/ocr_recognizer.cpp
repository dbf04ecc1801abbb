// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/anpr/ocr_recognizer.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "wim/common/error.hpp"

namespace wim::edge::anpr {
namespace {
constexpr int kHeight = 48;  // [px] the network's input height
constexpr int kWidth = 320;  // [px] the fixed input width (anpr_ocr_rewrite.py)
}  // namespace

struct OcrRecognizer::Impl {
  mutable std::mutex mu;
  mutable cv::dnn::Net net;
  std::vector<std::string> keys;   // class i + 1
  mutable std::uint64_t runs = 0;  // guarded by mu
};

OcrRecognizer::OcrRecognizer(const std::string& model, const std::string& keys)
    : impl_(std::make_unique<Impl>()) {
  for (const auto& f : {model, keys})
    if (!std::filesystem::is_regular_file(f)) throw InputError("OCR recognizer: no such file " + f);
  try {
    impl_->net = cv::dnn::readNetFromONNX(model);
  } catch (const cv::Exception& e) {
    throw InputError("OCR recognizer: OpenCV cannot load " + model + ": " + e.what());
  }
  if (impl_->net.empty()) throw InputError("OCR recognizer: OpenCV cannot load " + model);
  impl_->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  std::ifstream in(keys);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) impl_->keys.push_back(line);
  if (impl_->keys.empty()) throw InputError("OCR recognizer: alphabet " + keys + " is empty");
  // one dry run: the class count must be the alphabet + blank
  const OcrReading probe = read(cv::Mat(kHeight, kWidth, CV_8UC3, cv::Scalar::all(255)));
  (void)probe;
  impl_->runs = 0;
}

OcrRecognizer::~OcrRecognizer() = default;

cv::Mat OcrRecognizer::probabilities(const cv::Mat& line) const {
  if (line.empty() || line.depth() != CV_8U || (line.channels() != 3 && line.channels() != 1))
    throw InputError("OCR recognizer: image is empty or not an 8-bit grey/BGR image");
  cv::Mat bgr = line;
  if (line.channels() == 1) cv::cvtColor(line, bgr, cv::COLOR_GRAY2BGR);
  const int w = std::clamp(
      static_cast<int>(std::ceil(kHeight * static_cast<double>(bgr.cols) / bgr.rows)), 1, kWidth);
  cv::Mat resized, f;
  cv::resize(bgr, resized, cv::Size(w, kHeight), 0, 0, cv::INTER_LINEAR);
  resized.convertTo(f, CV_32FC3, 1.0 / 127.5, -1.0);
  cv::Mat padded(kHeight, kWidth, CV_32FC3, cv::Scalar::all(0));
  f.copyTo(padded(cv::Rect(0, 0, w, kHeight)));
  const cv::Mat blob = cv::dnn::blobFromImage(padded);  // 1x3x48x320, BGR as PaddleOCR
  cv::Mat out;
  {
    std::lock_guard lock(impl_->mu);
    impl_->net.setInput(blob);
    out = impl_->net.forward().clone();
    ++impl_->runs;
  }
  // out: 1 x T x classes, softmax probabilities
  if (out.dims != 3 || out.size[2] != static_cast<int>(impl_->keys.size()) + 1)
    throw InputError("OCR recognizer: network gives " + std::to_string(out.size[out.dims - 1]) +
                     " classes, the alphabet has " + std::to_string(impl_->keys.size()) +
                     " + blank");
  return cv::Mat(out.size[1], out.size[2], CV_32F, out.ptr<float>()).clone();
}

OcrReading OcrRecognizer::read(const cv::Mat& line) const {
  return ctc_greedy(probabilities(line), impl_->keys);
}

const std::vector<std::string>& OcrRecognizer::keys() const {
  return impl_->keys;
}

std::uint64_t OcrRecognizer::runs() const {
  std::lock_guard lock(impl_->mu);
  return impl_->runs;
}

}  // namespace wim::edge::anpr
