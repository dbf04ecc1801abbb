// SPDX-License-Identifier: Apache-2.0
// The station's camera (station.json "camera", CameraEvidence on StationWeigher): a
// station with the sim camera weighs a wim-sim recording with overloads; violations carry
// the plate the simulator's truth says, the original JPEGs (hashes in the manifest) and a
// verifiable packet; pass records carry nothing; a failing camera never stops weighing.
#include <catch2/catch.hpp>
#include <fstream>
#include <random>
#include <set>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "record.hpp"  // wim_sim
#include "station_test_util.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/packet.hpp"
#include "wim/edge/camera_evidence.hpp"
#include "wim/edge/outbox_sealer.hpp"
#include "wim/edge/station_weigher.hpp"

using namespace wim;

namespace {

struct Truth {
  std::int64_t t_unix_us;
  int lane;
  std::string plate;
  bool overloaded;
};

std::vector<Truth> read_truth(const std::filesystem::path& p, std::int64_t started_unix_us) {
  std::ifstream in(p);
  std::vector<Truth> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto o = boost::json::parse(line).as_object();
    out.push_back({started_unix_us + o.at("t_us").as_int64(),
                   static_cast<int>(o.at("lane").as_int64()),
                   std::string(o.at("plate").as_object().at("text").as_string()),
                   o.at("overloaded").as_bool()});
  }
  return out;
}

/// A wim-sim recording with overloads and its station.json (+ acquisition, calibration and,
/// if given, camera section).
struct Site {
  test::TempDir dir{"camera"};
  sim::SimOptions so;
  std::vector<Truth> truth;
  explicit Site(std::size_t vehicles, int lanes = 1) {
    so.seed = 11;
    so.site.lanes = lanes;
    if (lanes > 1) so.traffic.flow_veh_per_h = 2400;  // dense
    so.site.station_id = "G017";
    so.traffic.overload_share = 0.6;
    so.traffic.speed_sd_kmh = 4;
    so.traffic.accel_max_mps2 = 0.05;
    sim::record(so, vehicles, dir.path());
    truth = read_truth(dir / "truth.jsonl", so.started_unix_us);
  }
  void write_station(const boost::json::value* camera) {
    auto station = json::load_file(dir / "station.json").as_object();
    station["acquisition"] = {{"source", "replay"}, {"recording", "rec.csv"}, {"loop", false}};
    station["calibration"] = {{"id", "SIM-CAL-1"}};
    if (camera) station["camera"] = *camera;
    std::ofstream(dir / "station.json") << boost::json::serialize(station);
  }
};

struct Run {
  std::vector<packet::Packet> packets;
  crypto::SigningKey key = crypto::SigningKey::generate();
};

/// Weighs the site's recording with the station's camera (if any) into an outbox.
Run weigh_site(Site& site, edge::StationCamera* camera) {
  Run run;
  auto acq = edge::load_acquisition(site.dir / "station.json",
                                    camera ? camera->on_truth : hw::SimTruthCallback{});
  REQUIRE(acq);
  edge::OutboxOptions oo;
  oo.path = site.dir / "outbox.db";
  oo.station_id = "G017";
  oo.create_new_chain = true;
  std::filesystem::remove(oo.path);
  edge::Outbox outbox(oo);
  edge::OutboxSealer sealer(outbox, "G017", run.key, std::string(64, 'a'));
  edge::StationWeigher weigher(acq->station, *acq->source, sealer, acq->options);
  if (camera) weigher.set_evidence_source(camera->evidence.get());
  weigher.run();
  for (auto& r : outbox.pending(100000, 1ULL << 40))
    for (auto& p : packet::from_tar(r.packet)) run.packets.push_back(std::move(p));
  return run;
}

const Truth* truth_of(const std::vector<Truth>& truth, const record::Manifest& m) {
  const Truth* best = nullptr;
  for (const auto& t : truth)
    if (t.lane == m.lane && (!best || std::abs(t.t_unix_us - m.time_unix_us) <
                                          std::abs(best->t_unix_us - m.time_unix_us)))
      best = &t;
  return best && std::abs(best->t_unix_us - m.time_unix_us) < 200000 ? best : nullptr;
}

