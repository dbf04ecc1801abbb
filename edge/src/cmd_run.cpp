// SPDX-License-Identifier: Apache-2.0
// `wim-edge run --config station.json [--new-chain]`: the station daemon (edge::Station:
// outbox, record sealing with start/stop/config/clock/disk events, acquisition and
// weighing, uplink with heartbeats, the status socket) and a clean stop on SIGTERM/SIGINT.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <iostream>
#include <memory>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/log.hpp"
#include "wim/edge/station.hpp"

#include "cmd_options.hpp"
#ifdef WIM_WITH_CAMERA
#include "wim/edge/camera_evidence.hpp"
#endif

namespace po = boost::program_options;
using namespace wim;

int cmd_run(int argc, char** argv) {
  po::options_description desc("wim-edge run: the station daemon");
  std::string config_path;
  desc.add_options()("help,h", "this text")("config", po::value(&config_path)->required(),
                                            "station.json")(
      "new-chain", "provisioning only: create the outbox and start a new chain at seq 1");
  po::variables_map vm;
  if (auto done = edge::parse_command_options(argc, argv, desc, "wim-edge run", vm)) return *done;
  const sigset_t stop_signals = edge::block_stop_signals();
  try {
    std::atomic<bool> weigh_failed{false};
    edge::StationHooks hooks;
    // The plate camera (station.json "camera"; none: records say camera_present false).
#ifdef WIM_WITH_CAMERA
    auto camera = edge::load_camera(config_path);
    if (camera) {
      hooks.on_truth = camera->on_truth;
      hooks.evidence = camera->evidence.get();
    }
#else
    if (json::as_object(json::load_file(config_path), config_path).contains("camera"))
      throw InputError(config_path +
                       ": camera: this build has no camera support (WIM_WITH_CAMERA=OFF)");
#endif
    hooks.on_weighing_end = [&](bool failed) {
      if (!failed) return;
      weigh_failed = true;
      kill(getpid(), SIGTERM);  // the daemon must not run on without weighing
    };
    edge::Station station(config_path, vm.count("new-chain") > 0, std::move(hooks));
    station.start();
    int sig = 0;
    sigwait(&stop_signals, &sig);
    const char* name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    log::notice("station", std::string("stopping on ") + name);
    station.stop(weigh_failed ? "weighing failed: " + station.weighing_error() : name);
    return weigh_failed ? 1 : 0;
  } catch (const edge::OutboxMissing& e) {
    // Not transient: systemd must not retry it every 5 s (RestartPreventExitStatus=2 3).
    log::error("station", std::string(e.what()) +
                              "; not starting (the first start of a provisioned station is "
                              "`wim-edge run --new-chain`, once)");
    return 3;
  } catch (const edge::OutboxCorrupt& e) {
    log::error("station", std::string(e.what()) +
                              "; not starting (keep the file for recovery: Outbox::salvage)");
    return 3;
  } catch (const InputError& e) {
    log::error("station", e.what());  // config or key file: a technician must fix it
    return 2;
  } catch (const std::exception& e) {
    log::error("station", e.what());
    return 1;
  }
}
