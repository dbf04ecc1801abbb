// SPDX-License-Identifier: Apache-2.0
#include "wim/common/legal_limits.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "wim/common/error.hpp"

namespace wim::legal {
namespace {

constexpr std::array<GrossLimitRow, 8> kTable = {{
    {VehicleClass::truck_2axle, 2, false, 18000, "2-axle truck"},
    {VehicleClass::truck_3axle, 3, false, 25000, "3-axle truck"},
    {VehicleClass::combination_3axle, 3, true, 27000, "3-axle combination"},
    {VehicleClass::truck_4axle, 4, false, 31000, "4-axle truck"},
    {VehicleClass::combination_4axle, 4, true, 36000, "4-axle combination"},
    {VehicleClass::combination_5axle, 5, true, 43000, "5-axle combination"},
    {VehicleClass::combination_6axle, 6, true, 49000, "combination with 6 or more axles"},
    {VehicleClass::combination_6axle_single_drive, 6, true, 46000,
     "combination with 6 or more axles, tractor drive axle a single axle"},
}};

constexpr std::array<std::string_view, 9> kNames = {"car",
                                                    "truck_2axle",
                                                    "truck_3axle",
                                                    "combination_3axle",
                                                    "truck_4axle",
                                                    "combination_4axle",
                                                    "combination_5axle",
                                                    "combination_6axle",
                                                    "combination_6axle_single_drive"};

/// [kg] below this a 2-axle vehicle is labelled a car (label only; the limit is the same).
constexpr double kCarMaxGrossKg = 3500;
/// [m] a steer axle this far ahead of a lone second axle cannot be a twin steer, so the
/// second axle is the drive axle (single-drive recognition for 6+ axles).
constexpr double kSingleDriveMinSpacingM = 3.0;

Classification make(std::vector<VehicleClass> candidates, std::string rule) {
  Classification c;
  c.candidates = std::move(candidates);
  c.vehicle_class = c.candidates.front();
  c.limit_kg = gross_limit_kg(c.vehicle_class);
  for (VehicleClass v : c.candidates) {
    if (gross_limit_kg(v) > c.limit_kg) {
      c.limit_kg = gross_limit_kg(v);
      c.vehicle_class = v;
    }
    if (gross_limit_kg(v) != gross_limit_kg(c.candidates.front())) c.ambiguous = true;
  }
  c.rule = std::move(rule);
  if (c.ambiguous) c.rule += "; pattern fits several classes: the higher limit applies";
  return c;
}

}  // namespace

std::string_view to_string(VehicleClass c) {
  return kNames.at(static_cast<std::size_t>(c));
}

VehicleClass vehicle_class_from_string(std::string_view s) {
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == s) return static_cast<VehicleClass>(i);
  throw InputError("unknown vehicle class '" + std::string(s) + "'");
}

std::span<const GrossLimitRow> gross_limit_table() {
  return kTable;
}

double gross_limit_kg(VehicleClass c) {
  if (c == VehicleClass::car) return gross_limit_kg(VehicleClass::truck_2axle);
  for (const GrossLimitRow& r : kTable)
    if (r.vehicle_class == c) return r.limit_kg;
  throw InputError("no gross limit for class " + std::string(to_string(c)));
}

std::vector<int> axle_groups(std::span<const double> spacings_m, double group_max_spacing_m) {
  std::vector<int> groups{1};
  for (double s : spacings_m) {
    if (s < group_max_spacing_m)
      ++groups.back();
    else
      groups.push_back(1);
  }
  return groups;
}

std::string axle_config_code(std::span<const int> groups) {
  std::string code;
  for (int g : groups) {
    if (!code.empty()) code += '-';
    code += std::to_string(g);
  }
  return code;
}

Classification classify(std::span<const int> groups, std::span<const double> spacings_m,
                        double gross_kg) {
  const int n = std::accumulate(groups.begin(), groups.end(), 0);
  if (static_cast<std::size_t>(n) != spacings_m.size() + 1)
    throw InputError("classify: " + std::to_string(n) + " axles in groups but " +
                     std::to_string(spacings_m.size()) + " spacings");
  const std::string code = axle_config_code(groups);
  using V = VehicleClass;
  if (n <= 2) {
    Classification c = make({V::truck_2axle}, "2 axles (" + code + "): 2-axle truck");
    if (gross_kg < kCarMaxGrossKg) c.vehicle_class = V::car;
    return c;
  }
  if (n == 3) {
    if (groups.size() == 2)
      return make({V::truck_3axle}, "3 axles with a tandem (" + code + "): rigid 3-axle truck");
    return make({V::truck_3axle, V::combination_3axle}, "3 axles (" + code + ")");
  }
  if (n == 4) {
    if (groups.size() == 2 && groups[0] == 2 && groups[1] == 2)
      return make({V::truck_4axle}, "4 axles, twin steer + tandem (2-2): rigid 4-axle truck");
    return make({V::truck_4axle, V::combination_4axle}, "4 axles (" + code + ")");
  }
  if (n == 5) return make({V::combination_5axle}, "5 axles (" + code + ")");
  if (groups.size() >= 3 && groups[0] == 1 && groups[1] == 1 &&
      spacings_m[0] >= kSingleDriveMinSpacingM && spacings_m[1] >= kSingleDriveMinSpacingM)
    return make({V::combination_6axle_single_drive},
                std::to_string(n) + " axles (" + code +
                    "): lone second axle >= 3.0 m behind the steer axle and ahead of the "
                    "next group: single drive axle");
  return make({V::combination_6axle, V::combination_6axle_single_drive},
              std::to_string(n) + " axles (" + code + ")");
}

