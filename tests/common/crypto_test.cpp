// SPDX-License-Identifier: Apache-2.0
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"

namespace fs = std::filesystem;
using namespace wim::crypto;

namespace {
fs::path temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("wim-test-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}
}  // namespace

TEST_CASE("SHA-256 matches the FIPS 180-2 test vector") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Stream s;
  s.update("a");
  s.update("bc");
  CHECK(s.final_hex() == sha256_hex("abc"));
  CHECK(from_hex(to_hex(std::string("\x00\xff\x10", 3))) == std::string("\x00\xff\x10", 3));
  CHECK_THROWS_AS(from_hex("abc"), wim::InputError);
  CHECK_THROWS_AS(from_hex("zz"), wim::InputError);
}

TEST_CASE("Ed25519 signs and verifies, a changed byte fails") {
  GIVEN("a fresh key pair") {
    auto key = SigningKey::generate();
    auto pub = key.public_key();
    std::string msg = "{\"seq\":1}";
    auto sig = key.sign(msg);
    REQUIRE(sig.size() == 64);
    THEN("the signature verifies and any change breaks it") {
      CHECK(pub.verify(msg, sig));
      std::string bad = msg;
      bad[2] ^= 1;
      CHECK_FALSE(pub.verify(bad, sig));
      std::string bad_sig = sig;
      bad_sig[10] ^= 1;
      CHECK_FALSE(pub.verify(msg, bad_sig));
      CHECK_FALSE(pub.verify(msg, sig.substr(0, 63)));
      CHECK_FALSE(SigningKey::generate().public_key().verify(msg, sig));
    }
    THEN("PEM round trips keep the key and its fingerprint") {
      auto pub2 = VerifyKey::from_pem(pub.to_pem());
      CHECK(pub2.raw() == pub.raw());
      CHECK(pub2.fingerprint() == pub.fingerprint());
      CHECK(pub.fingerprint().size() == 64);
      auto key2 = SigningKey::from_pem(key.to_pem());
      CHECK(pub.verify(msg, key2.sign(msg)));
    }
  }
}

TEST_CASE("Private key files are created 0600 and refused when others can read them") {
  auto dir = temp_dir("keys");
  auto path = dir / "station.key";
  auto key = SigningKey::generate();
  key.save_pem_file(path);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(SigningKey::load_pem_file(path).public_key().raw() == key.public_key().raw());
  CHECK_THROWS_AS(key.save_pem_file(path), wim::SystemError);  // never overwrites a key
  fs::permissions(path, fs::perms::group_read, fs::perm_options::add);
  CHECK_THROWS_WITH(SigningKey::load_pem_file(path),
                    Catch::Contains("readable by others") && Catch::Contains("0640"));
  fs::remove_all(dir);
}

TEST_CASE("Fingerprint equals sha256 of the DER public key as openssl prints it") {
  auto dir = temp_dir("fpr");
  auto key = SigningKey::generate();
  std::ofstream(dir / "pub.pem") << key.public_key().to_pem();
  std::string cmd = "openssl pkey -pubin -in " + (dir / "pub.pem").string() +
                    " -outform DER | sha256sum > " + (dir / "out.txt").string();
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream in(dir / "out.txt");
  std::string hex;
  in >> hex;
  CHECK(hex == key.public_key().fingerprint());
  fs::remove_all(dir);
}

TEST_CASE("Garbage is not accepted as a key") {
  CHECK_THROWS_AS(VerifyKey::from_pem("not a key"), wim::InputError);
  CHECK_THROWS_AS(
      SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
      wim::InputError);
  CHECK_THROWS_AS(VerifyKey::from_raw("short"), wim::InputError);
}
