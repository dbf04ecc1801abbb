// SPDX-License-Identifier: Apache-2.0
// PacedSource: a replayed recording handed out no faster than real time (or a rate), on a
// simulated clock (no wall time in these tests), and the factory's "pace" field.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "../common/record_samples.hpp"
#include "wim/common/error.hpp"
#include "wim/hw/paced_source.hpp"
#include "wim/hw/replay_source.hpp"
#include "wim/hw/source_factory.hpp"

using namespace wim;
using namespace wim::hw;
using namespace std::chrono_literals;

namespace {

/// `rows` samples at 1 kHz (t_us 0, 1000, ...), one channel.
std::string recording_text(int rows) {
  std::ostringstream s;
  s << "# wim-recording 1\n# sample_rate_hz=1000\n# started_utc=2026-11-27T08:00:00.000Z\n"
       "t_us,A\n";
  for (int i = 0; i < rows; ++i) s << i * 1000 << "," << i << "\n";
  return s.str();
}

std::unique_ptr<ReplaySource> replay(const std::string& text, std::size_t block_rows) {
  static std::vector<std::unique_ptr<std::istringstream>> keep;  // outlive the reader
  keep.push_back(std::make_unique<std::istringstream>(text));
  return std::make_unique<ReplaySource>(std::make_unique<recording::Reader>(*keep.back(), "t.csv"),
                                        block_rows);
}

/// A clock that only moves when the source sleeps on it.
struct SimClock {
  std::int64_t now = 5'000'000'000;  // [us] arbitrary start
  int sleeps = 0;
  PaceClock clock() {
    return {[this] { return now; },
            [this](std::int64_t t) {
              ++sleeps;
              now = std::max(now, t);
            }};
  }
};

}  // namespace

TEST_CASE("A paced replay hands out no sample before the source clock reaches its time",
          "[hw][pace]") {
  const double rate = GENERATE(1.0, 4.0);
  SimClock sim;
  const std::int64_t start = sim.now;
  PacedSource src(replay(recording_text(2000), 100), rate, sim.clock());  // 2 s of samples
  SampleBlock b;
  std::size_t samples = 0, empty = 0;
  std::int64_t last_delivery = start;
  while (src.read(b, 30ms)) {
    if (b.size() == 0) {
      ++empty;  // not due within the timeout: the caller gets control back
      continue;
    }
    INFO("block from index " << b.first_index << " at rate " << rate);
    // The block's last sample happened (recording time / rate) after the first sample.
    const auto due = start + static_cast<std::int64_t>(b.t_mono_us.back() / rate);
    CHECK(sim.now >= due);
    CHECK(sim.now - due < 2);  // and it was not held back longer than needed
    CHECK(sim.now >= last_delivery);
    last_delivery = sim.now;
    samples += b.size();
  }
  CHECK(samples == 2000);
  // The whole recording (1.999 s of samples) took 1.999 s / rate on the source's clock.
  CHECK(sim.now - start == static_cast<std::int64_t>(1'999'000 / rate));
  // Blocks of 100 ms / rate against a 30 ms timeout: several empty answers per block.
  CHECK(empty >= 20 * static_cast<std::size_t>(100 / rate / 30));
  CHECK(sim.sleeps > 0);
}

TEST_CASE("An unpaced replay is read as fast as it is asked for, a paced one is not",
          "[hw][pace]") {
  SimClock sim;
  PacedSource paced(replay(recording_text(500), 100), 1.0, sim.clock());
  SampleBlock b;
  REQUIRE(paced.read(b, 0ms));  // timeout 0: the first block is due 99 ms after the start
  CHECK(b.size() == 0);
  REQUIRE(paced.read(b, 200ms));
  CHECK(b.size() == 100);
  CHECK(b.t_mono_us.front() == 0);  // the held block, nothing skipped
  auto plain = replay(recording_text(500), 100);
  std::size_t n = 0;
  while (plain->read(b, 0ms)) n += b.size();
  CHECK(n == 500);
  CHECK_THROWS_AS(PacedSource(replay(recording_text(5), 5), 0.0, sim.clock()),
                  std::invalid_argument);
}

TEST_CASE("The acquisition field pace makes a paced replay, a bad value names the field",
          "[hw][pace]") {
  auto dir = wim::test::temp_dir("paced");
  std::ofstream(dir / "rec.csv") << recording_text(10);
  auto make = [&](boost::json::value pace) {
    boost::json::object o{{"source", "replay"}, {"recording", (dir / "rec.csv").string()}};
    if (!pace.is_null()) o["pace"] = pace;
    return make_source(o, "station.json: acquisition");
  };
  CHECK(dynamic_cast<PacedSource*>(make(nullptr).get()) == nullptr);
  CHECK(dynamic_cast<PacedSource*>(make(false).get()) == nullptr);
  auto real_time = make(true);
  REQUIRE(dynamic_cast<PacedSource*>(real_time.get()) != nullptr);
  CHECK(dynamic_cast<PacedSource*>(real_time.get())->rate() == 1.0);
  CHECK(real_time->status().find("paced: x1") != std::string::npos);
  CHECK(dynamic_cast<PacedSource*>(make(2.5).get())->rate() == 2.5);
  for (boost::json::value bad : {boost::json::value(0), boost::json::value(-1),
                                 boost::json::value("fast"), boost::json::value(5000)}) {
    INFO(boost::json::serialize(bad));
    CHECK_THROWS_WITH(make(bad), Catch::Contains("acquisition.pace"));
  }
  std::filesystem::remove_all(dir);
}
