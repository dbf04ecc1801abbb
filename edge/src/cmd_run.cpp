// SPDX-License-Identifier: Apache-2.0
// `wim-edge run --config station.json [--new-chain]`: the station daemon: the outbox,
// record sealing (station start/stop events), acquisition and weighing (station.json's
// "acquisition" section: StationWeigher seals one record per vehicle), the uplink with
// heartbeats and a clean stop on SIGTERM/SIGINT.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <iostream>
#include <memory>
#include <thread>

#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/log.hpp"
#include "wim/edge/heartbeat.hpp"
#include "wim/edge/outbox_sealer.hpp"
#include "wim/edge/station_daemon.hpp"
#include "wim/edge/station_weigher.hpp"
#include "wim/edge/uplink_client.hpp"
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
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "wim-edge run: " << e.what() << "\n" << desc << "\n";
    return 2;
  }
  // Signals are taken by sigwait on the main thread only: block them before any thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  try {
    const auto cfg = edge::load_daemon_config(config_path);
    // The plate camera (station.json "camera"; none: records say camera_present false).
#ifdef WIM_WITH_CAMERA
    auto camera = edge::load_camera(config_path);
    auto acquisition =
        edge::load_acquisition(config_path, camera ? camera->on_truth : hw::SimTruthCallback{});
#else
    if (json::as_object(json::load_file(config_path), config_path).contains("camera"))
      throw InputError(config_path +
                       ": camera: this build has no camera support (WIM_WITH_CAMERA=OFF)");
    auto acquisition = edge::load_acquisition(config_path);
#endif
    const auto key = crypto::SigningKey::load_pem_file(cfg.signing_key);
    edge::OutboxOptions oo;
    oo.path = cfg.outbox_path;
    oo.station_id = cfg.station_id;
    oo.quota_bytes = cfg.outbox_quota_bytes;
    oo.create_new_chain = vm.count("new-chain") > 0;
    edge::Outbox outbox(oo);
    const std::string software = edge::software_sha256();
    edge::OutboxSealer sealer(outbox, cfg.station_id, key, software);
    const auto started_us = time::monotonic_us();
    sealer.commit_event("station_start", {{"config", config_path}, {"software_sha256", software}});
    log::notice("station", "started " + cfg.station_id + ", chain at seq " +
                               std::to_string(sealer.last_seq()) + ", key fingerprint " +
                               key.public_key().fingerprint());
    // Built before any thread starts: a channel missing from the source throws here.
    std::unique_ptr<edge::StationWeigher> weigher;
    if (acquisition)
      weigher = std::make_unique<edge::StationWeigher>(
          std::move(acquisition->station), *acquisition->source, sealer, acquisition->options);
#ifdef WIM_WITH_CAMERA
    if (weigher && camera) weigher->set_evidence_source(camera->evidence.get());
#endif
    edge::UplinkClient uplink(cfg.uplink, outbox, [&] {
      edge::Health h;
      h.station_id = cfg.station_id;
      h.software_sha256 = software;
      h.now_unix_us = time::now_unix_us();
      h.uptime_s = (time::monotonic_us() - started_us) / 1000000;
      h.clock = time::query_clock();
      h.outbox = outbox.stats();
      h.disk = edge::disk_usage(cfg.outbox_path);
      return edge::heartbeat_json(h);
    });
    std::thread uplink_thread([&] { uplink.run(); });
    std::thread weigh_thread;
    std::atomic<bool> weigh_failed{false};
    if (weigher) {
      weigh_thread = std::thread([&] {
        try {
          weigher->run();
          log::notice("station", "acquisition ended; " + std::to_string(weigher->stats().vehicles) +
                                     " vehicles");
        } catch (const std::exception& e) {
          log::error("station", std::string("weighing stopped: ") + e.what());
          weigh_failed = true;
          kill(getpid(), SIGTERM);  // the daemon must not run on without weighing
        }
      });
    } else {
      log::warning("station", "no \"acquisition\" section in " + config_path + ": not weighing");
    }
    int sig = 0;
    sigwait(&stop_signals, &sig);
    log::notice("station", std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    if (weigher) {
      weigher->stop();
      weigh_thread.join();  // the sealer is used by one thread at a time
    }
    try {
      sealer.commit_event("station_stop", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    } catch (const std::exception& e) {
      log::error("station", std::string("stop event not recorded: ") + e.what());
    }
    uplink.stop();
    uplink_thread.join();
    log::notice("station", "stopped; outbox depth " + std::to_string(outbox.stats().depth));
    return weigh_failed ? 1 : 0;
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
