// SPDX-License-Identifier: Apache-2.0
// wim-verify run as a process against chains written by our code and then tampered with.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "../run_command.hpp"
#include "record_samples.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/json.hpp"

namespace fs = std::filesystem;
using namespace wim;

namespace {
// WIM_TEST_EMULATOR: qemu prefix in cross builds (docs/cross-build.md), "" natively.
const std::string kTool = std::string(WIM_TEST_EMULATOR) + WIM_BINARY_DIR + "/common/wim-verify";

struct Result {
  int rc;
  std::string out;
};

Result run(const std::string& args) {
  auto r = test::run_command(kTool + " " + args);
  return {r.status, std::move(r.out)};
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

void flip(const fs::path& p, std::size_t at) {
  auto b = slurp(p);
  REQUIRE(at < b.size());
  b[at] = static_cast<char>(b[at] ^ 0x04);
  spit(p, b);
}

// A station chain of 6 records written as packet dirs, plus its public key.
struct Fixture {
  fs::path dir = test::temp_dir("wim-verify");
  fs::path chain = dir / "G017";
  fs::path pub = dir / "G017.pub.pem";
  crypto::SigningKey key = crypto::SigningKey::generate();
  std::vector<packet::Packet> packets;
  Fixture() {
    fs::create_directories(chain);
    spit(pub, key.public_key().to_pem());
    chain::ChainWriter w("G017", key, 0, "");
    for (int i = 0; i < 6; ++i) {
      std::int64_t t = test::kT0_us + i * 1000000LL;
      packets.push_back(i % 2 ? w.append(test::violation_record(t), test::violation_attachments())
                              : w.append(test::pass_record(t), {}));
      packet::write_dir(packets.back(), chain);
    }
  }
  ~Fixture() { fs::remove_all(dir); }
  fs::path packet_dir(int seq) const { return chain / packet::dir_name("G017", seq); }
  std::string key_arg() const { return "--key " + pub.string() + " "; }
};
}  // namespace

TEST_CASE("wim-verify accepts an intact chain, packet and tar") {
  Fixture fx;
  auto r = run(fx.key_arg() + fx.chain.string());
  CHECK(r.rc == 0);
  CHECK_THAT(r.out, Catch::StartsWith("OK: 6 records, seq 1..6"));
  r = run(fx.key_arg() + fx.packet_dir(4).string());
  CHECK(r.rc == 0);
  CHECK_THAT(r.out, Catch::StartsWith("OK: 1 records, seq 4..4"));
  spit(fx.dir / "all.tar", packet::to_tar(fx.packets));
  r = run("--keys " + fx.dir.string() + " " + (fx.dir / "all.tar").string());
  CHECK(r.rc == 0);
  CHECK_THAT(r.out, Catch::StartsWith("OK: 6 records, seq 1..6"));
  r = run(fx.key_arg() + "--json " + fx.chain.string());
  CHECK(r.rc == 0);
  auto j = json::parse(r.out, "wim-verify --json").as_object();
  CHECK(j.at("ok").as_bool());
  CHECK(j.at("records").to_number<int>() == 6);
}

TEST_CASE("wim-verify names each tampering with its seq and exits 1") {
  Fixture fx;
  std::string expect;
  SECTION("a flipped byte in a manifest, at several positions") {
    auto at = GENERATE(0, 10, 200, 400, 600);
    flip(fx.packet_dir(3) / "manifest.json", static_cast<std::size_t>(at));
    expect = "G017 seq 3: bad_signature";
  }
  SECTION("a flipped byte in an attachment") {
    flip(fx.packet_dir(4) / "plate.jpg", 3);
    expect = "G017 seq 4: attachment_hash_mismatch";
  }
  SECTION("a flipped byte in the signature") {
    flip(fx.packet_dir(2) / "manifest.sig", 20);
    expect = "G017 seq 2: bad_signature";
  }
  SECTION("a removed packet") {
    fs::remove_all(fx.packet_dir(5));
    expect = "G017 seq 5: gap";
  }
  SECTION("two packets swapped") {
    fs::rename(fx.packet_dir(2), fx.chain / "tmp");
    fs::rename(fx.packet_dir(3), fx.packet_dir(2));
    fs::rename(fx.chain / "tmp", fx.packet_dir(3));
    expect = "G017 seq 3: name_mismatch";
  }
  SECTION("a forged packet inserted") {
    chain::ChainWriter forger("G017", crypto::SigningKey::generate(), 6,
                              crypto::sha256_hex(fx.packets.back().manifest_json));
    packet::write_dir(forger.append(test::pass_record(test::kT0_us + 9000000), {}), fx.chain);
    expect = "G017 seq 7: bad_signature";
  }
  SECTION("a removed attachment") {
    fs::remove(fx.packet_dir(2) / "waveform.csv");
    expect = "G017 seq 2: attachment_missing";
  }
  SECTION("a removed signature") {
    fs::remove(fx.packet_dir(6) / "manifest.sig");
    expect = "G017 seq 6: malformed";
  }
  SECTION("a tampered tar") {
    auto tar = packet::to_tar(fx.packets);
    auto pos = tar.find("\"verdict\":\"overload\"");
    REQUIRE(pos != std::string::npos);
    tar[pos + 12] = 'X';
    fs::remove_all(fx.chain);
    fs::create_directories(fx.chain);
    spit(fx.chain / "upload.tar", tar);
    expect = "G017 seq 2: bad_signature";
  }
  auto r = run(fx.key_arg() + fx.chain.string());
  INFO(r.out);
  CHECK(r.rc == 1);
  CHECK_THAT(r.out, Catch::Contains(expect));
  CHECK_THAT(r.out, !Catch::Contains("OK:"));
}

TEST_CASE("wim-verify names duplicates, forks and time going backwards") {
  Fixture fx;
  std::string expect;
  SECTION("a duplicate: seq 3 again in a tar beside the dirs") {
    spit(fx.chain / "resend.tar", packet::to_tar({fx.packets[2]}));
    expect = "G017 seq 3: duplicate";
  }
  SECTION("a fork: the station key signed another record 5") {
    chain::ChainWriter again("G017", fx.key, 4, crypto::sha256_hex(fx.packets[3].manifest_json));
    auto other = again.append(test::pass_record(test::kT0_us + 4500000), {});
    spit(fx.chain / "other.tar", packet::to_tar({other}));
    expect = "G017 seq 5: fork";
  }
  SECTION("time going backwards at seq 7") {
    chain::ChainWriter w("G017", fx.key, 6, crypto::sha256_hex(fx.packets[5].manifest_json));
    packet::write_dir(w.append(test::pass_record(test::kT0_us - 1000000), {}), fx.chain);
    expect = "G017 seq 7: time_out_of_order";
  }
  auto r = run(fx.key_arg() + fx.chain.string());
  INFO(r.out);
  CHECK(r.rc == 1);
  CHECK_THAT(r.out, Catch::Contains(expect));
}

TEST_CASE("wim-verify accepts a late vehicle record that names the chain time it follows") {
  Fixture fx;
  const std::int64_t head = test::kT0_us + 5000000;  // seq 6's time: the chain head
  chain::ChainWriter w("G017", fx.key, 6, crypto::sha256_hex(fx.packets[5].manifest_json));
  auto late = test::pass_record(test::kT0_us + 2000000);
  late.sealed_after_unix_us = head;
  packet::write_dir(w.append(late, {}), fx.chain);
  auto r = run(fx.key_arg() + fx.chain.string());
  INFO(r.out);
  CHECK(r.rc == 0);
  CHECK_THAT(r.out, Catch::StartsWith("OK: 7 records, seq 1..7"));
  SECTION("a mark naming another time than the predecessor's chain time is refused") {
    auto wrong = test::pass_record(test::kT0_us + 2000000);
    wrong.sealed_after_unix_us = head + 1;
    packet::write_dir(w.append(wrong, {}), fx.chain);
    r = run(fx.key_arg() + fx.chain.string());
    INFO(r.out);
    CHECK(r.rc == 1);
    CHECK_THAT(r.out, Catch::Contains("G017 seq 8: time_out_of_order"));
  }
}

TEST_CASE("wim-verify --json lists findings for machines") {
  Fixture fx;
  fs::remove_all(fx.packet_dir(2));
  auto r = run(fx.key_arg() + "--json " + fx.chain.string());
  CHECK(r.rc == 1);
  auto j = json::parse(r.out, "wim-verify --json").as_object();
  CHECK_FALSE(j.at("ok").as_bool());
  const auto& f = j.at("findings").as_array();
  REQUIRE(f.size() == 1);
  CHECK(f[0].at("problem").as_string() == "gap");
  CHECK(f[0].at("seq").to_number<int>() == 2);
}

TEST_CASE("wim-verify usage and I/O errors exit 2") {
  Fixture fx;
  CHECK(run(fx.chain.string()).rc == 2);                                  // no key
  CHECK(run(fx.key_arg() + "--keys " + fx.dir.string() + " x").rc == 2);  // both
  CHECK(run(fx.key_arg() + (fx.dir / "nope").string()).rc == 2);
  CHECK(run("--key " + (fx.dir / "missing.pem").string() + " " + fx.chain.string()).rc == 2);
  CHECK(run(fx.key_arg() + "--bogus " + fx.chain.string()).rc == 2);
  CHECK(run("--help").rc == 0);
}
