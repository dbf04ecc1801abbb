// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/monitor.hpp"

#include <algorithm>
#include <cmath>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/log.hpp"
#include "wim/common/time.hpp"

namespace wim::collector {

namespace bj = boost::json;
constexpr std::int64_t kHour_us = 3'600'000'000;

bj::object alert_json(const Alert& a) {
  bj::object o{{"id", a.id},
               {"station_id", a.station_id},
               {"kind", a.kind},
               {"detail", a.detail},
               {"start_utc", time::format_utc_ms(a.start_unix_us)},
               {"active", a.end_unix_us == 0}};
  o["end_utc"] = a.end_unix_us ? bj::value(time::format_utc_ms(a.end_unix_us)) : bj::value();
  return o;
}

namespace {

constexpr const char* kMonitorSchema = R"sql(
CREATE TABLE IF NOT EXISTS alerts(id INTEGER PRIMARY KEY, station TEXT NOT NULL,
  kind TEXT NOT NULL, detail TEXT NOT NULL, start_unix_us INTEGER NOT NULL,
  end_unix_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS health(station TEXT PRIMARY KEY,
  last_heartbeat_unix_us INTEGER NOT NULL, last_record_unix_us INTEGER NOT NULL,
  outbox_depth INTEGER NOT NULL, oldest_unsent_age_s INTEGER NOT NULL,
  clock_sync TEXT NOT NULL, clock_offset_ms REAL NOT NULL, faults TEXT NOT NULL);
)sql";

}  // namespace

Monitor::Monitor(const MetadataStore& store, MonitorOptions options,
                 const std::filesystem::path& state_db)
    : store_(store), options_(options) {
  if (state_db.empty()) return;
  db_ = std::make_unique<sqlite::Db>(state_db);
  db_->exec("PRAGMA journal_mode=WAL");
  // Monitoring state, not evidence: a power cut may lose the last second of it.
  db_->exec("PRAGMA synchronous=NORMAL");
  db_->exec(kMonitorSchema);
  load();
}

Monitor::~Monitor() {
  std::lock_guard lock(mutex_);
  if (!db_) return;
  const std::set<std::string> dirty = dirty_;  // save_health() erases from dirty_
  for (const auto& s : dirty) save_health(s, health_[s]);
}

void Monitor::load() {
  sqlite::Stmt a(*db_,
                 "SELECT id, station, kind, detail, start_unix_us, end_unix_us FROM alerts "
                 "ORDER BY id");
  while (a.step()) {
    alerts_.push_back(
        {a.col_int(0), a.col_text(1), a.col_text(2), a.col_text(3), a.col_int(4), a.col_int(5)});
    next_alert_id_ = std::max(next_alert_id_, a.col_int(0) + 1);
  }
  sqlite::Stmt h(*db_,
                 "SELECT station, last_heartbeat_unix_us, last_record_unix_us, outbox_depth, "
                 "oldest_unsent_age_s, clock_sync, clock_offset_ms, faults FROM health");
  while (h.step()) {
    auto& x = health_[h.col_text(0)];
    x.last_heartbeat_unix_us = h.col_int(1);
    x.last_record_unix_us = h.col_int(2);
    x.outbox_depth = h.col_int(3);
    x.oldest_unsent_age_s = h.col_int(4);
    x.clock_sync = h.col_text(5);
    x.clock_offset_ms = h.col_double(6);
    const std::string f = h.col_text(7);
    for (std::size_t b = 0; b < f.size();) {
      auto e = f.find('\n', b);
      if (e == std::string::npos) e = f.size();
      x.faults.push_back(f.substr(b, e - b));
      b = e + 1;
    }
  }
  std::size_t active = 0;
  for (const auto& x : alerts_) active += x.end_unix_us == 0;
  log::notice("monitor", "reloaded " + std::to_string(alerts_.size()) + " alerts (" +
                             std::to_string(active) + " active) and the health of " +
                             std::to_string(health_.size()) + " stations");
}

// Persistence failures are logged, never thrown: monitoring must not refuse records.
void Monitor::save_alert(const Alert& a) {
  if (!db_) return;
  try {
    sqlite::Stmt st(*db_,
                    "INSERT OR REPLACE INTO alerts(id, station, kind, detail, start_unix_us, "
                    "end_unix_us) VALUES(?1,?2,?3,?4,?5,?6)");
    st.bind(1, a.id).bind(2, a.station_id).bind(3, a.kind).bind(4, a.detail);
    st.bind(5, a.start_unix_us).bind(6, a.end_unix_us).step();
  } catch (const std::exception& e) {
    log::error("monitor", std::string("alert not saved: ") + e.what());
  }
}

void Monitor::save_health(const std::string& station, const StationHealth& h) {
  if (!db_) return;
  std::string faults;
  for (const auto& f : h.faults) faults += (faults.empty() ? "" : "\n") + f;
  try {
    sqlite::Stmt st(*db_,
                    "INSERT OR REPLACE INTO health(station, last_heartbeat_unix_us, "
                    "last_record_unix_us, outbox_depth, oldest_unsent_age_s, clock_sync, "
                    "clock_offset_ms, faults) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)");
    st.bind(1, station).bind(2, h.last_heartbeat_unix_us).bind(3, h.last_record_unix_us);
    st.bind(4, h.outbox_depth).bind(5, h.oldest_unsent_age_s).bind(6, h.clock_sync);
    st.bind_double(7, h.clock_offset_ms).bind(8, faults).step();
    dirty_.erase(station);
  } catch (const std::exception& e) {
    log::error("monitor", "health of " + station + " not saved: " + e.what());
  }
}

void Monitor::raise(const std::string& station, const std::string& kind, const std::string& detail,
                    std::int64_t now_us) {
  for (auto& a : alerts_)
    if (a.station_id == station && a.kind == kind && a.end_unix_us == 0) {
      if (a.detail != detail) {
        a.detail = detail;  // still active: keep its start
        save_alert(a);
      }
      return;
    }
  alerts_.push_back({next_alert_id_++, station, kind, detail, now_us, 0});
  save_alert(alerts_.back());
  log::warning("alert", "raised " + kind + " at " + station + ": " + detail);
}

void Monitor::clear(const std::string& station, const std::string& kind, std::int64_t now_us) {
  for (auto& a : alerts_)
    if (a.station_id == station && a.kind == kind && a.end_unix_us == 0) {
      a.end_unix_us = now_us;
      save_alert(a);
      log::notice("alert", "cleared " + kind + " at " + station);
    }
}

void Monitor::set(bool active, const std::string& station, const std::string& kind,
                  const std::string& detail, std::int64_t now_us) {
  if (active)
    raise(station, kind, detail, now_us);
  else
    clear(station, kind, now_us);
}

void Monitor::heartbeat(const std::string& station, const bj::object& hb, std::int64_t now_us) {
  const std::string ctx = "heartbeat";
  // Parse everything first: a bad heartbeat changes nothing.
  const auto& clock = json::as_object(json::require(hb, "clock", ctx), "heartbeat.clock");
  const std::string sync = json::get_string(clock, "sync", "heartbeat.clock");
  time::clock_sync_from_string(sync);
  const double offset_ms = json::get_number(clock, "offset_ms", "heartbeat.clock", 0);
  std::int64_t depth = 0, age_s = 0;
  if (hb.contains("outbox")) {
    const auto& ob = json::as_object(hb.at("outbox"), "heartbeat.outbox");
    depth = json::get_int(ob, "depth", "heartbeat.outbox", 0);
    age_s = json::get_int(ob, "oldest_unsent_age_s", "heartbeat.outbox", 0);
  }
  std::vector<std::string> faults;
  if (hb.contains("faults")) {
    const auto& fa = json::get_array(hb, "faults", ctx);
    for (std::size_t i = 0; i < fa.size(); ++i)
      faults.push_back(fa[i].is_string() ? std::string(fa[i].get_string())
                                         : json::canonical(fa[i]));
  }
  if (hb.contains("channels")) {
    const auto& ch = json::get_array(hb, "channels", ctx);
    for (std::size_t i = 0; i < ch.size(); ++i) {
      const std::string c = "heartbeat.channels[" + std::to_string(i) + "]";
      const auto& o = json::as_object(ch[i], c);
      auto state = json::get_string(o, "state", c, "ok");
      if (state != "ok") faults.push_back(json::get_string(o, "name", c, "?") + ": " + state);
    }
  }

  std::lock_guard lock(mutex_);
  auto& h = health_[station];
  const std::int64_t previous_depth = h.outbox_depth;
  h.last_heartbeat_unix_us = now_us;
  h.clock_sync = sync;
  h.clock_offset_ms = offset_ms;
  h.outbox_depth = depth;
  h.oldest_unsent_age_s = age_s;
  h.faults = faults;
  save_health(station, h);
  clear(station, "silent", now_us);
  const bool backlog = depth >= options_.backlog_depth_alert ||
                       age_s >= options_.backlog_age_alert_s ||
                       (depth > previous_depth && depth >= options_.backlog_depth_alert / 2);
  set(backlog, station, "backlog",
      "outbox depth " + std::to_string(depth) + ", oldest unsent " + std::to_string(age_s) + " s",
      now_us);
  set(sync != "synced" || std::fabs(offset_ms) > options_.clock_offset_alert_ms, station, "clock",
      "clock " + sync + ", offset " + std::to_string(offset_ms) + " ms", now_us);
  std::string fault_text;
  for (const auto& f : faults) fault_text += (fault_text.empty() ? "" : "; ") + f;
  set(!faults.empty(), station, "sensor_fault", fault_text, now_us);
}

void Monitor::tick(const std::vector<std::string>& stations, std::int64_t now_us) {
  std::lock_guard lock(mutex_);
  for (const auto& s : stations) {
    auto& h = health_[s];
    const auto last = std::max(h.last_heartbeat_unix_us, h.last_record_unix_us);
    const bool silent = now_us - last > options_.silent_after_s * 1'000'000;
    set(silent, s, "silent",
        last ? "nothing heard since " + time::format_utc_ms(last) : "never heard from", now_us);
    while (!h.record_times_us.empty() && h.record_times_us.front() < now_us - kHour_us)
      h.record_times_us.pop_front();
  }
  if (db_ && !dirty_.empty()) {
    try {
      const std::set<std::string> dirty = dirty_;
      sqlite::Transaction tx(*db_);
      for (const auto& s : dirty) save_health(s, health_[s]);
      tx.commit();
    } catch (const std::exception& e) {
      log::error("monitor", std::string("health not saved: ") + e.what());
    }
  }
}

void Monitor::on_stored(const StoredRecord& r, const record::Manifest&) {
  std::lock_guard lock(mutex_);
  auto& h = health_[r.station_id];
  h.last_record_unix_us = r.received_unix_us;
  if (db_) dirty_.insert(r.station_id);  // saved by the next tick (not once per record)
  h.record_times_us.push_back(r.received_unix_us);
  while (!h.record_times_us.empty() && h.record_times_us.front() < r.received_unix_us - kHour_us)
    h.record_times_us.pop_front();
  clear(r.station_id, "silent", r.received_unix_us);
}

void Monitor::on_conflict(const std::string& station, std::int64_t, const std::string& d) {
  std::lock_guard lock(mutex_);
  raise(station, "conflict", d, time::now_unix_us());
}

void Monitor::on_chain_break(const std::string& station, std::int64_t, const std::string& d) {
  std::lock_guard lock(mutex_);
  raise(station, "chain_break", d, time::now_unix_us());
}

std::vector<Alert> Monitor::alerts(bool active_only) const {
  std::lock_guard lock(mutex_);
  std::vector<Alert> out;
  for (const auto& a : alerts_)
    if (!active_only || a.end_unix_us == 0) out.push_back(a);
  return out;
}

StationHealth Monitor::health(const std::string& station) const {
  std::lock_guard lock(mutex_);
  auto it = health_.find(station);
  return it == health_.end() ? StationHealth{} : it->second;
}

bj::object Monitor::station_json(const std::string& station, std::int64_t now_us) const {
  const auto h = health(station);
  const auto chain = store_.chain(station);
  auto fmt = [](std::int64_t us) { return us ? bj::value(time::format_utc_ms(us)) : bj::value(); };
  std::int64_t per_hour = 0;
  for (auto t : h.record_times_us)
    if (t >= now_us - kHour_us) ++per_hour;
  bj::array faults;
  for (const auto& f : h.faults) faults.push_back(bj::value(f));
  bj::array active;
  for (const auto& a : alerts(true))
    if (a.station_id == station) active.push_back(bj::value(a.kind));
  auto c = chain_json(station, chain);
  c["records"] = chain.record_count;
  c["conflicts"] = chain.conflict_count;
  return bj::object{{"station_id", station},
                    {"last_heartbeat_utc", fmt(h.last_heartbeat_unix_us)},
                    {"last_record_utc", fmt(h.last_record_unix_us)},
                    {"records_per_hour", per_hour},
                    {"outbox_depth", h.outbox_depth},
                    {"oldest_unsent_age_s", h.oldest_unsent_age_s},
                    {"clock", {{"sync", h.clock_sync}, {"offset_ms", h.clock_offset_ms}}},
                    {"sensor_faults", std::move(faults)},
                    {"chain", std::move(c)},
                    {"alerts", std::move(active)}};
}

}  // namespace wim::collector
