// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/station_weigher.hpp"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <thread>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/log.hpp"
#include "wim/common/recording.hpp"
#include "wim/edge/weigh/software_id.hpp"
#include "wim/hw/source_factory.hpp"

namespace wim::edge {

namespace {

/// Figures as the manifest states them: `decimals` places, the double nearest to that
/// decimal (divide, not multiply by 0.01), so the canonical form prints it short and a
/// parse gives the same double back.
double round_to(double x, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(x * scale) / scale;
}

std::string verdict_text(legal::Verdict v) {
  switch (v) {
    case legal::Verdict::warning:
      return "warning";
    case legal::Verdict::overload:
      return "overload";
    default:
      return "within";
  }
}

/// Bounded blocking queue of sample blocks (acquisition -> weighing).
class BlockQueue {
 public:
  explicit BlockQueue(std::size_t cap) : cap_(std::max<std::size_t>(cap, 1)) {}
  /// Waits for room; false when closed.
  bool push(hw::SampleBlock b) {
    std::unique_lock lk(mu_);
    not_full_.wait(lk, [&] { return closed_ || q_.size() < cap_; });
    if (closed_) return false;
    q_.push_back(std::move(b));
    not_empty_.notify_one();
    return true;
  }
  /// Waits for a block; false when closed and drained.
  bool pop(hw::SampleBlock& b) {
    std::unique_lock lk(mu_);
    not_empty_.wait(lk, [&] { return closed_ || !q_.empty(); });
    if (q_.empty()) return false;
    b = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void close() {
    std::lock_guard lk(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<hw::SampleBlock> q_;
  std::size_t cap_;
  bool closed_ = false;
};

}  // namespace

namespace {
/// Contract 4 carries speeds, loads and spacings as finite, non-negative numbers. Faulty
/// sensors (a stuck or dead channel) can make the pipeline measure a negative speed or
/// load: such a value is stated as 0 and named in `unrecordable`; the pass is then not fit
/// for enforcement. Without this one record would stop the weighing for good.
double recordable(double x, int decimals, const std::string& field,
                  std::vector<std::string>& unrecordable) {
  if (std::isfinite(x) && x >= 0) return round_to(x, decimals);
  std::ostringstream s;
  s << field << " measured as " << x << ": recorded as 0 (faulty sensors)";
  unrecordable.push_back(s.str());
  return 0;
}
}  // namespace

record::Manifest vehicle_manifest(const weigh::WeighedVehicle& v, std::int64_t time_unix_us,
                                  const time::ClockStatus& clock,
                                  const std::string& calibration_id) {
  record::Manifest m;
  std::vector<std::string> unrecordable;
  record::Measurement x;
  x.lane = v.lane;
  x.speed_kmh = recordable(v.speed_kmh, 2, "speed_kmh", unrecordable);
  for (double l : v.axle_loads_kg())
    x.axle_loads_kg.push_back(recordable(
        l, 1, "axle_loads_kg[" + std::to_string(x.axle_loads_kg.size()) + "]", unrecordable));
  for (double d : v.axle_spacings_m)
    x.axle_spacings_m.push_back(recordable(
        d, 3, "axle_spacings_m[" + std::to_string(x.axle_spacings_m.size()) + "]", unrecordable));
  for (const auto& a : v.axles) {
    const std::string at = "axles[" + std::to_string(x.axles.size()) + "]";
    x.axles.push_back({recordable(a.left_kg, 1, at + ".left_kg", unrecordable),
                       recordable(a.right_kg, 1, at + ".right_kg", unrecordable)});
  }
  const bool valid = v.valid && unrecordable.empty();
  const bool violation = valid && v.legal.overloaded;
  m.kind = violation ? record::Kind::violation : record::Kind::pass;
  m.lane = v.lane;
  m.time_unix_us = time_unix_us;
  m.clock_sync = clock.sync;
  m.clock_offset_ms = clock.offset_ms;
  m.software_sha256 = std::string(legal::software_sha256());
  m.calibration_id = calibration_id;
  x.gross_kg = 0;  // the sum of the stated axle loads
  for (double l : x.axle_loads_kg) x.gross_kg += l;
  x.gross_kg = round_to(x.gross_kg, 1);
  x.axle_config = v.legal.axle_config;
  x.vehicle_class = std::string(legal::to_string(v.legal.classification.vehicle_class));
  x.fit_for_enforcement = valid;
  if (!valid) {
    x.invalid_reasons = v.reasons;
    x.invalid_reasons.insert(x.invalid_reasons.end(), unrecordable.begin(), unrecordable.end());
  }
  m.measurement = std::move(x);
  // The legal basis of an enforceable pass; an invalid pass gets none (no verdict applies).
  if (valid) {
    record::LegalBasis l;
    l.limit_kg = round_to(v.legal.limit_kg, 1);
    l.rule = v.legal.classification.rule + " (" + v.legal.limits_source + ")";
    l.tolerance_kg = round_to(v.legal.tolerance_kg, 1);
    l.excess_kg = round_to(v.legal.excess_kg, 1);
    l.overload_ratio = round_to(v.legal.overload_ratio, 4);
    l.verdict = verdict_text(v.legal.verdict);
    if (v.legal.classification.ambiguous)
      l.ambiguity = "axle pattern fits several classes; the highest limit applies";
    m.legal = std::move(l);
  }
  return m;
}

std::optional<Acquisition> load_acquisition(const std::filesystem::path& station_json,
                                            hw::SimTruthCallback on_truth,
                                            bool require_calibration) {
  const std::string file = station_json.string();
  const auto root = json::load_file(station_json);
  const auto& o = json::as_object(root, file);
  const auto* section = o.if_contains("acquisition");
  if (!section) return std::nullopt;
  Acquisition a;
  a.station = config::parse_station_config(root, file);
  if (require_calibration && a.station.calibration_id.empty())
    throw InputError(file +
                     ": calibration.id: required when \"acquisition\" is configured "
                     "(every vehicle record names the calibration in force)");
  hw::SourceFactoryOptions fo;
  fo.base_dir = station_json.parent_path();
  for (const auto& c : a.station.channels) fo.channel_names.push_back(c.name);
  fo.on_truth = std::move(on_truth);
  a.source = hw::make_source(*section, file + ": acquisition", fo);
  const auto* kind = section->is_object() ? section->as_object().if_contains("source") : nullptr;
  if (kind && kind->is_string()) a.kind = std::string(kind->as_string());
  a.options.live_clock = a.kind != "replay";
  return std::optional<Acquisition>(std::move(a));
}

StationWeigher::StationWeigher(config::StationConfig cfg, hw::SampleSource& source,
                               OutboxSealer& sealer, WeigherOptions options)
    : cfg_(std::move(cfg)), source_(source), sealer_(sealer), opt_(options) {
  channels_ = source_.channels();
  history_ = SampleHistory(channels_.size());
  pipeline_ = std::make_unique<weigh::Pipeline>(cfg_, source_.sample_rate_hz(), channels_);
  double lo = 1e9, hi = -1e9;
  for (const auto& c : cfg_.channels) lo = std::min(lo, c.row_m), hi = std::max(hi, c.row_m);
  rows_span_m_ = cfg_.channels.empty() ? 0 : hi - lo;
  fault_reported_us_.assign(cfg_.channels.size(), INT64_MIN);
  // A vehicle leaves the pipeline at most a segment (plus the quiet gap and its waveform
  // window) after its first axle: events wait that long for earlier vehicles.
  hold_us_ = static_cast<std::int64_t>((cfg_.weighing.max_segment_s + cfg_.weighing.vehicle_gap_s +
                                        2 * opt_.waveform_margin_s + 5.0) *
                                       1e6);
  if (opt_.board) {
    std::vector<ChannelLive> live;
    for (const auto& c : channels_) live.push_back({c});
    opt_.board->set_channels(std::move(live));
    opt_.board->set_device(device_);
  }
}

void StationWeigher::note_vehicle(const record::Manifest& m, std::uint64_t seq) {
  if (!opt_.board || !m.measurement) return;
  VehicleLine l;
  l.seq = seq;
  l.kind = std::string(record::to_string(m.kind));
  l.time_unix_us = m.time_unix_us;
  l.clock_sync = std::string(time::to_string(m.clock_sync));
  l.lane = m.lane;
  l.axles = static_cast<int>(m.measurement->axle_loads_kg.size());
  l.gross_kg = m.measurement->gross_kg;
  if (m.legal) {
    l.limit_kg = m.legal->limit_kg;
    l.ratio = m.legal->overload_ratio;
    l.verdict = m.legal->verdict;
  } else {
    l.verdict = "not_enforceable";
  }
  opt_.board->add_vehicle(std::move(l));
}

void StationWeigher::check_pipeline_faults(std::int64_t to_mono_us, const time::ClockStatus& ck) {
  // Once per fault start (a flat signal lasts, saturation repeats): only faults that began
  // after the last one reported for that channel.
  for (const weigh::ChannelFault& f : pipeline_->faults_between(faults_checked_us_, to_mono_us)) {
    const auto ch = static_cast<std::size_t>(f.channel);
    if (ch >= fault_reported_us_.size() || f.from_us <= fault_reported_us_[ch]) continue;
    fault_reported_us_[ch] = f.from_us;
    record::Manifest m;
    m.kind = record::Kind::event;
    m.time_unix_us = unix_at(f.from_us);
    m.clock_sync = ck.sync;
    m.clock_offset_ms = ck.offset_ms;
    m.event = record::Event{"sensor_fault",
                            {{"channel", cfg_.channels[ch].name},
                             {"detected_by", "pipeline"},
                             {"what", f.what},
                             {"from_utc", time::format_utc_us(m.time_unix_us)}}};
    sealer_.hold_event(std::move(m));
    ++stats_.events;
    if (opt_.board) {
      for (std::size_t c = 0; c < channels_.size(); ++c)
        if (channels_[c] == cfg_.channels[ch].name) opt_.board->count_fault(c);
    }
    log::warning("weighing", cfg_.channels[ch].name + ": " + f.what);
  }
  faults_checked_us_ = to_mono_us;
}

time::ClockStatus StationWeigher::clock() const {
  return opt_.live_clock ? time::query_clock() : time::ClockStatus{};
}

std::int64_t StationWeigher::unix_at(std::int64_t t_mono_us) const {
  if (history_.empty()) return 0;
  const auto i = std::min(history_.lower_bound(t_mono_us), history_.size() - 1);
  return history_.utc_us(i) + (t_mono_us - history_.mono_us(i));
}

std::string StationWeigher::waveform_csv(const weigh::WeighedVehicle& v) const {
  const auto from = v.t_us - static_cast<std::int64_t>(opt_.waveform_margin_s * 1e6);
  const auto to = window_end_us(v);
  auto i = history_.lower_bound(from);
  recording::Header h;
  h.sample_rate_hz = source_.sample_rate_hz();
  h.station = cfg_.station_id;
  h.channels = channels_;
  const std::int64_t first_unix = i < history_.size() ? history_.utc_us(i) : unix_at(from);
  h.started_unix_us = first_unix - (((first_unix % 1000) + 1000) % 1000);  // format is ms
  std::ostringstream out;
  recording::Writer w(out, h);
  std::vector<std::int32_t> row;
  for (; i < history_.size() && history_.mono_us(i) <= to; ++i) {
    history_.row(i, row);
    w.write(history_.utc_us(i) - *h.started_unix_us, row);
  }
  return out.str();
}

std::int64_t StationWeigher::window_end_us(const weigh::WeighedVehicle& v) const {
  double last_axle_us = static_cast<double>(v.t_us);
  for (const auto& a : v.axles) last_axle_us = std::max(last_axle_us, a.t_us);
  const double speed_mps = std::max(v.speed_kmh / 3.6, 0.5);
  return static_cast<std::int64_t>(last_axle_us + rows_span_m_ / speed_mps * 1e6) +
         static_cast<std::int64_t>(opt_.waveform_margin_s * 1e6);
}

void StationWeigher::emit_vehicles(bool all) {
  for (weigh::WeighedVehicle& v : pipeline_->take()) waiting_.push_back(std::move(v));
  // A vehicle is sealed once the samples after it (its waveform window) have arrived;
  // vehicles leave in pass order.
  while (!waiting_.empty()) {
    weigh::WeighedVehicle& v = waiting_.front();
    if (!all && (history_.empty() || history_.mono_us(history_.size() - 1) < window_end_us(v)))
      break;
    if (auto gaps = gaps_in_pass(v); !gaps.empty()) {
      // Samples missing or untrustworthy inside the pass: never a case (the reason is in
      // the record's invalid_reasons for the reviewer).
      v.valid = false;
      v.reasons.insert(v.reasons.end(), gaps.begin(), gaps.end());
      ++device_.passes_not_enforceable;
      if (opt_.board) opt_.board->set_device(device_);
    }
    auto m = vehicle_manifest(v, unix_at(v.t_us), clock(), cfg_.calibration_id);
    std::map<std::string, std::string> att;
    if (evidence_) m.measurement->camera_present = true;
    if (m.kind == record::Kind::violation) {
      if (evidence_) {  // plate and images: violations only (privacy rule)
        auto ev = evidence_->evidence_for(m);
        m.measurement->plate = std::move(ev.plate);
        m.measurement->camera_problem = std::move(ev.camera_problem);
        att = std::move(ev.attachments);
        commit_camera_events();
      }
      att["waveform.csv"] = waveform_csv(v);
      ++stats_.violations;
    }
    const record::Manifest shown = m;
    note_vehicle(shown, sealer_.commit(std::move(m), std::move(att)));
    ++stats_.vehicles;
    waiting_.pop_front();
  }
}

std::vector<std::string> StationWeigher::gaps_in_pass(const weigh::WeighedVehicle& v) const {
  std::vector<std::string> out;
  if (gaps_.empty()) return out;
  const std::int64_t from =
      unix_at(v.t_us - static_cast<std::int64_t>(opt_.waveform_margin_s * 1e6));
  const std::int64_t to = unix_at(window_end_us(v));
  for (const Gap& g : gaps_)
    if (g.from_unix_us <= to && g.to_unix_us >= from)
      out.push_back("gap in the pass window " + time::format_utc_ms(from) + " to " +
                    time::format_utc_ms(to) + ": " + g.kind + ": " + g.what);
  return out;
}

void StationWeigher::seal_device_events(const hw::SampleBlock& b, const time::ClockStatus& ck) {
  bool changed = false;
  for (const hw::DeviceEvent& e : b.events) {
    changed = true;
    const bool began = e.phase == "began";
    record::Manifest m;
    m.kind = record::Kind::event;
    // A lasting condition at its start, everything else when it was seen to end.
    m.time_unix_us = began ? e.from_unix_us : e.to_unix_us;
    m.clock_sync = ck.sync;
    m.clock_offset_ms = ck.offset_ms;
    boost::json::object d{{"from_utc", time::format_utc_us(e.from_unix_us)}, {"reason", e.reason}};
    if (!e.phase.empty()) d["phase"] = e.phase;
    if (!began) {
      d["to_utc"] = time::format_utc_us(e.to_unix_us);
      d["duration_ms"] = round_to(static_cast<double>(e.to_unix_us - e.from_unix_us) / 1000, 3);
    }
    m.event = record::Event{e.kind, std::move(d)};
    sealer_.hold_event(std::move(m));
    ++stats_.events;
    // The span as a gap for the passes it overlaps; a began one stays open until it ends.
    const std::string what = e.reason.empty() ? e.kind : e.reason;
    if (began) {
      gaps_.push_back({e.from_unix_us, INT64_MAX, e.kind,
                       what + " (since " + time::format_utc_us(e.from_unix_us) + ")"});
    } else {
      auto open = std::find_if(gaps_.begin(), gaps_.end(), [&](const Gap& g) {
        return g.kind == e.kind && g.to_unix_us == INT64_MAX;
      });
      const std::string span = " (" + time::format_utc_us(e.from_unix_us) + " to " +
                               time::format_utc_us(e.to_unix_us) + ")";
      if (open != gaps_.end())
        *open = {e.from_unix_us, e.to_unix_us, e.kind, what + span};
      else
        gaps_.push_back({e.from_unix_us, e.to_unix_us, e.kind, what + span});
    }
    if (e.phase != "ended") {
      if (e.kind == "device_outage")
        ++device_.outages;
      else if (e.kind == "device_frozen")
        ++device_.freezes;
      else if (e.kind == "device_restart")
        ++device_.restarts;
      else if (e.kind == "device_identity_mismatch")
        ++device_.identity_mismatches;
      else if (e.kind == "device_fifo_overflow")
        ++device_.fifo_overflows;
    }
    device_.last_event = e.kind + (e.phase.empty() ? "" : " " + e.phase) + " " +
                         time::format_utc_ms(began ? e.from_unix_us : e.to_unix_us) + ": " +
                         e.reason;
  }
  if (b.device_condition != device_.condition) {
    changed = true;
    if (opt_.board) {
      // A lasting condition is a fault (status and heartbeat) while it lasts.
      if (!device_.condition.empty()) opt_.board->set_fault("device: " + device_.condition, false);
      if (!b.device_condition.empty()) opt_.board->set_fault("device: " + b.device_condition, true);
    }
    device_.condition = b.device_condition;
  }
  if (changed || !b.lost.empty())
    if (opt_.board) opt_.board->set_device(device_);
}

void StationWeigher::commit_camera_events() {
  if (!evidence_) return;
  const auto ck = clock();
  for (auto& e : evidence_->take_events()) {
    e.clock_sync = ck.sync;
    e.clock_offset_ms = ck.offset_ms;
    sealer_.commit(std::move(e));
    ++stats_.events;
  }
}

void StationWeigher::process(const hw::SampleBlock& b) {
  commit_camera_events();
  const auto ck = clock();
  for (const hw::LostSpan& s : b.lost) {
    record::Manifest m;
    m.kind = record::Kind::event;
    m.time_unix_us = s.from_unix_us;
    m.clock_sync = ck.sync;
    m.clock_offset_ms = ck.offset_ms;
    m.event = record::Event{"lost_samples",
                            {{"first_index", s.first_index},
                             {"count_samples", s.count},
                             {"from_utc", time::format_utc_us(s.from_unix_us)},
                             {"to_utc", time::format_utc_us(s.to_unix_us)}}};
    sealer_.hold_event(std::move(m));
    ++stats_.events;
    log::warning("acquisition", "lost " + std::to_string(s.count) + " samples at index " +
                                    std::to_string(s.first_index));
    gaps_.push_back({s.from_unix_us, s.to_unix_us, "lost_samples",
                     std::to_string(s.count) + " samples lost from " +
                         time::format_utc_us(s.from_unix_us) + " to " +
                         time::format_utc_us(s.to_unix_us)});
    ++device_.gaps;
    device_.lost_samples += s.count;
  }
  seal_device_events(b, ck);
  if (b.size() == 0) return;
  if (health_.empty()) health_.assign(channels_.size(), hw::ChannelHealth::ok);
  for (std::size_t c = 0; c < b.health.size() && c < health_.size(); ++c) {
    if (b.health[c] == health_[c]) continue;
    const bool recovered = b.health[c] == hw::ChannelHealth::ok;
    record::Manifest m;
    m.kind = record::Kind::event;
    m.time_unix_us = b.t_unix_us.front();
    m.clock_sync = ck.sync;
    m.clock_offset_ms = ck.offset_ms;
    m.event = record::Event{recovered ? "sensor_recovered" : "sensor_fault",
                            {{"channel", channels_[c]},
                             {"health", std::string(hw::to_string(b.health[c]))},
                             {"was", std::string(hw::to_string(health_[c]))}}};
    sealer_.hold_event(std::move(m));
    ++stats_.events;
    if (opt_.board) {
      if (!recovered) opt_.board->count_fault(c);
      opt_.board->set_fault(channels_[c] + " " + std::string(hw::to_string(b.health[c])),
                            !recovered);
      if (recovered)
        opt_.board->set_fault(channels_[c] + " " + std::string(hw::to_string(health_[c])), false);
    }
    health_[c] = b.health[c];
  }
  std::vector<std::int32_t> row(channels_.size());
  for (std::size_t i = 0; i < b.size(); ++i) {
    for (std::size_t c = 0; c < row.size(); ++c) row[c] = b.counts[c][i];
    pipeline_->feed(b.t_mono_us[i], row);
    history_.push_back(b.t_mono_us[i], b.t_unix_us[i], row.data());
  }
  ++stats_.blocks;
  stats_.samples += b.size();
  check_pipeline_faults(b.t_mono_us.back(), ck);
  if (opt_.board) {
    std::vector<std::string> h;
    for (auto x : health_) h.emplace_back(hw::to_string(x));
    opt_.board->update_channels(row, h, b.counters.errors + b.counters.timeouts,
                                b.counters.lost_samples);
  }
  const auto keep_us = static_cast<std::int64_t>(opt_.history_s * 1e6);
  history_.keep_span(keep_us);
  // Gaps behind the kept history (and every vehicle still to come) are done with.
  const std::int64_t gone_unix_us = history_.utc_us(0) - hold_us_;
  std::erase_if(gaps_, [&](const Gap& g) { return g.to_unix_us < gone_unix_us; });
  emit_vehicles(false);
  // Events older than any vehicle still to come are sealed now, in time order.
  sealer_.release_events(b.t_unix_us.back() - hold_us_);
}

void StationWeigher::run() {
  BlockQueue queue(opt_.queue_blocks);
  std::thread acquisition([&, station = log::current_station()] {
    log::StationScope scope(station);
    try {
      hw::SampleBlock b;
      while (!stop_) {
        if (!source_.read(b, std::chrono::milliseconds(200))) break;  // finite source ended
        if (!b.has_news()) continue;  // device events and losses come in empty blocks too
        if (!queue.push(std::move(b))) break;
        b = hw::SampleBlock{};
      }
    } catch (const std::exception& e) {
      log::error("acquisition", e.what());
    }
    queue.close();
  });
  try {
    hw::SampleBlock b;
    while (!abandon_ && queue.pop(b)) process(b);
    if (abandon_) {
      queue.close();
      acquisition.join();
      return;
    }
    pipeline_->finish();
    emit_vehicles(true);
    sealer_.release_all_events();
  } catch (...) {
    stop_ = true;
    queue.close();
    acquisition.join();
    throw;
  }
  acquisition.join();
}

}  // namespace wim::edge
