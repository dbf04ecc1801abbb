// SPDX-License-Identifier: Apache-2.0
// A station's TLS client certificate rotation through the REAL uplink on 127.0.0.1:
// wim-edge renew-cert's and install-cert's functions on the station (edge/keygen.hpp),
// wim-collector station-cert's on the registry file (collector/station_cert.hpp), the
// collector's registry reloaded as on SIGHUP. The deployment's CA (scripts/make-ca.sh)
// signs the request with the openssl CLI, as docs/technician-guide.md says.
#include <catch2/catch.hpp>

#include "e2e_records.hpp"
#include "local_collector.hpp"
#include "station_test_util.hpp"
#include "wim/collector/station_cert.hpp"
#include "wim/edge/key_rotation.hpp"
#include "wim/edge/keygen.hpp"
#include "wim/edge/outbox_sealer.hpp"
#include "wim/edge/uplink_client.hpp"

namespace fs = std::filesystem;
using namespace wim;
using namespace wim::edge;
using collector::CertChangeAction;

namespace {

using test::seal;

DrainResult drain(const UplinkConfig& cfg, Outbox& box) {
  UplinkClient client(cfg, box, [] { return std::string(); });
  return client.run_once();
}

/// The CA of `pki` signs `csr` as a station client certificate (as make-ca.sh does).
void ca_sign(const fs::path& pki, const fs::path& csr, const fs::path& out) {
  const fs::path ext = out.string() + ".ext";
  std::ofstream(ext) << "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                        "extendedKeyUsage=clientAuth\n";
  const std::string cmd =
      "openssl x509 -req -in " + csr.string() + " -CA " + (pki / "ca.cert.pem").string() +
      " -CAkey " + (pki / "ca.key.pem").string() + " -CAcreateserial -days 30 -sha256 -extfile " +
      ext.string() + " -out " + out.string() + " 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl x509 -req failed");
}

std::vector<std::string> lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

/// A station "G017" with its TLS pair copied out of make-ca's folder into its own.
struct Site {
  fs::path pki, station;
  UplinkConfig uplink;
  crypto::SigningKey signing = crypto::SigningKey::generate();
};
Site make_site(const fs::path& dir, std::uint16_t port = 0) {
  Site s{dir / "pki", dir / "station", {}};
  test::make_pki(s.pki, "G017 G018");
  fs::create_directories(s.station);
  fs::copy_file(s.pki / "stations" / "G017.cert.pem", s.station / "G017.tls.pem");
  fs::copy_file(s.pki / "stations" / "G017.key.pem", s.station / "G017.tls.key.pem");
  s.uplink = test::uplink_config(s.pki, "G017", port);
  s.uplink.cert_file = (s.station / "G017.tls.pem").string();
  s.uplink.key_file = (s.station / "G017.tls.key.pem").string();
  return s;
}

OutboxOptions box_options(const fs::path& p) {
  OutboxOptions oo;
  oo.path = p;
  oo.station_id = "G017";
  oo.create_new_chain = true;
  return oo;
}

}  // namespace

