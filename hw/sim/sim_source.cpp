// SPDX-License-Identifier: Apache-2.0
#include "sim_source.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <thread>

#include "wim/common/error.hpp"

namespace wim::sim {

void SimSourceOptions::validate() const {
  sim.site.validate();
  sim.traffic.validate();
  auto bad = [](const std::string& what) { throw InputError("sim source: " + what); };
  if (!(time_scale > 0 && time_scale <= 10000)) bad("time_scale: must be in (0, 10000]");
  if (block_samples < 1 || block_samples > 1000000) bad("block_samples: must be in 1..1000000");
  if (chunk_samples < 1) bad("chunk_samples: must be >= 1");
  if (!(drop_prob >= 0 && drop_prob < 1)) bad("drop_prob: must be in [0, 1)");
  if (!(late_prob >= 0 && late_prob < 1)) bad("late_prob: must be in [0, 1)");
  if (late_ms < 0 || late_ms > 60000) bad("late_ms: must be in 0..60000");
}

SimSource::SimSource(SimSourceOptions opt)
    : opt_((opt.validate(), std::move(opt))),
      chans_(opt_.sim.site.channels(opt_.sim.seed)),
      synth_(make_synth(opt_.sim)),
      fault_rng_(opt_.sim.seed ^ 0xfa017ull),
      row_(chans_.size()),
      monitor_(chans_.size(), static_cast<std::size_t>(opt_.sim.site.sample_rate_hz)) {
  for (const Channel& c : chans_) names_.push_back(c.name);
  synth_->on_vehicle([this](const Vehicle& v) { pulled_.push_back(v); });
}

SimSource::~SimSource() = default;

std::vector<hw::SimTruth> SimSource::take_truth() {
  std::vector<hw::SimTruth> out(std::make_move_iterator(truth_queue_.begin()),
                                std::make_move_iterator(truth_queue_.end()));
  truth_queue_.clear();
  return out;
}

boost::json::object SimSource::station_json() const {
  return opt_.sim.site.station_json(chans_);
}

double SimSource::simulated_s() const {
  return static_cast<double>(synth_->t_us_of(synth_->index())) * 1e-6;
}

void SimSource::anchor() {
  anchored_ = true;
  wall_start_mono_us_ = time::monotonic_us();
  start_mono_us_ = wall_start_mono_us_;
  if (opt_.start_unix_us) {
    start_unix_us_ = *opt_.start_unix_us;
    sync_ = time::ClockSync::unknown;
  } else {
    start_unix_us_ = time::now_unix_us();
    sync_ = time::query_clock().sync;
    next_clock_check_us_ = wall_start_mono_us_ + 10'000'000;
  }
}

std::uint64_t SimSource::due_index() const {
  const double sim_us =
      static_cast<double>(time::monotonic_us() - wall_start_mono_us_) * opt_.time_scale;
  return static_cast<std::uint64_t>(std::floor(sim_us * opt_.sim.site.sample_rate_hz / 1e6)) + 1;
}

void SimSource::emit_truth_until(std::int64_t t_us) {
  while (!pulled_.empty() && pulled_.front().t_us <= t_us) {
    const Vehicle& v = pulled_.front();
    hw::SimTruth e;
    e.id = v.id;
    e.lane = v.lane;
    e.t_us = v.t_us;
    e.t_unix_us = start_unix_us_ + v.t_us;
    e.speed_kmh = v.speed_kmh;
    e.vehicle_class = std::string(to_string(v.cls));
    e.gross_kg = v.gross_kg();
    e.overloaded = v.overloaded;
    e.plate_text = v.plate_text;
    e.plate_colour = v.plate_colour;
    e.truth = v.truth_json();
    pulled_.pop_front();
    if (on_truth_) {
      on_truth_(e);
    } else {
      truth_queue_.push_back(std::move(e));
      if (truth_queue_.size() > 4096) {
        truth_queue_.pop_front();
        ++truth_dropped_;
      }
    }
  }
}

// Generates samples up to index `upto` (exclusive) into the block; stops early at a lost
// chunk when the block already holds samples (a block is contiguous) and, paced, at a
// late chunk until its release time.
void SimSource::generate(hw::SampleBlock& block, std::uint64_t upto) {
  const std::size_t nc = chans_.size();
  while (synth_->index() < upto) {
    const std::uint64_t k = synth_->index();
    if (k == chunk_end_) {  // a new chunk: draw its fate (same draws paced or not)
      chunk_end_ = k + opt_.chunk_samples;
      chunk_dropped_ = opt_.drop_prob > 0 && fault_rng_.chance(opt_.drop_prob);
      const bool late = !chunk_dropped_ && opt_.late_prob > 0 && fault_rng_.chance(opt_.late_prob);
      if (late) {
        ++late_chunks_;
        if (opt_.paced) {
          late_until_index_ = chunk_end_;
          late_release_mono_us_ = time::monotonic_us() + opt_.late_ms * 1000LL;
        }
      }
    }
    if (k < late_until_index_ && time::monotonic_us() < late_release_mono_us_) break;
    if (chunk_dropped_ && block.size() > 0) break;
    const std::int64_t t_us = synth_->next(row_);
    emit_truth_until(t_us);
    if (chunk_dropped_) {
      const std::int64_t t_unix = start_unix_us_ + t_us;
      if (!block.lost.empty() && block.lost.back().first_index + block.lost.back().count == k) {
        ++block.lost.back().count;
        block.lost.back().to_unix_us = t_unix;
      } else {
        block.lost.push_back({k, 1, t_unix, t_unix});
        ++counters_.gaps;
      }
      ++counters_.lost_samples;
      continue;
    }
    if (block.size() == 0) block.first_index = k;
    block.t_unix_us.push_back(start_unix_us_ + t_us);
    block.t_mono_us.push_back(start_mono_us_ + t_us);
    for (std::size_t c = 0; c < nc; ++c) block.counts[c].push_back(row_[c]);
  }
}

bool SimSource::read(hw::SampleBlock& block, std::chrono::milliseconds timeout) {
  block.channels = names_;
  block.clear();
  if (!anchored_) anchor();
  const std::int64_t deadline = time::monotonic_us() + timeout.count() * 1000;
  const std::uint64_t max_block = opt_.block_samples * 10;
  for (;;) {
    const std::uint64_t k = synth_->index();
    std::uint64_t upto = k + opt_.block_samples;
    if (opt_.paced) {
      // Wait until a full block is due, or the deadline; then take what is due.
      const double due_sim_us = static_cast<double>(synth_->t_us_of(k + opt_.block_samples));
      const std::int64_t due_wall =
          wall_start_mono_us_ + static_cast<std::int64_t>(due_sim_us / opt_.time_scale) + 1;
      for (;;) {
        upto = std::min(due_index(), k + max_block);
        const std::int64_t now = time::monotonic_us();
        if (upto >= k + opt_.block_samples || now >= deadline) break;
        std::this_thread::sleep_for(std::chrono::microseconds(std::min(deadline, due_wall) - now));
      }
    }
    generate(block, upto);
    if (block.size() > 0 || !block.lost.empty() || !opt_.paced || time::monotonic_us() >= deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a late chunk holds
  }
  if (!opt_.start_unix_us && time::monotonic_us() >= next_clock_check_us_) {
    sync_ = time::query_clock().sync;
    next_clock_check_us_ = time::monotonic_us() + 10'000'000;
  }
  block.clock_sync = sync_;
  counters_.samples += block.size();
  std::uint32_t dead_bits = 0;
  for (std::size_t c = 0; c < chans_.size() && c < 32; ++c)
    if (synth_->dead()[c]) dead_bits |= 1u << c;
  monitor_.device_fault_bits(dead_bits);
  monitor_.feed(block);
  block.health = monitor_.health();
  block.counters = counters_;
  return true;
}

std::string SimSource::status() const {
  std::ostringstream s;
  s << "source: sim\nseed: " << opt_.sim.seed << "\npaced: " << (opt_.paced ? "yes" : "no")
    << "\ntime_scale: " << opt_.time_scale << "\nsimulated_s: " << simulated_s()
    << "\nsamples: " << counters_.samples << "\nlost_samples: " << counters_.lost_samples
    << "\ngaps: " << counters_.gaps << "\nlate_chunks: " << late_chunks_
    << "\ntruth_queued: " << truth_queue_.size() << "\ntruth_dropped: " << truth_dropped_ << "\n";
  for (std::size_t c = 0; c < names_.size(); ++c)
    s << "channel " << names_[c] << ": " << to_string(monitor_.health()[c]) << "\n";
  return s.str();
}

}  // namespace wim::sim
