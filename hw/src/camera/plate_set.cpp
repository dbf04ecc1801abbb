// SPDX-License-Identifier: Apache-2.0
#include "wim/hw/plate_set.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "wim/common/error.hpp"

namespace wim::hw {
namespace {

double uniform(std::mt19937& rng, double a, double b) {
  return std::uniform_real_distribution<double>(a, b)(rng);
}

}  // namespace

Condition condition_from_string(std::string_view s) {
  for (auto c : kConditions)
    if (to_string(c) == s) return c;
  std::string names;
  for (auto c : kConditions) names += (names.empty() ? "" : ", ") + std::string(to_string(c));
  throw InputError("'" + std::string(s) + "' is not a condition (one of: " + names + ")");
}

std::vector<Condition> parse_conditions(std::string_view list) {
  std::vector<Condition> out;
  for (std::size_t at = 0; at <= list.size();) {
    const std::size_t end = std::min(list.find(',', at), list.size());
    out.push_back(condition_from_string(list.substr(at, end - at)));
    at = end + 1;
  }
  return out;
}

PlateFonts parse_plate_fonts(std::string_view list) {
  const auto comma = list.find(',');
  if (comma == std::string_view::npos)
    throw InputError("'" + std::string(list) + "' is not PROVINCE_FONT,ALNUM_FONT");
  PlateFonts fonts;
  fonts.province_font = std::string(list.substr(0, comma));
  fonts.alnum_font = std::string(list.substr(comma + 1));
  return fonts;
}

void stress_frame(cv::Mat& img, std::array<cv::Point2f, 4>& corners, Condition cond,
                  std::mt19937& rng) {
  const auto W = static_cast<float>(img.cols), H = static_cast<float>(img.rows);
  const float k = static_cast<float>(uniform(rng, 0.1, 0.22)) * H / 2;  // shorter side's loss
  const float shear = static_cast<float>(uniform(rng, -0.06, 0.06)) * H;
  const bool left = rng() % 2 == 0;
  const std::vector<cv::Point2f> src = {{0, 0}, {W, 0}, {W, H}, {0, H}};
  std::vector<cv::Point2f> dst = src;
  dst[left ? 0 : 1].y += k, dst[left ? 3 : 2].y -= k;
  dst[1].y += shear, dst[2].y += shear;
  const cv::Mat M = cv::getPerspectiveTransform(src, dst);
  cv::warpPerspective(img, img, M, img.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  std::vector<cv::Point2f> c(corners.begin(), corners.end()), moved;
  cv::perspectiveTransform(c, moved, M);
  std::copy(moved.begin(), moved.end(), corners.begin());
  const cv::Rect p = cv::boundingRect(moved) & cv::Rect(0, 0, img.cols, img.rows);
  cv::Mat noise(img.size(), CV_16SC3);
  cv::theRNG().state = rng();
  switch (cond) {
    case Condition::glare: {
      cv::Mat spot(img.size(), CV_32F, cv::Scalar(0));
      const cv::Point centre(p.x + static_cast<int>(p.width * uniform(rng, 0.1, 0.9)),
                             p.y + static_cast<int>(p.height * uniform(rng, 0.0, 1.0)));
      const double sigma = p.width * uniform(rng, 0.2, 0.4);
      cv::circle(spot, centre, 1, cv::Scalar(1), -1);
      cv::GaussianBlur(spot, spot, {0, 0}, sigma);
      double mx = 0;
      cv::minMaxLoc(spot, nullptr, &mx);
      spot *= uniform(rng, 120, 190) / std::max(1e-9, mx);
      cv::Mat add;
      cv::merge(std::vector<cv::Mat>{spot, spot, spot}, add);
      cv::Mat f;
      img.convertTo(f, CV_32FC3);
      f += add;
      f.convertTo(img, CV_8UC3);
      break;
    }
    case Condition::motion_blur: {
      const int len = static_cast<int>(uniform(rng, 12, 20));
      const double a = uniform(rng, 60, 120) * CV_PI / 180;
      cv::Mat kern(len * 2 + 1, len * 2 + 1, CV_32F, cv::Scalar(0));
      const cv::Point d(static_cast<int>(len / 2.0 * std::cos(a)),
                        static_cast<int>(len / 2.0 * std::sin(a)));
      cv::line(kern, cv::Point(len, len) - d, cv::Point(len, len) + d, cv::Scalar(1), 1);
      kern /= cv::sum(kern)[0];
      cv::filter2D(img, img, -1, kern);
      break;
    }
    case Condition::dusk:
      img.convertTo(img, -1, uniform(rng, 0.45, 0.65), 0);
      cv::randn(noise, 0, 4);
      cv::add(img, noise, img, cv::noArray(), CV_8UC3);
      break;
    case Condition::night_ir: {
      cv::Mat g;  // the bright plate loses a third of its lead over the dark scene
      img.convertTo(g, -1, uniform(rng, 0.55, 0.7), uniform(rng, 5, 15));
      img = g;
      cv::randn(noise, 0, 5);
      cv::add(img, noise, img, cv::noArray(), CV_8UC3);
      break;
    }
    case Condition::dirt:
      for (int i = 0; i < 6; ++i) {  // mud smears, half transparent, across the plate
        cv::Mat layer = img.clone();
        const cv::Point a(p.x + static_cast<int>(p.width * uniform(rng, 0, 1)),
                          p.y + static_cast<int>(p.height * uniform(rng, 0, 1)));
        const cv::Size axes(static_cast<int>(p.width * uniform(rng, 0.05, 0.15)),
                            static_cast<int>(p.height * uniform(rng, 0.1, 0.3)));
        cv::ellipse(layer, a, axes, uniform(rng, 0, 180), 0, 360, cv::Scalar(40, 60, 80), -1);
        cv::addWeighted(img, 0.45, layer, 0.55, 0, img);
      }
      break;
    case Condition::clear_day:
      break;
  }
}

PlateSetGenerator::PlateSetGenerator(std::uint32_t seed, bool stress, std::uint32_t stress_seed,
                                     const PlateFonts& fonts)
    : renderer_(fonts), rng_(seed), stress_rng_(stress_seed), stress_(stress) {}

Scene PlateSetGenerator::next(Condition cond, PlateColour colour) {
  const auto spec = renderer_.random_plate(rng_, colour);
  auto scene = renderer_.render_scene(spec, cond, rng_);
  if (stress_) stress_frame(scene.image, scene.corners, cond, stress_rng_);
  return scene;
}

Scene PlateSetGenerator::next_dense(Condition cond, PlateColour colour, std::mt19937& extra,
                                    int& lane) {
  const auto spec = renderer_.random_plate(rng_, colour);
  lane = static_cast<int>(extra() % 2) + 1;
  std::vector<VehicleInView> v(2);
  v[0].plate = spec;
  v[0].centre_x = lane == 1 ? 0.25 : 0.75;
  v[1].plate = renderer_.random_plate(extra);
  v[1].centre_x = 1.0 - v[0].centre_x;
  if (extra() % 2 == 0) {
    v.push_back(v[0]);
    v.back().plate = renderer_.random_plate(extra);
    v.back().follower = true;
  }
  auto scene = renderer_.render_traffic(v, cond, rng_);
  if (stress_) stress_frame(scene.image, scene.corners, cond, stress_rng_);
  return scene;
}

std::vector<PlannedFrame> bench_plan(const std::vector<Condition>& conditions,
                                     const std::vector<int>& counts) {
  std::vector<PlannedFrame> plan;
  for (std::size_t k = 0; k < conditions.size() && k < counts.size(); ++k)
    for (int i = 0; i < counts[k]; ++i)
      plan.push_back({conditions[k], kPlateColours[static_cast<std::size_t>(i) % 4]});
  return plan;
}

std::vector<int> spread_count(int total, std::size_t conditions) {
  std::vector<int> counts(conditions, 0);
  const int n = static_cast<int>(conditions);
  for (int k = 0; k < n; ++k) counts[static_cast<std::size_t>(k)] = total / n + (k < total % n);
  return counts;
}

std::string plate_truth_line(const PlateTruth& t) {
  return t.file + '\t' + std::string(to_string(t.colour)) + '\t' +
         std::string(to_string(t.condition)) + '\t' + t.text + '\n';
}

std::vector<PlateTruth> read_plate_truth(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path.string() + ": cannot read the truth file");
  std::vector<PlateTruth> out;
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    for (std::size_t at = 0; at <= line.size();) {
      const std::size_t end = std::min(line.find('\t', at), line.size());
      f.push_back(line.substr(at, end - at));
      at = end + 1;
    }
    const std::string where = path.string() + ":" + std::to_string(no) + ": ";
    if (f.size() != 4 || f[0].empty() || f[3].empty())
      throw InputError(where + "expected 4 tab-separated fields: file, colour, condition, text");
    try {
      split_utf8(f[3]);
      out.push_back({f[0], plate_colour_from_string(f[1]), condition_from_string(f[2]), f[3]});
    } catch (const InputError& e) {
      throw InputError(where + e.what());
    }
  }
  return out;
}

