// SPDX-License-Identifier: Apache-2.0
// A simulated vehicle's ground truth as it passes an in-process simulated roadside
// (SimSource): for logging and for driving the camera twin with the vehicle's plate.
#pragma once
#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <string>

namespace wim::hw {

struct SimTruth {
  std::uint64_t id = 0;        ///< [-] 1, 2, … in order of arrival
  int lane = 1;                ///< [-] 1-based
  std::int64_t t_unix_us = 0;  ///< [us] UTC: first axle's centre over row 1
  std::int64_t t_us = 0;       ///< [us] simulated time since the source's start (truth.jsonl)
  double speed_kmh = 0;        ///< [km/h] at row 1
  std::string vehicle_class;   ///< "car", "truck_2axle", … (docs/simulator.md)
  double gross_kg = 0;         ///< [kg] static
  bool overloaded = false;     ///< above the class's gross limit
  std::string plate_text;      ///< e.g. "AB123CD"
  std::string plate_colour;    ///< "blue", "yellow", "green"
  boost::json::object truth;   ///< exactly the truth.jsonl line of `wim-sim record`
};

/// Called from SampleSource::read() (the reading thread) once the simulated time has
/// reached the vehicle's t_us, before the block holding that sample is returned.
using SimTruthCallback = std::function<void(const SimTruth&)>;

}  // namespace wim::hw
