// SPDX-License-Identifier: Apache-2.0
// CTC decoding of the OCR's per-step probabilities: greedy and constrained to GA 36-2018's
// plate patterns, on hand-made probability matrices.
#include <catch2/catch.hpp>

#include <random>

#include "wim/common/error.hpp"
#include "wim/edge/anpr/ctc_decode.hpp"
#include "wim/edge/anpr/plate_grammar.hpp"
#include "wim/hw/plate_render.hpp"

using namespace wim;
using namespace wim::edge::anpr;
using hw::PlateColour;

namespace {

// The OCR's alphabet as the build writes it (anpr_ocr_keys.txt): provinces, letters,
// digits, then the special endings.
std::vector<std::string> plate_keys() {
  std::vector<std::string> k(hw::kProvinces.begin(), hw::kProvinces.end());
  for (char c : hw::kAlnum) k.emplace_back(1, c);
  for (const char* c : {"警", "学", "挂", "港", "澳", "使", "领"}) k.emplace_back(c);
  return k;
}

// One step: the probabilities of the named classes ("_" = blank); the rest of the mass spread
// evenly over the other classes.
using Step = std::vector<std::pair<std::string, float>>;
cv::Mat matrix(const std::vector<Step>& steps, const std::vector<std::string>& keys) {
  const int classes = static_cast<int>(keys.size()) + 1;
  cv::Mat m(static_cast<int>(steps.size()), classes, CV_32F);
  for (int t = 0; t < m.rows; ++t) {
    float named = 0;
    std::vector<int> set;
    for (const auto& [c, p] : steps[static_cast<std::size_t>(t)]) {
      int k = 0;
      if (c != "_") k = static_cast<int>(std::find(keys.begin(), keys.end(), c) - keys.begin()) + 1;
      REQUIRE(k < classes);
      set.push_back(k);
      named += p;
    }
    const float rest = (1 - named) / static_cast<float>(classes - static_cast<int>(set.size()));
    for (int k = 0; k < classes; ++k) m.at<float>(t, k) = rest;
    for (std::size_t i = 0; i < set.size(); ++i)
      m.at<float>(t, set[i]) = steps[static_cast<std::size_t>(t)][i].second;
  }
  return m;
}

// A clear reading of `text`: each character at 0.95 on one step, a blank (0.95) between.
std::vector<Step> clear(const std::string& text) {
  std::vector<Step> s = {{{"_", 0.95f}}};
  for (const auto& c : hw::split_utf8(text)) {
    s.push_back({{c, 0.95f}});
    s.push_back({{"_", 0.95f}});
  }
  return s;
}

// The constrained reading of `steps` in `colour`'s patterns, once greedy is seen to read
// `greedy_text` from them.
OcrReading mended(const std::vector<Step>& steps, const std::vector<std::string>& keys,
                  const std::string& greedy_text, PlateColour colour) {
  const cv::Mat m = matrix(steps, keys);
  CHECK(ctc_greedy(m, keys).text == greedy_text);
  return ctc_constrained(m, keys, grammar_patterns(colour));
}

bool matches(const std::string& text, const std::vector<PlatePattern>& patterns) {
  const auto ch = hw::split_utf8(text);
  for (const auto& p : patterns) {
    bool ok = p.size() == ch.size();
    for (std::size_t i = 0; ok && i < ch.size(); ++i)
      ok = std::find(p[i].begin(), p[i].end(), ch[i]) != p[i].end();
    if (ok) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("GA 36 patterns allow exactly what the grammar check allows") {
  const auto keys = plate_keys();
  const hw::PlateRenderer renderer;
  std::mt19937 rng(1718);
  for (auto colour : hw::kPlateColours) {
    const auto patterns = grammar_patterns(colour);
    INFO(hw::to_string(colour));
    CHECK_FALSE(patterns.empty());
    int allowed = 0;
    for (int i = 0; i < 20000; ++i) {
      // a plate of this colour with 0-2 characters replaced by any key, or one dropped/added
      std::string text;
      auto ch = hw::split_utf8(renderer.random_plate(rng, colour).text);
      const int edits = std::uniform_int_distribution<int>(0, 2)(rng);
      for (int e = 0; e < edits; ++e) {
        const std::string any =
            keys[std::uniform_int_distribution<std::size_t>(0, keys.size() - 1)(rng)];
        const auto at = std::uniform_int_distribution<std::size_t>(0, ch.size() - 1)(rng);
        switch (std::uniform_int_distribution<int>(0, 5)(rng)) {
          case 0:
            ch.erase(ch.begin() + static_cast<std::ptrdiff_t>(at));
            break;
          case 1:
            ch.insert(ch.begin() + static_cast<std::ptrdiff_t>(at), any);
            break;
          default:
            ch[at] = any;
        }
      }
      for (const auto& c : ch) text += c;
      INFO(text);
      const bool ok = grammar_violation(text, colour).empty();
      REQUIRE(matches(text, patterns) == ok);
      allowed += ok;
    }
    CHECK(allowed > 5000);  // both sides of the line were tried
    CHECK(allowed < 19000);
  }
  CHECK(matches("鲁Q5678学", grammar_patterns(PlateColour::yellow)));
  CHECK(matches("豫A1234挂", grammar_patterns(PlateColour::yellow_double)));
  CHECK(matches("沪B12533F", grammar_patterns(PlateColour::green)));
  CHECK_FALSE(matches("沪B1253F", grammar_patterns(PlateColour::green)));
}

TEST_CASE("Greedy CTC decoding merges repeats, drops blanks, keeps a blank-separated repeat") {
  const auto keys = plate_keys();
  const OcrReading r = ctc_greedy(matrix(clear("京A11234"), keys), keys);
  CHECK(r.text == "京A11234");
  REQUIRE(r.char_confidence.size() == 7);
  CHECK(r.confidence == Approx(0.95));
  // the two 1s read on adjacent steps with no blank between: one character
  std::vector<Step> s = {{{"京", 0.9f}}, {{"A", 0.9f}}, {{"1", 0.9f}}, {{"1", 0.7f}},
                         {{"2", 0.9f}},  {{"3", 0.9f}}, {{"4", 0.9f}}};
  const OcrReading merged = ctc_greedy(matrix(s, keys), keys);
  CHECK(merged.text == "京A1234");
  REQUIRE(merged.char_confidence.size() == 6);
  CHECK(merged.char_confidence[2] == Approx(0.9));  // the repeat's best step
  CHECK_THROWS_AS(ctc_greedy(cv::Mat(3, 5, CV_32F, cv::Scalar(0.2)), keys), InputError);
}

TEST_CASE("Grammar-constrained CTC decoding returns the greedy reading when it is a plate") {
  const auto keys = plate_keys();
  for (const auto& [text, colour] :
       std::vector<std::pair<std::string, PlateColour>>{{"京A11234", PlateColour::blue},
                                                        {"鲁Q5678学", PlateColour::yellow},
                                                        {"沪AD12345", PlateColour::green},
                                                        {"沪B12533F", PlateColour::green}}) {
    INFO(text);
    const cv::Mat m = matrix(clear(text), keys);
    const OcrReading g = ctc_greedy(m, keys),
                     c = ctc_constrained(m, keys, grammar_patterns(colour));
    CHECK(c.text == text);
    CHECK(c.text == g.text);
    CHECK(c.char_confidence == g.char_confidence);
    CHECK(c.char_forced == std::vector<double>(c.char_confidence.size(), 1.0));
    CHECK(c.end_forced == 1.0);
  }
}

TEST_CASE("Grammar-constrained CTC decoding mends what greedy breaks, naming what it forced") {
  const auto keys = plate_keys();
  SECTION(
      "two equal characters with too weak a blank between: split, the blank's probability kept") {
    // 1 on three steps, the middle one 0.55 against a blank at 0.40: greedy merges them
    std::vector<Step> s = {{{"京", 0.95f}}, {{"_", 0.9f}},  {{"A", 0.95f}},
                           {{"_", 0.9f}},   {{"1", 0.95f}}, {{"1", 0.55f}, {"_", 0.40f}},
                           {{"1", 0.95f}},  {{"_", 0.9f}},  {{"2", 0.95f}},
                           {{"3", 0.95f}},  {{"_", 0.9f}},  {{"4", 0.95f}}};
    const OcrReading c = mended(s, keys, "京A1234", PlateColour::blue);
    CHECK(c.text == "京A11234");
    REQUIRE(c.char_forced.size() == 7);
    CHECK(c.char_confidence[2] == Approx(0.95));
    CHECK(c.char_forced[2] == Approx(0.40));  // the forced blank, beside both 1s
    CHECK(c.char_forced[3] == Approx(0.40));
    CHECK(c.char_forced[0] == 1.0);
    CHECK(c.char_forced[4] == 1.0);
    CHECK(c.confidence == Approx(0.95));  // char_confidence alone: the caller combines
  }
  SECTION("a province read as a letter: the best province, at its own probability") {
    std::vector<Step> s = clear("苏MRP856");
    s[1] = {{"S", 0.62f}, {"苏", 0.30f}};
    const OcrReading c = mended(s, keys, "SMRP856", PlateColour::blue);
    CHECK(c.text == "苏MRP856");
    CHECK(c.char_confidence[0] == Approx(0.30));
    CHECK(c.char_forced[0] == Approx(0.30));
    CHECK(c.char_forced[1] == 1.0);
  }
  SECTION("an eighth character beside a blue plate (its frame): dropped, named as end_forced") {
    std::vector<Step> s = clear("沪A1Z726L");
    s[s.size() - 2] = {{"L", 0.80f}, {"_", 0.13f}};
    const OcrReading c = mended(s, keys, "沪A1Z726L", PlateColour::blue);
    CHECK(c.text == "沪A1Z726");
    CHECK(c.end_forced == Approx(0.13));
    CHECK(c.char_forced == std::vector<double>(7, 1.0));
    // a character before the province (the crop beside it): the same
    std::vector<Step> before = clear("浙沪G01287");
    before[1] = {{"浙", 0.70f}, {"_", 0.24f}};
    const OcrReading b =
        ctc_constrained(matrix(before, keys), keys, grammar_patterns(PlateColour::blue));
    CHECK(b.text == "沪G01287");
    CHECK(b.end_forced == Approx(0.24));
    // an extra character inside the plate is not free: its neighbours keep the blank's 0.27
    std::vector<Step> inside = clear("浙AY2Z415");
    inside[11] = {{"4", 0.70f}, {"_", 0.27f}};
    const OcrReading i =
        ctc_constrained(matrix(inside, keys), keys, grammar_patterns(PlateColour::blue));
    CHECK(i.text == "浙AY2Z15");
    CHECK(i.end_forced == 1.0);
    CHECK(i.char_forced[4] == Approx(0.27));
    CHECK(i.char_forced[5] == Approx(0.27));
  }
  SECTION("a green plate's repeated 3 merged: eight characters in the green layout") {
    // 沪B12533F (large vehicle) with the two 3s on adjacent steps, a weak blank between
    std::vector<Step> s = clear("沪B1253");
    s.pop_back();
    s.push_back({{"3", 0.52f}, {"_", 0.45f}});
    s.push_back({{"3", 0.95f}});
    s.push_back({{"_", 0.9f}});
    s.push_back({{"F", 0.95f}});
    s.push_back({{"_", 0.9f}});
    const cv::Mat m = matrix(s, keys);
    CHECK(ctc_greedy(m, keys).text == "沪B1253F");
    const OcrReading green = ctc_constrained(m, keys, grammar_patterns(PlateColour::green));
    CHECK(green.text == "沪B12533F");
    CHECK(green.char_forced[5] == Approx(0.45));
    CHECK(green.char_forced[6] == Approx(0.45));
    // the same probabilities in the blue layout: greedy's seven characters are a blue plate
    const OcrReading blue = ctc_constrained(m, keys, grammar_patterns(PlateColour::blue));
    CHECK(blue.text == "沪B1253F");
    CHECK(blue.char_forced == std::vector<double>(7, 1.0));
  }
  SECTION("never a police or foreign ending on these colours") {
    std::vector<Step> s = clear("京A1234警");
    s[s.size() - 2] = {{"警", 0.90f}, {"5", 0.05f}};
    const OcrReading c =
        ctc_constrained(matrix(s, keys), keys, grammar_patterns(PlateColour::blue));
    CHECK(c.text == "京A12345");
    CHECK(c.char_forced[6] == Approx(0.05));
  }
  SECTION("too few steps for a plate: nothing read") {
    const cv::Mat m = matrix({{{"京", 0.9f}}, {{"A", 0.9f}}, {{"1", 0.9f}}}, keys);
    const OcrReading c = ctc_constrained(m, keys, grammar_patterns(PlateColour::blue));
    CHECK(c.text.empty());
    CHECK(c.char_confidence.empty());
    CHECK(c.confidence == 0);
    CHECK(ctc_constrained(m, keys, {}).text.empty());
  }
}
