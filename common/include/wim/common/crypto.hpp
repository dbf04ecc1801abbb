// SPDX-License-Identifier: Apache-2.0
// SHA-256 and Ed25519 through OpenSSL 3 EVP. Thread-safety: the free functions and
// const members are safe to call from several threads; a key object is not shared-mutable.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace wim::crypto {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(std::string_view data);
/// Lower-case hex SHA-256 (64 characters) of `data`.
std::string sha256_hex(std::string_view data);
/// Lower-case hex SHA-256 of a file's bytes; throws SystemError when unreadable.
std::string sha256_file_hex(const std::filesystem::path& path);
std::string to_hex(std::string_view bytes);
/// Inverse of to_hex; throws InputError on odd length or a non-hex character.
std::string from_hex(std::string_view hex);

/// Incremental SHA-256 for data that arrives in pieces.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void update(std::string_view data);
  std::string final_hex();

 private:
  EVP_MD_CTX* ctx_;
};

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const noexcept;
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

/// An Ed25519 public key: verifies raw 64-byte signatures (no pre-hash), as
/// `openssl pkeyutl -verify -rawin` does.
class VerifyKey {
 public:
  /// From SPKI PEM text ("-----BEGIN PUBLIC KEY-----"); throws InputError.
  static VerifyKey from_pem(std::string_view pem);
  static VerifyKey load_pem_file(const std::filesystem::path& path);
  /// From the raw 32-byte public key.
  static VerifyKey from_raw(std::string_view raw32);

  std::string to_pem() const;
  std::string raw() const;  ///< 32 bytes
  /// SHA-256 (hex) of the DER SubjectPublicKeyInfo: the same as
  /// `openssl pkey -pubin -in key.pem -outform DER | sha256sum`.
  std::string fingerprint() const;
  bool verify(std::string_view message, std::string_view signature64) const;

 private:
  explicit VerifyKey(PkeyPtr key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

/// An Ed25519 private key. Key files are PKCS#8 PEM, created with mode 0600; loading
/// refuses a file that group or others can read (InputError naming the file and mode).
class SigningKey {
 public:
  static SigningKey generate();
  static SigningKey from_pem(std::string_view pem);
  static SigningKey load_pem_file(const std::filesystem::path& path);
  /// Writes the private key (0600, refuses to overwrite an existing file).
  void save_pem_file(const std::filesystem::path& path) const;
  std::string to_pem() const;
  VerifyKey public_key() const;
  /// Raw 64-byte Ed25519 signature of `message`.
  std::string sign(std::string_view message) const;

 private:
  explicit SigningKey(PkeyPtr key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

}  // namespace wim::crypto
