// SPDX-License-Identifier: Apache-2.0
// Paces a finite source (a replayed recording) to real time: a block is handed out only
// once the source's clock has run as long since the first sample as the recording's time
// (t_mono_us) has from its first sample to the block's last, divided by `rate` (1 = real
// time, 2 = twice as fast). The clock is injectable (tests use a simulated one).
// station.json: "acquisition": {"source": "replay", ..., "pace": true | RATE}.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "wim/hw/sample_source.hpp"

namespace wim::hw {

/// The clock a PacedSource waits on. Default: CLOCK_MONOTONIC and a real sleep.
struct PaceClock {
  std::function<std::int64_t()> now_us;              ///< [us] monotonic
  std::function<void(std::int64_t)> sleep_until_us;  ///< returns at or after the time
  static PaceClock steady();
};

class PacedSource final : public SampleSource {
 public:
  /// rate > 0: recording seconds per clock second.
  PacedSource(std::unique_ptr<SampleSource> inner, double rate,
              PaceClock clock = PaceClock::steady());

  const std::vector<std::string>& channels() const override { return inner_->channels(); }
  double sample_rate_hz() const override { return inner_->sample_rate_hz(); }
  /// The next block once it is due; an empty block (true) when it is not due within
  /// `timeout`, so a stop request is seen at the caller's pace.
  bool read(SampleBlock& block, std::chrono::milliseconds timeout) override;
  SourceCounters counters() const override { return inner_->counters(); }
  std::string status() const override;
  double rate() const { return rate_; }

 private:
  std::unique_ptr<SampleSource> inner_;
  double rate_;
  PaceClock clock_;
  std::optional<SampleBlock> pending_;  // read from inner_, not yet due
  std::optional<std::int64_t> t0_rec_;  // [us] t_mono_us of the first sample
  std::int64_t t0_clock_us_ = 0;        // [us] clock when the first block was read
  bool ended_ = false;
};

}  // namespace wim::hw
