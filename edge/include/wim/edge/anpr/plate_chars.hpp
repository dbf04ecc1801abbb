// SPDX-License-Identifier: Apache-2.0
// The steps the plate reader and its build-time trainer share, so that the classifier is
// trained on exactly what the reader will show it: rectification to a canonical plate,
// character cells cut by the GA 36 layout, HOG features.
#pragma once
#include <array>
#include <vector>

#include <opencv2/core.hpp>

#include "wim/hw/plate_render.hpp"

namespace wim::edge::anpr {

inline constexpr double kCanonicalPxPerMm = 0.6;  ///< [px/mm] of the rectified plate
inline constexpr int kCharW = 20, kCharH = 40;    ///< [px] classifier input

/// The plate quad (tl, tr, br, bl in frame pixels) warped to the colour's canonical size.
cv::Mat rectify_plate(const cv::Mat& bgr, const std::array<cv::Point2f, 4>& corners,
                      hw::PlateColour layout);

/// Character cells of a rectified plate (BGR or grey), grey kCharW×kCharH, ink bright.
std::vector<cv::Mat> cut_characters(const cv::Mat& canonical, hw::PlateColour layout);

/// One HOG row (CV_32F) per character cell.
cv::Mat char_features(const std::vector<cv::Mat>& cells);

}  // namespace wim::edge::anpr
