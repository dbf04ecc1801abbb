// SPDX-License-Identifier: Apache-2.0
// Replays a contract-1 recording as a SampleSource. UTC = started_utc + t_us (clock
// sync "unknown": the recorder's clock state is not in the file); monotonic = t_us.
// With set_loop() it plays the file again and again. A step in t_us larger than 1.5 sample periods
// is reported as lost samples.
#pragma once
#include <filesystem>
#include <memory>

#include "wim/common/recording.hpp"
#include "wim/hw/channel_monitor.hpp"
#include "wim/hw/sample_source.hpp"

namespace wim::hw {

class ReplaySource final : public SampleSource {
 public:
  /// block_rows: samples per read(). Throws InputError on a malformed recording (also
  /// later, from read(), naming the line).
  explicit ReplaySource(std::unique_ptr<recording::Reader> reader, std::size_t block_rows = 400);
  static std::unique_ptr<ReplaySource> open(const std::filesystem::path& path,
                                            std::size_t block_rows = 400);

  const std::vector<std::string>& channels() const override { return reader_->header().channels; }
  double sample_rate_hz() const override { return reader_->header().sample_rate_hz; }
  bool read(SampleBlock& block, std::chrono::milliseconds timeout) override;
  SourceCounters counters() const override { return counters_; }
  std::string status() const override;
  /// At the end, reopen `path` and play it again: times and the continuity index go on
  /// (the next pass starts one sample period after the last sample).
  void set_loop(const std::filesystem::path& path) { loop_path_ = path; }
  std::uint64_t passes() const { return passes_; }  ///< [-] completed passes

 private:
  std::unique_ptr<recording::Reader> reader_;
  std::size_t block_rows_;
  recording::Block buf_;
  std::size_t pos_ = 0;  // next row of buf_ to hand out
  std::int64_t start_unix_us_;
  double period_us_;
  std::optional<std::int64_t> last_t_us_;
  std::uint64_t next_index_ = 0;
  std::optional<std::filesystem::path> loop_path_;
  std::uint64_t passes_ = 0;
  bool rebase_ = false;           // the next row starts a new pass
  std::int64_t t_offset_us_ = 0;  // [us] added to the file's t_us in this pass
  SourceCounters counters_;
  ChannelMonitor monitor_;
};

}  // namespace wim::hw
