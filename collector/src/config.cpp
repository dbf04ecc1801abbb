// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/config.hpp"

#include <fstream>
#include <sstream>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"

namespace wim::collector {

namespace {

ServerOptions listen_of(const boost::json::object& top, std::string_view key,
                        std::uint16_t default_port, const CollectorConfig& c) {
  ServerOptions o = c.station_listen;  // body limit and timeout shared
  o.port = default_port;
  if (!top.contains(key)) return o;
  const std::string ctx(key);
  const auto& l = json::as_object(top.at(key), ctx);
  o.address = json::get_string(l, "address", ctx, "127.0.0.1");
  auto port = json::get_int(l, "port", ctx, default_port);
  if (port < 0 || port > 65535) throw InputError(ctx + ".port: expected 0..65535");
  o.port = static_cast<std::uint16_t>(port);
  return o;
}

/// "127.0.0.1:8444" -> address, port.
void parse_host_port(const std::string& text, ServerOptions& o) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size() ||
      text.find_first_not_of("0123456789", colon + 1) != std::string::npos ||
      text.size() - colon > 6)
    throw InputError("workbench_listen: expected \"address:port\", got \"" + text + "\"");
  const long port = std::stol(text.substr(colon + 1));
  if (port > 65535) throw InputError("workbench_listen: port above 65535");
  o.address = text.substr(0, colon);
  o.port = static_cast<std::uint16_t>(port);
}

void parse_workbench(const boost::json::object& top, const std::filesystem::path& base,
                     CollectorConfig& c) {
  c.workbench_listen = c.station_listen;
  c.workbench_listen.body_limit_bytes = 1u << 20;
  const auto listen = json::get_string(top, "workbench_listen", "", "");
  c.workbench = !listen.empty();
  if (c.workbench) parse_host_port(listen, c.workbench_listen);
  auto path_or = [&](const char* key, const std::filesystem::path& def) {
    const auto v = json::get_string(top, key, "", "");
    return v.empty() ? def : base / v;
  };
  c.workbench_tls_cert = path_or("workbench_tls_cert", c.tls_cert);
  c.workbench_tls_key = path_or("workbench_tls_key", c.tls_key);
  c.workbench_options.web_dir = path_or("workbench_web_dir", WIM_WEB_DIR);
  c.workbench_options.session_ttl_s = json::get_int(top, "session_ttl_s", "", 28800);
  c.workbench_options.session_idle_s = json::get_int(top, "session_idle_s", "", 1800);
  if (c.workbench_options.session_ttl_s < 60 || c.workbench_options.session_ttl_s > 7 * 86400)
    throw InputError("session_ttl_s: expected 60..604800");
  if (c.workbench_options.session_idle_s < 60 ||
      c.workbench_options.session_idle_s > c.workbench_options.session_ttl_s)
    throw InputError("session_idle_s: expected 60..session_ttl_s");
  const auto key = json::get_string(top, "audit_key", "", "");
  c.audit_key_configured = !key.empty();
  c.audit_key = key.empty() ? c.data_dir / "audit.key.pem" : base / key;
  if (top.contains("review")) {
    const auto& r = json::as_object(top.at("review"), "review");
    c.review.transport_working_s = json::get_int(r, "transport_working_h", "review", 24) * 3600;
    c.review.police_working_s = json::get_int(r, "police_working_h", "review", 40) * 3600;
    if (c.review.transport_working_s < 3600 || c.review.transport_working_s > 1000 * 3600)
      throw InputError("review.transport_working_h: expected 1..1000");
    if (c.review.police_working_s < 3600 || c.review.police_working_s > 1000 * 3600)
      throw InputError("review.police_working_h: expected 1..1000");
    if (r.contains("calendar"))
      c.review.calendar =
          WorkCalendar::from_json(json::as_object(r.at("calendar"), "review.calendar"));
  }
}

}  // namespace

