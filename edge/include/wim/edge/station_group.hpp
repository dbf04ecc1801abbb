// SPDX-License-Identifier: Apache-2.0
// Many stations in one process (`wim-edge run-many`): one edge::Station per station.json,
// each with its own outbox, signing key, chain, uplink, status socket and threads; what is
// read-only is shared between them: the plate reader's model is loaded once
// (SharedPlateReaders) instead of once per station.
//
// All or nothing: the constructor checks every config first (all daemon fields of every
// file, the camera sections, station ids / outboxes / status sockets used twice) and
// reports every mistake at once, each naming its file and field; then builds every
// station; only start() seals records. A station that cannot be built undoes the build of
// the whole group (outboxes created by this build are removed again: they hold nothing).
//
// Thread-safety: construct, start(), stop_failed(), stop() from one thread.
#pragma once
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <vector>

#include "wim/edge/station.hpp"

namespace wim::edge {

class SharedPlateReaders;

struct StationGroupOptions {
  /// Create the outbox (a new chain at seq 1) of each station that has none yet.
  bool new_chain = false;
  /// [-] stations that render camera frames and read plates at the same time (0: one per
  /// hardware thread). Each pass holds its 1080p frames (tens of MB) while it is read; 50
  /// stations weighing a burst at once would otherwise hold them all together.
  unsigned evidence_slots = 0;
  /// Applied to each station's hooks before it is built (tests: shorter backoff).
  std::function<void(StationHooks&)> adjust_hooks;
};

/// Every station config in `dir`: DIR/*.json and DIR/*/station.json, in name order.
/// InputError when `dir` is not a directory or holds none.
std::vector<std::filesystem::path> station_configs_in(const std::filesystem::path& dir);

class StationGroup {
 public:
  /// Throws InputError naming every bad file and field; OutboxCorrupt; nothing started.
  explicit StationGroup(std::vector<std::filesystem::path> configs,
                        StationGroupOptions options = {});
  ~StationGroup();
  StationGroup(const StationGroup&) = delete;
  StationGroup& operator=(const StationGroup&) = delete;

  /// Starts every station (each seals its start events first).
  void start();
  /// Stops the stations whose weighing failed since the last call (reason: the error);
  /// returns their ids. The other stations run on.
  std::vector<std::string> stop_failed();
  /// Stops every running station in parallel; each seals "station_stop" (reason).
  void stop(const std::string& reason);
  /// Blocks up to `timeout` until a station's weighing fails.
  void wait_for_failure(std::chrono::milliseconds timeout);

  std::size_t size() const { return stations_.size(); }
  Station& station(std::size_t i);
  /// [-] stations whose weighing failed (stopped by stop_failed).
  std::size_t failed_count() const { return failed_total_; }
  /// [-] plate reader models loaded (1 when all cameras use the same model; 0 without).
  std::size_t plate_models_loaded() const;

 private:
  struct Member;
  std::vector<std::unique_ptr<Member>> stations_;
  std::shared_ptr<SharedPlateReaders> readers_;  // null in builds without camera
  std::unique_ptr<std::counting_semaphore<>> evidence_slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::size_t> failed_;  // indices, guarded by mu_
  std::size_t failed_total_ = 0;
};

}  // namespace wim::edge
