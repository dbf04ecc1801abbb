// SPDX-License-Identifier: Apache-2.0
// The strong-glare frames of wim_anpr_tests (tests/data/anpr-glare/): 16 generated 1080p
// scenes under the simulator's glare, a second white glare spot of +160 grey levels on the
// plate, JPEG quality 90 as the camera delivers them. Rendered once on x86-64 and kept as
// those JPEG files, so every architecture reads the same pixels: rendered on aarch64,
// OpenCV's NEON paths and GCC's FMA contraction give other roundings and so other scenes
// (docs/notes/issue-17.md, 2026-12-08). libjpeg-turbo's integer decoder is exact on both
// (SHA-256 of the decoded pixels in decoded.sha256, checked on every architecture).
// One copy shared by the test (reads the files; on x86-64 also re-renders and compares)
// and the tool that writes them (tests/bench/anpr_glare_testdata.cpp).
#pragma once
#include <array>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "wim/common/crypto.hpp"
#include "wim/hw/plate_render.hpp"

namespace wim::test {

inline constexpr unsigned kGlareSetSeed = 7101;
inline constexpr unsigned kGlareSetFrames = 16;
inline constexpr double kGlareSpotGrey = 160;  // [8-bit grey levels] added at the spot's peak

/// A white light spot (glare: every channel raised alike) peaking at `amplitude` [grey levels]
/// on the plate, centred at a random x along it, σ = 0.3 plate widths [px].
inline void glare_spot(cv::Mat& img, const std::array<cv::Point2f, 4>& corners, std::mt19937& rng,
                       double amplitude) {
  const cv::Rect p = cv::boundingRect(std::vector<cv::Point2f>(corners.begin(), corners.end()));
  const cv::Point centre(p.x + static_cast<int>(p.width * (0.1 + 0.8 * (rng() % 100) / 100.0)),
                         p.y + p.height / 2);
  cv::Mat spot(img.size(), CV_32F, cv::Scalar(0));
  cv::circle(spot, centre, 1, cv::Scalar(1), -1);
  cv::GaussianBlur(spot, spot, {0, 0}, p.width * 0.3);
  double mx = 0;
  cv::minMaxLoc(spot, nullptr, &mx);
  cv::Mat f, add;
  cv::merge(std::vector<cv::Mat>(3, spot * (amplitude / mx)), add);
  img.convertTo(f, CV_32FC3);
  f += add;
  f.convertTo(img, CV_8UC3);
}

struct GlareFrame {
  hw::PlateSpec plate;
  std::string file;         ///< "NN-colour-glare.jpg"
  std::vector<uchar> jpeg;  ///< the camera's JPEG (quality 90)
  cv::Mat image;            ///< 1920×1080 BGR, decoded from `jpeg`
};

/// Lower-case hex SHA-256 of a decoded frame's pixel bytes (rows in order, BGR).
inline std::string pixels_sha256(const cv::Mat& img) {
  const cv::Mat c = img.isContinuous() ? img : img.clone();
  return crypto::sha256_hex(
      std::string_view(reinterpret_cast<const char*>(c.data), c.total() * c.elemSize()));
}

/// The set in its order: plate colours blue, yellow, yellow_double, green in turn, every plate,
/// scene and spot drawn from one generator seeded kGlareSetSeed.
inline std::vector<GlareFrame> render_glare_set(const hw::PlateRenderer& renderer) {
  std::mt19937 rng(kGlareSetSeed);
  std::vector<GlareFrame> out;
  for (unsigned i = 0; i < kGlareSetFrames; ++i) {
    const auto p = renderer.random_plate(rng, hw::kPlateColours[i % hw::kPlateColours.size()]);
    auto scene = renderer.render_scene(p, hw::Condition::glare, rng);
    glare_spot(scene.image, scene.corners, rng, kGlareSpotGrey);
    std::vector<uchar> jpeg;
    cv::imencode(".jpg", scene.image, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
    char name[64];
    std::snprintf(name, sizeof name, "%02u-%s-glare.jpg", i + 1,
                  std::string(hw::to_string(p.colour)).c_str());
    const cv::Mat decoded = cv::imdecode(jpeg, cv::IMREAD_COLOR);
    out.push_back({p, name, std::move(jpeg), decoded});
  }
  return out;
}

}  // namespace wim::test
