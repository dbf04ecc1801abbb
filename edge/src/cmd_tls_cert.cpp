// SPDX-License-Identifier: Apache-2.0
// `wim-edge renew-cert [--config station.json]`: a new TLS key and certificate request
// beside the pair in force (which keeps working). `wim-edge install-cert --cert NEW.pem
// [--config station.json]`: the CA's certificate for that request replaces the pair
// (wim/edge/keygen.hpp). Exit 0 done, 1 refused or failed (the message says why; the pair
// in force is unchanged), 2 bad usage or config.
#include <boost/program_options.hpp>
#include <iostream>
#include <optional>

#include "wim/edge/keygen.hpp"
#include "wim/edge/station_daemon.hpp"

#include "cmd_options.hpp"

namespace po = boost::program_options;
using namespace wim;

namespace {

std::optional<edge::DaemonConfig> load(const std::string& config, const char* cmd) {
  try {
    return edge::load_daemon_config(config);
  } catch (const std::exception& e) {
    std::cerr << cmd << ": " << e.what() << "\n";
    return std::nullopt;
  }
}

}  // namespace

int cmd_renew_cert(int argc, char** argv) {
  po::options_description desc(
      "wim-edge renew-cert: a new TLS client key and certificate request for the CA; the "
      "key and certificate in force keep working until install-cert");
  std::string config = "/etc/wim/station.json";
  desc.add_options()("help,h", "this text")("config", po::value(&config),
                                            "station.json (default /etc/wim/station.json)");
  po::variables_map vm;
  if (auto done = edge::parse_command_options(argc, argv, desc, "wim-edge renew-cert", vm))
    return *done;
  const auto cfg = load(config, "wim-edge renew-cert");
  if (!cfg) return 2;
  try {
    const auto f = edge::begin_tls_renewal(cfg->uplink.key_file, cfg->station_id);
    std::cout << "new TLS key       " << f.next_key.string() << " (0600, keep secret)\n"
              << "request           " << f.csr.string()
              << " (have the deployment's CA sign it as a client certificate)\n"
              << "in force          " << cfg->uplink.cert_file << " (unchanged until "
              << "wim-edge install-cert --cert <signed.pem>)\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "wim-edge renew-cert: " << e.what() << "\n";
    return 1;
  }
}

int cmd_install_cert(int argc, char** argv) {
  po::options_description desc(
      "wim-edge install-cert: the CA's certificate for renew-cert's request replaces the "
      "TLS key and certificate in force (the daemon uses them from its next connection)");
  std::string config = "/etc/wim/station.json", cert;
  desc.add_options()("help,h", "this text")("config", po::value(&config),
                                            "station.json (default /etc/wim/station.json)")(
      "cert", po::value(&cert)->required(), "the signed certificate (PEM)");
  po::variables_map vm;
  if (auto done = edge::parse_command_options(argc, argv, desc, "wim-edge install-cert", vm))
    return *done;
  const auto cfg = load(config, "wim-edge install-cert");
  if (!cfg) return 2;
  try {
    const auto r = edge::install_tls_cert(cfg->uplink.cert_file, cfg->uplink.key_file, cert,
                                          cfg->uplink.ca_file, cfg->station_id);
    std::cout << "installed         " << cfg->uplink.cert_file << " (valid until "
              << r.not_after_utc << ")\n"
              << "new certificate   sha256 " << r.new_cert_sha256 << "\n"
              << "old certificate   sha256 "
              << (r.old_cert_sha256.empty() ? "-" : r.old_cert_sha256) << "\n"
              << "the daemon presents it from its next connection; the collector's operator "
                 "accepts the new sha256 (wim-collector station-cert add) and retires the old\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "wim-edge install-cert: " << e.what() << "\n";
    return 1;
  }
}