PlateSetWriter::PlateSetWriter(std::filesystem::path dir, const std::string& comment,
                               int jpeg_quality, int digits)
    : dir_(std::move(dir)), quality_(jpeg_quality), digits_(digits) {
  truth_.open(dir_ / "truth.tsv");
  if (!truth_) throw SystemError("cannot write " + (dir_ / "truth.tsv").string());
  truth_ << "# file\tcolour\tcondition\ttext (UTF-8); " << comment << "\n";
}

std::string PlateSetWriter::add(const Scene& scene, Condition cond) {
  char num[16];
  std::snprintf(num, sizeof num, "%0*d", digits_, ++n_);
  const std::string name = std::string(num) + "-" + std::string(to_string(scene.plate.colour)) +
                           "-" + std::string(to_string(cond)) + ".jpg";
  if (!cv::imwrite((dir_ / name).string(), scene.image, {cv::IMWRITE_JPEG_QUALITY, quality_}))
    throw SystemError("cannot write " + (dir_ / name).string());
  truth_ << plate_truth_line({name, scene.plate.colour, cond, scene.plate.text});
  return name;
}

void PlateSetWriter::finish() {
  if (!truth_.flush()) throw SystemError("cannot write " + (dir_ / "truth.tsv").string());
}

}  // namespace wim::hw
