// SPDX-License-Identifier: Apache-2.0
// Writes the ANPR known-image test set (tests/data/anpr/): generated 1080p JPEG frames, every
// plate colour under every condition at least once, and truth.tsv (file, colour, condition,
// plate text). Seeded: the same seed gives the same plates and scenes (the JPEG bytes depend
// on the libjpeg build). The committed set is read from disk by wim_anpr_tests. The generator
// and writer are wim/hw/plate_set.hpp's, shared with anpr_bench and `wim-sim plates`.
// Usage: anpr_testdata OUT_DIR [seed=7077] [jpeg_quality=65]
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include "wim/hw/plate_set.hpp"

using namespace wim;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: anpr_testdata OUT_DIR [seed=7077] [jpeg_quality=65]\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  const unsigned seed = argc > 2 ? static_cast<unsigned>(std::stoul(argv[2])) : 7077u;
  const int quality = argc > 3 ? std::stoi(argv[3]) : 65;
  try {
    std::filesystem::create_directories(out);
    hw::PlateSetGenerator frames(seed, /*stress=*/false, 0);
    hw::PlateSetWriter writer(out,
                              "written by anpr_testdata, seed " + std::to_string(seed) +
                                  ", JPEG quality " + std::to_string(quality),
                              quality, 2);
    // Two colours per condition: 12 frames, every colour under three conditions.
    for (std::size_t k = 0; k < hw::kConditions.size(); ++k)
      for (std::size_t j = 0; j < 2; ++j)
        writer.add(frames.next(hw::kConditions[k],
                               hw::kPlateColours[(2 * k + j) % hw::kPlateColours.size()]),
                   hw::kConditions[k]);
    writer.finish();
    std::printf("%d frames and truth.tsv written to %s\n", writer.written(), out.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "anpr_testdata: %s\n", e.what());
    return 1;
  }
}
