// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/weigh/pipeline.hpp"

#include <algorithm>
#include <cmath>

#include "wim/common/error.hpp"

namespace wim::weigh {

Pipeline::Pipeline(config::StationConfig cfg, double sample_rate_hz,
                   const std::vector<std::string>& columns)
    : cfg_(std::move(cfg)),
      sample_rate_hz_(sample_rate_hz),
      gap_us_(std::llround(cfg_.weighing.vehicle_gap_s * 1e6)),
      max_segment_us_(std::llround(cfg_.weighing.max_segment_s * 1e6)) {
  if (!(sample_rate_hz > 0)) throw InputError("sample_rate_hz: must be > 0");
  column_to_channel_.assign(columns.size(), -1);
  for (std::size_t i = 0; i < cfg_.channels.size(); ++i) {
    const auto it = std::find(columns.begin(), columns.end(), cfg_.channels[i].name);
    if (it == columns.end())
      throw InputError("channel '" + cfg_.channels[i].name +
                       "' of the station config is not a column of the recording");
    column_to_channel_[static_cast<std::size_t>(it - columns.begin())] = static_cast<int>(i);
    detectors_.emplace_back(static_cast<int>(i), cfg_.channels[i], cfg_.weighing, sample_rate_hz);
  }
  lane_numbers_ = cfg_.lanes();
  for (int l : lane_numbers_) assemblers_.emplace_back(l, cfg_);
  lanes_.resize(lane_numbers_.size());
  for (const config::ChannelConfig& c : cfg_.channels)
    lane_of_channel_.push_back(static_cast<int>(
        std::find(lane_numbers_.begin(), lane_numbers_.end(), c.lane) - lane_numbers_.begin()));
}

void Pipeline::feed(std::int64_t t_us, std::span<const std::int32_t> counts) {
  now_us_ = t_us;
  ++stats_.samples;
  const std::size_t n = std::min(counts.size(), column_to_channel_.size());
  for (std::size_t i = 0; i < n; ++i) {
    const int ch = column_to_channel_[i];
    if (ch < 0) continue;
    if (auto p = detectors_[static_cast<std::size_t>(ch)].feed(t_us, counts[i]))
      on_pulse(std::move(*p));
  }
}

void Pipeline::feed(const recording::Block& block) {
  // Column-major input: walk rows, gathering one row at a time.
  std::vector<std::int32_t> row(block.counts.size());
  for (std::size_t r = 0; r < block.rows(); ++r) {
    for (std::size_t c = 0; c < row.size(); ++c) row[c] = block.counts[c][r];
    feed(block.t_us[r], row);
  }
  // A lane quiet for the vehicle gap is complete even without a new pulse.
  for (std::size_t l = 0; l < lanes_.size(); ++l)
    if (!lanes_[l].pulses.empty() && now_us_ - lanes_[l].last_end_us >= gap_us_) {
      bool busy = false;
      for (int ch : assemblers_[l].channels())
        busy = busy || detectors_[static_cast<std::size_t>(ch)].in_pulse();
      if (!busy) close(l, false);
    }
}

void Pipeline::set_temperature_c(double t_c) {
  for (ChannelDetector& d : detectors_) d.set_temperature_c(t_c);
}

void Pipeline::presence(int lane, std::int64_t t_us, bool occupied) {
  const auto it = std::find(lane_numbers_.begin(), lane_numbers_.end(), lane);
  if (it == lane_numbers_.end() || occupied) return;
  Lane& l = lanes_[static_cast<std::size_t>(it - lane_numbers_.begin())];
  l.presence_gaps_us.push_back(t_us);
  if (l.presence_gaps_us.size() > 4096) l.presence_gaps_us.erase(l.presence_gaps_us.begin());
}

void Pipeline::on_pulse(Pulse&& p) {
  ++stats_.pulses;
  const auto li = static_cast<std::size_t>(lane_of_channel_[static_cast<std::size_t>(p.channel)]);
  Lane& l = lanes_[li];
  if (!l.pulses.empty() && p.start_us - l.last_end_us >= gap_us_) close(li, false);
  if (l.pulses.empty()) l.first_start_us = p.start_us;
  l.last_end_us = std::max(l.last_end_us, p.end_us);
  l.pulses.push_back(std::move(p));
  if (l.last_end_us - l.first_start_us > max_segment_us_) close(li, true);
}

void Pipeline::close(std::size_t li, bool forced) {
  Lane& l = lanes_[li];
  std::vector<Pulse> rest;
  bool cut_here = false;
  if (forced) {
    // Dense traffic never left a vehicle gap: cut at the widest pause in the second half,
    // and flag the vehicles on both sides of the cut.
    ++stats_.cuts;
    std::sort(l.pulses.begin(), l.pulses.end(),
              [](const Pulse& a, const Pulse& b) { return a.start_us < b.start_us; });
    std::int64_t end = l.pulses.front().end_us, widest = -1;
    std::size_t at = l.pulses.size();
    for (std::size_t i = 1; i < l.pulses.size(); ++i) {
      const std::int64_t pause = l.pulses[i].start_us - end;
      if (i >= l.pulses.size() / 2 && pause > widest) widest = pause, at = i;
      end = std::max(end, l.pulses[i].end_us);
    }
    rest.assign(std::make_move_iterator(l.pulses.begin() + static_cast<std::ptrdiff_t>(at)),
                std::make_move_iterator(l.pulses.end()));
    l.pulses.resize(at);
    cut_here = true;
  }
  std::vector<WeighedVehicle> vs =
      assemblers_[li].assemble(std::move(l.pulses), l.presence_gaps_us, false);
  const char* kCut =
      "traffic left no gap for max_segment_s: the segment was cut next to this vehicle";
  if (!vs.empty() && l.carry_cut) {
    vs.front().valid = false;
    vs.front().reasons.emplace_back(kCut);
  }
  if (!vs.empty() && cut_here) {
    vs.back().valid = false;
    vs.back().reasons.emplace_back(kCut);
  }
  l.carry_cut = cut_here;
  finalise(li, vs);
  l.pulses = std::move(rest);
  if (!l.pulses.empty()) {
    l.first_start_us = l.pulses.front().start_us;
    l.last_end_us = l.first_start_us;
    for (const Pulse& p : l.pulses) l.last_end_us = std::max(l.last_end_us, p.end_us);
  }
  // Presence gaps and faults older than the segment can no longer matter.
  const std::int64_t keep_from = (l.pulses.empty() ? now_us_ : l.first_start_us) - max_segment_us_;
  std::erase_if(l.presence_gaps_us, [&](std::int64_t t) { return t < keep_from; });
  for (int ch : assemblers_[li].channels())
    detectors_[static_cast<std::size_t>(ch)].prune_faults(keep_from);
}

void Pipeline::finalise(std::size_t li, std::vector<WeighedVehicle>& vehicles) {
  for (WeighedVehicle& v : vehicles) {
    ++stats_.vehicles;
    const double v_mps = std::max(v.speed_kmh / 3.6, 1.0);
    const auto from = static_cast<std::int64_t>(v.axles.front().t_us) - 500'000;
    const auto to = static_cast<std::int64_t>(v.axles.back().t_us) +
                    static_cast<std::int64_t>(10.0 / v_mps * 1e6) + 500'000;  // 10 m: row span
    for (int ch : assemblers_[li].channels())
      for (const ChannelFault& f :
           detectors_[static_cast<std::size_t>(ch)].faults_between(from, to)) {
        const std::string r = "channel " + cfg_.channels[static_cast<std::size_t>(ch)].name +
                              " faulty during the pass: " + f.what;
        if (std::find(v.reasons.begin(), v.reasons.end(), r) == v.reasons.end())
          v.reasons.push_back(r);
        v.valid = false;
      }
    std::vector<double> loads = v.axle_loads_kg();
    v.legal = legal::decide(loads, v.axle_spacings_m, cfg_.legal, v.valid);
    pending_.push_back(std::move(v));
  }
}

void Pipeline::merge_straddlers() {
  // A vehicle between lanes L and L+1 shows as right wheels only in L and left wheels only
  // in L+1, at the same time: report it once, in lane L, flagged (never a case).
  auto one_sided = [](const WeighedVehicle& v) {
    for (const std::string& r : v.reasons)
      if (r.starts_with("wheel track missing")) return true;
    return false;
  };
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    if (!one_sided(pending_[i])) continue;
    for (std::size_t j = i + 1;
         j < pending_.size() && pending_[j].t_us - pending_[i].t_us < 100'000; ++j) {
      WeighedVehicle& a = pending_[i];
      WeighedVehicle& b = pending_[j];
      if (std::abs(a.lane - b.lane) != 1 || !one_sided(b) || a.axles.size() != b.axles.size())
        continue;
      WeighedVehicle& keep = a.lane < b.lane ? a : b;
      keep.reasons.insert(keep.reasons.begin(),
                          "straddling lanes " + std::to_string(std::min(a.lane, b.lane)) + " and " +
                              std::to_string(std::max(a.lane, b.lane)));
      keep.valid = false;
      keep.legal = legal::decide(keep.axle_loads_kg(), keep.axle_spacings_m, cfg_.legal, false);
      if (&keep == &b) std::swap(a, b);
      pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(j));
      break;
    }
  }
}