boost::json::value sim_camera(const char* condition = "clear_day") {
  return boost::json::object{
      {"kind", "sim"}, {"condition", condition}, {"seed", 5}, {"model_dir", WIM_ANPR_MODEL_DIR}};
}

}  // namespace

SCENARIO("a station with the sim camera puts the truth's plate and the images on violations") {
  GIVEN("a recording with overloaded goods vehicles and station.json with a sim camera") {
    Site site(8);
    const auto cam_cfg = sim_camera();
    site.write_station(&cam_cfg);
    auto camera = edge::load_camera(site.dir / "station.json");
    REQUIRE(camera);
    REQUIRE(camera->sim);

    WHEN("the station weighs it") {
      const auto run = weigh_site(site, &*camera);
      chain::KeyRegistry keys;
      keys.add("G017", run.key.public_key());

      THEN("each violation carries the truth's plate, the original JPEGs and verifies") {
        int violations = 0, passes = 0;
        for (const auto& p : run.packets) {
          const auto m = p.manifest();
          CHECK(chain::verify_packet(p, keys).empty());
          if (m.kind == record::Kind::pass) {
            ++passes;
            CHECK(m.measurement->camera_present);
            CHECK_FALSE(m.measurement->plate);  // privacy rule
            CHECK(m.attachments.empty());
            continue;
          }
          if (m.kind != record::Kind::violation) continue;
          ++violations;
          const Truth* t = truth_of(site.truth, m);
          REQUIRE(t);
          CHECK(t->overloaded);
          CHECK(m.measurement->camera_present);
          REQUIRE(m.measurement->plate);
          const auto& plate = *m.measurement->plate;
          INFO("truth " << t->plate << ", read '" << plate.text << "' confidence "
                        << plate.confidence);
          CHECK(m.measurement->camera_problem.empty());
          CHECK_FALSE(plate.needs_human_review);
          CHECK(plate.text == t->plate);
          CHECK(plate.colour == "yellow");
          CHECK(plate.confidence >= edge::CameraConfig{}.review_below);
          std::set<std::string> names;
          for (const auto& a : m.attachments) {
            names.insert(a.name);
            REQUIRE(p.attachments.count(a.name));
            CHECK(crypto::sha256_hex(p.attachments.at(a.name)) == a.sha256);
            CHECK(p.attachments.at(a.name).size() == a.size_bytes);
          }
          CHECK(names.count("frame-01.jpg"));
          CHECK(names.count("overview.jpg"));
          CHECK(names.count("plate.jpg"));
          CHECK(names.count("waveform.csv"));
          // The originals are decodable 1080p camera JPEGs.
          const auto& jpg = p.attachments.at("frame-01.jpg");
          const cv::Mat img =
              cv::imdecode(std::vector<uchar>(jpg.begin(), jpg.end()), cv::IMREAD_COLOR);
          CHECK(img.cols == 1920);
          CHECK(img.rows == 1080);
        }
        CHECK(violations > 0);
        CHECK(passes > 0);
        CHECK(chain::verify_chain(run.packets, keys).empty());
      }
    }

    WHEN("the camera's stream is down for the first violation") {
      camera->sim->fail_passes(1);
      const auto run = weigh_site(site, &*camera);
      std::vector<record::Manifest> ms;
      for (const auto& p : run.packets) ms.push_back(p.manifest());
      THEN("every violation is still recorded; the faulty one states the problem") {
        std::vector<std::size_t> viol;
        for (std::size_t i = 0; i < ms.size(); ++i)
          if (ms[i].kind == record::Kind::violation) viol.push_back(i);
        REQUIRE(viol.size() >= 2);
        const auto& first = ms[viol[0]];
        REQUIRE(first.measurement->plate);
        CHECK(first.measurement->plate->needs_human_review);
        CHECK(first.measurement->plate->text.empty());
        CHECK(first.measurement->camera_present);
        CHECK_THAT(first.measurement->camera_problem, Catch::Contains("camera fault"));
        CHECK_THAT(first.measurement->camera_problem, Catch::Contains("stream down"));
        REQUIRE(first.attachments.size() == 1);  // the waveform only, no image
        CHECK(first.attachments[0].name == "waveform.csv");
        // The fault event is sealed just before, the recovery before the next violation.
        REQUIRE(ms[viol[0] - 1].kind == record::Kind::event);
        CHECK(ms[viol[0] - 1].event->type == "camera_fault");
        CHECK(ms[viol[1] - 1].kind == record::Kind::event);
        CHECK(ms[viol[1] - 1].event->type == "camera_recovered");
        CHECK_FALSE(ms[viol[1]].measurement->plate->needs_human_review);
        CHECK(ms[viol[1]].measurement->camera_problem.empty());
        CHECK(ms[viol[1]].attachments.size() > 1);
      }
    }
  }
}