SCENARIO(
    "A station renews its TLS certificate: both are accepted for the overlap, then only "
    "the new one") {
  test::TempDir dir("cert-rotate");
  Site site = make_site(dir.path());
  Outbox box(box_options(dir / "outbox.db"));
  OutboxSealer sealer(box, "G017", site.signing, test::kSoftwareSha);
  fs::create_directories(dir / "coll");
  test::LocalCollector collector(
      site.pki, dir / "coll",
      {{"G017", site.signing.public_key()}, {"G018", crypto::SigningKey::generate().public_key()}});
  site.uplink.port = std::to_string(collector.port());
  std::int64_t t_us = time::now_unix_us();
  const std::string old_fp = collector::cert_pem_file_sha256(site.uplink.cert_file);
  REQUIRE(old_fp == test::slurp(site.pki / "stations" / "G017.sha256"));
  // The old pair as it was, for a client still presenting it during and after the overlap.
  UplinkConfig old_uplink = site.uplink;
  old_uplink.cert_file = (dir / "old.tls.pem").string();
  old_uplink.key_file = (dir / "old.tls.key.pem").string();
  fs::copy_file(site.uplink.cert_file, old_uplink.cert_file);
  fs::copy_file(site.uplink.key_file, old_uplink.key_file);

  seal(sealer, 3, t_us);
  REQUIRE(drain(site.uplink, box).acknowledged == 3);

  WHEN("the technician renews, the CA signs, the operator adds, the technician installs") {
    const auto renewal = begin_tls_renewal(site.uplink.key_file, "G017");
    CHECK(renewal.next_key == fs::path(site.uplink.key_file + ".next"));
    CHECK((fs::status(renewal.next_key).permissions() & fs::perms::group_all) == fs::perms::none);
    // The pair in force is untouched and keeps working while the CA signs.
    seal(sealer, 2, t_us);
    CHECK(drain(site.uplink, box).acknowledged == 2);
    ca_sign(site.pki, renewal.csr, dir / "new.pem");
    const std::string new_fp = collector::cert_pem_file_sha256(dir / "new.pem");

    // Installed before the operator adds it: refused in the handshake, records wait.
    const auto early = install_tls_cert(site.uplink.cert_file, site.uplink.key_file,
                                        dir / "new.pem", site.uplink.ca_file, "G017");
    CHECK(early.old_cert_sha256 == old_fp);
    CHECK(early.new_cert_sha256 == new_fp);
    CHECK_FALSE(fs::exists(renewal.next_key));
    CHECK_FALSE(fs::exists(renewal.csr));
    seal(sealer, 2, t_us);
    CHECK_THROWS(drain(site.uplink, box));
    CHECK(box.stats().depth == 2);

    const auto added =
        collector::change_station_cert(collector.registry_file(), "G017", CertChangeAction::add,
                                       new_fp, "op1", time::now_unix_us());
    CHECK(added.accepted == std::vector<std::string>{old_fp, new_fp});
    REQUIRE(collector.reload_registry());

    THEN("the new certificate is accepted, and the old one too during the overlap") {
      CHECK(drain(site.uplink, box).acknowledged == 2);
      seal(sealer, 1, t_us);
      CHECK(drain(old_uplink, box).acknowledged == 1);

      AND_WHEN("the operator retires the old certificate") {
        const auto retired = collector::change_station_cert(collector.registry_file(), "G017",
                                                            CertChangeAction::retire, old_fp, "op2",
                                                            time::now_unix_us());
        CHECK(retired.accepted == std::vector<std::string>{new_fp});
        REQUIRE(collector.reload_registry());

        THEN("the old certificate is refused, the new one accepted, nothing lost") {
          seal(sealer, 2, t_us);
          CHECK_THROWS(drain(old_uplink, box));
          CHECK(box.stats().depth == 2);
          CHECK(drain(site.uplink, box).acknowledged == 2);
          const auto ch = collector.store().chain("G017");
          CHECK(ch.acked_seq == 10);
          CHECK(ch.missing.empty());
          CHECK(collector.counters().rejected.load() == 0);

          const auto log = lines(collector::registry_change_log(collector.registry_file()));
          REQUIRE(log.size() == 2);
          const auto a = boost::json::parse(log[0]).as_object();
          const auto r = boost::json::parse(log[1]).as_object();
          CHECK(a.at("action").as_string() == "tls_cert_add");
          CHECK(a.at("by").as_string() == "op1");
          CHECK(a.at("tls_cert_sha256").as_string() == new_fp);
          CHECK(a.at("time_utc").as_string().ends_with("Z"));
          CHECK(a.contains("clock_sync"));
          CHECK(r.at("action").as_string() == "tls_cert_retire");
          CHECK(r.at("tls_cert_sha256").as_string() == old_fp);
          CHECK(r.at("accepted_after").as_array().size() == 1);
          // The registry holds the one fingerprint as a plain string again.
          const auto reg = collector::Registry::load_file(collector.registry_file());
          CHECK(reg.by_id("G017")->tls_certs_sha256 == std::vector<std::string>{new_fp});
          CHECK(reg.by_cert_sha256(old_fp) == nullptr);
        }
      }
    }
  }
}

