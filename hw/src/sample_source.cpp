// SPDX-License-Identifier: Apache-2.0
#include "wim/hw/sample_source.hpp"

#include "wim/hw/channel_monitor.hpp"

namespace wim::hw {

std::string_view to_string(ChannelHealth h) {
  switch (h) {
    case ChannelHealth::ok:
      return "ok";
    case ChannelHealth::stuck:
      return "stuck";
    case ChannelHealth::dead:
      return "dead";
  }
  return "?";
}

void SampleBlock::clear() {
  counts.assign(channels.size(), {});
  t_unix_us.clear();
  t_mono_us.clear();
  lost.clear();
  events.clear();
  device_condition.clear();
  first_index = 0;
}

ChannelMonitor::ChannelMonitor(std::size_t channels, std::size_t window_samples)
    : window_(window_samples),
      health_(channels, ChannelHealth::ok),
      last_(channels, 0),
      same_run_(channels, 0),
      device_dead_(channels, false) {}

void ChannelMonitor::set(std::size_t c, ChannelHealth h) {
  if (health_[c] == ChannelHealth::ok && h != ChannelHealth::ok) ++events_;
  health_[c] = h;
}

void ChannelMonitor::device_fault_bits(std::uint32_t bits) {
  for (std::size_t c = 0; c < health_.size() && c < 32; ++c) {
    device_dead_[c] = (bits >> c) & 1u;
    if (device_dead_[c]) set(c, ChannelHealth::dead);
  }
}

void ChannelMonitor::feed(const SampleBlock& block) {
  if (!block.lost.empty()) std::fill(same_run_.begin(), same_run_.end(), 0);
  for (std::size_t c = 0; c < health_.size() && c < block.counts.size(); ++c) {
    for (std::int32_t v : block.counts[c]) {
      if (same_run_[c] > 0 && v == last_[c]) {
        ++same_run_[c];
      } else {
        same_run_[c] = 1;
        last_[c] = v;
      }
    }
    if (same_run_[c] >= window_)
      set(c, last_[c] == 0 || device_dead_[c] ? ChannelHealth::dead : ChannelHealth::stuck);
    else if (same_run_[c] < window_ && !device_dead_[c] && !block.counts[c].empty() &&
             same_run_[c] < block.counts[c].size())
      set(c, ChannelHealth::ok);  // the value moved within this block: alive again
  }
}

}  // namespace wim::hw
