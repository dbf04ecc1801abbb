// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/csv.hpp"

#include <cstdio>

namespace wim::collector::csv {

bool formula_like(std::string_view v) {
  // Leading spaces do not make a cell safe: some importers trim them first.
  const auto b = v.find_first_not_of(' ');
  if (b == std::string_view::npos) return false;
  switch (v[b]) {
    case '=':
    case '+':
    case '-':
    case '@':
    case '\t':
    case '\r':
      return true;
    default:
      return false;
  }
}

std::string text(std::string_view v) {
  const bool guard = formula_like(v);
  if (!guard && v.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(v);
  std::string out = guard ? "\"'" : "\"";
  for (char ch : v) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

std::string number(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string number(std::int64_t v) {
  return std::to_string(v);
}

}  // namespace wim::collector::csv