void Pipeline::finish() {
  for (std::size_t l = 0; l < lanes_.size(); ++l)
    while (!lanes_[l].pulses.empty()) close(l, false);
}

std::vector<WeighedVehicle> Pipeline::take() {
  // Nothing still buffered in a lane can pass before its segment's first pulse.
  std::int64_t watermark = INT64_MAX;
  for (std::size_t l = 0; l < lanes_.size(); ++l) {
    if (!lanes_[l].pulses.empty()) watermark = std::min(watermark, lanes_[l].first_start_us);
    for (int ch : assemblers_[l].channels())
      if (detectors_[static_cast<std::size_t>(ch)].in_pulse())
        watermark = std::min(watermark, detectors_[static_cast<std::size_t>(ch)].pulse_start_us());
  }
  std::stable_sort(
      pending_.begin(), pending_.end(),
      [](const WeighedVehicle& a, const WeighedVehicle& b) { return a.t_us < b.t_us; });
  merge_straddlers();
  std::vector<WeighedVehicle> out;
  std::size_t k = 0;
  while (k < pending_.size() && pending_[k].t_us < watermark) ++k;
  out.assign(std::make_move_iterator(pending_.begin()),
             std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(k)));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(k));
  return out;
}

std::vector<ChannelFault> Pipeline::faults_between(std::int64_t from_us, std::int64_t to_us) const {
  std::vector<ChannelFault> out;
  for (const ChannelDetector& d : detectors_)
    for (ChannelFault& f : d.faults_between(from_us, to_us)) out.push_back(std::move(f));
  return out;
}

}  // namespace wim::weigh
