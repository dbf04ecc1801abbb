// SPDX-License-Identifier: Apache-2.0
// The station registry: which stations exist, which TLS client certificate each one
// presents and which Ed25519 key signs its records. An operator edits a JSON file; the
// collector reloads it on SIGHUP (RegistryHolder::reload), keeping the old one when the
// new file has an error.
//
// File format (docs/collector.md):
//   {"stations":[{"id":"G001","name":"...","location":{"lat":31.2,"lon":121.4},"lanes":2,
//                 "tls_cert_sha256":"<64 hex>" | ["<64 hex>", ...] |
//                 "tls_cert_sha256_file":"pki/G001.sha256",
//                 "signing_key_pem":"-----BEGIN PUBLIC KEY-----..." |
//                 "signing_key_file":"keys/G001.pub.pem",
//                 "revoked":false}]}
// A list of fingerprints is a certificate rotation's overlap: each is accepted (wim-collector
// station-cert add / retire edit it). Relative file paths are relative to the registry file's
// folder.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "wim/collector/problems.hpp"
#include "wim/common/crypto.hpp"

namespace wim::collector {

/// At most this many certificates are accepted for one station at a time.
inline constexpr std::size_t kMaxStationCerts = 4;

struct StationEntry {
  std::string id;
  std::string name;
  double lat_deg = 0;  ///< [deg] WGS84 latitude
  double lon_deg = 0;  ///< [deg] WGS84 longitude
  int lanes = 1;
  /// Lower-case hex SHA-256 of each DER client certificate accepted for the station (one;
  /// two during a certificate rotation's overlap).
  std::vector<std::string> tls_certs_sha256;
  std::shared_ptr<const crypto::VerifyKey> signing_key;
  bool revoked = false;
};

/// An immutable snapshot of the registry. Thread-safe (read-only after construction).
class Registry {
 public:
  /// Parses registry JSON; `what` names the source in errors and `base_dir` resolves
  /// relative paths. Every mistake is found (ConfigProblem: "<what>: /stations/3/lanes:
  /// expected 1..8 lanes"). Without `problems`, throws them all as one InputError; with
  /// it, adds them there and returns the stations that had none.
  static Registry parse(std::string_view text, std::string_view what,
                        const std::filesystem::path& base_dir, ConfigProblems* problems = nullptr);
  static Registry load_file(const std::filesystem::path& path, ConfigProblems* problems = nullptr);

  const StationEntry* by_id(std::string_view id) const;
  /// The station whose client certificate has this fingerprint (revoked or not).
  const StationEntry* by_cert_sha256(std::string_view fingerprint_hex) const;
  const std::vector<StationEntry>& stations() const { return stations_; }

 private:
  std::vector<StationEntry> stations_;
  std::map<std::string, std::size_t, std::less<>> by_id_;
  std::map<std::string, std::size_t, std::less<>> by_cert_;
};

/// Holds the current registry for many threads and reloads it from its file.
class RegistryHolder {
 public:
  explicit RegistryHolder(std::filesystem::path path);  ///< loads; throws InputError
  RegistryHolder(Registry initial, std::filesystem::path path);
  std::shared_ptr<const Registry> current() const;
  /// Reloads the file. On error keeps the current registry, logs and returns false.
  bool reload(std::string* error = nullptr);
  void replace(Registry r);

 private:
  std::filesystem::path path_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Registry> current_;
};

}  // namespace wim::collector
