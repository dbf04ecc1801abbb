// SPDX-License-Identifier: Apache-2.0
// Writes the ANPR known-image test set (tests/data/anpr/): generated 1080p JPEG frames, every
// plate colour under every condition at least once, and truth.tsv (file, colour, condition,
// plate text). Seeded: the same seed gives the same plates and scenes (the JPEG bytes depend
// on the libjpeg build). The committed set is read from disk by wim_anpr_tests.
// Usage: anpr_testdata OUT_DIR [seed=7077] [jpeg_quality=65]
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <opencv2/imgcodecs.hpp>

#include "wim/hw/plate_render.hpp"

using namespace wim;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: anpr_testdata OUT_DIR [seed=7077] [jpeg_quality=65]\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  const unsigned seed = argc > 2 ? static_cast<unsigned>(std::stoul(argv[2])) : 7077u;
  const int quality = argc > 3 ? std::stoi(argv[3]) : 65;
  std::filesystem::create_directories(out);
  std::mt19937 rng(seed);
  hw::PlateRenderer renderer;
  std::ofstream truth(out / "truth.tsv");
  truth << "# file\tcolour\tcondition\ttext (UTF-8); written by anpr_testdata, seed " << seed
        << ", JPEG quality " << quality << "\n";
  // Two colours per condition: 12 frames, every colour under three conditions.
  int n = 0;
  for (std::size_t k = 0; k < hw::kConditions.size(); ++k) {
    for (std::size_t j = 0; j < 2; ++j) {
      const auto cond = hw::kConditions[k];
      const auto colour = hw::kPlateColours[(2 * k + j) % hw::kPlateColours.size()];
      const auto spec = renderer.random_plate(rng, colour);
      const auto scene = renderer.render_scene(spec, cond, rng);
      char name[96];
      std::snprintf(name, sizeof name, "%02d-%s-%s.jpg", ++n,
                    std::string(hw::to_string(colour)).c_str(),
                    std::string(hw::to_string(cond)).c_str());
      if (!cv::imwrite((out / name).string(), scene.image, {cv::IMWRITE_JPEG_QUALITY, quality})) {
        std::fprintf(stderr, "anpr_testdata: cannot write %s\n", (out / name).c_str());
        return 1;
      }
      truth << name << '\t' << hw::to_string(colour) << '\t' << hw::to_string(cond) << '\t'
            << spec.text << '\n';
    }
  }
  if (!truth.flush()) {
    std::fprintf(stderr, "anpr_testdata: cannot write %s\n", (out / "truth.tsv").c_str());
    return 1;
  }
  std::printf("%d frames and truth.tsv written to %s\n", n, out.c_str());
  return 0;
}
