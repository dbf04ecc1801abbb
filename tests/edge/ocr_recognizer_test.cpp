// SPDX-License-Identifier: Apache-2.0
// The real-text recognizer (PP-OCRv4 rewritten for OpenCV 4.6 DNN) behind read_crop.
#include <catch2/catch.hpp>

#include <random>

#include "wim/common/error.hpp"
#include "wim/edge/anpr/ocr_recognizer.hpp"
#include "wim/edge/anpr/plate_reader.hpp"
#include "wim/hw/plate_render.hpp"

using namespace wim;
using namespace wim::edge::anpr;

TEST_CASE("The OCR recognizer names a missing model file") {
  CHECK_THROWS_AS(OcrRecognizer("/nonexistent/anpr_ocr.onnx", "/nonexistent/keys.txt"), InputError);
  CHECK_THROWS_AS(PlateReader({WIM_ANPR_MODEL_DIR}, "/nonexistent"), InputError);
}

#ifdef WIM_ANPR_OCR_DIR
TEST_CASE("OCR reads rendered single-row plate crops, never accepting a wrong one") {
  const PlateReader reader({WIM_ANPR_MODEL_DIR}, WIM_ANPR_OCR_DIR);
  const hw::PlateRenderer renderer;
  std::mt19937 rng(1719);
  int exact = 0, n = 0;
  for (auto colour : {hw::PlateColour::blue, hw::PlateColour::yellow, hw::PlateColour::green})
    for (int i = 0; i < 4; ++i, ++n) {
      const auto spec = renderer.random_plate(rng, colour);
      const cv::Mat plate = renderer.render_plate(spec, 0.6);
      const PlateRead r = reader.read_crop(plate, colour);
      INFO(spec.text << " read " << r.candidate << " " << r.confidence << " " << r.review_reason);
      CHECK(r.found);
      CHECK(r.colour == colour);
      if (!r.needs_review) CHECK(r.text == spec.text);  // never accepted wrong
      exact += !r.needs_review && r.text == spec.text;
    }
  CHECK(exact >= n / 2);  // other fonts than real plates: most, not all
  // a blank crop is no plate: nothing accepted
  const PlateRead blank =
      reader.read_crop(cv::Mat(40, 140, CV_8UC3, cv::Scalar(160, 60, 20)), hw::PlateColour::blue);
  CHECK(blank.needs_review);
  CHECK(blank.text.empty());
  CHECK_THROWS_AS(reader.read_crop(cv::Mat(), hw::PlateColour::blue), InputError);
}
#endif
