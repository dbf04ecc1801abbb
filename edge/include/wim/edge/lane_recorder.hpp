// SPDX-License-Identifier: Apache-2.0
// `wim-edge record`: records a station's acquisition source (Modbus amplifier, replay,
// in-process simulator) into a contract-1 recording for reference-truck calibration
// passes (docs/calibration.md). The file is the one `wim-edge weigh` and
// `wim-edge calibrate` read: the station's channels in the station config's order, raw
// counts, `t_us` since `started_utc`, and the clock state in the header.
//
// Span: a live source (clock from the system: Modbus, sim) records the samples timed in
// [start of record(), + duration): an amplifier's FIFO backlog from before the start is
// skipped (counted). A non-live source (replay) records `duration` from its first sample.
// Lost samples leave a gap in `t_us` (never invented values) and are counted. Successive
// record() calls on one source each start at the next sample read (the rest of the block
// that crossed the previous span's end is not recorded).
//
// The file is written as `<name>.csv.part` and renamed to `<name>.csv` when recording
// ends (duration reached, stop(), source ended, or the amplifier silent past the grace
// time): a `.csv` is always complete; a `.part` is what a killed process left (readable
// up to its last whole line).
//
// Thread-safety: record() on one thread; stop() from any thread (an atomic store).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "wim/common/station_config.hpp"
#include "wim/common/time.hpp"
#include "wim/hw/sample_source.hpp"

namespace wim::edge {

struct RecorderOptions {
  double duration_s = 0;  ///< [s] span to record, > 0
  /// true: the span starts at record()'s wall-clock start (FIFO backlog skipped); false:
  /// at the source's first sample (replay).
  bool live_clock = true;
  /// [s] a live source that has not delivered the whole span this long after its end is
  /// taken as silent: recording ends with what arrived (RecordResult::end says so).
  double grace_s = 5.0;
  std::chrono::milliseconds read_timeout{100};  ///< [ms] per SampleSource::read()
  std::string source_kind;  ///< written as `# source=` ("modbus", "sim", "replay")
};

/// Why the recording ended.
enum class RecordEnd { duration, stopped, source_ended, silent };
std::string_view to_string(RecordEnd e);

struct RecordResult {
  std::filesystem::path path;  ///< the finished .csv
  RecordEnd end = RecordEnd::duration;
  std::uint64_t samples = 0;           ///< [samples] rows written
  std::uint64_t expected_samples = 0;  ///< [samples] duration × rate
  std::uint64_t lost_samples = 0;      ///< [samples] per channel, reported lost inside the span
  std::uint64_t gaps = 0;              ///< [-] continuity gaps inside the span
  std::uint64_t skipped_samples = 0;   ///< [samples] before the span (FIFO backlog)
  std::int64_t started_unix_us = 0;    ///< [us] UTC, the header's started_utc (ms)
  double recorded_s = 0;               ///< [s] last t_us + one period
  time::ClockSync clock_sync = time::ClockSync::unknown;  ///< as in the header
};

class LaneRecorder {
 public:
  /// `station`: the channels to record, in this order; each must be one of the source's
  /// channels (InputError naming the first missing one). Throws InputError for
  /// duration_s <= 0.
  LaneRecorder(const config::StationConfig& station, hw::SampleSource& source,
               RecorderOptions options);

  /// Records into `out_dir` (created if missing) as `<station>-<YYYYMMDDTHHMMSSZ>.csv`
  /// (UTC of the first sample; `-2`, `-3`, ... appended rather than overwrite a file).
  /// Throws SystemError when the file cannot be written and std::runtime_error when the
  /// source delivered no sample in the span (no file is left).
  RecordResult record(const std::filesystem::path& out_dir);
  void stop() { stop_.store(true); }

 private:
  std::string station_id_;
  std::vector<std::string> names_;   // station channel order
  std::vector<std::size_t> column_;  // station channel -> source channel
  hw::SampleSource& source_;
  RecorderOptions opt_;
  std::atomic<bool> stop_{false};
};

}  // namespace wim::edge
