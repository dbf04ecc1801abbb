// SPDX-License-Identifier: Apache-2.0
// A whole station (edge::Station: the daemon's classes, no main) on an in-process simulated
// roadside for the daemon tests: station.json with a "sim" acquisition section, a signing
// key, uplink files, and a compressed simulated clock shared by the sim source and the
// station (records, clock watch), with an injectable wall-clock step.
#pragma once
#include <atomic>
#include <boost/json.hpp>
#include <fstream>
#include <thread>

#include "sim_source.hpp"  // wim_sim
#include "station_test_util.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/time.hpp"
#include "wim/edge/station.hpp"
#include "wim/hw/source_factory.hpp"

namespace wim::test {

/// Simulated time running `scale` times faster than the monotonic clock from construction.
/// now(): UTC of the simulated wall clock (plus the injected step); mono(): its monotonic.
struct SimClock {
  explicit SimClock(double s, std::int64_t start_unix_us)
      : scale(s), start_us(start_unix_us), mono0(time::monotonic_us()) {}
  std::int64_t mono() const {
    return static_cast<std::int64_t>(static_cast<double>(time::monotonic_us() - mono0) * scale);
  }
  std::int64_t now() const { return start_us + mono() + step_us.load(); }
  double scale;
  std::int64_t start_us, mono0;
  std::atomic<std::int64_t> step_us{0};  ///< [us] injected wall-clock step
};

/// A JSON string value as std::string ("" for anything else).
inline std::string str(const boost::json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : std::string();
}

/// Waits up to `seconds` for `pred`.
template <class Pred>
bool wait_for(Pred pred, double seconds) {
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

/// Every record still in the outbox, as manifests (seq order).
inline std::vector<packet::Packet> outbox_packets(edge::Outbox& box) {
  std::vector<packet::Packet> out;
  for (auto& r : box.pending(1000000, 1ULL << 40)) {
    auto ps = packet::from_tar(r.packet);
    for (auto& p : ps) out.push_back(std::move(p));
  }
  return out;
}

inline std::vector<record::Manifest> events_of(const std::vector<packet::Packet>& ps,
                                               const std::string& type) {
  std::vector<record::Manifest> out;
  for (const auto& p : ps) {
    auto m = p.manifest();
    if (m.event && m.event->type == type) out.push_back(std::move(m));
  }
  return out;
}

class StationFixture {
 public:
  /// `acquisition`: the "acquisition" section (empty object: none, no weighing).
  StationFixture(const std::string& tag, boost::json::object acquisition)
      : dir_(tag), key_(crypto::SigningKey::generate()) {
    key_.save_pem_file(dir_ / "G017.key.pem");
    // Uplink files only need to exist for the config check; tests with a collector
    // replace them by a real PKI (use_pki).
    for (const char* f : {"ca.pem", "cert.pem", "tls.key.pem"}) std::ofstream(dir_ / f) << "x\n";
    cfg_["station_id"] = "G017";
    cfg_["keys"] = {{"signing_key", (dir_ / "G017.key.pem").string()}};
    cfg_["uplink"] = {{"url", "https://127.0.0.1:1"},
                      {"ca_file", (dir_ / "ca.pem").string()},
                      {"cert_file", (dir_ / "cert.pem").string()},
                      {"key_file", (dir_ / "tls.key.pem").string()},
                      {"timeout_s", 2},
                      {"heartbeat_s", 1}};
    cfg_["outbox"] = {{"path", (dir_ / "outbox.db").string()}, {"quota_mb", 64}};
    cfg_["status"] = {{"socket", (dir_ / "status.sock").string()}};
    cfg_["calibration"] = {{"id", "SIM-CAL-1"}};
    if (!acquisition.empty()) {
      // The contract-2 channels that match the simulated source.
      auto src = hw::make_source(acquisition, "test acquisition");
      auto* sim = dynamic_cast<sim::SimSource*>(src.get());
      if (!sim) throw std::runtime_error("fixture: acquisition must be a sim source");
      for (auto& [k, v] : sim->station_json())
        if (k != "station_id") cfg_[k] = v;
      cfg_["acquisition"] = std::move(acquisition);
    } else {
      cfg_["channels"] = boost::json::array{};
    }
    write();
  }

  /// Uplink to a real collector with the PKI of make_pki in `pki`.
  void use_pki(const std::filesystem::path& pki, std::uint16_t port) {
    auto& u = cfg_["uplink"].as_object();
    u["url"] = "https://127.0.0.1:" + std::to_string(port);
    u["ca_file"] = (pki / "ca.cert.pem").string();
    u["cert_file"] = (pki / "stations" / "G017.cert.pem").string();
    u["key_file"] = (pki / "stations" / "G017.key.pem").string();
    write();
  }

  void write() const {
    std::ofstream out(config());
    out << boost::json::serialize(cfg_);
  }

  boost::json::object& cfg() { return cfg_; }
  std::filesystem::path config() const { return dir_ / "station.json"; }
  const TempDir& dir() const { return dir_; }
  const crypto::SigningKey& key() const { return key_; }

 private:
  TempDir dir_;
  crypto::SigningKey key_;
  boost::json::object cfg_;
};

/// A "sim" acquisition section: one lane, paced at `scale`, starting at `start_unix_us`.
inline boost::json::object sim_acquisition(unsigned seed, double flow_veh_h, double scale,
                                           std::int64_t start_unix_us) {
  return {{"source", "sim"},
          {"seed", seed},
          {"flow_veh_h", flow_veh_h},
          {"lanes", 1},
          {"paced", true},
          {"time_scale", scale},
          {"start_utc", time::format_utc_ms(start_unix_us)}};
}

/// Station hooks that run the station on `clock` (records, clock watch).
inline edge::StationHooks sim_hooks(SimClock& clock) {
  edge::StationHooks h;
  h.now_unix_us = [&clock] { return clock.now(); };
  h.monotonic_us = [&clock] { return clock.mono(); };
  h.housekeeping_period = std::chrono::milliseconds(50);
  h.adjust_uplink = [](edge::UplinkConfig& u) {
    u.backoff_initial = std::chrono::milliseconds(50);
    u.backoff_max = std::chrono::milliseconds(300);
    u.heartbeat_period = std::chrono::milliseconds(200);
  };
  return h;
}

}  // namespace wim::test
