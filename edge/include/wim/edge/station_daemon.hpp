// SPDX-License-Identifier: Apache-2.0
// The daemon's own part of station.json (beside contract 2's "station_id" and "channels"):
//   "keys":   {"signing_key": "/etc/wim/keys/G017.key.pem"}
//   "uplink": {"url": "https://collector.example:8443", "ca_file", "cert_file", "key_file",
//              "timeout_s": 30, "batch_max_records": 200, "heartbeat_s": 60}
//   "outbox": {"path": "/var/lib/wim/outbox.db", "quota_mb": 2048, "pressure_percent": 80}
//   "status": {"socket": "/run/wim/status.sock"}   (default: status.sock beside the outbox)
// load_daemon_config checks every field and reports all mistakes at once, each naming
// its field, so the daemon never starts half-configured.
#pragma once
#include <filesystem>
#include <string>

#include "wim/edge/uplink.hpp"

namespace wim::edge {

struct DaemonConfig {
  std::string station_id;
  std::filesystem::path signing_key;
  UplinkConfig uplink;
  std::filesystem::path outbox_path;
  std::uint64_t outbox_quota_bytes = 2048ull << 20;  ///< [B]
  /// [%] of the quota above which a "disk_pressure" event is recorded (thinning starts
  /// at 100 %); cleared again below pressure_percent - 10.
  double pressure_percent = 80;
  std::filesystem::path status_socket;  ///< UNIX socket of `wim-edge status`
};

/// Throws InputError listing every bad field ("station.json: uplink.ca_file: ...").
DaemonConfig load_daemon_config(const std::filesystem::path& path);

}  // namespace wim::edge
