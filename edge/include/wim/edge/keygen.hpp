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

namespace wim::edge {

// A station's TLS client certificate rotation (docs/technician-guide.md "Renew the TLS
// certificate"): the old key and certificate stay in force until the new certificate is
// installed, so the station keeps reporting while the CA signs the request and the
// collector's operator adds the new fingerprint (wim-collector station-cert add).

struct TlsRenewalFiles {
  std::filesystem::path next_key;  ///< <key_file>.next (EC P-256, 0600, the key file's owner)
  std::filesystem::path csr;       ///< <key_file's folder>/<station>.tls.next.csr.pem
};

/// A new TLS key and its request (CN = station id) beside the key in force, which is not
/// touched. Refuses (InputError) when a renewal is already under way (`<key_file>.next`
/// exists: install its certificate or remove it).
TlsRenewalFiles begin_tls_renewal(const std::filesystem::path& key_file,
                                  const std::string& station_id);

struct TlsInstallResult {
  std::string old_cert_sha256;  ///< SHA-256 (hex) of the DER certificate replaced ("" none)
  std::string new_cert_sha256;  ///< the one now in cert_file (the registry's fingerprint)
  std::string not_after_utc;    ///< the new certificate's end of validity
};

/// Installs `new_cert` (PEM) for the renewal's key: checks that it is a certificate for
/// `<key_file>.next`'s key, that its CN is `station_id`, that it verifies against
/// `ca_file` and is valid now; then the key and certificate replace key_file and
/// cert_file (renames, fsync'ed). Each refusal is an InputError naming what is wrong;
/// nothing is changed then. Run again after a power cut mid-install, it completes it
/// (the key is already in place: the certificate follows). The running daemon's uplink
/// loads the pair at each connection (UplinkClient::run_once): no restart is needed.
TlsInstallResult install_tls_cert(const std::filesystem::path& cert_file,
                                  const std::filesystem::path& key_file,
                                  const std::filesystem::path& new_cert,
                                  const std::filesystem::path& ca_file,
                                  const std::string& station_id);

}  // namespace wim::edge
