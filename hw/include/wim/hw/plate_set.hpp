// SPDX-License-Identifier: Apache-2.0
// Generated plate sets for evaluating a plate reader: seeded 1080p frames of known plates
// (PlateRenderer), optionally made harder than the simulator's defaults (the stress set),
// written as JPEG files with a truth.tsv. One copy shared by anpr_bench, the known-image
// tool anpr_testdata and `wim-sim plates`, so the same seed gives the same frames in all.
//
// truth.tsv: lines `file <TAB> colour <TAB> condition <TAB> text` (UTF-8); lines starting
// with '#' are comments. colour: blue | yellow | yellow_double | green; condition: one of
// kConditions' names.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "wim/hw/plate_render.hpp"

namespace wim::hw {

/// Throws InputError naming the bad name and listing the valid ones.
Condition condition_from_string(std::string_view s);
/// "night_ir,dusk" -> those conditions in that order; throws InputError naming a bad name.
std::vector<Condition> parse_conditions(std::string_view comma_list);

/// "PROVINCE_FONT,ALNUM_FONT" (font files) -> PlateFonts; throws InputError without a comma.
PlateFonts parse_plate_fonts(std::string_view list);

/// The stress set's extra hardship, applied to a rendered frame in place: a steep viewing
/// angle on every frame (one side of the frame up to 22 % shorter, plus a shear), then per
/// condition a second stronger glare spot on the plate (glare), a 12-20 px smear
/// (motion_blur), half the light again with more noise (dusk), a third less infrared
/// contrast (night_ir), mud smears across the plate (dirt). `corners` (the plate's truth)
/// move with the frame. Seeds cv::theRNG() from `rng`.
void stress_frame(cv::Mat& img, std::array<cv::Point2f, 4>& corners, Condition cond,
                  std::mt19937& rng);

/// Seeded frames of random plates: the next frame of a colour under a condition. The
/// sequence depends on the seed and on the order of the calls only.
class PlateSetGenerator {
 public:
  /// `stress`: every frame also goes through stress_frame with its own generator seeded
  /// by `stress_seed`, so the stress set has the same plates and scenes as the default set.
  /// Throws InputError naming a missing font file.
  PlateSetGenerator(std::uint32_t seed, bool stress, std::uint32_t stress_seed,
                    const PlateFonts& fonts = {});
  Scene next(Condition cond, PlateColour colour);
  /// Dense traffic: the next frame of a colour under a condition, the weighed vehicle in lane
  /// 1 or 2 (returned in `lane`) of a camera over two lanes, the other lane's vehicle beside
  /// it and every other frame a follower behind it (their plates and the lane drawn from
  /// `extra`). The scene's plate and corners are the weighed vehicle's.
  Scene next_dense(Condition cond, PlateColour colour, std::mt19937& extra, int& lane);

 private:
  PlateRenderer renderer_;
  std::mt19937 rng_, stress_rng_;
  bool stress_;
};

/// The benchmark's order: per condition in turn, `counts[k]` frames of conditions[k], the
/// colours blue, yellow, yellow_double, green in turn within each condition.
struct PlannedFrame {
  Condition condition;
  PlateColour colour;
};
std::vector<PlannedFrame> bench_plan(const std::vector<Condition>& conditions,
                                     const std::vector<int>& counts);
/// `total` frames spread over the conditions: total / n each, the first total % n one more.
std::vector<int> spread_count(int total, std::size_t conditions);

struct PlateTruth {
  std::string file;  ///< file name, relative to the truth file's folder
  PlateColour colour = PlateColour::blue;
  Condition condition = Condition::clear_day;
  std::string text;  ///< UTF-8
};
/// One truth.tsv line (with its newline).
std::string plate_truth_line(const PlateTruth& t);
/// Reads a truth.tsv; throws InputError naming the file and line of a bad line, or the
/// file if it cannot be read.
std::vector<PlateTruth> read_plate_truth(const std::filesystem::path& path);

/// Writes frames as `NN-colour-condition.jpg` (NN: the frame's number from 1, zero-padded
/// to `digits`) and their truth.tsv into an existing folder. Throws SystemError naming a
/// file that cannot be written.
class PlateSetWriter {
 public:
  /// `comment`: the truth file's first line after "# file\tcolour\tcondition\ttext (UTF-8); ".
  PlateSetWriter(std::filesystem::path dir, const std::string& comment, int jpeg_quality,
                 int digits);
  /// Writes the frame and its truth line; returns the file name.
  std::string add(const Scene& scene, Condition cond);
  /// Flushes truth.tsv; throws SystemError if it could not be written.
  void finish();
  int written() const { return n_; }

 private:
  std::filesystem::path dir_;
  std::ofstream truth_;
  int quality_, digits_, n_ = 0;
};

}  // namespace wim::hw
