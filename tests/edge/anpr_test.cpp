// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"
#include "wim/edge/anpr/deblur.hpp"
#include "wim/edge/anpr/evidence.hpp"
#include "wim/edge/anpr/plate_reader.hpp"
#include "wim/hw/camera_sim.hpp"
#include "wim/hw/plate_set.hpp"

#include "anpr_glare_set.hpp"

using namespace wim;
using namespace wim::edge::anpr;
using hw::Condition;
using hw::PlateColour;

namespace {
const PlateReader& reader() {
  static const PlateReader r({WIM_ANPR_MODEL_DIR});
  return r;
}
hw::PlateRenderer& renderer() {
  static hw::PlateRenderer r;
  return r;
}
// A 1080p frame as the camera delivers it (JPEG quality 90).
cv::Mat frame_of(const hw::PlateSpec& p, Condition c, unsigned seed) {
  std::mt19937 rng(seed);
  const auto scene = renderer().render_scene(p, c, rng);
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", scene.image, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
  return cv::imdecode(jpeg, cv::IMREAD_COLOR);
}
// Paints the character band (25..115 mm of 140) from the 3rd character to the right end
// over in the plate's blue: the plate is still found, but its last five characters are gone.
void paint_over_tail(hw::Scene& scene) {
  const auto& c = scene.corners;
  auto at = [&c](float u, float v) {  // (u, v) in [0, 1]² on the plate -> frame pixel
    const cv::Point2f top = c[0] + (c[1] - c[0]) * u, bottom = c[3] + (c[2] - c[3]) * u;
    return cv::Point(top + (bottom - top) * v);
  };
  const std::vector<cv::Point> quad = {at(0.33f, 0.17f), at(0.97f, 0.17f), at(0.97f, 0.83f),
                                       at(0.33f, 0.83f)};
  cv::fillConvexPoly(scene.image, quad, cv::Scalar(170, 72, 12));
}
}  // namespace

TEST_CASE("Known generated plates of every colour are read exactly in daylight") {
  const hw::PlateSpec plates[] = {{PlateColour::blue, "京A12345"},
                                  {PlateColour::yellow, "冀B7G285"},
                                  {PlateColour::yellow_double, "鲁C90K31"},
                                  {PlateColour::green, "粤BD12345"}};
  for (const auto& p : plates) {
    GIVEN("a clear-day frame of " + p.text) {
      const auto r = reader().read(frame_of(p, Condition::clear_day, 11));
      THEN("text and colour are right and no human is needed") {
        CHECK(r.found);
        CHECK(r.text == p.text);
        CHECK(r.colour == p.colour);
        CHECK_FALSE(r.needs_review);
        CHECK(r.confidence >= PlateReaderConfig{}.review_below);
        CHECK(r.char_confidence.size() == hw::split_utf8(p.text).size());
        CHECK(r.box.area() > 0);
        CHECK_FALSE(r.close_up.empty());
      }
    }
  }
}

TEST_CASE("Known 1080p JPEGs on disk are read exactly or sent to a human and never misread") {
  // tests/data/anpr/: written by the anpr_testdata tool (seed 7077), one line per frame in
  // truth.tsv. Read from disk through the real decoder and reader, as a replayed camera would.
  const std::filesystem::path dir = std::filesystem::path(WIM_SOURCE_DIR) / "tests/data/anpr";
  std::ifstream in(dir / "truth.tsv");
  REQUIRE(in.good());
  std::string line;
  int frames = 0, accepted = 0;
  std::set<std::string> colours, conditions;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::size_t at = 0;
    for (std::size_t tab; (tab = line.find('\t', at)) != std::string::npos; at = tab + 1)
      f.push_back(line.substr(at, tab - at));
    f.push_back(line.substr(at));
    INFO("truth.tsv line: " << line);
    REQUIRE(f.size() == 4);
    const cv::Mat frame = cv::imread((dir / f[0]).string(), cv::IMREAD_COLOR);
    REQUIRE_FALSE(frame.empty());
    CHECK(frame.cols == 1920);
    CHECK(frame.rows == 1080);
    const auto colour = hw::plate_colour_from_string(f[1]);
    colours.insert(f[1]);
    conditions.insert(f[2]);
    ++frames;
    const auto r = reader().read(frame);
    INFO("read '" << r.candidate << "' " << hw::to_string(r.colour) << " confidence "
                  << r.confidence << (r.needs_review ? " (to a human)" : " (accepted)"));
    if (r.needs_review) {
      CHECK(r.text.empty());
      CHECK_FALSE(r.review_reason.empty());
      // Daylight frames of a clean plate are never too hard.
      CHECK(f[2] != "clear_day");
      continue;
    }
    ++accepted;
    CHECK(r.text == f[3]);
    CHECK(r.colour == colour);
  }
  CHECK(frames == 12);
  CHECK(colours.size() == hw::kPlateColours.size());
  CHECK(conditions.size() == hw::kConditions.size());
  // All 12 were accepted when the set was made (2026-11-28, review_below 0.80); one may go to
  // a human after a model change, but a reader that accepts fewer has got worse.
  CHECK(accepted >= 11);
}

