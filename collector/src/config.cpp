// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/config.hpp"

#include <fstream>
#include <limits>
#include <sstream>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"

namespace wim::collector {

namespace {

namespace bj = boost::json;

/// Field checks of one JSON object, each reported at its pointer (ptr + "/" + key).
struct Fields {
  const bj::object& o;
  std::string ptr;  // of `o`
  const std::string& file;
  ConfigProblems& p;

  std::string at(std::string_view key) const { return ptr + "/" + std::string(key); }
  /// get_int with a default, checked against [lo, hi]; `unit` in the message ("s", "ms").
  template <class T>
  void integer(std::string_view key, T& out, std::int64_t dflt, std::int64_t lo, std::int64_t hi,
               std::string_view unit = "", std::int64_t scale = 1) {
    p.check(file, at(key), [&] {
      const auto v = json::get_int(o, key, "field", dflt);
      if (v < lo || v > hi)
        throw InputError("expected an integer in " + std::to_string(lo) + ".." +
                         std::to_string(hi) + (unit.empty() ? "" : " " + std::string(unit)) +
                         ", got " + std::to_string(v));
      out = static_cast<T>(v * scale);
    });
  }
  void path(std::string_view key, std::filesystem::path& out, const std::filesystem::path& base,
            std::string_view dflt) {
    p.check(file, at(key), [&] {
      auto v = json::get_string(o, key, "field", dflt);
      if (v.empty() && !dflt.empty()) throw InputError("expected a non-empty path");
      out = v.empty() ? std::filesystem::path() : base / v;
    });
  }
  /// The object at `key` (nullptr when absent or not an object: reported then).
  const bj::object* object(std::string_view key, bool required) const {
    const auto it = o.find(key);
    if (it == o.end()) {
      if (required) p.add(file, at(key), "missing: expected an object");
      return nullptr;
    }
    if (!it->value().is_object()) {
      p.add(file, at(key), "expected an object");
      return nullptr;
    }
    return &it->value().get_object();
  }
};

constexpr std::int64_t kMaxInt = std::numeric_limits<std::int64_t>::max() / 4096;

void listen_of(const Fields& top, std::string_view key, std::uint16_t default_port,
               ServerOptions& o) {
  o.port = default_port;
  const auto* l = top.object(key, false);
  if (!l) return;
  Fields f{*l, top.at(key), top.file, top.p};
  f.p.check(f.file, f.at("address"),
            [&] { o.address = json::get_string(*l, "address", "field", "127.0.0.1"); });
  f.integer("port", o.port, default_port, 0, 65535);
}

/// "127.0.0.1:8444" -> address, port.
void parse_host_port(const std::string& text, ServerOptions& o) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size() ||
      text.find_first_not_of("0123456789", colon + 1) != std::string::npos ||
      text.size() - colon > 6)
    throw InputError("expected \"address:port\", got \"" + text + "\"");
  const long port = std::stol(text.substr(colon + 1));
  if (port > 65535) throw InputError("expected a port in 0..65535, got " + std::to_string(port));
  o.address = text.substr(0, colon);
  o.port = static_cast<std::uint16_t>(port);
}

