// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

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

TEST_CASE("Every double we print parses back to the same bits and the same text") {
  // Boost.JSON 1.81's own conversion is not always correctly rounded; a signed manifest
  // must survive parse -> canonical unchanged, so parse() converts with from_chars.
  std::mt19937_64 rng(20261128);
  std::uniform_real_distribution<double> kg(0, 100000), ratio(-1, 5);
  std::vector<double> values{63.800000000000004,
                             0.1,
                             1e-7,
                             46230.5,
                             5e-324,
                             1.7976931348623157e308,
                             -0.0,
                             9007199254740993.0,
                             2.2250738585072014e-308};
  for (int i = 0; i < 20000; ++i) {
    values.push_back(kg(rng));
    values.push_back(ratio(rng));
    values.push_back(std::ldexp(kg(rng), static_cast<int>(rng() % 200) - 100));
  }
  int mismatches = 0;
  for (double d : values) {
    const std::string text = json::canonical(bj_value{{"x", d}});
    const auto back = json::parse(text, "t");
    // Integral values print without a decimal point and come back as integers.
    const double got = back.as_object().at("x").to_number<double>();
    const double want = d == 0 ? 0.0 : d;
    if (std::memcmp(&got, &want, sizeof d) != 0 || json::canonical(back) != text) {
      ++mismatches;
      UNSCOPED_INFO(text << " came back as " << json::canonical(back));
    }
  }
  CHECK(mismatches == 0);
  CHECK(json::canonical(bj_value(-0.0)) == "0");
  // A number split across the text is still read whole, and integers stay integers.
  auto v = json::parse(R"({"a":[1,-2,18446744073709551615,2.5e3,-0.125]})", "t");
  CHECK(json::canonical(v) == R"({"a":[1,-2,18446744073709551615,2500,-0.125]})");
  CHECK_THROWS_WITH(json::parse("[1.5e]", "doc"), Catch::StartsWith("doc: line 1"));
}
