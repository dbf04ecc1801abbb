// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <sstream>

#include "wim/common/error.hpp"
#include "wim/common/recording.hpp"

using namespace wim::recording;

namespace {
const char* kGood =
    "# wim-recording 1\n"
    "# sample_rate_hz=4000\n"
    "# station=G017\n"
    "# started_utc=2026-11-27T08:00:00.000Z\n"
    "t_us,L1R1L,L1R1R\n"
    "0,12,-3\n"
    "250,14,-1\n";

std::string error_of(const std::string& text) {
  try {
    std::istringstream in(text);
    Reader r(in, "rec.csv");
    std::int64_t t = 0;
    std::vector<std::int32_t> v(r.header().channels.size());
    while (r.next(t, v)) {
    }
  } catch (const wim::InputError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("A contract-1 recording reads with its metadata") {
  std::istringstream in(kGood);
  Reader r(in, "rec.csv");
  CHECK(r.header().sample_rate_hz == 4000);
  CHECK(r.header().station == "G017");
  CHECK(r.header().started_unix_us == 1795766400LL * 1000000);
  CHECK(r.header().channels == std::vector<std::string>{"L1R1L", "L1R1R"});
  Block b;
  REQUIRE(r.read_block(b, 100) == 2);
  CHECK(b.t_us == std::vector<std::int64_t>{0, 250});
  CHECK(b.counts[0] == std::vector<std::int32_t>{12, 14});
  CHECK(b.counts[1] == std::vector<std::int32_t>{-3, -1});
  CHECK(r.read_block(b, 100) == 0);
}

TEST_CASE("Writer output reads back identically") {
  Header h;
  h.sample_rate_hz = 4000;
  h.station = "G001";
  h.started_unix_us = 1795766400LL * 1000000;
  h.channels = {"A", "B", "C"};
  std::ostringstream out;
  Writer w(out, h);
  w.write(0, std::vector<std::int32_t>{1, -2, 2147483647});
  w.write(250, std::vector<std::int32_t>{-2147483647 - 1, 0, 5});
  std::istringstream in(out.str());
  Reader r(in, "x");
  CHECK(r.header().channels == h.channels);
  CHECK(r.header().started_unix_us == h.started_unix_us);
  Block b;
  REQUIRE(r.read_block(b, 10) == 2);
  CHECK(b.counts[2][0] == 2147483647);
  CHECK(b.counts[0][1] == -2147483647 - 1);
}

TEST_CASE("Malformed recordings give a clear error with the line number") {
  std::string head = "# sample_rate_hz=4000\nt_us,A,B\n";
  CHECK(error_of("t_us,A\n0,1\n") ==
        "rec.csv:1: missing '# sample_rate_hz=<Hz>' before the header row");
  CHECK(error_of("# sample_rate_hz=-5\nt_us,A\n") ==
        "rec.csv:1: sample_rate_hz must be a positive number, got '-5'");
  CHECK(error_of("# sample_rate_hz=4000\ntime,A\n") ==
        "rec.csv:2: header row must start with 't_us', got 'time'");
  CHECK(error_of("# sample_rate_hz=4000\nt_us,A,A\n") ==
        "rec.csv:2: duplicate channel 'A' in header row");
  CHECK(error_of(head + "0,1,2\n250,1,2\n250,3,4\n") ==
        "rec.csv:5: t_us 250 does not increase (previous 250)");
  CHECK(error_of(head + "0,1,2\n250,1\n") == "rec.csv:4: expected 3 values, got 2");
  CHECK(error_of(head + "0,1,\n") == "rec.csv:3: missing value for channel B");
  CHECK(error_of(head + "0,1,2,3\n") == "rec.csv:3: more values than the 3 columns of the header");
  CHECK(error_of(head + "0,1.5,2\n") ==
        "rec.csv:3: value for channel A is not a signed 32-bit integer: '1.5'");
  CHECK(error_of(head + "0,99999999999,2\n") ==
        "rec.csv:3: value for channel A is not a signed 32-bit integer: '99999999999'");
  CHECK(error_of(head + "x,1,2\n") == "rec.csv:3: t_us is not an integer: 'x'");
  CHECK(error_of("# wim-recording 2\n# sample_rate_hz=1\nt_us,A\n") ==
        "rec.csv:1: unsupported recording format version 2");
  CHECK(error_of("# sample_rate_hz=4000\n# started_utc=yesterday\nt_us,A\n")
            .starts_with("rec.csv:2: started_utc: "));
  CHECK(error_of("") == "rec.csv:1: no header row (expected 't_us,<channel>,...')");
  CHECK_THROWS_WITH(Reader::open("/nonexistent.csv"), Catch::Contains("cannot open recording"));
}

TEST_CASE("CRLF line ends and blank lines are tolerated") {
  std::istringstream in("# sample_rate_hz=100\r\nt_us,A\r\n0,1\r\n\r\n10000,2\r\n");
  Reader r(in, "x");
  Block b;
  REQUIRE(r.read_block(b, 10) == 2);
  CHECK(b.counts[0] == std::vector<std::int32_t>{1, 2});
}
