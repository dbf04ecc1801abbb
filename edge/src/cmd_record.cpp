// SPDX-License-Identifier: Apache-2.0
// `wim-edge record --config station.json --out DIR --duration S`: records the station's
// acquisition source (station.json "acquisition") into a contract-1 recording for
// reference-truck calibration passes (edge::LaneRecorder). SIGINT/SIGTERM end the
// recording early; the file is still complete. Prints one JSON line: what was recorded.
// Exit: 0 recorded, 1 amplifier silent or no sample / write error, 2 bad options or config.
#include <signal.h>

#include <atomic>
#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <exception>
#include <iostream>
#include <optional>
#include <thread>

#include "wim/common/error.hpp"
#include "wim/common/log.hpp"
#include "wim/edge/lane_recorder.hpp"
#include "wim/edge/station_weigher.hpp"

#include "cmd_options.hpp"

namespace po = boost::program_options;
using namespace wim;

int cmd_record(int argc, char** argv) {
  po::options_description desc(
      "wim-edge record: record the station's acquisition source (reference-truck passes)");
  std::string config_path, out_dir;
  double duration_s = 0;
  // clang-format off
  desc.add_options()
    ("help,h", "this text")
    ("config", po::value(&config_path)->required(), "station.json (its \"acquisition\" and channels)")
    ("out", po::value(&out_dir)->required(), "folder for the recording (created if missing)")
    ("duration", po::value(&duration_s)->required(), "[s] span to record (Ctrl-C ends it earlier)");
  // clang-format on
  po::variables_map vm;
  if (auto done = edge::parse_command_options(argc, argv, desc, "wim-edge record", vm))
    return *done;
  // Signals are taken by sigtimedwait on this thread only: block them before any thread.
  const sigset_t stop_signals = edge::block_stop_signals();
  try {
    auto acq = edge::load_acquisition(config_path, {}, /*require_calibration=*/false);
    if (!acq)
      throw InputError(config_path +
                       ": acquisition: required to record (the amplifier, a replay or sim source)");
    edge::RecorderOptions opt;
    opt.duration_s = duration_s;
    opt.live_clock = acq->options.live_clock;
    opt.source_kind = acq->kind;
    edge::LaneRecorder recorder(acq->station, *acq->source, opt);
    std::optional<edge::RecordResult> result;
    std::exception_ptr error;
    std::atomic<bool> finished{false};
    std::thread worker([&] {
      try {
        result = recorder.record(out_dir);
      } catch (...) {
        error = std::current_exception();
      }
      finished = true;
    });
    while (!finished) {
      const timespec poll{0, 100'000'000};
      const int sig = sigtimedwait(&stop_signals, nullptr, &poll);
      if (sig > 0) {
        log::notice("record", sig == SIGINT ? "stopping on SIGINT" : "stopping on SIGTERM");
        recorder.stop();
      }
    }
    worker.join();
    if (error) std::rethrow_exception(error);
    const edge::RecordResult& r = *result;
    boost::json::object j;
    j["recording"] = r.path.string();
    j["end"] = std::string(edge::to_string(r.end));
    j["started_utc"] = time::format_utc_ms(r.started_unix_us);
    j["clock_sync"] = std::string(time::to_string(r.clock_sync));
    j["recorded_s"] = r.recorded_s;
    j["samples"] = r.samples;
    j["expected_samples"] = r.expected_samples;
    j["lost_samples"] = r.lost_samples;
    j["gaps"] = r.gaps;
    j["skipped_backlog_samples"] = r.skipped_samples;
    std::cout << boost::json::serialize(j) << std::endl;
    if (r.end == edge::RecordEnd::silent) {
      log::error("record", "the acquisition source went silent: " + std::to_string(r.samples) +
                               " of " + std::to_string(r.expected_samples) + " samples in " +
                               r.path.string());
      return 1;
    }
    return 0;
  } catch (const InputError& e) {
    log::error("record", e.what());
    return 2;
  } catch (const std::exception& e) {
    log::error("record", e.what());
    return 1;
  }
}
