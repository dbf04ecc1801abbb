// SPDX-License-Identifier: Apache-2.0
// The heartbeat body of POST /v1/heartbeat (docs/uplink.md): the station's health as the
// collector's monitoring sees it. Pure functions of their inputs, so tests pin the JSON.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "wim/common/time.hpp"
#include "wim/edge/outbox.hpp"

namespace wim::edge {

struct ChannelHealth {
  std::string name;                ///< channel name as in the station config
  std::string state;               ///< ok, fault, stale
  std::uint64_t errors = 0;        ///< [-] transfer/CRC/timeouts since start
  std::uint64_t lost_samples = 0;  ///< [-] samples missing since start
};

struct DiskUsage {
  std::uint64_t used_bytes = 0;  ///< [B] on the outbox's file system
  std::uint64_t free_bytes = 0;  ///< [B] available to the daemon
};
/// statvfs of the file system holding `path`; zeros when it cannot be read.
DiskUsage disk_usage(const std::filesystem::path& path);

/// SHA-256 (hex) of the running executable (/proc/self/exe); "unknown" when unreadable.
std::string software_sha256();

struct Health {
  std::string station_id;
  std::string software_sha256;
  std::int64_t now_unix_us = 0;  ///< [us] UTC when the health was taken
  std::int64_t uptime_s = 0;     ///< [s]
  time::ClockStatus clock;
  OutboxStats outbox;
  DiskUsage disk;
  std::vector<ChannelHealth> channels;
  std::vector<std::string> faults;  ///< active faults in words ("disk full", "L1R1L stale")
};

/// The JSON body; keys as in docs/uplink.md.
std::string heartbeat_json(const Health& h);

}  // namespace wim::edge
