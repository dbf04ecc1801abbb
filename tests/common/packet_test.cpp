// SPDX-License-Identifier: Apache-2.0
#include "wim/common/packet.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "record_samples.hpp"
#include "wim/common/error.hpp"

namespace fs = std::filesystem;
using namespace wim;
using namespace wim::packet;

namespace {
record::Manifest numbered(record::Manifest m, std::uint64_t seq) {
  m.seq = seq;
  m.prev_sha256 = seq == 1 ? record::kGenesisSha256 : std::string(64, 'e');
  return m;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a shell command, returns its exit status and stdout.
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  REQUIRE(f != nullptr);
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  int status = ::pclose(f);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}
}  // namespace

TEST_CASE("seal lists the attachments and signs the exact manifest bytes") {
  auto key = crypto::SigningKey::generate();
  auto p = seal(numbered(test::violation_record(), 1), test::violation_attachments(), key);
  auto m = p.manifest();
  REQUIRE(m.attachments.size() == 2);
  CHECK(m.attachments[0].name == "plate.jpg");
  CHECK(m.attachments[0].media_type == "image/jpeg");
  CHECK(m.attachments[0].size_bytes == 24);
  CHECK(m.attachments[0].sha256 == crypto::sha256_hex(p.attachments.at("plate.jpg")));
  CHECK(m.attachments[1].media_type == "text/csv");
  CHECK(key.public_key().verify(p.manifest_json, p.signature));
  CHECK(p.dir_name() == "G017-0000000001");
  CHECK(dir_name("G017", 1234) == "G017-0000001234");
  SECTION("a pass record with an image is refused") {
    CHECK_THROWS_AS(seal(numbered(test::pass_record(), 1), {{"overview.jpg", "x"}}, key),
                    InputError);
  }
  SECTION("an unsafe attachment name is refused") {
    CHECK_THROWS_WITH(seal(numbered(test::violation_record(), 1), {{"../x.csv", "x"}}, key),
                      Catch::Contains("../x.csv"));
  }
}

TEST_CASE("A packet written by our code verifies with the openssl CLI and sha256sum") {
  GIVEN("a violation packet written to a directory and the station's public key as PEM") {
    auto dir = test::temp_dir("packet-openssl");
    auto key = crypto::SigningKey::generate();
    auto p = seal(numbered(test::violation_record(), 1), test::violation_attachments(), key);
    write_dir(p, dir);
    const auto pdir = dir / "G017-0000000001";
    { std::ofstream(dir / "station.pub.pem") << key.public_key().to_pem(); }
    WHEN("openssl pkeyutl checks manifest.sig over manifest.json") {
      auto [rc, out] =
          run("openssl pkeyutl -verify -pubin -inkey " + (dir / "station.pub.pem").string() +
              " -rawin -in " + (pdir / "manifest.json").string() + " -sigfile " +
              (pdir / "manifest.sig").string() + " 2>&1");
      THEN("it reports success") {
        CHECK(rc == 0);
        CHECK_THAT(out, Catch::Contains("Signature Verified Successfully"));
      }
    }
    WHEN("one byte of manifest.json changes") {
      auto bytes = slurp(pdir / "manifest.json");
      bytes[bytes.find("46230.5") + 1] = '7';
      std::ofstream(dir / "tampered.json", std::ios::binary) << bytes;
      auto [rc, out] =
          run("openssl pkeyutl -verify -pubin -inkey " + (dir / "station.pub.pem").string() +
              " -rawin -in " + (dir / "tampered.json").string() + " -sigfile " +
              (pdir / "manifest.sig").string() + " 2>&1");
      THEN("openssl refuses it") {
        CHECK(rc != 0);
      }
    }
    WHEN("sha256sum hashes each attachment") {
      for (const auto& a : p.manifest().attachments) {
        auto [rc, out] = run("sha256sum " + (pdir / a.name).string());
        REQUIRE(rc == 0);
        THEN("it equals the manifest's entry for " + a.name) {
          CHECK(out.substr(0, 64) == a.sha256);
        }
      }
    }
    fs::remove_all(dir);
  }
}

TEST_CASE("Directory round trip is atomic and never overwrites other evidence") {
  auto dir = test::temp_dir("packet-dir");
  auto key = crypto::SigningKey::generate();
  auto p = seal(numbered(test::violation_record(), 42), test::violation_attachments(), key);
  write_dir(p, dir);
  auto back = read_dir(dir / "G017-0000000042");
  CHECK(back == p);
  CHECK(back.origin == "G017-0000000042");
  // no temp dirs left behind
  std::size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    CHECK(e.path().filename().string().rfind(".tmp", 0) != 0);
    ++entries;
  }
  CHECK(entries == 1);
  SECTION("writing the same packet again is a no-op") {
    CHECK_NOTHROW(write_dir(p, dir));
  }
  SECTION("a different packet with the same name is refused and the original kept") {
    auto other = seal(numbered(test::violation_record(test::kT0_us + 5), 42), {}, key);
    CHECK_THROWS_WITH(write_dir(other, dir), Catch::Contains("different content"));
    CHECK(read_dir(dir / "G017-0000000042") == p);
  }
  SECTION("a packet dir without manifest.sig is an error naming the file") {
    fs::remove(dir / "G017-0000000042" / "manifest.sig");
    CHECK_THROWS_WITH(read_dir(dir / "G017-0000000042"), Catch::Contains("manifest.sig"));
  }
  SECTION("a symbolic link inside a packet is refused") {
    fs::create_symlink("/etc/passwd", dir / "G017-0000000042" / "extra.txt");
    CHECK_THROWS_WITH(read_dir(dir / "G017-0000000042"), Catch::Contains("symbolic link"));
  }
  SECTION("a subdirectory inside a packet is refused") {
    fs::create_directory(dir / "G017-0000000042" / "sub");
    CHECK_THROWS_AS(read_dir(dir / "G017-0000000042"), InputError);
  }
  fs::remove_all(dir);
}

