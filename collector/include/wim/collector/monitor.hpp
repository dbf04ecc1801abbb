// SPDX-License-Identifier: Apache-2.0
// Uplink monitoring: per-station health from heartbeats and ingest, and alerts with a
// start and an end (logged when raised and when cleared). Thread-safe (one mutex).
// Alerts (start, end, kind, station, detail) and each station's last health are kept in
// memory and, when a state file is given, in SQLite (monitor.db), reloaded at start: a
// restart neither forgets an open alert's start nor re-opens an ended one. The chain state
// (gaps, conflicts) comes from the MetadataStore.
#pragma once
#include <boost/json/object.hpp>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "wim/collector/ingest.hpp"
#include "wim/collector/store.hpp"
#include "wim/common/sqlite.hpp"

namespace wim::collector {

struct MonitorOptions {
  std::int64_t silent_after_s = 300;        ///< [s] no heartbeat nor record: "silent"
  std::int64_t backlog_depth_alert = 1000;  ///< [records] outbox depth that alerts
  std::int64_t backlog_age_alert_s = 3600;  ///< [s] oldest unsent record age that alerts
  double clock_offset_alert_ms = 500;       ///< [ms] |offset| that alerts
};

struct Alert {
  std::int64_t id = 0;
  std::string station_id;
  std::string kind;  ///< silent | backlog | clock | sensor_fault | chain_break | conflict
  std::string detail;
  std::int64_t start_unix_us = 0;  ///< [us] UTC
  std::int64_t end_unix_us = 0;    ///< [us] UTC; 0 while active
};

struct StationHealth {
  std::int64_t last_heartbeat_unix_us = 0;
  std::int64_t last_record_unix_us = 0;      ///< [us] when the collector stored the last record
  std::deque<std::int64_t> record_times_us;  ///< stored in the last hour (records/hour)
  std::int64_t outbox_depth = 0;
  std::int64_t oldest_unsent_age_s = 0;
  std::string clock_sync = "unknown";
  double clock_offset_ms = 0;
  std::vector<std::string> faults;  ///< reported faults and faulty channels
};

class Monitor : public IngestObserver {
 public:
  /// `state_db` empty: in memory only (tests); else opened (created) and reloaded.
  Monitor(const MetadataStore& store, MonitorOptions options,
          const std::filesystem::path& state_db = {});
  ~Monitor() override;

  /// A station's heartbeat (docs/uplink.md). Throws InputError naming a bad field.
  void heartbeat(const std::string& station_id, const boost::json::object& hb,
                 std::int64_t now_unix_us);
  /// Re-evaluates time-based alerts (silence) for every known station.
  void tick(const std::vector<std::string>& stations, std::int64_t now_unix_us);

  void on_stored(const StoredRecord& r, const record::Manifest& m) override;
  void on_conflict(const std::string& station, std::int64_t seq, const std::string& d) override;
  void on_chain_break(const std::string& station, std::int64_t seq, const std::string& d) override;

  std::vector<Alert> alerts(bool active_only) const;
  boost::json::object station_json(const std::string& station_id, std::int64_t now_us) const;
  StationHealth health(const std::string& station_id) const;

 private:
  void raise(const std::string& station, const std::string& kind, const std::string& detail,
             std::int64_t now_us);
  void clear(const std::string& station, const std::string& kind, std::int64_t now_us);
  void set(bool active, const std::string& station, const std::string& kind,
           const std::string& detail, std::int64_t now_us);

  void load();
  void save_alert(const Alert& a);
  void save_health(const std::string& station, const StationHealth& h);

  const MetadataStore& store_;
  MonitorOptions options_;
  std::unique_ptr<sqlite::Db> db_;  // null: not persisted
  std::set<std::string> dirty_;     // stations with a newer last record than saved
  mutable std::mutex mutex_;
  std::map<std::string, StationHealth> health_;
  std::vector<Alert> alerts_;
  std::int64_t next_alert_id_ = 1;
};

boost::json::object alert_json(const Alert& a);

}  // namespace wim::collector
