// SPDX-License-Identifier: Apache-2.0
#include "wim/common/crypto.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "wim/common/error.hpp"
#include "wim/common/fs_sync.hpp"

namespace wim::crypto {
namespace {

std::string openssl_error(const char* what) {
  unsigned long code = ERR_get_error();
  char buf[256] = {0};
  if (code != 0) ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return std::string(what) + (code ? std::string(": ") + buf : std::string());
}

struct BioDeleter {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

void require_ed25519(EVP_PKEY* key, const std::string& what) {
  if (EVP_PKEY_id(key) != EVP_PKEY_ED25519) throw InputError(what + ": not an Ed25519 key");
}

}  // namespace

void PkeyDeleter::operator()(EVP_PKEY* p) const noexcept {
  EVP_PKEY_free(p);
}

Sha256Digest sha256(std::string_view data) {
  Sha256Digest out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1)
    throw SystemError(openssl_error("SHA-256"));
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xF]);
  }
  return out;
}

std::string from_hex(std::string_view hex) {
  if (hex.size() % 2) throw InputError("hex string of odd length " + std::to_string(hex.size()));
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw InputError(std::string("not a hex digit: '") + c + "'");
  };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return out;
}

std::string sha256_hex(std::string_view data) {
  auto d = sha256(data);
  return to_hex({reinterpret_cast<const char*>(d.data()), d.size()});
}

std::string sha256_file_hex(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SystemError("cannot read " + path.string());
  Sha256Stream s;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    s.update({buf.data(), static_cast<std::size_t>(in.gcount())});
  }
  return s.final_hex();
}

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1)
    throw SystemError(openssl_error("SHA-256 init"));
}
Sha256Stream::~Sha256Stream() {
  EVP_MD_CTX_free(ctx_);
}
void Sha256Stream::update(std::string_view data) {
  if (EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1)
    throw SystemError(openssl_error("SHA-256 update"));
}
std::string Sha256Stream::final_hex() {
  Sha256Digest out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1)
    throw SystemError(openssl_error("SHA-256 final"));
  return to_hex({reinterpret_cast<const char*>(out.data()), out.size()});
}

// ---- VerifyKey

VerifyKey VerifyKey::from_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) throw InputError(openssl_error("not a PEM public key"));
  require_ed25519(key.get(), "public key");
  return VerifyKey(std::move(key));
}

VerifyKey VerifyKey::load_pem_file(const std::filesystem::path& path) {
  try {
    return from_pem(read_file(path));
  } catch (const InputError& e) {
    throw InputError(path.string() + ": " + e.what());
  }
}

VerifyKey VerifyKey::from_raw(std::string_view raw32) {
  if (raw32.size() != 32)
    throw InputError("Ed25519 public key must be 32 bytes, got " + std::to_string(raw32.size()));
  PkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                          reinterpret_cast<const unsigned char*>(raw32.data()),
                                          raw32.size()));
  if (!key) throw InputError(openssl_error("bad Ed25519 public key"));
  return VerifyKey(std::move(key));
}

std::string VerifyKey::to_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) throw SystemError(openssl_error("PEM"));
  return bio_to_string(bio.get());
}

std::string VerifyKey::raw() const {
  std::string out(32, '\0');
  std::size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(out.data()), &len) !=
      1)
    throw SystemError(openssl_error("raw public key"));
  out.resize(len);
  return out;
}

std::string VerifyKey::fingerprint() const {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key_.get(), &der);
  if (len <= 0) throw SystemError(openssl_error("DER public key"));
  std::string bytes(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return sha256_hex(bytes);
}

bool VerifyKey::verify(std::string_view message, std::string_view signature64) const {
  if (signature64.size() != 64) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1)
    throw SystemError(openssl_error("verify init"));
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature64.data()),
                            signature64.size(),
                            reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();
  return rc == 1;
}

// ---- SigningKey

SigningKey SigningKey::generate() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!raw) throw SystemError(openssl_error("Ed25519 key generation"));
  return SigningKey(PkeyPtr(raw));
}

SigningKey SigningKey::from_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) throw InputError(openssl_error("not a PEM private key"));
  require_ed25519(key.get(), "private key");
  return SigningKey(std::move(key));
}

SigningKey SigningKey::load_pem_file(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw InputError(path.string() + ": no such key file");
  if (st.st_mode & 077) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw InputError(path.string() + ": private key is readable by others (mode " + mode +
                     "); chmod 600 it");
  }
  try {
    return from_pem(read_file(path));
  } catch (const InputError& e) {
    throw InputError(path.string() + ": " + e.what());
  }
}

std::string SigningKey::to_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    throw SystemError(openssl_error("PEM"));
  return bio_to_string(bio.get());
}

void SigningKey::save_pem_file(const std::filesystem::path& path) const {
  std::string pem = to_pem();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw SystemError("cannot create key file " + path.string() + " (exists?)");
  bool ok = ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) throw SystemError("cannot write key file " + path.string());
}

VerifyKey SigningKey::public_key() const {
  std::string raw(32, '\0');
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(raw.data()), &len) !=
      1)
    throw SystemError(openssl_error("raw public key"));
  return VerifyKey::from_raw(raw);
}

std::string SigningKey::sign(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1)
    throw SystemError(openssl_error("sign init"));
  std::string sig(64, '\0');
  std::size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1)
    throw SystemError(openssl_error("sign"));
  sig.resize(len);
  return sig;
}

}  // namespace wim::crypto
