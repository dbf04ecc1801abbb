// SPDX-License-Identifier: Apache-2.0
// The REAL collector (wim_collector: server, ingest, SQLite store, blob store) run in this
// process on 127.0.0.1 for the station's end-to-end tests and the drain benchmark.
// A PKI from scripts/make-ca.sh, a registry with one station; stop() and a new
// LocalCollector on the same data dir and port is a collector restart.
#pragma once
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "wim/collector/api.hpp"
#include "wim/collector/chain_export.hpp"
#include "wim/collector/ingest.hpp"
#include "wim/collector/monitor.hpp"
#include "wim/collector/registry.hpp"
#include "wim/collector/server.hpp"
#include "wim/collector/store.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/packet.hpp"
#include "wim/edge/uplink.hpp"

namespace wim::test {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

/// CA, collector certificate (127.0.0.1) and station `station_id` by scripts/make-ca.sh.
inline void make_pki(const std::filesystem::path& dir, const std::string& station_id) {
  const std::string cmd = std::string(WIM_SOURCE_DIR) + "/scripts/make-ca.sh " + dir.string() +
                          " " + station_id + " >/dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("make-ca.sh failed: " + cmd);
}

/// Uplink settings of station `station_id` towards a collector on 127.0.0.1:`port`.
inline edge::UplinkConfig uplink_config(const std::filesystem::path& pki,
                                        const std::string& station_id, std::uint16_t port) {
  edge::UplinkConfig c;
  c.station_id = station_id;
  c.host = "127.0.0.1";
  c.port = std::to_string(port);
  c.ca_file = (pki / "ca.cert.pem").string();
  c.cert_file = (pki / "stations" / (station_id + ".cert.pem")).string();
  c.key_file = (pki / "stations" / (station_id + ".key.pem")).string();
  c.op_timeout = std::chrono::milliseconds(5000);
  return c;
}

class LocalCollector {
 public:
  /// Serves on 127.0.0.1:`port` (0: the OS picks; see port()). Data in `data_dir`.
  LocalCollector(const std::filesystem::path& pki, const std::filesystem::path& data_dir,
                 const std::string& station_id, const crypto::VerifyKey& signing_key,
                 std::uint16_t port = 0)
      : LocalCollector(pki, data_dir, {{station_id, signing_key}}, port) {}
  /// Several stations (id, signing key), each with its certificate from make_pki in `pki`.
  LocalCollector(const std::filesystem::path& pki, const std::filesystem::path& data_dir,
                 const std::vector<std::pair<std::string, crypto::VerifyKey>>& stations,
                 std::uint16_t port = 0)
      : data_dir_(data_dir),
        store_(collector::open_sqlite_store(data_dir / "meta.db")),
        blobs_(data_dir / "blobs") {
    boost::json::array entries;
    for (const auto& [station_id, signing_key] : stations)
      entries.push_back(boost::json::object{
          {"id", station_id},
          {"location", {{"lat", 30.1}, {"lon", 120.2}}},
          {"lanes", 2},
          {"tls_cert_sha256", slurp(pki / "stations" / (station_id + ".sha256"))},
          {"signing_key_pem", signing_key.to_pem()},
          {"revoked", false}});
    {  // a registry file, as the daemon has: reload_registry() reads it again (SIGHUP's)
      std::ofstream out(registry_file());
      out << boost::json::serialize(boost::json::object{{"stations", std::move(entries)}});
    }
    registry_ = std::make_shared<collector::RegistryHolder>(registry_file());
    ingest_ = std::make_unique<collector::Ingest>(*store_, blobs_, registry_);
    monitor_ = std::make_unique<collector::Monitor>(*store_, collector::MonitorOptions{});
    ingest_->add_observer(monitor_.get());
    api_ = std::make_unique<collector::Api>(*ingest_, *store_, *monitor_, registry_);
    tls_ = std::make_unique<boost::asio::ssl::context>(collector::make_server_tls(
        pki / "collector.cert.pem", pki / "collector.key.pem", pki / "ca.cert.pem"));
    collector::ServerOptions opt;
    opt.port = port;
    opt.timeout = std::chrono::seconds(10);
    server_ = std::make_unique<collector::Server>(
        ioc_, opt,
        [this](const collector::Request& r, const collector::Peer& p) {
          return api_->station(r, p);
        },
        tls_.get(), registry_);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~LocalCollector() { stop(); }
  LocalCollector(const LocalCollector&) = delete;
  LocalCollector& operator=(const LocalCollector&) = delete;

  void stop() {
    if (!thread_.joinable()) return;
    server_->stop();
    ioc_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return server_->port(); }
  /// <data_dir>/registry.json, the registry this collector serves.
  std::filesystem::path registry_file() const { return data_dir_ / "registry.json"; }
  /// What the daemon does on SIGHUP; false (and the old registry kept) on a bad file.
  bool reload_registry() { return registry_->reload(); }
  const collector::MetadataStore& store() const { return *store_; }
  const collector::IngestCounters& counters() const { return ingest_->counters(); }

  /// The packets the collector stored for `station`, seq 1..highest, read back through
  /// its store interfaces (manifest, signature, attachments from the blob store).
  std::vector<packet::Packet> stored_packets(const std::string& station) const {
    std::vector<packet::Packet> out;
    const auto chain = store_->chain(station);
    for (std::int64_t seq = 1; seq <= chain.highest_seq; ++seq)
      if (auto p = collector::load_stored_packet(*store_, blobs_, station, seq))
        out.push_back(std::move(*p));
    return out;
  }

 private:
  std::filesystem::path data_dir_;
  std::unique_ptr<collector::MetadataStore> store_;
  collector::FileBlobStore blobs_;
  std::shared_ptr<collector::RegistryHolder> registry_;
  std::unique_ptr<collector::Ingest> ingest_;
  std::unique_ptr<collector::Monitor> monitor_;
  std::unique_ptr<collector::Api> api_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  boost::asio::io_context ioc_;
  std::unique_ptr<collector::Server> server_;
  std::thread thread_;
};

}  // namespace wim::test
