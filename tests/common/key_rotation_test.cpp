// SPDX-License-Identifier: Apache-2.0
// Station signing-key rotation: a key_change event signed with the old key announces the
// new one. verify_chain (and wim-verify, run as a process) accept a history signed with
// both keys and refuse a new key that no such event announced.
#include <catch2/catch.hpp>
#include <fstream>

#include "../run_command.hpp"
#include "record_samples.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/error.hpp"

namespace fs = std::filesystem;
using namespace wim;

namespace {

const std::string kTool = std::string(WIM_TEST_EMULATOR) + WIM_BINARY_DIR + "/common/wim-verify";

record::Manifest pass_at(std::uint64_t n) {
  auto m = test::pass_record(test::kT0_us + static_cast<std::int64_t>(n) * 1'000'000);
  m.station_id = "G017";
  return m;
}
record::Manifest key_event_at(std::uint64_t n) {
  return test::event_record("key_change", test::kT0_us + static_cast<std::int64_t>(n) * 1'000'000);
}

struct Chain {
  crypto::SigningKey old_key = crypto::SigningKey::generate();
  crypto::SigningKey new_key = crypto::SigningKey::generate();
  chain::KeyRegistry keys;
  std::vector<packet::Packet> packets;
  Chain() { keys.add("G017", old_key.public_key()); }
  void append(chain::ChainWriter& w, int count) {
    for (int i = 0; i < count; ++i) packets.push_back(w.append(pass_at(w.last_seq() + 1), {}));
  }
};

std::vector<std::string> problems(const std::vector<chain::Finding>& fs) {
  std::vector<std::string> out;
  for (const auto& f : fs)
    out.push_back(std::to_string(f.seq) + " " + std::string(chain::to_string(f.problem)));
  return out;
}

}  // namespace

TEST_CASE("key rotation: a chain across a signed key change verifies with the first key") {
  Chain c;
  chain::ChainWriter w("G017", c.old_key, 0, "");
  c.append(w, 4);
  c.packets.push_back(w.rotate_key(c.new_key, key_event_at(5)));
  c.append(w, 4);
  const auto ev = c.packets[4].manifest();
  CHECK(ev.event->type == "key_change");
  REQUIRE(chain::announced_key(ev));
  CHECK(chain::announced_key(ev)->fingerprint() == c.new_key.public_key().fingerprint());
  // The event itself is signed with the old key, the record after it with the new one.
  CHECK(c.old_key.public_key().verify(c.packets[4].manifest_json, c.packets[4].signature));
  CHECK(c.new_key.public_key().verify(c.packets[5].manifest_json, c.packets[5].signature));

  chain::ChainSummary sum;
  CHECK(chain::verify_chain(c.packets, c.keys, true, &sum).empty());
  CHECK(sum.key_changes == 1);
  REQUIRE(sum.key_in_force);
  CHECK(sum.key_in_force->fingerprint() == c.new_key.public_key().fingerprint());
  THEN("two rotations in a row are followed too") {
    auto third = crypto::SigningKey::generate();
    c.packets.push_back(w.rotate_key(third, key_event_at(10)));
    c.append(w, 2);
    CHECK(chain::verify_chain(c.packets, c.keys, true, &sum).empty());
    CHECK(sum.key_changes == 2);
    CHECK(sum.key_in_force->fingerprint() == third.public_key().fingerprint());
  }
}

TEST_CASE("key rotation: a new key without a key_change event is refused (forged rotation)") {
  Chain c;
  chain::ChainWriter w("G017", c.old_key, 0, "");
  c.append(w, 4);
  SECTION("records simply continue with another key") {
    chain::ChainWriter forged("G017", c.new_key, w.last_seq(), w.last_sha256());
    c.append(forged, 3);
    CHECK(problems(chain::verify_chain(c.packets, c.keys)) ==
          std::vector<std::string>{"5 bad_signature", "6 bad_signature", "7 bad_signature"});
  }
  SECTION("the key_change event is signed with the new key, not the old one") {
    chain::ChainWriter forged("G017", c.new_key, w.last_seq(), w.last_sha256());
    c.packets.push_back(forged.rotate_key(c.new_key, key_event_at(5)));
    c.append(forged, 2);
    CHECK(problems(chain::verify_chain(c.packets, c.keys)) ==
          std::vector<std::string>{"5 bad_signature", "6 bad_signature", "7 bad_signature"});
  }
  SECTION("after the change, the old key can no longer continue the chain") {
    c.packets.push_back(w.rotate_key(c.new_key, key_event_at(5)));
    chain::ChainWriter stolen("G017", c.old_key, w.last_seq(), w.last_sha256());
    c.append(stolen, 1);
    CHECK(problems(chain::verify_chain(c.packets, c.keys)) ==
          std::vector<std::string>{"6 bad_signature"});
  }
  SECTION("an event whose fingerprint does not match its key") {
    auto m = key_event_at(5);
    m.station_id = "G017";
    m.event->detail = {{"new_key_pem", c.new_key.public_key().to_pem()},
                       {"new_key_fingerprint_sha256", std::string(64, 'a')}};
    c.packets.push_back(w.append(m, {}));
    CHECK_THROWS_AS(chain::announced_key(c.packets.back().manifest()), InputError);
    chain::ChainWriter after("G017", c.new_key, w.last_seq(), w.last_sha256());
    c.append(after, 1);
    CHECK(problems(chain::verify_chain(c.packets, c.keys)) ==
          std::vector<std::string>{"5 malformed", "6 bad_signature"});
  }
}

TEST_CASE("wim-verify: a history signed with both keys passes, a forged rotation fails") {
  const auto dir = test::temp_dir("rotation");
  Chain c;
  chain::ChainWriter w("G017", c.old_key, 0, "");
  c.append(w, 3);
  c.packets.push_back(w.rotate_key(c.new_key, key_event_at(4)));
  c.append(w, 3);
  fs::create_directories(dir / "good");
  fs::create_directories(dir / "forged");
  std::ofstream(dir / "G017.pub.pem") << c.old_key.public_key().to_pem();
  for (const auto& p : c.packets) packet::write_dir(p, dir / "good");
  auto r = test::run_command(kTool + " --from-one --key " + (dir / "G017.pub.pem").string() + " " +
                             (dir / "good").string());
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::StartsWith("OK: 7 records, seq 1..7"));

  // The same seqs 4..7 signed with a new key, without the event signed by the old one.
  chain::ChainWriter forged("G017", c.new_key, 3, crypto::sha256_hex(c.packets[2].manifest_json));
  for (std::size_t i = 0; i < 3; ++i) packet::write_dir(c.packets[i], dir / "forged");
  for (std::uint64_t n = 4; n <= 7; ++n)
    packet::write_dir(forged.append(pass_at(n), {}), dir / "forged");
  r = test::run_command(kTool + " --key " + (dir / "G017.pub.pem").string() + " " +
                        (dir / "forged").string());
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains("G017 seq 4: bad_signature"));
  CHECK_THAT(r.out, Catch::Contains("G017 seq 7: bad_signature"));
  fs::remove_all(dir);
}
