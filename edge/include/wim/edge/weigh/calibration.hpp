// SPDX-License-Identifier: Apache-2.0
// Calibration from reference trucks: recordings of passes of trucks with known static
// axle loads -> per-channel gains (least squares through the origin, wheel = axle / 2 for
// evenly loaded reference trucks) and a linear speed-dependent correction of the axle
// loads; residuals reported as calibration reports do (bias, standard deviation, 95 %
// interval). Errors: InputError naming the run and what was wrong.
#pragma once
#include <boost/json/object.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "wim/common/station_config.hpp"

namespace wim::weigh {

struct ReferenceRun {
  std::filesystem::path recording;
  std::vector<double> static_axle_loads_kg;  ///< [kg] from a static scale
};

/// Relative errors (measured - reference) / reference in %.
struct Residuals {
  std::size_t n = 0;
  double bias_pct = 0;                      ///< [%] mean
  double sd_pct = 0;                        ///< [%] sample standard deviation
  double ci95_lo_pct = 0, ci95_hi_pct = 0;  ///< [%] bias -+ 1.96 sd (95 % of passes)
};
Residuals residuals(const std::vector<double>& errors_pct);

struct CalibrationResult {
  std::string id, date;
  std::vector<double> old_gain, new_gain;  ///< [kg/count] per channel
  std::vector<std::size_t> wheels;         ///< [-] wheel passes used per channel
  double speed_ref_kmh = 0;                ///< [km/h]
  double speed_pct_per_10kmh = 0;          ///< [%/(10 km/h)]
  Residuals gross_before, gross_after, axle_after;
  config::StationConfig calibrated;  ///< the input config with the new gains
};

CalibrationResult calibrate(const config::StationConfig& cfg, const std::vector<ReferenceRun>& runs,
                            const std::string& id, const std::string& date);
boost::json::object to_json(const CalibrationResult& r);

}  // namespace wim::weigh
