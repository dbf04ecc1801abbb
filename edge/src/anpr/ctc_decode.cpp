// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/anpr/ctc_decode.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "wim/common/error.hpp"

namespace wim::edge::anpr {

namespace {

void check_shape(const cv::Mat& probs, const std::vector<std::string>& keys) {
  if (probs.dims != 2 || probs.type() != CV_32F || probs.cols != static_cast<int>(keys.size()) + 1)
    throw InputError("CTC decoder: probabilities have " + std::to_string(probs.cols) +
                     " classes, the alphabet has " + std::to_string(keys.size()) + " + blank");
}

int argmax(const float* row, int classes) {
  return static_cast<int>(std::max_element(row, row + classes) - row);
}

constexpr double kNoPath = -std::numeric_limits<double>::infinity();

double log_p(float p) {
  return std::log(std::max(static_cast<double>(p), 1e-30));
}

// Viterbi over one pattern. States: E(j, k) "character j is being read as class k" for
// k in the classes allowed at position j; B(j) "a blank after j characters" (j = 0..L).
struct PatternLattice {
  std::vector<std::vector<int>> allowed;  // per position: classes
  std::vector<int> first;                 // per position: index of its first E state
  int blanks_at = 0;                      // index of B(0)
  int states = 0;
};

struct Path {
  double score = kNoPath;
  std::vector<int> state_class;  // per step: class (0 blank)
  std::vector<int> state_char;   // per step: character index (E) or -1 - j (B(j))
  std::vector<int> pattern_classes;
};

Path best_path(const cv::Mat& probs, const PatternLattice& g) {
  const int steps = probs.rows, positions = static_cast<int>(g.allowed.size());
  Path out;
  if (steps == 0 || positions == 0) return out;
  std::vector<double> prev(static_cast<std::size_t>(g.states), kNoPath), cur(prev.size());
  std::vector<int> back(static_cast<std::size_t>(steps) * g.states, -1);
  const auto e = [&](int j, std::size_t i) {
    return g.first[static_cast<std::size_t>(j)] + static_cast<int>(i);
  };
  const auto b = [&](int j) { return g.blanks_at + j; };
  const float* row0 = probs.ptr<float>(0);
  prev[static_cast<std::size_t>(b(0))] = log_p(row0[0]);
  for (std::size_t i = 0; i < g.allowed[0].size(); ++i)
    prev[static_cast<std::size_t>(e(0, i))] = log_p(row0[g.allowed[0][i]]);
  for (int t = 1; t < steps; ++t) {
    const float* row = probs.ptr<float>(t);
    int* bt = back.data() + static_cast<std::size_t>(t) * g.states;
    std::fill(cur.begin(), cur.end(), kNoPath);
    // per position j: the best and second-best E(j, .) of the step before, with classes
    std::vector<std::pair<int, int>> top(static_cast<std::size_t>(positions), {-1, -1});
    for (int j = 0; j < positions; ++j) {
      auto& [s1, s2] = top[static_cast<std::size_t>(j)];
      for (std::size_t i = 0; i < g.allowed[static_cast<std::size_t>(j)].size(); ++i) {
        const int s = e(j, i);
        const double v = prev[static_cast<std::size_t>(s)];
        if (v == kNoPath) continue;
        if (s1 < 0 || v > prev[static_cast<std::size_t>(s1)]) {
          s2 = s1;
          s1 = s;
        } else if (s2 < 0 || v > prev[static_cast<std::size_t>(s2)]) {
          s2 = s;
        }
      }
    }
    const auto take = [&](int to, int from) {
      if (from < 0 || prev[static_cast<std::size_t>(from)] == kNoPath) return;
      if (prev[static_cast<std::size_t>(from)] > cur[static_cast<std::size_t>(to)]) {
        cur[static_cast<std::size_t>(to)] = prev[static_cast<std::size_t>(from)];
        bt[to] = from;
      }
    };
    const auto class_of = [&](int s) {
      for (int j = positions - 1; j >= 0; --j)
        if (s >= g.first[static_cast<std::size_t>(j)])
          return g.allowed[static_cast<std::size_t>(j)]
                          [static_cast<std::size_t>(s - g.first[static_cast<std::size_t>(j)])];
      return 0;
    };
    for (int j = 0; j <= positions; ++j) {  // B(j): stay, or after character j - 1
      take(b(j), b(j));
      if (j > 0) take(b(j), top[static_cast<std::size_t>(j - 1)].first);
      if (cur[static_cast<std::size_t>(b(j))] != kNoPath)
        cur[static_cast<std::size_t>(b(j))] += log_p(row[0]);
    }
    for (int j = 0; j < positions; ++j)
      for (std::size_t i = 0; i < g.allowed[static_cast<std::size_t>(j)].size(); ++i) {
        const int s = e(j, i), k = g.allowed[static_cast<std::size_t>(j)][i];
        take(s, s);     // the same character, one step longer
        take(s, b(j));  // after a blank
        if (j > 0) {    // straight after the character before, if it is another class
          const auto [s1, s2] = top[static_cast<std::size_t>(j - 1)];
          take(s, s1 >= 0 && class_of(s1) != k ? s1 : s2);
        }
        if (cur[static_cast<std::size_t>(s)] != kNoPath)
          cur[static_cast<std::size_t>(s)] += log_p(row[k]);
      }
    std::swap(prev, cur);
  }
  int end = b(positions);
  for (std::size_t i = 0; i < g.allowed.back().size(); ++i)
    if (prev[static_cast<std::size_t>(e(positions - 1, i))] > prev[static_cast<std::size_t>(end)])
      end = e(positions - 1, i);
  if (prev[static_cast<std::size_t>(end)] == kNoPath) return out;
  out.score = prev[static_cast<std::size_t>(end)];
  out.state_class.assign(static_cast<std::size_t>(steps), 0);
  out.state_char.assign(static_cast<std::size_t>(steps), 0);
  for (int t = steps - 1, s = end; t >= 0; --t) {
    if (s >= g.blanks_at) {
      out.state_class[static_cast<std::size_t>(t)] = 0;
      out.state_char[static_cast<std::size_t>(t)] = -1 - (s - g.blanks_at);
    } else {
      int j = positions - 1;
      while (s < g.first[static_cast<std::size_t>(j)]) --j;
      out.state_char[static_cast<std::size_t>(t)] = j;
      out.state_class[static_cast<std::size_t>(t)] =
          g.allowed[static_cast<std::size_t>(j)]
                   [static_cast<std::size_t>(s - g.first[static_cast<std::size_t>(j)])];
    }
    if (t > 0) s = back[static_cast<std::size_t>(t) * g.states + s];
  }
  return out;
}

}  // namespace

void set_least_confidence(OcrReading& r) {
  r.confidence = r.char_confidence.empty()
                     ? 0
                     : *std::min_element(r.char_confidence.begin(), r.char_confidence.end());
}

OcrReading ctc_greedy(const cv::Mat& probs, const std::vector<std::string>& keys) {
  check_shape(probs, keys);
  OcrReading r;
  int prev = 0;
  for (int t = 0; t < probs.rows; ++t) {
    const float* row = probs.ptr<float>(t);
    const int k = argmax(row, probs.cols);
    const double p = row[k];
    if (k != 0 && k != prev) {
      r.text += keys[static_cast<std::size_t>(k - 1)];
      r.char_confidence.push_back(p);
      r.char_forced.push_back(1);
    } else if (k != 0 && k == prev) {
      r.char_confidence.back() = std::max(r.char_confidence.back(), p);
    }
    prev = k;
  }
  set_least_confidence(r);
  return r;
}

OcrReading ctc_constrained(const cv::Mat& probs, const std::vector<std::string>& keys,
                           const std::vector<PlatePattern>& patterns) {
  check_shape(probs, keys);
  std::map<std::string, int> class_of;
  for (std::size_t i = 0; i < keys.size(); ++i) class_of.emplace(keys[i], static_cast<int>(i) + 1);
  Path best;
  PatternLattice best_lattice;
  for (const auto& pattern : patterns) {
    PatternLattice g;
    bool possible = !pattern.empty();
    for (const auto& position : pattern) {
      std::vector<int> classes;
      for (const auto& c : position)
        if (const auto it = class_of.find(c); it != class_of.end()) classes.push_back(it->second);
      possible = possible && !classes.empty();
      g.first.push_back(g.states);
      g.states += static_cast<int>(classes.size());
      g.allowed.push_back(std::move(classes));
    }
    if (!possible) continue;
    g.blanks_at = g.states;
    g.states += static_cast<int>(pattern.size()) + 1;
    Path p = best_path(probs, g);
    if (p.score > best.score) {
      best = std::move(p);
      best_lattice = std::move(g);
    }
  }
  OcrReading r;
  if (best.score == kNoPath) return r;
  const std::size_t n = best_lattice.allowed.size();
  r.char_confidence.assign(n, 0);
  r.char_forced.assign(n, 1);
  std::vector<int> chosen(n, 0);
  for (int t = 0; t < probs.rows; ++t) {
    const float* row = probs.ptr<float>(t);
    const auto ts = static_cast<std::size_t>(t);
    const int k = best.state_class[ts], j = best.state_char[ts];
    const bool forced = argmax(row, probs.cols) != k;
    if (j >= 0) {
      const auto c = static_cast<std::size_t>(j);
      chosen[c] = k;
      r.char_confidence[c] = std::max(r.char_confidence[c], static_cast<double>(row[k]));
      if (forced) r.char_forced[c] = std::min(r.char_forced[c], static_cast<double>(row[k]));
    } else if (forced) {         // a blank where the network read a character: both neighbours
      const int after = -1 - j;  // B(after): after this many characters
      if (after == 0 || after == static_cast<int>(n)) {
        r.end_forced = std::min(r.end_forced, static_cast<double>(row[0]));
        continue;
      }
      for (int c : {after - 1, after})
        if (c >= 0 && c < static_cast<int>(n))
          r.char_forced[static_cast<std::size_t>(c)] =
              std::min(r.char_forced[static_cast<std::size_t>(c)], static_cast<double>(row[0]));
    }
  }
  for (int k : chosen) r.text += keys[static_cast<std::size_t>(k - 1)];
  set_least_confidence(r);
  return r;
}

}  // namespace wim::edge::anpr
