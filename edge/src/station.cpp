// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/station.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <sstream>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/log.hpp"
#include "wim/edge/heartbeat.hpp"
#include "wim/edge/key_rotation.hpp"
#include "wim/edge/weigh/software_id.hpp"

namespace wim::edge {

std::optional<std::int64_t> ClockWatch::check(std::int64_t wall_unix_us, std::int64_t mono_us) {
  std::optional<std::int64_t> step;
  if (primed_) {
    const std::int64_t d = (wall_unix_us - last_wall_us_) - (mono_us - last_mono_us_);
    if (d > threshold_us_ || d < -threshold_us_) step = d;
  }
  primed_ = true;
  last_wall_us_ = wall_unix_us;
  last_mono_us_ = mono_us;
  return step;
}

namespace {

std::string file_sha256(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw InputError(p.string() + ": cannot read");
  std::ostringstream ss;
  ss << in.rdbuf();
  return crypto::sha256_hex(ss.str());
}

/// calibration.id of station.json, also without an acquisition section ("" when none).
std::string calibration_id_of(const std::filesystem::path& p) {
  const auto root = json::load_file(p);
  const auto* o = root.if_object();
  if (!o) return "";
  const auto* cal = o->if_contains("calibration");
  if (!cal || !cal->is_object()) return "";
  const auto* id = cal->as_object().if_contains("id");
  return id && id->is_string() ? std::string(id->as_string()) : "";
}

}  // namespace

Station::Station(const std::filesystem::path& config, bool new_chain, StationHooks hooks)
    : config_path_(config),
      hooks_(std::move(hooks)),
      cfg_(load_daemon_config(config)),
      acquisition_(load_acquisition(config, hooks_.on_truth)),
      key_(crypto::SigningKey::load_pem_file(cfg_.signing_key)) {
  program_sha_ = software_sha256();
  config_sha_ = file_sha256(config);
  calibration_id_ = acquisition_ ? acquisition_->station.calibration_id : calibration_id_of(config);
  status_socket_ = cfg_.status_socket;
  OutboxOptions oo;
  oo.path = cfg_.outbox_path;
  oo.station_id = cfg_.station_id;
  oo.quota_bytes = cfg_.outbox_quota_bytes;
  oo.create_new_chain = new_chain;
  oo.max_page_count = hooks_.outbox_max_page_count;
  lock_ = std::make_unique<OutboxLock>(cfg_.outbox_path);  // one process per outbox
  outbox_ = std::make_unique<Outbox>(oo);
  // The key the chain announced last (finishes a rotation cut by a power loss).
  key_ = signing_key_in_force(cfg_.signing_key, *outbox_);
  sealer_ = std::make_unique<OutboxSealer>(*outbox_, cfg_.station_id, key_, program_sha_);
  if (hooks_.now_unix_us) sealer_->set_clock(hooks_.now_unix_us);
  // Built before any thread starts: a channel missing from the source throws here.
  if (acquisition_) {
    acquisition_->options.board = &board_;
    weigher_ = std::make_unique<StationWeigher>(acquisition_->station, *acquisition_->source,
                                                *sealer_, acquisition_->options);
    if (hooks_.evidence) weigher_->set_evidence_source(hooks_.evidence);
  }
  UplinkConfig uc = cfg_.uplink;
  if (hooks_.adjust_uplink) hooks_.adjust_uplink(uc);
  uplink_ = std::make_unique<UplinkClient>(uc, *outbox_, [this] {
    Health h;
    h.station_id = cfg_.station_id;
    h.software_sha256 = program_sha_;
    h.now_unix_us = now_us();
    h.uptime_s = (time::monotonic_us() - started_mono_us_) / 1000000;
    h.clock = time::query_clock();
    h.outbox = outbox_->stats();
    h.disk = disk_usage(cfg_.outbox_path);
    for (const auto& c : board_.channels())
      h.channels.push_back({c.name, c.health, c.errors, c.lost_samples});
    h.faults = board_.faults();
    if (h.outbox.conflicts)
      h.faults.push_back(std::to_string(h.outbox.conflicts) +
                         " records held in the outbox as conflict or rejected");
    return heartbeat_json(h);
  });
}

Station::~Station() {
  if (running_) {
    try {
      stop("destroyed");
    } catch (const std::exception& e) {
      log::error("station", e.what());
    }
  }
}

std::int64_t Station::now_us() const {
  return hooks_.now_unix_us ? hooks_.now_unix_us() : time::now_unix_us();
}
std::int64_t Station::mono_us() const {
  return hooks_.monotonic_us ? hooks_.monotonic_us() : time::monotonic_us();
}

record::Manifest Station::clock_step_event(std::int64_t now, std::int64_t step_us,
                                           const std::string& detected) const {
  record::Manifest m;
  m.kind = record::Kind::event;
  m.time_unix_us = now;
  const auto ck = time::query_clock();
  m.clock_sync = ck.sync;
  m.clock_offset_ms = ck.offset_ms;
  m.event = record::Event{"clock_step",
                          {{"step_ms", static_cast<double>(step_us) / 1000.0},
                           {"direction", step_us < 0 ? "backwards" : "forwards"},
                           {"now_utc", time::format_utc_us(now)},
                           {"before_utc", time::format_utc_us(now - step_us)},
                           {"detected", detected}}};
  return m;
}

void Station::start() {
  log::StationScope scope(cfg_.station_id);  // the status server's thread inherits it
  started_mono_us_ = time::monotonic_us();
  // Primed first: a step from here on is seen by the housekeeping thread's first check.
  watch_.check(now_us(), mono_us());
  const ChainHead previous = outbox_->head();  // as the last run left it
  // Events the last run detected but had still held back when it was killed: they belong
  // to that run (its clock), so they are sealed first, before the clock check below. Sealed
  // after it, their old times would lift the chain time again above a clock set back
  // while down, and the next start would report the same step a second time.
  const std::size_t carried = sealer_->release_all_events();
  if (carried > 0)
    log::notice("station", std::to_string(carried) + " events held by the last run sealed");
  const ChainHead head = outbox_->head();
  const std::int64_t now = now_us();
  // A clock set back while the daemon was down (or just now): the records would go back in
  // time without a word. Recorded before station_start, which then carries the new time.
  constexpr std::int64_t kStepThresholdUs = 1'000'000;
  if (head.time_unix_us > 0 && now < head.time_unix_us - kStepThresholdUs) {
    sealer_->commit(
        clock_step_event(now, now - head.time_unix_us, "at start: behind the chain head"));
    log::warning("station", "wall clock at start is " +
                                std::to_string((head.time_unix_us - now) / 1000) +
                                " ms behind the chain head's time");
  }
  // What the last run left: "stopped" after a clean stop, "running" when it was killed.
  const std::string run_state = outbox_->station_fact("run_state");
  const std::string previous_stop = run_state == "stopped"   ? "clean"
                                    : run_state == "running" ? "unclean"
                                    : previous.seq == 0      ? "none"
                                                             : "unknown";
  const std::string legal(legal::software_sha256());
  sealer_->commit_event("station_start", {{"config", config_path_.string()},
                                          {"config_sha256", config_sha_},
                                          {"program_sha256", program_sha_},
                                          {"legal_software_sha256", legal},
                                          {"calibration_id", calibration_id_},
                                          {"previous_stop", previous_stop},
                                          {"previous_head_seq", previous.seq}});
  outbox_->set_station_fact("run_state", "running");
  // What this outbox recorded last time: a change since is an event of its own.
  const std::string was_config = outbox_->station_fact("config_sha256");
  if (!was_config.empty() && was_config != config_sha_)
    sealer_->commit_event("config_change", {{"config", config_path_.string()},
                                            {"was_sha256", was_config},
                                            {"now_sha256", config_sha_}});
  outbox_->set_station_fact("config_sha256", config_sha_);
  const std::string was_cal = outbox_->station_fact("calibration_id");
  const bool cal_known = !outbox_->station_fact("calibration_known").empty();
  if (cal_known && was_cal != calibration_id_)
    sealer_->commit_event("calibration_change", {{"was_calibration_id", was_cal},
                                                 {"now_calibration_id", calibration_id_}});
  outbox_->set_station_fact("calibration_id", calibration_id_);
  outbox_->set_station_fact("calibration_known", "1");
  log::notice("station", "started " + cfg_.station_id + ", chain at seq " +
                             std::to_string(sealer_->last_seq()) + ", key fingerprint " +
                             key_.public_key().fingerprint() + ", status socket " +
                             status_socket_.string());

  status_ = std::make_unique<StatusServer>(StatusServerOptions{status_socket_},
                                           [this] { return status_json(); });
  running_ = true;
  uplink_thread_ = std::thread([this] {
    log::StationScope scope(cfg_.station_id);
    uplink_->run();
  });
  if (weigher_) {
    weigh_thread_ = std::thread([this] {
      log::StationScope scope(cfg_.station_id);
      bool failed = false;
      try {
        weigher_->run();
        log::notice("station", "acquisition ended; " + std::to_string(weigher_->stats().vehicles) +
                                   " vehicles");
      } catch (const std::exception& e) {
        failed = true;
        log::error("station", std::string("weighing stopped: ") + e.what());
        board_.set_fault(std::string("weighing stopped: ") + e.what(), true);
        std::lock_guard lock(mu_);
        weighing_error_ = e.what();
      }
      {
        std::lock_guard lock(mu_);
        weighing_ended_ = true;
      }
      cv_.notify_all();
      if (hooks_.on_weighing_end) hooks_.on_weighing_end(failed);
    });
  } else {
    weighing_ended_ = true;
    log::warning("station",
                 "no \"acquisition\" section in " + config_path_.string() + ": not weighing");
  }
  housekeeping_thread_ = std::thread([this] {
    log::StationScope scope(cfg_.station_id);
    housekeeping();
  });
}

std::string Station::weighing_error() const {
  std::lock_guard lock(mu_);
  return weighing_error_;
}

bool Station::wait_weighing(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return weighing_ended_.load(); });
}

