// SPDX-License-Identifier: Apache-2.0
// The station daemon's parts wired together (what `wim-edge run` runs, and what tests run
// without main()): outbox and sealer, acquisition + weighing (StationWeigher), uplink with
// heartbeats, the status server, and a housekeeping thread that watches the wall clock
// (clock_step events), the outbox quota (disk_pressure events) and releases held events.
//
// Start records: a "clock_step" first when the wall clock is more than 1 s behind the
// chain head's time (a step while the daemon was down, or in its first moments), then
// "station_start" (program and legal software SHA-256, config SHA-256, calibration id,
// previous_stop: clean / unclean / none / unknown, from the outbox), then "config_change" /
// "calibration_change" when station.json's SHA-256 or the calibration id differ from what this
// outbox last recorded. stop() seals "station_stop" and removes the status socket.
//
// Thread-safety: construct, start(), stop() from one thread; status_json() from any.
// Errors: the constructor throws InputError (config), OutboxCorrupt, StatusError.
#pragma once
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "wim/common/crypto.hpp"
#include "wim/edge/key_rotation.hpp"
#include "wim/edge/outbox_sealer.hpp"
#include "wim/edge/pass_evidence.hpp"
#include "wim/edge/station_daemon.hpp"
#include "wim/edge/station_weigher.hpp"
#include "wim/edge/status_server.hpp"
#include "wim/edge/uplink_client.hpp"
#include "wim/hw/sim_truth.hpp"

namespace wim::edge {

/// Detects wall-clock steps: between two checks, the wall clock should advance as much as
/// the monotonic clock; a difference beyond the threshold is a step (set by hand, NTP
/// step, RTC fault). Not thread-safe.
class ClockWatch {
 public:
  explicit ClockWatch(std::int64_t threshold_us = 1'000'000) : threshold_us_(threshold_us) {}
  /// [us] the step (negative: backwards) when one happened since the last call.
  std::optional<std::int64_t> check(std::int64_t wall_unix_us, std::int64_t mono_us);

 private:
  std::int64_t threshold_us_;
  std::int64_t last_wall_us_ = 0, last_mono_us_ = 0;
  bool primed_ = false;
};

/// Hooks for tests (compressed simulated time, injected faults); defaults are production.
struct StationHooks {
  /// Wall clock [us UTC] for records, the clock watch and held-event release; monotonic
  /// clock [us] for the clock watch. Default time::now_unix_us / time::monotonic_us.
  std::function<std::int64_t()> now_unix_us, monotonic_us;
  std::function<void(UplinkConfig&)> adjust_uplink;  ///< e.g. shorter backoff
  hw::SimTruthCallback on_truth;                     ///< sim source: each vehicle's truth
  /// Plate + images for violations (the camera, edge/camera_evidence.hpp); null: no
  /// camera, records say camera_present false. Must outlive the Station.
  PassEvidenceSource* evidence = nullptr;
  std::int64_t outbox_max_page_count = 0;  ///< emulate a full disk
  std::chrono::milliseconds housekeeping_period{1000};
  /// Called on the weighing thread when weighing ended (failed: by an error).
  std::function<void(bool failed)> on_weighing_end;
};

class Station {
 public:
  Station(const std::filesystem::path& config, bool new_chain = false, StationHooks hooks = {});
  ~Station();
  Station(const Station&) = delete;
  Station& operator=(const Station&) = delete;

  /// Seals the start events, starts weighing, uplink, status server and housekeeping.
  void start();
  /// Stops every thread, seals held events and "station_stop" (reason), removes the socket.
  void stop(const std::string& reason);
  /// For tests: what kill -9 leaves, in-process. Stops every thread without the clean-stop
  /// path: no station_stop, buffered samples not weighed, held events left in the outbox
  /// (the next start seals them first, before its clock check and station_start), the outbox
  /// marked as still running (the next start reports previous_stop "unclean"). Only what
  /// was committed before stays. The Station must not be started again.
  void crash();
  /// True once a finite source ended or weighing failed (see weighing_error()).
  bool weighing_ended() const { return weighing_ended_; }
  std::string weighing_error() const;
  /// Blocks until weighing ended or `timeout` passed.
  bool wait_weighing(std::chrono::milliseconds timeout);

  /// The status document (what `wim-edge status --json` prints).
  std::string status_json() const;

  const DaemonConfig& config() const { return cfg_; }
  Outbox& outbox() { return *outbox_; }
  OutboxSealer& sealer() { return *sealer_; }
  UplinkClient& uplink() { return *uplink_; }
  StatusBoard& board() { return board_; }
  const StationWeigher* weigher() const { return weigher_.get(); }
  std::filesystem::path status_socket() const { return status_socket_; }
  const std::string& program_sha256() const { return program_sha_; }
  crypto::VerifyKey public_key() const { return key_.public_key(); }

 private:
  void housekeeping();
  void stop_weighing_and_housekeeping(bool abandon);
  void stop_uplink_and_status();
  record::Manifest clock_step_event(std::int64_t now, std::int64_t step_us,
                                    const std::string& detected) const;
  std::int64_t now_us() const;
  std::int64_t mono_us() const;

  std::filesystem::path config_path_;
  StationHooks hooks_;
  DaemonConfig cfg_;
  std::optional<Acquisition> acquisition_;
  crypto::SigningKey key_;
  std::string program_sha_, config_sha_, calibration_id_;
  std::filesystem::path status_socket_;
  std::unique_ptr<OutboxLock> lock_;  ///< held while the station runs (rotate-key waits)
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<OutboxSealer> sealer_;
  StatusBoard board_;
  std::unique_ptr<StationWeigher> weigher_;
  std::unique_ptr<UplinkClient> uplink_;
  std::unique_ptr<StatusServer> status_;
  std::int64_t started_mono_us_ = 0;
  ClockWatch watch_;  ///< primed in start(), then the housekeeping thread's
  std::thread uplink_thread_, weigh_thread_, housekeeping_thread_;
  std::atomic<bool> weighing_ended_{false}, running_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_housekeeping_ = false;
  std::string weighing_error_;
  bool disk_pressure_ = false;
};

}  // namespace wim::edge
