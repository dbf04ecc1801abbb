// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "wim/common/error.hpp"
#include "wim/hw/camera.hpp"
#include "wim/hw/camera_opencv.hpp"
#include "wim/hw/camera_sim.hpp"

using namespace wim;
using namespace wim::hw;
namespace fs = std::filesystem;

namespace {
fs::path fresh_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("wim_camera_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
void write_jpeg(const fs::path& p, int shade) {
  cv::imwrite(p.string(), cv::Mat(48, 64, CV_8UC3, cv::Scalar(shade, 255 - shade, 90)));
}
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST_CASE("The camera pass time follows from the camera offset and the speed") {
  // 72 km/h = 20 m/s: 10 m downstream is 0.5 s later, 4 m upstream 0.2 s earlier.
  CHECK(camera_pass_time_us(1'000'000, 10.0, 72.0) == 1'500'000);
  CHECK(camera_pass_time_us(1'000'000, -4.0, 72.0) == 800'000);
  CHECK_THROWS_AS(camera_pass_time_us(0, 10.0, 0.0), InputError);
  CHECK_THROWS_WITH(camera_pass_time_us(0, 10.0, -5.0), Catch::Contains("speed_kmh"));
}

TEST_CASE("Frames around a trigger are picked from the ring") {
  GIVEN("a ring of 50 frames at 25 fps, of which the oldest 10 were pushed out") {
    FrameRing ring(50);
    for (int i = 0; i < 60; ++i) {
      Frame f;
      f.utc_us = 10'000'000 + i * 40'000;
      f.seq = static_cast<std::uint64_t>(i + 1);
      ring.push(f);
    }
    CHECK(ring.size() == 50);
    CHECK(ring.dropped() == 10);
    WHEN("a vehicle crosses the sensors at 11.0 s at 72 km/h, camera 6 m downstream") {
      const auto t = camera_pass_time_us(11'000'000, 6.0, 72.0);  // 11.3 s
      const auto picked = ring.select(t, {100'000, 100'000, 10});
      THEN("the frames within 100 ms of 11.3 s come back in time order") {
        std::vector<std::uint64_t> seqs;
        for (const auto& f : picked) seqs.push_back(f.seq);
        // frame i at 10 s + 40 ms·i: 11.2 s .. 11.4 s is i = 30..35 -> seq 31..36
        CHECK(seqs == std::vector<std::uint64_t>{31, 32, 33, 34, 35, 36});
      }
    }
    WHEN("fewer frames are wanted than the window holds") {
      const auto picked = ring.select(11'310'000, {200'000, 200'000, 3});
      THEN("the three nearest to the pass time are kept") {
        REQUIRE(picked.size() == 3);
        CHECK(picked[0].utc_us == 11'280'000);
        CHECK(picked[1].utc_us == 11'320'000);
        CHECK(picked[2].utc_us == 11'360'000);
      }
    }
    WHEN("the pass is older than anything in the ring") {
      THEN("nothing is picked") {
        CHECK(ring.select(10'100'000, {50'000, 50'000, 5}).empty());
      }
    }
  }
  CHECK_THROWS_AS(FrameRing(0), InputError);
}

TEST_CASE("A folder of images replays, skips corrupt images with a clear error") {
  const auto dir = fresh_dir("folder");
  write_jpeg(dir / "a.jpg", 10);
  write_jpeg(dir / "b.jpg", 100);
  { std::ofstream(dir / "c.jpg") << "this is not a jpeg"; }
  write_jpeg(dir / "d.jpg", 200);
  OpenCvCamera cam({dir.string(), false, 1000, 4000});
  CHECK(classify_uri(dir.string()) == SourceKind::image_folder);
  std::vector<Frame> got;
  for (int i = 0; i < 10; ++i)
    if (auto f = cam.grab()) got.push_back(*f);
  REQUIRE(got.size() == 3);
  CHECK(got[0].jpeg == slurp(dir / "a.jpg"));  // the original bytes, untouched
  CHECK(got[2].jpeg == slurp(dir / "d.jpg"));
  CHECK(got[0].seq == 1);
  CHECK(got[2].seq == 3);
  CHECK(got[1].utc_us >= got[0].utc_us);
  CHECK(got[0].image.size() == cv::Size(64, 48));
  const auto st = cam.status();
  CHECK(st.frames == 3);
  CHECK(st.decode_errors == 1);
  CHECK(cam.ended());
  CHECK_THAT(st.last_error, Catch::Contains("end of input"));
  fs::remove_all(dir);
}

TEST_CASE("A source that disappears is reopened with backoff and reported") {
  GIVEN("a looping folder source") {
    const auto dir = fresh_dir("reconnect");
    write_jpeg(dir / "1.jpg", 30);
    write_jpeg(dir / "2.jpg", 60);
    OpenCvCamera cam({dir.string(), true, 1000, 4000});
    REQUIRE(cam.grab());
    REQUIRE(cam.grab());
    REQUIRE(cam.grab());  // looped
    CHECK(cam.status().reconnects == 0);
    WHEN("the folder vanishes") {
      fs::remove_all(dir);
      int none = 0;
      for (int i = 0; i < 5; ++i) {
        none += !cam.grab().has_value();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // let reopen attempts fail
      }
      THEN("no frame comes, the drop is counted and named") {
        CHECK(none == 5);
        const auto st = cam.status();
        CHECK_FALSE(st.connected);
        CHECK(st.read_failures >= 1);
        CHECK_THAT(st.last_error, Catch::Contains(dir.string()));
      }
      AND_WHEN("it comes back") {
        fs::create_directories(dir);
        write_jpeg(dir / "3.jpg", 90);
        std::optional<Frame> f;
        for (int i = 0; i < 200 && !f; ++i) {
          f = cam.grab();
          if (!f) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        THEN("frames flow again and one reconnect is counted") {
          REQUIRE(f);
          CHECK(cam.status().connected);
          CHECK(cam.status().reconnects == 1);
          CHECK(cam.status().open_failures >= 1);
        }
      }
    }
    fs::remove_all(dir);
  }
}

TEST_CASE("A video file is read to its end and a missing one is retried and named") {
  const auto dir = fresh_dir("video");
  const auto file = dir / "pass.avi";
  {
    cv::VideoWriter w(file.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 25, {64, 48});
    REQUIRE(w.isOpened());
    for (int i = 0; i < 5; ++i) w.write(cv::Mat(48, 64, CV_8UC3, cv::Scalar(i * 40, 0, 0)));
  }
  OpenCvCamera cam({file.string(), false, 1000, 4000});
  int frames = 0;
  for (int i = 0; i < 10; ++i) frames += cam.grab().has_value();
  CHECK(frames == 5);
  CHECK(cam.ended());
  OpenCvCamera missing({(dir / "gone.avi").string(), false, 1000, 4000});
  CHECK_FALSE(missing.grab());
  CHECK(missing.status().open_failures == 1);
  CHECK_THAT(missing.status().last_error, Catch::Contains("gone.avi"));
  CHECK(missing.status().retry_backoff_us == 1000);
  CHECK_THROWS_AS(OpenCvCamera({"", false, 1000, 4000}), InputError);
  fs::remove_all(dir);
}

TEST_CASE("Plates are checked against their layout and the plate alphabet") {
  PlateRenderer r;
  CHECK(r.render_plate({PlateColour::blue, "京A12345"}, 0.5).size() == cv::Size(220, 70));
  CHECK(r.render_plate({PlateColour::green, "粤BD12345"}, 0.5).size() == cv::Size(240, 70));
  CHECK(r.render_plate({PlateColour::yellow_double, "鲁C1234K"}, 0.5).size() == cv::Size(220, 110));
  CHECK_THROWS_WITH(r.render_plate({PlateColour::blue, "京A1234"}, 0.5),
                    Catch::Contains("7 characters"));
  CHECK_THROWS_WITH(r.render_plate({PlateColour::blue, "京AO2345"}, 0.5),
                    Catch::Contains("character 3"));
  CHECK_THROWS_AS(split_utf8("\xE4\xBA"), InputError);
  CHECK(split_utf8("京A1") == std::vector<std::string>{"京", "A", "1"});
  std::mt19937 rng(3);
  for (int i = 0; i < 200; ++i) {
    const auto p = r.random_plate(rng);
    CHECK(p.text.find_first_of("IO") == std::string::npos);
    CHECK_NOTHROW(r.render_plate(p, 0.3));
  }
  PlateFonts missing;
  missing.province_font = "/nonexistent/font.ttc";
  CHECK_THROWS_WITH(PlateRenderer(missing), Catch::Contains("/nonexistent/font.ttc"));
  PlateFonts bad_face;
  bad_face.more_alnum_fonts = {PlateFonts{}.alnum_font + "#x"};
  CHECK_THROWS_WITH(PlateRenderer(bad_face), Catch::Contains("is not a face number"));
}

TEST_CASE("A renderer with several typefaces draws each plate with one of them") {
  PlateFonts fonts;
  // The same typeface twice, once as face 0 of itself: what differs is only the index drawn.
  fonts.more_province_fonts = {fonts.province_font + "#0"};
  fonts.more_alnum_fonts = {"/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"};
  const PlateRenderer r(fonts);
  std::mt19937 rng(11);
  std::set<int> province, alnum;
  for (int i = 0; i < 40; ++i) {
    const auto p = r.random_plate(rng);
    province.insert(p.province_font);
    alnum.insert(p.alnum_font);
  }
  CHECK(province == std::set<int>{0, 1});
  CHECK(alnum == std::set<int>{0, 1});
  // Different letter/digit typefaces give different pixels for the same text.
  PlateSpec a{PlateColour::blue, "京A12345", 0, 0}, b{PlateColour::blue, "京A12345", 0, 1};
  cv::Mat diff;
  cv::absdiff(r.render_plate(a, 2.0), r.render_plate(b, 2.0), diff);
  CHECK(cv::countNonZero(diff.reshape(1) > 60) > 300);
  PlateSpec out_of_range{PlateColour::blue, "京A12345", 0, 2};
  CHECK_THROWS_WITH(r.render_plate(out_of_range, 0.5), Catch::Contains("is not one of"));
}

TEST_CASE("The simulated camera renders the passing vehicle and its faults") {
  SimCamera cam({{640, 360}, 1'000'000, 40'000, Condition::clear_day, 5, 90, {}});
  auto empty = cam.grab();
  REQUIRE(empty);
  CHECK_FALSE(cam.last_scene()->has_plate);
  cam.set_vehicle(PlateSpec{PlateColour::yellow, "苏E12345"});
  auto f = cam.grab();
  REQUIRE(f);
  CHECK(f->utc_us == 1'040'000);
  CHECK(f->image.size() == cv::Size(640, 360));
  CHECK(cv::imdecode(std::vector<uchar>(f->jpeg.begin(), f->jpeg.end()), cv::IMREAD_COLOR).size() ==
        cv::Size(640, 360));
  CHECK(cam.last_scene()->plate.text == "苏E12345");
  cam.fail_next(2);
  CHECK_FALSE(cam.grab());
  CHECK_FALSE(cam.status().connected);
  CHECK_FALSE(cam.grab());
  cam.corrupt_next(1);
  CHECK_FALSE(cam.grab());
  CHECK(cam.status().decode_errors == 1);
  CHECK_THAT(cam.status().last_error, Catch::Contains("not a decodable JPEG"));
  auto back = cam.grab();
  REQUIRE(back);
  CHECK(back->utc_us == 1'000'000 + 5 * 40'000);
  CHECK(cam.status().reconnects == 1);
  CHECK(cam.status().read_failures == 2);
}