CollectorConfig CollectorConfig::parse(std::string_view text, std::string_view what,
                                       const std::filesystem::path& base) {
  CollectorConfig c;
  try {
    auto v = json::parse(text, what);
    const auto& top = json::as_object(v, "");
    c.registry = base / json::get_string(top, "registry", "", "registry.json");
    c.data_dir = base / json::get_string(top, "data_dir", "", "data");
    const auto blob_sync = json::get_string(top, "blob_sync", "", "syncfs");
    if (blob_sync != "syncfs" && blob_sync != "per_file")
      throw InputError("blob_sync: expected \"syncfs\" or \"per_file\", got \"" + blob_sync + "\"");
    c.blob_sync = blob_sync == "syncfs" ? BlobSync::syncfs : BlobSync::per_file;
    const auto& tls = json::as_object(json::require(top, "tls", ""), "tls");
    c.tls_cert = base / json::get_string(tls, "cert", "tls");
    c.tls_key = base / json::get_string(tls, "key", "tls");
    c.tls_ca = base / json::get_string(tls, "ca", "tls");
    auto limit = json::get_int(top, "body_limit_bytes", "", 64ll << 20);
    if (limit < 1024) throw InputError("body_limit_bytes: expected at least 1024");
    c.station_listen.body_limit_bytes = static_cast<std::uint64_t>(limit);
    auto timeout = json::get_int(top, "timeout_ms", "", 30'000);
    if (timeout < 100) throw InputError("timeout_ms: expected at least 100");
    c.station_listen.timeout = std::chrono::milliseconds(timeout);
    c.station_listen = listen_of(top, "listen", 8443, c);
    c.operator_listen = listen_of(top, "operator_listen", 8080, c);
    c.threads = static_cast<int>(json::get_int(top, "threads", "", 2));
    if (c.threads < 1 || c.threads > 64) throw InputError("threads: expected 1..64");
    c.ingest.verify_threads = static_cast<int>(json::get_int(top, "verify_threads", "", 2));
    if (c.ingest.verify_threads < 1 || c.ingest.verify_threads > 64)
      throw InputError("verify_threads: expected 1..64");
    c.ingest.future_seq_window = json::get_int(top, "future_seq_window", "", 100'000);
    if (c.ingest.future_seq_window < 1) throw InputError("future_seq_window: expected >= 1");
    if (top.contains("monitor")) {
      const auto& m = json::as_object(top.at("monitor"), "monitor");
      c.monitor.silent_after_s = json::get_int(m, "silent_after_s", "monitor", 300);
      c.monitor.backlog_depth_alert = json::get_int(m, "backlog_depth_alert", "monitor", 1000);
      c.monitor.backlog_age_alert_s = json::get_int(m, "backlog_age_alert_s", "monitor", 3600);
      c.monitor.clock_offset_alert_ms =
          json::get_number(m, "clock_offset_alert_ms", "monitor", 500);
      c.monitor_tick_s = json::get_int(m, "tick_s", "monitor", 10);
      if (c.monitor.silent_after_s < 1) throw InputError("monitor.silent_after_s: expected >= 1");
      if (c.monitor_tick_s < 1) throw InputError("monitor.tick_s: expected >= 1");
    }
    if (top.contains("forward")) {
      const auto& f = json::as_object(top.at("forward"), "forward");
      c.forward.stage_deadline_s = json::get_int(f, "stage_deadline_h", "forward", 72) * 3600;
      c.forward.retry_initial_ms = json::get_int(f, "retry_initial_ms", "forward", 1000);
      c.forward.retry_max_ms = json::get_int(f, "retry_max_ms", "forward", 300'000);
      c.webhook_timeout_ms = json::get_int(f, "webhook_timeout_ms", "forward", 5000);
      c.forward_tick_ms = json::get_int(f, "tick_ms", "forward", 1000);
      auto spool = json::get_string(f, "spool_dir", "forward", "");
      if (!spool.empty()) c.spool_dir = base / spool;
      c.webhook_url = json::get_string(f, "webhook_url", "forward", "");
      if (c.forward.stage_deadline_s < 3600)
        throw InputError("forward.stage_deadline_h: expected >= 1");
      if (c.forward.retry_initial_ms < 1 || c.forward.retry_max_ms < c.forward.retry_initial_ms)
        throw InputError("forward.retry_max_ms: expected >= retry_initial_ms >= 1");
      if (c.webhook_timeout_ms < 100)
        throw InputError("forward.webhook_timeout_ms: expected >= 100");
      if (c.forward_tick_ms < 10) throw InputError("forward.tick_ms: expected >= 10");
      if (!c.webhook_url.empty() && c.webhook_url.rfind("http://", 0) != 0)
        throw InputError("forward.webhook_url: expected http://host:port/path");
    }
    parse_workbench(top, base, c);
  } catch (const InputError& e) {
    std::string msg = e.what();
    if (msg.rfind(std::string(what) + ":", 0) == 0) throw;
    throw InputError(std::string(what) + ": " + msg);
  }
  return c;
}

CollectorConfig CollectorConfig::load_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot open config file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path.string(), path.parent_path());
}

}  // namespace wim::collector
