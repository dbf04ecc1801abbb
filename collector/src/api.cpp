// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/api.hpp"

#include <algorithm>
#include <boost/json/value_from.hpp>
#include <optional>
#include <sstream>

#include "wim/collector/transition_webhook.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/log.hpp"
#include "wim/common/time.hpp"

namespace wim::collector {

namespace bj = boost::json;

namespace {

std::string path_of(const Request& req) {
  std::string t(req.target());
  return t.substr(0, t.find('?'));
}

std::string query_of(const Request& req) {
  std::string t(req.target());
  auto q = t.find('?');
  return q == std::string::npos ? "" : t.substr(q + 1);
}

/// "/v1/stations/G001/ack" -> "G001" when it matches prefix + id + suffix.
bool match_id(const std::string& path, std::string_view prefix, std::string_view suffix,
              std::string& id) {
  if (path.size() <= prefix.size() + suffix.size() || path.rfind(prefix, 0) != 0) return false;
  if (path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  id = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  return id.find('/') == std::string::npos;
}

Response ok_json(const Request& req, const bj::value& v) {
  return json_response(req, http::status::ok, bj::serialize(v));
}

}  // namespace

Api::Api(Ingest& ingest, const MetadataStore& store, Monitor& monitor,
         std::shared_ptr<RegistryHolder> registry)
    : ingest_(ingest), store_(store), monitor_(monitor), registry_(std::move(registry)) {}

namespace {

/// The answer to POST /v1/records: the reply, or why nothing was acknowledged.
Response records_response(const Request& head, std::exception_ptr error, const IngestReply& reply) {
  if (!error) return ok_json(head, reply.to_json());
  try {
    std::rethrow_exception(error);
  } catch (const InputError& e) {
    return json_error(head, http::status::bad_request, "broken_tar", e.what());
  } catch (const SystemError& e) {
    log::error("api", std::string("storage failed, nothing acknowledged: ") + e.what());
    return json_error(head, http::status::service_unavailable, "storage", e.what());
  } catch (const std::exception& e) {
    log::error("api", std::string("ingest failed, nothing acknowledged: ") + e.what());
    return json_error(head, http::status::internal_server_error, "internal", e.what());
  }
}

/// Checks of POST /v1/records before the body goes to the ingest.
std::optional<Response> refuse_records(const Request& req) {
  if (req.method() != http::verb::post)
    return json_error(req, http::status::method_not_allowed, "method", "use POST");
  if (req[http::field::content_type] != "application/x-tar")
    return json_error(req, http::status::unsupported_media_type, "content_type",
                      "expected application/x-tar");
  return std::nullopt;
}

}  // namespace

void Api::station_async(Request&& req, const Peer& peer, Respond respond) {
  if (peer.station_id.empty() || path_of(req) != "/v1/records") return respond(station(req, peer));
  if (auto refused = refuse_records(req)) return respond(std::move(*refused));
  Request head{req.method(), req.target(), req.version()};
  head.keep_alive(req.keep_alive());
  ingest_.submit(peer.station_id, std::move(req.body()),
                 [head = std::move(head), respond = std::move(respond)](std::exception_ptr error,
                                                                        IngestReply&& reply) {
                   respond(records_response(head, error, reply));
                 });
}

Response Api::station(const Request& req, const Peer& peer) {
  const auto path = path_of(req);
  if (peer.station_id.empty())
    return json_error(req, http::status::forbidden, "no_station", "no station certificate");
  std::string id;
  if (path == "/v1/records") {
    if (auto refused = refuse_records(req)) return std::move(*refused);
    try {
      return records_response(req, nullptr, ingest_.ingest_tar(peer.station_id, req.body()));
    } catch (...) {
      return records_response(req, std::current_exception(), {});
    }
  }
  if (match_id(path, "/v1/stations/", "/ack", id)) {
    if (id != peer.station_id)
      return json_error(req, http::status::forbidden, "station_mismatch",
                        "certificate of " + peer.station_id + " cannot read " + id);
    return ok_json(req, chain_json(id, store_.chain(id)));
  }
  if (path == "/v1/heartbeat") {
    if (req.method() != http::verb::post)
      return json_error(req, http::status::method_not_allowed, "method", "use POST");
    try {
      auto v = json::parse(req.body(), "heartbeat");
      const auto& o = json::as_object(v, "heartbeat");
      auto st = json::get_string(o, "station_id", "heartbeat");
      if (st != peer.station_id)
        return json_error(
            req, http::status::forbidden, "station_mismatch",
            "heartbeat.station_id " + st + " sent with the certificate of " + peer.station_id);
      monitor_.heartbeat(st, o, time::now_unix_us());
      return ok_json(req, bj::object{{"ok", true}, {"acked_seq", store_.chain(st).acked_seq}});
    } catch (const InputError& e) {
      return json_error(req, http::status::bad_request, "bad_heartbeat", e.what());
    }
  }
  return json_error(req, http::status::not_found, "not_found", path);
}

namespace {

/// [us UTC] -> "2026-12-07T16:00:00.000Z", or null for 0 (never).
bj::value utc_or_null(std::int64_t us) {
  return us ? bj::value(time::format_utc_ms(us)) : bj::value(nullptr);
}

bj::object retention_json(const RetentionStatus& s) {
  return bj::object{{"enabled", true},
                    {"violation_images_days", s.days},
                    {"interval_s", s.interval_s},
                    {"clock", "collector host, UTC"},
                    {"last_run_utc", utc_or_null(s.last_run_unix_us)},
                    {"last_success_utc", utc_or_null(s.last_success_unix_us)},
                    {"next_run_utc", utc_or_null(s.next_run_unix_us)},
                    {"last_ok", s.last_ok},
                    {"last_error", s.last_error},
                    {"last_run",
                     {{"cases_purged", s.last.cases.size()},
                      {"images_marked", s.last.images_marked},
                      {"files_removed", s.last.files_removed},
                      {"bytes_removed", s.last.bytes_removed},
                      {"files_shared", s.last.files_shared},
                      {"cases_already_done", s.last.cases_already_done},
                      {"spool_rewritten", s.last.spool_rewritten},
                      {"spool_bytes_removed", s.last.spool_bytes_removed},
                      {"spool_problems", bj::value_from(s.last.spool_problems)}}},
                    {"since_start",
                     {{"runs_ok", s.runs_ok},
                      {"runs_failed", s.runs_failed},
                      {"cases_purged", s.cases_purged},
                      {"files_removed", s.files_removed},
                      {"bytes_removed", s.bytes_removed}}},
                    {"all_time",
                     {{"cases", s.cases_all},
                      {"images_marked", s.images_marked_all},
                      {"bytes_marked", s.bytes_marked_all},
                      {"spool_tars", s.spool_tars_all},
                      {"cases_done", s.cases_done_all}}}};
}

/// GET /v1/deliveries (docs/collector.md "Delivery status"): counts, errors and times
/// only; no case data (no plate: the workbench shows this to operators).
bj::object deliveries_json(const Forwarder* f, const TransitionWebhook* t) {
  bj::array sinks;
  if (f)
    for (const auto& s : f->sink_summaries())
      sinks.push_back({{"sink", s.sink},
                       {"state", s.state()},
                       {"pending", s.pending},
                       {"retrying", s.retrying},
                       {"delivered", s.delivered},
                       {"backlog", s.pending + s.retrying},
                       {"oldest_waiting_utc", utc_or_null(s.oldest_waiting_unix_us)},
                       {"last_error", s.last_error},
                       {"next_attempt_utc", utc_or_null(s.next_attempt_unix_us)}});
  bj::object tw{{"enabled", t != nullptr}};
  if (t) {
    const auto s = t->status();
    tw["state"] = s.state();
    tw["delivered_seq"] = s.delivered_seq;
    tw["latest_seq"] = s.latest_seq;
    tw["backlog"] = s.backlog();
    tw["attempts"] = s.attempts;
    tw["last_error"] = s.last_error;
    tw["next_attempt_utc"] = utc_or_null(s.next_attempt_unix_us);
  }
  return bj::object{{"case_sinks", std::move(sinks)}, {"transition_webhook", std::move(tw)}};
}

}  // namespace

Response Api::operators(const Request& req, const Peer&) {
  if (req.method() != http::verb::get)
    return json_error(req, http::status::method_not_allowed, "method", "read-only: use GET");
  const auto path = path_of(req);
  const auto now = time::now_unix_us();
  std::string id;
  if (path == "/v1/stations") {
    bj::array out;
    for (const auto& s : registry_->current()->stations()) {
      auto o = monitor_.station_json(s.id, now);
      o["name"] = s.name;
      o["revoked"] = s.revoked;
      o["location"] = {{"lat", s.lat_deg}, {"lon", s.lon_deg}};
      out.push_back(std::move(o));
    }
    return ok_json(req, out);
  }
  if (match_id(path, "/v1/stations/", "", id)) {
    const auto* e = registry_->current()->by_id(id);
    if (!e) return json_error(req, http::status::not_found, "unknown_station", id);
    auto o = monitor_.station_json(id, now);
    o["name"] = e->name;
    o["location"] = {{"lat", e->lat_deg}, {"lon", e->lon_deg}};
    o["lanes"] = e->lanes;
    o["revoked"] = e->revoked;
    bj::array conflicts;
    for (const auto& c : store_.conflicts(id))
      conflicts.push_back({{"seq", c.seq},
                           {"stored_sha256", c.stored_sha256},
                           {"incoming_sha256", c.incoming_sha256},
                           {"received_utc", time::format_utc_ms(c.received_unix_us)}});
    o["conflicts"] = std::move(conflicts);
    return ok_json(req, o);
  }
  if (path == "/v1/alerts") {
    bj::array out;
    for (const auto& a : monitor_.alerts(query_of(req) == "active=1")) out.push_back(alert_json(a));
    return ok_json(req, out);
  }
  if (path == "/v1/cases") {
    if (!forwarder_)
      return json_error(req, http::status::not_found, "no_forwarding", "forwarding is off");
    return ok_json(req, forwarder_->cases_json(query_param(req.target(), "station")));
  }
  if (path == "/v1/retention") {
    if (!retention_)
      return ok_json(req, bj::object{{"enabled", false},
                                     {"detail",
                                      "no /retention/violation_images_days in the "
                                      "config: images are kept forever"}});
    return ok_json(req, retention_json(retention_->status()));
  }
  if (path == "/v1/deliveries") return ok_json(req, deliveries_json(forwarder_, transitions_));
  if (path == "/v1/stats") {
    const auto day = query_param(req.target(), "day");
    const auto station = query_param(req.target(), "station");
    std::int64_t start = 0;
    try {
      start = parse_day(day);
    } catch (const InputError& e) {
      return json_error(req, http::status::bad_request, "bad_day", e.what());
    }
    if (!station.empty()) {
      if (!registry_->current()->by_id(station))
        return json_error(req, http::status::not_found, "unknown_station", station);
      return ok_json(req, day_stats(store_, station, start, day));
    }
    bj::array per;
    std::int64_t vehicles = 0, overloads = 0;
    for (const auto& s : registry_->current()->stations()) {
      auto o = day_stats(store_, s.id, start, day);
      vehicles += o.at("vehicles").as_int64();
      overloads += o.at("overloads").as_int64();
      per.push_back(std::move(o));
    }
    const double rate =
        vehicles ? static_cast<double>(overloads) / static_cast<double>(vehicles) : 0.0;
    return ok_json(req, bj::object{{"day", day},
                                   {"vehicles", vehicles},
                                   {"overloads", overloads},
                                   {"overload_rate", rate},
                                   {"stations", std::move(per)}});
  }
  if (path == "/metrics") {
    Response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = metrics_text();
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
  }
  return json_error(req, http::status::not_found, "not_found", path);
}

namespace {

/// Prometheus text format 0.0.4: each family's HELP and TYPE, then its samples.
class Exposition {
 public:
  Exposition() { out_.precision(16); }  // unix times in seconds keep their microseconds
  Exposition& family(std::string_view name, std::string_view type, std::string_view help) {
    out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    return *this;
  }
  template <class V>
  Exposition& sample(std::string_view name, std::string_view labels, V value) {
    out_ << name;
    if (!labels.empty()) out_ << "{" << labels << "}";
    out_ << " " << value << "\n";
    return *this;
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

/// A label value with \\, \" and newline escaped (station ids are [A-Za-z0-9_-], but the
/// format's rule is kept).
std::string label(std::string_view key, std::string_view value) {
  std::string v;
  for (char ch : value) {
    if (ch == '\\' || ch == '"') v += '\\';
    if (ch == '\n') {
      v += "\\n";
      continue;
    }
    v += ch;
  }
  return std::string(key) + "=\"" + v + "\"";
}

}  // namespace

std::string Api::metrics_text() const {
  Exposition m;
  const auto& c = ingest_.counters();
  m.family("wim_ingest_records_total", "counter",
           "Records received from stations, by outcome (stored, duplicate resend, conflict "
           "with a stored record of the same seq, rejected).");
  m.sample("wim_ingest_records_total", R"(status="stored")", c.stored.load())
      .sample("wim_ingest_records_total", R"(status="duplicate")", c.duplicate.load())
      .sample("wim_ingest_records_total", R"(status="conflict")", c.conflict.load())
      .sample("wim_ingest_records_total", R"(status="rejected")", c.rejected.load());
  m.family("wim_ingest_requests_total", "counter", "Record upload requests taken by the ingest.")
      .sample("wim_ingest_requests_total", "", c.requests.load());
  m.family("wim_ingest_broken_tar_total", "counter",
           "Upload requests whose tar could not be read (nothing stored).")
      .sample("wim_ingest_broken_tar_total", "", c.broken_tar.load());
  m.family("wim_ingest_commit_groups_total", "counter",
           "Durable commits (one blob sync and one transaction each) of grouped requests.")
      .sample("wim_ingest_commit_groups_total", "", c.commit_groups.load());
  const auto& lat = ingest_.latency();
  m.family("wim_ingest_latency_seconds", "histogram",
           "Time from a request's arrival at the ingest to its answer (verify and durable "
           "commit).");
  for (std::size_t i = 0; i < LatencyHistogram::kBoundsS.size(); ++i) {
    std::ostringstream le;
    le << LatencyHistogram::kBoundsS[i];
    m.sample("wim_ingest_latency_seconds_bucket", label("le", le.str()), lat.cumulative(i));
  }
  const auto count = lat.count();  // read after the buckets: never below them
  m.sample("wim_ingest_latency_seconds_bucket", R"(le="+Inf")", count)
      .sample("wim_ingest_latency_seconds_sum", "", lat.sum_s())
      .sample("wim_ingest_latency_seconds_count", "", count);
  if (server_counters_) {
    const auto& s = *server_counters_;
    m.family("wim_server_refused_total", "counter",
             "Station connections or requests refused by the HTTPS server, by reason.")
        .sample("wim_server_refused_total", R"(reason="tls")", s.tls_refused.load())
        .sample("wim_server_refused_total", R"(reason="malformed_http")", s.malformed_http.load())
        .sample("wim_server_refused_total", R"(reason="oversized")", s.oversized.load())
        .sample("wim_server_refused_total", R"(reason="timeout")", s.timeouts.load());
  }

  // Per-station gauges: one series per station of the registry (the operator's file, so
  // the label set is bounded by it; ids a client sends never become labels).
  struct Row {
    std::string l;
    ChainSummary chain;
    StationHealth health;
    std::int64_t missing = 0;
    bool revoked = false;
  };
  std::vector<Row> rows;
  for (const auto& s : registry_->current()->stations()) {
    Row r{label("station", s.id), store_.chain(s.id), monitor_.health(s.id), 0, s.revoked};
    for (const auto& [a, b] : r.chain.missing) r.missing += b - a + 1;
    rows.push_back(std::move(r));
  }
  const auto gauge = [&](std::string_view name, std::string_view help, auto value_of) {
    m.family(name, "gauge", help);
    for (const auto& r : rows) m.sample(name, r.l, value_of(r));
  };
  gauge("wim_station_revoked", "1 when the station is revoked in the registry, else 0.",
        [](const Row& r) { return r.revoked ? 1 : 0; });
  gauge("wim_station_acked_seq", "Highest seq up to which the station's chain is stored gap-free.",
        [](const Row& r) { return r.chain.acked_seq; });
  gauge("wim_station_missing_records",
        "Records missing in the stored chain (gaps below the "
        "highest stored seq).",
        [](const Row& r) { return r.missing; });
  gauge("wim_station_outbox_records", "Records waiting in the station's outbox (last heartbeat).",
        [](const Row& r) { return r.health.outbox_depth; });
  gauge("wim_station_outbox_oldest_age_seconds",
        "Age of the oldest unsent record in the station's outbox (last heartbeat).",
        [](const Row& r) { return r.health.oldest_unsent_age_s; });
  gauge("wim_station_clock_offset_seconds",
        "Last offset applied by the station's time daemon (last heartbeat).",
        [](const Row& r) { return r.health.clock_offset_ms / 1000.0; });
  gauge("wim_station_clock_synced", "1 when the station reported its clock synced, else 0.",
        [](const Row& r) { return r.health.clock_sync == "synced" ? 1 : 0; });
  m.family("wim_station_last_heard_timestamp_seconds", "gauge",
           "Unix time of the last heartbeat or stored record (absent: never heard).");
  for (const auto& r : rows) {
    const auto heard = std::max(r.health.last_heartbeat_unix_us, r.health.last_record_unix_us);
    if (heard)
      m.sample("wim_station_last_heard_timestamp_seconds", r.l, static_cast<double>(heard) / 1e6);
  }
  if (forwarder_)
    m.family("wim_cases_pending_deliveries", "gauge",
             "Case deliveries to the back office not yet accepted by their sink.")
        .sample("wim_cases_pending_deliveries", "", forwarder_->pending_deliveries());
  if (transitions_) {
    const auto s = transitions_->status();
    m.family("wim_transition_webhook_backlog_entries", "gauge",
             "Audit entries (review transitions) not yet accepted by the transition webhook.")
        .sample("wim_transition_webhook_backlog_entries", "", s.backlog());
    m.family("wim_transition_webhook_failed_attempts", "gauge",
             "Failed tries of the next entry (0 when the last try succeeded; see "
             "GET /v1/deliveries last_error).")
        .sample("wim_transition_webhook_failed_attempts", "", s.attempts);
  }
  m.family("wim_alerts_active", "gauge", "Alerts currently active (GET /v1/alerts?active=1).")
      .sample("wim_alerts_active", "", monitor_.alerts(true).size());
  if (retention_) {
    const auto s = retention_->status();
    m.family("wim_retention_period_seconds", "gauge",
             "How long a closed or rejected case keeps its violation images (the configured "
             "violation_images_days).")
        .sample("wim_retention_period_seconds", "", s.days * 86400);
    m.family("wim_retention_last_run_timestamp_seconds", "gauge",
             "Unix time (UTC, collector host clock) of the last purge run (absent: none yet).");
    if (s.last_run_unix_us)
      m.sample("wim_retention_last_run_timestamp_seconds", "",
               static_cast<double>(s.last_run_unix_us) / 1e6);
    m.family("wim_retention_last_success_timestamp_seconds", "gauge",
             "Unix time (UTC) of the last purge run that completed (absent: none yet).");
    if (s.last_success_unix_us)
      m.sample("wim_retention_last_success_timestamp_seconds", "",
               static_cast<double>(s.last_success_unix_us) / 1e6);
    m.family("wim_retention_last_run_ok", "gauge",
             "1 when the last purge run completed, 0 when it failed (see the log or "
             "GET /v1/retention last_error).")
        .sample("wim_retention_last_run_ok", "", s.last_ok ? 1 : 0);
    m.family("wim_retention_runs_total", "counter", "Purge runs since the collector started.")
        .sample("wim_retention_runs_total", R"(outcome="ok")", s.runs_ok)
        .sample("wim_retention_runs_total", R"(outcome="failed")", s.runs_failed);
    m.family("wim_retention_cases_purged_total", "counter",
             "Cases that got a retention_purge audit entry, since the collector started.")
        .sample("wim_retention_cases_purged_total", "", s.cases_purged);
    m.family("wim_retention_files_removed_total", "counter",
             "Image blob files deleted by the purge, since the collector started.")
        .sample("wim_retention_files_removed_total", "", s.files_removed);
    m.family("wim_retention_bytes_removed_total", "counter",
             "Bytes of the image blob files deleted, since the collector started.")
        .sample("wim_retention_bytes_removed_total", "", s.bytes_removed);
    m.family("wim_retention_purged_images", "gauge",
             "Images (attachments of records) removed by retention, all time (meta.db, "
             "after the last completed run).")
        .sample("wim_retention_purged_images", "", s.images_marked_all);
    m.family("wim_retention_purged_bytes", "gauge",
             "Their size in bytes as the signed manifests give it, all time.")
        .sample("wim_retention_purged_bytes", "", s.bytes_marked_all);
    m.family("wim_retention_purged_cases", "gauge", "Cases with an image removed, all time.")
        .sample("wim_retention_purged_cases", "", s.cases_all);
    m.family("wim_retention_spool_tars", "gauge",
             "Spool tars of purged cases done (rewritten without their images), all time.")
        .sample("wim_retention_spool_tars", "", s.spool_tars_all);
    m.family("wim_retention_last_run_spool_problems", "gauge",
             "Spool tars the last run could not rewrite (GET /v1/retention "
             "last_run.spool_problems names them).")
        .sample("wim_retention_last_run_spool_problems", "",
                static_cast<std::int64_t>(s.last.spool_problems.size()));
  }
  return m.str();
}

}  // namespace wim::collector
