// SPDX-License-Identifier: Apache-2.0
// Legal limits and the overload rule (legally relevant: part of the software identity).
//
// Gross limits: MOT Order 2016 No. 62 Art. 3 / GB 1589-2016 (table in law, so in code,
// with its source). Axle-load limits: NOT in code; a configured table with its source,
// because no primary source was confirmed (shared/domain/FACTS.md).
//
// Rules implemented here:
//  - the axle pattern gives a set of candidate classes; where it cannot tell two classes
//    apart, the HIGHER limit applies (no penalty rests on a guess);
//  - overload ratio = (gross - limit) / limit, on the measured gross;
//  - a case needs the gross, less the measurement-uncertainty margin and the configured
//    tolerance, to exceed the limit; an enforceable excess of at most 1 000 kg draws a
//    warning only (Art. 43); every figure used is recorded in the LegalBasis.
// Thread-safety: pure functions, safe from any thread. Errors: InputError naming the field.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wim::legal {

/// Vehicle classes of the gross-limit table (plus cars, which the table does not cover).
enum class VehicleClass {
  car,
  truck_2axle,
  truck_3axle,
  combination_3axle,
  truck_4axle,
  combination_4axle,
  combination_5axle,
  combination_6axle,
  combination_6axle_single_drive,
};
std::string_view to_string(VehicleClass c);
/// Inverse of to_string; throws InputError naming the value.
VehicleClass vehicle_class_from_string(std::string_view s);

/// One row of the gross-limit table.
struct GrossLimitRow {
  VehicleClass vehicle_class;
  int axles;                     ///< [-] axle count (6 means "6 or more")
  bool combination;              ///< tractor + semitrailer / truck + trailer
  double limit_kg;               ///< [kg] gross mass limit
  std::string_view description;  ///< as the source names it
};
inline constexpr std::string_view kGrossLimitSource = "MOT Order 2016 No. 62 Art. 3; GB 1589-2016";
/// Every row of the table, in the order of the source.
std::span<const GrossLimitRow> gross_limit_table();
/// [kg] limit of a class; cars (not in the table) get the 2-axle limit.
double gross_limit_kg(VehicleClass c);

/// Axle groups from spacings: axles closer than group_max_spacing_m form one group.
/// spacings_m has axle_count - 1 entries. Returns axles per group, e.g. {1, 2, 3}.
std::vector<int> axle_groups(std::span<const double> spacings_m, double group_max_spacing_m);
/// Axle configuration code: axles per group joined by '-', e.g. "1-2-3" (steer axle,
/// tandem, tridem). docs/station-config.md explains it.
std::string axle_config_code(std::span<const int> groups);

/// What the axle pattern says about the class.
struct Classification {
  VehicleClass vehicle_class = VehicleClass::truck_2axle;  ///< the class whose limit applies
  std::vector<VehicleClass> candidates;                    ///< every class the pattern fits (>= 1)
  double limit_kg = 0;                                     ///< [kg] highest limit among candidates
  bool ambiguous = false;                                  ///< more than one candidate limit
  std::string rule;  ///< human-readable reason, for the legal basis
};
/// gross_kg only labels light 2-axle vehicles as cars (< 3 500 kg); the limit does not
/// depend on it. Throws InputError when spacings_m.size() + 1 != groups' axle total.
Classification classify(std::span<const int> groups, std::span<const double> spacings_m,
                        double gross_kg);

/// Axle-load limit row (configured, not law in code).
struct AxleLimitRow {
  int axles = 1;               ///< [-] axles in the group: 1 single, 2 tandem, 3 tridem
  double min_spacing_m = 0;    ///< [m] applies when the group's axle spacing >= this
  double max_spacing_m = 1e9;  ///< [m] ... and < this (single axles: ignored)
  double limit_kg = 0;         ///< [kg] group load limit
};
struct AxleLimitTable {
  std::string source;  ///< where the figures come from; empty = no table configured
  std::vector<AxleLimitRow> rows;
  bool configured() const { return !rows.empty(); }
};

/// The legally relevant settings, each recorded in every record's legal basis.
struct LegalSettings {
  double tolerance_kg = 0;           ///< [kg] tolerance before a case is raised
  double tolerance_pct = 0;          ///< [%] of the limit; the larger of the two applies
  double uncertainty_pct = 5;        ///< [%] of the measured gross: measurement-uncertainty margin
  double axle_uncertainty_pct = 10;  ///< [%] of a measured group load
  double warning_band_kg = 1000;     ///< [kg] enforceable excess up to this: warning only
  double group_max_spacing_m = 2.0;  ///< [m] axles closer than this form a group
  AxleLimitTable axle_limits;
  /// Throws InputError "<ctx>.<field>: ..." on a negative or absurd value.
  void validate(std::string_view ctx) const;
};

enum class Verdict {
  within_limit,      ///< measured gross <= limit
  within_tolerance,  ///< gross > limit, but not beyond uncertainty margin + tolerance
  warning,           ///< enforceable excess in (0, warning band]
  overload,          ///< a case
  not_enforceable,   ///< pass invalid for enforcement (reasons in the measurement)
};
std::string_view to_string(Verdict v);

struct GroupCheck {
  int first_axle = 0;       ///< [-] 0-based index of the group's first axle
  int axles = 1;            ///< [-] axles in the group
  double load_kg = 0;       ///< [kg] measured group load
  double limit_kg = 0;      ///< [kg] 0 when no configured row applies
  double margin_kg = 0;     ///< [kg] uncertainty margin deducted
  double excess_kg = 0;     ///< [kg] load - margin - limit (enforceable when > 0)
  bool overloaded = false;  ///< excess > 0 and a limit applies
};

/// Everything a court needs to follow the decision.
struct LegalBasis {
  std::string limits_source = std::string(kGrossLimitSource);
  Classification classification;
  std::string axle_config;    ///< e.g. "1-2-3"
  double gross_kg = 0;        ///< [kg] measured
  double limit_kg = 0;        ///< [kg]
  double tolerance_kg = 0;    ///< [kg] applied: max(tolerance_kg, tolerance_pct x limit)
  double uncertainty_kg = 0;  ///< [kg] applied margin: uncertainty_pct x gross
  double excess_kg = 0;       ///< [kg] gross - uncertainty - tolerance - limit
  double overload_ratio = 0;  ///< [-] (gross - limit) / limit
  Verdict verdict = Verdict::within_limit;
  bool overloaded = false;  ///< verdict == overload: a case is raised
  LegalSettings settings;   ///< as configured
  std::vector<GroupCheck> groups;
  bool group_overload = false;  ///< any group over its configured limit
};

/// Applies the rules. `valid` = the pass is fit for enforcement; an invalid pass gets
/// Verdict::not_enforceable and never raises a case (ratio still computed).
LegalBasis decide(std::span<const double> axle_loads_kg, std::span<const double> spacings_m,
                  const LegalSettings& settings, bool valid);

}  // namespace wim::legal
