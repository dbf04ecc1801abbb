// SPDX-License-Identifier: Apache-2.0
#include "wim/common/record.hpp"

#include <catch2/catch.hpp>

#include "record_samples.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"

using namespace wim;
using namespace wim::record;

namespace {
// Replaces the first occurrence of `from` in the serialised manifest.
std::string edit(std::string json, const std::string& from, const std::string& to) {
  auto pos = json.find(from);
  REQUIRE(pos != std::string::npos);
  return json.replace(pos, from.size(), to);
}

std::string error_of(std::string_view json) {
  try {
    parse_manifest(json);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("A manifest serialises canonically and parses back to the same record") {
  GIVEN("a pass, a violation and an event record") {
    auto m = GENERATE(test::pass_record(), test::violation_record(),
                      test::event_record("station_start"));
    m.seq = 1;
    m.prev_sha256 = kGenesisSha256;
    WHEN("serialised") {
      auto json = serialize(m);
      THEN("the bytes are canonical JSON and parse back unchanged") {
        CHECK(json == wim::json::canonical(wim::json::parse(json, "t")));
        auto back = parse_manifest(json);
        CHECK(back == m);
        CHECK(serialize(back) == json);
      }
      THEN("time is UTC text with microseconds and whole kilograms print as integers") {
        CHECK(json.find("\"time_utc\":\"2026-11-27T08:00:00.000000Z\"") != std::string::npos);
        if (m.kind != Kind::event) CHECK(json.find("\"limit_kg\":43000,") != std::string::npos);
      }
    }
  }
}

TEST_CASE("The serialised form does not depend on the global locale") {
  auto m = test::violation_record();
  m.seq = 1;
  m.prev_sha256 = kGenesisSha256;
  auto before = serialize(m);
  const char* old = std::setlocale(LC_NUMERIC, nullptr);
  std::string saved = old ? old : "C";
  if (std::setlocale(LC_NUMERIC, "de_DE.UTF-8") || std::setlocale(LC_NUMERIC, "C.UTF-8")) {
    CHECK(serialize(m) == before);
  }
  std::setlocale(LC_NUMERIC, saved.c_str());
  CHECK(before.find("\"gross_kg\":" + boost::json::serialize(boost::json::value(46230.5))) !=
        std::string::npos);
  CHECK(before.find("\"text\":\"京A12345\"") != std::string::npos);
}

TEST_CASE("Privacy rule: a pass record carries no plate text and no image") {
  auto m = test::pass_record();
  m.seq = 1;
  m.prev_sha256 = kGenesisSha256;
  GIVEN("a pass record with a plate reading") {
    m.measurement->plate = Plate{"京A12345", "blue", 0.9, false};
    THEN("serialize refuses it, naming the field") {
      CHECK_THROWS_WITH(serialize(m),
                        Catch::Contains("measurement.plate") && Catch::Contains("privacy"));
    }
  }
  GIVEN("a pass record listing an image") {
    m.attachments.push_back({"overview.jpg", "image/jpeg", std::string(64, 'c'), 10});
    THEN("serialize refuses it") {
      CHECK_THROWS_WITH(serialize(m),
                        Catch::Contains("attachments[0]") && Catch::Contains("no image"));
    }
  }
  GIVEN("a pass record signed elsewhere with a plate (parse side)") {
    auto v = test::violation_record();
    v.seq = 1;
    v.prev_sha256 = kGenesisSha256;
    auto json = edit(serialize(v), "\"kind\":\"violation\"", "\"kind\":\"pass\"");
    THEN("parse_manifest refuses it too") {
      CHECK_THAT(error_of(json), Catch::Contains("privacy"));
    }
  }
  GIVEN("a pass record with only a keyed plate hash and a waveform") {
    m.attachments.push_back({"waveform.csv", "text/csv", std::string(64, 'c'), 10});
    THEN("it is accepted") {
      CHECK_NOTHROW(serialize(m));
    }
  }
}

TEST_CASE("Malformed manifests give errors naming the field") {
  auto m = test::violation_record();
  m.seq = 7;
  m.prev_sha256 = std::string(64, '1');
  const auto good = serialize(m);
  REQUIRE(error_of(good).empty());
  struct Case {
    std::string from, to, expect;
  };
  // Boost.JSON's own number text, whatever form it takes ("4.62305E4").
  auto num = [](double d) { return boost::json::serialize(boost::json::value(d)); };
  const std::string gross = "\"gross_kg\":" + num(46230.5);
  const std::vector<Case> cases = {
      Case{"\"seq\":7", "\"seq\":-7", "manifest.seq"},
      Case{"\"seq\":7", "\"seq\":\"7\"", "manifest.seq"},
      Case{gross, "\"gross_kg\":\"heavy\"", "manifest.measurement.gross_kg"},
      Case{gross, "\"gross_kg\":-1", "manifest.measurement.gross_kg"},
      Case{"\"verdict\":\"overload\"", "\"verdict\":\"guilty\"", "manifest.legal.verdict"},
      Case{"\"kind\":\"violation\"", "\"kind\":\"crime\"", "manifest.kind"},
      Case{"\"time_utc\":\"2026-11-27T08:00:00.000000Z\"", "\"time_utc\":\"yesterday\"",
           "manifest.time_utc"},
      Case{"\"clock_sync\":\"synced\"", "\"clock_sync\":\"maybe\"", "manifest.clock_sync"},
      Case{"\"station_id\":\"G017\"", "\"station_id\":\"../etc\"", "manifest.station_id"},
      Case{"\"format_version\":1", "\"format_version\":2", "manifest.format_version"},
      Case{"\"camera_present\":true", "\"camera_present\":true,\"extra\":1",
           "manifest.measurement.extra: unknown field"},
      Case{"\"prev_sha256\":\"1111", "\"prev_sha256\":\"X111", "manifest.prev_sha256"},
      Case{"\"lane\":1,\"legal\"", "\"legal\"", "manifest.lane: missing"},
      Case{"\"confidence\":" + num(0.93), "\"confidence\":1.5",
           "manifest.measurement.plate.confidence"},
      Case{"\"axle_spacings_m\":[" + num(3.2) + ",", "\"axle_spacings_m\":[", "axle_spacings_m"},
      Case{"{", "[", "manifest.json"},
      Case{"\"time_utc\"", "\"time_utc\"\"", "manifest.json: line 1"}};
  for (const auto& c : cases) {
    CAPTURE(c.from, c.to);
    CHECK_THAT(error_of(edit(good, c.from, c.to)), Catch::Contains(c.expect));
  }
}

TEST_CASE("Attachment names and station ids are checked before they reach the file system") {
  CHECK(is_valid_attachment_name("plate.jpg"));
  CHECK(is_valid_attachment_name("overview-2.jpg"));
  for (auto bad : {"", ".hidden", "../x", "a/b", "manifest.json", "manifest.sig", "a b"})
    CHECK_FALSE(is_valid_attachment_name(bad));
  CHECK(is_valid_station_id("G017"));
  CHECK_FALSE(is_valid_station_id("G/17"));
  CHECK_FALSE(is_valid_station_id(std::string(33, 'a')));
  auto m = test::violation_record();
  m.seq = 1;
  m.prev_sha256 = kGenesisSha256;
  m.attachments.push_back({"../plate.jpg", "image/jpeg", std::string(64, 'c'), 1});
  CHECK_THROWS_WITH(serialize(m), Catch::Contains("attachments[0].name"));
}

TEST_CASE("Record kinds need their parts") {
  auto e = test::event_record("sensor_fault");
  e.seq = 3;
  e.prev_sha256 = std::string(64, '2');
  CHECK_NOTHROW(serialize(e));
  CHECK(is_known_event_type("sensor_fault"));
  CHECK_FALSE(is_known_event_type("party"));
  auto bad = e;
  bad.measurement = test::pass_record().measurement;
  CHECK_THROWS_WITH(serialize(bad), Catch::Contains("manifest.measurement"));
  bad = e;
  bad.event->type = "Sensor Fault";
  CHECK_THROWS_WITH(serialize(bad), Catch::Contains("manifest.event.type"));
  auto v = test::violation_record();
  v.seq = 3;
  v.prev_sha256 = std::string(64, '2');
  v.legal.reset();
  CHECK_THROWS_WITH(serialize(v), Catch::Contains("manifest.legal"));
  v = test::violation_record();
  v.seq = 1;
  v.prev_sha256 = std::string(64, '2');
  CHECK_THROWS_WITH(serialize(v), Catch::Contains("manifest.prev_sha256"));
}