void Station::housekeeping() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, hooks_.housekeeping_period, [&] { return stop_housekeeping_; }))
        return;
    }
    try {
      const std::int64_t now = now_us();
      const std::int64_t mono = mono_us();
      log::debug("station",
                 "housekeeping: wall " + std::to_string(now) + " mono " + std::to_string(mono));
      if (auto step = watch_.check(now, mono)) {
        sealer_->hold_event(clock_step_event(now, *step, "running"));
        log::warning("station", "wall clock stepped " + std::to_string(*step / 1000) + " ms");
      }
      const auto st = outbox_->stats();
      if (st.quota_bytes > 0) {
        const double pct =
            100.0 * static_cast<double>(st.stored_bytes) / static_cast<double>(st.quota_bytes);
        const bool on = pct >= cfg_.pressure_percent;
        const bool off = pct < cfg_.pressure_percent - 10;
        if ((on && !disk_pressure_) || (off && disk_pressure_)) {
          disk_pressure_ = on;
          const auto disk = disk_usage(cfg_.outbox_path);
          record::Manifest m;
          m.kind = record::Kind::event;
          m.event = record::Event{"disk_pressure",
                                  {{"state", on ? "above" : "cleared"},
                                   {"stored_bytes", st.stored_bytes},
                                   {"quota_bytes", st.quota_bytes},
                                   {"percent_of_quota", std::round(pct * 10) / 10},
                                   {"threshold_percent", cfg_.pressure_percent},
                                   {"disk_free_bytes", disk.free_bytes}}};
          sealer_->hold_event(std::move(m));
          board_.set_fault("disk pressure (outbox above " +
                               std::to_string(static_cast<int>(cfg_.pressure_percent)) +
                               " % of quota)",
                           on);
          log::warning("outbox", std::string("disk pressure ") + (on ? "above" : "cleared") + ": " +
                                     std::to_string(st.stored_bytes) + " of " +
                                     std::to_string(st.quota_bytes) + " B");
        }
      }
      // Without a weigher that orders them between vehicles, held events go out now.
      if (weighing_ended_) sealer_->release_events(now);
    } catch (const std::exception& e) {
      log::error("station", std::string("housekeeping: ") + e.what());
    }
  }
}

