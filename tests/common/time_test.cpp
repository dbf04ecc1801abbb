// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "wim/common/error.hpp"
#include "wim/common/time.hpp"

using namespace wim::time;

TEST_CASE("UTC times format and parse both ways") {
  std::int64_t t = parse_utc("2026-11-27T08:00:00.000Z");
  CHECK(t == 1795766400LL * 1000000);
  CHECK(format_utc_ms(t + 1234567) == "2026-11-27T08:00:01.234Z");
  CHECK(format_utc_us(t + 1234567) == "2026-11-27T08:00:01.234567Z");
  CHECK(parse_utc("2026-11-27T08:00:01.234567Z") == t + 1234567);
  CHECK(parse_utc("2026-11-27T08:00:01Z") == t + 1000000);
  CHECK(format_utc_ms(-1) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("Malformed UTC times are refused with the text quoted") {
  for (const char* bad : {"2026-11-27 08:00:00Z", "2026-11-27T08:00:00", "2026-13-01T00:00:00Z",
                          "2026-11-27T08:00:00.Z", "2026-11-27T08:00:0xZ", ""}) {
    CHECK_THROWS_AS(parse_utc(bad), wim::InputError);
  }
  CHECK_THROWS_WITH(parse_utc("yesterday"), Catch::Contains("'yesterday'"));
}

TEST_CASE("Clock sync states round trip and the kernel state can be read") {
  for (auto s : {ClockSync::synced, ClockSync::unsynced, ClockSync::unknown})
    CHECK(clock_sync_from_string(to_string(s)) == s);
  CHECK_THROWS_AS(clock_sync_from_string("maybe"), wim::InputError);
  auto st = query_clock();
  CHECK(st.sync != ClockSync::unknown);  // adjtimex answers on any Linux
}
