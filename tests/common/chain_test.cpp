// SPDX-License-Identifier: Apache-2.0
#include "wim/common/chain.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "record_samples.hpp"
#include "wim/common/error.hpp"

using namespace wim;
using namespace wim::chain;

namespace {
struct Station {
  crypto::SigningKey key = crypto::SigningKey::generate();
  ChainWriter writer{"G017", key, 0, ""};
  KeyRegistry registry() const {
    KeyRegistry r;
    r.add("G017", key.public_key());
    return r;
  }
  // 1 event, then alternating pass and violation records, 1 s apart.
  std::vector<packet::Packet> records(int n) {
    std::vector<packet::Packet> out;
    for (int i = 0; i < n; ++i) {
      std::int64_t t = test::kT0_us + i * 1000000LL;
      if (i == 0)
        out.push_back(writer.append(test::event_record("station_start", t), {}));
      else if (i % 2)
        out.push_back(writer.append(test::pass_record(t), {}));
      else
        out.push_back(writer.append(test::violation_record(t), test::violation_attachments()));
    }
    return out;
  }
};

bool has(const std::vector<Finding>& fs, Problem p, std::uint64_t seq) {
  for (const auto& f : fs)
    if (f.problem == p && f.seq == seq) return true;
  return false;
}

std::string describe(const std::vector<Finding>& fs) {
  std::string s;
  for (const auto& f : fs)
    s += f.station_id + " seq " + std::to_string(f.seq) + ": " + std::string(to_string(f.problem)) +
         ": " + f.detail + "\n";
  return s;
}
}  // namespace

TEST_CASE("ChainWriter numbers records from 1 and links each to the previous manifest") {
  Station st;
  auto ps = st.records(4);
  CHECK(ps[0].manifest().seq == 1);
  CHECK(ps[0].manifest().prev_sha256 == record::kGenesisSha256);
  for (std::size_t i = 1; i < ps.size(); ++i) {
    CHECK(ps[i].manifest().seq == i + 1);
    CHECK(ps[i].manifest().prev_sha256 == crypto::sha256_hex(ps[i - 1].manifest_json));
  }
  CHECK(st.writer.last_seq() == 4);
  SECTION("a restarted writer continues the chain") {
    ChainWriter again("G017", st.key, st.writer.last_seq(), st.writer.last_sha256());
    auto p5 = again.append(test::pass_record(test::kT0_us + 10000000), {});
    ps.push_back(p5);
    CHECK(verify_chain(ps, st.registry()).empty());
  }
  SECTION("a record that fails validation does not advance the chain") {
    auto bad = test::pass_record();
    bad.measurement->plate = record::Plate{"京A12345", "blue", 0.9, false};
    CHECK_THROWS_AS(st.writer.append(bad, {}), InputError);
    CHECK(st.writer.last_seq() == 4);
    auto other = test::pass_record();
    other.station_id = "G018";
    CHECK_THROWS_AS(st.writer.append(other, {}), InputError);
  }
}

TEST_CASE("An intact chain verifies with no findings") {
  Station st;
  auto ps = st.records(6);
  ChainSummary sum;
  auto fs = verify_chain(ps, st.registry(), true, &sum);
  INFO(describe(fs));
  CHECK(fs.empty());
  CHECK(sum.station_id == "G017");
  CHECK(sum.records == 6);
  CHECK(sum.first_seq == 1);
  CHECK(sum.last_seq == 6);
}