void Station::stop_weighing_and_housekeeping(bool abandon) {
  if (weigher_) abandon ? weigher_->abandon() : weigher_->stop();
  if (weigh_thread_.joinable()) weigh_thread_.join();
  {
    std::lock_guard lock(mu_);
    stop_housekeeping_ = true;
  }
  cv_.notify_all();
  if (housekeeping_thread_.joinable()) housekeeping_thread_.join();
}

void Station::stop_uplink_and_status() {
  uplink_->stop();
  if (uplink_thread_.joinable()) uplink_thread_.join();
  if (status_) status_->stop();
}

void Station::stop(const std::string& reason) {
  log::StationScope scope(cfg_.station_id);
  if (!running_) return;
  running_ = false;
  stop_weighing_and_housekeeping(false);
  try {
    sealer_->release_all_events();
    sealer_->commit_event("station_stop",
                          {{"reason", reason},
                           {"program_sha256", program_sha_},
                           {"legal_software_sha256", std::string(legal::software_sha256())}});
    outbox_->set_station_fact("run_state", "stopped");
  } catch (const std::exception& e) {
    log::error("station", std::string("stop event not recorded: ") + e.what());
  }
  stop_uplink_and_status();
  log::notice("station",
              "stopped (" + reason + "); outbox depth " + std::to_string(outbox_->stats().depth));
}

