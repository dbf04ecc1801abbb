// SPDX-License-Identifier: Apache-2.0
// `wim-sim plates --out DIR --count N [--seed S] [--conditions a,b] [--stress] [--force]
// [--quality Q]`: a generated plate set to evaluate a plate reader on (wim-edge read-plate
// --truth): 1080p JPEG frames and truth.tsv (wim/hw/plate_set.hpp). The frames are
// anpr_bench's for the same seed and N/6 frames per condition (JPEG quality 90 as the
// bench encodes them). Exit 0 written, 1 a write failed, 2 bad options or an existing
// non-empty DIR without --force.
#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <regex>
#include <string>

#include "wim/common/cli_options.hpp"
#include "wim/common/error.hpp"
#include "wim/hw/plate_set.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

int run_plates(int argc, char** argv) {
  std::string out, conditions_arg, fonts_arg;
  int count = 0, quality = 90;
  std::uint64_t seed = 20261127;
  po::options_description d(
      "wim-sim plates: generated 1080p plate frames + truth.tsv (file, colour, condition, text)");
  // clang-format off
  d.add_options()
    ("help,h", "this help")
    ("out", po::value(&out)->required(), "folder to write (created; must be empty unless --force)")
    ("count", po::value(&count)->required(), "frames, spread evenly over the conditions")
    ("seed", po::value(&seed)->default_value(seed), "generator seed (anpr_bench's seed argument)")
    ("conditions", po::value(&conditions_arg), "comma list, e.g. night_ir,dusk (default: all six)")
    ("stress", po::bool_switch(), "the stress set: harder than the simulator's defaults (anpr_bench ANPR_BENCH_STRESS=1)")
    ("force", po::bool_switch(), "write into a non-empty folder: an earlier set's frames and truth.tsv are removed first")
    ("quality", po::value(&quality)->default_value(quality), "JPEG quality 1..100")
    ("fonts", po::value(&fonts_arg), "PROVINCE_FONT,ALNUM_FONT: plates in other typefaces (anpr_bench's ANPR_BENCH_FONTS)");
  // clang-format on
  po::variables_map vm;
  if (const auto rc = wim::parse_command_options(argc, argv, d, "wim-sim plates", vm)) return *rc;
  const bool stress = vm["stress"].as<bool>(), force = vm["force"].as<bool>();
  std::vector<wim::hw::Condition> conditions;
  wim::hw::PlateFonts fonts;
  try {
    if (!fonts_arg.empty()) fonts = wim::hw::parse_plate_fonts(fonts_arg);
    if (count < 1) throw wim::InputError("--count must be at least 1");
    if (seed > 0xffffffffULL) throw wim::InputError("--seed must be within 0..4294967295");
    if (quality < 1 || quality > 100) throw wim::InputError("--quality must be within 1..100");
    conditions = conditions_arg.empty()
                     ? std::vector<wim::hw::Condition>(wim::hw::kConditions.begin(),
                                                       wim::hw::kConditions.end())
                     : wim::hw::parse_conditions(conditions_arg);
    std::error_code ec;
    if (fs::exists(out, ec) && !fs::is_directory(out, ec))
      throw wim::InputError(out + " exists and is not a folder");
    if (fs::is_directory(out, ec) && !fs::is_empty(out, ec)) {
      if (!force) throw wim::InputError(out + " exists and is not empty (--force writes into it)");
      // only an earlier set's own files: NNNN-colour-condition.jpg and truth.tsv
      static const std::regex frame_name(R"(\d+-[a-z_]+-[a-z_]+\.jpg)");
      for (const auto& e : fs::directory_iterator(out))
        if (e.is_regular_file() && (e.path().filename() == "truth.tsv" ||
                                    std::regex_match(e.path().filename().string(), frame_name)))
          fs::remove(e.path());
    }
  } catch (const wim::InputError& e) {
    std::cerr << "wim-sim plates: " << e.what() << "\n";
    return 2;
  }
  const auto s = static_cast<std::uint32_t>(seed);
  std::optional<wim::hw::PlateSetGenerator> frames;
  try {
    frames.emplace(s, stress, s + 1, fonts);  // a missing font file is named here
  } catch (const wim::InputError& e) {
    std::cerr << "wim-sim plates: --fonts: " << e.what() << "\n";
    return 2;
  }
  fs::create_directories(out);
  const int digits = std::max(4, static_cast<int>(std::to_string(count).size()));
  wim::hw::PlateSetWriter writer(out,
                                 "written by wim-sim plates, seed " + std::to_string(s) +
                                     (stress ? ", stress set" : "") +
                                     (fonts_arg.empty() ? "" : ", fonts " + fonts_arg) +
                                     ", JPEG quality " + std::to_string(quality),
                                 quality, digits);
  for (const auto& f :
       wim::hw::bench_plan(conditions, wim::hw::spread_count(count, conditions.size())))
    writer.add(frames->next(f.condition, f.colour), f.condition);
  writer.finish();
  std::printf("wim-sim: %d frames%s and truth.tsv written to %s\n", writer.written(),
              stress ? " (stress set)" : "", out.c_str());
  return 0;
}
