// SPDX-License-Identifier: Apache-2.0
// The raw samples a station keeps for waveform attachments (StationWeigher, history_s):
// flat columns (monotonic time, UTC, then the channels' counts row after row), 16 + 4 x
// channels bytes per sample. A deque of rows each owning a std::vector took ~88 bytes per
// 8-channel sample (vector header + its own allocation): at 4 kHz x 60 s that was ~21 MB
// per station, the largest part of run-many's memory per station.
#pragma once
#include <algorithm>
#include <cstdint>
#include <deque>
#include <vector>

namespace wim::edge {

class SampleHistory {
 public:
  explicit SampleHistory(std::size_t channels = 0) : channels_(channels) {}
  std::size_t channels() const { return channels_; }
  std::size_t size() const { return mono_.size(); }
  bool empty() const { return mono_.empty(); }

  /// Appends one sample; `counts` holds at least channels() values (the rest is ignored).
  void push_back(std::int64_t t_mono_us, std::int64_t t_utc_us, const std::int32_t* counts) {
    mono_.push_back(t_mono_us);
    utc_.push_back(t_utc_us);
    counts_.insert(counts_.end(), counts, counts + channels_);
  }
  /// Drops the oldest samples while the history spans more than `keep_us`.
  void keep_span(std::int64_t keep_us) {
    std::size_t n = 0;
    while (n < mono_.size() && mono_.back() - mono_[n] > keep_us) ++n;
    mono_.erase(mono_.begin(), mono_.begin() + static_cast<std::ptrdiff_t>(n));
    utc_.erase(utc_.begin(), utc_.begin() + static_cast<std::ptrdiff_t>(n));
    counts_.erase(counts_.begin(), counts_.begin() + static_cast<std::ptrdiff_t>(n * channels_));
  }
  /// Index of the first sample at or after `t_mono_us` (size() if none).
  std::size_t lower_bound(std::int64_t t_mono_us) const {
    return static_cast<std::size_t>(std::lower_bound(mono_.begin(), mono_.end(), t_mono_us) -
                                    mono_.begin());
  }
  std::int64_t mono_us(std::size_t i) const { return mono_[i]; }
  std::int64_t utc_us(std::size_t i) const { return utc_[i]; }
  /// Sample i's counts into `out` (resized to channels()).
  void row(std::size_t i, std::vector<std::int32_t>& out) const {
    out.resize(channels_);
    std::copy_n(counts_.begin() + static_cast<std::ptrdiff_t>(i * channels_), channels_,
                out.begin());
  }

 private:
  std::size_t channels_;
  std::deque<std::int64_t> mono_, utc_;
  std::deque<std::int32_t> counts_;  // row-major: channels_ values per sample
};

}  // namespace wim::edge
