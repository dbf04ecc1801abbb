// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/anpr/plate_grammar.hpp"

#include <algorithm>
#include <vector>

namespace wim::edge::anpr {

namespace {

bool is_letter(const std::string& c) {
  return c.size() == 1 &&
         hw::kAlnum.substr(0, hw::kLetterCount).find(c[0]) != std::string_view::npos;
}
bool is_digit(const std::string& c) {
  return c.size() == 1 && c[0] >= '0' && c[0] <= '9';
}
bool is_alnum(const std::string& c) {
  return is_letter(c) || is_digit(c);
}
bool is_province(const std::string& c) {
  return std::find(hw::kProvinces.begin(), hw::kProvinces.end(), c) != hw::kProvinces.end();
}

std::string at(std::size_t i) {
  return " at position " + std::to_string(i + 1);
}

}  // namespace

std::string grammar_violation(std::string_view text, hw::PlateColour colour) {
  std::vector<std::string> ch;
  try {
    ch = hw::split_utf8(text);
  } catch (const std::exception&) {
    return "not UTF-8 text";
  }
  const std::string name(hw::to_string(colour));
  const std::size_t want = colour == hw::PlateColour::green ? 8 : 7;
  if (ch.size() != want)
    return name + " plate has " + std::to_string(ch.size()) + " characters, GA 36 says " +
           std::to_string(want);
  if (!is_province(ch[0])) return "'" + ch[0] + "' is not a province character";
  if (!is_letter(ch[1]))
    return "'" + ch[1] + "'" + at(1) + " is not an issuing-authority letter (A-Z less I, O)";
  const std::string& last = ch.back();
  for (const char* black : {"警", "港", "澳", "领", "使"})
    if (last == black)
      return "'" + last + "' ending is not on a " + name + " plate (" +
             (last == "警" ? "police plates are white" : "black plates") + ")";
  std::size_t serial_end = ch.size();
  if (last == "学" || last == "挂") {
    if (last == "学" && colour != hw::PlateColour::yellow)
      return "'学' (coach) ending is on single-row yellow plates only, not " + name;
    if (last == "挂" && colour != hw::PlateColour::yellow_double)
      return "'挂' (trailer) ending is on double-row yellow plates only, not " + name;
    serial_end = ch.size() - 1;
  }
  for (std::size_t i = 2; i < serial_end; ++i)
    if (!is_alnum(ch[i]))
      return "'" + ch[i] + "'" + at(i) + " is not a serial character (A-Z less I, O; 0-9)";
  if (colour == hw::PlateColour::green) {
    // GA 36-2018 new-energy serial: small vehicle D/F first, then a letter or digit, then
    // four digits; large vehicle five digits, then D/F.
    const auto df = [](const std::string& c) { return c == "D" || c == "F"; };
    bool small = df(ch[2]);
    for (std::size_t i = 4; i < 8; ++i) small = small && is_digit(ch[i]);
    bool large = df(ch[7]);
    for (std::size_t i = 2; i < 7; ++i) large = large && is_digit(ch[i]);
    if (!small && !large)
      return "green serial " + std::string(text.substr(text.size() - 6)) +
             " is neither small (D/F, letter or digit, 4 digits) nor large (5 digits, D/F)";
  }
  return {};
}

std::vector<PlatePattern> grammar_patterns(hw::PlateColour colour) {
  PlatePosition province(hw::kProvinces.begin(), hw::kProvinces.end()), letter, digit, alnum;
  for (std::size_t i = 0; i < hw::kAlnum.size(); ++i) {
    const std::string c(1, hw::kAlnum[i]);
    (i < static_cast<std::size_t>(hw::kLetterCount) ? letter : digit).push_back(c);
    alnum.push_back(c);
  }
  const PlatePosition df = {"D", "F"};
  const auto plate = [&](std::initializer_list<PlatePosition> serial) {
    PlatePattern p = {province, letter};
    p.insert(p.end(), serial);
    return p;
  };
  switch (colour) {
    case hw::PlateColour::blue:
      return {plate({alnum, alnum, alnum, alnum, alnum})};
    case hw::PlateColour::yellow:
      return {plate({alnum, alnum, alnum, alnum, alnum}),
              plate({alnum, alnum, alnum, alnum, {"学"}})};
    case hw::PlateColour::yellow_double:
      return {plate({alnum, alnum, alnum, alnum, alnum}),
              plate({alnum, alnum, alnum, alnum, {"挂"}})};
    case hw::PlateColour::green:  // small vehicle; large vehicle
      return {plate({df, alnum, digit, digit, digit, digit}),
              plate({digit, digit, digit, digit, digit, df})};
  }
  return {};
}

}  // namespace wim::edge::anpr
