// SPDX-License-Identifier: Apache-2.0
// Plate localisation: plates are saturated blue, yellow or green rectangles of known aspect;
// at night under infrared they are the brightest rectangle (retroreflective sheeting).
#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "wim/edge/anpr/plate_reader.hpp"

namespace wim::edge::anpr {
namespace {

constexpr double kScale = 0.5;  // localise on half resolution: 4× fewer pixels
// [0, 255] |horizontal gradient| (Sobel 3x3, half resolution) of a character stroke's edge
constexpr double kTextEdgeFloor = 60;
// [-] share of a text region's box in one plate colour for it to be a plate's
constexpr double kTextPlateShare = 0.25;
// [0, 255] mean |B - G| + |G - R| (5x5 blur) under which an image has no colour (infrared)
constexpr double kGreyChroma = 4.0;

// Green plates fade to pale green at the top, which glare or the colour mask can lose: the
// mask then holds only the lower part. Raise the top edge along the bottom edge's normal to
// the plate's aspect (480 x 140 mm); the dark-green bottom edge is the reliable one.
void extend_green_top(cv::Point2f& tl, cv::Point2f& tr, const cv::Point2f& br,
                      const cv::Point2f& bl) {
  constexpr double kAspect = 480.0 / 140.0;
  const cv::Point2f bottom = br - bl;
  const double w = std::hypot(bottom.x, bottom.y);
  if (w < 1) return;
  const double h = (cv::norm(tl - bl) + cv::norm(tr - br)) / 2;
  const double want = w / kAspect;
  if (h >= want * 0.93) return;
  const cv::Point2f up(static_cast<float>(bottom.y / w), static_cast<float>(-bottom.x / w));
  tl = bl + up * static_cast<float>(want);
  tr = br + up * static_cast<float>(want);
}

void collect(const cv::Mat& mask, bool mono, std::vector<hw::PlateColour> hint,
             std::vector<PlateCandidate>& out) {
  const bool green = !mono && hint.size() == 1 && hint[0] == hw::PlateColour::green;
  cv::Mat m;
  const int kw = std::max(9, mask.cols / 64);
  cv::morphologyEx(mask, m, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, {kw, 3}));
  cv::morphologyEx(m, m, cv::MORPH_OPEN, cv::getStructuringElement(cv::MORPH_RECT, {3, 3}));
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(m, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  for (const auto& c : contours) {
    const cv::RotatedRect rr = cv::minAreaRect(c);
    double w = rr.size.width, h = rr.size.height;
    if (w < h) std::swap(w, h);
    if (h < 8 || w < 30 || w > mask.cols * 0.6) continue;
    const double aspect = w / h;
    if (aspect < 1.5 || aspect > (green ? 9.0 : 5.5)) continue;
    const double fill = cv::contourArea(c) / (w * h);
    if (fill < 0.55) continue;
    std::vector<cv::Point> hull;
    cv::convexHull(c, hull);
    cv::Point2f tl = hull[0], tr = hull[0], br = hull[0], bl = hull[0];
    for (const auto& p : hull) {
      if (p.x + p.y < tl.x + tl.y) tl = p;
      if (p.x + p.y > br.x + br.y) br = p;
      if (p.x - p.y > tr.x - tr.y) tr = p;
      if (p.x - p.y < bl.x - bl.y) bl = p;
    }
    if (green) extend_green_top(tl, tr, br, bl);
    PlateCandidate pc;
    const float s = static_cast<float>(1.0 / kScale);
    // pixel centres: the far edges lie one pixel further out
    pc.corners = {tl * s, (tr + cv::Point2f(1, 0)) * s, (br + cv::Point2f(1, 1)) * s,
                  (bl + cv::Point2f(0, 1)) * s};
    pc.mono = mono;
    pc.area_px = w * h / (kScale * kScale);
    const bool two_rows = !green && aspect < 2.6;
    for (auto l : hint) {
      if ((l == hw::PlateColour::yellow_double) == two_rows) pc.layouts.push_back(l);
    }
    if (!pc.layouts.empty()) out.push_back(pc);
  }
}

// The brightest and darkest channel of every pixel.
void channel_range(const cv::Mat& small, cv::Mat& hi, cv::Mat& lo) {
  cv::Mat ch[3];
  cv::split(small, ch);
  cv::max(ch[0], ch[1], hi);
  cv::max(hi, ch[2], hi);
  cv::min(ch[0], ch[1], lo);
  cv::min(lo, ch[2], lo);
}

// Dusk: the plate's paint is all there but dark, under the masks' brightness floors. Frames
// whose bright end (99th percentile of the brightest channel) is far below day level are
// scaled up so that it reaches it; day frames (bright end >= 120) are left as they are.
void normalise_brightness(cv::Mat& small) {
  cv::Mat hi, lo, hist;
  channel_range(small, hi, lo);
  const int channels[] = {0};
  const int bins[] = {256};
  const float range[] = {0, 256};
  const float* ranges[] = {range};
  cv::calcHist(&hi, 1, channels, cv::Mat(), hist, 1, bins, ranges);
  double seen = 0;
  int p99 = 255;
  for (int i = 0; i < 256; ++i) {
    seen += hist.at<float>(i);
    if (seen >= 0.99 * static_cast<double>(hi.total())) {
      p99 = i;
      break;
    }
  }
  if (p99 >= 120) return;
  small.convertTo(small, -1, std::min(6.0, 200.0 / std::max(p99, 1)), 0);
}

// Hue in [h_lo, h_hi] with at least `min_chroma` between the brightest and darkest channel.
// Glare adds white light: it raises every channel alike, which leaves hue and chroma (max -
// min) as they were but drives HSV saturation ((max - min) / max) down below the masks' floor.
cv::Mat chroma_mask(const cv::Mat& hue, const cv::Mat& chroma, int h_lo, int h_hi, int min_chroma) {
  cv::Mat mask;
  cv::inRange(hue, h_lo, h_hi, mask);
  mask.setTo(0, chroma < min_chroma);
  return mask;
}

// Plate paint of each colour, at a relaxed saturation floor: real plates are often faded or
// white-balanced towards grey.
void paint_masks(const cv::Mat& bgr, cv::Mat& blue, cv::Mat& yellow, cv::Mat& green) {
  cv::Mat hsv;
  cv::cvtColor(bgr, hsv, cv::COLOR_BGR2HSV);
  cv::inRange(hsv, cv::Scalar(95, 40, 30), cv::Scalar(135, 255, 255), blue);
  cv::inRange(hsv, cv::Scalar(10, 40, 40), cv::Scalar(35, 255, 255), yellow);
  cv::inRange(hsv, cv::Scalar(36, 30, 40), cv::Scalar(90, 255, 255), green);
}

// Two candidates with (nearly) the same quad and layouts: reading both is wasted time.
bool same_quad(const PlateCandidate& a, const PlateCandidate& b) {
  if (a.layouts != b.layouts) return false;
  const double w = cv::norm(a.corners[1] - a.corners[0]);
  for (std::size_t i = 0; i < 4; ++i)
    if (cv::norm(a.corners[i] - b.corners[i]) > 0.03 * w) return false;
  return true;
}

}  // namespace

bool is_grey(const cv::Mat& bgr) {
  // channels differ by sensor noise only, which a blur removes
  cv::Mat blurred, ch[3], d1, d2;
  cv::blur(bgr, blurred, {5, 5});
  cv::split(blurred, ch);
  cv::absdiff(ch[0], ch[1], d1);
  cv::absdiff(ch[1], ch[2], d2);
  return cv::mean(d1)[0] + cv::mean(d2)[0] < kGreyChroma;
}

std::optional<hw::PlateColour> plate_paint(const cv::Mat& close_up) {
  if (is_grey(close_up)) return std::nullopt;
  cv::Mat blue, yellow, green;
  paint_masks(close_up, blue, yellow, green);
  const std::array<std::pair<hw::PlateColour, int>, 3> share = {
      {{hw::PlateColour::blue, cv::countNonZero(blue)},
       {hw::PlateColour::yellow, cv::countNonZero(yellow)},
       {hw::PlateColour::green, cv::countNonZero(green)}}};
  const auto& [colour, most] = *std::max_element(
      share.begin(), share.end(), [](auto& a, auto& b) { return a.second < b.second; });
  if (most < kTextPlateShare * static_cast<double>(close_up.total())) return std::nullopt;
  return colour;
}

double paint_share(const cv::Mat& close_up, hw::PlateColour paint) {
  if (close_up.empty()) return 0;
  cv::Mat blue, yellow, green;
  paint_masks(close_up, blue, yellow, green);
  const cv::Mat& mask = paint == hw::PlateColour::blue    ? blue
                        : paint == hw::PlateColour::green ? green
                                                          : yellow;
  return cv::countNonZero(mask) / static_cast<double>(mask.total());
}

std::vector<PlateCandidate> find_plate_candidates(const cv::Mat& bgr, int max_candidates) {
  cv::Mat small, hsv;
  cv::resize(bgr, small, {}, kScale, kScale, cv::INTER_AREA);
  std::vector<PlateCandidate> out;
  if (is_grey(small)) {  // infrared night frame: no colour, the plate is the bright rectangle
    // Both cuts: Otsu's (splits plate from road), and half-way to white (Otsu split elsewhere,
    // e.g. headlights or a bright body merged with the plate). Keeping both finds more plates;
    // the reader then takes the surest reading, and the cross-check guards against wrong cuts.
    cv::Mat gray, mask;
    cv::cvtColor(small, gray, cv::COLOR_BGR2GRAY);
    const double otsu = cv::threshold(gray, mask, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
    const std::vector<hw::PlateColour> mono_layouts = {
        hw::PlateColour::blue, hw::PlateColour::green, hw::PlateColour::yellow_double};
    collect(mask, true, mono_layouts, out);
    cv::threshold(gray, mask, (otsu + 255) / 2, 255, cv::THRESH_BINARY);
    collect(mask, true, mono_layouts, out);
  } else {
    normalise_brightness(small);
    cv::cvtColor(small, hsv, cv::COLOR_BGR2HSV);
    cv::Mat blue, yellow, green;
    cv::inRange(hsv, cv::Scalar(100, 90, 35), cv::Scalar(125, 255, 255), blue);
    cv::inRange(hsv, cv::Scalar(12, 90, 50), cv::Scalar(35, 255, 255), yellow);
    cv::inRange(hsv, cv::Scalar(36, 40, 40), cv::Scalar(85, 255, 255), green);
    collect(blue, false, {hw::PlateColour::blue}, out);
    collect(yellow, false, {hw::PlateColour::yellow, hw::PlateColour::yellow_double}, out);
    collect(green, false, {hw::PlateColour::green}, out);
    // Green again from its strongly saturated pixels only (the plate's lower, deeper green;
    // the top is restored from the aspect): a greenish or olive body, or a glare halo, merged
    // with the plate grows the quad above, and its characters are then cut wrongly.
    cv::Mat deep_green;
    cv::inRange(hsv, cv::Scalar(36, 100, 40), cv::Scalar(85, 255, 255), deep_green);
    collect(deep_green, false, {hw::PlateColour::green}, out);
    // Glare: hue and chroma survive added white light where saturation does not. Quads
    // already found from the masks above are not read twice.
    std::vector<PlateCandidate> glare;
    cv::Mat hi, lo, chroma, hue;
    channel_range(small, hi, lo);
    cv::subtract(hi, lo, chroma);
    cv::extractChannel(hsv, hue, 0);
    collect(chroma_mask(hue, chroma, 100, 125, 75), false, {hw::PlateColour::blue}, glare);
    collect(chroma_mask(hue, chroma, 12, 35, 60), false,
            {hw::PlateColour::yellow, hw::PlateColour::yellow_double}, glare);
    collect(chroma_mask(hue, chroma, 36, 85, 60), false, {hw::PlateColour::green}, glare);
    for (const auto& g : glare)
      if (std::none_of(out.begin(), out.end(), [&g](auto& c) { return same_quad(c, g); }))
        out.push_back(g);
    if (out.empty()) {  // a bluish, yellowish or greenish body merged with the plate: only the most
                        // saturated pixels (the plate's paint)
      cv::inRange(hsv, cv::Scalar(100, 170, 35), cv::Scalar(125, 255, 255), blue);
      cv::inRange(hsv, cv::Scalar(12, 170, 50), cv::Scalar(35, 255, 255), yellow);
      collect(blue, false, {hw::PlateColour::blue}, out);
      collect(yellow, false, {hw::PlateColour::yellow, hw::PlateColour::yellow_double}, out);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const PlateCandidate& a, const PlateCandidate& b) { return a.area_px > b.area_px; });
  if (out.size() > static_cast<std::size_t>(max_candidates))
    out.resize(static_cast<std::size_t>(max_candidates));
  return out;
}

std::vector<PlateCandidate> find_text_candidates(const cv::Mat& bgr, int max_candidates) {
  cv::Mat small, gray, gx, edges;
  cv::resize(bgr, small, {}, kScale, kScale, cv::INTER_AREA);
  cv::cvtColor(small, gray, cv::COLOR_BGR2GRAY);
  // Characters are dense vertical strokes: |d/dx| over a floor, closed along the row into
  // one blob per text line, opened to drop thin lines (edges of bodies, lane marks).
  cv::Sobel(gray, gx, CV_16S, 1, 0, 3);
  cv::convertScaleAbs(gx, edges);
  cv::threshold(edges, edges, kTextEdgeFloor, 255, cv::THRESH_BINARY);
  cv::morphologyEx(edges, edges, cv::MORPH_CLOSE,
                   cv::getStructuringElement(cv::MORPH_RECT, {17, 3}));
  cv::morphologyEx(edges, edges, cv::MORPH_OPEN, cv::getStructuringElement(cv::MORPH_RECT, {5, 5}));
  // The plate's own paint around the characters names its colour.
  cv::Mat blue, yellow, green;
  paint_masks(small, blue, yellow, green);
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(edges, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  std::vector<PlateCandidate> out;
  for (const auto& c : contours) {
    cv::RotatedRect rr = cv::minAreaRect(c);
    if (rr.size.width < rr.size.height) {
      std::swap(rr.size.width, rr.size.height);
      rr.angle += 90;
    }
    const double w = rr.size.width, h = rr.size.height;
    if (h < 7 || w < 30 || w > small.cols * 0.6 || std::abs(std::remainder(rr.angle, 180.0)) > 25)
      continue;
    if (w / h < 1.8 || w / h > 7.5 || cv::contourArea(c) / (w * h) < 0.5) continue;
    // The characters fill ~90 % of a plate's width and ~65 % of its height: the plate's quad.
    rr.size.width = static_cast<float>(w * 1.10);
    rr.size.height = static_cast<float>(h * 1.45);
    const cv::Rect box = rr.boundingRect() & cv::Rect(0, 0, small.cols, small.rows);
    if (box.empty()) continue;
    const double area = box.area();
    const std::array<std::pair<hw::PlateColour, double>, 3> share = {
        {{hw::PlateColour::blue, cv::countNonZero(blue(box)) / area},
         {hw::PlateColour::yellow, cv::countNonZero(yellow(box)) / area},
         {hw::PlateColour::green, cv::countNonZero(green(box)) / area}}};
    const auto& [colour, most] = *std::max_element(
        share.begin(), share.end(), [](auto& a, auto& b) { return a.second < b.second; });
    if (most < kTextPlateShare) continue;  // no plate paint around the text (a sign, a body)
    cv::Point2f p[4];
    rr.points(p);  // bl, tl, tr, br for an upright rectangle
    std::array<cv::Point2f, 4> q = {p[1], p[2], p[3], p[0]};
    // order tl, tr, br, bl by position (points() order depends on the angle)
    std::sort(q.begin(), q.end(), [](auto& a, auto& b) { return a.y < b.y; });
    if (q[0].x > q[1].x) std::swap(q[0], q[1]);
    if (q[2].x < q[3].x) std::swap(q[2], q[3]);
    PlateCandidate pc;
    const auto s = static_cast<float>(1.0 / kScale);
    pc.corners = {q[0] * s, q[1] * s, q[2] * s, q[3] * s};
    pc.area_px = rr.size.area() / (kScale * kScale);
    if (colour == hw::PlateColour::yellow)
      pc.layouts = {w / h < 2.6 ? hw::PlateColour::yellow_double : hw::PlateColour::yellow};
    else
      pc.layouts = {colour};
    out.push_back(pc);
  }
  std::sort(out.begin(), out.end(),
            [](const PlateCandidate& a, const PlateCandidate& b) { return a.area_px > b.area_px; });
  if (out.size() > static_cast<std::size_t>(max_candidates))
    out.resize(static_cast<std::size_t>(max_candidates));
  return out;
}

}  // namespace wim::edge::anpr