/// The workbench's fields (docs/workbench-api.md "Configuration"), each problem at its
/// pointer like the rest of the config.
void parse_workbench(Fields& top, const std::filesystem::path& base, CollectorConfig& c) {
  auto& p = top.p;
  const auto& file = top.file;
  c.workbench_listen = c.station_listen;
  c.workbench_listen.body_limit_bytes = 1u << 20;
  p.check(file, "/workbench_listen", [&] {
    const auto listen = json::get_string(top.o, "workbench_listen", "field", "");
    c.workbench = !listen.empty();
    if (c.workbench) parse_host_port(listen, c.workbench_listen);
  });
  // Default: the station listener's TLS files (tls.cert / tls.key).
  auto path_or = [&](const char* key, std::filesystem::path& out,
                     const std::filesystem::path& def) {
    p.check(file, top.at(key), [&] {
      const auto v = json::get_string(top.o, key, "field", "");
      out = v.empty() ? def : base / v;
    });
  };
  path_or("workbench_tls_cert", c.workbench_tls_cert, c.tls_cert);
  path_or("workbench_tls_key", c.workbench_tls_key, c.tls_key);
  path_or("workbench_web_dir", c.workbench_options.web_dir, WIM_WEB_DIR);
  auto& w = c.workbench_options;
  top.integer("session_ttl_s", w.session_ttl_s, 28800, 60, 7 * 86400, "s");
  top.integer("session_idle_s", w.session_idle_s, 1800, 60, w.session_ttl_s, "s (session_ttl_s)");
  p.check(file, "/audit_key", [&] {
    const auto key = json::get_string(top.o, "audit_key", "field", "");
    c.audit_key_configured = !key.empty();
    c.audit_key = key.empty() ? c.data_dir / "audit.key.pem" : base / key;
  });
  const auto* r = top.object("review", false);
  if (!r) return;
  Fields f{*r, "/review", file, p};
  f.integer("transport_working_h", c.review.transport_working_s, 24, 1, 1000, "h", 3600);
  f.integer("police_working_h", c.review.police_working_s, 40, 1, 1000, "h", 3600);
  const auto* cal = f.object("calendar", false);
  if (!cal) return;
  // WorkCalendar names a field as "calendar.<key>: <problem>" (or "calendar: ..."):
  // that becomes the pointer /review/calendar/<key>.
  try {
    c.review.calendar = WorkCalendar::from_json(*cal);
  } catch (const InputError& e) {
    const std::string m = e.what();
    const auto colon = m.find(": ");
    const auto head = colon == std::string::npos ? std::string() : m.substr(0, colon);
    if (head.rfind("calendar", 0) != 0 || head.find(' ') != std::string::npos) {
      p.add(file, f.at("calendar"), m);
    } else {
      std::string ptr = "/review/" + head;
      for (auto& ch : ptr)
        if (ch == '.') ch = '/';
      p.add(file, ptr, m.substr(colon + 2));
    }
  }
}

}  // namespace

