// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <opencv2/freetype.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "wim/common/crypto.hpp"
#include "wim/common/log.hpp"
#include "wim/edge/anpr/evidence.hpp"

namespace wim::edge::anpr {
namespace {

Attachment make(std::string name, std::string bytes) {
  Attachment a{std::move(name), std::move(bytes), {}};
  a.sha256_hex = crypto::sha256_hex(a.bytes);
  return a;
}

std::string encode(const cv::Mat& img, int quality) {
  std::vector<uchar> buf;
  cv::imencode(".jpg", img, buf, {cv::IMWRITE_JPEG_QUALITY, quality});
  return {buf.begin(), buf.end()};
}

bool ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c & 0x80) == 0; });
}

// The caption font: Debian's WenQuanYi Zen Hei (fonts-wqy-zenhei, also the renderer's
// province font) draws the plate's Chinese province character. One per thread: FreeType
// state is not thread-safe and stations of run-many build evidence concurrently. Null when
// the font cannot be loaded (then ASCII lines are drawn with OpenCV's Hershey font).
cv::freetype::FreeType2* caption_font() {
  thread_local cv::Ptr<cv::freetype::FreeType2> font;
  thread_local bool tried = false;
  if (!tried) {
    tried = true;
    const std::string path = hw::PlateFonts{}.province_font;
    try {
      if (!std::filesystem::is_regular_file(path)) throw std::runtime_error("missing");
      font = cv::freetype::createFreeType2();
      font->loadFontData(path, 0);
    } catch (const std::exception& e) {
      font.release();
      log::warning("anpr", "caption font '" + path + "' cannot be loaded (" + e.what() +
                               "): the plate text is left out of overview.jpg's caption");
    }
  }
  return font.get();
}

}  // namespace

record::Plate to_record_plate(const PlateRead& plate) {
  record::Plate p;
  p.needs_human_review = plate.needs_review;
  p.text = plate.needs_review ? std::string() : plate.text;
  p.confidence = plate.found ? plate.confidence : 0.0;
  p.colour = !plate.found ? "unknown"
             : plate.colour == hw::PlateColour::yellow_double
                 ? "yellow"
                 : std::string(hw::to_string(plate.colour));
  return p;
}

std::map<std::string, std::string> attachment_map(const PassEvidence& evidence) {
  std::map<std::string, std::string> m;
  for (const auto& a : evidence.attachments) m[a.name] = a.bytes;
  return m;
}

std::vector<std::string> caption_lines(const PassFacts& f, const PlateRead& plate) {
  char buf[160];
  std::vector<std::string> lines;
  std::snprintf(buf, sizeof buf, "%s  lane %d  %s  clock %s", f.station_id.c_str(), f.lane,
                time::format_utc_ms(f.utc_us).c_str(),
                std::string(time::to_string(f.clock_sync)).c_str());
  lines.emplace_back(buf);
  std::snprintf(buf, sizeof buf, "gross %.0f kg  limit %.0f kg  overload %+.1f %%", f.gross_kg,
                f.limit_kg, f.overload_ratio * 100.0);
  lines.emplace_back(buf);
  const std::string colour(hw::to_string(plate.colour));
  if (!plate.found)
    lines.emplace_back("plate not found: to be read by a human");
  else if (plate.needs_review)
    lines.emplace_back("plate " + colour + ", to be read by a human: " + plate.review_reason);
  else {
    std::snprintf(buf, sizeof buf, ", confidence %.2f, read automatically", plate.confidence);
    lines.emplace_back("plate " + plate.text + " " + colour + buf);
  }
  return lines;
}

PassEvidence build_pass_evidence(const PlateReader& reader, const std::vector<hw::Frame>& frames,
                                 const PassFacts& facts, const ReadOptions& read) {
  PassEvidence ev;
  std::vector<cv::Mat> usable;
  std::vector<std::size_t> usable_index;
  int n = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto& f = frames[i];
    if (f.image.empty() || f.image.depth() != CV_8U) {
      log::warning("anpr", "frame " + std::to_string(f.seq) + " has no usable pixels, skipped");
      continue;
    }
    char name[32];
    std::snprintf(name, sizeof name, "frame-%02d.jpg", ++n);
    ev.attachments.push_back(make(name, f.jpeg.empty() ? encode(f.image, 95) : f.jpeg));
    usable.push_back(f.image);
    usable_index.push_back(i);
  }
  ev.plate = reader.read_pass(usable, read);
  if (usable.empty()) return ev;
  // The captioned copy shows the frame the plate was read from (else the middle one), with
  // the plate boxed and the lane's region outlined: which vehicle in view was weighed.
  const bool own_frame = ev.plate.found && ev.plate.frame_index >= 0 &&
                         static_cast<std::size_t>(ev.plate.frame_index) < usable.size();
  cv::Mat overview =
      usable[own_frame ? static_cast<std::size_t>(ev.plate.frame_index) : usable.size() / 2]
          .clone();
  if (overview.channels() == 1) cv::cvtColor(overview, overview, cv::COLOR_GRAY2BGR);
  if (read.roi) cv::rectangle(overview, read.roi->to_pixels(overview.size()), {0, 220, 255}, 2);
  if (ev.plate.found) cv::rectangle(overview, ev.plate.box, cv::Scalar(0, 0, 255), 3);
  const auto lines = caption_lines(facts, ev.plate);
  const double scale = overview.cols / 1600.0;
  const int line_h = std::max(14, static_cast<int>(44 * scale));
  const int band = line_h * static_cast<int>(lines.size()) + line_h / 2;
  cv::Mat captioned(overview.rows + band, overview.cols, CV_8UC3, cv::Scalar(0, 0, 0));
  overview.copyTo(captioned(cv::Rect(0, 0, overview.cols, overview.rows)));
  auto* font = caption_font();
  for (std::size_t k = 0; k < lines.size(); ++k) {
    const cv::Point at{line_h / 2, overview.rows + line_h * static_cast<int>(k + 1)};
    if (font) {
      font->putText(captioned, lines[k], at, static_cast<int>(line_h * 0.8),
                    cv::Scalar(255, 255, 255), cv::FILLED, cv::LINE_AA, true);
    } else {
      // Hershey draws ASCII only: a line with the plate text says where the text is instead.
      const std::string text =
          ascii(lines[k]) ? lines[k] : "plate read automatically: text in the manifest";
      cv::putText(captioned, text, at, cv::FONT_HERSHEY_SIMPLEX, std::max(0.4, 1.1 * scale),
                  cv::Scalar(255, 255, 255), std::max(1, static_cast<int>(2 * scale)), cv::LINE_AA);
    }
  }
  ev.attachments.push_back(make("overview.jpg", encode(captioned, 92)));
  if (!ev.plate.close_up.empty()) {
    cv::Mat big;
    cv::resize(ev.plate.close_up, big, {}, 2, 2, cv::INTER_CUBIC);
    ev.attachments.push_back(make("plate.jpg", encode(big, 95)));
  }
  return ev;
}

}  // namespace wim::edge::anpr