TEST_CASE("Tar round trip keeps every packet byte for byte") {
  auto key = crypto::SigningKey::generate();
  std::vector<Packet> ps;
  ps.push_back(seal(numbered(test::event_record("station_start"), 1), {}, key));
  ps.push_back(seal(numbered(test::pass_record(), 2), {}, key));
  ps.push_back(seal(numbered(test::violation_record(), 3), test::violation_attachments(), key));
  auto tar = to_tar(ps);
  auto back = from_tar(tar);
  REQUIRE(back.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(back[i] == ps[i]);
    CHECK(back[i].origin == ps[i].dir_name());
  }
  CHECK(to_tar(back) == tar);  // deterministic
  SECTION("GNU tar lists the same layout") {
    auto dir = test::temp_dir("packet-tar");
    std::ofstream(dir / "x.tar", std::ios::binary) << tar;
    std::ostringstream cmd;
    cmd << "tar -tf " << (dir / "x.tar").string();
    auto [rc, out] = run(cmd.str());
    CHECK(rc == 0);
    CHECK_THAT(out, Catch::Contains("G017-0000000003/plate.jpg"));
    CHECK_THAT(out, Catch::Contains("G017-0000000001/manifest.sig"));
    fs::remove_all(dir);
  }
}

TEST_CASE("A tar for people ends on a whole 10240-byte record, an uplink tar does not") {
  auto key = crypto::SigningKey::generate();
  const std::vector<Packet> ps{
      seal(numbered(test::violation_record(), 3), test::violation_attachments(), key)};
  const auto compact = to_tar(ps), full = to_tar(ps, TarEnd::full_records);
  // compact: the entries and the two zero blocks of end-of-archive, nothing more.
  CHECK(compact.size() % 512 == 0);
  CHECK(compact.size() % kTarRecordBytes != 0);
  CHECK(full.size() % kTarRecordBytes == 0);
  CHECK(full.size() - compact.size() < kTarRecordBytes);
  CHECK(full.substr(0, compact.size()) == compact);
  CHECK(full.find_first_not_of('\0', compact.size()) == std::string::npos);
  CHECK(from_tar(full) == from_tar(compact));
  const std::vector<std::pair<std::string, std::string>> files{{"a/", ""}, {"a/x.txt", "x"}};
  CHECK(files_to_tar(files, 0, TarEnd::full_records).size() % kTarRecordBytes == 0);
  CHECK(files_from_tar(files_to_tar(files, 0, TarEnd::full_records)) ==
        files_from_tar(files_to_tar(files, 0)));
}

TEST_CASE("Malformed tars give errors naming the entry, not crashes") {
  auto key = crypto::SigningKey::generate();
  auto good =
      to_tar({seal(numbered(test::violation_record(), 3), test::violation_attachments(), key)});
  SECTION("truncated or garbage input") {
    CHECK_THROWS_AS(from_tar(good.substr(0, 700)), InputError);
    CHECK_THROWS_AS(from_tar("this is not a tar file at all"), InputError);
    std::string flipped = good;
    flipped[148] ^= 0x55;  // header checksum field of the first entry
    CHECK_THROWS_AS(from_tar(flipped), InputError);
  }
  SECTION("limits are enforced with the entry named") {
    Limits small;
    small.max_entry_bytes = 10;
    CHECK_THROWS_WITH(from_tar(good, small), Catch::Contains("G017-0000000003/plate.jpg"));
    small = {};
    small.max_packets = 0;
    CHECK_THROWS_WITH(from_tar(good, small), Catch::Contains("packets"));
  }
  SECTION("paths outside a packet directory are refused") {
    Packet p = seal(numbered(test::violation_record(), 3), {}, key);
    // build a tar by hand with GNU tar: an absolute path and a nested one
    auto dir = test::temp_dir("packet-badtar");
    fs::create_directories(dir / "G017-0000000003" / "deep");
    std::ofstream(dir / "G017-0000000003" / "manifest.json") << p.manifest_json;
    std::ofstream(dir / "G017-0000000003" / "manifest.sig") << p.signature;
    std::ofstream(dir / "G017-0000000003" / "deep" / "x.txt") << "x";
    auto [rc, out] = run("tar -C " + dir.string() + " -cf " + (dir / "nested.tar").string() +
                         " G017-0000000003");
    REQUIRE(rc == 0);
    CHECK_THROWS_WITH(from_tar(slurp(dir / "nested.tar")), Catch::Contains("deep"));
    std::tie(rc, out) = run("tar -C " + dir.string() + " -cf " + (dir / "top.tar").string() +
                            " G017-0000000003/manifest.json G017-0000000003/manifest.sig");
    REQUIRE(rc == 0);
    CHECK(from_tar(slurp(dir / "top.tar")).size() == 1);  // GNU tar's layout reads fine
    fs::remove_all(dir);
  }
}
