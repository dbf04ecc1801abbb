// SPDX-License-Identifier: Apache-2.0
// A station's TLS client certificate rotation on the collector side (docs/operator-guide.md
// "Rotate a station's certificate"): the registry entry accepts the new certificate's
// fingerprint beside the old one (`add`), both are accepted for the overlap, then the old
// one is retired (`retire`). Each change rewrites the registry file atomically (checked
// with Registry::parse first) and appends one JSON line to the registry's change log
// (registry-changes.jsonl beside it); the running collector takes it on SIGHUP.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace wim::collector {

/// SHA-256 (lower-case hex) of the DER encoding of the first certificate in a PEM file;
/// throws InputError naming the file when it holds no certificate.
std::string cert_pem_file_sha256(const std::filesystem::path& pem);

/// A fingerprint argument as the registry keeps it: 64 hex digits, colons allowed (the
/// form of `openssl x509 -fingerprint -sha256`), any case. Throws InputError saying what
/// is wrong with it (length, a non-hex character).
std::string parse_cert_fingerprint(std::string_view arg);

enum class CertChangeAction { add, retire };

struct CertChange {
  std::string station_id;
  CertChangeAction action = CertChangeAction::add;
  std::string fingerprint;            ///< the one added or retired
  std::vector<std::string> accepted;  ///< the station's fingerprints after the change
  std::filesystem::path log_file;     ///< where the change line was appended
};

/// Adds (accepted beside the others) or retires `fingerprint` for station `station_id` in
/// the registry file. Refuses, with the registry unchanged (InputError): a registry with
/// a mistake, an unknown station, a fingerprint of another station, adding one the
/// station has or more than kMaxStationCerts, retiring one it does not have or its last
/// one (revoke the station instead). `actor` and the UTC time go into the change line.
CertChange change_station_cert(const std::filesystem::path& registry_file,
                               const std::string& station_id, CertChangeAction action,
                               const std::string& fingerprint, const std::string& actor,
                               std::int64_t now_unix_us);

/// The change log beside `registry_file`.
std::filesystem::path registry_change_log(const std::filesystem::path& registry_file);

}  // namespace wim::collector
