// SPDX-License-Identifier: Apache-2.0
// The plate reader as a tool: `wim-edge read-plate` (JSON per image, --pass, --truth) and
// `wim-sim plates` (generated sets + truth.tsv), run as the real programs, and the shared
// plate-set code (wim/hw/plate_set.hpp).
#include <unistd.h>

#include <array>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "../run_command.hpp"
#include "wim/common/error.hpp"
#include "wim/hw/plate_set.hpp"

namespace fs = std::filesystem;
namespace bj = boost::json;
using namespace wim;

namespace {

const std::string kEdge = std::string(WIM_TEST_EMULATOR) + WIM_BINARY_DIR + "/edge/wim-edge";
const std::string kSim = std::string(WIM_TEST_EMULATOR) + WIM_BINARY_DIR + "/hw/wim-sim";
const fs::path kKnown = fs::path(WIM_SOURCE_DIR) / "tests/data/anpr";
const std::string kModel = std::string("--model ") + WIM_ANPR_MODEL_DIR + " ";

struct Out {
  int status = -1;
  std::vector<bj::object> lines;  // stdout's JSON lines
  std::string out, err;
};

fs::path fresh_dir(const std::string& name) {
  const auto d =
      fs::temp_directory_path() / ("wim_read_plate_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs a program line; stdout and stderr apart.
Out run(const std::string& args, const fs::path& scratch) {
  const fs::path err = scratch / "stderr.txt";
  const auto r = test::run_command("( " + args + " 2>" + err.string() + " )");
  Out o;
  o.status = r.status;
  o.out = r.out;
  o.err = slurp(err);
  std::size_t at = 0;
  while (at < r.out.size()) {
    const auto end = std::min(r.out.find('\n', at), r.out.size());
    const std::string line = r.out.substr(at, end - at);
    if (!line.empty() && line[0] == '{') o.lines.push_back(bj::parse(line).as_object());
    at = end + 1;
  }
  return o;
}

std::map<std::string, hw::PlateTruth> truth_by_file(const fs::path& tsv) {
  std::map<std::string, hw::PlateTruth> m;
  for (auto& t : hw::read_plate_truth(tsv)) m[t.file] = t;
  return m;
}

}  // namespace

TEST_CASE("read-plate reads every known image on disk exactly with every JSON field") {
  const auto dir = fresh_dir("known");
  const auto truth = truth_by_file(kKnown / "truth.tsv");
  REQUIRE(truth.size() == 12);
  std::map<std::string, std::array<cv::Point2f, 4>> scenes;
  hw::PlateSetGenerator gen(7077, false, 0);
  for (std::size_t k = 0; k < hw::kConditions.size(); ++k)
    for (std::size_t j = 0; j < 2; ++j) {
      const auto scene = gen.next(hw::kConditions[k], hw::kPlateColours[(2 * k + j) % 4]);
      for (const auto& [file, t] : truth)
        if (t.text == scene.plate.text) scenes[file] = scene.corners;
    }
  REQUIRE(scenes.size() == 12);
  const Out o = run(kEdge + " read-plate " + kModel + kKnown.string(), dir);
  INFO(o.err);
  CHECK(o.status == 0);
  REQUIRE(o.lines.size() == 12);
  std::string previous;
  for (const auto& j : o.lines) {
    const fs::path file = std::string(j.at("file").as_string());
    INFO(file);
    CHECK(file.string() > previous);  // a folder is read in name order
    previous = file.string();
    const auto& t = truth.at(file.filename().string());
    CHECK(j.at("found").as_bool());
    CHECK(j.at("text").as_string() == t.text);
    CHECK(j.at("candidate").as_string() == t.text);
    CHECK(j.at("colour").as_string() == hw::to_string(t.colour));
    CHECK(j.at("colour_from_pixels").as_bool() == (t.condition != hw::Condition::night_ir));
    CHECK_FALSE(j.at("needs_review").as_bool());
    CHECK(j.at("review_reason").as_string() == "");
    const double conf = j.at("confidence").to_number<double>();
    CHECK(conf >= 0.80);
    CHECK(conf <= 1.0);
    const auto& cc = j.at("char_confidence").as_array();
    CHECK(cc.size() == hw::split_utf8(t.text).size());
    for (const auto& c : cc) CHECK(c.to_number<double>() >= conf - 1e-9);
    const auto& box = j.at("box").as_array();
    REQUIRE(box.size() == 4);
    const cv::Rect got(box[0].to_number<int>(), box[1].to_number<int>(), box[2].to_number<int>(),
                       box[3].to_number<int>());
    // the box is where the plate is: the set's scenes again (anpr_testdata: seed 7077, two
    // colours per condition), their plate corners against the box read
    const cv::Rect want = cv::boundingRect(
        std::vector<cv::Point2f>(scenes.at(t.file).begin(), scenes.at(t.file).end()));
    INFO("box " << got << " plate " << want);
    CHECK((got & want).area() >= 0.5 * (got | want).area());
    CHECK(j.at("ms").to_number<double>() > 0);
  }
  fs::remove_all(dir);
}

TEST_CASE("read-plate without --model finds the model beside the installed program") {
  const auto dir = fresh_dir("installed");
  // The .deb layout: <prefix>/bin/wim-edge and <prefix>/share/wim/anpr/ (a hard link of the
  // built program, so /proc/self/exe names the prefix).
  const fs::path prefix =
      fs::path(WIM_BINARY_DIR) / ("read_plate_prefix_" + std::to_string(::getpid()));
  fs::remove_all(prefix);
  fs::create_directories(prefix / "bin");
  fs::create_directories(prefix / "share/wim/anpr");
  std::error_code ec;
  fs::create_hard_link(fs::path(WIM_BINARY_DIR) / "edge/wim-edge", prefix / "bin/wim-edge", ec);
  if (ec) fs::copy_file(fs::path(WIM_BINARY_DIR) / "edge/wim-edge", prefix / "bin/wim-edge");
  const std::string prog = std::string(WIM_TEST_EMULATOR) + (prefix / "bin/wim-edge").string();
  const std::string frame = (kKnown / "01-blue-clear_day.jpg").string();
  SECTION("a broken model there is the one tried (not the build's)") {
    for (const char* f : {"anpr_province.yml.gz", "anpr_alnum.yml.gz"})
      std::ofstream(prefix / "share/wim/anpr" / f) << "not a model";
    const Out o = run(prog + " read-plate " + frame, dir);
    CHECK(o.status == 2);
    CHECK_THAT(o.err, Catch::Contains((prefix / "share/wim/anpr/anpr_province.yml.gz").string()));
  }
  SECTION("the model there reads") {
    for (const char* f : {"anpr_province.yml.gz", "anpr_alnum.yml.gz"})
      fs::copy_file(fs::path(WIM_ANPR_MODEL_DIR) / f, prefix / "share/wim/anpr" / f);
    const Out o = run(prog + " read-plate " + frame, dir);
    INFO(o.err);
    CHECK(o.status == 0);
    REQUIRE(o.lines.size() == 1);
    CHECK(o.lines[0].at("text").as_string() == "青S38938");
  }
  SECTION("the build tree's program falls back to the build's model") {
    const Out o = run(kEdge + " read-plate " + frame, dir);
    INFO(o.err);
    CHECK(o.status == 0);
    REQUIRE(o.lines.size() == 1);
    CHECK(o.lines[0].at("text").as_string() == "青S38938");
  }
  fs::remove_all(prefix);
  fs::remove_all(dir);
}

TEST_CASE("read-plate names a corrupt or cut JPEG and reads the rest") {
  const auto dir = fresh_dir("corrupt");
  const fs::path imgs = dir / "frames";
  fs::create_directories(imgs);
  fs::copy_file(kKnown / "01-blue-clear_day.jpg", imgs / "a.jpg");
  fs::copy_file(kKnown / "04-green-dusk.jpg", imgs / "d.JPG");
  const std::string whole = slurp(kKnown / "02-yellow-clear_day.jpg");
  std::ofstream(imgs / "b-cut.jpg", std::ios::binary) << whole.substr(0, whole.size() / 2);
  std::ofstream(imgs / "c-text.png") << "this is not an image";
  std::ofstream(imgs / "notes.txt") << "not read: not an image name";
  const Out o = run(
      kEdge + " read-plate " + kModel + imgs.string() + " " + (dir / "missing.jpg").string(), dir);
  INFO(o.err);
  CHECK(o.status == 1);
  CHECK_THAT(o.err, Catch::Contains("b-cut.jpg: corrupt JPEG"));
  CHECK_THAT(o.err, Catch::Contains("c-text.png: not a decodable"));
  CHECK_THAT(o.err, Catch::Contains("missing.jpg: cannot open"));
  CHECK_THAT(o.err, !Catch::Contains("notes.txt"));
  REQUIRE(o.lines.size() == 2);
  CHECK(o.lines[0].at("text").as_string() == "青S38938");
  CHECK(o.lines[1].at("text").as_string() == "渝XF77615");
  fs::remove_all(dir);
}

TEST_CASE("read-plate --truth scores the run and counts a wrong truth line as accepted wrong") {
  const auto dir = fresh_dir("truth");
  const auto truth = hw::read_plate_truth(kKnown / "truth.tsv");
  SECTION("the right truth: all exact, exit 0") {
    const Out o = run(kEdge + " read-plate " + kModel + "--truth " +
                          (kKnown / "truth.tsv").string() + " " + kKnown.string(),
                      dir);
    INFO(o.err);
    CHECK(o.status == 0);
    REQUIRE(o.lines.size() == 13);
    const auto& s = o.lines.back().at("score").as_object();
    CHECK(s.at("images").to_number<int>() == 12);
    CHECK(s.at("exact").to_number<int>() == 12);
    CHECK(s.at("chars_pct").to_number<double>() == 100.0);
    CHECK(s.at("accepted_wrong").to_number<int>() == 0);
    CHECK(s.at("to_human").to_number<int>() == 0);
    CHECK(s.at("wrong_accepted").as_array().empty());
    for (auto c : hw::kConditions)
      CHECK(s.at("by_condition").at(hw::to_string(c)).at("exact").to_number<int>() == 2);
    for (auto c : hw::kPlateColours)
      CHECK(s.at("by_colour").at(hw::to_string(c)).at("images").to_number<int>() == 3);
    for (std::size_t i = 0; i < 12; ++i) CHECK(o.lines[i].at("right").as_bool());
    CHECK_THAT(o.err, Catch::Contains("all"));
  }
  SECTION("one plate's truth changed by one character: that read counts as accepted wrong") {
    // the frames in another folder: the truth's names are matched by file name
    std::ofstream tsv(dir / "truth.tsv");
    tsv << "# a deliberately wrong line: 05's last character\n";
    std::string fake;
    for (auto t : truth) {
      if (t.file == "05-blue-night_ir.jpg") {
        t.text.back() = t.text.back() == '1' ? '2' : '1';
        fake = t.text;
      }
      if (t.file != "12-green-dirt.jpg") tsv << hw::plate_truth_line(t);  // 12: no line
    }
    tsv.close();
    const Out o = run(kEdge + " read-plate " + kModel + "--truth " + (dir / "truth.tsv").string() +
                          " " + kKnown.string(),
                      dir);
    CHECK(o.status == 1);
    REQUIRE(o.lines.size() == 13);
    const auto& s = o.lines.back().at("score").as_object();
    CHECK(s.at("images").to_number<int>() == 11);
    CHECK(s.at("exact").to_number<int>() == 10);
    CHECK(s.at("accepted_wrong").to_number<int>() == 1);
    CHECK(s.at("no_truth").to_number<int>() == 1);
    CHECK(s.at("chars_pct").to_number<double>() < 100.0);
    CHECK(s.at("by_condition").at("night_ir").at("accepted_wrong").to_number<int>() == 1);
    CHECK(s.at("by_colour").at("blue").at("exact").to_number<int>() == 2);
    const auto& w = s.at("wrong_accepted").as_array();
    REQUIRE(w.size() == 1);
    CHECK_THAT(std::string(w[0].at("file").as_string()), Catch::EndsWith("05-blue-night_ir.jpg"));
    CHECK(w[0].at("truth").as_string() == fake);
    CHECK(w[0].at("read").as_string() == "陕U1B666");
    CHECK_THAT(o.err,
               Catch::Contains("accepted wrong: " + (kKnown / "05-blue-night_ir.jpg").string()));
    CHECK_THAT(o.err, Catch::Contains("12-green-dirt.jpg: no line in"));
  }
  SECTION("a bad truth line is named with its line number, exit 2") {
    std::ofstream(dir / "bad.tsv")
        << "# comment\n01-blue-clear_day.jpg\tpurple\tclear_day\t青S38938\n";
    const Out o = run(kEdge + " read-plate " + kModel + "--truth " + (dir / "bad.tsv").string() +
                          " " + kKnown.string(),
                      dir);
    CHECK(o.status == 2);
    CHECK_THAT(o.err, Catch::Contains("bad.tsv:2: plate colour 'purple'"));
    CHECK(o.lines.empty());
  }
  fs::remove_all(dir);
}

TEST_CASE("read-plate --pass votes the frames of one pass into one line") {
  const auto dir = fresh_dir("pass");
  // two frames of the plate and the empty road after the vehicle has gone
  hw::PlateRenderer renderer;
  std::mt19937 rng(11);
  cv::imwrite((dir / "3-empty.jpg").string(), renderer.render_empty(hw::Condition::clear_day, rng));
  fs::copy_file(kKnown / "02-yellow-clear_day.jpg", dir / "1.jpg");
  fs::copy_file(kKnown / "02-yellow-clear_day.jpg", dir / "2.jpg");
  const Out alone = run(kEdge + " read-plate " + kModel + (dir / "3-empty.jpg").string(), dir);
  REQUIRE(alone.lines.size() == 1);
  CHECK(alone.lines[0].at("needs_review").as_bool());  // the empty road alone: to a human
  CHECK(alone.lines[0].at("text").as_string() == "");
  const Out o = run(kEdge + " read-plate --pass " + kModel + dir.string(), dir);
  INFO(o.err);
  CHECK(o.status == 0);
  REQUIRE(o.lines.size() == 1);
  const auto& j = o.lines[0];
  CHECK(j.at("files").as_array().size() == 3);
  CHECK(j.at("frames_read").to_number<int>() >= 2);
  CHECK(j.at("text").as_string() == "川X2M387");
  CHECK(j.at("colour").as_string() == "yellow");
  CHECK_FALSE(j.at("needs_review").as_bool());
  SECTION("--pass does not go with --truth") {
    const Out bad = run(kEdge + " read-plate --pass --truth " + (kKnown / "truth.tsv").string() +
                            " " + kModel + dir.string(),
                        dir);
    CHECK(bad.status == 2);
    CHECK_THAT(bad.err, Catch::Contains("--pass"));
  }
  fs::remove_all(dir);
}

TEST_CASE("read-plate refuses bad usage and a missing model with exit 2") {
  const auto dir = fresh_dir("usage");
  const std::string frame = (kKnown / "01-blue-clear_day.jpg").string();
  struct Case {
    std::string args, says;
  };
  fs::create_directories(dir / "empty");
  for (const Case& c : std::vector<Case>{
           {"", "no IMAGE or DIR given"},
           {"--review-below 0 " + frame, "--review-below must be within (0, 1]"},
           {"--review-below 1.5 " + frame, "--review-below must be within (0, 1]"},
           {"--bogus " + frame, "--bogus"},
           {"--model " + (dir / "nomodel").string() + " " + frame, "anpr_province.yml.gz"},
           {"--truth " + (dir / "none.tsv").string() + " " + frame, "cannot read the truth file"},
           {(dir / "empty").string(), "no JPEG or PNG image"},
           {"--crop purple " + frame, "purple"},
           {"--crop blue --pass " + frame, "--crop reads single plate crops"},
           {"--ocr " + (dir / "noocr").string() + " " + frame, "--ocr reads plate crops"},
           {"--crop blue --ocr " + (dir / "noocr").string() + " " + frame, "anpr_ocr.onnx"},
       }) {
    INFO(c.args);
    const Out o = run(kEdge + " read-plate " + c.args, dir);
    CHECK(o.status == 2);
    CHECK_THAT(o.err, Catch::Contains(c.says));
    CHECK(o.lines.empty());
  }
  const Out help = run(kEdge + " read-plate --help", dir);
  CHECK(help.status == 0);
  CHECK_THAT(help.out, Catch::Contains("--truth"));
  const Out list = run(kEdge + " --help", dir);
  CHECK_THAT(list.out, Catch::Contains("read-plate"));
  fs::remove_all(dir);
}

TEST_CASE("wim-sim plates writes N frames whose truth the reader reads") {
  const auto dir = fresh_dir("sim");
  const fs::path set = dir / "set";
  const Out o = run(kSim + " plates --out " + set.string() +
                        " --count 8 --seed 424242 --conditions clear_day,dusk",
                    dir);
  INFO(o.err);
  REQUIRE(o.status == 0);
  const auto truth = hw::read_plate_truth(set / "truth.tsv");
  REQUIRE(truth.size() == 8);
  // the generator's frames in the benchmark's order: 4 per condition, colours in turn
  hw::PlateSetGenerator gen(424242, false, 424243);
  for (std::size_t i = 0; i < 8; ++i) {
    const auto cond = i < 4 ? hw::Condition::clear_day : hw::Condition::dusk;
    const auto colour = hw::kPlateColours[i % 4];
    const auto scene = gen.next(cond, colour);
    INFO(truth[i].file);
    CHECK(truth[i].condition == cond);
    CHECK(truth[i].colour == colour);
    CHECK(truth[i].text == scene.plate.text);
    CHECK(truth[i].file == "000" + std::to_string(i + 1) + "-" +
                               std::string(hw::to_string(colour)) + "-" +
                               std::string(hw::to_string(cond)) + ".jpg");
    const cv::Mat img = cv::imread((set / truth[i].file).string());
    CHECK(img.size() == cv::Size(1920, 1080));
  }
  const Out r = run(kEdge + " read-plate " + kModel + "--truth " + (set / "truth.tsv").string() +
                        " " + set.string(),
                    dir);
  INFO(r.err);
  CHECK(r.status == 0);
  REQUIRE(r.lines.size() == 9);
  const auto& s = r.lines.back().at("score").as_object();
  CHECK(s.at("images").to_number<int>() == 8);
  CHECK(s.at("accepted_wrong").to_number<int>() == 0);
  CHECK(s.at("exact").to_number<int>() >= 7);  // clear day and dusk: 95-100 % on the benchmark
  SECTION("the same seed gives the same frames, the stress set the same plates") {
    const Out again = run(kSim + " plates --out " + (dir / "again").string() +
                              " --count 8 --seed 424242 --conditions clear_day,dusk",
                          dir);
    REQUIRE(again.status == 0);
    const Out stress = run(kSim + " plates --stress --out " + (dir / "stress").string() +
                               " --count 8 --seed 424242 --conditions clear_day,dusk",
                           dir);
    REQUIRE(stress.status == 0);
    const auto st = hw::read_plate_truth(dir / "stress/truth.tsv");
    REQUIRE(st.size() == 8);
    for (std::size_t i = 0; i < 8; ++i) {
      CHECK(slurp(set / truth[i].file) == slurp(dir / "again" / truth[i].file));
      CHECK(st[i].text == truth[i].text);
      CHECK(slurp(set / truth[i].file) != slurp(dir / "stress" / st[i].file));
    }
  }
  fs::remove_all(dir);
}

TEST_CASE("wim-sim plates refuses a non-empty folder and bad arguments with exit 2") {
  const auto dir = fresh_dir("simargs");
  const fs::path set = dir / "set";
  REQUIRE(
      run(kSim + " plates --out " + set.string() + " --count 3 --conditions glare", dir).status ==
      0);
  std::ofstream(set / "keep.txt") << "someone's notes";
  struct Case {
    std::string args, says;
  };
  for (const Case& c : std::vector<Case>{
           {"--out " + set.string() + " --count 2", "is not empty (--force"},
           {"--out " + (dir / "x").string() + " --count 2 --conditions dusk,fog",
            "'fog' is not a condition"},
           {"--out " + (dir / "x").string() + " --count 0", "--count must be at least 1"},
           {"--out " + (dir / "x").string() + " --count 2 --quality 0", "--quality"},
           {"--count 2", "--out"},
           {"--out " + (dir / "x").string() + " --count 2 --fonts nocomma",
            "'nocomma' is not PROVINCE_FONT,ALNUM_FONT"},
           {"--out " + (dir / "x").string() + " --count 2 --fonts /no/p.ttf,/no/a.ttf",
            "/no/p.ttf"},
       }) {
    INFO(c.args);
    const Out o = run(kSim + " plates " + c.args, dir);
    CHECK(o.status == 2);
    CHECK_THAT(o.err, Catch::Contains(c.says));
  }
  CHECK_FALSE(fs::exists(dir / "x"));
  const Out forced =
      run(kSim + " plates --force --out " + set.string() + " --count 1 --conditions dirt", dir);
  CHECK(forced.status == 0);
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(set)) names.insert(e.path().filename().string());
  CHECK(names == std::set<std::string>{"0001-blue-dirt.jpg", "keep.txt", "truth.tsv"});
  fs::remove_all(dir);
}

TEST_CASE("Plate set conditions and counts are parsed and spread as the benchmark does") {
  CHECK(hw::parse_conditions("night_ir,dusk") ==
        std::vector<hw::Condition>{hw::Condition::night_ir, hw::Condition::dusk});
  CHECK_THROWS_WITH(hw::parse_conditions("dusk,,glare"), Catch::Contains("'' is not a condition"));
  CHECK_THROWS_AS(hw::condition_from_string("rain"), InputError);
  CHECK(hw::spread_count(600, 6) == std::vector<int>(6, 100));
  CHECK(hw::spread_count(8, 6) == std::vector<int>{2, 2, 1, 1, 1, 1});
  const auto plan = hw::bench_plan({hw::Condition::glare}, {5});
  REQUIRE(plan.size() == 5);
  CHECK(plan[4].colour == hw::PlateColour::blue);
  CHECK(plan[3].colour == hw::PlateColour::green);
}