void Station::crash() {
  log::StationScope scope(cfg_.station_id);
  if (!running_) return;
  running_ = false;
  stop_weighing_and_housekeeping(true);
  stop_uplink_and_status();
  log::warning("station", "crashed (test): " + std::to_string(sealer_->held_events()) +
                              " held events stay in the outbox, chain at seq " +
                              std::to_string(outbox_->head().seq));
}

std::string Station::status_json() const {
  namespace bj = boost::json;
  const std::int64_t now = now_us();
  bj::object d;
  d["station_id"] = cfg_.station_id;
  d["now_utc"] = time::format_utc_ms(now);
  d["uptime_s"] = (time::monotonic_us() - started_mono_us_) / 1000000;
  d["software"] = {{"legal_sha256", std::string(legal::software_sha256())},
                   {"program_sha256", program_sha_}};
  d["calibration_id"] = calibration_id_;
  d["config_sha256"] = config_sha_;
  const auto ck = time::query_clock();
  d["clock"] = {{"sync", std::string(time::to_string(ck.sync))},
                {"offset_ms", ck.offset_ms},
                {"max_error_ms", ck.max_error_ms}};
  bj::array ch;
  for (const auto& c : board_.channels()) ch.push_back(to_json(c));
  d["channels"] = std::move(ch);
  if (const auto dev = board_.device()) d["device"] = to_json(*dev);
  bj::array vs;
  for (const auto& v : board_.vehicles()) vs.push_back(to_json(v));
  d["vehicles"] = std::move(vs);
  const auto st = outbox_->stats();
  const auto up = uplink_->status();
  d["outbox"] = {{"depth", st.depth},
                 {"violations", st.violations},
                 {"conflicts", st.conflicts},
                 {"stored_bytes", st.stored_bytes},
                 {"quota_bytes", st.quota_bytes},
                 {"oldest_unsent_age_s",
                  st.oldest_unsent_unix_us ? (now - st.oldest_unsent_unix_us) / 1000000 : 0},
                 {"head_seq", outbox_->head().seq},
                 {"held_events", sealer_->held_events()},
                 {"thinned_total", st.thinned_total}};
  d["uplink"] = {{"state", up.state},
                 {"connected", up.state == "connected" || up.state == "idle"},
                 {"acked_seq", up.acked_seq},
                 {"last_success_utc", up.last_success_unix_us
                                          ? bj::value(time::format_utc_ms(up.last_success_unix_us))
                                          : bj::value(nullptr)},
                 {"last_error", up.last_error},
                 {"consecutive_failures", up.consecutive_failures},
                 {"records_sent", up.records_sent}};
  bj::array faults;
  for (const auto& f : board_.faults()) faults.push_back(bj::value(f));
  if (ck.sync == time::ClockSync::unsynced) faults.push_back(bj::string("clock not synchronised"));
  if (st.conflicts)
    faults.push_back(bj::string(std::to_string(st.conflicts) + " records held as conflict"));
  d["faults"] = std::move(faults);
  return bj::serialize(d);
}

}  // namespace wim::edge
