// SPDX-License-Identifier: Apache-2.0
// wim-anpr-train: trains the plate reader's character classifiers at build time from
// plates rendered with Debian's fonts under all field conditions (nothing downloaded).
// Usage: wim-anpr-train OUT_DIR [plates=5000] [seed=7]
// Province characters are learnt from every plate (3 cuts each), letters and digits from the first
// half. Writes OUT_DIR/anpr_province.yml.gz and OUT_DIR/anpr_alnum.yml.gz.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "wim/common/error.hpp"
#include "wim/edge/anpr/char_classifier.hpp"
#include "wim/edge/anpr/plate_chars.hpp"

using namespace wim;
using namespace wim::edge::anpr;

namespace {

constexpr int kExtraProvinceCuts = 2;  // extra province samples per rendered plate

// Typefaces the characters are learnt from, besides the simulator's own pair (WenQuanYi Zen
// Hei, DejaVu Sans Condensed Bold): a reader trained on one typeface reads another badly
// (measured: 96 % exact on its own fonts, 18 % with 3 wrong plates accepted on Droid Sans
// Fallback + FreeSans Bold). Real plates have their own typeface (GA 36), so the reader learns
// several narrow bold sans faces. Held out for the benchmark (never trained on): Droid Sans
// Fallback, Roboto Condensed Bold, Open Sans Bold (anpr_bench ANPR_BENCH_FONTS).
const std::vector<std::string> kMoreProvinceFonts = {
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",         // fonts-wqy-microhei
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc#2",  // fonts-noto-cjk (SC face)
};
const std::vector<std::string> kMoreAlnumFonts = {
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Bold.ttf",  // fonts-liberation
    "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",                 // fonts-freefont-ttf
    "/usr/share/fonts/truetype/lato/Lato-Bold.ttf",                        // fonts-lato
};
constexpr int kBlurEvery = 4;  // every 4th plate also rendered with motion blur

void train(const cv::Mat& x, const std::vector<int>& labels, int classes, const std::string& path) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto clf = CharClassifier::train(x, labels, classes);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int right = 0;
  for (int i = 0; i < x.rows; ++i)
    right += clf.classify(x.row(i), 0, classes).first == labels[static_cast<std::size_t>(i)];
  std::printf("wim-anpr-train: %s: %d samples, %d classes, %.1f s, training accuracy %.2f %%\n",
              path.c_str(), x.rows, classes, s, 100.0 * right / x.rows);
  clf.save(path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: wim-anpr-train OUT_DIR [plates] [seed]\n");
    return 2;
  }
  try {
    const std::filesystem::path out = argv[1];
    const int plates = argc > 2 ? std::stoi(argv[2]) : 5000;
    std::mt19937 rng(argc > 3 ? static_cast<unsigned>(std::stoul(argv[3])) : 7u);
    const int alnum_plates = plates / 2;  // letters and digits are simpler: half the plates do
    std::filesystem::create_directories(out);
    hw::PlateFonts fonts;
    fonts.more_province_fonts = kMoreProvinceFonts;
    fonts.more_alnum_fonts = kMoreAlnumFonts;
    hw::PlateRenderer renderer(fonts);
    cv::Mat xp, xa;
    std::vector<int> yp, ya;
    std::normal_distribution<float> jitter(0.f, 1.f);
    for (int n = 0; n < plates; ++n) {
      const auto colour = hw::kPlateColours[static_cast<std::size_t>(n) % 4];
      const auto cond = hw::kConditions[static_cast<std::size_t>(n / 4) % hw::kConditions.size()];
      const auto spec = renderer.random_plate(rng, colour);
      auto scene = renderer.render_patch(spec, cond, rng);
      // Localisation is never exact: train on corners off by about 1 % of the plate width.
      const float w = static_cast<float>(cv::norm(scene.corners[1] - scene.corners[0]));
      const auto truth_corners = scene.corners;
      for (auto& c : scene.corners) c += cv::Point2f(jitter(rng), jitter(rng)) * (0.01f * w);
      const auto cells = cut_characters(rectify_plate(scene.image, scene.corners, colour), colour);
      const cv::Mat f = char_features(cells);
      const auto chars = hw::split_utf8(spec.text);
      for (std::size_t i = 0; i < chars.size(); ++i) {
        if (i == 0) {
          const auto it = std::find(hw::kProvinces.begin(), hw::kProvinces.end(), chars[0]);
          xp.push_back(f.row(0));
          yp.push_back(static_cast<int>(it - hw::kProvinces.begin()));
        } else if (n < alnum_plates) {
          xa.push_back(f.row(static_cast<int>(i)));
          ya.push_back(static_cast<int>(hw::kAlnum.find(chars[i][0])));
        }
      }
      // Deblur-aware: every kBlurEvery-th plate is also rendered under motion blur (the
      // condition whose right reads had the smallest margins), all characters learnt.
      if ((n + n / 4) % kBlurEvery == 0) {  // n / 4: every colour in turn
        auto blurred = renderer.render_patch(spec, hw::Condition::motion_blur, rng);
        const float bw = static_cast<float>(cv::norm(blurred.corners[1] - blurred.corners[0]));
        for (auto& c : blurred.corners) c += cv::Point2f(jitter(rng), jitter(rng)) * (0.01f * bw);
        const cv::Mat fb = char_features(
            cut_characters(rectify_plate(blurred.image, blurred.corners, colour), colour));
        for (std::size_t i = 0; i < chars.size(); ++i) {
          if (i == 0) {
            const auto it = std::find(hw::kProvinces.begin(), hw::kProvinces.end(), chars[0]);
            xp.push_back(fb.row(0));
            yp.push_back(static_cast<int>(it - hw::kProvinces.begin()));
          } else {
            xa.push_back(fb.row(static_cast<int>(i)));
            ya.push_back(static_cast<int>(hw::kAlnum.find(chars[i][0])));
          }
        }
      }
      // 31 province classes from complex glyphs: more samples of each, cut from the same
      // rendering with other corner errors (cheap: no new rendering).
      const auto province = std::find(hw::kProvinces.begin(), hw::kProvinces.end(), chars[0]);
      for (int k = 0; k < kExtraProvinceCuts; ++k) {
        auto corners = truth_corners;
        for (auto& c : corners) c += cv::Point2f(jitter(rng), jitter(rng)) * (0.012f * w);
        const auto extra = cut_characters(rectify_plate(scene.image, corners, colour), colour);
        xp.push_back(char_features({extra[0]}).row(0));
        yp.push_back(static_cast<int>(province - hw::kProvinces.begin()));
      }
    }
    train(xp, yp, static_cast<int>(hw::kProvinces.size()), (out / "anpr_province.yml.gz").string());
    train(xa, ya, static_cast<int>(hw::kAlnum.size()), (out / "anpr_alnum.yml.gz").string());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wim-anpr-train: %s\n", e.what());
    return 1;
  }
}
