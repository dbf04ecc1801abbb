// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/lane_recorder.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>

#include "wim/common/error.hpp"
#include "wim/common/recording.hpp"

namespace wim::edge {

namespace fs = std::filesystem;

std::string_view to_string(RecordEnd e) {
  switch (e) {
    case RecordEnd::duration:
      return "duration";
    case RecordEnd::stopped:
      return "stopped";
    case RecordEnd::source_ended:
      return "source_ended";
    case RecordEnd::silent:
      return "silent";
  }
  return "?";
}

namespace {

/// "20261128T130501Z": the UTC second of `unix_us`, for file names.
std::string compact_utc(std::int64_t unix_us) {
  const std::string iso = time::format_utc_ms(unix_us);  // 2026-11-28T13:05:01.123Z
  std::string out;
  for (char c : iso.substr(0, 19))
    if (c != '-' && c != ':') out += c;
  return out + "Z";
}

/// `<stem>.csv`, or `<stem>-2.csv`, ...: the first name with neither it nor its .part taken.
fs::path free_name(const fs::path& dir, const std::string& stem) {
  for (int k = 1;; ++k) {
    const fs::path p = dir / (stem + (k == 1 ? "" : "-" + std::to_string(k)) + ".csv");
    if (!fs::exists(p) && !fs::exists(fs::path(p).concat(".part"))) return p;
  }
}

std::string format_number(const char* format, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

LaneRecorder::LaneRecorder(const config::StationConfig& station, hw::SampleSource& source,
                           RecorderOptions options)
    : station_id_(station.station_id), source_(source), opt_(std::move(options)) {
  if (!(opt_.duration_s > 0))
    throw InputError("record: duration " + std::to_string(opt_.duration_s) + " s: must be > 0");
  const auto& have = source_.channels();
  std::string have_list;
  for (const auto& h : have) have_list += (have_list.empty() ? "" : ", ") + h;
  for (const auto& c : station.channels) {
    const auto it = std::find(have.begin(), have.end(), c.name);
    if (it == have.end())
      throw InputError("record: station channel '" + c.name +
                       "' is not one of the acquisition source's channels (" + have_list + ")");
    names_.push_back(c.name);
    column_.push_back(static_cast<std::size_t>(it - have.begin()));
  }
  if (names_.empty()) throw InputError("record: the station config has no channels");
}

RecordResult LaneRecorder::record(const fs::path& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw SystemError("record: cannot create " + out_dir.string() + ": " + ec.message());
  if (::access(out_dir.c_str(), W_OK) != 0)
    throw SystemError("record: cannot write into " + out_dir.string() + ": " +
                      std::strerror(errno));

  const double rate_hz = source_.sample_rate_hz();
  const std::int64_t span_us = std::llround(opt_.duration_s * 1e6);  // [us]
  RecordResult r;
  r.expected_samples = static_cast<std::uint64_t>(std::llround(opt_.duration_s * rate_hz));
  // [us] UTC start of the span: now (live) or the first sample's time (replay).
  std::optional<std::int64_t> origin;
  if (opt_.live_clock) origin = time::now_unix_us();
  const std::int64_t silent_after_mono_us =
      time::monotonic_us() + std::llround((opt_.duration_s + opt_.grace_s) * 1e6);

  std::ofstream out;
  std::optional<recording::Writer> writer;
  fs::path part;
  std::int64_t first_unix_us = 0, last_unix_us = 0;
  std::vector<std::int32_t> row(names_.size());
  hw::SampleBlock b;
  auto open = [&](std::int64_t t_unix_us, time::ClockSync sync) {
    // started_utc is written in milliseconds: t_us counts from that, so it reads back exactly.
    r.started_unix_us = t_unix_us - ((t_unix_us % 1000) + 1000) % 1000;
    r.clock_sync = sync;
    r.path = free_name(out_dir, station_id_ + "-" + compact_utc(r.started_unix_us));
    part = fs::path(r.path).concat(".part");
    out.open(part, std::ios::out | std::ios::trunc);
    if (!out)
      throw SystemError("record: cannot write " + part.string() + ": " + std::strerror(errno));
    recording::Header h;
    h.sample_rate_hz = rate_hz;
    h.station = station_id_;
    h.started_unix_us = r.started_unix_us;
    h.channels = names_;
    h.meta["clock_sync"] = std::string(time::to_string(sync));
    if (opt_.live_clock) {
      const time::ClockStatus ck = time::query_clock();
      h.meta["clock_offset_ms"] = format_number("%.3f", ck.offset_ms);
      h.meta["clock_max_error_ms"] = format_number("%.3f", ck.max_error_ms);
    }
    if (!opt_.source_kind.empty()) h.meta["source"] = opt_.source_kind;
    h.meta["duration_s"] = format_number("%g", opt_.duration_s);
    h.meta["recorded_by"] = "wim-edge record";
    writer.emplace(out, h);
  };

  bool span_done = false;
  while (!span_done) {
    if (stop_.load()) {
      r.end = RecordEnd::stopped;
      break;
    }
    if (opt_.live_clock && time::monotonic_us() > silent_after_mono_us) {
      r.end = RecordEnd::silent;
      break;
    }
    if (!source_.read(b, opt_.read_timeout)) {
      r.end = RecordEnd::source_ended;
      break;
    }
    if (origin) {
      const double period_us = 1e6 / rate_hz;
      for (const hw::LostSpan& l : b.lost) {  // the part of each gap inside the span
        const std::int64_t lo = std::max(l.from_unix_us, *origin);
        const std::int64_t hi = std::min(l.to_unix_us, *origin + span_us - 1);
        if (hi < lo) continue;
        ++r.gaps;
        r.lost_samples += std::min<std::uint64_t>(
            l.count, static_cast<std::uint64_t>(std::floor((hi - lo) / period_us)) + 1);
      }
    }
    for (std::size_t i = 0; i < b.size(); ++i) {
      const std::int64_t t = b.t_unix_us[i];
      if (!origin) origin = t;
      if (t < *origin) {
        ++r.skipped_samples;
        continue;
      }
      if (t >= *origin + span_us) {
        span_done = true;
        r.end = RecordEnd::duration;
        break;
      }
      if (!writer) {
        open(t, b.clock_sync);
        first_unix_us = t;
      }
      for (std::size_t c = 0; c < row.size(); ++c) row[c] = b.counts[column_[c]][i];
      writer->write(t - r.started_unix_us, row);
      last_unix_us = t;
      ++r.samples;
    }
    if (writer && !out.flush())
      throw SystemError("record: writing " + part.string() + " failed: " + std::strerror(errno));
  }

  if (!writer)
    throw std::runtime_error("record: no sample from the acquisition source within the " +
                             std::to_string(opt_.duration_s) + " s span (ended: " +
                             std::string(to_string(r.end)) + ")\n" + source_.status());
  out.close();
  if (!out)
    throw SystemError("record: closing " + part.string() + " failed: " + std::strerror(errno));
  fs::rename(part, r.path, ec);
  if (ec) throw SystemError("record: renaming " + part.string() + ": " + ec.message());
  r.recorded_s = (last_unix_us - first_unix_us) / 1e6 + 1.0 / rate_hz;
  return r;
}

}  // namespace wim::edge
