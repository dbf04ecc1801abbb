// SPDX-License-Identifier: Apache-2.0
// Station identity for provisioning (`wim-edge keygen`): the record-signing key (Ed25519),
// its public key for the collector's registry, and the TLS client key with a certificate
// request (CSR) for the deployment's CA. Private keys are written 0600 and never
// overwritten. Errors: InputError (bad station id, file exists), SystemError (I/O, OpenSSL).
#pragma once
#include <filesystem>
#include <string>

namespace wim::edge {

struct StationIdentityFiles {
  std::filesystem::path signing_key;  ///< <dir>/<station>.key.pem (PKCS#8, 0600)
  std::filesystem::path signing_pub;  ///< <dir>/<station>.pub.pem (SPKI)
  std::filesystem::path tls_key;      ///< <dir>/<station>.tls.key.pem (EC P-256, 0600)
  std::filesystem::path tls_csr;      ///< <dir>/<station>.tls.csr.pem (CN = station id)
  std::string fingerprint;            ///< SHA-256 (hex) of the signing public key's DER
};

/// Creates `dir` when missing and the four files in it.
StationIdentityFiles generate_station_identity(const std::filesystem::path& dir,
                                               const std::string& station_id);

}  // namespace wim::edge
