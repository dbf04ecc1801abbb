// SPDX-License-Identifier: Apache-2.0
// ANPR whole-frame benchmark (issue 17): PlateReader::read() on whole frames with the
// character classifiers (the baseline, PlateReader(config)) and with the real-text recognizer
// (PlateReader(config, OCR_DIR)) in the same process, on three sets:
//  - pasted: every crop of CROPS_TRUTH (a truth.tsv of real plate crops) pasted, aspect kept,
//    at a width drawn from [W_LO, W_HI] px (ANPR_PASTE_WIDTH=lo,hi; 200,260 as in the issue)
//    at a random place into a plain 1920x1080 frame (a random grey, sensor noise sigma 2),
//    JPEG q90 as a camera sends it;
//  - photos: every image of PHOTOS_TRUTH (real whole photos, e.g. CCPD frames) as it is;
//  - generated: our renderer's frames (hw::PlateSetGenerator, the anpr_bench set), N per
//    condition.
// Per set and reader: exact (accepted and right, text and colour), per character, to a human
// (and right), accepted wrong, not found, ms per frame (thread CPU), and the OCR / baseline
// ratio; the generated set also per condition and colour. Every accepted-wrong read is named.
// ANPR_BENCH_DUMP=DIR writes every frame the OCR reader did not accept right, as PNG.
// ANPR_BENCH_DECODE=greedy|grammar: the OCR reader's decoding (PlateReaderConfig::ocr_decode;
// default PlateReaderConfig's, grammar; the classifier baseline does not use it).
// Usage: anpr_frame_bench MODEL_DIR OCR_DIR CROPS_TRUTH|- PHOTOS_TRUTH|- [per_condition=10]
//        [seed=20261207]   ("-": no such set)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <random>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "wim/edge/anpr/plate_reader.hpp"
#include "wim/hw/plate_set.hpp"

using namespace wim;