CollectorConfig CollectorConfig::parse(std::string_view text, std::string_view what,
                                       const std::filesystem::path& base,
                                       ConfigProblems* problems) {
  ConfigProblems own;
  auto& p = problems ? *problems : own;
  const std::string file(what);
  CollectorConfig c;
  bj::value v;
  if (p.check(file, "", [&] { v = json::parse(text, what); })) {
    if (!v.is_object()) {
      p.add(file, "", "expected an object (the collector config, docs/collector.md)");
    } else {
      Fields top{v.get_object(), "", file, p};
      top.path("registry", c.registry, base, "registry.json");
      top.path("data_dir", c.data_dir, base, "data");
      p.check(file, "/blob_sync", [&] {
        const auto bs = json::get_string(top.o, "blob_sync", "field", "syncfs");
        if (bs != "syncfs" && bs != "per_file")
          throw InputError("expected \"syncfs\" or \"per_file\", got \"" + bs + "\"");
        c.blob_sync = bs == "syncfs" ? BlobSync::syncfs : BlobSync::per_file;
      });
      if (const auto* tls = top.object("tls", true)) {
        Fields t{*tls, "/tls", file, p};
        // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
        for (const auto& field : {std::pair{"cert", &c.tls_cert}, std::pair{"key", &c.tls_key},
                                  std::pair{"ca", &c.tls_ca}}) {
          const char* key = field.first;
          std::filesystem::path* out = field.second;
          p.check(file, t.at(key), [&] { *out = base / json::get_string(*tls, key, "field"); });
        }
      }
      top.integer("body_limit_bytes", c.station_listen.body_limit_bytes, 64ll << 20, 1024, kMaxInt,
                  "bytes");
      std::int64_t timeout_ms = 30'000;
      top.integer("timeout_ms", timeout_ms, 30'000, 100, kMaxInt, "ms");
      c.station_listen.timeout = std::chrono::milliseconds(timeout_ms);
      c.operator_listen = c.station_listen;  // body limit and timeout shared
      listen_of(top, "listen", 8443, c.station_listen);
      listen_of(top, "operator_listen", 8080, c.operator_listen);
      top.integer("threads", c.threads, 2, 1, 64);
      top.integer("verify_threads", c.ingest.verify_threads, 2, 1, 64);
      top.integer("future_seq_window", c.ingest.future_seq_window, 100'000, 1, kMaxInt, "records");
      if (const auto* m = top.object("monitor", false)) {
        Fields f{*m, "/monitor", file, p};
        f.integer("silent_after_s", c.monitor.silent_after_s, 300, 1, kMaxInt, "s");
        f.integer("backlog_depth_alert", c.monitor.backlog_depth_alert, 1000, 1, kMaxInt,
                  "records");
        f.integer("backlog_age_alert_s", c.monitor.backlog_age_alert_s, 3600, 1, kMaxInt, "s");
        p.check(file, f.at("clock_offset_alert_ms"), [&] {
          c.monitor.clock_offset_alert_ms =
              json::get_number(*m, "clock_offset_alert_ms", "field", 500);
          if (c.monitor.clock_offset_alert_ms <= 0) throw InputError("expected a number > 0 ms");
        });
        f.integer("tick_s", c.monitor_tick_s, 10, 1, kMaxInt, "s");
      }
      if (const auto* fw = top.object("forward", false)) {
        Fields f{*fw, "/forward", file, p};
        f.integer("stage_deadline_h", c.forward.stage_deadline_s, 72, 1, kMaxInt / 3600, "h", 3600);
        f.integer("retry_initial_ms", c.forward.retry_initial_ms, 1000, 1, kMaxInt, "ms");
        f.integer("retry_max_ms", c.forward.retry_max_ms, 300'000, 1, kMaxInt, "ms");
        if (c.forward.retry_max_ms < c.forward.retry_initial_ms)
          p.add(file, f.at("retry_max_ms"), "expected >= retry_initial_ms");
        f.integer("webhook_timeout_ms", c.webhook_timeout_ms, 5000, 100, kMaxInt, "ms");
        f.integer("tick_ms", c.forward_tick_ms, 1000, 10, kMaxInt, "ms");
        f.path("spool_dir", c.spool_dir, base, "");
        p.check(file, f.at("webhook_url"), [&] {
          c.webhook_url = json::get_string(*fw, "webhook_url", "field", "");
          if (!c.webhook_url.empty() && c.webhook_url.rfind("http://", 0) != 0)
            throw InputError("expected http://host:port/path, got \"" + c.webhook_url + "\"");
        });
        p.check(file, f.at("transition_webhook_url"), [&] {
          c.transition_webhook_url = json::get_string(*fw, "transition_webhook_url", "field", "");
          if (!c.transition_webhook_url.empty())
            HttpPoster(c.transition_webhook_url, std::chrono::milliseconds(1));  // the form
        });
      }
      if (const auto* b = top.object("backup", false)) {
        Fields f{*b, "/backup", file, p};
        f.path("signing_key", c.backup_signing_key, base, "");
        f.path("verify_key", c.backup_verify_key, base, "");
      }
      if (const auto* r = top.object("retention", false)) {
        Fields f{*r, "/retention", file, p};
        if (r->contains("violation_images_days"))  // absent: kept forever
          f.integer("violation_images_days", c.retention_images_days, 0, 1, 100'000, "days");
      }
      parse_workbench(top, base, c);
    }
  }
  own.throw_if_any();
  return c;
}

CollectorConfig CollectorConfig::load_file(const std::filesystem::path& path,
                                           ConfigProblems* problems) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!problems) throw InputError(path.string() + ": cannot open config file");
    problems->add(path.string(), "", "cannot open config file");
    return {};
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path.string(), path.parent_path(), problems);
}

ConfigProblems check_config(const std::filesystem::path& path) {
  ConfigProblems p;
  const auto before = p.list().size();
  const auto c = CollectorConfig::load_file(path, &p);
  const std::string file = path.string();
  if (p.list().size() > before && p.list().back().pointer.empty()) return p;  // unreadable
  // The files the config names: readable now (the daemon runs as its own user: check
  // as that user, e.g. `sudo -u wim-collector`, for permissions).
  for (auto [ptr, f] : {std::pair{"/tls/cert", &c.tls_cert}, std::pair{"/tls/key", &c.tls_key},
                        std::pair{"/tls/ca", &c.tls_ca}}) {
    if (f->empty()) continue;
    std::ifstream in(*f, std::ios::binary);
    if (!in) p.add(file, ptr, "cannot read file " + f->string() + " (expected a PEM file)");
  }
  // The backup keys: loadable (the private key 0600), and one pair when both are set.
  // A missing or unreadable file is a SystemError of the loaders: reported the same way.
  auto as_input = [](auto&& load) {
    try {
      return load();
    } catch (const std::exception& e) {  // the loaders name the file
      throw InputError(std::string("key: ") + e.what());
    }
  };
  std::optional<crypto::SigningKey> sk;
  if (!c.backup_signing_key.empty())
    p.check(file, "/backup/signing_key", [&] {
      sk = as_input([&] { return crypto::SigningKey::load_pem_file(c.backup_signing_key); });
    });
  if (!c.backup_verify_key.empty())
    p.check(file, "/backup/verify_key", [&] {
      const auto vk =
          as_input([&] { return crypto::VerifyKey::load_pem_file(c.backup_verify_key); });
      if (sk && vk.fingerprint() != sk->public_key().fingerprint())
        throw InputError(c.backup_verify_key.string() + " (" + vk.fingerprint() +
                         ") is not the public key of signing_key " + c.backup_signing_key.string() +
                         " (" + sk->public_key().fingerprint() + ")");
    });
  // The workbench's own files, where the config names them (the defaults are the above).
  auto readable = [&](const char* ptr, const std::filesystem::path& f, bool named) {
    if (!named || f.empty()) return;
    std::ifstream in(f, std::ios::binary);
    if (!in) p.add(file, ptr, "cannot read file " + f.string() + " (expected a PEM file)");
  };
  readable("/workbench_tls_cert", c.workbench_tls_cert,
           c.workbench && c.workbench_tls_cert != c.tls_cert);
  readable("/workbench_tls_key", c.workbench_tls_key,
           c.workbench && c.workbench_tls_key != c.tls_key);
  readable("/audit_key", c.audit_key, c.audit_key_configured);
  std::error_code ec;
  if (c.workbench &&
      !std::filesystem::is_regular_file(c.workbench_options.web_dir / "index.html", ec))
    p.add(file, "/workbench_web_dir",
          "no index.html in " + c.workbench_options.web_dir.string() +
              " (expected the workbench's pages, collector/web)");
  Registry::load_file(c.registry, &p);
  return p;
}

std::optional<crypto::SigningKey> backup_signing_key(const CollectorConfig& c) {
  if (c.backup_signing_key.empty()) return std::nullopt;
  return crypto::SigningKey::load_pem_file(c.backup_signing_key);
}

std::optional<crypto::VerifyKey> backup_verify_key(const CollectorConfig& c) {
  if (!c.backup_verify_key.empty()) return crypto::VerifyKey::load_pem_file(c.backup_verify_key);
  if (auto sk = backup_signing_key(c)) return sk->public_key();
  return std::nullopt;
}

}  // namespace wim::collector
