// SPDX-License-Identifier: Apache-2.0
#include "wim/hw/json_fields.hpp"

#include <algorithm>
#include <vector>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"

namespace wim::hw {
namespace {

// Levenshtein distance: small strings (field names), so the plain O(n·m) table.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

void refuse_unknown_fields(const boost::json::object& o,
                           std::initializer_list<std::string_view> known, std::string_view ctx) {
  for (const auto& kv : o) {
    const std::string_view key = kv.key();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string msg = json::field_path(ctx, key) + ": unknown field";
    std::string_view best;
    std::size_t best_d = 3;
    for (const auto k : known) {
      const std::size_t d = edit_distance(key, k);
      if (d < best_d) best_d = d, best = k;
    }
    if (!best.empty()) msg += " (did you mean '" + std::string(best) + "'?)";
    throw InputError(msg);
  }
}

}  // namespace wim::hw