namespace {
double cpu_ms() {  // [ms] CPU time of this thread: the machine is shared
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
struct Tally {
  int frames = 0, exact = 0, chars = 0, chars_right = 0, review = 0, review_right = 0, wrong = 0,
      not_found = 0;
  double ms = 0;           // [ms] thread CPU
  std::uint64_t runs = 0;  // [-] OCR network runs
  void add(const edge::anpr::PlateRead& r, const std::string& truth, hw::PlateColour colour,
           double read_ms, std::uint64_t ocr_runs) {
    ++frames;
    ms += read_ms;
    runs += ocr_runs;
    const auto t = hw::split_utf8(truth), c = hw::split_utf8(r.candidate);
    chars += static_cast<int>(t.size());
    for (std::size_t i = 0; i < t.size() && i < c.size(); ++i) chars_right += t[i] == c[i];
    const bool right = r.candidate == truth && r.colour == colour;
    not_found += !r.found;
    if (r.needs_review) {
      ++review;
      review_right += right;
    } else if (right) {
      ++exact;
    } else {
      ++wrong;
    }
  }
  void print(const char* reader, const std::string& name) const {
    std::printf(
        "%-11s %-16s %4d  exact %6.2f %%  chars %6.2f %%  to-human %4d (right %3d)  "
        "accepted-wrong %2d  not-found %4d  %6.1f ms/frame cpu  %4.2f OCR runs/frame\n",
        reader, name.c_str(), frames, 100.0 * exact / std::max(1, frames),
        100.0 * chars_right / std::max(1, chars), review, review_right, wrong, not_found,
        ms / std::max(1, frames), static_cast<double>(runs) / std::max(1, frames));
  }
};

struct Frame {
  cv::Mat image;
  std::string text, name, condition;
  hw::PlateColour colour = hw::PlateColour::blue;
};

struct Readers {
  const edge::anpr::PlateReader& baseline;
  const edge::anpr::PlateReader& ocr;
};

// Reads every frame with both readers; prints the set's lines (and per `group` of it).
void score(const char* set, const std::vector<Frame>& frames, const Readers& rd, bool groups) {
  std::map<std::string, Tally> base, ocr;
  const char* dump = std::getenv("ANPR_BENCH_DUMP");
  int n = 0;
  double locate_ms = 0;  // [ms] thread CPU of the OCR reader's localisation alone
  for (const auto& f : frames) {
    ++n;
    {
      const double t0 = cpu_ms();
      const auto by_colour = edge::anpr::find_plate_candidates(f.image, 6);
      const auto by_text = edge::anpr::find_text_candidates(f.image, 6);
      locate_ms += cpu_ms() - t0;
      (void)by_colour;
      (void)by_text;
    }
    for (int k = 0; k < 2; ++k) {
      const auto& reader = k == 0 ? rd.baseline : rd.ocr;
      const std::uint64_t runs0 = reader.ocr_runs();
      const double t0 = cpu_ms();
      const auto r = reader.read(f.image);
      const double ms = cpu_ms() - t0;
      const std::uint64_t runs = reader.ocr_runs() - runs0;
      auto& tallies = k == 0 ? base : ocr;
      tallies[set].add(r, f.text, f.colour, ms, runs);
      if (groups) {
        tallies[f.condition].add(r, f.text, f.colour, ms, runs);
        tallies[std::string(hw::to_string(f.colour))].add(r, f.text, f.colour, ms, runs);
      }
      const bool right = !r.needs_review && r.text == f.text && r.colour == f.colour;
      // ANPR_BENCH_DUMP=dir: the OCR reader's failures (the frame, the quad read in red), to study
      if (dump && k == 1 && !right) {
        cv::Mat shown = f.image.clone();
        if (r.found) {
          std::vector<cv::Point> q(r.corners.begin(), r.corners.end());
          cv::polylines(shown, q, true, cv::Scalar(0, 0, 255), 1);
        }
        cv::imwrite(std::string(dump) + "/" + set + "-" + std::to_string(n) + "-" +
                        (r.found ? r.candidate + "-" + std::string(hw::to_string(r.colour))
                                 : std::string("notfound")) +
                        ".png",
                    shown);
      }
      if (!r.needs_review && !right)
        std::printf("accepted wrong (%s, %s): %s truth %s %s, read %s %s (%.3f)\n",
                    k == 0 ? "classifiers" : "ocr", set, f.name.c_str(), f.text.c_str(),
                    std::string(hw::to_string(f.colour)).c_str(), r.text.c_str(),
                    std::string(hw::to_string(r.colour)).c_str(), r.confidence);
    }
  }
  std::printf("%-11s %-16s localisation alone (colour + text candidates) %6.1f ms/frame cpu\n", "",
              set, locate_ms / std::max<std::size_t>(1, frames.size()));
  for (const auto& [name, t] : base) {
    t.print("classifiers", name);
    ocr[name].print("ocr", name);
    std::printf("%-11s %-16s ratio ocr/classifiers %.2f (ms per frame)\n", "", name.c_str(),
                ocr[name].ms / std::max(1e-9, t.ms));
  }
}

// Frames of a truth.tsv's images: as they are, or each pasted into a plain 1080p frame.
std::vector<Frame> load(const std::string& truth_path, bool paste, int w_lo, int w_hi,
                        std::mt19937& rng) {
  std::vector<Frame> out;
  const std::filesystem::path dir = std::filesystem::path(truth_path).parent_path();
  for (const auto& t : hw::read_plate_truth(truth_path)) {
    cv::Mat img = cv::imread((dir / t.file).string(), cv::IMREAD_COLOR);
    if (img.empty()) {
      std::fprintf(stderr, "cannot read %s: left out\n", (dir / t.file).string().c_str());
      continue;
    }
    Frame f{img, t.text, t.file, std::string(hw::to_string(t.condition)), t.colour};
    if (paste) {
      const int w = std::uniform_int_distribution<int>(w_lo, w_hi)(rng);
      const int h = std::max(1, static_cast<int>(std::lround(1.0 * w * img.rows / img.cols)));
      cv::Mat plate;
      cv::resize(img, plate, {w, h}, 0, 0, w < img.cols ? cv::INTER_AREA : cv::INTER_CUBIC);
      const int grey = std::uniform_int_distribution<int>(60, 200)(rng);
      cv::Mat frame(1080, 1920, CV_8UC3, cv::Scalar::all(grey)), noise(frame.size(), CV_16SC3);
      cv::theRNG().state = rng();
      cv::randn(noise, 0, 2);
      cv::Mat f16;
      frame.convertTo(f16, CV_16SC3);
      f16 += noise;
      f16.convertTo(frame, CV_8UC3);
      const int x = std::uniform_int_distribution<int>(0, 1920 - w)(rng);
      const int y = std::uniform_int_distribution<int>(0, 1080 - h)(rng);
      plate.copyTo(frame(cv::Rect(x, y, w, h)));
      std::vector<uchar> jpeg;
      cv::imencode(".jpg", frame, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
      f.image = cv::imdecode(jpeg, cv::IMREAD_COLOR);
    }
    out.push_back(std::move(f));
  }
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: anpr_frame_bench MODEL_DIR OCR_DIR CROPS_TRUTH|- PHOTOS_TRUTH|- "
                 "[per_condition=10] [seed=20261207]\n");
    return 2;
  }
  cv::setNumThreads(1);  // one core
  const int per = argc > 5 ? std::stoi(argv[5]) : 10;
  const auto seed = argc > 6 ? static_cast<std::uint32_t>(std::stoul(argv[6])) : 20261207u;
  int w_lo = 200, w_hi = 260;
  if (const char* e = std::getenv("ANPR_PASTE_WIDTH")) {
    if (std::sscanf(e, "%d,%d", &w_lo, &w_hi) != 2 || w_lo < 20 || w_hi < w_lo || w_hi > 1900) {
      std::fprintf(stderr, "ANPR_PASTE_WIDTH: want LO,HI px (20 <= LO <= HI <= 1900), got %s\n", e);
      return 2;
    }
  }
  edge::anpr::PlateReaderConfig rc{argv[1]};
  const edge::anpr::PlateReader baseline(rc);
  const char* decode = std::getenv("ANPR_BENCH_DECODE");
  if (decode && std::string(decode) == "grammar") {
    rc.ocr_decode = edge::anpr::OcrDecode::grammar;
  } else if (decode && std::string(decode) == "greedy") {
    rc.ocr_decode = edge::anpr::OcrDecode::greedy;
  } else if (decode) {
    std::fprintf(stderr, "ANPR_BENCH_DECODE: want greedy or grammar, got %s\n", decode);
    return 2;
  }
  const edge::anpr::PlateReader ocr(rc, argv[2]);
  const Readers rd{baseline, ocr};
  std::mt19937 rng(seed);
  std::printf("seed %u, review_below %.2f, pasted widths %d-%d px, OCR decoding %s\n", seed,
              rc.review_below, w_lo, w_hi,
              rc.ocr_decode == edge::anpr::OcrDecode::grammar ? "grammar" : "greedy");
  if (std::string(argv[3]) != "-") score("pasted", load(argv[3], true, w_lo, w_hi, rng), rd, false);
  if (std::string(argv[4]) != "-") score("photos", load(argv[4], false, 0, 0, rng), rd, false);
  if (per > 0) {
    std::vector<Frame> generated;
    hw::PlateSetGenerator gen(seed, false, 1);
    const std::vector<hw::Condition> conds(hw::kConditions.begin(), hw::kConditions.end());
    int i = 0;
    for (const auto& p : hw::bench_plan(conds, std::vector<int>(conds.size(), per))) {
      auto scene = gen.next(p.condition, p.colour);
      std::vector<uchar> jpeg;
      cv::imencode(".jpg", scene.image, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
      generated.push_back({cv::imdecode(jpeg, cv::IMREAD_COLOR), scene.plate.text,
                           "generated #" + std::to_string(i++),
                           std::string(hw::to_string(p.condition)), p.colour});
    }
    score("generated", generated, rd, true);
  }
  return 0;
}
