// SPDX-License-Identifier: Apache-2.0
// A multi-channel sample source (amplifier, replayed recording): blocks of raw counts with
// their times, continuity and what was lost. Drivers do no filtering (PX4 style).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "wim/common/time.hpp"

namespace wim::hw {

/// Samples that never arrived: `count` samples from continuity index `first_index`,
/// spanning [from_unix_us, to_unix_us] (times of the first and last missing sample).
struct LostSpan {
  std::uint64_t first_index = 0;  ///< [-] continuity index of the first missing sample
  std::uint64_t count = 0;        ///< [samples] per channel
  std::int64_t from_unix_us = 0;  ///< [us] UTC
  std::int64_t to_unix_us = 0;    ///< [us] UTC
};

/// The driver's counters since it was created (status dump, health reporting).
struct SourceCounters {
  std::uint64_t samples = 0;            ///< [samples] per channel delivered
  std::uint64_t lost_samples = 0;       ///< [samples] per channel reported lost
  std::uint64_t gaps = 0;               ///< [-] continuity gaps (each a LostSpan)
  std::uint64_t requests = 0;           ///< [-] Modbus requests sent
  std::uint64_t timeouts = 0;           ///< [-] requests without a response in time
  std::uint64_t errors = 0;             ///< [-] other failed requests (exception, CRC, bad frame)
  std::uint64_t invalid_responses = 0;  ///< [-] responses that broke the register map's rules
  std::uint64_t reconnects = 0;         ///< [-] successful connects after the first
  std::uint64_t connect_failures = 0;   ///< [-]
  std::uint64_t counter_resets = 0;     ///< [-] device restarts detected (any sign, see events)
  std::uint64_t exceptions = 0;         ///< [-] Modbus exception replies (also in `errors`)
  std::uint64_t outages = 0;            ///< [-] periods without valid answers (device_outage)
  std::uint64_t freezes = 0;            ///< [-] answers without new samples (device_frozen)
  std::uint64_t overflows = 0;          ///< [-] device FIFO overflow flags seen
  std::uint64_t acks = 0;               ///< [-] FIFO acknowledgements written
  std::uint64_t max_response_us = 0;    ///< [us] slowest response seen
  /// [us] sample times are late by at most this, never early: the round trip of the FIFO
  /// read that anchored them + one sample period (its newest sample was taken within the
  /// period before the device answered).
  std::uint64_t anchor_uncertainty_us = 0;
};

/// Something the device did, with its time span (UTC, the station clock): a signed event
/// record for the station (edge/station_weigher). Kinds: device_outage (no valid answer:
/// timeouts, refused connects, exception replies), device_identity_mismatch (the identity
/// registers read wrong), device_frozen (answers, but no new samples), device_restart,
/// device_fifo_overflow. A lasting condition gives one event when it begins (phase
/// "began", to_unix_us = from_unix_us) and one when it ends (phase "ended", the whole span).
struct DeviceEvent {
  std::string kind;
  std::string phase;              ///< began | ended | "" (an instant: restart, overflow)
  std::int64_t from_unix_us = 0;  ///< [us] UTC: the last good answer before it
  std::int64_t to_unix_us = 0;    ///< [us] UTC: the first good answer after it
  std::string reason;             ///< what the driver saw, e.g. "exception 06 (server device busy)"
};

enum class ChannelHealth { ok, stuck, dead };
std::string_view to_string(ChannelHealth h);

/// One block of consecutive samples (after any LostSpan in `lost`).
struct SampleBlock {
  std::vector<std::string> channels;              ///< names, as in the station config
  std::vector<std::vector<std::int32_t>> counts;  ///< [counts] counts[c][i], raw
  std::vector<std::int64_t> t_unix_us;            ///< [us] UTC of sample i
  std::vector<std::int64_t> t_mono_us;            ///< [us] CLOCK_MONOTONIC (or recording time)
  std::uint64_t first_index = 0;  ///< [-] continuity counter of sample 0 (+1 per sample)
  time::ClockSync clock_sync = time::ClockSync::unknown;
  std::vector<LostSpan> lost;         ///< gaps detected since the previous block
  std::vector<DeviceEvent> events;    ///< device events since the previous block
  std::string device_condition;       ///< "" when all is well, else e.g. "outage since ..."
  std::vector<ChannelHealth> health;  ///< per channel, as judged so far
  SourceCounters counters;            ///< snapshot after this block

  std::size_t size() const { return t_unix_us.size(); }
  /// Worth handing on although it holds no samples: losses or device events.
  bool has_news() const { return size() > 0 || !lost.empty() || !events.empty(); }
  void clear();  ///< empties samples and `lost`, keeps channel names
};

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual const std::vector<std::string>& channels() const = 0;
  virtual double sample_rate_hz() const = 0;
  /// Fills `block` (cleared first) with the samples available within `timeout`; never
  /// blocks longer (an empty block is a valid answer). Returns false only when a finite
  /// source has nothing more, ever (the block is then empty).
  virtual bool read(SampleBlock& block, std::chrono::milliseconds timeout) = 0;
  virtual SourceCounters counters() const = 0;
  /// Human-readable state and counters, one `key: value` per line.
  virtual std::string status() const = 0;
};

}  // namespace wim::hw
