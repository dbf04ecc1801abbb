// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <sstream>

#include "wim/common/error.hpp"
#include "wim/hw/replay_source.hpp"

using namespace wim;
using namespace wim::hw;
using namespace std::chrono_literals;

namespace {
std::unique_ptr<ReplaySource> replay(const std::string& text, std::size_t rows) {
  static std::vector<std::unique_ptr<std::istringstream>> keep;  // outlive the reader
  keep.push_back(std::make_unique<std::istringstream>(text));
  return std::make_unique<ReplaySource>(std::make_unique<recording::Reader>(*keep.back(), "t.csv"),
                                        rows);
}
}  // namespace

TEST_CASE("replay: samples come with UTC times and a continuity index", "[hw][replay]") {
  auto src = replay(
      "# wim-recording 1\n# sample_rate_hz=4000\n# started_utc=2026-11-27T08:00:00.000Z\n"
      "t_us,A,B\n0,1,2\n250,3,4\n500,5,6\n",
      2);
  CHECK(src->channels() == std::vector<std::string>{"A", "B"});
  SampleBlock b;
  REQUIRE(src->read(b, 0ms));
  REQUIRE(b.size() == 2);
  CHECK(b.first_index == 0);
  CHECK(b.t_unix_us[1] == 1795766400000000 + 250);
  CHECK(b.t_mono_us[1] == 250);
  CHECK(b.counts[1] == std::vector<std::int32_t>{2, 4});
  CHECK(b.clock_sync == time::ClockSync::unknown);
  REQUIRE(src->read(b, 0ms));
  CHECK(b.size() == 1);
  CHECK(b.first_index == 2);
  CHECK_FALSE(src->read(b, 0ms));
  CHECK(b.size() == 0);
}

TEST_CASE("replay: a gap in t_us is reported as lost samples with their span", "[hw][replay]") {
  GIVEN("a recording missing the samples at 500, 750 and 1000 us") {
    auto src = replay(
        "# wim-recording 1\n# sample_rate_hz=4000\n# started_utc=2026-11-27T08:00:00.000Z\n"
        "t_us,A\n0,1\n250,2\n1250,3\n1500,4\n",
        10);
    SampleBlock b;
    WHEN("it is read in blocks") {
      REQUIRE(src->read(b, 0ms));
      THEN("the block ends before the gap") {
        CHECK(b.size() == 2);
        CHECK(b.lost.empty());
      }
      REQUIRE(src->read(b, 0ms));
      THEN("the next block starts with the lost span, then continues its index") {
        REQUIRE(b.lost.size() == 1);
        CHECK(b.lost[0].first_index == 2);
        CHECK(b.lost[0].count == 3);
        CHECK(b.lost[0].from_unix_us == 1795766400000000 + 500);
        CHECK(b.lost[0].to_unix_us == 1795766400000000 + 1000);
        CHECK(b.first_index == 5);
        CHECK(b.size() == 2);
        CHECK(src->counters().lost_samples == 3);
        CHECK(src->status().find("lost_samples: 3") != std::string::npos);
      }
    }
  }
}

TEST_CASE("replay: a malformed row is an error naming the line", "[hw][replay]") {
  auto src = replay("# wim-recording 1\n# sample_rate_hz=4000\nt_us,A\n0,1\n250,x\n", 10);
  SampleBlock b;
  CHECK_THROWS_WITH(src->read(b, 0ms), Catch::Contains("t.csv:5"));
}

TEST_CASE("replay: a constant channel is judged stuck after a second", "[hw][replay]") {
  std::string text = "# wim-recording 1\n# sample_rate_hz=100\nt_us,A,B,C\n";
  for (int i = 0; i < 300; ++i)
    text += std::to_string(i * 10000) + "," + std::to_string(i % 7) + ",55,0\n";
  auto src = replay(text, 50);
  SampleBlock b;
  while (src->read(b, 0ms)) {
  }
  REQUIRE(src->read(b, 0ms) == false);
  auto s = src->status();
  CHECK(s.find("channel A: ok") != std::string::npos);
  CHECK(s.find("channel B: stuck") != std::string::npos);
  CHECK(s.find("channel C: dead") != std::string::npos);
}