TEST_CASE("Certificate rotation refuses bad input, naming it, and changes nothing") {
  test::TempDir dir("cert-refuse");
  Site site = make_site(dir.path());
  fs::create_directories(dir / "coll");
  test::LocalCollector collector(
      site.pki, dir / "coll",
      {{"G017", site.signing.public_key()}, {"G018", crypto::SigningKey::generate().public_key()}});
  const fs::path reg = collector.registry_file();
  const std::string before = test::slurp(reg);
  const std::string fp17 = test::slurp(site.pki / "stations" / "G017.sha256");
  const std::string fp18 = test::slurp(site.pki / "stations" / "G018.sha256");
  const auto change = [&](const std::string& station, CertChangeAction a, const std::string& fp) {
    collector::change_station_cert(reg, station, a, fp, "op", time::now_unix_us());
  };

  SECTION("a bad fingerprint argument") {
    CHECK_THROWS_WITH(collector::parse_cert_fingerprint("abc123"),
                      Catch::Contains("6 hex digits, expected 64"));
    CHECK_THROWS_WITH(collector::parse_cert_fingerprint(std::string(40, 'a')),
                      Catch::Contains("a SHA-1 fingerprint has 40"));
    CHECK_THROWS_WITH(collector::parse_cert_fingerprint(std::string(63, 'a') + "g"),
                      Catch::Contains("character 64 'g' is not a hex digit"));
    CHECK_THROWS_WITH(change("G017", CertChangeAction::add, "zz"),
                      Catch::Contains("is not a hex digit"));
    // openssl x509 -fingerprint -sha256's form is accepted.
    std::string colons;
    for (std::size_t i = 0; i < fp17.size(); i += 2)
      colons += (i ? ":" : "") + std::string{static_cast<char>(std::toupper(fp17[i])),
                                             static_cast<char>(std::toupper(fp17[i + 1]))};
    CHECK(collector::parse_cert_fingerprint(colons) == fp17);
  }
  SECTION("an unknown station, another station's certificate, one already accepted") {
    CHECK_THROWS_WITH(change("G099", CertChangeAction::add, std::string(64, 'b')),
                      Catch::Contains("no station 'G099'"));
    CHECK_THROWS_WITH(change("G017", CertChangeAction::add, fp18),
                      Catch::Contains("is station G018's certificate"));
    CHECK_THROWS_WITH(change("G017", CertChangeAction::add, fp17),
                      Catch::Contains("already accepted"));
  }
  SECTION("retiring the only certificate or one the station does not have") {
    CHECK_THROWS_WITH(change("G017", CertChangeAction::retire, fp17),
                      Catch::Contains("the station's only certificate"));
    CHECK_THROWS_WITH(change("G017", CertChangeAction::retire, std::string(64, 'c')),
                      Catch::Contains("not accepted for the station"));
  }
  SECTION("a registry with a mistake is not edited") {
    std::ofstream(reg, std::ios::app) << " trailing";
    CHECK_THROWS(change("G017", CertChangeAction::add, std::string(64, 'b')));
    CHECK(test::slurp(reg) == before + " trailing");
    std::ofstream(reg, std::ios::trunc) << before;
  }
  SECTION("install-cert: no renewal, a certificate for another key, another CA, another CN") {
    const auto& u = site.uplink;
    CHECK_THROWS_WITH(install_tls_cert(u.cert_file, u.key_file,
                                       site.pki / "stations" / "G018.cert.pem", u.ca_file, "G017"),
                      Catch::Contains("no renewal to install"));
    const auto renewal = begin_tls_renewal(u.key_file, "G017");
    CHECK_THROWS_WITH(begin_tls_renewal(u.key_file, "G017"),
                      Catch::Contains("a renewal is under way already"));
    CHECK_THROWS_WITH(install_tls_cert(u.cert_file, u.key_file,
                                       site.pki / "stations" / "G018.cert.pem", u.ca_file, "G017"),
                      Catch::Contains("not a certificate for the renewal's key"));
    test::make_pki(dir / "other-ca", "");
    ca_sign(dir / "other-ca", renewal.csr, dir / "foreign.pem");
    CHECK_THROWS_WITH(
        install_tls_cert(u.cert_file, u.key_file, dir / "foreign.pem", u.ca_file, "G017"),
        Catch::Contains("does not verify against"));
    ca_sign(site.pki, renewal.csr, dir / "good.pem");
    CHECK_THROWS_WITH(
        install_tls_cert(u.cert_file, u.key_file, dir / "good.pem", u.ca_file, "G018"),
        Catch::Contains("CN 'G017', expected the station id 'G018'"));
    // Nothing changed by the refusals: the old pair is in force, the renewal still open.
    CHECK(collector::cert_pem_file_sha256(u.cert_file) == fp17);
    CHECK(fs::exists(renewal.next_key));
  }
  CHECK(test::slurp(reg) == before);
  CHECK_FALSE(fs::exists(collector::registry_change_log(reg)));
}
