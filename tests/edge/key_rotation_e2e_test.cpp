// SPDX-License-Identifier: Apache-2.0
// The station side of a signing-key rotation (edge/include/wim/edge/key_rotation.hpp)
// against the REAL collector in this process (mutual TLS, PKI from scripts/make-ca.sh):
// a rotation mid-chain, and a power cut after each step of it followed by a restart.
#include <catch2/catch.hpp>

#include "../common/record_samples.hpp"
#include "e2e_records.hpp"
#include "local_collector.hpp"
#include "station_test_util.hpp"
#include "wim/edge/key_rotation.hpp"
#include "wim/edge/outbox_sealer.hpp"
#include "wim/edge/uplink_client.hpp"

namespace fs = std::filesystem;
using namespace wim;
using namespace wim::edge;

namespace {

using test::describe;
using test::seal;

/// Drains the outbox to the collector synchronously (UplinkClient::run_once).
DrainResult drain(const fs::path& pki, const std::string& station, std::uint16_t port,
                  Outbox& box) {
  UplinkClient client(test::uplink_config(pki, station, port), box, [] { return std::string(); });
  return client.run_once();
}

/// A station's files: key file from keygen's naming, a new outbox.
struct StationFiles {
  fs::path key_file, outbox;
  crypto::VerifyKey first_key;
};
StationFiles provision(const fs::path& dir, const std::string& station) {
  fs::create_directories(dir);
  const fs::path key_file = dir / (station + ".key.pem");
  const auto key = crypto::SigningKey::generate();
  key.save_pem_file(key_file);
  return {key_file, dir / "outbox.db", key.public_key()};
}

OutboxOptions outbox_options(const StationFiles& f, const std::string& station, bool create) {
  OutboxOptions oo;
  oo.path = f.outbox;
  oo.station_id = station;
  oo.create_new_chain = create;
  return oo;
}

struct PowerCut : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

SCENARIO("A station rotates its signing key mid-chain, and the real collector ingests across it") {
  test::TempDir dir("rotate-e2e");
  test::make_pki(dir / "pki", "G017");
  const auto f = provision(dir / "station", "G017");
  Outbox box(outbox_options(f, "G017", true));
  OutboxSealer sealer(box, "G017", signing_key_in_force(f.key_file, box), test::kSoftwareSha);
  fs::create_directories(dir / "coll");
  test::LocalCollector collector(dir / "pki", dir / "coll", "G017", f.first_key);
  std::int64_t t_us = time::now_unix_us();

  GIVEN("12 records signed with the first key, sent") {
    seal(sealer, 12, t_us);
    REQUIRE(drain(dir / "pki", "G017", collector.port(), box).acknowledged == 12);

    WHEN("the station rotates its key and seals 13 more records") {
      const auto r = rotate_signing_key(f.key_file, box, sealer);
      seal(sealer, 13, t_us);
      const auto d = drain(dir / "pki", "G017", collector.port(), box);

      THEN("the collector stores all 26, none rejected, and the chain verifies with both keys") {
        CHECK(r.seq == 13);
        CHECK(r.old_fingerprint == f.first_key.fingerprint());
        CHECK(r.new_fingerprint != r.old_fingerprint);
        CHECK(d.acknowledged == 14);
        CHECK(d.rejected == 0);
        CHECK(box.stats().depth == 0);
        const auto ch = collector.store().chain("G017");
        CHECK(ch.acked_seq == 26);
        CHECK(ch.missing.empty());
        CHECK(collector.counters().rejected.load() == 0);

        chain::KeyRegistry keys;
        keys.add("G017", f.first_key);  // the registry keeps the first key
        chain::ChainSummary summary;
        auto findings = chain::verify_chain(collector.stored_packets("G017"), keys, true, &summary);
        INFO(describe(findings));
        CHECK(findings.empty());
        CHECK(summary.records == 26);
        CHECK(summary.key_changes == 1);
        REQUIRE(summary.key_in_force);
        CHECK(summary.key_in_force->fingerprint() == r.new_fingerprint);

        AND_THEN("the key file holds the new key, its public key beside it, no .next left") {
          CHECK(crypto::SigningKey::load_pem_file(f.key_file).public_key().fingerprint() ==
                r.new_fingerprint);
          CHECK(r.public_key == dir / "station" / "G017.pub.pem");
          CHECK(crypto::VerifyKey::load_pem_file(r.public_key).fingerprint() == r.new_fingerprint);
          CHECK_FALSE(fs::exists(next_key_path(f.key_file)));
          CHECK(box.station_fact(kSigningKeyFact) == r.new_fingerprint);
        }
      }
    }
  }
}

SCENARIO("A power cut after any step of a key rotation leaves a station that signs on") {
  test::TempDir dir("rotate-cut");
  const std::vector<RotationStep> steps{
      RotationStep::next_key_written, RotationStep::event_committed,
      RotationStep::key_file_replaced, RotationStep::public_key_written};
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < steps.size(); ++i) ids.push_back("G10" + std::to_string(i));
  test::make_pki(dir / "pki", ids[0] + " " + ids[1] + " " + ids[2] + " " + ids[3]);
  std::vector<StationFiles> files;
  std::vector<std::pair<std::string, crypto::VerifyKey>> registry;
  for (const auto& id : ids) {
    files.push_back(provision(dir / id, id));
    registry.emplace_back(id, files.back().first_key);
  }
  fs::create_directories(dir / "coll");
  test::LocalCollector collector(dir / "pki", dir / "coll", registry);

  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto& id = ids[i];
    const auto& f = files[i];
    const RotationStep cut_at = steps[i];
    INFO("power cut after " << to_string(cut_at));
    std::int64_t t_us = time::now_unix_us();
    std::string announced;
    {  // the run that is cut: 6 records, then a rotation cut after `cut_at`
      Outbox box(outbox_options(f, id, true));
      OutboxSealer sealer(box, id, signing_key_in_force(f.key_file, box), test::kSoftwareSha);
      seal(sealer, 6, t_us);
      CHECK_THROWS_AS(rotate_signing_key(f.key_file, box, sealer,
                                         [&](RotationStep s) {
                                           if (s == cut_at)
                                             throw PowerCut(std::string(to_string(s)));
                                         }),
                      PowerCut);
      if (fs::exists(next_key_path(f.key_file)))
        announced =
            crypto::SigningKey::load_pem_file(next_key_path(f.key_file)).public_key().fingerprint();
      else
        announced = crypto::SigningKey::load_pem_file(f.key_file).public_key().fingerprint();
    }  // nothing else runs: the process is gone

