// SPDX-License-Identifier: Apache-2.0
// Writes the strong-glare test set (tests/data/anpr-glare/): wim_anpr_tests' 16 glare frames
// (tests/edge/anpr_glare_set.hpp: seed 7101, +160 grey-level spot, JPEG quality 90) as the
// camera's JPEG files, truth.tsv (file, colour, condition, plate text) and decoded.sha256
// (SHA-256 of each file's decoded BGR pixels, lines `<hex>  <file>`; not of the file's
// bytes, so not for sha256sum -c). The committed set was written on x86-64; wim_anpr_tests
// re-renders it there and fails if the pixels differ, and checks the decoded pixels against
// decoded.sha256 on every architecture.
// Usage: anpr_glare_testdata OUT_DIR
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "../edge/anpr_glare_set.hpp"
#include "wim/hw/plate_set.hpp"

using namespace wim;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: anpr_glare_testdata OUT_DIR\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  try {
    std::filesystem::create_directories(out);
    std::ofstream truth(out / "truth.tsv"), sums(out / "decoded.sha256");
    truth << "# file\tcolour\tcondition\ttext (UTF-8); written by anpr_glare_testdata, seed "
          << test::kGlareSetSeed << ", glare spot +" << test::kGlareSpotGrey
          << " grey levels, JPEG quality 90\n";
    const hw::PlateRenderer renderer;
    const auto frames = test::render_glare_set(renderer);
    for (const auto& f : frames) {
      std::ofstream jpg(out / f.file, std::ios::binary);
      jpg.write(reinterpret_cast<const char*>(f.jpeg.data()),
                static_cast<std::streamsize>(f.jpeg.size()));
      if (!jpg.flush()) throw std::runtime_error("cannot write " + (out / f.file).string());
      truth << hw::plate_truth_line({f.file, f.plate.colour, hw::Condition::glare, f.plate.text});
      sums << test::pixels_sha256(f.image) << "  " << f.file << "\n";
    }
    if (!truth.flush() || !sums.flush())
      throw std::runtime_error("cannot write truth.tsv or decoded.sha256 in " + out.string());
    std::printf("%zu frames, truth.tsv and decoded.sha256 written to %s\n", frames.size(),
                out.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "anpr_glare_testdata: %s\n", e.what());
    return 1;
  }
}
