// SPDX-License-Identifier: Apache-2.0
// A checker of Prometheus text exposition (format 0.0.4) for the project's own rules
// (docs/operator-guide.md, "Metrics"): HELP and TYPE before every family's samples, each
// once; a family's samples together; counters named *_total; no abbreviated units
// (_ms, _us, _kb ...: base units seconds and bytes); histograms with ascending `le`,
// cumulative counts, a +Inf bucket equal to _count, and _sum; label values of `station`
// only from an allowed set (bounded cardinality). Returns the violations found, each a
// sentence naming the line; empty = clean.
#pragma once
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace wim::collector::test {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// Parses `name{k="v",...} value`; false when the line is not a sample.
inline bool parse_sample(const std::string& line, Sample& s) {
  std::size_t i = 0;
  while (i < line.size() &&
         (std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_' || line[i] == ':'))
    ++i;
  if (i == 0) return false;
  s.name = line.substr(0, i);
  s.labels.clear();
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const auto eq = line.find('=', i);
      if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') return false;
      std::string key = line.substr(i, eq - i), value;
      std::size_t k = eq + 2;
      for (; k < line.size() && line[k] != '"'; ++k) {
        if (line[k] == '\\' && k + 1 < line.size()) ++k;
        value += line[k];
      }
      if (k >= line.size()) return false;
      s.labels[key] = value;
      i = k + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return false;
    ++i;
  }
  if (i >= line.size() || line[i] != ' ') return false;
  const std::string v = line.substr(i + 1);
  if (v == "+Inf") {
    s.value = HUGE_VAL;
    return true;
  }
  char* end = nullptr;
  s.value = std::strtod(v.c_str(), &end);
  return end && *end == '\0' && !v.empty();
}

inline std::vector<std::string> check_exposition(const std::string& text,
                                                 const std::set<std::string>& stations) {
  std::vector<std::string> bad;
  std::map<std::string, std::string> type;  // family -> type
  std::set<std::string> help, seen_samples, closed;
  std::string current;  // family of the previous sample
  struct Hist {
    std::vector<std::pair<double, double>> buckets;  // le, count
    double count = -1;
    bool sum = false;
  };
  std::map<std::string, Hist> hists;
  static const char* const kAbbrev[] = {"_ms",  "_msec",    "_us",    "_usec", "_ns",
                                        "_kb",  "_mb",      "_gb",    "_kib",  "_mib",
                                        "_min", "_minutes", "_hours", "_days", "_percent"};
  const auto unit_ok = [&](const std::string& name, int line_no) {
    for (const char* a : kAbbrev) {
      const std::string ab(a);
      for (std::size_t p = name.find(ab); p != std::string::npos; p = name.find(ab, p + 1))
        if (p + ab.size() == name.size() || name[p + ab.size()] == '_')
          bad.push_back("line " + std::to_string(line_no) + ": " + name + ": unit '" +
                        ab.substr(1) + "' is not a base unit (seconds, bytes)");
    }
  };
  std::istringstream in(text);
  std::string line;
  int no = 0;
  while (std::getline(in, line)) {
    ++no;
    const std::string at = "line " + std::to_string(no) + ": ";
    if (line.empty()) continue;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      std::istringstream ls(line.substr(7));
      std::string name, rest;
      ls >> name;
      std::getline(ls, rest);
      if (line[2] == 'H') {
        if (!help.insert(name).second) bad.push_back(at + name + ": second HELP");
        if (rest.size() < 2) bad.push_back(at + name + ": empty HELP text");
      } else {
        if (type.count(name)) bad.push_back(at + name + ": second TYPE");
        if (seen_samples.count(name)) bad.push_back(at + name + ": TYPE after its samples");
        type[name] = rest.empty() ? "" : rest.substr(1);
        if (type[name] == "counter" && !name.ends_with("_total"))
          bad.push_back(at + name + ": a counter's name must end in _total");
        unit_ok(name, no);
      }
      continue;
    }
    if (line[0] == '#') continue;
    Sample s;
    if (!parse_sample(line, s)) {
      bad.push_back(at + "not a sample line: " + line);
      continue;
    }
    std::string fam = s.name;
    for (const char* suf : {"_bucket", "_sum", "_count"}) {
      const std::string sf(suf);
      if (s.name.ends_with(sf)) {
        const auto base = s.name.substr(0, s.name.size() - sf.size());
        if (type.count(base) && type[base] == "histogram") fam = base;
      }
    }
    if (!type.count(fam)) bad.push_back(at + s.name + ": no # TYPE before the sample");
    if (!help.count(fam)) bad.push_back(at + s.name + ": no # HELP before the sample");
    if (fam != current) {
      if (closed.count(fam)) bad.push_back(at + fam + ": samples not together");
      if (!current.empty()) closed.insert(current);
      current = fam;
    }
    seen_samples.insert(fam);
    if (s.labels.count("station") && !stations.count(s.labels["station"]))
      bad.push_back(at + s.name + ": station label '" + s.labels["station"] +
                    "' not in the registry (unbounded label)");
    if (type.count(fam) && type[fam] == "histogram") {
      auto& h = hists[fam];
      if (s.name == fam + "_bucket") {
        if (!s.labels.count("le")) {
          bad.push_back(at + s.name + ": bucket without le");
          continue;
        }
        const auto& le = s.labels["le"];
        const double bound = le == "+Inf" ? HUGE_VAL : std::strtod(le.c_str(), nullptr);
        if (!h.buckets.empty() && bound <= h.buckets.back().first)
          bad.push_back(at + s.name + ": le " + le + " not ascending");
        if (!h.buckets.empty() && s.value < h.buckets.back().second)
          bad.push_back(at + s.name + ": le " + le + " count below the previous bucket's");
        h.buckets.emplace_back(bound, s.value);
      } else if (s.name == fam + "_count") {
        h.count = s.value;
      } else {
        h.sum = true;
      }
    }
  }
  for (const auto& [name, h] : hists) {
    if (h.buckets.empty() || h.buckets.back().first != HUGE_VAL)
      bad.push_back(name + ": histogram without a +Inf bucket");
    else if (h.buckets.back().second != h.count)
      bad.push_back(name + ": +Inf bucket differs from _count");
    if (!h.sum) bad.push_back(name + ": histogram without _sum");
  }
  for (const auto& [name, t] : type)
    if (!help.count(name)) bad.push_back(name + ": TYPE without HELP");
  return bad;
}

}  // namespace wim::collector::test
