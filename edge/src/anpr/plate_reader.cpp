// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <opencv2/imgproc.hpp>

#include "wim/common/error.hpp"
#include "wim/edge/anpr/char_classifier.hpp"
#include "wim/edge/anpr/deblur.hpp"
#include "wim/edge/anpr/ocr_recognizer.hpp"
#include "wim/edge/anpr/plate_chars.hpp"
#include "wim/edge/anpr/plate_grammar.hpp"
#include "wim/edge/anpr/plate_reader.hpp"

namespace wim::edge::anpr {

struct PlateReader::Model {
  CharClassifier province, alnum;
  std::unique_ptr<OcrRecognizer> ocr;  // null without config.ocr_dir
};

namespace {

// [-] sigmoid slope of the province character's confidence in the plate read (classifiers:
// CharClassifier::kMarginScale, 3). The 31 province glyphs are the weakest class set (held out 95 %
// against 98.4 %), and blurred ones were accepted wrong at margins 0.52-0.60 (0.83-0.86 at slope 3;
// 青 read as 藏 on seed 55555, 闽 as 川 on the stress set): at 2.2 a margin needs 0.63 to reach
// 0.80. Applied to the winning reading only: lowering it before the candidates and layouts compete
// let a 7-character reading of an infrared green plate win (stress set, 0.90, wrong).
constexpr double kProvinceMarginScale = 2.2;

void calibrate_province(PlateRead& r) {
  if (!r.found || r.char_confidence.empty()) return;
  const double c = std::clamp(r.char_confidence[0], 1e-9, 1 - 1e-9);
  const double margin = std::log(c / (1 - c)) / CharClassifier::kMarginScale;
  r.char_confidence[0] = 1.0 / (1.0 + std::exp(-kProvinceMarginScale * margin));
  r.confidence = *std::min_element(r.char_confidence.begin(), r.char_confidence.end());
}

cv::Point2f centre_of(const std::array<cv::Point2f, 4>& q) {
  return (q[0] + q[1] + q[2] + q[3]) * 0.25f;
}

// Light characters on a darker plate (blue), or dark on light (yellow, green)?
bool light_text(const cv::Mat& canonical) {
  cv::Mat gray, bin;
  cv::cvtColor(canonical, gray, cv::COLOR_BGR2GRAY);
  const cv::Mat band = gray(cv::Rect(0, gray.rows / 5, gray.cols, gray.rows * 3 / 5));
  cv::threshold(band, bin, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
  return cv::countNonZero(bin) < static_cast<int>(bin.total() / 2);  // ink is the minority
}

// The frame region around a candidate in which its smear is measured and undone: the quad's
// bounding box grown by half the plate's width and height (+ the longest smear searched) on
// each side, so that the plate can be found again in it once the smear is undone.
cv::Rect smear_region(const PlateCandidate& c, cv::Size frame) {
  cv::Rect r = cv::boundingRect(std::vector<cv::Point2f>(c.corners.begin(), c.corners.end()));
  const int mx = r.width / 2 + 32, my = r.height / 2 + 32;
  return (r - cv::Point(mx, my) + cv::Size(2 * mx, 2 * my)) & cv::Rect({0, 0}, frame);
}

// The candidate found again in the unsmeared region (the smear grew the plate's colour mask
// along it): the one of the same layouts nearest to the smeared candidate's centre, if any.
PlateCandidate refound(const PlateCandidate& c, const cv::Mat& unsmeared, cv::Rect region,
                       int max_candidates) {
  const cv::Point2f at = centre_of(c.corners) -
                         cv::Point2f(static_cast<float>(region.x), static_cast<float>(region.y));
  const double width = cv::norm(c.corners[1] - c.corners[0]);
  PlateCandidate best = c;
  double nearest = width / 4;
  for (auto& p : find_plate_candidates(unsmeared(region), max_candidates)) {
    const double d = cv::norm(centre_of(p.corners) - at);
    if (p.layouts != c.layouts || d >= nearest) continue;
    nearest = d;
    best = p;
    for (auto& q : best.corners)
      q += cv::Point2f(static_cast<float>(region.x), static_cast<float>(region.y));
  }
  return best;
}
// A character the first reading was sure of (>= sure) that a second reading of the same
// plate reads otherwise is not sure in the second: it gets the cross-check's confidence.
void distrust_changes(const PlateRead& first, PlateRead& second, double sure) {
  const auto a = hw::split_utf8(first.candidate), b = hw::split_utf8(second.candidate);
  if (a.size() != b.size()) return;
  for (std::size_t i = 0; i < b.size() && i < second.char_confidence.size(); ++i)
    if (a[i] != b[i] && first.char_confidence[i] >= sure)
      second.char_confidence[i] = std::min(second.char_confidence[i], kDisagreeConfidence);
  second.confidence =
      *std::min_element(second.char_confidence.begin(), second.char_confidence.end());
}

// How much a rectified plate looks like a row of characters: the median, over the rows
// through the characters' middle half, of ink/plate crossings (Otsu cut, ink = minority).
// A plate of 7 printed characters crosses >= 14 times; a painted body, a lamp or sky ~0-4.
int text_transitions(const cv::Mat& close_up) {
  cv::Mat gray, bin;
  cv::cvtColor(close_up, gray, cv::COLOR_BGR2GRAY);
  const cv::Mat band = gray(cv::Rect(0, gray.rows / 4, gray.cols, std::max(1, gray.rows / 2)));
  cv::threshold(band, bin, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
  std::vector<int> per_row;
  for (int y = 0; y < bin.rows; ++y) {
    const uchar* p = bin.ptr<uchar>(y);
    int n = 0;
    for (int x = 1; x < bin.cols; ++x) n += p[x] != p[x - 1];
    per_row.push_back(n);
  }
  std::nth_element(per_row.begin(),
                   per_row.begin() + static_cast<std::ptrdiff_t>(per_row.size() / 2),
                   per_row.end());
  return per_row[per_row.size() / 2];
}

// The quad warped to `size` (BGR), its edges' pixels repeated outside the frame.
cv::Mat warp_quad(const cv::Mat& bgr, const std::array<cv::Point2f, 4>& q, cv::Size size) {
  const auto w = static_cast<float>(size.width), h = static_cast<float>(size.height);
  const std::vector<cv::Point2f> src(q.begin(), q.end());
  const std::vector<cv::Point2f> dst = {{0, 0}, {w, 0}, {w, h}, {0, h}};
  cv::Mat out;
  cv::warpPerspective(bgr, out, cv::getPerspectiveTransform(src, dst), size, cv::INTER_LINEAR,
                      cv::BORDER_REPLICATE);
  return out;
}

}  // namespace

PlateReader::PlateReader(PlateReaderConfig config)
    : config_(std::move(config)), model_(std::make_unique<Model>()) {
  const std::filesystem::path dir = config_.model_dir;
  model_->province = CharClassifier::load((dir / "anpr_province.yml.gz").string(),
                                          static_cast<int>(hw::kProvinces.size()));
  model_->alnum = CharClassifier::load((dir / "anpr_alnum.yml.gz").string(),
                                       static_cast<int>(hw::kAlnum.size()));
}

PlateReader::PlateReader(PlateReaderConfig config, const std::string& ocr_dir)
    : PlateReader(std::move(config)) {
  const std::filesystem::path ocr = ocr_dir;
  model_->ocr = std::make_unique<OcrRecognizer>((ocr / "anpr_ocr.onnx").string(),
                                                (ocr / "anpr_ocr_keys.txt").string());
}

PlateReader::~PlateReader() = default;

bool PlateReader::has_ocr() const {
  return model_->ocr != nullptr;
}

std::uint64_t PlateReader::ocr_runs() const {
  return model_->ocr ? model_->ocr->runs() : 0;
}

namespace {
// A candidate's reading before its characters: where it is, its close-up and colour.
PlateRead located(const cv::Mat& bgr, const PlateCandidate& c, hw::PlateColour layout) {
  PlateRead r;
  r.found = true;
  r.corners = c.corners;
  r.box = cv::boundingRect(std::vector<cv::Point2f>(c.corners.begin(), c.corners.end())) &
          cv::Rect(0, 0, bgr.cols, bgr.rows);
  r.close_up = rectify_plate(bgr, c.corners, layout);
  r.colour = layout;
  r.colour_from_pixels = !c.mono;
  if (c.mono && layout == hw::PlateColour::blue && !light_text(r.close_up))
    r.colour = hw::PlateColour::yellow;  // same layout, dark text: a yellow plate
  return r;
}
}  // namespace

PlateRead PlateReader::read_candidate(const cv::Mat& bgr, const PlateCandidate& c,
                                      hw::PlateColour layout) const {
  PlateRead r = located(bgr, c, layout);
  const cv::Mat f = char_features(cut_characters(r.close_up, layout));
  for (int i = 0; i < f.rows; ++i) {
    std::pair<int, double> best;
    if (i == 0) {
      best = model_->province.classify(f.row(i), 0, model_->province.classes());
      r.candidate += hw::kProvinces[static_cast<std::size_t>(best.first)];
    } else {  // the 2nd character is always a letter
      best =
          model_->alnum.classify(f.row(i), 0, i == 1 ? hw::kLetterCount : model_->alnum.classes());
      r.candidate += hw::kAlnum[static_cast<std::size_t>(best.first)];
    }
    r.char_confidence.push_back(best.second);
  }
  r.confidence = *std::min_element(r.char_confidence.begin(), r.char_confidence.end());
  r.frames_read = 1;
  return r;
}

void PlateReader::cross_check(const cv::Mat& bgr, const PlateCandidate& c, PlateRead& r) const {
  // A second reading of the same plate through grown borders: a character read
  // differently is not sure, however large its margin was in the first reading (the
  // confidence of a single linear-SVM reading is not calibrated against wrong cuts).
  if (config_.cross_check_grow <= 0) return;
  const auto grow = static_cast<float>(config_.cross_check_grow);
  PlateCandidate grown = c;
  const cv::Point2f centre = centre_of(c.corners);
  for (auto& p : grown.corners) p = centre + (p - centre) * (1.0f + 2 * grow);
  // Infrared: a dark-text blue layout was reported as yellow; the layout read was blue.
  const auto layout =
      c.mono && r.colour == hw::PlateColour::yellow ? hw::PlateColour::blue : r.colour;
  const PlateRead second = read_candidate(bgr, grown, layout);
  const auto a = hw::split_utf8(r.candidate), b = hw::split_utf8(second.candidate);
  for (std::size_t i = 0; i < a.size() && i < r.char_confidence.size(); ++i) {
    if (i < b.size() && a[i] == b[i]) continue;
    r.char_confidence[i] = std::min(r.char_confidence[i], kDisagreeConfidence);
    r.disagreements += 1;
  }
  r.confidence = *std::min_element(r.char_confidence.begin(), r.char_confidence.end());
}

void PlateReader::decide(PlateRead& r, const ReadOptions& options) const {
  r.text.clear();
  if (!r.found) {
    r.needs_review = true;
    r.review_reason = "no plate found";
  } else if (!r.other_plate.empty()) {
    r.needs_review = true;
    char conf[48];
    std::snprintf(conf, sizeof conf, " (%.2f)", r.other_confidence);
    r.review_reason = (r.other_confidence >= config_.review_below ? "two plates read surely, "
                                                                  : "two plates in view, ") +
                      r.candidate + " and " + r.other_plate + conf +
                      ": which vehicle was weighed is for a human to decide";
  } else if (r.confidence < config_.review_below) {
    r.needs_review = true;
    char buf[96];
    std::snprintf(buf, sizeof buf, "low confidence %.2f (< %.2f)", r.confidence,
                  config_.review_below);
    r.review_reason = buf;
  } else if (const std::string why = grammar_violation(r.candidate, r.colour); !why.empty()) {
    // Sure characters, yet not a plate GA 36-2018 allows (e.g. a green plate read with 7
    // characters): never accepted; the candidate stays as the human's hint.
    r.needs_review = true;
    r.review_reason = "breaks the plate grammar: " + why;
  } else if (!options.always_review.empty()) {
    r.needs_review = true;
    r.review_reason = options.always_review;
  } else {
    r.needs_review = false;
    r.review_reason.clear();
    r.text = r.candidate;
  }
}

cv::Rect LaneRegion::to_pixels(cv::Size frame) const {
  const cv::Rect2d r = in_pixels ? rect
                                 : cv::Rect2d(rect.x * frame.width, rect.y * frame.height,
                                              rect.width * frame.width, rect.height * frame.height);
  return cv::Rect(cv::Point(static_cast<int>(std::lround(r.x)), static_cast<int>(std::lround(r.y))),
                  cv::Point(static_cast<int>(std::lround(r.x + r.width)),
                            static_cast<int>(std::lround(r.y + r.height)))) &
         cv::Rect(0, 0, frame.width, frame.height);
}

namespace {

// Two candidates are the same plate when either's centre lies in the other's box.
bool same_place(const PlateRead& a, const PlateRead& b) {
  return a.box.contains(centre_of(b.corners)) || b.box.contains(centre_of(a.corners));
}

// The other plates (confidence, text) named on `best`: all of them, the surest first (the
// next lane's truck and a follower).
void name_other_plates(std::vector<std::pair<double, std::string>>& others, PlateRead& best) {
  std::sort(others.rbegin(), others.rend());
  for (const auto& [conf, text] : others) {
    if (best.other_plate.find(text) != std::string::npos) continue;
    best.other_plate += (best.other_plate.empty() ? "" : ", ") + text;
    best.other_confidence = std::max(best.other_confidence, conf);
  }
}

// Characters in which two readings differ (a different length counts them all).
std::size_t char_differences(const std::string& a, const std::string& b) {
  const auto x = hw::split_utf8(a), y = hw::split_utf8(b);
  if (x.size() != y.size()) return std::max(x.size(), y.size());
  std::size_t n = 0;
  for (std::size_t i = 0; i < x.size(); ++i) n += x[i] != y[i];
  return n;
}

}  // namespace

PlateRead PlateReader::read_crop_ocr(const cv::Mat& bgr, hw::PlateColour layout) const {
  PlateRead r;
  r.found = true;
  r.colour = layout;
  r.colour_from_pixels = bgr.channels() == 3;
  r.box = cv::Rect(0, 0, bgr.cols, bgr.rows);
  const auto w = static_cast<float>(bgr.cols), h = static_cast<float>(bgr.rows);
  r.corners = {cv::Point2f(0, 0), cv::Point2f(w, 0), cv::Point2f(w, h), cv::Point2f(0, h)};
  r.close_up = bgr.clone();
  const OcrReading first = ocr_read(bgr, layout);
  cv::Mat grown;
  const int px = std::max(1, static_cast<int>(std::lround(kOcrCrossGrow * bgr.cols)));
  const int py = std::max(1, static_cast<int>(std::lround(2 * kOcrCrossGrow * bgr.rows)));
  cv::copyMakeBorder(bgr, grown, py, py, px, px, cv::BORDER_REPLICATE);
  const OcrReading second = model_->ocr->read(grown);
  r.candidate = first.text;
  r.char_confidence = first.char_confidence;
  const auto a = hw::split_utf8(first.text), b = hw::split_utf8(second.text);
  for (std::size_t i = 0; i < r.char_confidence.size(); ++i)
    if (a.size() != b.size() || a[i] != b[i]) {
      r.char_confidence[i] = std::min(r.char_confidence[i], kDisagreeConfidence);
      ++r.disagreements;
    }
  r.confidence = r.char_confidence.empty()
                     ? 0
                     : *std::min_element(r.char_confidence.begin(), r.char_confidence.end());
  if (a.size() != hw::plate_layout(layout).chars.size())
    r.confidence = std::min(r.confidence, kDisagreeConfidence);  // not this layout's length
  r.text = r.candidate;
  return r;
}

PlateRead PlateReader::read_crop(const cv::Mat& bgr, hw::PlateColour layout) const {
  if (bgr.empty() || bgr.depth() != CV_8U || (bgr.channels() != 3 && bgr.channels() != 1))
    throw InputError("plate reader: crop is empty or not an 8-bit grey/BGR image");
  if (model_->ocr && layout != hw::PlateColour::yellow_double) {  // the OCR reads one row
    PlateRead r = read_crop_ocr(bgr, layout);
    decide(r);
    return r;
  }
  cv::Mat colour = bgr;
  if (bgr.channels() == 1) cv::cvtColor(bgr, colour, cv::COLOR_GRAY2BGR);
  PlateCandidate c;
  const auto w = static_cast<float>(colour.cols), h = static_cast<float>(colour.rows);
  c.corners = {cv::Point2f(0, 0), cv::Point2f(w, 0), cv::Point2f(w, h), cv::Point2f(0, h)};
  c.mono = bgr.channels() == 1;
  c.layouts = {layout};
  c.area_px = static_cast<double>(w) * h;
  PlateRead r = read_candidate(colour, c, layout);
  r.colour = layout;
  cross_check(colour, c, r);
  decide(r);
  return r;
}

OcrReading PlateReader::ocr_read(const cv::Mat& close_up, hw::PlateColour layout) const {
  if (config_.ocr_decode == OcrDecode::greedy) return model_->ocr->read(close_up);
  const cv::Mat probs = model_->ocr->probabilities(close_up);
  const OcrReading greedy = ctc_greedy(probs, model_->ocr->keys());
  if (greedy.text.empty()) return greedy;  // nothing read: no plate, nothing to mend
  OcrReading o = ctc_constrained(probs, model_->ocr->keys(), grammar_patterns(layout));
  // A character the grammar made the decoder choose against the network's most probable
  // class (or beside a blank it forced between characters) is as sure as that step's
  // probability: never above 0.5, so such a mended reading goes to a human, with a
  // grammatical candidate. A character read before the first or after the last of the
  // layout's (end_forced: lyl8213 crops' frame edge read as 1 or L, the next crop's province)
  // is dropped at no cost: the greedy second opinion must then read exactly the mended
  // plate, else the reading goes to a human (a true eighth character, e.g. a green plate
  // found in a seven-character layout, is read again by the second cut: another length).
  for (std::size_t i = 0; i < o.char_confidence.size(); ++i)
    o.char_confidence[i] = std::min(o.char_confidence[i], o.char_forced[i]);
  set_least_confidence(o);
  return o;
}

PlateRead PlateReader::ocr_candidate(const cv::Mat& bgr, const PlateCandidate& c,
                                     hw::PlateColour layout) const {
  PlateRead r = located(bgr, c, layout);
  const OcrReading o = ocr_read(r.close_up, layout);
  r.candidate = o.text;
  r.char_confidence = o.char_confidence;
  r.confidence = o.confidence;
  if (hw::split_utf8(o.text).size() != hw::plate_layout(layout).chars.size())
    r.confidence = std::min(r.confidence, kDisagreeConfidence);  // not this layout's length
  // The localiser's infrared test is the whole frame's: a grey day scene (road, sky) with a
  // small plate in it passes it. A close-up that has colour of its own is then read as in a
  // colour frame, its paint naming the colour (lyl8213 train crop 冀RUC392, a pale blue plate
  // pasted in a grey frame, was read "yellow" at 0.99 by the infrared rule "dark characters
  // in the blue layout": its bold white characters outweigh the plate's blue).
  bool mono = c.mono;
  hw::PlateColour colour = layout;
  if (mono && !r.char_confidence.empty()) {
    if (const auto paint = plate_paint(r.close_up)) {
      mono = false;
      r.colour_from_pixels = true;
      // the grey frame's layouts are blue and green; yellow paint in the 7-character one
      colour =
          layout == hw::PlateColour::blue && *paint == hw::PlateColour::yellow ? *paint : layout;
      r.colour = colour;
      if (*paint != colour) r.confidence = std::min(r.confidence, kDisagreeConfidence);
    }
  }
  // The colour must agree with the characters' polarity (GA 36-2018: white characters on
  // blue, black on yellow and green). A yellowish or brown body around a blue plate made a
  // text region "yellow" (CCPD photo, read 皖AWT614 yellow at 0.998): light characters in a
  // yellow layout are a blue plate's when the close-up holds blue paint, else not sure.
  if (!mono && !r.char_confidence.empty()) {
    const bool light = light_text(r.close_up);
    if (colour == hw::PlateColour::blue &&
        (!light || paint_share(r.close_up, hw::PlateColour::yellow) >= kOcrPaintShare)) {
      // Dark characters, or yellow paint in a blue close-up: a yellow plate on a blue body
      // (EasyPR photo 皖A45277: the blue mask found the bumper around the plate, whose
      // bright yellow made the characters "light" against it; read blue at 0.997).
      r.confidence = std::min(r.confidence, kDisagreeConfidence);
    } else if (colour != hw::PlateColour::blue && light) {
      if (colour == hw::PlateColour::yellow &&
          paint_share(r.close_up, hw::PlateColour::blue) >= kOcrPaintShare)
        r.colour = hw::PlateColour::blue;  // the same 7-character layout
      else
        r.confidence = std::min(r.confidence, kDisagreeConfidence);
    }
  }
  r.frames_read = 1;
  return r;
}

void PlateReader::ocr_second_opinion(const cv::Mat& bgr, const PlateCandidate& c,
                                     PlateRead& r) const {
  // The same plate cut otherwise: borders grown, shifted, at another scale. A character it
  // reads otherwise (or another length) is not sure however sure the first reading was: one
  // network's confidence is not calibrated against its own misreads (real crops: a wrong
  // 苏BU5372 at 0.996).
  const cv::Point2f centre = centre_of(c.corners);
  const cv::Point2f shift = (c.corners[1] - c.corners[0]) * static_cast<float>(kOcrSecondShift);
  std::array<cv::Point2f, 4> q = c.corners;
  const auto gx = static_cast<float>(1 + 2 * kOcrCrossGrow),
             gy = static_cast<float>(1 + 4 * kOcrCrossGrow);
  const cv::Point2f along = c.corners[1] - c.corners[0], down = c.corners[3] - c.corners[0];
  const double la = std::max(1.0, cv::norm(along)), ld = std::max(1.0, cv::norm(down));
  for (auto& p : q) {
    const cv::Point2f d = p - centre;
    // grow along the plate's own axes (gx along its width, gy along its height)
    const double a = d.dot(along) / la, b = d.dot(down) / ld;
    p = centre + shift + along * static_cast<float>(a * gx / la) +
        down * static_cast<float>(b * gy / ld);
  }
  const auto& l = hw::plate_layout(
      r.colour == hw::PlateColour::yellow && c.mono ? hw::PlateColour::blue : r.colour);
  const cv::Size size(static_cast<int>(l.width_mm * kCanonicalPxPerMm * kOcrSecondScale),
                      static_cast<int>(l.height_mm * kCanonicalPxPerMm * kOcrSecondScale));
  const OcrReading second = model_->ocr->read(warp_quad(bgr, q, size));
  const auto a = hw::split_utf8(r.candidate), b = hw::split_utf8(second.text);
  for (std::size_t i = 0; i < r.char_confidence.size(); ++i)
    if (a.size() != b.size() || a[i] != b[i]) {
      r.char_confidence[i] = std::min(r.char_confidence[i], kDisagreeConfidence);
      ++r.disagreements;
    }
  r.confidence =
      std::min(r.confidence, *std::min_element(r.char_confidence.begin(), r.char_confidence.end()));
}

PlateRead PlateReader::read_frame_ocr(const cv::Mat& bgr,
                                      const std::vector<PlateCandidate>& candidates,
                                      const ReadOptions& options) const {
  // Every single-row layout of every candidate, ranked by how text-like its close-up is (the
  // localiser's order, largest first, among equals); the same place in the same layout (the
  // masks overlap) once.
  struct Ranked {
    const PlateCandidate* c;
    hw::PlateColour layout;
    int transitions;
    cv::Rect box;
  };
  std::vector<Ranked> ranked;
  std::vector<PlateRead> reads;           // OCR'd (and two-row classifier) readings
  std::vector<const PlateCandidate*> of;  // the candidate each reading is of
  for (const auto& c : candidates)
    for (auto layout : c.layouts) {
      if (layout == hw::PlateColour::yellow_double) {  // two rows: the classifiers
        PlateRead r = read_candidate(bgr, c, layout);
        cross_check(bgr, c, r);
        calibrate_province(r);
        reads.push_back(std::move(r));
        of.push_back(&c);
        continue;
      }
      const int t = text_transitions(rectify_plate(bgr, c.corners, layout));
      if (t < kOcrMinTransitions) continue;
      const cv::Rect box =
          cv::boundingRect(std::vector<cv::Point2f>(c.corners.begin(), c.corners.end()));
      ranked.push_back({&c, layout, t, box});
    }
  std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    return std::min(a.transitions, 24) > std::min(b.transitions, 24);
  });
  int slots = 0;  // candidates read, or passed over as a place already read surely
  std::vector<std::size_t> sure_at;  // ranked entries whose reading is sure and grammatical
  for (std::size_t i = 0; i < ranked.size() && slots < kOcrCandidates; ++i) {
    const auto& k = ranked[i];
    const cv::Point2f at = centre_of(k.c->corners);
    bool seen = false;
    for (std::size_t j = 0; j < i && !seen; ++j)
      seen = ranked[j].layout == k.layout && ranked[j].box.contains(at);
    if (seen) continue;
    ++slots;
    // The same place in another layout or cut, where a reading is already sure and allowed by
    // GA 36: it could only compete on confidence, and the winner gets its second opinion
    // anyway. Not read (one network run saved; whole-frame bench: most frames' second
    // candidate is the plate just read, in the green layout).
    if (std::any_of(sure_at.begin(), sure_at.end(), [&](std::size_t j) {
          return ranked[j].box.contains(at) || k.box.contains(centre_of(ranked[j].c->corners));
        }))
      continue;
    PlateRead r = ocr_candidate(bgr, *k.c, k.layout);
    if (r.char_confidence.empty()) continue;  // nothing read: not a plate
    if (r.confidence >= config_.review_below && grammar_violation(r.candidate, r.colour).empty())
      sure_at.push_back(i);
    reads.push_back(std::move(r));
    of.push_back(k.c);
  }
  // The winner: the surest reading that GA 36 allows, else the surest (for a human).
  std::size_t winner = reads.size();
  auto better = [&](std::size_t i) {
    if (winner == reads.size()) return true;
    const bool ok_i = grammar_violation(reads[i].candidate, reads[i].colour).empty();
    const bool ok_w = grammar_violation(reads[winner].candidate, reads[winner].colour).empty();
    if (ok_i != ok_w) return ok_i;
    return reads[i].confidence > reads[winner].confidence;
  };
  for (std::size_t i = 0; i < reads.size(); ++i)
    if (better(i)) winner = i;
  PlateRead best;
  if (winner < reads.size()) {
    best = reads[winner];
    // The second opinion only where it can matter: an unsure or ungrammatical reading goes to
    // a human anyway. (Two-row readings had the classifiers' own cross-check.)
    if (best.colour != hw::PlateColour::yellow_double && best.confidence >= config_.review_below &&
        grammar_violation(best.candidate, best.colour).empty())
      ocr_second_opinion(bgr, *of[winner], best);
    // Another plate elsewhere (see read()): a sure other reading needs its own second opinion.
    std::vector<std::pair<double, std::string>> others;
    for (std::size_t i = 0; i < reads.size() && best.confidence >= config_.review_below; ++i) {
      PlateRead r = reads[i];
      if (i == winner || r.confidence < kOtherPlateSeen || same_place(r, best) ||
          r.candidate == best.candidate || !grammar_violation(r.candidate, r.colour).empty())
        continue;
      if (r.confidence >= config_.review_below && r.colour != hw::PlateColour::yellow_double)
        ocr_second_opinion(bgr, *of[i], r);
      if (r.confidence >= kOtherPlateSeen) others.emplace_back(r.confidence, r.candidate);
    }
    name_other_plates(others, best);
  }
  decide(best, options);
  return best;
}

PlateRead PlateReader::read(const cv::Mat& bgr, const ReadOptions& options) const {
  if (bgr.empty() || bgr.depth() != CV_8U || (bgr.channels() != 3 && bgr.channels() != 1))
    throw InputError("plate reader: frame is empty or not an 8-bit grey/BGR image");
  cv::Mat colour = bgr;
  if (bgr.channels() == 1) cv::cvtColor(bgr, colour, cv::COLOR_GRAY2BGR);
  // A lane region: plates are searched in it grown by a quarter each side (a plate across
  // its border is found whole), and only those whose centre lies inside it are read.
  const cv::Rect frame_rect(0, 0, colour.cols, colour.rows);
  cv::Rect roi = frame_rect, search = frame_rect;
  if (options.roi) {
    roi = options.roi->to_pixels(colour.size());
    search = cv::Rect(roi.x - roi.width / 4, roi.y - roi.height / 4, roi.width * 3 / 2,
                      roi.height * 3 / 2) &
             frame_rect;
  }
  if (model_->ocr) {
    std::vector<PlateCandidate> in_roi;
    if (!roi.empty()) {
      const cv::Point2f offset(static_cast<float>(search.x), static_cast<float>(search.y));
      std::vector<PlateCandidate> found =
          find_plate_candidates(colour(search), config_.max_candidates);
      const std::size_t by_colour = found.size();
      for (auto& t : find_text_candidates(colour(search), config_.max_candidates)) {
        // a place the colour masks found already in this layout is not read twice
        const cv::Point2f at = centre_of(t.corners);
        const bool seen = std::any_of(
            found.begin(), found.begin() + static_cast<std::ptrdiff_t>(by_colour),
            [&](const PlateCandidate& c) {
              return c.layouts == t.layouts &&
                     cv::boundingRect(std::vector<cv::Point2f>(c.corners.begin(), c.corners.end()))
                         .contains(at);
            });
        if (!seen) found.push_back(std::move(t));
      }
      for (auto c : found) {
        for (auto& p : c.corners) p += offset;
        if (roi.contains(centre_of(c.corners))) in_roi.push_back(std::move(c));
      }
    }
    return read_frame_ocr(colour, in_roi, options);
  }
  // Each candidate's reading in every layout tried (kept for the smear fallback below) and
  // the best of them, in the localiser's order.
  struct CandidateReads {
    PlateRead best;
    PlateCandidate candidate;
    std::vector<std::pair<hw::PlateColour, PlateRead>> tried;  // layout, its reading
  };
  std::vector<CandidateReads> reads;
  if (!roi.empty()) {
    const cv::Point2f offset(static_cast<float>(search.x), static_cast<float>(search.y));
    for (auto c : find_plate_candidates(colour(search), config_.max_candidates)) {
      for (auto& p : c.corners) p += offset;
      if (!roi.contains(centre_of(c.corners))) continue;
      CandidateReads here{{}, c, {}};
      bool light_characters = false;
      for (auto layout : c.layouts) {
        // Infrared: light characters on a darker field are a blue plate's (green and yellow
        // plates have dark characters), so the green layout is not read. Reading it anyway
        // let a 8-character reading of a blue plate win on confidence (then sent to a human).
        if (c.mono && layout == hw::PlateColour::green && light_characters) continue;
        // Not retried with grown/shrunk quads: taking the best of several tries raised the
        // confidence of a wrong read above the review threshold in the benchmark.
        PlateRead r = read_candidate(colour, c, layout);
        light_characters = light_characters || (c.mono && r.colour == hw::PlateColour::blue);
        if (!here.best.found || r.confidence > here.best.confidence) here.best = r;
        here.tried.emplace_back(layout, std::move(r));
      }
      if (here.best.found) reads.push_back(std::move(here));
    }
  }
  PlateRead best;
  std::size_t winner = reads.size();
  for (std::size_t i = 0; i < reads.size(); ++i)
    if (!best.found || reads[i].best.confidence > best.confidence) {
      best = reads[i].best;
      winner = i;
    }
  // Motion smear: only when no candidate was read surely as it is (the frame would go to a
  // human), each candidate's smear is measured, undone around it, the plate found again in
  // the result (the smear grew its colour mask) and read again. An unsmeared reading wins
  // only over a higher confidence, and a character the plain reading of that candidate was
  // sure of that it reads otherwise is not sure.
  PlateCandidate best_candidate = best.found ? reads[winner].candidate : PlateCandidate{};
  cv::Mat unsmeared;   // the frame with a smear undone around the candidate being read
  cv::Mat best_patch;  // the winner's unsmeared region, if it was read there
  cv::Rect best_region;
  for (std::size_t i = 0; best.found && best.confidence < config_.review_below && i < reads.size();
       ++i) {
    const auto& c = reads[i].candidate;
    const cv::Rect region = smear_region(c, colour.size());
    const MotionSmear smear = estimate_motion_smear(colour(region));
    if (smear.length_px <= 0) continue;
    const cv::Mat patch = undo_motion_smear(colour(region), smear);
    if (unsmeared.empty()) unsmeared = colour.clone();
    patch.copyTo(unsmeared(region));
    const PlateCandidate sharp_c = refound(c, unsmeared, region, config_.max_candidates);
    for (const auto& [layout, plain] : reads[i].tried) {  // the layouts read above, as read
      PlateRead u = read_candidate(unsmeared, sharp_c, layout);
      distrust_changes(plain, u, config_.review_below);
      if (u.confidence > plain.confidence && u.confidence > best.confidence) {
        best = std::move(u);
        best_candidate = sharp_c;
        best_patch = patch;
        best_region = region;
      }
    }
  }
  // the cross-check reads the winner on the frame it was read on
  if (!best_patch.empty()) best_patch.copyTo(unsmeared(best_region));
  const cv::Mat& best_frame = best_patch.empty() ? colour : unsmeared;
  if (best.found) {
    cross_check(best_frame, best_candidate, best);
    // Two plates: another candidate, elsewhere, also read as a plate (the next lane's truck,
    // a close follower). Which one was weighed is for a human to say. A sure other reading
    // must pass its own cross-check; an unsure one counts from kOtherPlateSeen. (An unsure
    // winner goes to a human anyway.)
    std::vector<std::pair<double, std::string>> others;  // confidence, text
    for (std::size_t i = 0; i < reads.size() && best.confidence >= config_.review_below; ++i) {
      auto& r = reads[i].best;
      const auto& c = reads[i].candidate;
      if (i == winner || r.confidence < kOtherPlateSeen || same_place(r, best) ||
          r.candidate == best.candidate)
        continue;
      if (r.confidence >= config_.review_below) cross_check(colour, c, r);
      if (r.confidence >= kOtherPlateSeen) others.emplace_back(r.confidence, r.candidate);
    }
    name_other_plates(others, best);
  }
  calibrate_province(best);
  decide(best, options);
  return best;
}

PlateRead PlateReader::read_pass(const std::vector<cv::Mat>& frames,
                                 const ReadOptions& options) const {
  std::vector<PlateRead> reads;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    PlateRead r = read(frames[i], options);
    r.frame_index = static_cast<int>(i);
    if (r.found) reads.push_back(std::move(r));
  }
  PlateRead result;
  if (reads.empty()) {
    decide(result);
    return result;
  }
  // The layout (colour) most frames agree on, weighted by confidence.
  std::map<hw::PlateColour, double> by_colour;
  for (const auto& r : reads) by_colour[r.colour] += r.confidence;
  const auto colour = std::max_element(by_colour.begin(), by_colour.end(), [](auto& a, auto& b) {
                        return a.second < b.second;
                      })->first;
  // Frames of that layout vote; when some of them are sure on their own (>= review_below),
  // only those do: a frame the reader would not accept alone (motion, a passing shadow, a
  // cut through the plate's edge) must not veto sure frames that agree, yet sure frames that
  // disagree still lower the winner's confidence below.
  std::vector<const PlateRead*> voters;
  bool any_sure = false;
  for (const auto& r : reads)
    any_sure = any_sure || (r.colour == colour && r.confidence >= config_.review_below);
  for (const auto& r : reads)
    if (r.colour == colour && (!any_sure || r.confidence >= config_.review_below))
      voters.push_back(&r);
  const PlateRead* sharpest = *std::max_element(
      voters.begin(), voters.end(), [](auto* a, auto* b) { return a->confidence < b->confidence; });
  result = *sharpest;
  result.candidate.clear();
  result.char_confidence.clear();
  const std::size_t n = sharpest->char_confidence.size();
  for (std::size_t i = 0; i < n; ++i) {
    std::map<std::string, double> votes;  // character -> summed confidence
    for (const auto* r : voters) {
      const auto chars = hw::split_utf8(r->candidate);
      if (chars.size() == n) votes[chars[i]] += r->char_confidence[i];
    }
    const auto win = std::max_element(votes.begin(), votes.end(),
                                      [](auto& a, auto& b) { return a.second < b.second; });
    result.candidate += win->first;
    // Mean confidence of the winner over all voters: disagreement lowers it.
    result.char_confidence.push_back(win->second / static_cast<double>(voters.size()));
  }
  result.confidence =
      *std::min_element(result.char_confidence.begin(), result.char_confidence.end());
  result.frames_read = static_cast<int>(voters.size());
  // Two plates over the pass: one frame saw two sure plates, or frames read surely plates
  // that differ in two or more characters (one character is a misread, voted above). The
  // pair read surely is named (the voted candidate may mix them).
  std::vector<const PlateRead*> sure;
  result.other_plate.clear();
  result.other_confidence = 0;
  for (const auto& r : reads) {
    if (!r.other_plate.empty() && result.other_plate.empty()) {  // two places in one frame
      result.candidate = r.candidate;
      result.other_plate = r.other_plate;
      result.other_confidence = r.other_confidence;
    }
    if (r.confidence >= config_.review_below) sure.push_back(&r);
  }
  for (std::size_t i = 0; i < sure.size() && result.other_plate.empty(); ++i)
    for (std::size_t j = i + 1; j < sure.size() && result.other_plate.empty(); ++j)
      if (char_differences(sure[i]->candidate, sure[j]->candidate) >= 2) {
        result.candidate = sure[i]->candidate;
        result.other_plate = sure[j]->candidate;
        result.other_confidence = sure[j]->confidence;
      }
  decide(result, options);
  return result;
}

}  // namespace wim::edge::anpr
