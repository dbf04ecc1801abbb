// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/station_daemon.hpp"

#include <regex>
#include <vector>

#include "wim/common/json.hpp"

namespace wim::edge {
namespace bj = boost::json;

DaemonConfig load_daemon_config(const std::filesystem::path& path) {
  const std::string file = path.string();
  const auto root = json::load_file(path);
  const auto& o = json::as_object(root, file);
  DaemonConfig c;
  std::vector<std::string> errors;
  auto attempt = [&](auto&& fn) {
    try {
      fn();
    } catch (const InputError& e) {
      errors.push_back(e.what());
    }
  };
  auto existing_file = [&](const bj::object& obj, std::string_view key, std::string_view ctx) {
    std::string p = json::get_string(obj, key, ctx);
    if (!std::filesystem::is_regular_file(p))
      throw InputError(json::field_path(ctx, key) + ": no such file '" + p + "'");
    return p;
  };
  attempt([&] {
    c.station_id = json::get_string(o, "station_id", "");
    if (!std::regex_match(c.station_id, std::regex("[A-Za-z0-9_-]{1,32}")))
      throw InputError("station_id: '" + c.station_id + "' is not [A-Za-z0-9_-]{1,32}");
  });
  attempt([&] {
    const auto& k = json::as_object(json::require(o, "keys", ""), "keys");
    c.signing_key = existing_file(k, "signing_key", "keys");
  });
  attempt([&] {
    const auto& u = json::as_object(json::require(o, "uplink", ""), "uplink");
    const std::string url = json::get_string(u, "url", "uplink");
    std::smatch m;
    static const std::regex re(R"(https://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:([0-9]{1,5}))?/?)");
    if (!std::regex_match(url, m, re))
      errors.push_back("uplink.url: '" + url + "' is not https://host[:port]");
    else {
      c.uplink.host = m[1];
      c.uplink.port = m[3].matched ? std::string(m[3]) : "443";
    }
    for (auto [key, dst] :
         {std::pair{"ca_file", &c.uplink.ca_file}, std::pair{"cert_file", &c.uplink.cert_file},
          std::pair{"key_file", &c.uplink.key_file}})
      attempt([&] { *dst = existing_file(u, key, "uplink"); });
    attempt([&] {
      auto t = json::get_number(u, "timeout_s", "uplink", 30);
      if (t <= 0 || t > 600) throw InputError("uplink.timeout_s: must be in (0, 600]");
      c.uplink.op_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(t * 1000));
    });
    attempt([&] {
      auto n = json::get_int(u, "batch_max_records", "uplink", 200);
      if (n < 1 || n > 10000) throw InputError("uplink.batch_max_records: must be 1..10000");
      c.uplink.batch_max_records = static_cast<std::size_t>(n);
    });
    attempt([&] {
      auto h = json::get_number(u, "heartbeat_s", "uplink", 60);
      if (h < 1) throw InputError("uplink.heartbeat_s: must be >= 1");
      c.uplink.heartbeat_period = std::chrono::milliseconds(static_cast<std::int64_t>(h * 1000));
    });
  });
  attempt([&] {
    const auto& b = json::as_object(json::require(o, "outbox", ""), "outbox");
    c.outbox_path = json::get_string(b, "path", "outbox");
    auto dir = c.outbox_path.parent_path();
    if (!dir.empty() && !std::filesystem::is_directory(dir))
      errors.push_back("outbox.path: directory '" + dir.string() + "' does not exist");
    attempt([&] {
      auto q = json::get_number(b, "quota_mb", "outbox", 2048);
      if (q < 1) throw InputError("outbox.quota_mb: must be >= 1");
      c.outbox_quota_bytes = static_cast<std::uint64_t>(q * 1024 * 1024);
    });
    attempt([&] {
      auto pp = json::get_number(b, "pressure_percent", "outbox", 80);
      if (pp < 10 || pp > 100) throw InputError("outbox.pressure_percent: must be in 10..100");
      c.pressure_percent = pp;
    });
  });
  attempt([&] {
    c.status_socket = c.outbox_path.parent_path() / "status.sock";
    if (const auto* st = o.if_contains("status")) {
      const auto& so = json::as_object(*st, "status");
      c.status_socket = json::get_string(so, "socket", "status", c.status_socket.string());
      if (c.status_socket.string().size() > 100)
        throw InputError("status.socket: '" + c.status_socket.string() +
                         "' is longer than 100 characters (UNIX socket path limit)");
      auto dir = c.status_socket.parent_path();
      if (!dir.empty() && !std::filesystem::is_directory(dir))
        throw InputError("status.socket: directory '" + dir.string() + "' does not exist");
    }
  });
  c.uplink.station_id = c.station_id;
  if (!errors.empty()) {
    std::string msg = file + ": " + std::to_string(errors.size()) + " error(s):";
    for (const auto& e : errors) msg += "\n  " + e;
    throw InputError(msg);
  }
  return c;
}

}  // namespace wim::edge