TEST_CASE("An infrared night frame is read and its colour inferred from the text polarity") {
  const hw::PlateSpec blue{PlateColour::blue, "沪D5Q713"}, yellow{PlateColour::yellow, "浙K36120"};
  const auto rb = reader().read(frame_of(blue, Condition::night_ir, 4));
  CHECK(rb.text == blue.text);
  CHECK(rb.colour == PlateColour::blue);
  CHECK_FALSE(rb.colour_from_pixels);
  const auto ry = reader().read(frame_of(yellow, Condition::night_ir, 4));
  CHECK(ry.text == yellow.text);
  CHECK(ry.colour == PlateColour::yellow);
}

namespace {
// Reads 16 generated 1080p frames of random plates of `colour` under `condition` through the
// real reader: every accepted text must be the truth and the colour read right where the
// plate is accepted. Returns how many were read exactly (accepted and right).
int read_generated(PlateColour colour, Condition condition, unsigned seed) {
  std::mt19937 plates(seed);
  int exact = 0;
  for (unsigned i = 0; i < 16; ++i) {
    const auto p = renderer().random_plate(plates, colour);
    const auto r = reader().read(frame_of(p, condition, seed + 100 + i));
    INFO(p.text << " read " << r.candidate << " at " << r.confidence);
    if (!r.needs_review) {  // never a wrong accepted plate
      CHECK(r.text == p.text);
      CHECK(r.colour == colour);
    }
    exact += r.text == p.text;
  }
  return exact;
}
}  // namespace

TEST_CASE("Infrared blue plates are read with their 7 characters and never misread") {
  // anpr6: under infrared the green (8-character) layout was also read on a blue plate's
  // bright rectangle and could win on confidence (then sent to a human: a lost read). Light
  // characters now mean a blue plate. 13 of 16 exact; the rest go to a human.
  CHECK(read_generated(PlateColour::blue, Condition::night_ir, 606) >= 13);
}

TEST_CASE("Green plates under glare are read exactly or sent to a human and never misread") {
  // 10 of 16 exact with anpr6's reader; the rest go to a human, never misread.
  CHECK(read_generated(PlateColour::green, Condition::glare, 607) >= 10);
}

