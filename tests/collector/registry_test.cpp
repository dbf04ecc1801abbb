// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/registry.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

#include "test_util.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"

using namespace wim::collector;
using wim::collector::test::temp_dir;
using wim::collector::test::write_file;

namespace {

const std::string kFp1(64, 'a');
const std::string kFp2(64, 'b');

std::string entry(const std::string& id, const std::string& fp, const std::string& key_pem,
                  const std::string& extra = "") {
  boost::json::object o{
      {"id", id},   {"name", "Point " + id}, {"location", {{"lat", 31.2}, {"lon", 121.4}}},
      {"lanes", 2}, {"tls_cert_sha256", fp}, {"signing_key_pem", key_pem}};
  std::string s = boost::json::serialize(o);
  if (!extra.empty()) s.insert(s.size() - 1, "," + extra);
  return s;
}

std::string registry(const std::string& entries) {
  return "{\"stations\":[" + entries + "]}";
}

std::string error_of(const std::string& text) {
  try {
    Registry::parse(text, "reg.json", ".");
  } catch (const wim::InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("registry: valid file gives lookups by id and certificate") {
  auto pem = wim::crypto::SigningKey::generate().public_key().to_pem();
  GIVEN("two stations, one revoked") {
    auto r = Registry::parse(
        registry(entry("G001", kFp1, pem) + "," + entry("G002", kFp2, pem, "\"revoked\":true")),
        "reg.json", ".");
    THEN("both are found by id and fingerprint, with their fields") {
      REQUIRE(r.stations().size() == 2);
      REQUIRE(r.by_id("G001") != nullptr);
      CHECK(r.by_id("G001")->lanes == 2);
      CHECK(r.by_id("G001")->lat_deg == Approx(31.2));
      CHECK_FALSE(r.by_id("G001")->revoked);
      CHECK(r.by_cert_sha256(kFp2)->id == "G002");
      CHECK(r.by_cert_sha256(kFp2)->revoked);
      CHECK(r.by_id("G009") == nullptr);
      CHECK(r.by_id("G001")->signing_key->to_pem() == pem);
    }
  }
}

TEST_CASE("registry: errors name the entry and the field") {
  auto pem = wim::crypto::SigningKey::generate().public_key().to_pem();
  CHECK_THAT(error_of(registry(entry("G001", "abc", pem))),
             Catch::Contains("reg.json") &&
                 Catch::Contains("reg.json: /stations/0/tls_cert_sha256: expected 64 hex"));
  CHECK_THAT(error_of(registry(entry("G001", kFp1, "not a key"))),
             Catch::Contains("/stations/0/signing_key_pem: expected an Ed25519 public key PEM"));
  CHECK_THAT(error_of(registry(entry("G001", kFp1, pem) + "," + entry("G001", kFp2, pem))),
             Catch::Contains("/stations/1/id: duplicate station id G001"));
  CHECK_THAT(error_of(registry(entry("G001", kFp1, pem) + "," + entry("G002", kFp1, pem))),
             Catch::Contains("/stations/1/tls_cert_sha256: same certificate as station G001"));
  CHECK_THAT(error_of(registry(entry("G 1", kFp1, pem))),
             Catch::Contains("/stations/0/id: expected 1-32 letters"));
  CHECK_THAT(error_of(R"({"stations":[{"id":"G001","location":{"lat":95,"lon":1},"lanes":1}]})"),
             Catch::Contains("/stations/0/location/lat: expected a latitude in [-90, 90]"));
  CHECK_THAT(error_of(R"({"stations":[{"id":"G001","location":{"lat":5,"lon":1},"lanes":0}]})"),
             Catch::Contains("/stations/0/lanes: expected 1..8 lanes"));
  CHECK_THAT(error_of(R"({"stations":[{"id":"G001","location":{"lat":5,"lon":1},"lanes":1}]})"),
             Catch::Contains("/stations/0/tls_cert_sha256: missing"));
  CHECK_THAT(error_of("{\"stations\":[}"),
             Catch::Contains("reg.json") && Catch::Contains("line 1"));
  CHECK_THAT(error_of("{}"), Catch::Contains("reg.json: /stations: missing"));
}

TEST_CASE("registry: every mistake is reported at once, each at its JSON pointer") {
  auto pem = wim::crypto::SigningKey::generate().public_key().to_pem();
  const auto text = registry(
      R"({"id":"G 1","location":{"lat":95,"lon":"east"},"lanes":9,"tls_cert_sha256":"abc",)"
      R"("signing_key_pem":"not a key","revoked":"no"},)" +
      entry("G002", kFp1, pem) + "," + entry("G003", kFp1, pem) + ",17," +
      entry("G002", kFp2, pem));
  ConfigProblems p;
  const auto r = Registry::parse(text, "reg.json", ".", &p);
  std::vector<std::string> where;
  for (const auto& x : p.list()) {
    CHECK(x.file == "reg.json");
    CHECK_FALSE(x.message.empty());
    where.push_back(x.pointer);
  }
  CHECK(where == std::vector<std::string>{
                     "/stations/0/id", "/stations/0/location/lat", "/stations/0/location/lon",
                     "/stations/0/lanes", "/stations/0/tls_cert_sha256",
                     "/stations/0/signing_key_pem", "/stations/0/revoked",
                     "/stations/2/tls_cert_sha256", "/stations/3", "/stations/4/id"});
  // The good station stays (a caller collecting problems gets what was readable).
  REQUIRE(r.stations().size() == 1);
  CHECK(r.stations()[0].id == "G002");
  // Without a collector, the one InputError carries every problem, a line each.
  const auto err = error_of(text);
  CHECK(std::count(err.begin(), err.end(), '\n') == 9);
  CHECK_THAT(err, Catch::Contains("reg.json: /stations/0/location/lon: expected a number"));
  CHECK_THAT(err, Catch::Contains("reg.json: /stations/3: expected an object (a station)"));
}

TEST_CASE("registry: files relative to the registry, reload keeps the old one on error") {
  auto dir = temp_dir("registry");
  auto key = wim::crypto::SigningKey::generate().public_key();
  write_file(dir / "keys/G001.pub.pem", key.to_pem());
  write_file(dir / "pki/G001.sha256", kFp1 + "\n");
  const std::string good =
      R"({"stations":[{"id":"G001","location":{"lat":1,"lon":2},"lanes":1,)"
      R"("tls_cert_sha256_file":"pki/G001.sha256","signing_key_file":"keys/G001.pub.pem"}]})";
  write_file(dir / "registry.json", good);
  RegistryHolder holder(dir / "registry.json");
  REQUIRE(holder.current()->by_cert_sha256(kFp1) != nullptr);
  CHECK(holder.current()->by_id("G001")->signing_key->raw() == key.raw());

  WHEN("the file is broken and reloaded") {
    write_file(dir / "registry.json", R"({"stations":[{"id":"G001"}]})");
    std::string err;
    CHECK_FALSE(holder.reload(&err));
    THEN("the previous registry stays and the error names the file and field") {
      CHECK_THAT(err, Catch::Contains("registry.json: /stations/0/location: missing"));
      CHECK(holder.current()->by_id("G001") != nullptr);
    }
  }
  WHEN("the station is revoked in the file and reloaded") {
    auto revoked = good;
    revoked.insert(revoked.size() - 3, ",\"revoked\":true");
    write_file(dir / "registry.json", revoked);
    REQUIRE(holder.reload());
    THEN("the new snapshot shows it revoked") {
      CHECK(holder.current()->by_id("G001")->revoked);
    }
  }
  WHEN("a referenced key file is missing") {
    std::filesystem::remove(dir / "keys/G001.pub.pem");
    std::string err;
    CHECK_FALSE(holder.reload(&err));
    CHECK_THAT(err, Catch::Contains("/stations/0/signing_key_file: cannot read file"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("registry: a station may list several certificates (a rotation's overlap)") {
  auto pem = wim::crypto::SigningKey::generate().public_key().to_pem();
  const std::string two = R"(["AA)" + std::string(62, 'a') + R"(",")" + kFp2 + R"("])";
  const auto with = [&](const std::string& fps, const std::string& id = "G001") {
    auto s = entry(id, "x", pem);
    const auto at = s.find(R"("x")");
    return s.replace(at, 3, fps);
  };
  const auto r = Registry::parse(registry(with(two)), "reg.json", ".");
  CHECK(r.by_id("G001")->tls_certs_sha256 == std::vector<std::string>{kFp1, kFp2});
  CHECK(r.by_cert_sha256(kFp1)->id == "G001");
  CHECK(r.by_cert_sha256(kFp2)->id == "G001");
  CHECK_THAT(error_of(registry(with("[]"))),
             Catch::Contains("/stations/0/tls_cert_sha256: expected 1..4 fingerprints"));
  CHECK_THAT(error_of(registry(with(R"([")" + kFp1 + R"(","abc"])"))),
             Catch::Contains("/stations/0/tls_cert_sha256/1: expected 64 hex"));
  CHECK_THAT(error_of(registry(with(R"([")" + kFp1 + R"(",")" + kFp1 + R"("])"))),
             Catch::Contains("/stations/0/tls_cert_sha256/1: listed twice"));
  CHECK_THAT(error_of(registry(entry("G002", kFp2, pem) + "," + with(two))),
             Catch::Contains("/stations/1/tls_cert_sha256/1: same certificate as station G002"));
}
