// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>

#include <opencv2/imgproc.hpp>

#include "wim/common/error.hpp"
#include "wim/edge/anpr/char_classifier.hpp"
#include "wim/edge/anpr/plate_chars.hpp"
#include "wim/edge/anpr/plate_reader.hpp"

namespace wim::edge::anpr {

struct PlateReader::Model {
  CharClassifier province, alnum;
};

namespace {

// Light characters on a darker plate (blue), or dark on light (yellow, green)?
bool light_text(const cv::Mat& canonical) {
  cv::Mat gray, bin;
  cv::cvtColor(canonical, gray, cv::COLOR_BGR2GRAY);
  const cv::Mat band = gray(cv::Rect(0, gray.rows / 5, gray.cols, gray.rows * 3 / 5));
  cv::threshold(band, bin, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
  return cv::countNonZero(bin) < static_cast<int>(bin.total() / 2);  // ink is the minority
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

PlateReader::~PlateReader() = default;

PlateRead PlateReader::read_candidate(const cv::Mat& bgr, const PlateCandidate& c,
                                      hw::PlateColour layout) const {
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
  const cv::Point2f centre = (c.corners[0] + c.corners[1] + c.corners[2] + c.corners[3]) * 0.25f;
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

void PlateReader::decide(PlateRead& r) const {
  r.text.clear();
  if (!r.found) {
    r.needs_review = true;
    r.review_reason = "no plate found";
  } else if (!r.other_plate.empty()) {
    r.needs_review = true;
    r.review_reason = "two plates read surely, " + r.candidate + " and " + r.other_plate +
                      ": which vehicle was weighed is for a human to decide";
  } else if (r.confidence < config_.review_below) {
    r.needs_review = true;
    char buf[96];
    std::snprintf(buf, sizeof buf, "low confidence %.2f (< %.2f)", r.confidence,
                  config_.review_below);
    r.review_reason = buf;
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

cv::Point2f centre_of(const std::array<cv::Point2f, 4>& q) {
  return (q[0] + q[1] + q[2] + q[3]) * 0.25f;
}

// Two candidates are the same plate when either's centre lies in the other's box.
bool same_place(const PlateRead& a, const PlateRead& b) {
  return a.box.contains(centre_of(b.corners)) || b.box.contains(centre_of(a.corners));
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
  // The best layout's reading of each candidate, in the localiser's order.
  std::vector<std::pair<PlateRead, PlateCandidate>> reads;
  if (!roi.empty()) {
    const cv::Point2f offset(static_cast<float>(search.x), static_cast<float>(search.y));
    for (auto c : find_plate_candidates(colour(search), config_.max_candidates)) {
      for (auto& p : c.corners) p += offset;
      if (!roi.contains(centre_of(c.corners))) continue;
      bool light_characters = false;
      std::optional<PlateRead> best_here;
      for (auto layout : c.layouts) {
        // Infrared: light characters on a darker field are a blue plate's (green and yellow
        // plates have dark characters), so the green layout is not read. Reading it anyway
        // let a 8-character reading of a blue plate win on confidence (then sent to a human).
        if (c.mono && layout == hw::PlateColour::green && light_characters) continue;
        // Not retried with grown/shrunk quads: taking the best of several tries raised the
        // confidence of a wrong read above the review threshold in the benchmark.
        PlateRead r = read_candidate(colour, c, layout);
        light_characters = light_characters || (c.mono && r.colour == hw::PlateColour::blue);
        if (!best_here || r.confidence > best_here->confidence) best_here = std::move(r);
      }
      if (best_here) reads.emplace_back(std::move(*best_here), c);
    }
  }
  PlateRead best;
  std::size_t winner = reads.size();
  for (std::size_t i = 0; i < reads.size(); ++i)
    if (!best.found || reads[i].first.confidence > best.confidence) {
      best = reads[i].first;
      winner = i;
    }
  if (best.found) {
    cross_check(colour, reads[winner].second, best);
    // Two plates: another candidate, elsewhere, also read surely and differently (the next
    // lane's truck, a close follower). Which one was weighed is for a human to say. (An
    // unsure winner goes to a human anyway.)
    for (std::size_t i = 0;
         i < reads.size() && best.other_plate.empty() && best.confidence >= config_.review_below;
         ++i) {
      auto& [r, c] = reads[i];
      if (i == winner || r.confidence < config_.review_below || same_place(r, best)) continue;
      cross_check(colour, c, r);
      if (r.confidence >= config_.review_below && r.candidate != best.candidate)
        best.other_plate = r.candidate;
    }
  }
  decide(best);
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
  std::vector<std::string> sure;
  result.other_plate.clear();
  for (const auto& r : reads) {
    if (!r.other_plate.empty() && result.other_plate.empty()) {  // two places in one frame
      result.candidate = r.candidate;
      result.other_plate = r.other_plate;
    }
    if (r.confidence >= config_.review_below) sure.push_back(r.candidate);
  }
  for (std::size_t i = 0; i < sure.size() && result.other_plate.empty(); ++i)
    for (std::size_t j = i + 1; j < sure.size() && result.other_plate.empty(); ++j)
      if (char_differences(sure[i], sure[j]) >= 2) {
        result.candidate = sure[i];
        result.other_plate = sure[j];
      }
  decide(result);
  return result;
}

}  // namespace wim::edge::anpr
