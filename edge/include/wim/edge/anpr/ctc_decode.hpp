// SPDX-License-Identifier: Apache-2.0
// Decoding a CTC text network's per-step class probabilities into characters: greedy (the
// most probable class at every step, repeats merged, blanks dropped) or constrained to the
// plate patterns of GA 36-2018 (the most probable alignment whose characters form a plate
// the grammar allows).
#pragma once
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "wim/edge/anpr/plate_grammar.hpp"

namespace wim::edge::anpr {

struct OcrReading {
  std::string text;                     ///< UTF-8, the characters read in order
  std::vector<double> char_confidence;  ///< [0, 1] per character: its best step's probability
  double confidence = 0;                ///< [0, 1] the least sure character (0 when none)
  /// [0, 1] per character: the least probability of the path's class at a step where the
  /// decoder chose other than that step's most probable class (the character's own steps
  /// and the blanks between it and its neighbours); 1 where it followed the network.
  /// Greedy: all 1.
  std::vector<double> char_forced;
  /// [0, 1] the same for the blanks before the first and after the last character: the least
  /// probability of a blank put where the network read a character outside the plate's
  /// characters (a frame edge, a rivet, the text beside the plate); 1 when none.
  double end_forced = 1;
};

/// Sets r.confidence to its least sure character's char_confidence (0 when none).
void set_least_confidence(OcrReading& r);

/// `probs`: steps x classes, CV_32F, each row a softmax; class 0 is the CTC blank, class i
/// the character keys[i - 1]. Throws InputError when the class count is not keys + 1.
OcrReading ctc_greedy(const cv::Mat& probs, const std::vector<std::string>& keys);

/// The most probable CTC alignment (Viterbi best path: blanks, repeats, a blank needed between
/// two equal characters) whose characters match one of `patterns` position by position.
/// Characters of a pattern that are not among the keys are never read. Per character: its
/// best aligned step's probability (as ctc_greedy), char_forced, end_forced. When the network's own
/// best path matches a pattern, the result is ctc_greedy's. Empty (confidence 0) when no
/// alignment fits (fewer steps than the pattern needs, or no pattern). Throws as ctc_greedy.
OcrReading ctc_constrained(const cv::Mat& probs, const std::vector<std::string>& keys,
                           const std::vector<PlatePattern>& patterns);

}  // namespace wim::edge::anpr
