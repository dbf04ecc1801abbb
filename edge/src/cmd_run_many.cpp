// SPDX-License-Identifier: Apache-2.0
// `wim-edge run-many (--config-dir DIR | --config a.json --config b.json ...) [--new-chain]`:
// many station daemons in one process (edge::StationGroup): each station its own outbox,
// keys, chain, uplink and status socket; the plate reader's model loaded once for all.
// Meant for demos and test benches where one machine plays a whole city; a roadside point
// runs `wim-edge run`. SIGTERM/SIGINT stop every station cleanly (each seals station_stop).
// A station whose weighing fails is stopped alone; the others run on (exit 1 at the end).
#include <malloc.h>
#include <signal.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <iostream>

#include "wim/common/error.hpp"
#include "wim/common/log.hpp"
#include "wim/common/time.hpp"
#include "wim/edge/outbox.hpp"
#include "wim/edge/station_group.hpp"

#include "cmd_options.hpp"

namespace po = boost::program_options;
using namespace wim;

int cmd_run_many(int argc, char** argv) {
  po::options_description desc("wim-edge run-many: many station daemons in one process");
  std::vector<std::string> configs;
  std::string config_dir;
  desc.add_options()("help,h", "this text")("config", po::value(&configs)->composing(),
                                            "a station.json (repeat for more stations)")(
      "config-dir", po::value(&config_dir), "every DIR/*.json and DIR/*/station.json is a station")(
      "new-chain", "provisioning only: create missing outboxes, each a new chain at seq 1");
  po::variables_map vm;
  if (auto done = edge::parse_command_options(argc, argv, desc, "wim-edge run-many", vm))
    return *done;
  const sigset_t stop_signals = edge::block_stop_signals();
  // Camera frames (6 MB each, rendered and freed per violation) would otherwise raise
  // glibc's dynamic mmap threshold, after which every later frame comes from the station
  // thread's malloc arena and stays resident: ~12 MB per station (docs/notes/issue-6.md).
  // A fixed threshold keeps large buffers in mmap, returned to the system when freed.
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  try {
    std::vector<std::filesystem::path> paths(configs.begin(), configs.end());
    if (!config_dir.empty())
      for (auto& p : edge::station_configs_in(config_dir)) paths.push_back(p);
    if (paths.empty()) throw InputError("give --config-dir DIR or --config station.json");
    const auto t0 = time::monotonic_us();
    edge::StationGroupOptions options;
    options.new_chain = vm.count("new-chain") > 0;
    edge::StationGroup group(paths, options);
    log::notice("station", "run-many: " + std::to_string(group.size()) + " stations built in " +
                               std::to_string((time::monotonic_us() - t0) / 1000) + " ms");
    group.start();
    log::notice("station", "run-many: " + std::to_string(group.size()) + " stations started in " +
                               std::to_string((time::monotonic_us() - t0) / 1000) + " ms");
    const timespec poll{1, 0};
    int sig = 0;
    while ((sig = sigtimedwait(&stop_signals, nullptr, &poll)) < 0) {
      if (errno != EAGAIN && errno != EINTR) throw SystemError("sigtimedwait failed");
      group.stop_failed();
    }
    const char* name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    log::notice("station", std::string("run-many: stopping ") + std::to_string(group.size()) +
                               " stations on " + name);
    group.stop_failed();
    group.stop(name);
    return group.failed_count() ? 1 : 0;
  } catch (const edge::OutboxMissing& e) {
    // Not transient: systemd must not retry it every 5 s (RestartPreventExitStatus=2 3).
    log::error("station", std::string(e.what()) +
                              "; no station started (the first start of a provisioned station is "
                              "`--new-chain`, once)");
    return 3;
  } catch (const edge::OutboxCorrupt& e) {
    log::error("station", std::string(e.what()) +
                              "; no station started (keep the file for recovery: Outbox::salvage)");
    return 3;
  } catch (const InputError& e) {
    log::error("station", e.what());  // a config or key file: a technician must fix it
    return 2;
  } catch (const std::exception& e) {
    log::error("station", e.what());
    return 1;
  }
}
