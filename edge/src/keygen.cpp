// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/keygen.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <fstream>
#include <memory>

#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"

namespace wim::edge {
namespace {

std::string ssl_error(const std::string& what) {
  char buf[256] = {0};
  unsigned long code = ERR_get_error();
  if (code) ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return what + (code ? std::string(": ") + buf : std::string());
}

/// Writes `data` to a new file with `mode`; refuses to replace an existing one.
void write_new_file(const std::filesystem::path& p, const std::string& data, mode_t mode) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) throw InputError(p.string() + ": exists; refusing to overwrite a key");
    throw SystemError(p.string() + ": cannot create");
  }
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n <= 0) {
      ::close(fd);
      throw SystemError(p.string() + ": write failed");
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) throw SystemError(p.string() + ": fsync failed");
}

std::string bio_string(BIO* b) {
  char* d = nullptr;
  long n = BIO_get_mem_data(b, &d);
  return std::string(d, static_cast<std::size_t>(n));
}

bool valid_station_id(const std::string& id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

}  // namespace

StationIdentityFiles generate_station_identity(const std::filesystem::path& dir,
                                               const std::string& station_id) {
  if (!valid_station_id(station_id))
    throw InputError("station id '" + station_id + "': expected 1-32 letters, digits or '_'");
  std::filesystem::create_directories(dir);
  StationIdentityFiles f;
  f.signing_key = dir / (station_id + ".key.pem");
  f.signing_pub = dir / (station_id + ".pub.pem");
  f.tls_key = dir / (station_id + ".tls.key.pem");
  f.tls_csr = dir / (station_id + ".tls.csr.pem");
  for (const auto& p : {f.signing_key, f.signing_pub, f.tls_key, f.tls_csr})
    if (std::filesystem::exists(p))
      throw InputError(p.string() + ": exists; refusing to overwrite a station identity");

  auto key = crypto::SigningKey::generate();
  key.save_pem_file(f.signing_key);
  write_new_file(f.signing_pub, key.public_key().to_pem(), 0644);
  f.fingerprint = key.public_key().fingerprint();

  // TLS client key: EC P-256 (what every TLS 1.2 CA and server accepts).
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> tls(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  if (!tls) throw SystemError(ssl_error("TLS key generation"));
  std::unique_ptr<BIO, decltype(&BIO_free)> kb(BIO_new(BIO_s_mem()), &BIO_free);
  if (!PEM_write_bio_PrivateKey(kb.get(), tls.get(), nullptr, nullptr, 0, nullptr, nullptr))
    throw SystemError(ssl_error("TLS key PEM"));
  write_new_file(f.tls_key, bio_string(kb.get()), 0600);

  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(X509_REQ_new(), &X509_REQ_free);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  auto cn = reinterpret_cast<const unsigned char*>(station_id.c_str());
  if (!X509_REQ_set_version(req.get(), 0) ||
      !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                  reinterpret_cast<const unsigned char*>("wim station"), -1, -1,
                                  0) ||
      !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) ||
      !X509_REQ_set_pubkey(req.get(), tls.get()) ||
      X509_REQ_sign(req.get(), tls.get(), EVP_sha256()) <= 0)
    throw SystemError(ssl_error("certificate request"));
  std::unique_ptr<BIO, decltype(&BIO_free)> rb(BIO_new(BIO_s_mem()), &BIO_free);
  if (!PEM_write_bio_X509_REQ(rb.get(), req.get())) throw SystemError(ssl_error("CSR PEM"));
  write_new_file(f.tls_csr, bio_string(rb.get()), 0644);
  return f;
}

}  // namespace wim::edge
