// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"

using namespace wim;
using bj_value = boost::json::value;

TEST_CASE("Canonical JSON sorts keys at every level and is stable") {
  auto v = json::parse(R"({"b":1,"a":{"z":[3,{"y":1,"x":2}],"c":"é"},"n":0.5})", "t");
  CHECK(json::canonical(v) == R"({"a":{"c":"é","z":[3,{"x":2,"y":1}]},"b":1,"n":0.5})");
  CHECK(json::canonical(json::parse(json::canonical(v), "t")) == json::canonical(v));
  CHECK(json::canonical(bj_value(46230.5)) == "46230.5");
  CHECK(json::canonical(bj_value(1e-7)) == "1e-07");
  CHECK(json::canonical(bj_value(-0.25)) == "-0.25");
}

TEST_CASE("Parse errors name the document, line and column") {
  CHECK_THROWS_WITH(json::parse("{\n  \"a\": tru\n}", "station.json"),
                    Catch::StartsWith("station.json: line 2"));
  CHECK_THROWS_WITH(json::parse("{} x", "doc"), Catch::Contains("doc: line 1"));
  CHECK_THROWS_AS(json::load_file("/nonexistent/x.json"), InputError);
}

TEST_CASE("Field access errors name the field") {
  auto v = json::parse(R"({"gain":"x","lane":2,"f":1.5,"name":"L1"})", "t");
  const auto& o = json::as_object(v, "channels[3]");
  CHECK_THROWS_WITH(json::get_number(o, "gain", "channels[3]"),
                    "channels[3].gain: expected a number");
  CHECK_THROWS_WITH(json::get_number(o, "zero", "channels[3]"), "channels[3].zero: missing");
  CHECK(json::get_int(o, "lane", "c") == 2);
  CHECK_THROWS_WITH(json::get_int(o, "f", "c"), "c.f: expected an integer");
  CHECK(json::get_number(o, "zero", "c", 7.0) == 7.0);
  CHECK(json::get_string(o, "name", "c") == "L1");
  CHECK_FALSE(json::get_bool(o, "missing", "c", false));
}