SCENARIO("corrupt frames and an unreachable camera: stated, never fatal") {
  Site site(8);
  const auto cam_cfg = sim_camera();
  site.write_station(&cam_cfg);
  GIVEN("a sim camera delivering only corrupt JPEGs for the first violation") {
    auto camera = edge::load_camera(site.dir / "station.json");
    camera->sim->corrupt_passes(1);
    const auto run = weigh_site(site, &*camera);
    bool seen = false;
    for (const auto& p : run.packets) {
      const auto m = p.manifest();
      if (m.kind != record::Kind::violation) continue;
      CHECK(m.measurement->plate->needs_human_review);
      CHECK_THAT(m.measurement->camera_problem, Catch::Contains("not a decodable JPEG"));
      seen = true;
      break;
    }
    CHECK(seen);
  }
  GIVEN("an opencv camera (a folder of images) that holds only a corrupt image") {
    // (A missing V4L2 device or file is not tried here: OpenCV's capture backends leak
    // libusb memory on every failed open, which the sanitizer build reports.)
    std::filesystem::create_directories(site.dir / "frames");
    std::ofstream(site.dir / "frames" / "0001.jpg") << "not a JPEG at all";
    const boost::json::value cfg = {
        {"kind", "opencv"}, {"url", "frames"}, {"model_dir", WIM_ANPR_MODEL_DIR}};
    site.write_station(&cfg);
    auto camera = edge::load_camera(site.dir / "station.json");
    REQUIRE(camera);
    CHECK_FALSE(camera->sim);
    const auto run = weigh_site(site, &*camera);
    int violations = 0, faults = 0;
    for (const auto& p : run.packets) {
      const auto m = p.manifest();
      if (m.kind == record::Kind::event && m.event->type == "camera_fault") ++faults;
      if (m.kind != record::Kind::violation) continue;
      ++violations;
      CHECK(m.measurement->plate->needs_human_review);
      CHECK_THAT(m.measurement->camera_problem,
                 Catch::Contains("folder:") && Catch::Contains("frames"));
    }
    CHECK(violations > 0);
    CHECK(faults == 1);  // one fault event, not one per violation
  }
}

SCENARIO("a station without a camera section says so in every vehicle record") {
  Site site(6);
  site.write_station(nullptr);
  CHECK_FALSE(edge::load_camera(site.dir / "station.json"));
  const auto run = weigh_site(site, nullptr);
  int vehicles = 0;
  for (const auto& p : run.packets) {
    const auto m = p.manifest();
    if (m.kind == record::Kind::event) continue;
    ++vehicles;
    CHECK_FALSE(m.measurement->camera_present);
    CHECK_FALSE(m.measurement->plate);
  }
  CHECK(vehicles == 6);
}

