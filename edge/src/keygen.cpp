// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/keygen.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <utility>

#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"
#include "wim/common/fs_sync.hpp"

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

/// A TLS client key (EC P-256, what every TLS 1.2 CA and server accepts) and its
/// certificate request (O = wim station, CN = station id), both PEM.
std::pair<std::string, std::string> tls_key_and_request(const std::string& station_id) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> tls(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  if (!tls) throw SystemError(ssl_error("TLS key generation"));
  std::unique_ptr<BIO, decltype(&BIO_free)> kb(BIO_new(BIO_s_mem()), &BIO_free);
  if (!PEM_write_bio_PrivateKey(kb.get(), tls.get(), nullptr, nullptr, 0, nullptr, nullptr))
    throw SystemError(ssl_error("TLS key PEM"));

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
  return {bio_string(kb.get()), bio_string(rb.get())};
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

  const auto [tls_key_pem, csr_pem] = tls_key_and_request(station_id);
  write_new_file(f.tls_key, tls_key_pem, 0600);
  write_new_file(f.tls_csr, csr_pem, 0644);
  return f;
}

}  // namespace wim::edge

namespace wim::edge {
namespace {

namespace fs = std::filesystem;

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw InputError(p.string() + ": cannot read");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

X509Ptr load_cert(const fs::path& p) {
  const std::string text = slurp(p);
  std::unique_ptr<BIO, decltype(&BIO_free)> b(
      BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free);
  X509Ptr c(b ? PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr) : nullptr, &X509_free);
  ERR_clear_error();
  if (!c) throw InputError(p.string() + ": no PEM certificate in it");
  return c;
}

PkeyPtr load_key(const fs::path& p) {
  const std::string text = slurp(p);
  std::unique_ptr<BIO, decltype(&BIO_free)> b(
      BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free);
  PkeyPtr k(b ? PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr) : nullptr,
            &EVP_PKEY_free);
  ERR_clear_error();
  if (!k) throw InputError(p.string() + ": no PEM private key in it");
  return k;
}

std::string der_sha256(X509* c) {
  unsigned char* der = nullptr;
  const int n = i2d_X509(c, &der);
  if (n <= 0) throw SystemError(ssl_error("certificate DER"));
  const std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return crypto::sha256_hex(bytes);
}

bool matches(X509* c, EVP_PKEY* k) {
  const bool ok = X509_check_private_key(c, k) == 1;
  ERR_clear_error();
  return ok;
}

void rename_synced(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    throw SystemError("rename " + from.string() + " -> " + to.string() + ": " +
                      std::strerror(errno));
  fsync_dir(to.has_parent_path() ? to.parent_path() : fs::path("."));
}

/// Gives `p` the owner and group of `like` (the daemon's user reads the key; the command
/// runs as root). Not being allowed to (not root) leaves it ours, which is then the same.
void chown_like(const fs::path& p, const fs::path& like) {
  struct stat st {};
  if (::stat(like.c_str(), &st) == 0 && ::chown(p.c_str(), st.st_uid, st.st_gid) != 0 &&
      errno != EPERM)
    throw SystemError(p.string() + ": chown: " + std::strerror(errno));
}

fs::path next_of(const fs::path& p) {
  return fs::path(p.string() + ".next");
}

}  // namespace

TlsRenewalFiles begin_tls_renewal(const fs::path& key_file, const std::string& station_id) {
  if (!valid_station_id(station_id))
    throw InputError("station id '" + station_id + "': expected 1-32 letters, digits or '_'");
  TlsRenewalFiles f;
  f.next_key = next_of(key_file);
  f.csr = (key_file.has_parent_path() ? key_file.parent_path() : fs::path(".")) /
          (station_id + ".tls.next.csr.pem");
  if (fs::exists(f.next_key))
    throw InputError(f.next_key.string() +
                     ": a renewal is under way already (install its certificate with "
                     "install-cert, or remove the file and its request to start again)");
  const auto [key_pem, csr_pem] = tls_key_and_request(station_id);
  std::error_code ec;
  fs::remove(f.csr, ec);  // a request without its key is of no use
  write_new_file(f.next_key, key_pem, 0600);
  chown_like(f.next_key, key_file);
  write_new_file(f.csr, csr_pem, 0644);
  fsync_dir(f.csr.parent_path());
  return f;
}

TlsInstallResult install_tls_cert(const fs::path& cert_file, const fs::path& key_file,
                                  const fs::path& new_cert, const fs::path& ca_file,
                                  const std::string& station_id) {
  const auto cert = load_cert(new_cert);
  TlsInstallResult r;
  r.new_cert_sha256 = der_sha256(cert.get());
  const fs::path next_key = next_of(key_file);
  const bool resuming = !fs::exists(next_key);
  if (resuming) {
    // A cut after the key's rename: the key in force is the renewal's; only the
    // certificate is left to move. Anything else has no renewal to install.
    if (!fs::exists(key_file) || !matches(cert.get(), load_key(key_file).get()))
      throw InputError(next_key.string() +
                       ": missing, so there is no renewal to install (start one with "
                       "renew-cert); " +
                       new_cert.string() + " is not for the key in force");
  } else if (!matches(cert.get(), load_key(next_key).get())) {
    throw InputError(new_cert.string() + ": not a certificate for the renewal's key " +
                     next_key.string() + " (was it signed from " + station_id +
                     ".tls.next.csr.pem?)");
  }
  char cn[256] = {0};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn) <
          0 ||
      station_id != cn)
    throw InputError(new_cert.string() + ": CN '" + cn + "', expected the station id '" +
                     station_id + "'");
  {
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(),
                                                                  &X509_STORE_free);
    if (!store || X509_STORE_load_file(store.get(), ca_file.c_str()) != 1) {
      ERR_clear_error();
      throw InputError(ca_file.string() + ": cannot load the CA certificate");
    }
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                        &X509_STORE_CTX_free);
    if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1)
      throw SystemError(ssl_error("certificate check"));
    if (X509_verify_cert(ctx.get()) != 1) {
      const int err = X509_STORE_CTX_get_error(ctx.get());
      ERR_clear_error();
      throw InputError(new_cert.string() + ": does not verify against " + ca_file.string() + ": " +
                       X509_verify_cert_error_string(err));
    }
  }
  {
    std::unique_ptr<BIO, decltype(&BIO_free)> b(BIO_new(BIO_s_mem()), &BIO_free);
    ASN1_TIME_print(b.get(), X509_get0_notAfter(cert.get()));
    r.not_after_utc = bio_string(b.get());
  }
  std::error_code ec;
  if (fs::exists(cert_file, ec)) {
    try {
      r.old_cert_sha256 = der_sha256(load_cert(cert_file).get());
    } catch (const InputError&) {
      // an unreadable old certificate is replaced all the same
    }
  }
  // The certificate goes beside cert_file first, so that each rename is of a complete file.
  const fs::path cert_next = next_of(cert_file);
  fs::remove(cert_next, ec);
  write_new_file(cert_next, slurp(new_cert), 0644);
  chown_like(cert_next, cert_file);
  if (!resuming) rename_synced(next_key, key_file);
  rename_synced(cert_next, cert_file);
  fs::remove((key_file.has_parent_path() ? key_file.parent_path() : fs::path(".")) /
                 (station_id + ".tls.next.csr.pem"),
             ec);
  return r;
}

}  // namespace wim::edge
