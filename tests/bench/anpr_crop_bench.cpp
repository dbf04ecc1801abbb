// SPDX-License-Identifier: Apache-2.0
// ANPR crop benchmark (issue 17): recognition alone on generated plate crops (each plate drawn
// under each condition by PlateRenderer::render_patch, cut out tight along its true corners at
// PX_PER_MM), read by the character classifiers (the baseline, PlateReader::read_crop) and by
// the real-text recognizer (PlateReader(config, OCR_DIR)) in the same process: exact,
// per-character, to a human (and right), accepted wrong, ms per crop (thread CPU), per
// condition and colour. Real crops are scored with `wim-edge read-plate --crop --truth`.
// Usage: anpr_crop_bench MODEL_DIR OCR_DIR [crops_per_condition=30] [seed=424242] [px_per_mm=0.5]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <random>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "wim/edge/anpr/plate_reader.hpp"
#include "wim/hw/plate_render.hpp"

using namespace wim;

namespace {
double cpu_ms() {  // [ms] CPU time of this thread
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
struct Tally {
  int crops = 0, exact = 0, chars = 0, chars_right = 0, review = 0, review_right = 0, wrong = 0;
  double ms = 0;  // [ms] thread CPU
  void add(const edge::anpr::PlateRead& r, const std::string& truth, double read_ms) {
    ++crops;
    ms += read_ms;
    const auto t = hw::split_utf8(truth), c = hw::split_utf8(r.candidate);
    chars += static_cast<int>(t.size());
    for (std::size_t i = 0; i < t.size() && i < c.size(); ++i) chars_right += t[i] == c[i];
    if (r.needs_review) {
      ++review;
      review_right += r.candidate == truth;
    } else if (r.text == truth) {
      ++exact;
    } else {
      ++wrong;
    }
  }
  void print(const char* reader, const std::string& name) const {
    std::printf(
        "%-11s %-12s %4d  exact %6.2f %%  chars %6.2f %%  to-human %3d (right %3d)  "
        "accepted-wrong %2d  %6.1f ms/crop cpu\n",
        reader, name.c_str(), crops, 100.0 * exact / std::max(1, crops),
        100.0 * chars_right / std::max(1, chars), review, review_right, wrong,
        ms / std::max(1, crops));
  }
};
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: anpr_crop_bench MODEL_DIR OCR_DIR [crops_per_condition=30] [seed=424242] "
                 "[px_per_mm=0.5]\n");
    return 2;
  }
  // one core, as anpr_bench and anpr_frame_bench: the figures are this thread's CPU time, and
  // OpenCV's DNN would otherwise run the network on a pool of threads not counted in it
  cv::setNumThreads(1);
  const int per = argc > 3 ? std::atoi(argv[3]) : 30;
  const unsigned seed = argc > 4 ? static_cast<unsigned>(std::atoll(argv[4])) : 424242u;
  const double px_per_mm = argc > 5 ? std::atof(argv[5]) : 0.5;
  if (per <= 0 || !(px_per_mm > 0.1 && px_per_mm < 5)) {
    std::fprintf(stderr, "anpr_crop_bench: crops_per_condition > 0, px_per_mm in (0.1, 5)\n");
    return 2;
  }
  const edge::anpr::PlateReader plain({argv[1]});
  const edge::anpr::PlateReader ocr({argv[1]}, argv[2]);
  hw::PlateFonts fonts;  // the simulator's several typefaces, as the classifiers were trained
  const hw::PlateRenderer renderer(fonts);
  std::mt19937 rng(seed);
  const std::array colours = {hw::PlateColour::blue, hw::PlateColour::yellow,
                              hw::PlateColour::green};
  std::map<std::string, Tally> base, real;
  for (auto cond : hw::kConditions)
    for (int i = 0; i < per; ++i) {
      const auto colour = colours[static_cast<std::size_t>(i) % colours.size()];
      const auto spec = renderer.random_plate(rng, colour);
      const hw::Scene s = renderer.render_patch(spec, cond, rng);
      const auto& layout = hw::plate_layout(colour);
      const cv::Size size(static_cast<int>(layout.width_mm * px_per_mm),
                          static_cast<int>(layout.height_mm * px_per_mm));
      const std::array<cv::Point2f, 4> dst = {
          cv::Point2f(0, 0), cv::Point2f(static_cast<float>(size.width), 0),
          cv::Point2f(static_cast<float>(size.width), static_cast<float>(size.height)),
          cv::Point2f(0, static_cast<float>(size.height))};
      cv::Mat crop;
      cv::warpPerspective(s.image, crop, cv::getPerspectiveTransform(s.corners.data(), dst.data()),
                          size, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
      for (auto* which : {&base, &real}) {
        const double t0 = cpu_ms();
        const auto r = (which == &base ? plain : ocr).read_crop(crop, colour);
        const double ms = cpu_ms() - t0;
        for (const std::string& key : {std::string(hw::to_string(cond)),
                                       std::string(hw::to_string(colour)), std::string("all")})
          (*which)[key].add(r, spec.text, ms);
      }
    }
  std::printf(
      "anpr_crop_bench: %d crops per condition, seed %u, %.2f px/mm (real crops of the "
      "lyl8213 set: ~0.31)\n",
      per, seed, px_per_mm);
  for (auto cond : hw::kConditions)
    for (auto* which : {&base, &real})
      (*which)[std::string(hw::to_string(cond))].print(which == &base ? "classifiers" : "ocr",
                                                       std::string(hw::to_string(cond)));
  for (auto colour : colours)
    for (auto* which : {&base, &real})
      (*which)[std::string(hw::to_string(colour))].print(which == &base ? "classifiers" : "ocr",
                                                         std::string(hw::to_string(colour)));
  base["all"].print("classifiers", "all");
  real["all"].print("ocr", "all");
  std::printf("ratio ocr/classifiers ms per crop: %.1f\n",
              real["all"].ms / std::max(1e-9, base["all"].ms));
  return 0;
}
