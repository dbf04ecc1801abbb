// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <random>

#include "wim/common/error.hpp"
#include "wim/edge/anpr/plate_grammar.hpp"
#include "wim/edge/anpr/plate_reader.hpp"
#include "wim/hw/plate_render.hpp"

using namespace wim;
using namespace wim::edge::anpr;
using hw::PlateColour;

namespace {
bool allowed(const char* text, PlateColour c) {
  return grammar_violation(text, c).empty();
}
bool split_ok(const std::string& text, PlateColour c) {  // as many characters as the layout
  return hw::split_utf8(text).size() == hw::plate_layout(c).chars.size();
}
}  // namespace

TEST_CASE("GA 36 plates of every colour pass the grammar check") {
  CHECK(allowed("京A12345", PlateColour::blue));
  CHECK(allowed("粤B8A3K9", PlateColour::blue));
  CHECK(allowed("苏E0Z7Y2", PlateColour::yellow));
  CHECK(allowed("鲁Q5678学", PlateColour::yellow));  // coach plate
  CHECK(allowed("冀F39275", PlateColour::yellow_double));
  CHECK(allowed("豫A1234挂", PlateColour::yellow_double));  // trailer
  CHECK(allowed("沪AD12345", PlateColour::green));          // small, pure electric
  CHECK(allowed("沪AFK1234", PlateColour::green));          // small, other new energy
  CHECK(allowed("沪B12533F", PlateColour::green));          // large vehicle
  CHECK(allowed("浙C01234D", PlateColour::green));
}

TEST_CASE("Readings that break GA 36 are named and rejected") {
  // The case: green 沪B12533F read with seven characters.
  CHECK(grammar_violation("沪B1253F", PlateColour::green) ==
        "green plate has 7 characters, GA 36 says 8");
  CHECK_FALSE(allowed("京A1234", PlateColour::blue));      // too short
  CHECK_FALSE(allowed("京A123456", PlateColour::yellow));  // too long
  CHECK_FALSE(allowed("AA12345", PlateColour::blue));      // no province
  CHECK_FALSE(allowed("京112345", PlateColour::blue));     // authority not a letter
  CHECK_FALSE(allowed("京I12345", PlateColour::blue));     // I is never used
  CHECK_FALSE(allowed("京A12O45", PlateColour::blue));     // O is never used
  CHECK_FALSE(allowed("京A1I345", PlateColour::yellow));
  CHECK_FALSE(allowed("京A12京45", PlateColour::blue));   // province char in the serial
  CHECK_FALSE(allowed("沪A123456", PlateColour::green));  // no D/F
  CHECK_FALSE(allowed("沪AA12345", PlateColour::green));  // A not D/F
  CHECK_FALSE(allowed("沪AD1234X", PlateColour::green));  // small: last four digits
  CHECK_FALSE(allowed("沪A1234FD", PlateColour::green));  // large: five digits then D/F
  CHECK_FALSE(allowed("鲁Q5678学", PlateColour::blue));   // 学 on yellow only
  CHECK_FALSE(allowed("鲁Q5678学", PlateColour::yellow_double));
  CHECK_FALSE(allowed("豫A1234挂", PlateColour::yellow));  // 挂 on the rear double row
  CHECK_FALSE(allowed("京A1234警", PlateColour::blue));    // police plates are white
  CHECK_FALSE(allowed("粤Z1234港", PlateColour::blue));    // Hong Kong plates are black
  CHECK_FALSE(allowed("粤Z1234澳", PlateColour::yellow));
  CHECK_FALSE(allowed("沪A1234领", PlateColour::blue));
  CHECK_FALSE(
      allowed("京A12\xff"
              "45",
              PlateColour::blue));  // not UTF-8
  CHECK(grammar_violation("京I12345", PlateColour::blue).find("position 2") != std::string::npos);
}

TEST_CASE("Every plate the generator draws passes the grammar check") {
  const hw::PlateRenderer renderer;
  std::mt19937 rng(1717);
  for (int i = 0; i < 2000; ++i) {
    const auto p = renderer.random_plate(rng);
    INFO(p.text << " " << hw::to_string(p.colour));
    REQUIRE(grammar_violation(p.text, p.colour).empty());
  }
}

TEST_CASE("A sure reading that breaks the grammar goes to a human with the candidate kept") {
  const PlateReader reader({WIM_ANPR_MODEL_DIR});
  PlateRead r;
  r.found = true;
  r.colour = PlateColour::green;
  r.candidate = "沪B1253F";  // the accepted-wrong reading, at 0.864
  r.char_confidence.assign(7, 0.864);
  r.confidence = 0.864;
  reader.decide(r);
  CHECK(r.needs_review);
  CHECK(r.text.empty());
  CHECK(r.candidate == "沪B1253F");
  CHECK(r.review_reason == "breaks the plate grammar: green plate has 7 characters, GA 36 says 8");
  // The same confidence on a plate the grammar allows is accepted: the check is what refused.
  r.candidate = "沪B12533F";
  r.char_confidence.assign(8, 0.864);
  reader.decide(r);
  CHECK_FALSE(r.needs_review);
  CHECK(r.text == "沪B12533F");
  // A yellow trailer plate's ending on a single-row plate is refused too.
  r.colour = PlateColour::yellow;
  r.candidate = "豫A1234挂";
  reader.decide(r);
  CHECK(r.needs_review);
  CHECK(r.review_reason.find("挂") != std::string::npos);
}

TEST_CASE("A plate crop is read by recognition alone, right or sent to a human") {
  const PlateReader reader({WIM_ANPR_MODEL_DIR});
  const hw::PlateRenderer renderer;
  std::mt19937 rng(1718);
  int exact = 0, n = 0;
  for (auto colour : hw::kPlateColours)
    for (int i = 0; i < 5; ++i, ++n) {
      const auto spec = renderer.random_plate(rng, colour);
      const cv::Mat plate = renderer.render_plate(spec, 0.6);
      const PlateRead r = reader.read_crop(plate, colour);
      INFO(spec.text << " read " << r.candidate << " " << r.review_reason);
      CHECK(r.found);
      CHECK(r.colour == colour);
      CHECK(split_ok(r.candidate, colour));
      if (!r.needs_review) CHECK(r.text == spec.text);  // never accepted wrong
      exact += !r.needs_review && r.text == spec.text;
    }
  CHECK(exact >= n * 3 / 4);  // clean renderings: most are read surely
  CHECK_THROWS_AS(reader.read_crop(cv::Mat(), PlateColour::blue), InputError);
}