void LegalSettings::validate(std::string_view ctx) const {
  const std::string c(ctx);
  auto check = [&](std::string_view field, double v, double lo, double hi) {
    if (!(v >= lo && v <= hi))
      throw InputError(c + "." + std::string(field) + ": must be in [" + std::to_string(lo) + ", " +
                       std::to_string(hi) + "], got " + std::to_string(v));
  };
  check("tolerance_kg", tolerance_kg, 0, 10000);
  check("tolerance_pct", tolerance_pct, 0, 50);
  check("uncertainty_pct", uncertainty_pct, 0, 50);
  check("axle_uncertainty_pct", axle_uncertainty_pct, 0, 50);
  check("warning_band_kg", warning_band_kg, 0, 10000);
  check("group_max_spacing_m", group_max_spacing_m, 0.5, 5);
  for (std::size_t i = 0; i < axle_limits.rows.size(); ++i) {
    const AxleLimitRow& r = axle_limits.rows[i];
    const std::string rc = "axle_limits.rows[" + std::to_string(i) + "]";
    if (r.axles < 1 || r.axles > 4) throw InputError(c + "." + rc + ".axles: must be 1..4");
    if (!(r.limit_kg > 0)) throw InputError(c + "." + rc + ".limit_kg: must be > 0");
    if (!(r.min_spacing_m >= 0 && r.max_spacing_m > r.min_spacing_m))
      throw InputError(c + "." + rc + ".min_spacing_m/max_spacing_m: need 0 <= min < max");
  }
  if (axle_limits.configured() && axle_limits.source.empty())
    throw InputError(c + ".axle_limits.source: required when rows are configured");
}

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::within_limit:
      return "within_limit";
    case Verdict::within_tolerance:
      return "within_tolerance";
    case Verdict::warning:
      return "warning";
    case Verdict::overload:
      return "overload";
    case Verdict::not_enforceable:
      return "not_enforceable";
  }
  return "?";
}

LegalBasis decide(std::span<const double> axle_loads_kg, std::span<const double> spacings_m,
                  const LegalSettings& settings, bool valid) {
  if (axle_loads_kg.empty() || spacings_m.size() + 1 != axle_loads_kg.size())
    throw InputError("decide: need n axle loads and n-1 spacings");
  LegalBasis b;
  b.settings = settings;
  b.gross_kg = std::accumulate(axle_loads_kg.begin(), axle_loads_kg.end(), 0.0);
  const std::vector<int> groups = axle_groups(spacings_m, settings.group_max_spacing_m);
  b.axle_config = axle_config_code(groups);
  b.classification = classify(groups, spacings_m, b.gross_kg);
  b.limit_kg = b.classification.limit_kg;
  b.tolerance_kg = std::max(settings.tolerance_kg, settings.tolerance_pct / 100 * b.limit_kg);
  b.uncertainty_kg = settings.uncertainty_pct / 100 * b.gross_kg;
  b.excess_kg = b.gross_kg - b.uncertainty_kg - b.tolerance_kg - b.limit_kg;
  b.overload_ratio = (b.gross_kg - b.limit_kg) / b.limit_kg;
  if (!valid)
    b.verdict = Verdict::not_enforceable;
  else if (b.gross_kg <= b.limit_kg)
    b.verdict = Verdict::within_limit;
  else if (b.excess_kg <= 0)
    b.verdict = Verdict::within_tolerance;
  else if (b.excess_kg <= settings.warning_band_kg)
    b.verdict = Verdict::warning;
  else
    b.verdict = Verdict::overload;
  b.overloaded = b.verdict == Verdict::overload;

  int first = 0;
  for (int g : groups) {
    GroupCheck gc;
    gc.first_axle = first;
    gc.axles = g;
    for (int a = first; a < first + g; ++a)
      gc.load_kg += axle_loads_kg[static_cast<std::size_t>(a)];
    double spacing = 0;  // mean spacing inside the group
    for (int a = first; a + 1 < first + g; ++a) spacing += spacings_m[static_cast<std::size_t>(a)];
    if (g > 1) spacing /= g - 1;
    for (const AxleLimitRow& r : settings.axle_limits.rows) {
      if (r.axles != g) continue;
      if (g > 1 && !(spacing >= r.min_spacing_m && spacing < r.max_spacing_m)) continue;
      gc.limit_kg = std::max(gc.limit_kg, r.limit_kg);  // overlapping rows: the higher one
    }
    gc.margin_kg = settings.axle_uncertainty_pct / 100 * gc.load_kg;
    if (gc.limit_kg > 0) {
      gc.excess_kg = gc.load_kg - gc.margin_kg - gc.limit_kg;
      gc.overloaded = valid && gc.excess_kg > 0;
    }
    b.group_overload = b.group_overload || gc.overloaded;
    b.groups.push_back(gc);
    first += g;
  }
  return b;
}

}  // namespace wim::legal