namespace {
// Hard light past the simulator's defaults (as the benchmark's stress set): 16 generated
// 1080p frames, the colours in turn, made harder by `harden` (frame, plate corners, rng)
// before JPEG, read through the real reader. Every accepted text must be the truth.
struct HardReads {
  int found = 0, exact = 0;
};
// Counts one reading of plate `p` into `out`; an accepted text must be the truth.
void count_read(const PlateRead& r, const hw::PlateSpec& p, HardReads& out) {
  INFO(p.text << " read " << r.candidate << " at " << r.confidence);
  if (!r.needs_review) {  // never a wrong accepted plate
    CHECK(r.text == p.text);
    CHECK(r.colour == p.colour);
  }
  out.found += r.found;
  out.exact += r.text == p.text;
}
template <class Harden>
HardReads read_hardened(Condition condition, unsigned seed, Harden harden) {
  std::mt19937 rng(seed);
  HardReads out;
  for (unsigned i = 0; i < 16; ++i) {
    const auto p = renderer().random_plate(rng, hw::kPlateColours[i % 4]);
    auto scene = renderer().render_scene(p, condition, rng);
    harden(scene.image, scene.corners, rng);
    std::vector<uchar> jpeg;
    cv::imencode(".jpg", scene.image, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
    count_read(reader().read(cv::imdecode(jpeg, cv::IMREAD_COLOR)), p, out);
  }
  return out;
}
// A straight smear of `length` px at `angle_deg` (the vehicle moving during the exposure).
void smear(cv::Mat& img, double length, double angle_deg) {
  const int r = static_cast<int>(length);
  cv::Mat k(2 * r + 1, 2 * r + 1, CV_32F, cv::Scalar(0));
  const double a = angle_deg * CV_PI / 180;
  const cv::Point d(static_cast<int>(length / 2 * std::cos(a)),
                    static_cast<int>(length / 2 * std::sin(a)));
  cv::line(k, cv::Point(r, r) - d, cv::Point(r, r) + d, cv::Scalar(1), 1);
  k /= cv::sum(k)[0];
  cv::filter2D(img, img, -1, k);
}
}  // namespace

namespace {
const std::filesystem::path kGlareDir =
    std::filesystem::path(WIM_SOURCE_DIR) / "tests/data/anpr-glare";
// decoded.sha256: file -> SHA-256 of its decoded pixels where the set was made (x86-64).
std::map<std::string, std::string> glare_pixel_sums() {
  std::ifstream in(kGlareDir / "decoded.sha256");
  std::map<std::string, std::string> out;
  for (std::string sum, file; in >> sum >> file;) out[file] = sum;
  return out;
}
}  // namespace

TEST_CASE("Plates under a strong glare spot are found by hue and chroma and never misread") {
  // A second glare spot of +160 on top of the glare scene washes the plate's paint out below
  // the colour masks' saturation floor; hue and chroma (max - min) survive added white light.
  // The 16 frames are the camera's JPEGs in tests/data/anpr-glare/, rendered on x86-64
  // (test::render_glare_set), so every architecture reads the same pixels (checked below).
  const auto truth = hw::read_plate_truth(kGlareDir / "truth.tsv");
  REQUIRE(truth.size() == test::kGlareSetFrames);
  HardReads r;
  std::set<hw::PlateColour> colours;
  for (const auto& t : truth) {
    const cv::Mat frame = cv::imread((kGlareDir / t.file).string(), cv::IMREAD_COLOR);
    INFO(t.file << " " << t.text);
    REQUIRE(frame.size() == cv::Size(1920, 1080));
    CHECK(t.condition == Condition::glare);
    colours.insert(t.colour);
    count_read(reader().read(frame), {t.colour, t.text}, r);
  }
  CHECK(colours.size() == hw::kPlateColours.size());
  // 13 found and 6 exact when the set was made (x86-64, 2026-12-08).
  CHECK(r.found >= 12);
  CHECK(r.exact >= 6);
}

TEST_CASE("The glare set decodes on this machine to the pixels it was made with") {
  // The reading test above measures the reader only if this machine's JPEG decoder gives the
  // x86-64 pixels (libjpeg-turbo's integer IDCT and upsampling: exact, SIMD or not).
  const auto truth = hw::read_plate_truth(kGlareDir / "truth.tsv");
  const auto sums = glare_pixel_sums();
  REQUIRE(sums.size() == truth.size());
  for (const auto& t : truth) {
    INFO(t.file);
    REQUIRE(sums.count(t.file) == 1);
    CHECK(test::pixels_sha256(cv::imread((kGlareDir / t.file).string(), cv::IMREAD_COLOR)) ==
          sums.at(t.file));
  }
}

#if defined(__x86_64__)
TEST_CASE("The glare set on disk is what the renderer makes on x86-64") {
  // Guards tests/data/anpr-glare/ against silent drift: a change to the renderer, its fonts or
  // the glare spot changes these frames. Then write the set again and look at the test above:
  //   build/tests/bench/anpr_glare_testdata tests/data/anpr-glare
  // Only on x86-64, where the set was made: other machines render with other roundings.
  const auto truth = hw::read_plate_truth(kGlareDir / "truth.tsv");
  const auto sums = glare_pixel_sums();
  const auto frames = test::render_glare_set(renderer());
  REQUIRE(truth.size() == frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    INFO(truth[i].file << ": regenerate with anpr_glare_testdata if the renderer changed");
    CHECK(truth[i].file == frames[i].file);
    CHECK(truth[i].text == frames[i].plate.text);
    CHECK(truth[i].colour == frames[i].plate.colour);
    const cv::Mat disk = cv::imread((kGlareDir / truth[i].file).string(), cv::IMREAD_COLOR);
    REQUIRE(disk.size() == frames[i].image.size());
    REQUIRE(disk.type() == frames[i].image.type());
    cv::Mat diff;
    cv::absdiff(disk, frames[i].image, diff);
    CHECK(cv::countNonZero(diff.reshape(1)) == 0);  // channel values that differ
    REQUIRE(sums.count(truth[i].file) == 1);
    CHECK(test::pixels_sha256(frames[i].image) == sums.at(truth[i].file));
  }
}
#endif

TEST_CASE("Plates at deep dusk are found after the frame is brought up to day brightness") {
  // Dusk at half its light again: the plates' paint is darker than the colour masks' floor.
  const auto r = read_hardened(Condition::dusk, 7102,
                               [](cv::Mat& img, auto&, auto&) { img.convertTo(img, -1, 0.5, 0); });
  CHECK(r.found >= 15);
  CHECK(r.exact >= 14);
}

TEST_CASE("A motion smear is measured and undone before the plate is read") {
  std::mt19937 rng(7103);
  const hw::PlateSpec plate{PlateColour::blue, "苏E52K81"};
  const auto sharp = renderer().render_scene(plate, Condition::clear_day, rng);
  const cv::Rect around =
      cv::boundingRect(std::vector<cv::Point2f>(sharp.corners.begin(), sharp.corners.end()));
  const cv::Rect region = (around - cv::Point(around.width / 2, around.height) +
                           cv::Size(around.width, 2 * around.height)) &
                          cv::Rect(0, 0, sharp.image.cols, sharp.image.rows);
  GIVEN("a sharp frame") {
    CHECK(estimate_motion_smear(sharp.image(region)).length_px == 0);
  }
  for (const double angle : {78.0, 90.0, 105.0}) {
    GIVEN("the frame smeared by 16 px at " + std::to_string(static_cast<int>(angle)) + " degrees") {
      cv::Mat img = sharp.image.clone();
      smear(img, 16, angle);
      const auto s = estimate_motion_smear(img(region));
      CHECK(s.length_px == Approx(16).margin(2.5));
      CHECK(s.angle_rad * 180 / CV_PI == Approx(angle).margin(8));
      // undone: much nearer the sharp frame on the plate than the smeared frame was
      const cv::Mat undone = undo_motion_smear(img(region), s);
      REQUIRE(undone.size() == region.size());
      REQUIRE(undone.type() == img.type());
      const cv::Rect plate = around - region.tl();
      const double before = cv::norm(img(region)(plate), sharp.image(region)(plate), cv::NORM_L1);
      const double after = cv::norm(undone(plate), sharp.image(region)(plate), cv::NORM_L1);
      CHECK(after < 0.75 * before);
    }
  }
  GIVEN("plates of every colour smeared by 12-20 px") {
    const auto r = read_hardened(Condition::clear_day, 7104, [](cv::Mat& img, auto&, auto& g) {
      smear(img, 12 + static_cast<double>(g() % 9), 70 + static_cast<double>(g() % 41));
    });
    CHECK(r.exact >= 7);
  }
}

TEST_CASE("No plate, or an unreadable plate, goes to a human and is never guessed") {
  GIVEN("the empty road") {
    std::mt19937 rng(2);
    const auto r = reader().read(renderer().render_empty(Condition::clear_day, rng));
    CHECK_FALSE(r.found);
    CHECK(r.needs_review);
    CHECK(r.text.empty());
    CHECK(r.review_reason == "no plate found");
    const auto rp = to_record_plate(r);
    CHECK(rp.needs_human_review);
    CHECK(rp.text.empty());
    CHECK(rp.colour == "unknown");
  }
  GIVEN("a plate whose last five characters are painted over") {
    std::mt19937 rng(9);
    auto scene =
        renderer().render_scene({PlateColour::blue, "川A88888"}, Condition::clear_day, rng);
    REQUIRE(reader().read(scene.image).text == "川A88888");  // readable before the paint
    paint_over_tail(scene);
    const auto r = reader().read(scene.image);
    THEN("it is found but marked for a human, with the reason") {
      CHECK(r.found);
      CHECK(r.needs_review);
      CHECK(r.text.empty());
      CHECK_THAT(r.review_reason, Catch::Contains("low confidence"));
    }
  }
}

TEST_CASE("Reads of several frames are voted into one") {
  const hw::PlateSpec p{PlateColour::yellow, "豫H2J561"};
  std::vector<cv::Mat> frames;
  for (unsigned s = 20; s < 23; ++s) frames.push_back(frame_of(p, Condition::clear_day, s));
  std::mt19937 rng(1);
  frames.push_back(renderer().render_empty(Condition::clear_day, rng));  // vehicle gone
  cv::Mat noisy(1080, 1920, CV_8UC3);
  cv::randu(noisy, 0, 255);
  frames.push_back(noisy);
  const auto r = reader().read_pass(frames);
  CHECK(r.text == p.text);
  CHECK(r.frames_read >= 3);
  CHECK_FALSE(r.needs_review);
  const auto none = reader().read_pass({});
  CHECK(none.needs_review);
  CHECK(none.review_reason == "no plate found");
}

TEST_CASE("In a pass an unsure frame does not veto sure frames but sure frames that disagree do") {
  const hw::PlateSpec p{PlateColour::blue, "川A88888"};
  std::vector<cv::Mat> frames;
  for (unsigned s = 30; s < 33; ++s) frames.push_back(frame_of(p, Condition::clear_day, s));
  // The same plate with its last five characters painted over: found, but not sure.
  std::mt19937 rng(9);
  auto scene = renderer().render_scene(p, Condition::clear_day, rng);
  paint_over_tail(scene);
  const auto painted = reader().read(scene.image);
  REQUIRE(painted.found);
  REQUIRE(painted.needs_review);
  frames.push_back(scene.image);
  GIVEN("three sure frames and the painted one") {
    const auto r = reader().read_pass(frames);
    CHECK(r.text == p.text);
    CHECK_FALSE(r.needs_review);
    CHECK(r.frames_read == 3);
    CHECK(r.confidence >= PlateReaderConfig{}.review_below);
  }
  GIVEN("only the painted frame") {
    const auto r = reader().read_pass({scene.image});
    CHECK(r.needs_review);
    CHECK(r.text.empty());
    CHECK(r.frames_read == 1);
  }
  GIVEN("two sure frames of plates that differ in the last character") {
    const auto other = frame_of({PlateColour::blue, "川A88886"}, Condition::clear_day, 30);
    REQUIRE(reader().read(other).text == "川A88886");
    const auto r = reader().read_pass({frames[0], other});
    CHECK(r.needs_review);
    CHECK(r.text.empty());
    CHECK(r.frames_read == 2);
    CHECK(r.confidence < PlateReaderConfig{}.review_below);
  }
}

TEST_CASE("Corrupt input gives a clear error, never a crash") {
  CHECK_THROWS_AS(reader().read(cv::Mat()), InputError);
  CHECK_THROWS_WITH(reader().read(cv::Mat(10, 10, CV_16UC3)), Catch::Contains("8-bit"));
  // Uniform noise, seeded here (cv::randu drew from OpenCV's global RNG, so what it drew, and
  // the test's result, hung on the tests run before it). The infrared locator finds a "plate"
  // in 12 of these 30 images (docs/notes/issue-17.md); what must hold is that none is accepted.
  cv::Mat grey(720, 1280, CV_8UC1);
  for (int seed = 1; seed <= 30; ++seed) {
    cv::RNG rng(static_cast<std::uint64_t>(seed));
    rng.fill(grey, cv::RNG::UNIFORM, 0, 255);
    const auto noise = reader().read(grey);
    INFO("noise seed " << seed << " read " << noise.candidate << " " << noise.confidence);
    CHECK(noise.needs_review);
    CHECK(noise.text.empty());
    CHECK(noise.confidence < PlateReaderConfig{}.review_below);
  }
  CHECK_NOTHROW(reader().read(cv::Mat(3, 3, CV_8UC3, cv::Scalar(255, 0, 0))));
  const auto dir =
      std::filesystem::temp_directory_path() / ("wim_anpr_badmodel_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  CHECK_THROWS_WITH(PlateReader({dir.string()}), Catch::Contains("anpr_province.yml.gz"));
  { std::ofstream(dir / "anpr_province.yml.gz") << "garbage"; }
  CHECK_THROWS_AS(PlateReader({dir.string()}), InputError);
  std::filesystem::remove_all(dir);
}

TEST_CASE("Evidence of a pass: untouched originals, captioned copy, plate close-up") {
  GIVEN("frames of a simulated camera around an overloaded truck's pass") {
    hw::SimCamera cam({{1920, 1080},
                       time::parse_utc("2026-11-27T08:00:00Z"),
                       40'000,
                       Condition::clear_day,
                       31,
                       90,
                       {}});
    cam.set_vehicle(hw::PlateSpec{PlateColour::yellow, "晋E66021"});
    std::vector<hw::Frame> frames;
    for (int i = 0; i < 3; ++i) frames.push_back(*cam.grab());
    frames.push_back(hw::Frame{});  // a frame whose pixels were lost
    PassFacts facts{
        "G017", 2,   time::parse_utc("2026-11-27T08:00:00.080Z"), time::ClockSync::synced, 31250,
        25000,  0.25};
    WHEN("the evidence is built") {
      const auto ev = build_pass_evidence(reader(), frames, facts);
      THEN("the originals are the camera's bytes, hashed, and the plate is read") {
        REQUIRE(ev.attachments.size() == 5);
        for (int i = 0; i < 3; ++i) {
          const auto& a = ev.attachments[static_cast<std::size_t>(i)];
          CHECK(a.name == "frame-0" + std::to_string(i + 1) + ".jpg");
          CHECK(a.bytes == frames[static_cast<std::size_t>(i)].jpeg);
          CHECK(a.sha256_hex == crypto::sha256_hex(a.bytes));
        }
        CHECK(ev.plate.text == "晋E66021");
        CHECK(ev.plate.colour == PlateColour::yellow);
        const auto rp = to_record_plate(ev.plate);
        CHECK(rp.text == "晋E66021");
        CHECK(rp.colour == "yellow");
        CHECK_FALSE(rp.needs_human_review);
        CHECK(attachment_map(ev).size() == 5);
      }
      THEN("the overview carries a caption band and the close-up decodes") {
        const auto& ov = ev.attachments[3];
        CHECK(ov.name == "overview.jpg");
        const cv::Mat img =
            cv::imdecode(std::vector<uchar>(ov.bytes.begin(), ov.bytes.end()), cv::IMREAD_COLOR);
        CHECK(img.cols == 1920);
        CHECK(img.rows > 1080);
        const auto& pl = ev.attachments[4];
        CHECK(pl.name == "plate.jpg");
        CHECK_FALSE(
            cv::imdecode(std::vector<uchar>(pl.bytes.begin(), pl.bytes.end()), cv::IMREAD_COLOR)
                .empty());
        const auto lines = caption_lines(facts, ev.plate);
        CHECK(lines[0] == "G017  lane 2  2026-11-27T08:00:00.080Z  clock synced");
        CHECK(lines[1] == "gross 31250 kg  limit 25000 kg  overload +25.0 %");
        REQUIRE(lines.size() == 3);
        CHECK(lines[2].rfind("plate 晋E66021 yellow, confidence 0.", 0) == 0);
        CHECK(lines[2].find("read automatically") != std::string::npos);
        // The plate line is drawn (with the CJK font): the third line's strip has ink.
        const int band_top = 1080 + (img.rows - 1080) * 2 / 3;
        cv::Mat strip;
        cv::cvtColor(img(cv::Rect(0, band_top, img.cols / 2, img.rows - band_top)), strip,
                     cv::COLOR_BGR2GRAY);
        CHECK(cv::countNonZero(strip > 128) > 200);
      }
      THEN("a plate a human must read is captioned with the reason, never with the guess") {
        PlateRead unsure = ev.plate;
        unsure.needs_review = true;
        unsure.text.clear();
        unsure.candidate = "晋E66028";
        unsure.review_reason = "low confidence 0.61 (< 0.80)";
        const auto lines = caption_lines(facts, unsure);
        REQUIRE(lines.size() == 3);
        CHECK(lines[2] == "plate yellow, to be read by a human: low confidence 0.61 (< 0.80)");
        PlateRead none;
        CHECK(caption_lines(facts, none)[2] == "plate not found: to be read by a human");
      }
    }
  }
}

namespace {
// Dense traffic as one camera over two lanes sees it: the weighed truck in lane 1 (left
// half), another in lane 2 beside it, and a car close behind in lane 1 (smaller, higher).
hw::Scene dense_scene(Condition c, unsigned seed) {
  std::vector<hw::VehicleInView> v(3);
  v[0].plate = {PlateColour::yellow, "冀B7G285"};
  v[1].plate = {PlateColour::blue, "京A12345"};
  v[2].plate = {PlateColour::green, "粤BD12345"};
  v[0].centre_x = v[2].centre_x = 0.25;
  v[1].centre_x = 0.75;
  v[2].follower = true;
  std::mt19937 rng(seed);
  auto scene = renderer().render_traffic(v, c, rng);
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", scene.image, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
  scene.image = cv::imdecode(jpeg, cv::IMREAD_COLOR);
  return scene;
}
LaneRegion lane_region(int lane) {  // the lower part of the lane's half of the frame
  return {cv::Rect2d(lane == 1 ? 0.0 : 0.5, 0.45, 0.5, 0.55), false};
}
}  // namespace

TEST_CASE(
    "Dense traffic: each lane's region gives that lane's plate, without regions two sure plates go "
    "to a human") {
  int lane1_exact = 0, lane2_exact = 0, two_plates = 0;
  for (unsigned seed = 1; seed <= 6; ++seed) {
    const auto scene = dense_scene(Condition::clear_day, seed);
    REQUIRE(scene.plates.size() == 3);
    CHECK(scene.plate.text == "冀B7G285");
    ReadOptions lane1, lane2;
    lane1.roi = lane_region(1);
    lane2.roi = lane_region(2);
    const auto r1 = reader().read(scene.image, lane1);
    const auto r2 = reader().read(scene.image, lane2);
    const auto all = reader().read(scene.image);
    // Never the other vehicle's plate: an accepted text is the lane's own.
    if (!r1.needs_review) CHECK(r1.text == "冀B7G285");
    if (!r2.needs_review) CHECK(r2.text == "京A12345");
    lane1_exact += r1.text == "冀B7G285";
    lane2_exact += r2.text == "京A12345";
    // The whole frame: both near plates are readable, so no plate is accepted.
    if (!all.needs_review) CHECK(all.other_plate.empty());
    INFO("seed " << seed << ": " << all.review_reason);
    if (r1.text == "冀B7G285" && r2.text == "京A12345") {
      CHECK(all.needs_review);
      CHECK(all.text.empty());
      CHECK(all.review_reason.find("冀B7G285") != std::string::npos);
      CHECK(all.review_reason.find("京A12345") != std::string::npos);
      two_plates += 1;
    }
  }
  CHECK(lane1_exact >= 5);
  CHECK(lane2_exact >= 5);
  CHECK(two_plates >= 4);
}

TEST_CASE("The dusk green plate whose G was read as C is read right or sent to a human") {
  // anpr_bench night set (ANPR_BENCH_CONDITIONS=night_ir,dusk, 500 per condition, seed 90211),
  // dusk #303: 黑ZFG2121, green. The reader of 2026-11-29 morning (one-typeface model)
  // accepted it as 黑ZFC2121 at 0.879. The file is that decoded frame cut to the plate and 80
  // px around it (399×246 at 698,668), saved as JPEG quality 95 (branch anpr7c); the old
  // reader still accepted it wrong (0.863).
  const auto path = std::filesystem::path(WIM_SOURCE_DIR) /
                    "tests/data/anpr-cases/dusk-green-ZFG2121-read-as-C.jpg";
  const cv::Mat frame = cv::imread(path.string(), cv::IMREAD_COLOR);
  REQUIRE(frame.size() == cv::Size(399, 246));
  const auto r = reader().read(frame);
  INFO("read '" << r.candidate << "' at " << r.confidence);
  REQUIRE(r.found);
  CHECK(hw::split_utf8(r.candidate).size() == 8);
  if (!r.needs_review) {
    CHECK(r.text == "黑ZFG2121");
    CHECK(r.colour == PlateColour::green);
  } else {
    CHECK(r.text.empty());
  }
}

TEST_CASE("A blurred province character read as another is not accepted") {
  // anpr_bench seed 55555, motion_blur #161: 青G44407, yellow. With the province confidence at
  // slope 3 (as letters and digits) it was accepted as 藏G44407 at 0.857.
  const auto path = std::filesystem::path(WIM_SOURCE_DIR) /
                    "tests/data/anpr-cases/blur-yellow-QG44407-province-misread.jpg";
  const cv::Mat frame = cv::imread(path.string(), cv::IMREAD_COLOR);
  REQUIRE(frame.size() == cv::Size(960, 552));  // jpegtran keeps whole 16-px blocks
  const auto r = reader().read(frame);
  INFO("read '" << r.candidate << "' at " << r.confidence);
  REQUIRE(r.found);
  if (!r.needs_review) {
    CHECK(r.text == "青G44407");
  } else {
    CHECK(r.text.empty());
  }
}
