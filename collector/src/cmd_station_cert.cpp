// SPDX-License-Identifier: Apache-2.0
// wim-collector station-cert add|retire STATION (--cert FILE.pem | --sha256 HEX)
//                            [--config collector.json] [--by NAME]
// wim-collector station-cert list [STATION] [--config collector.json]
#include "cmd_station_cert.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "wim/collector/config.hpp"
#include "wim/collector/station_cert.hpp"
#include "wim/common/time.hpp"

namespace wim::collector {
namespace {

constexpr const char* kUsage =
    "usage: wim-collector station-cert add    STATION (--cert FILE.pem | --sha256 HEX) "
    "[--config C] [--by NAME]\n"
    "       wim-collector station-cert retire STATION (--cert FILE.pem | --sha256 HEX) "
    "[--config C] [--by NAME]\n"
    "       wim-collector station-cert list   [STATION] [--config C]\n"
    "  add: the station's new TLS client certificate is accepted beside its old one;\n"
    "  retire: a certificate is no longer accepted. The registry file is rewritten and the\n"
    "  change appended to registry-changes.jsonl beside it; then reload the collector\n"
    "  (systemctl reload wim-collector, i.e. SIGHUP). Default config /etc/wim/collector.json.\n";

std::string who(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* s = std::getenv("SUDO_USER"); s && *s) return s;
  if (const passwd* pw = ::getpwuid(::getuid())) return pw->pw_name;
  return "uid " + std::to_string(::getuid());
}

}  // namespace

int run_station_cert(int argc, char** argv) {
  std::string sub, station, config = "/etc/wim/collector.json", cert, sha, by;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&](std::string& into) {
      if (i + 1 >= argc) return false;
      into = argv[++i];
      return true;
    };
    bool ok = true;
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--config" || a == "-c")
      ok = value(config);
    else if (a == "--cert")
      ok = value(cert);
    else if (a == "--sha256")
      ok = value(sha);
    else if (a == "--by")
      ok = value(by);
    else if (a.starts_with("-"))
      ok = false;
    else if (sub.empty())
      sub = a;
    else if (station.empty())
      station = a;
    else
      ok = false;
    if (!ok) {
      std::cerr << "wim-collector station-cert: unexpected or incomplete argument " << a << "\n"
                << kUsage;
      return 2;
    }
  }
  const bool change = sub == "add" || sub == "retire";
  if (!(change || sub == "list") || (change && station.empty()) ||
      (change && cert.empty() == sha.empty()) || (!change && !(cert.empty() && sha.empty()))) {
    std::cerr << kUsage;
    return 2;
  }
  CollectorConfig cfg;
  try {
    cfg = CollectorConfig::load_file(config);
  } catch (const std::exception& e) {
    std::cerr << "wim-collector station-cert: " << e.what() << "\n";
    return 2;
  }
  try {
    if (!change) {
      const auto reg = Registry::load_file(cfg.registry);
      bool found = false;
      for (const auto& s : reg.stations()) {
        if (!station.empty() && s.id != station) continue;
        found = true;
        for (const auto& fp : s.tls_certs_sha256)
          std::cout << s.id << "\t" << fp << (s.revoked ? "\trevoked" : "") << "\n";
      }
      if (!found && !station.empty()) {
        std::cerr << "wim-collector station-cert: " << cfg.registry.string() << ": no station '"
                  << station << "'\n";
        return 1;
      }
      return 0;
    }
    const std::string fp = cert.empty() ? sha : cert_pem_file_sha256(cert);
    const auto c = change_station_cert(
        cfg.registry, station, sub == "add" ? CertChangeAction::add : CertChangeAction::retire, fp,
        who(by), time::now_unix_us());
    std::cout << (sub == "add" ? "added    " : "retired  ") << station << " " << c.fingerprint
              << "\n";
    for (const auto& a : c.accepted) std::cout << "accepted " << station << " " << a << "\n";
    std::cout << "registry " << cfg.registry.string() << " rewritten; change logged in "
              << c.log_file.string() << "\n"
              << "reload the collector to apply it: systemctl reload wim-collector (SIGHUP)\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "wim-collector station-cert: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace wim::collector
