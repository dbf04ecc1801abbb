// SPDX-License-Identifier: Apache-2.0
// `wim-sim record`: a contract-1 recording, its ground truth and the matching station
// config, written directly (no Modbus).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "physics.hpp"
#include "site.hpp"
#include "traffic.hpp"

namespace wim::sim {

/// Everything that defines a simulated roadside; the same seed gives the same output.
struct SimOptions {
  std::uint64_t seed = 1;
  SiteConfig site;
  TrafficConfig traffic;
  /// Channel faults by channel name: (name, kind, start [s]).
  struct NamedFault {
    std::string channel;
    ChannelFaultKind kind;
    double start_s;
  };
  std::vector<NamedFault> faults;
  std::int64_t started_unix_us = 1795766400000000;  ///< [us] 2026-11-27T08:00:00Z
  double lead_in_s = 2.0;  ///< [s] empty road before the first vehicle (baseline)
  double tail_s = 2.0;     ///< [s] empty road after the last vehicle

  /// Resolves fault channel names; throws InputError naming an unknown channel.
  std::vector<ChannelFault> resolve_faults(const std::vector<Channel>& channels) const;
};

struct RecordResult {
  std::size_t vehicles = 0;
  std::size_t samples = 0;  ///< rows per channel
  std::size_t channels = 0;
  double duration_s = 0;
};

/// Writes out_dir/rec.csv, out_dir/truth.jsonl, out_dir/station.json (creates out_dir).
/// Throws InputError on bad options, SystemError when a file cannot be written.
RecordResult record(const SimOptions& opt, std::size_t vehicles,
                    const std::filesystem::path& out_dir);

}  // namespace wim::sim