SCENARIO("a bad camera section is refused with the field named") {
  const std::filesystem::path base = "/etc/wim";
  auto err = [&](boost::json::value v) {
    try {
      edge::parse_camera_config(v, "station.json: camera", base);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(err({{"kind", "sim"}, {"condition", "fog"}}),
             Catch::Contains("station.json: camera.condition") && Catch::Contains("fog"));
  CHECK_THAT(err({{"kind", "lidar"}}), Catch::Contains("camera.kind"));
  CHECK_THAT(err({{"kind", "opencv"}}), Catch::Contains("camera.url"));
  CHECK_THAT(err({{"kind", "sim"}, {"lead_s", -1}}), Catch::Contains("camera.lead_s"));
  CHECK_THAT(err({{"kind", "sim"}, {"max_frames", 0}}), Catch::Contains("camera.max_frames"));
  CHECK_THAT(err({{"kind", "sim"}, {"colour", "red"}}),
             Catch::Contains("camera.colour: unknown field"));
  CHECK_THAT(err({{"kind", "opencv"}, {"url", "x"}, {"seed", 3}}), Catch::Contains("camera.seed"));
  CHECK(err({{"kind", "sim"}, {"condition", "mixed"}, {"seed", 9}}) == "accepted");
  CHECK_THAT(err({{"kind", "sim"}, {"ocr_dir", "/nonexistent/ocr"}}),
             Catch::Contains("station.json: camera.ocr_dir") &&
                 Catch::Contains("/nonexistent/ocr") && Catch::Contains("anpr_ocr.onnx"));
  CHECK_THAT(err({{"kind", "sim"}, {"ocr_dir", 3}}), Catch::Contains("camera.ocr_dir"));
  CHECK_THAT(err({{"kind", "opencv"}, {"url", "x"}, {"ocr_dir", "ocr"}}),
             Catch::Contains("'/etc/wim/ocr'"));                 // relative: beside station.json
  CHECK(err({{"kind", "sim"}, {"ocr_dir", ""}}) == "accepted");  // "": no OCR
  CHECK(edge::parse_camera_config(boost::json::value{{"kind", "sim"}, {"ocr_dir", ""}}, "camera",
                                  base)
            .ocr_dir.empty());
  const auto c = edge::parse_camera_config(
      boost::json::value{
          {"kind", "opencv"}, {"url", "frames"}, {"distance_m", 12.5}, {"model_dir", "m"}},
      "camera", base);
  CHECK(c.url == "/etc/wim/frames");
  CHECK(c.model_dir == "/etc/wim/m");
  CHECK(c.distance_m == 12.5);
  // A missing model is named when the station loads its camera.
  test::TempDir dir("camera-cfg");
  std::ofstream(dir / "station.json")
      << R"({"station_id":"G017","channels":[],"camera":{"kind":"sim","model_dir":"nowhere"}})";
  CHECK_THROWS_WITH(edge::load_camera(dir / "station.json"),
                    Catch::Contains("anpr_province.yml.gz"));
}

namespace {
// One camera over two lanes: lane 1's plates in the lower left, lane 2's in the lower right.
boost::json::value dense_camera(bool with_regions) {
  boost::json::object c = sim_camera().as_object();
  c["traffic"] = "dense";  // every violation also shows the next lane's vehicle, often a follower
  if (with_regions)
    c["lanes"] = {{"1", {{"roi", {0.0, 0.45, 0.5, 0.55}}}},
                  {"2", {{"roi", {960, 486, 960, 594}}}}};  // the same in pixels
  return c;
}
}  // namespace

SCENARIO(
    "dense traffic on two lanes: each violation carries its own lane's plate, never another's") {
  GIVEN("a two-lane recording and one sim camera showing the other lane and followers") {
    Site site(30, 2);

    WHEN("station.json gives each lane its image region") {
      const auto cam_cfg = dense_camera(true);
      site.write_station(&cam_cfg);
      auto camera = edge::load_camera(site.dir / "station.json");
      REQUIRE(camera);
      const auto run = weigh_site(site, &*camera);
      THEN("lane 1's violations carry lane 1's plate and lane 2's carry lane 2's") {
        std::set<int> lanes_read;
        int violations = 0, exact = 0;
        for (const auto& p : run.packets) {
          const auto m = p.manifest();
          if (m.kind != record::Kind::violation) continue;
          ++violations;
          const Truth* t = truth_of(site.truth, m);
          REQUIRE(t);
          REQUIRE(m.measurement->plate);
          const auto& plate = *m.measurement->plate;
          INFO("lane " << m.lane << " truth " << t->plate << ", read '" << plate.text << "'");
          if (!plate.needs_human_review) {
            CHECK(plate.text == t->plate);  // the weighed vehicle's, not its neighbour's
            lanes_read.insert(m.lane);
            ++exact;
          } else {
            REQUIRE(p.attachments.count(std::string(edge::kPlateReviewAttachment)));
          }
          // The other vehicles were in the frames: the originals show more than one plate.
          CHECK(p.attachments.count("overview.jpg"));
        }
        CHECK(violations >= 4);
        CHECK(exact >= violations - 1);
        CHECK(lanes_read == std::set<int>{1, 2});
      }
    }

    WHEN("station.json gives no region: the whole frame is read") {
      const auto cam_cfg = dense_camera(false);
      site.write_station(&cam_cfg);
      auto camera = edge::load_camera(site.dir / "station.json");
      REQUIRE(camera);
      const auto run = weigh_site(site, &*camera);
      THEN("every plate goes to a human, two plates read surely with the reason naming both") {
        int violations = 0, two_plates = 0;
        for (const auto& p : run.packets) {
          const auto m = p.manifest();
          if (m.kind != record::Kind::violation) continue;
          ++violations;
          const Truth* t = truth_of(site.truth, m);
          REQUIRE(t);
          const auto& plate = *m.measurement->plate;
          INFO("lane " << m.lane << " truth " << t->plate << ", read '" << plate.text << "'");
          // A lane without a region on a two-lane road: never accepted automatically.
          CHECK(plate.needs_human_review);
          CHECK(plate.text.empty());
          const auto it = p.attachments.find(std::string(edge::kPlateReviewAttachment));
          REQUIRE(it != p.attachments.end());
          INFO(it->second);
          if (it->second.find("two plates read surely") == std::string::npos) continue;
          ++two_plates;
          CHECK_THAT(it->second, Catch::Contains(t->plate));  // the weighed one's and the other's
          CHECK_THAT(it->second, Catch::Contains("other plate read surely: "));
        }
        CHECK(violations >= 4);
        CHECK(two_plates >= violations / 2);
      }
    }

    WHEN("station.json gives no region and the frames show the weighed vehicle alone") {
      const auto cam_cfg = sim_camera();
      site.write_station(&cam_cfg);
      auto camera = edge::load_camera(site.dir / "station.json");
      REQUIRE(camera);
      const auto run = weigh_site(site, &*camera);
      THEN("a plate read surely still goes to a human: it may be the next lane's vehicle's") {
        int violations = 0, no_region = 0;
        for (const auto& p : run.packets) {
          const auto m = p.manifest();
          if (m.kind != record::Kind::violation) continue;
          ++violations;
          const auto& plate = *m.measurement->plate;
          CHECK(plate.needs_human_review);
          CHECK(plate.text.empty());
          const auto it = p.attachments.find(std::string(edge::kPlateReviewAttachment));
          REQUIRE(it != p.attachments.end());
          INFO(it->second);
          no_region += it->second.find("lane " + std::to_string(m.lane) +
                                       " has no camera.lanes region on a road of 2 lanes") !=
                       std::string::npos;
        }
        CHECK(violations >= 4);
        CHECK(no_region >= violations / 2);  // the others: unsure or not found
      }
    }
  }
}

SCENARIO("a bad lane region in the camera section is refused with the field named") {
  auto err = [](boost::json::value lanes) {
    try {
      edge::parse_camera_config(boost::json::object{{"kind", "sim"}, {"lanes", lanes}},
                                "station.json: camera", "/etc/wim");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  using boost::json::array;
  CHECK_THAT(
      err({{"1", {{"roi", array{0.5, 0.5, 0.6, 0.4}}}}}),
      Catch::Contains("station.json: camera.lanes.1.roi") && Catch::Contains("leaves the frame"));
  CHECK_THAT(err({{"2", {{"roi", array{0, 0.5, 0.5}}}}}),
             Catch::Contains("camera.lanes.2.roi") && Catch::Contains("4 numbers"));
  CHECK_THAT(err({{"1", {{"roi", array{0, 0.5, 0, 0.5}}}}}),
             Catch::Contains("camera.lanes.1.roi") && Catch::Contains("> 0"));
  CHECK_THAT(err({{"1", {{"roi", array{-10, 500, 900, 500}}}}}),
             Catch::Contains("camera.lanes.1.roi") && Catch::Contains(">= 0"));
  CHECK_THAT(err({{"1", {{"roi", array{10.5, 500, 900, 500}}}}}),
             Catch::Contains("camera.lanes.1.roi") && Catch::Contains("whole numbers"));
  CHECK_THAT(err({{"1", {{"roi", array{"a", 0, 1, 1}}}}}), Catch::Contains("camera.lanes.1.roi"));
  CHECK_THAT(err({{"left", {{"roi", array{0, 0, 1, 1}}}}}),
             Catch::Contains("camera.lanes.left") && Catch::Contains("1..16"));
  CHECK_THAT(err({{"1", {{"box", array{0, 0, 1, 1}}}}}),
             Catch::Contains("camera.lanes.1.box: unknown field"));
  CHECK_THAT(err({{"1", {{"roi", array{0, 0, 1, 1}}}}, {"2", 3}}),
             Catch::Contains("camera.lanes.2"));
  CHECK_THAT(err(array{1, 2}), Catch::Contains("camera.lanes"));
  CHECK_THAT(
      [] {
        try {
          edge::parse_camera_config(boost::json::object{{"kind", "sim"}, {"traffic", "jam"}},
                                    "station.json: camera", "/etc/wim");
        } catch (const InputError& e) {
          return std::string(e.what());
        }
        return std::string("accepted");
      }(),
      Catch::Contains("camera.traffic") && Catch::Contains("jam"));
  const auto c = edge::parse_camera_config(
      boost::json::object{{"kind", "opencv"},
                          {"url", "/dev/video0"},
                          {"lanes",
                           {{"1", {{"roi", array{0, 0.5, 0.5, 0.5}}}},
                            {"2", {{"roi", array{960, 540, 960, 540}}}}}}},
      "camera", "/etc/wim");
  REQUIRE(c.lanes.size() == 2);
  CHECK_FALSE(c.lanes.at(1).in_pixels);
  CHECK(c.lanes.at(1).to_pixels({1920, 1080}) == cv::Rect(0, 540, 960, 540));
  CHECK(c.lanes.at(2).in_pixels);
  CHECK(c.lanes.at(2).to_pixels({1920, 1080}) == cv::Rect(960, 540, 960, 540));
  CHECK(c.lanes.at(2).to_pixels({1280, 720}) == cv::Rect(960, 540, 320, 180));  // clipped
}

#ifdef WIM_ANPR_OCR_DIR
namespace {

/// A camera that shows the same frames at every violation.
class FixedFrames final : public edge::FrameProvider {
 public:
  explicit FixedFrames(std::vector<hw::Frame> frames) : frames_(std::move(frames)) {}
  std::vector<hw::Frame> frames_for(const record::Manifest&, std::int64_t, const hw::FrameWindow&,
                                    std::string&) override {
    return frames_;
  }
  std::string describe() const override { return "fixed frames"; }

 private:
  std::vector<hw::Frame> frames_;
};

/// A 1080p frame of plain grey with `plate` pasted at `width_px`, its paint faded towards
/// grey by `fade` (0: as rendered; real plates lose saturation in the sun, issue 17).
hw::Frame pasted_frame(const cv::Mat& rendered, int width_px, double fade, std::int64_t utc_us) {
  cv::Mat plate;
  cv::resize(rendered, plate, {width_px, width_px * rendered.rows / rendered.cols}, 0, 0,
             cv::INTER_AREA);
  cv::addWeighted(plate, 1 - fade, cv::Mat(plate.size(), plate.type(), cv::Scalar(128, 128, 128)),
                  fade, 0, plate);
  hw::Frame f;
  f.image = cv::Mat(1080, 1920, CV_8UC3, cv::Scalar(120, 124, 126));
  plate.copyTo(f.image(cv::Rect({850, 640}, plate.size())));
  std::vector<uchar> jpg;
  cv::imencode(".jpg", f.image, jpg, {cv::IMWRITE_JPEG_QUALITY, 90});
  f.jpeg.assign(jpg.begin(), jpg.end());
  f.utc_us = utc_us;
  f.clock_sync = time::ClockSync::synced;
  f.seq = 1;
  return f;
}

}  // namespace

SCENARIO("with camera.ocr_dir the station reads a faded plate the classifiers alone do not") {
  // A plate whose paint has faded to 30 % of its colour (fade 0.7): the classifiers' colour
  // masks find no plate (every violation to a human), the OCR's text candidates do. Fades up
  // to 0.6 both read (seen: 5 of 5 plates each at 140 and 220 px, 2026-12-07).
  const hw::PlateRenderer renderer;
  std::mt19937 rng(1723);
  for (int width : {140, 220}) {
    const auto spec = renderer.random_plate(rng, hw::PlateColour::blue);
    record::Manifest m;
    m.kind = record::Kind::violation;
    m.lane = 1;
    m.time_unix_us = 1'796'000'000'000'000;
    m.clock_sync = time::ClockSync::synced;
    const auto frame = pasted_frame(renderer.render_plate(spec, 0.6), width, 0.7, m.time_unix_us);
    auto read = [&](boost::json::object cam) {
      cam["kind"] = "sim";
      cam["model_dir"] = WIM_ANPR_MODEL_DIR;
      const auto cfg = edge::parse_camera_config(cam, "station.json: camera", "/");
      edge::CameraEvidence ev(cfg, "G017", std::make_unique<FixedFrames>(std::vector{frame}));
      auto out = ev.evidence_for(m);
      REQUIRE(out.plate);
      CHECK(out.camera_problem.empty());
      CHECK(out.attachments.count("frame-01.jpg"));
      return std::pair(ev.reader().has_ocr(), *out.plate);
    };
    const auto [ocr_on, with_ocr] = read({{"ocr_dir", WIM_ANPR_OCR_DIR}});
    const auto [ocr_off, without] = read({{"ocr_dir", ""}});
    INFO(width << " px " << spec.text << ": with OCR '" << with_ocr.text << "' "
               << with_ocr.confidence << ", classifiers only '" << without.text << "' "
               << without.confidence);
    CHECK(ocr_on);
    CHECK_FALSE(ocr_off);
    CHECK_FALSE(with_ocr.needs_human_review);
    CHECK(with_ocr.text == spec.text);
    CHECK(with_ocr.colour == "blue");
    CHECK(without.needs_human_review);
    CHECK(without.text.empty());
  }
}

SCENARIO("camera.ocr_dir: the stations of a process share a reader per OCR folder") {
  Site site(1);
  edge::SharedPlateReaders shared;
  auto load = [&](const char* ocr_dir) {
    boost::json::value cam = sim_camera();
    cam.as_object()["ocr_dir"] = ocr_dir;
    site.write_station(&cam);
    auto camera = edge::load_camera(site.dir / "station.json", &shared);
    REQUIRE(camera);
    return camera->evidence->reader().has_ocr();
  };
  CHECK(load(WIM_ANPR_OCR_DIR));
  CHECK(load(WIM_ANPR_OCR_DIR));
  CHECK(shared.loaded() == 1);
  CHECK_FALSE(load(""));
  CHECK(shared.loaded() == 2);
}
#endif
