// SPDX-License-Identifier: Apache-2.0
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "station_test_util.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"
#include "wim/edge/keygen.hpp"

using namespace wim;

namespace {
unsigned mode_of(const std::filesystem::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}
std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

SCENARIO("keygen provisions a station identity a technician can hand to the CA") {
  test::TempDir dir("keygen");
  GIVEN("an empty directory") {
    auto f = edge::generate_station_identity(dir / "keys", "G017");
    THEN("the private keys are 0600 and the signing key signs what the public key verifies") {
      CHECK(mode_of(f.signing_key) == 0600);
      CHECK(mode_of(f.tls_key) == 0600);
      auto key = crypto::SigningKey::load_pem_file(f.signing_key);
      auto pub = crypto::VerifyKey::load_pem_file(f.signing_pub);
      CHECK(pub.fingerprint() == f.fingerprint);
      CHECK(f.fingerprint.size() == 64);
      CHECK(pub.verify("manifest", key.sign("manifest")));
    }
    THEN("the CSR names the station and is signed by the TLS key") {
      std::string pem = slurp(f.tls_csr);
      BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
      X509_REQ* req = PEM_read_bio_X509_REQ(b, nullptr, nullptr, nullptr);
      BIO_free(b);
      REQUIRE(req != nullptr);
      EVP_PKEY* pk = X509_REQ_get0_pubkey(req);
      CHECK(X509_REQ_verify(req, pk) == 1);
      char cn[64] = {0};
      X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof cn);
      CHECK(std::string(cn) == "G017");
      X509_REQ_free(req);
    }
    THEN("running it again refuses to overwrite the identity") {
      const std::string before = slurp(f.signing_key);
      CHECK_THROWS_WITH(edge::generate_station_identity(dir / "keys", "G017"),
                        Catch::Contains("refusing to overwrite"));
      CHECK(slurp(f.signing_key) == before);
    }
  }
  CHECK_THROWS_AS(edge::generate_station_identity(dir / "k2", "../evil"), InputError);
}
