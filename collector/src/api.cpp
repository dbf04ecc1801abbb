// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/api.hpp"

#include <optional>
#include <sstream>

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

std::string Api::metrics_text() const {
  std::ostringstream m;
  const auto& c = ingest_.counters();
  m << "# TYPE wim_ingest_records_total counter\n";
  m << "wim_ingest_records_total{status=\"stored\"} " << c.stored << "\n";
  m << "wim_ingest_records_total{status=\"duplicate\"} " << c.duplicate << "\n";
  m << "wim_ingest_records_total{status=\"conflict\"} " << c.conflict << "\n";
  m << "wim_ingest_records_total{status=\"rejected\"} " << c.rejected << "\n";
  m << "# TYPE wim_ingest_requests_total counter\nwim_ingest_requests_total " << c.requests << "\n";
  m << "# TYPE wim_ingest_broken_tar_total counter\nwim_ingest_broken_tar_total " << c.broken_tar
    << "\n";
  if (server_counters_) {
    const auto& s = *server_counters_;
    m << "# TYPE wim_server_refused_total counter\n";
    m << "wim_server_refused_total{reason=\"tls\"} " << s.tls_refused << "\n";
    m << "wim_server_refused_total{reason=\"malformed_http\"} " << s.malformed_http << "\n";
    m << "wim_server_refused_total{reason=\"oversized\"} " << s.oversized << "\n";
    m << "wim_server_refused_total{reason=\"timeout\"} " << s.timeouts << "\n";
  }
  const auto now = time::now_unix_us();
  m << "# TYPE wim_station_acked_seq gauge\n# TYPE wim_station_missing_records gauge\n"
       "# TYPE wim_station_outbox_depth gauge\n# TYPE wim_station_clock_offset_ms gauge\n"
       "# TYPE wim_station_seconds_since_heard gauge\n";
  for (const auto& s : registry_->current()->stations()) {
    const auto ch = store_.chain(s.id);
    const auto h = monitor_.health(s.id);
    std::int64_t missing = 0;
    for (const auto& [a, b] : ch.missing) missing += b - a + 1;
    const auto l = "{station=\"" + s.id + "\"}";
    const auto heard = std::max(h.last_heartbeat_unix_us, h.last_record_unix_us);
    m << "wim_station_acked_seq" << l << " " << ch.acked_seq << "\n";
    m << "wim_station_missing_records" << l << " " << missing << "\n";
    m << "wim_station_outbox_depth" << l << " " << h.outbox_depth << "\n";
    m << "wim_station_clock_offset_ms" << l << " " << h.clock_offset_ms << "\n";
    if (heard)
      m << "wim_station_seconds_since_heard" << l << " " << (now - heard) / 1'000'000 << "\n";
  }
  if (forwarder_)
    m << "# TYPE wim_cases_pending_deliveries gauge\nwim_cases_pending_deliveries "
      << forwarder_->pending_deliveries() << "\n";
  m << "# TYPE wim_alerts_active gauge\nwim_alerts_active " << monitor_.alerts(true).size() << "\n";
  return m.str();
}

}  // namespace wim::collector
