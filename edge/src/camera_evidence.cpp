// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/camera_evidence.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <stdexcept>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/log.hpp"
#include "wim/common/recording.hpp"
#include "wim/edge/anpr/evidence.hpp"
#include "wim/edge/anpr_model_dir.hpp"
#include "wim/hw/camera_opencv.hpp"
#include "wim/hw/camera_sim.hpp"

namespace wim::edge {
namespace {

constexpr std::int64_t kTruthMatchUs = 1'500'000;  // [us] weighed vs simulated first-axle time
constexpr std::int64_t kSideBySideUs = 500'000;    // [us] other lanes' vehicles in view
constexpr std::int64_t kFollowerUs = 1'500'000;    // [us] a close follower in view

std::optional<hw::Condition> condition_from(std::string_view s) {
  for (auto c : hw::kConditions)
    if (hw::to_string(c) == s) return c;
  return std::nullopt;
}

void only_keys(const boost::json::object& o, const std::string& ctx,
               std::initializer_list<std::string_view> keys) {
  for (const auto& kv : o)
    if (std::find(keys.begin(), keys.end(), kv.key()) == keys.end())
      throw InputError(json::field_path(ctx, kv.key()) + ": unknown field");
}

// "lanes": {"1": {"roi": [x, y, w, h]}, …}: fractions of the frame when every value is
// <= 1, else whole pixels.
std::map<int, anpr::LaneRegion> parse_lane_regions(const boost::json::value& v,
                                                   const std::string& what) {
  std::map<int, anpr::LaneRegion> out;
  for (const auto& kv : json::as_object(v, what)) {
    const std::string key(kv.key());
    const std::string ctx = json::field_path(what, key);
    const bool digits =
        !key.empty() && key.size() <= 2 &&
        std::all_of(key.begin(), key.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    const int lane = digits ? std::stoi(key) : 0;
    if (lane < 1 || lane > 16) throw InputError(ctx + ": a lane is a number 1..16");
    const auto& lo = json::as_object(kv.value(), ctx);
    only_keys(lo, ctx, {"roi"});
    const auto& a = json::get_array(lo, "roi", ctx);
    const std::string rctx = json::field_path(ctx, "roi");
    auto bad = [&](const std::string& why) { throw InputError(rctx + ": " + why); };
    if (a.size() != 4)
      bad("must be [x, y, width, height] (4 numbers), not " + std::to_string(a.size()));
    double r[4];
    for (std::size_t i = 0; i < 4; ++i) {
      if (!a[i].is_number()) bad("must be [x, y, width, height] (4 numbers)");
      r[i] = a[i].to_number<double>();
      if (!std::isfinite(r[i]) || r[i] < 0) bad("x, y, width, height must be >= 0");
    }
    anpr::LaneRegion region;
    region.rect = cv::Rect2d(r[0], r[1], r[2], r[3]);
    region.in_pixels = std::any_of(r, r + 4, [](double x) { return x > 1; });
    if (region.in_pixels) {
      if (std::any_of(r, r + 4, [](double x) { return x != std::floor(x); }))
        bad("pixels must be whole numbers (or give all four as fractions 0..1 of the frame)");
      if (r[2] < 16 || r[3] < 16) bad("width and height must be >= 16 px");
    } else {
      if (r[2] <= 0 || r[3] <= 0) bad("width and height must be > 0");
      if (r[0] + r[2] > 1 + 1e-9 || r[1] + r[3] > 1 + 1e-9)
        bad("the region leaves the frame (x + width and y + height must be <= 1)");
    }
    out[lane] = region;
  }
  return out;
}

}  // namespace

std::shared_ptr<const anpr::PlateReader> make_plate_reader(const anpr::PlateReaderConfig& config,
                                                           const std::string& ocr_dir) {
  auto reader = ocr_dir.empty() ? std::make_shared<const anpr::PlateReader>(config)
                                : std::make_shared<const anpr::PlateReader>(config, ocr_dir);
  log::info("camera",
            "plate reader: model " + config.model_dir +
                (ocr_dir.empty() ? ", no OCR (character classifiers only)" : ", OCR " + ocr_dir));
  return reader;
}

CameraConfig parse_camera_config(const boost::json::value& section, const std::string& what,
                                 const std::filesystem::path& base_dir) {
  const auto& o = json::as_object(section, what);
  CameraConfig c;
  c.kind = json::get_string(o, "kind", what);
  auto bad = [&](std::string_view key, const std::string& why) {
    throw InputError(json::field_path(what, key) + ": " + why);
  };
  if (c.kind == "opencv") {
    only_keys(o, what,
              {"kind", "url", "lead_s", "lag_s", "distance_m", "max_frames", "model_dir", "ocr_dir",
               "review_below", "lanes"});
    c.url = json::get_string(o, "url", what);
    if (c.url.empty()) bad("url", "must name a device, stream, video file or image folder");
  } else if (c.kind == "sim") {
    only_keys(o, what,
              {"kind", "lead_s", "lag_s", "distance_m", "max_frames", "model_dir", "ocr_dir",
               "review_below", "condition", "seed", "fps", "fail_every", "lanes", "traffic",
               "view_lanes"});
    c.traffic = json::get_string(o, "traffic", what, "truth");
    if (c.traffic != "truth" && c.traffic != "dense")
      bad("traffic", "'" + c.traffic + "' is not \"truth\" or \"dense\"");
    c.view_lanes = static_cast<int>(json::get_int(o, "view_lanes", what, 2));
    if (c.view_lanes < 1 || c.view_lanes > 4) bad("view_lanes", "must be within 1..4");
    c.condition = json::get_string(o, "condition", what, "clear_day");
    if (c.condition != "mixed" && !condition_from(c.condition)) {
      std::string names;
      for (auto k : hw::kConditions) names += std::string(hw::to_string(k)) + "|";
      bad("condition", "'" + c.condition + "' is not one of " + names + "mixed");
    }
    const auto seed = json::get_int(o, "seed", what, 1);
    if (seed < 0 || seed > 0xffffffffLL) bad("seed", "must be within 0..4294967295");
    c.seed = static_cast<std::uint32_t>(seed);
    c.fps = json::get_number(o, "fps", what, 10);
    if (!(c.fps >= 1 && c.fps <= 60)) bad("fps", "must be within 1..60 frames per second");
    c.fail_every = static_cast<int>(json::get_int(o, "fail_every", what, 0));
    if (c.fail_every < 0) bad("fail_every", "must be 0 (never) or a positive count");
  } else {
    bad("kind", "'" + c.kind + "' is not \"opencv\" or \"sim\"");
  }
  c.lead_s = json::get_number(o, "lead_s", what, c.lead_s);
  c.lag_s = json::get_number(o, "lag_s", what, c.lag_s);
  if (!(c.lead_s >= 0 && c.lead_s <= 10)) bad("lead_s", "must be within 0..10 s");
  if (!(c.lag_s >= 0 && c.lag_s <= 10)) bad("lag_s", "must be within 0..10 s");
  if (c.lead_s + c.lag_s <= 0) bad("lag_s", "lead_s + lag_s must be > 0 (no frame window)");
  c.distance_m = json::get_number(o, "distance_m", what, 0);
  if (!(std::abs(c.distance_m) <= 200)) bad("distance_m", "must be within -200..200 m");
  const auto mf = json::get_int(o, "max_frames", what, 5);
  if (mf < 1 || mf > 32) bad("max_frames", "must be within 1..32");
  c.max_frames = static_cast<std::size_t>(mf);
  c.review_below = json::get_number(o, "review_below", what, c.review_below);
  if (!(c.review_below > 0 && c.review_below <= 1)) bad("review_below", "must be within (0, 1]");
  if (const auto* lanes = o.if_contains("lanes"))
    c.lanes = parse_lane_regions(*lanes, json::field_path(what, "lanes"));
  c.model_dir = json::get_string(o, "model_dir", what, default_anpr_model_dir());
  if (std::filesystem::path(c.model_dir).is_relative()) c.model_dir = base_dir / c.model_dir;
  if (o.contains("ocr_dir")) {
    c.ocr_dir = json::get_string(o, "ocr_dir", what);
    if (!c.ocr_dir.empty() && std::filesystem::path(c.ocr_dir).is_relative())
      c.ocr_dir = base_dir / c.ocr_dir;
    if (!c.ocr_dir.empty() && !has_anpr_ocr(c.ocr_dir))
      bad("ocr_dir", "'" + c.ocr_dir +
                         "' does not hold the plate reader's OCR (anpr_ocr.onnx and "
                         "anpr_ocr_keys.txt, readable); \"\" for none");
  } else {
    c.ocr_dir = default_anpr_ocr_dir();
  }
  if (c.kind == "opencv" && !c.url.empty() && c.url.find("://") == std::string::npos &&
      std::filesystem::path(c.url).is_relative() &&
      !std::all_of(c.url.begin(), c.url.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    c.url = (base_dir / c.url).string();
  return c;
}

// --- the camera twin ---

SimFrames::SimFrames(const CameraConfig& config) : config_(config) {}

void SimFrames::add_truth(const hw::SimTruth& t) {
  std::lock_guard lk(mutex_);
  vehicles_.push_back({t.lane, t.t_unix_us, t.plate_text, t.plate_colour});
  while (vehicles_.size() > 4096) vehicles_.pop_front();
}

void SimFrames::load_truth_jsonl(const std::filesystem::path& path, std::int64_t started_unix_us) {
  std::ifstream in(path);
  if (!in) throw InputError(path.string() + ": cannot be read");
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const std::string ctx = path.string() + ": line " + std::to_string(n);
    const auto v = json::parse(line, ctx);
    const auto& o = json::as_object(v, ctx);
    const auto& plate = json::as_object(json::require(o, "plate", ctx), ctx + ": plate");
    hw::SimTruth t;
    t.lane = static_cast<int>(json::get_int(o, "lane", ctx));
    t.t_us = json::get_int(o, "t_us", ctx);
    t.t_unix_us = started_unix_us + t.t_us;
    t.plate_text = json::get_string(plate, "text", ctx + ": plate");
    t.plate_colour = json::get_string(plate, "colour", ctx + ": plate");
    add_truth(t);
  }
}

std::vector<hw::Frame> SimFrames::frames_for(const record::Manifest& m, std::int64_t camera_utc_us,
                                             const hw::FrameWindow& window, std::string& problem) {
  std::optional<Vehicle> weighed;
  std::vector<hw::VehicleInView> others;
  std::uint64_t pass = 0;
  bool down = false, corrupt = false;
  {
    std::lock_guard lk(mutex_);
    pass = ++passes_;
    const Vehicle* best = nullptr;
    for (const auto& v : vehicles_) {
      const auto d = std::abs(v.t_unix_us - m.time_unix_us);
      if (v.lane == m.lane && d <= kTruthMatchUs &&
          (!best || d < std::abs(best->t_unix_us - m.time_unix_us)))
        best = &v;
    }
    if (best) {
      weighed = *best;
      others = others_in_view(*best, pass);
    }
    if (fail_passes_ > 0) --fail_passes_, down = true;
    if (corrupt_passes_ > 0) --corrupt_passes_, corrupt = true;
    if (config_.fail_every > 0 && pass % static_cast<std::uint64_t>(config_.fail_every) == 0)
      down = true;
  }
  hw::Condition cond = hw::Condition::clear_day;
  if (config_.condition == "mixed") {
    std::mt19937 pick(config_.seed + static_cast<std::uint32_t>(pass) * 7919u);
    cond = hw::kConditions[pick() % hw::kConditions.size()];
  } else {
    cond = *condition_from(config_.condition);
  }
  hw::SimCameraConfig sc;
  sc.frame_interval_us = static_cast<std::int64_t>(1e6 / config_.fps);
  sc.start_utc_us = camera_utc_us - window.lead_us;
  sc.condition = cond;
  sc.seed = config_.seed ^ static_cast<std::uint32_t>(pass * 2654435761u);
  hw::SimCamera cam(sc);
  if (weighed && (!others.empty() || !config_.lanes.empty())) {
    // A camera over several lanes: every vehicle at its lane's place in the frame.
    others.insert(others.begin(), in_view(*weighed, false));
    cam.set_traffic(std::move(others));
  } else if (weighed) {
    cam.set_vehicle(in_view(*weighed, false).plate);
  } else {
    cam.set_vehicle(std::nullopt);
  }
  const int n = static_cast<int>((window.lead_us + window.lag_us) / sc.frame_interval_us) + 1;
  if (down) cam.fail_next(n);
  if (corrupt) cam.corrupt_next(n);
  hw::FrameRing ring(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    if (auto f = cam.grab()) ring.push(std::move(*f));
  auto frames = ring.select(camera_utc_us, window);
  if (frames.empty())
    problem =
        cam.status().last_error.empty() ? "no frames around the pass" : cam.status().last_error;
  return frames;
}

hw::VehicleInView SimFrames::in_view(const Vehicle& v, bool follower) const {
  hw::VehicleInView out;
  out.plate.text = v.plate_text;
  // Goods vehicles' plates are yellow; the camera sees the front (single-row) plate.
  out.plate.colour = hw::plate_colour_from_string(v.plate_colour);
  out.follower = follower;
  if (const auto it = config_.lanes.find(v.lane); it != config_.lanes.end()) {
    // The twin renders 1920 px wide frames (SimCameraConfig); a pixel region is scaled.
    const cv::Rect2d r = it->second.in_pixels ? cv::Rect2d(it->second.rect.x / 1920, 0,
                                                           it->second.rect.width / 1920, 0)
                                              : it->second.rect;
    out.centre_x = r.x + r.width / 2;
    out.lane_width = r.width;
  } else {  // lanes side by side, lane 1 on the left
    const int n = std::max(config_.view_lanes, v.lane);
    out.centre_x = (v.lane - 0.5) / n;
    out.lane_width = 1.0 / n;
  }
  return out;
}

std::vector<hw::VehicleInView> SimFrames::others_in_view(const Vehicle& weighed,
                                                         std::uint64_t pass) const {
  std::vector<hw::VehicleInView> out;
  if (config_.traffic == "dense") {  // forced: the next lane's vehicle, often a follower too
    std::mt19937 rng(config_.seed + static_cast<std::uint32_t>(pass) * 104729u);
    hw::PlateRenderer plates;
    const int lanes = std::max(config_.view_lanes, 2);
    Vehicle next = weighed;
    next.lane = weighed.lane < lanes ? weighed.lane + 1 : weighed.lane - 1;
    out.push_back(in_view(next, false));
    out.back().plate = plates.random_plate(rng);
    if (rng() % 2 == 0) {
      out.push_back(in_view(weighed, true));
      out.back().plate = plates.random_plate(rng);
    }
    return out;
  }
  bool follower = false;
  for (const auto& v : vehicles_) {
    const auto dt = v.t_unix_us - weighed.t_unix_us;
    if (v.lane != weighed.lane && std::abs(dt) <= kSideBySideUs &&
        std::none_of(out.begin(), out.end(), [&](const auto& o) {
          return o.centre_x == in_view(v, false).centre_x && !o.follower;
        }))
      out.push_back(in_view(v, false));
    else if (v.lane == weighed.lane && dt > 0 && dt <= kFollowerUs && !follower)
      out.push_back(in_view(v, true)), follower = true;
  }
  return out;
}

// --- a real camera ---

LiveFrames::LiveFrames(std::unique_ptr<hw::FrameSource> source, std::size_t ring_frames)
    : source_(std::move(source)), describe_(source_->describe()), ring_(ring_frames) {
  thread_ = std::thread([this] {
    while (!stop_) {
      auto f = source_->grab();
      {
        std::lock_guard lk(status_mutex_);
        status_ = source_->status();
      }
      if (f) {
        newest_utc_us_ = f->utc_us;
        ring_.push(std::move(*f));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  });
}

LiveFrames::~LiveFrames() {
  stop_ = true;
  thread_.join();
}

std::vector<hw::Frame> LiveFrames::frames_for(const record::Manifest&, std::int64_t camera_utc_us,
                                              const hw::FrameWindow& window, std::string& problem) {
  // Wait (bounded) until the camera has delivered frames past the window's end.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::microseconds(window.lag_us) + std::chrono::seconds(2);
  while (newest_utc_us_ < camera_utc_us + window.lag_us &&
         std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lk(status_mutex_);
      if (!status_.connected && ring_.size() == 0 &&
          status_.open_failures + status_.read_failures > 0)
        break;  // never delivered and failing: do not hold up weighing
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto frames = ring_.select(camera_utc_us, window);
  if (frames.empty()) {
    std::lock_guard lk(status_mutex_);
    problem =
        status_.last_error.empty() ? describe_ + ": no frames around the pass" : status_.last_error;
  }
  return frames;
}

// --- evidence ---

CameraEvidence::CameraEvidence(CameraConfig config, std::string station_id,
                               std::unique_ptr<FrameProvider> frames)
    : config_(std::move(config)),
      station_id_(std::move(station_id)),
      frames_(std::move(frames)),
      reader_(make_plate_reader(anpr::PlateReaderConfig{config_.model_dir, config_.review_below},
                                config_.ocr_dir)) {}

CameraEvidence::CameraEvidence(CameraConfig config, std::string station_id,
                               std::unique_ptr<FrameProvider> frames,
                               std::shared_ptr<const anpr::PlateReader> reader)
    : config_(std::move(config)),
      station_id_(std::move(station_id)),
      frames_(std::move(frames)),
      reader_(std::move(reader)) {
  if (!reader_) throw std::invalid_argument("CameraEvidence: no plate reader");
}

std::shared_ptr<const anpr::PlateReader> SharedPlateReaders::get(
    const anpr::PlateReaderConfig& config, const std::string& ocr_dir) {
  std::lock_guard lk(mutex_);
  auto& reader = readers_[{config.model_dir, config.review_below, ocr_dir}];
  if (!reader) reader = make_plate_reader(config, ocr_dir);
  return reader;
}

std::size_t SharedPlateReaders::loaded() const {
  std::lock_guard lk(mutex_);
  return readers_.size();
}

VehicleEvidence CameraEvidence::evidence_for(const record::Manifest& m) {
  VehicleEvidence ev;
  const double speed_kmh = m.measurement ? m.measurement->speed_kmh : 0;
  std::int64_t camera_utc = m.time_unix_us;
  if (speed_kmh > 0)
    camera_utc = hw::camera_pass_time_us(m.time_unix_us, config_.distance_m, speed_kmh);
  hw::FrameWindow window;
  window.lead_us = static_cast<std::int64_t>(config_.lead_s * 1e6);
  window.lag_us = static_cast<std::int64_t>(config_.lag_s * 1e6);
  window.max_frames = config_.max_frames;
  std::string problem;
  std::vector<hw::Frame> frames;
  try {
    frames = frames_->frames_for(m, camera_utc, window, problem);
  } catch (const std::exception& e) {  // a camera fault never stops weighing
    frames.clear();
    problem = e.what();
  }
  anpr::PassEvidence pe;
  if (!frames.empty()) {
    anpr::PassFacts facts;
    facts.station_id = station_id_;
    facts.lane = m.lane;
    facts.utc_us = m.time_unix_us;
    facts.clock_sync = m.clock_sync;
    if (m.measurement) facts.gross_kg = m.measurement->gross_kg;
    if (m.legal) facts.limit_kg = m.legal->limit_kg, facts.overload_ratio = m.legal->overload_ratio;
    try {
      anpr::ReadOptions read;
      if (const auto it = config_.lanes.find(m.lane); it != config_.lanes.end())
        read.roi = it->second;
      else if (config_.road_lanes > 1)
        read.always_review = "lane " + std::to_string(m.lane) +
                             " has no camera.lanes region on a road of " +
                             std::to_string(config_.road_lanes) +
                             " lanes: the plate read may be another lane's vehicle's";
      pe = anpr::build_pass_evidence(*reader_, frames, facts, read);
    } catch (const std::exception& e) {
      problem = std::string("plate reader failed: ") + e.what();
      pe = {};
    }
    if (pe.attachments.empty() && problem.empty()) problem = "no usable frame around the pass";
  } else if (problem.empty()) {
    problem = "no frames around the pass";
  }
  auto event = [&](const char* type, boost::json::object detail) {
    record::Manifest e;
    e.kind = record::Kind::event;
    e.time_unix_us = m.time_unix_us;
    detail["camera"] = frames_->describe();
    detail["lane"] = m.lane;
    e.event = record::Event{type, std::move(detail)};
    events_.push_back(std::move(e));
  };
  if (pe.attachments.empty()) {  // camera fault: weighed all the same, a human reads the plate
    record::Plate p;
    p.colour = "unknown";
    p.needs_human_review = true;
    ev.plate = p;
    ev.camera_problem = "camera fault: " + problem;
    log::warning("camera", "lane " + std::to_string(m.lane) + " violation at " +
                               time::format_utc_us(m.time_unix_us) + ": " + ev.camera_problem);
    if (!faulty_) event("camera_fault", {{"problem", problem}});
    faulty_ = true;
    return ev;
  }
  if (faulty_) event("camera_recovered", {{"frames", static_cast<std::int64_t>(frames.size())}});
  faulty_ = false;
  ev.plate = anpr::to_record_plate(pe.plate);
  ev.attachments = anpr::attachment_map(pe);
  if (pe.plate.needs_review) {
    // Why a human reads it, in the packet beside the images: "two plates read surely, A and
    // B: …" (dense traffic), "low confidence …", "no plate found".
    std::string why = "lane " + std::to_string(m.lane) + ": " + pe.plate.review_reason + "\n";
    if (!pe.plate.candidate.empty())
      why += "reader's candidate (unconfirmed): " + pe.plate.candidate + "\n";
    if (!pe.plate.other_plate.empty()) {
      why += "other plate read surely: " + pe.plate.other_plate + "\n";
      log::info("camera", "lane " + std::to_string(m.lane) + " violation at " +
                              time::format_utc_us(m.time_unix_us) + ": " + pe.plate.review_reason);
    }
    ev.attachments[std::string(kPlateReviewAttachment)] = why;
  }
  return ev;
}

std::vector<record::Manifest> CameraEvidence::take_events() {
  std::vector<record::Manifest> out;
  out.swap(events_);
  return out;
}

std::optional<StationCamera> load_camera(const std::filesystem::path& station_json,
                                         SharedPlateReaders* shared) {
  const std::string file = station_json.string();
  const auto root = json::load_file(station_json);
  const auto& o = json::as_object(root, file);
  const auto* section = o.if_contains("camera");
  if (!section) return std::nullopt;
  const auto base = station_json.parent_path();
  auto cfg = parse_camera_config(*section, file + ": camera", base);
  const std::string station_id = json::get_string(o, "station_id", file);
  // One camera over several lanes without regions: the whole frame is read for every lane.
  std::set<int> lanes;
  if (const auto* ch = o.if_contains("channels"); ch && ch->is_array())
    for (const auto& c : ch->as_array())
      if (const auto* l = c.is_object() ? c.as_object().if_contains("lane") : nullptr;
          l && l->is_int64())
        lanes.insert(static_cast<int>(l->as_int64()));
  std::string without;
  for (int l : lanes)
    if (!cfg.lanes.count(l)) without += " " + std::to_string(l);
  if (lanes.size() > 1 && !without.empty())
    log::warning("camera", file + ": lanes" + without +
                               " have no camera.lanes region: the plates of their violations "
                               "all go to a human (in the whole frame the next lane's vehicle "
                               "may be the only plate read)");
  cfg.road_lanes = static_cast<int>(lanes.size());
  StationCamera sc;
  std::unique_ptr<FrameProvider> provider;
  if (cfg.kind == "sim") {
    auto sim = std::make_unique<SimFrames>(cfg);
    sc.sim = sim.get();
    SimFrames* twin = sim.get();
    sc.on_truth = [twin](const hw::SimTruth& t) { twin->add_truth(t); };
    // A replayed wim-sim recording: its truth.jsonl drives the twin.
    const auto* acq = o.if_contains("acquisition");
    const auto* acq_o = acq ? acq->if_object() : nullptr;
    const auto* src = acq_o ? acq_o->if_contains("source") : nullptr;
    const auto* rec = acq_o ? acq_o->if_contains("recording") : nullptr;
    if (src && src->is_string() && src->as_string() == "replay" && rec && rec->is_string()) {
      std::filesystem::path rec_path(std::string(rec->as_string()));
      if (rec_path.is_relative()) rec_path = base / rec_path;
      const auto truth = rec_path.parent_path() / "truth.jsonl";
      if (std::filesystem::exists(truth)) {
        const auto reader = recording::Reader::open(rec_path);
        const auto started = reader->header().started_unix_us;
        if (!started)
          throw InputError(rec_path.string() + ": no started_utc: the camera twin cannot place " +
                           truth.string() + " in time");
        sim->load_truth_jsonl(truth, *started);
      } else {
        log::warning("camera", "sim camera: no " + truth.string() +
                                   " beside the recording: frames show no plate");
      }
    }
    provider = std::move(sim);
  } else {
    hw::OpenCvCameraConfig oc;
    oc.uri = cfg.url;
    provider = std::make_unique<LiveFrames>(std::make_unique<hw::OpenCvCamera>(oc));
  }
  if (shared)
    sc.evidence = std::make_unique<CameraEvidence>(
        cfg, station_id, std::move(provider),
        shared->get(anpr::PlateReaderConfig{cfg.model_dir, cfg.review_below}, cfg.ocr_dir));
  else
    sc.evidence = std::make_unique<CameraEvidence>(cfg, station_id, std::move(provider));
  return sc;
}

}  // namespace wim::edge
