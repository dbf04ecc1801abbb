// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/heartbeat.hpp"

#include <sys/statvfs.h>

#include <boost/json.hpp>

#include "wim/common/crypto.hpp"
#include "wim/common/json.hpp"

namespace wim::edge {

DiskUsage disk_usage(const std::filesystem::path& path) {
  struct statvfs s {};
  auto dir = std::filesystem::is_directory(path) ? path : path.parent_path();
  if (dir.empty()) dir = ".";
  if (::statvfs(dir.c_str(), &s) != 0) return {};
  DiskUsage d;
  d.free_bytes = static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
  d.used_bytes = static_cast<std::uint64_t>(s.f_blocks - s.f_bfree) * s.f_frsize;
  return d;
}

std::string software_sha256() {
  // Once per process: the running program does not change (a replaced file on disk is a
  // new inode; /proc/self/exe keeps the old one), and run-many asks once per station.
  static const std::string sha = [] {
    try {
      return crypto::sha256_file_hex("/proc/self/exe");
    } catch (const std::exception&) {
      return std::string("unknown");
    }
  }();
  return sha;
}

std::string heartbeat_json(const Health& h) {
  namespace bj = boost::json;
  bj::array channels;
  for (const auto& c : h.channels)
    channels.push_back(bj::object{{"name", c.name},
                                  {"state", c.state},
                                  {"errors", c.errors},
                                  {"lost_samples", c.lost_samples}});
  bj::array faults;
  for (const auto& f : h.faults) faults.push_back(bj::string(f));
  const std::int64_t oldest_age_s =
      h.outbox.oldest_unsent_unix_us > 0
          ? std::max<std::int64_t>(0, (h.now_unix_us - h.outbox.oldest_unsent_unix_us) / 1000000)
          : 0;
  bj::object o{
      {"station_id", h.station_id},
      {"sent_utc", time::format_utc_ms(h.now_unix_us)},
      {"clock", bj::object{{"sync", std::string(time::to_string(h.clock.sync))},
                           {"offset_ms", h.clock.offset_ms},
                           {"max_error_ms", h.clock.max_error_ms}}},
      {"software_sha256", h.software_sha256},
      {"uptime_s", h.uptime_s},
      {"outbox", bj::object{{"depth", h.outbox.depth},
                            {"oldest_unsent_age_s", oldest_age_s},
                            {"violations", h.outbox.violations},
                            {"conflicts", h.outbox.conflicts},
                            {"stored_bytes", h.outbox.stored_bytes},
                            {"thinned_total", h.outbox.thinned_total}}},
      {"disk", bj::object{{"used_bytes", h.disk.used_bytes}, {"free_bytes", h.disk.free_bytes}}},
      {"channels", channels},
      {"faults", faults},
  };
  return json::canonical(o);
}

}  // namespace wim::edge
