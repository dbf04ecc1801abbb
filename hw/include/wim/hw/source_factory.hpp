// SPDX-License-Identifier: Apache-2.0
// Builds a SampleSource from a JSON object (a station's "acquisition" section):
//   {"source":"sim","seed":7,"flow_veh_h":600,"lanes":2, ...}      in-process simulated roadside
//   {"source":"replay","recording":"rec.csv","loop":true}           contract-1 recording
//   {"source":"modbus","map":"amp.json","tcp":"127.0.0.1:1502"}     Modbus amplifier
// Every field is documented in docs/simulator.md ("sim", "replay") and
// docs/register-map.md ("modbus"). Unknown fields and bad values are refused with an
// InputError naming the field ("acquisition.flow_veh_h: ..."). Implemented in wim_sim
// (link wim_sim to use it).
#pragma once
#include <boost/json.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "wim/hw/sample_source.hpp"
#include "wim/hw/sim_truth.hpp"

namespace wim::hw {

struct SourceFactoryOptions {
  /// Relative paths ("recording", "map") are resolved against this (the config's folder).
  std::filesystem::path base_dir;
  /// modbus: channel names in map order when the section has no "channels" (the station
  /// config's channel names).
  std::vector<std::string> channel_names;
  /// sim: called with each vehicle's truth as it passes (else SimSource::take_truth()).
  SimTruthCallback on_truth;
};

/// `what` names the section in errors, e.g. "station.json: acquisition".
std::unique_ptr<SampleSource> make_source(const boost::json::value& config, const std::string& what,
                                          const SourceFactoryOptions& options = {});

}  // namespace wim::hw
