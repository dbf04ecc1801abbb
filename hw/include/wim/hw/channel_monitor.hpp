// SPDX-License-Identifier: Apache-2.0
// Detects stuck and dead channels: a live sensor always shows amplifier noise, so a
// channel whose value does not change for a whole window is stuck (or dead when it
// reads 0 or the device reports it open).
#pragma once
#include <cstdint>
#include <vector>

#include "wim/hw/sample_source.hpp"

namespace wim::hw {

class ChannelMonitor {
 public:
  /// window_samples: samples per channel without change before a channel is judged.
  ChannelMonitor(std::size_t channels, std::size_t window_samples);
  /// Feeds a block; a lost span restarts the windows (no judgement across a gap).
  void feed(const SampleBlock& block);
  /// Device-reported open-circuit bits (bit c = channel c), from the status registers.
  void device_fault_bits(std::uint32_t bits);
  const std::vector<ChannelHealth>& health() const { return health_; }
  std::uint64_t fault_events() const { return events_; }  ///< [-] transitions ok → fault

 private:
  void set(std::size_t c, ChannelHealth h);
  std::size_t window_;
  std::vector<ChannelHealth> health_;
  std::vector<std::int32_t> last_;
  std::vector<std::size_t> same_run_;  // samples equal to last_
  std::vector<bool> device_dead_;
  std::uint64_t events_ = 0;
};

}  // namespace wim::hw
