// SPDX-License-Identifier: Apache-2.0
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "wim/edge/anpr/plate_chars.hpp"

namespace wim::edge::anpr {

cv::Mat rectify_plate(const cv::Mat& bgr, const std::array<cv::Point2f, 4>& corners,
                      hw::PlateColour layout) {
  const auto& l = hw::plate_layout(layout);
  const float w = static_cast<float>(l.width_mm * kCanonicalPxPerMm);
  const float h = static_cast<float>(l.height_mm * kCanonicalPxPerMm);
  const std::vector<cv::Point2f> src(corners.begin(), corners.end());
  const std::vector<cv::Point2f> dst = {{0, 0}, {w, 0}, {w, h}, {0, h}};
  cv::Mat out;
  cv::warpPerspective(bgr, out, cv::getPerspectiveTransform(src, dst),
                      cv::Size(static_cast<int>(w), static_cast<int>(h)), cv::INTER_LINEAR,
                      cv::BORDER_REPLICATE);
  return out;
}

std::vector<cv::Mat> cut_characters(const cv::Mat& canonical, hw::PlateColour layout) {
  const auto& l = hw::plate_layout(layout);
  cv::Mat gray;
  if (canonical.channels() == 3)
    cv::cvtColor(canonical, gray, cv::COLOR_BGR2GRAY);
  else
    gray = canonical;
  if (l.dark_text) gray = 255 - gray;
  std::vector<cv::Mat> cells;
  const cv::Rect plate(0, 0, gray.cols, gray.rows);
  for (const auto& b : l.chars) {
    const double mx = b.w_mm * 0.08, my = b.h_mm * 0.05;
    const cv::Rect r(static_cast<int>((b.x_mm - mx) * kCanonicalPxPerMm),
                     static_cast<int>((b.y_mm - my) * kCanonicalPxPerMm),
                     static_cast<int>((b.w_mm + 2 * mx) * kCanonicalPxPerMm),
                     static_cast<int>((b.h_mm + 2 * my) * kCanonicalPxPerMm));
    cv::Mat cell;
    cv::resize(gray(r & plate), cell, {kCharW, kCharH}, 0, 0, cv::INTER_AREA);
    cv::normalize(cell, cell, 0, 255, cv::NORM_MINMAX);
    cells.push_back(cell);
  }
  return cells;
}

cv::Mat char_features(const std::vector<cv::Mat>& cells) {
  static const cv::HOGDescriptor hog({kCharW, kCharH}, {10, 10}, {5, 5}, {5, 5}, 9);
  cv::Mat rows;
  for (const auto& c : cells) {
    std::vector<float> d;
    hog.compute(c, d);
    rows.push_back(cv::Mat(d, true).reshape(1, 1));
  }
  return rows;
}

}  // namespace wim::edge::anpr
