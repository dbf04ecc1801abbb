// SPDX-License-Identifier: Apache-2.0
// `wim-edge read-plate [--model DIR] [--pass] [--review-below X] [--truth FILE] IMAGE|DIR...`:
// the station's plate reader on saved frames (JPEG/PNG; a folder: its images in name order),
// for a technician aiming a camera and a reviewer checking a frame. One JSON line per image
// (or, with --pass, one for all frames voted as one pass, as the station does). --truth
// scores the run against a truth.tsv (wim/hw/plate_set.hpp; `wim-sim plates` writes one):
// a JSON "score" line on stdout, the table and every wrongly accepted plate on stderr.
// Exit: 0; 1 an image could not be read (named on stderr; the others are read) or a wrong
// plate was accepted; 2 bad usage, model or truth file.
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>

#include "wim/common/error.hpp"
#include "wim/edge/anpr/plate_reader.hpp"
#include "wim/edge/anpr_model_dir.hpp"
#include "wim/hw/plate_set.hpp"

#include "cmd_options.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace wim;
using edge::anpr::PlateRead;

namespace {

// [ms] CPU time of this thread (the machine may be shared; wall time includes others' work).
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double round3(double x) {
  return std::round(x * 1000) / 1000;
}

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

// The images named: files as given, a folder's JPEG/PNG files in name order.
std::vector<fs::path> expand(const std::vector<std::string>& args) {
  std::vector<fs::path> out;
  for (const auto& a : args) {
    std::error_code ec;
    if (!fs::is_directory(a, ec)) {
      out.emplace_back(a);
      continue;
    }
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(a, ec))
      if (e.is_regular_file(ec) && is_image_name(e.path())) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
  }
  return out;
}

// The decoded frame, or why not. A JPEG without its end marker is cut short (libjpeg would
// decode the rest as grey and only warn).
cv::Mat load_image(const fs::path& path, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "cannot open";
    return {};
  }
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) {
    why = "empty file";
    return {};
  }
  const auto u = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  if (bytes.size() > 2 && u(0) == 0xFF && u(1) == 0xD8) {
    // the end marker closes the file (a few padding bytes allowed; an EXIF thumbnail's own
    // marker sits near the start)
    const auto end = bytes.rfind("\xFF\xD9");
    if (end == std::string::npos || bytes.size() - end > 34) {
      why = "corrupt JPEG (no end marker: cut short)";
      return {};
    }
  }
  cv::Mat image;
  try {
    image = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, bytes.data()),
                         cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    image.release();
  }
  if (image.empty()) why = "not a decodable JPEG or PNG image";
  return image;
}

boost::json::object read_json(const PlateRead& r) {
  boost::json::object o;
  o["found"] = r.found;
  o["text"] = r.text;
  o["candidate"] = r.candidate;
  if (r.found)
    o["colour"] = std::string(hw::to_string(r.colour));
  else
    o["colour"] = nullptr;
  o["colour_from_pixels"] = r.colour_from_pixels;
  o["confidence"] = round3(r.confidence);
  boost::json::array cc;
  for (double c : r.char_confidence) cc.push_back(round3(c));
  o["char_confidence"] = std::move(cc);
  o["needs_review"] = r.needs_review;
  o["review_reason"] = r.review_reason;
  o["box"] = boost::json::array{r.box.x, r.box.y, r.box.width, r.box.height};
  return o;
}

// Counts of a scored run (all, one condition or one truth colour).
struct Score {
  int images = 0, exact = 0, chars = 0, chars_right = 0, to_human = 0, to_human_right = 0,
      accepted_wrong = 0, not_found = 0;
  double read_ms = 0, decode_ms = 0,
         wall_ms = 0;  // [ms] read (thread CPU), file read + decode, read wall
  void count(const Score& s) {
    images += s.images, exact += s.exact, chars += s.chars, chars_right += s.chars_right;
    to_human += s.to_human, to_human_right += s.to_human_right;
    accepted_wrong += s.accepted_wrong, not_found += s.not_found;
    read_ms += s.read_ms, decode_ms += s.decode_ms, wall_ms += s.wall_ms;
  }
  // unrounded (the table prints them as anpr_bench does); the JSON gets 3 decimals
  static double pct(int n, int of) { return of > 0 ? 100.0 * n / of : 0.0; }
  double per_image(double ms) const { return images > 0 ? ms / images : 0.0; }
  boost::json::object json() const {
    return {{"images", images},
            {"exact", exact},
            {"exact_pct", round3(pct(exact, images))},
            {"chars_pct", round3(pct(chars_right, chars))},
            {"accepted_wrong", accepted_wrong},
            {"to_human", to_human},
            {"to_human_right", to_human_right},
            {"not_found", not_found},
            {"ms_per_image_cpu", round3(per_image(read_ms))},
            {"ms_per_image_wall", round3(per_image(wall_ms))},
            {"load_ms_per_image", round3(per_image(decode_ms))}};
  }
  void print(const std::string& name) const {
    std::fprintf(stderr,
                 "%-14s %5d  exact %6.2f %%  chars %6.2f %%  to human %4d (right %3d)  "
                 "accepted wrong %3d  not found %3d  %5.1f ms/image cpu (wall %5.1f, load "
                 "%4.1f)\n",
                 name.c_str(), images, pct(exact, images), pct(chars_right, chars), to_human,
                 to_human_right, accepted_wrong, not_found, per_image(read_ms), per_image(wall_ms),
                 per_image(decode_ms));
  }
};