    // The restart: the daemon's start (Station) does exactly this.
    Outbox box(outbox_options(f, id, false));
    const auto key = signing_key_in_force(f.key_file, box);
    const bool event_in_chain = cut_at != RotationStep::next_key_written;
    if (event_in_chain) {
      CHECK(key.public_key().fingerprint() == announced);
      CHECK(key.public_key().fingerprint() != f.first_key.fingerprint());
    } else {
      CHECK(key.public_key().fingerprint() == f.first_key.fingerprint());
    }
    // Either way the key file now holds the key in force and no .next is left.
    CHECK(crypto::SigningKey::load_pem_file(f.key_file).public_key().fingerprint() ==
          key.public_key().fingerprint());
    CHECK_FALSE(fs::exists(next_key_path(f.key_file)));
    CHECK(box.station_fact(kSigningKeyFact) == key.public_key().fingerprint());
    if (event_in_chain)  // the public key file is written on completion at start too
      CHECK(crypto::VerifyKey::load_pem_file(public_key_path(f.key_file)).fingerprint() ==
            key.public_key().fingerprint());

    OutboxSealer sealer(box, id, key, test::kSoftwareSha);
    seal(sealer, 5, t_us);
    // A rotation cut before its event is simply done again.
    std::size_t expected = event_in_chain ? 12 : 11;
    if (!event_in_chain) {
      rotate_signing_key(f.key_file, box, sealer);
      seal(sealer, 2, t_us);
      expected += 3;
    }
    const auto d = drain(dir / "pki", id, collector.port(), box);
    CHECK(d.acknowledged == expected);
    CHECK(d.rejected == 0);
    CHECK(collector.store().chain(id).acked_seq == static_cast<std::int64_t>(expected));

    chain::KeyRegistry keys;
    keys.add(id, f.first_key);
    chain::ChainSummary summary;
    auto findings = chain::verify_chain(collector.stored_packets(id), keys, true, &summary);
    INFO(describe(findings));
    CHECK(findings.empty());
    CHECK(summary.records == expected);
    CHECK(summary.key_changes == 1);
  }
  CHECK(collector.counters().rejected.load() == 0);
}

TEST_CASE("rotate-key: a running daemon's lock and a key file the chain does not know") {
  test::TempDir dir("rotate-refuse");
  const auto f = provision(dir / "s", "G017");
  Outbox box(outbox_options(f, "G017", true));
  OutboxSealer sealer(box, "G017", signing_key_in_force(f.key_file, box), test::kSoftwareSha);
  sealer.commit(test::pass_record(time::now_unix_us()));

  SECTION("the outbox lock is exclusive: a second holder is refused, naming the file") {
    OutboxLock daemon(f.outbox);
    REQUIRE_THROWS_WITH(OutboxLock(f.outbox),
                        Catch::Contains("outbox.db.lock") && Catch::Contains("in use"));
  }
  SECTION("a key file replaced by hand is refused at start, naming both fingerprints") {
    fs::remove(f.key_file);
    const auto other = crypto::SigningKey::generate();
    other.save_pem_file(f.key_file);
    REQUIRE_THROWS_WITH(signing_key_in_force(f.key_file, box),
                        Catch::Contains(f.first_key.fingerprint()) &&
                            Catch::Contains(other.public_key().fingerprint()));
  }
  SECTION("a .next the chain never announced does not complete anything") {
    fs::remove(f.key_file);
    crypto::SigningKey::generate().save_pem_file(f.key_file);
    crypto::SigningKey::generate().save_pem_file(next_key_path(f.key_file));
    CHECK_THROWS_AS(signing_key_in_force(f.key_file, box), InputError);
  }
}
