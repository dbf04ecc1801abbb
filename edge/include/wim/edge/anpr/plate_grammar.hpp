// SPDX-License-Identifier: Apache-2.0
// The plate grammar of GA 36-2018 as a hard check on a reading: a reading that breaks it is
// never accepted (it goes to a human with the candidate kept), however sure its characters.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "wim/hw/plate_render.hpp"

namespace wim::edge::anpr {

/// Empty when `text` (UTF-8) is a plate GA 36-2018 allows on a plate of `colour`; else why
/// not, e.g. "green plate has 7 characters, GA 36 says 8". The rules:
/// - first a province character (kProvinces), then the issuing-authority letter (A-Z less
///   I and O); serial characters are A-Z less I and O, or 0-9;
/// - blue: 7 characters (province, letter, 5 serial);
/// - yellow (single row): 7 characters; a coach plate ends in 学 after 4 serial characters;
/// - yellow_double (large vehicle rear, province + letter over 5 serial): 7 characters; a
///   trailer plate ends in 挂 after 4 serial characters;
/// - green (new energy): 8 characters; small vehicle: D or F, a letter or digit, 4 digits;
///   large vehicle: 5 digits, then D or F;
/// - 警 (white plates), 港/澳/领/使 (black plates) never appear on these colours.
std::string grammar_violation(std::string_view text, hw::PlateColour colour);

/// One position of a plate pattern: the characters (UTF-8) allowed there.
using PlatePosition = std::vector<std::string>;
/// A plate's characters position by position.
using PlatePattern = std::vector<PlatePosition>;
/// The patterns GA 36-2018 allows on a plate of `colour`, the rules of grammar_violation
/// written as positions: a text is allowed exactly when it matches one of them character by
/// character (blue: 1 pattern; yellow: plain and 学; yellow_double: plain and 挂; green: small
/// and large vehicle). For a decoder that reads only what the grammar allows.
std::vector<PlatePattern> grammar_patterns(hw::PlateColour colour);

}  // namespace wim::edge::anpr
