// SPDX-License-Identifier: Apache-2.0
#include "wim/hw/replay_source.hpp"

#include <cmath>
#include <sstream>

namespace wim::hw {

ReplaySource::ReplaySource(std::unique_ptr<recording::Reader> reader, std::size_t block_rows)
    : reader_(std::move(reader)),
      block_rows_(block_rows),
      start_unix_us_(reader_->header().started_unix_us.value_or(0)),
      period_us_(1e6 / reader_->header().sample_rate_hz),
      monitor_(reader_->header().channels.size(),
               static_cast<std::size_t>(reader_->header().sample_rate_hz))  // 1 s unchanged
{}

std::unique_ptr<ReplaySource> ReplaySource::open(const std::filesystem::path& path,
                                                 std::size_t block_rows) {
  return std::make_unique<ReplaySource>(recording::Reader::open(path), block_rows);
}

bool ReplaySource::read(SampleBlock& block, std::chrono::milliseconds) {
  block.channels = channels();
  block.clear();
  block.clock_sync = time::ClockSync::unknown;
  if (pos_ >= buf_.rows()) {
    pos_ = 0;
    if (reader_->read_block(buf_, block_rows_) == 0) {
      if (!loop_path_ || !last_t_us_) return false;
      ++passes_;
      reader_ = recording::Reader::open(*loop_path_);
      rebase_ = true;
      if (reader_->read_block(buf_, block_rows_) == 0) return false;
    }
  }
  // A block is contiguous: a gap ends it, and the next block starts with its LostSpan.
  for (; pos_ < buf_.rows(); ++pos_) {
    if (rebase_) {
      t_offset_us_ = *last_t_us_ + std::llround(period_us_) - buf_.t_us[pos_];
      rebase_ = false;
    }
    const std::int64_t t = buf_.t_us[pos_] + t_offset_us_;
    if (last_t_us_) {
      const auto steps = std::llround(static_cast<double>(t - *last_t_us_) / period_us_);
      const auto missing = static_cast<std::uint64_t>(std::max<std::int64_t>(steps - 1, 0));
      if (missing > 0 && block.size() > 0) break;
      if (missing > 0) {
        block.lost.push_back({next_index_, missing,
                              start_unix_us_ + *last_t_us_ + std::llround(period_us_),
                              start_unix_us_ + t - std::llround(period_us_)});
        next_index_ += missing;
        counters_.lost_samples += missing;
        ++counters_.gaps;
      }
    }
    if (block.size() == 0) block.first_index = next_index_;
    block.t_unix_us.push_back(start_unix_us_ + t);
    block.t_mono_us.push_back(t);
    for (std::size_t c = 0; c < buf_.counts.size(); ++c)
      block.counts[c].push_back(buf_.counts[c][pos_]);
    last_t_us_ = t;
    ++next_index_;
  }
  counters_.samples += block.size();
  monitor_.feed(block);
  block.health = monitor_.health();
  block.counters = counters_;
  return true;
}

std::string ReplaySource::status() const {
  std::ostringstream s;
  s << "source: replay\nline: " << reader_->line() << "\nsamples: " << counters_.samples
    << "\nlost_samples: " << counters_.lost_samples << "\ngaps: " << counters_.gaps
    << "\npasses: " << passes_ << "\n";
  for (std::size_t c = 0; c < channels().size(); ++c)
    s << "channel " << channels()[c] << ": " << to_string(monitor_.health()[c]) << "\n";
  return s.str();
}

}  // namespace wim::hw