struct Truths {
  fs::path dir;
  std::map<std::string, hw::PlateTruth> by_name;
  const hw::PlateTruth* find(const fs::path& image) const {
    std::error_code ec;
    const auto rel = fs::relative(image, dir, ec);
    if (!ec)
      if (auto it = by_name.find(rel.generic_string()); it != by_name.end()) return &it->second;
    if (auto it = by_name.find(image.filename().string()); it != by_name.end()) return &it->second;
    return nullptr;
  }
};

}  // namespace

int cmd_read_plate(int argc, char** argv) {
  po::options_description desc(
      "wim-edge read-plate [options] IMAGE|DIR...: the plate reader on saved frames (JPEG/PNG; "
      "a folder: its images in name order), one JSON line per image");
  std::string model_dir, truth_path, crop_colour, ocr_dir;
  double review_below = edge::anpr::PlateReaderConfig{}.review_below;
  std::vector<std::string> inputs;
  // clang-format off
  desc.add_options()
    ("help,h", "this text")
    ("model", po::value(&model_dir), "model folder (default: /usr/share/wim/anpr of the .deb, else the build's model)")
    ("pass", "read all frames as one pass (the station's vote): one JSON line")
    ("crop", po::value(&crop_colour), "each image is a plate cut out tight, of this colour (blue|yellow|yellow_double|green): recognition only")
    ("ocr", po::value(&ocr_dir), "folder with anpr_ocr.onnx + anpr_ocr_keys.txt (the build's edge/anpr_ocr): --crop reads with the real-text recognizer")
    ("review-below", po::value(&review_below)->default_value(review_below), "confidence under which a human reads the plate, (0, 1]")
    ("truth", po::value(&truth_path), "truth.tsv (file, colour, condition, text): score the run")
    ("image", po::value(&inputs), "JPEG/PNG file or folder (positional)");
  // clang-format on
  po::positional_options_description pos;
  pos.add("image", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      return 0;
    }
    po::notify(vm);
    if (inputs.empty()) throw InputError("no IMAGE or DIR given");
    if (!(review_below > 0 && review_below <= 1))
      throw InputError("--review-below must be within (0, 1]");
    if (!crop_colour.empty()) (void)hw::plate_colour_from_string(crop_colour);  // names a bad one
    if (!ocr_dir.empty() && crop_colour.empty())
      throw InputError("--ocr reads plate crops; give --crop COLOUR");
    if (vm.count("pass") && !crop_colour.empty())
      throw InputError("--crop reads single plate crops; it does not go with --pass");
    if (vm.count("pass") && !truth_path.empty())
      throw InputError("--truth scores single frames; it does not go with --pass");
  } catch (const std::exception& e) {
    std::cerr << "wim-edge read-plate: " << e.what() << "\n" << desc << "\n";
    return 2;
  }
  const bool as_pass = vm.count("pass") > 0;
  cv::setNumThreads(1);  // one core, as the figures of anpr_bench
  // Keep freed frames' memory mapped: otherwise glibc returns each 6 MB frame buffer to the
  // kernel and the next read pays its page faults, measured as ~3.5 ms more per image than
  // anpr_bench on the same frames (18.9 vs 15.4 ms CPU, 120 frames, docs/notes/issue-7.md).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  std::optional<edge::anpr::PlateReader> reader;
  Truths truths;
  try {
    if (model_dir.empty()) model_dir = edge::default_anpr_model_dir();
    edge::anpr::PlateReaderConfig rc{model_dir};
    rc.review_below = review_below;
    if (ocr_dir.empty())
      reader.emplace(rc);
    else
      reader.emplace(rc, ocr_dir);
    if (!truth_path.empty()) {
      truths.dir = fs::path(truth_path).parent_path();
      for (auto& t : hw::read_plate_truth(truth_path)) truths.by_name[t.file] = t;
    }
  } catch (const std::exception& e) {
    std::cerr << "wim-edge read-plate: " << e.what() << "\n";
    return 2;
  }
  const std::vector<fs::path> files = expand(inputs);
  if (files.empty()) {
    std::cerr << "wim-edge read-plate: no JPEG or PNG image in the folders given\n";
    return 2;
  }
  int unreadable = 0, no_truth = 0;
  Score all;
  std::map<std::string, Score> by_condition, by_colour;
  boost::json::array wrong;
  std::vector<cv::Mat> pass_frames;
  boost::json::array pass_files;
  for (const auto& file : files) {
    std::string why;
    const double t0 = thread_cpu_ms();
    cv::Mat frame = load_image(file, why);
    const double t1 = thread_cpu_ms();
    if (frame.empty()) {
      std::cerr << "wim-edge read-plate: " << file.string() << ": " << why << "\n";
      ++unreadable;
      continue;
    }
    if (as_pass) {
      pass_frames.push_back(std::move(frame));
      pass_files.emplace_back(file.string());
      continue;
    }
    const auto w0 = std::chrono::steady_clock::now();
    PlateRead r;
    try {
      r = crop_colour.empty() ? reader->read(frame)
                              : reader->read_crop(frame, hw::plate_colour_from_string(crop_colour));
    } catch (const std::exception& e) {
      std::cerr << "wim-edge read-plate: " << file.string() << ": " << e.what() << "\n";
      ++unreadable;
      continue;
    }
    const double t2 = thread_cpu_ms();
    const double wall =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w0).count();
    boost::json::object o;
    o["file"] = file.string();
    for (auto& kv : read_json(r)) o[kv.key()] = kv.value();
    o["ms"] = round3(t2 - t1);
    if (!truth_path.empty()) {
      const hw::PlateTruth* t = truths.find(file);
      if (!t) {
        std::cerr << "wim-edge read-plate: " << file.string() << ": no line in " << truth_path
                  << ", not scored\n";
        ++no_truth;
      } else {
        Score s;
        s.images = 1;
        s.read_ms = t2 - t1, s.decode_ms = t1 - t0, s.wall_ms = wall;
        const auto want = hw::split_utf8(t->text), got = hw::split_utf8(r.candidate);
        s.chars = static_cast<int>(want.size());
        for (std::size_t k = 0; k < want.size() && k < got.size(); ++k)
          s.chars_right += want[k] == got[k];
        const bool right = r.candidate == t->text && r.colour == t->colour;
        s.not_found = !r.found;
        if (r.needs_review) {
          s.to_human = 1, s.to_human_right = right;
        } else {
          s.exact = right, s.accepted_wrong = !right;
        }
        if (s.accepted_wrong)
          wrong.push_back({{"file", file.string()},
                           {"truth", t->text},
                           {"truth_colour", std::string(hw::to_string(t->colour))},
                           {"read", r.text},
                           {"colour", std::string(hw::to_string(r.colour))},
                           {"confidence", round3(r.confidence)}});
        o["truth"] = t->text;
        o["truth_colour"] = std::string(hw::to_string(t->colour));
        o["right"] = right;
        all.count(s);
        by_condition[std::string(hw::to_string(t->condition))].count(s);
        by_colour[std::string(hw::to_string(t->colour))].count(s);
      }
    }
    std::cout << boost::json::serialize(o) << "\n";
  }
  if (as_pass && !pass_frames.empty()) {
    const PlateRead r = reader->read_pass(pass_frames);
    boost::json::object o;
    o["files"] = std::move(pass_files);
    o["frames_read"] = r.frames_read;
    for (auto& kv : read_json(r)) o[kv.key()] = kv.value();
    std::cout << boost::json::serialize(o) << "\n";
  }
  if (!truth_path.empty()) {
    boost::json::object score = all.json();
    score["unreadable"] = unreadable;
    score["no_truth"] = no_truth;
    score["review_below"] = review_below;
    boost::json::object bc, bl;
    for (const auto& [name, s] : by_condition) bc[name] = s.json();
    for (const auto& [name, s] : by_colour) bl[name] = s.json();
    score["by_condition"] = std::move(bc);
    score["by_colour"] = std::move(bl);
    score["wrong_accepted"] = wrong;
    std::cout << boost::json::serialize(boost::json::object{{"score", std::move(score)}}) << "\n";
    std::fprintf(stderr,
                 "score against %s (review below %.2f; exact = accepted and right, text and "
                 "colour):\n",
                 truth_path.c_str(), review_below);
    for (auto c : hw::kConditions)
      if (auto it = by_condition.find(std::string(hw::to_string(c))); it != by_condition.end())
        it->second.print(it->first);
    for (auto c : hw::kPlateColours)
      if (auto it = by_colour.find(std::string(hw::to_string(c))); it != by_colour.end())
        it->second.print(it->first);
    all.print("all");
    for (const auto& w : wrong) {
      const auto& o = w.as_object();
      std::fprintf(stderr, "accepted wrong: %s\ttruth %s %s\tread %s %s\tconfidence %.3f\n",
                   o.at("file").as_string().c_str(), o.at("truth").as_string().c_str(),
                   o.at("truth_colour").as_string().c_str(), o.at("read").as_string().c_str(),
                   o.at("colour").as_string().c_str(), o.at("confidence").to_number<double>());
    }
    if (no_truth || unreadable)
      std::fprintf(stderr, "not scored: %d without a truth line, %d unreadable\n", no_truth,
                   unreadable);
  }
  std::cout.flush();
  return unreadable > 0 || all.accepted_wrong > 0 ? 1 : 0;
}
