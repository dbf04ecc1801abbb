// SPDX-License-Identifier: Apache-2.0
// Acquisition and weighing inside `wim-edge run`: an acquisition thread reads sample
// blocks from a hw::SampleSource into a bounded queue; the weighing thread (run()) feeds
// them to weigh::Pipeline and seals one record per vehicle, in pass order, via
// OutboxSealer:
//   within limit / not a case -> "pass" record (no plate, no images)
//   overload fit for enforcement -> "violation" record + waveform.csv (contract 1, the raw
//                                   samples of the pass +- waveform_margin_s)
//   lost samples, channel health changes, pipeline channel faults (flat, saturated,
//   over-long pulse re-zero; once per fault start) -> "lost_samples", "sensor_fault",
//                                   "sensor_recovered" event records, held by the sealer
//                                   and sealed in time order between the vehicles
//   device events of the source (outage, freeze, restart, identity mismatch, FIFO
//   overflow; hw::DeviceEvent) -> an event record of the same type, held likewise
//   a pass whose waveform window overlaps a gap (lost samples or a device event's span)
//                                -> not fit for enforcement, the gap named in
//                                   invalid_reasons (never a violation)
// Record time = the source's UTC of the vehicle's first axle (replay: started_utc + t_us,
// clock "unknown"; live: system clock with query_clock()'s sync state).
// Thread-safety: run() on one thread; stop() from any thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wim/common/record.hpp"
#include "wim/common/station_config.hpp"
#include "wim/edge/outbox_sealer.hpp"
#include "wim/edge/pass_evidence.hpp"
#include "wim/edge/sample_history.hpp"
#include "wim/edge/status_server.hpp"
#include "wim/edge/weigh/pipeline.hpp"
#include "wim/hw/sample_source.hpp"
#include "wim/hw/sim_truth.hpp"

namespace wim::edge {

struct WeigherOptions {
  bool live_clock = false;         ///< true: clock state from time::query_clock()
  std::size_t queue_blocks = 64;   ///< [-] bounded queue between acquisition and weighing
  double waveform_margin_s = 1.0;  ///< [s] raw samples kept before and after a pass
  double history_s = 60;           ///< [s] raw samples kept for waveform attachments
  StatusBoard* board = nullptr;    ///< live values and last vehicles for `wim-edge status`
};

struct WeigherStats {
  std::uint64_t blocks = 0, samples = 0, vehicles = 0, violations = 0, events = 0;
};

/// The manifest of one weighed vehicle (seq, prev, station, software filled by the sealer).
record::Manifest vehicle_manifest(const weigh::WeighedVehicle& v, std::int64_t time_unix_us,
                                  const time::ClockStatus& clock,
                                  const std::string& calibration_id);

/// station.json's "acquisition" section, read beside contract 2's channels.
struct Acquisition {
  config::StationConfig station;
  std::unique_ptr<hw::SampleSource> source;  ///< hw::make_source(acquisition section)
  WeigherOptions options;                    ///< live_clock unless the source is "replay"
  std::string kind;                          ///< the section's "source": modbus, sim, replay
};
/// nullopt when station.json has no "acquisition" section (no weighing in this station);
/// InputError naming the file and field on a bad section or station config. `on_truth`:
/// the in-process simulator's truth per vehicle (drives the camera twin), else unused.
/// `require_calibration` false: no calibration.id needed (`wim-edge record` of the
/// reference passes that calibrate the site).
std::optional<Acquisition> load_acquisition(const std::filesystem::path& station_json,
                                            hw::SimTruthCallback on_truth = {},
                                            bool require_calibration = true);

class StationWeigher {
 public:
  StationWeigher(config::StationConfig cfg, hw::SampleSource& source, OutboxSealer& sealer,
                 WeigherOptions options = {});
  /// Runs until stop() or the end of a finite source; weighs what is buffered at the end.
  /// Throws what the sealer throws (OutboxFull, ...) after stopping acquisition.
  void run();
  void stop() { stop_ = true; }
  /// Like stop(), but run() returns without weighing what is buffered or releasing held
  /// events: what a kill -9 leaves (tests emulate it in-process, Station::crash()).
  void abandon() {
    abandon_ = true;
    stop_ = true;
  }
  /// The camera (not owned; outlives run()): violations get its plate and images, every
  /// vehicle record says camera_present. Unset: records say camera_present false.
  void set_evidence_source(PassEvidenceSource* source) { evidence_ = source; }
  const WeigherStats& stats() const { return stats_; }

 private:
  void process(const hw::SampleBlock& b);
  void emit_vehicles(bool all);
  std::int64_t window_end_us(const weigh::WeighedVehicle& v) const;
  std::string waveform_csv(const weigh::WeighedVehicle& v) const;
  std::int64_t unix_at(std::int64_t t_mono_us) const;
  time::ClockStatus clock() const;

  config::StationConfig cfg_;
  hw::SampleSource& source_;
  OutboxSealer& sealer_;
  WeigherOptions opt_;
  std::atomic<bool> stop_{false}, abandon_{false};
  WeigherStats stats_;
  std::vector<std::string> channels_;
  SampleHistory history_;
  std::deque<weigh::WeighedVehicle> waiting_;  ///< weighed, waiting for their waveform
  std::vector<hw::ChannelHealth> health_;
  void check_pipeline_faults(std::int64_t to_mono_us, const time::ClockStatus& ck);
  void note_vehicle(const record::Manifest& m, std::uint64_t seq);
  void seal_device_events(const hw::SampleBlock& b, const time::ClockStatus& ck);
  /// Why the samples of `v` cannot be trusted: the gaps its waveform window overlaps.
  std::vector<std::string> gaps_in_pass(const weigh::WeighedVehicle& v) const;
  /// A span [UTC] in which samples are missing or cannot be trusted.
  struct Gap {
    std::int64_t from_unix_us = 0, to_unix_us = 0;  ///< [us] UTC; to = INT64_MAX while open
    std::string kind;                               ///< lost_samples, device_outage, ...
    std::string what;                               ///< for the reviewer
  };
  std::deque<Gap> gaps_;  ///< newest last; pruned behind the raw-sample history
  DeviceLive device_;     ///< the source's condition and device event counts (status)
  std::vector<std::int64_t> fault_reported_us_;  ///< [us] per config channel: last fault start
  std::int64_t faults_checked_us_ = INT64_MIN;   ///< [us] pipeline time checked up to
  std::int64_t hold_us_ = 0;  ///< [us] how long an event waits for earlier vehicles
  std::unique_ptr<weigh::Pipeline> pipeline_;
  double rows_span_m_ = 0;  ///< [m] first to last sensor row
  PassEvidenceSource* evidence_ = nullptr;
  void commit_camera_events();
};

}  // namespace wim::edge
