// SPDX-License-Identifier: Apache-2.0
// SampleHistory: the station's raw-sample history for waveform attachments.
#include <catch2/catch.hpp>

#include "wim/edge/sample_history.hpp"

using wim::edge::SampleHistory;

TEST_CASE("The sample history keeps rows by time, finds them and drops the oldest beyond its span",
          "[edge][history]") {
  SampleHistory h(3);
  CHECK(h.empty());
  // 100 samples every 250 us; counts (i, 10 i, 100 i) and one extra value that is ignored.
  for (int i = 0; i < 100; ++i) {
    const std::int32_t c[4] = {i, 10 * i, 100 * i, -1};
    h.push_back(i * 250, 1'000'000 + i * 250, c);
  }
  REQUIRE(h.size() == 100);
  CHECK(h.lower_bound(0) == 0);
  CHECK(h.lower_bound(251) == 2);
  CHECK(h.lower_bound(500) == 2);
  CHECK(h.lower_bound(1'000'000) == 100);
  std::vector<std::int32_t> row;
  h.row(7, row);
  CHECK(row == std::vector<std::int32_t>{7, 70, 700});
  CHECK(h.utc_us(7) - h.mono_us(7) == 1'000'000);
  // Keep 10 ms: samples 59..99 (span 99*250 - 59*250 = 10 000 us) stay.
  h.keep_span(10'000);
  REQUIRE(h.size() == 41);
  CHECK(h.mono_us(0) == 59 * 250);
  h.row(0, row);
  CHECK(row == std::vector<std::int32_t>{59, 590, 5900});
  h.row(40, row);
  CHECK(row == std::vector<std::int32_t>{99, 990, 9900});
  h.keep_span(0);
  CHECK(h.size() == 1);
  CHECK(h.mono_us(0) == 99 * 250);
}
