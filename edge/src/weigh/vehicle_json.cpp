// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/weigh/vehicle_json.hpp"

#include <boost/json.hpp>
#include <cmath>

#include "wim/edge/weigh/software_id.hpp"

namespace wim::weigh {
namespace {

namespace bj = boost::json;

/// Rounds to `step` so that output is stable and readable (kg to 1, m to mm).
double round_to(double v, double step) {
  if (!std::isfinite(v)) return 0;
  return std::round(v / step) * step;
}

}  // namespace

bj::object legal_basis_json(const legal::LegalBasis& b) {
  bj::array candidates, groups, axle_rows;
  for (legal::VehicleClass c : b.classification.candidates)
    candidates.emplace_back(legal::to_string(c));
  for (const legal::GroupCheck& g : b.groups)
    groups.push_back(bj::object{{"first_axle", g.first_axle},
                                {"axles", g.axles},
                                {"load_kg", round_to(g.load_kg, 1)},
                                {"limit_kg", g.limit_kg},
                                {"margin_kg", round_to(g.margin_kg, 1)},
                                {"excess_kg", round_to(g.excess_kg, 1)},
                                {"overloaded", g.overloaded}});
  for (const legal::AxleLimitRow& r : b.settings.axle_limits.rows)
    axle_rows.push_back(bj::object{{"axles", r.axles},
                                   {"min_spacing_m", r.min_spacing_m},
                                   {"max_spacing_m", r.max_spacing_m},
                                   {"limit_kg", r.limit_kg}});
  return bj::object{
      {"limits_source", b.limits_source},
      {"vehicle_class", legal::to_string(b.classification.vehicle_class)},
      {"class_candidates", std::move(candidates)},
      {"ambiguous", b.classification.ambiguous},
      {"rule", b.classification.rule},
      {"limit_kg", b.limit_kg},
      {"gross_kg", round_to(b.gross_kg, 1)},
      {"tolerance_kg", round_to(b.tolerance_kg, 1)},
      {"tolerance_cfg",
       bj::object{{"kg", b.settings.tolerance_kg}, {"pct", b.settings.tolerance_pct}}},
      {"uncertainty_pct", b.settings.uncertainty_pct},
      {"uncertainty_kg", round_to(b.uncertainty_kg, 1)},
      {"warning_band_kg", b.settings.warning_band_kg},
      {"excess_kg", round_to(b.excess_kg, 1)},
      {"overload_ratio", round_to(b.overload_ratio, 0.0001)},
      {"verdict", legal::to_string(b.verdict)},
      {"overloaded", b.overloaded},
      {"axle_groups", std::move(groups)},
      {"axle_limits",
       bj::object{{"source", b.settings.axle_limits.source}, {"rows", std::move(axle_rows)}}},
      {"group_overload", b.group_overload},
  };
}

bj::object vehicle_json(const WeighedVehicle& v) {
  bj::array loads, spacings, speeds, left, right, rows_used, reasons;
  for (const WeighedAxle& a : v.axles) {
    loads.emplace_back(round_to(a.load_kg, 1));
    speeds.emplace_back(round_to(a.speed_kmh, 0.01));
    left.emplace_back(round_to(a.left_kg, 1));
    right.emplace_back(round_to(a.right_kg, 1));
    rows_used.emplace_back(a.rows_used);
  }
  for (double s : v.axle_spacings_m) spacings.emplace_back(round_to(s, 0.001));
  for (const std::string& r : v.reasons) reasons.emplace_back(r);
  return bj::object{
      {"t_us", v.t_us},
      {"lane", v.lane},
      {"speed_kmh", round_to(v.speed_kmh, 0.01)},
      {"axle_loads_kg", std::move(loads)},
      {"axle_spacings_m", std::move(spacings)},
      {"gross_kg", round_to(v.gross_kg, 1)},
      {"axle_config", v.legal.axle_config},
      {"limit_kg", v.legal.limit_kg},
      {"overload_ratio", round_to(v.legal.overload_ratio, 0.0001)},
      {"overloaded", v.legal.overloaded},
      {"verdict", legal::to_string(v.legal.verdict)},
      {"vehicle_class", legal::to_string(v.legal.classification.vehicle_class)},
      {"axle_count", v.axles.size()},
      {"axle_speeds_kmh", std::move(speeds)},
      {"accel_mps2", round_to(v.accel_mps2, 0.001)},
      {"left_wheel_kg", std::move(left)},
      {"right_wheel_kg", std::move(right)},
      {"rows", v.rows},
      {"rows_used", std::move(rows_used)},
      {"valid", v.valid},
      {"reasons", std::move(reasons)},
      {"legal_basis", legal_basis_json(v.legal)},
      {"software_sha256", legal::software_sha256()},
  };
}

}  // namespace wim::weigh
