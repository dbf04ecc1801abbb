// SPDX-License-Identifier: Apache-2.0
// `wim-edge rotate-key [--config station.json]`: a new record-signing key for the station
// (wim/edge/key_rotation.hpp). The daemon must be stopped (the outbox lock says so).
// Exit 0 rotated, 1 refused or failed (message says why; the old key stays in force
// unless the message says the event was committed), 2 bad usage or config.
#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>

#include "wim/common/error.hpp"
#include "wim/edge/key_rotation.hpp"
#include "wim/edge/outbox.hpp"
#include "wim/edge/station_daemon.hpp"
#include "wim/edge/weigh/software_id.hpp"

#include "cmd_options.hpp"

namespace po = boost::program_options;
using namespace wim;

int cmd_rotate_key(int argc, char** argv) {
  po::options_description desc(
      "wim-edge rotate-key: a new record-signing key, announced in the chain by a key_change "
      "event signed with the old key (stop the daemon first)");
  std::string config = "/etc/wim/station.json";
  desc.add_options()("help,h", "this text")("config", po::value(&config),
                                            "station.json (default /etc/wim/station.json)");
  po::variables_map vm;
  if (auto done = edge::parse_command_options(argc, argv, desc, "wim-edge rotate-key", vm))
    return *done;
  edge::DaemonConfig cfg;
  try {
    cfg = edge::load_daemon_config(config);
  } catch (const std::exception& e) {
    std::cerr << "wim-edge rotate-key: " << e.what() << "\n";
    return 2;
  }
  try {
    edge::OutboxLock lock(cfg.outbox_path);
    edge::OutboxOptions oo;
    oo.path = cfg.outbox_path;
    oo.station_id = cfg.station_id;
    oo.quota_bytes = cfg.outbox_quota_bytes;
    edge::Outbox outbox(oo);
    edge::OutboxSealer sealer(outbox, cfg.station_id,
                              edge::signing_key_in_force(cfg.signing_key, outbox),
                              std::string(legal::software_sha256()));
    const auto r = edge::rotate_signing_key(cfg.signing_key, outbox, sealer);
    std::cout << "key_change event  seq " << r.seq << " (signed with the old key)\n"
              << "old key           " << r.old_fingerprint << "\n"
              << "new key           " << r.new_fingerprint << "\n"
              << "key file          " << r.key_file.string() << " (now the new key)\n"
              << "public key        " << r.public_key.string()
              << " (for the record; the collector follows the chain)\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "wim-edge rotate-key: " << e.what() << "\n";
    return 1;
  }
}
