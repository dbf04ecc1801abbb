// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <mutex>
#include <thread>
#include <vector>

#include "wim/common/log.hpp"

namespace wl = wim::log;

namespace {
/// Captures every line written while alive; restores stderr after.
struct Capture {
  std::mutex mu;
  std::vector<std::string> lines;
  Capture() {
    wl::set_sink([this](wl::Level, std::string_view l) {
      std::lock_guard lk(mu);
      lines.emplace_back(l);
    });
  }
  ~Capture() { wl::set_sink(nullptr); }
};
}  // namespace

TEST_CASE("A log line names the station of its thread's scope, nested scopes restore") {
  Capture cap;
  wl::warning("uplink", "no station yet");
  {
    wl::StationScope g017("G017");
    wl::warning("uplink", "collector unreachable");
    {
      wl::StationScope g018("G018");
      CHECK(wl::current_station() == "G018");
      wl::error("weighing", "L1R1L: saturated");
    }
    wl::notice("station", "back");
  }
  wl::info("uplink", "after");
  CHECK(wl::current_station().empty());
  REQUIRE(cap.lines.size() == 5);
  CHECK(cap.lines[0] == "<4>uplink: no station yet");
  CHECK(cap.lines[1] == "<4>uplink [G017]: collector unreachable");
  CHECK(cap.lines[2] == "<3>weighing [G018]: L1R1L: saturated");
  CHECK(cap.lines[3] == "<5>station [G017]: back");
  CHECK(cap.lines[4] == "<6>uplink: after");
}

TEST_CASE("Station scopes are per thread, so stations logging at once each name their own") {
  Capture cap;
  std::vector<std::thread> ts;
  for (int i = 1; i <= 4; ++i)
    ts.emplace_back([i] {
      const std::string id = "G00" + std::to_string(i);
      wl::StationScope scope(id);
      for (int k = 0; k < 50; ++k) wl::warning("uplink", "from " + id);
    });
  for (auto& t : ts) t.join();
  REQUIRE(cap.lines.size() == 200);
  for (const auto& l : cap.lines) {
    INFO(l);
    // "<4>uplink [G00n]: from G00n": the scope's station is the thread's own.
    REQUIRE(l.size() == std::string("<4>uplink [G001]: from G001").size());
    CHECK(l.substr(11, 4) == l.substr(l.size() - 4));
  }
}