TEST_CASE("Every kind of tampering is named with its seq") {
  Station st;
  auto ps = st.records(8);
  auto reg = st.registry();
  std::vector<Finding> fs;

  SECTION("a flipped byte anywhere in a manifest: bad signature at that seq") {
    auto pos = GENERATE(0, 1, 17, 100, 250, -40, -2, -1);
    auto& m = ps[4].manifest_json;  // seq 5
    auto at = pos >= 0 ? static_cast<std::size_t>(pos) : m.size() + pos;
    m[at] = static_cast<char>(m[at] ^ 0x01);
    fs = verify_chain(ps, reg);
    INFO("flipped byte " << at << "\n" << describe(fs));
    CHECK(has(fs, Problem::bad_signature, 5));
    for (const auto& f : fs) CHECK(f.seq == 5);  // nothing spills onto the neighbours
  }
  SECTION("a flipped byte in an attachment: hash mismatch") {
    auto& a = ps[2].attachments.at("plate.jpg");  // seq 3 is a violation
    a[5] ^= 0x20;
    fs = verify_chain(ps, reg);
    CHECK(has(fs, Problem::attachment_hash_mismatch, 3));
    CHECK(fs.size() == 1);
  }
  SECTION("an attachment removed or added") {
    ps[2].attachments.erase("waveform.csv");
    ps[4].attachments["extra.jpg"] = "x";
    fs = verify_chain(ps, reg);
    CHECK(has(fs, Problem::attachment_missing, 3));
    CHECK(has(fs, Problem::attachment_unlisted, 5));
    CHECK(fs.size() == 2);
  }
  SECTION("a packet removed: gap") {
    ps.erase(ps.begin() + 3);  // seq 4
    fs = verify_chain(ps, reg);
    CHECK(has(fs, Problem::gap, 4));
    CHECK(fs.size() == 1);
  }
  SECTION("two packets swapped: out of order") {
    std::swap(ps[2], ps[3]);
    fs = verify_chain(ps, reg);
    CHECK(has(fs, Problem::out_of_order, 3));
    CHECK(fs.size() == 1);
  }
  SECTION("two packets' contents swapped under their names: name mismatch") {
    std::swap(ps[2].manifest_json, ps[3].manifest_json);
    std::swap(ps[2].signature, ps[3].signature);
    std::swap(ps[2].attachments, ps[3].attachments);
    ps[2].origin = "G017-0000000003";
    ps[3].origin = "G017-0000000004";
    fs = verify_chain(ps, reg);
    INFO(describe(fs));
    CHECK(has(fs, Problem::name_mismatch, 4));
    CHECK(has(fs, Problem::name_mismatch, 3));
  }
  SECTION("a forged packet signed with another key") {
    ChainWriter forger("G017", crypto::SigningKey::generate(), 8,
                       crypto::sha256_hex(ps.back().manifest_json));
    ps.push_back(forger.append(test::pass_record(test::kT0_us + 9000000), {}));
    fs = verify_chain(ps, reg);
    CHECK(has(fs, Problem::bad_signature, 9));
    CHECK(fs.size() == 1);
  }
  SECTION("a forged replacement of an existing seq is a bad signature, not a fork") {
    ChainWriter forger("G017", crypto::SigningKey::generate(), 3,
                       crypto::sha256_hex(ps[2].manifest_json));
    ps.insert(ps.begin() + 4, forger.append(test::pass_record(test::kT0_us + 3500000), {}));
    fs = verify_chain(ps, reg);
    INFO(describe(fs));
    CHECK(has(fs, Problem::bad_signature, 4));
    CHECK_FALSE(has(fs, Problem::fork, 4));
  }
  SECTION("a duplicate") {
    ps.insert(ps.begin() + 5, ps[5]);
    fs = verify_chain(ps, reg);
    CHECK(has(fs, Problem::duplicate, 6));
    CHECK(fs.size() == 1);
  }
  SECTION("a fork: the station signed two different records with one seq") {
    ChainWriter again("G017", st.key, 5, crypto::sha256_hex(ps[4].manifest_json));
    ps.push_back(again.append(test::pass_record(test::kT0_us + 5500000), {}));
    fs = verify_chain(ps, reg);
    INFO(describe(fs));
    CHECK(has(fs, Problem::fork, 6));
  }
  SECTION("a broken link: a genuinely signed record that does not follow its predecessor") {
    ChainWriter stray("G017", st.key, 6, std::string(64, 'f'));
    ps[6] = stray.append(test::pass_record(test::kT0_us + 6000000), {});  // replaces seq 7
    fs = verify_chain(ps, reg);
    INFO(describe(fs));
    CHECK(has(fs, Problem::broken_link, 7));
    CHECK(has(fs, Problem::broken_link, 8));  // 8 links to the original 7
  }
  SECTION("time going backwards") {
    Station s2;
    std::vector<packet::Packet> qs;
    qs.push_back(s2.writer.append(test::pass_record(test::kT0_us), {}));
    qs.push_back(s2.writer.append(test::pass_record(test::kT0_us + 1000000), {}));
    qs.push_back(s2.writer.append(test::pass_record(test::kT0_us + 500000), {}));
    fs = verify_chain(qs, s2.registry());
    CHECK(has(fs, Problem::time_out_of_order, 3));
    CHECK(fs.size() == 1);
  }
  SECTION("time set back by a recorded clock_step event is not a problem") {
    Station s3;
    std::vector<packet::Packet> qs;
    qs.push_back(s3.writer.append(test::pass_record(test::kT0_us + 1000000), {}));
    qs.push_back(s3.writer.append(test::event_record("clock_step", test::kT0_us + 400000), {}));
    qs.push_back(s3.writer.append(test::pass_record(test::kT0_us + 500000), {}));
    fs = verify_chain(qs, s3.registry());
    INFO(describe(fs));
    CHECK(fs.empty());
  }
  SECTION("a vehicle record sealed late keeps its time and names the chain time it follows") {
    Station s4;
    const std::int64_t head = test::kT0_us + 2000000;
    auto late = [&](std::int64_t t, std::int64_t after) {
      auto m = test::pass_record(t);
      m.sealed_after_unix_us = after;
      return m;
    };
    std::vector<packet::Packet> qs;
    qs.push_back(s4.writer.append(test::event_record("station_start", head), {}));
    qs.push_back(s4.writer.append(late(test::kT0_us, head), {}));
    // The chain time stays at the head: the next late one names it again.
    qs.push_back(s4.writer.append(late(test::kT0_us + 500000, head), {}));
    qs.push_back(s4.writer.append(test::pass_record(head + 1000), {}));
    fs = verify_chain(qs, s4.registry());
    INFO(describe(fs));
    CHECK(fs.empty());
    // After the late records, a record earlier than the chain time without the mark.
    qs.push_back(s4.writer.append(test::pass_record(head - 1), {}));
    // A mark that names another chain time than its predecessor's.
    qs.push_back(s4.writer.append(late(test::kT0_us, head), {}));
    fs = verify_chain(qs, s4.registry());
    INFO(describe(fs));
    CHECK(has(fs, Problem::time_out_of_order, 5));
    CHECK(has(fs, Problem::time_out_of_order, 6));
    CHECK(fs.size() == 2);
  }
  SECTION("sealed_after_utc is refused on an event and when not later than time_utc") {
    auto ev = test::event_record("station_start", test::kT0_us);
    ev.sealed_after_unix_us = test::kT0_us + 1;
    CHECK_THROWS_WITH(st.writer.append(ev, {}), Catch::Contains("sealed_after_utc"));
    auto p = test::pass_record(test::kT0_us);
    p.sealed_after_unix_us = test::kT0_us;
    CHECK_THROWS_WITH(st.writer.append(p, {}), Catch::Contains("sealed_after_utc"));
  }
  SECTION("an unknown station key") {
    fs = verify_chain(ps, KeyRegistry{});
    CHECK(has(fs, Problem::unknown_key, 1));
    CHECK(fs.size() == 8);
  }
  SECTION("another station's record in the chain") {
    Station g18;
    g18.writer = ChainWriter("G018", g18.key, 0, "");
    auto ev = test::event_record("station_start");
    ev.station_id = "G018";
    auto other = g18.writer.append(ev, {});
    reg.add("G018", g18.key.public_key());
    ps.push_back(other);
    fs = verify_chain(ps, reg);
    CHECK(has(fs, Problem::station_mismatch, 1));
    CHECK(fs.size() == 1);
  }
  SECTION("a chain segment need not start at 1, unless asked") {
    std::vector<packet::Packet> tail(ps.begin() + 3, ps.end());
    CHECK(verify_chain(tail, reg).empty());
    auto f2 = verify_chain(tail, reg, true, nullptr);
    CHECK(has(f2, Problem::gap, 1));
  }
}

TEST_CASE("KeyRegistry loads <station>.pub.pem files and names a bad one") {
  auto dir = test::temp_dir("keyreg");
  auto k = crypto::SigningKey::generate();
  std::ofstream(dir / "G017.pub.pem") << k.public_key().to_pem();
  std::ofstream(dir / "README.txt") << "not a key";
  auto reg = KeyRegistry::load_dir(dir);
  CHECK(reg.size() == 1);
  REQUIRE(reg.find("G017") != nullptr);
  CHECK(reg.find("G017")->raw() == k.public_key().raw());
  CHECK(reg.find("G018") == nullptr);
  std::ofstream(dir / "G018.pub.pem") << "garbage";
  CHECK_THROWS_WITH(KeyRegistry::load_dir(dir), Catch::Contains("G018.pub.pem"));
  std::filesystem::remove_all(dir);
}
