// SPDX-License-Identifier: Apache-2.0
// Exports of the review (issue 18): the audit log checked by `wim-verify --audit` (an
// edited, removed or reordered entry is named), and a case tar checked by running the
// commands its own README.txt gives (openssl, sha256sum), on the real programs.
#include "wim/collector/case_export.hpp"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <sstream>
#include <thread>

#include "../common/record_samples.hpp"
#include "../run_command.hpp"
#include "test_util.hpp"
#include "wim/collector/api.hpp"
#include "wim/collector/backup.hpp"
#include "wim/collector/chain_export.hpp"
#include "wim/collector/csv.hpp"
#include "wim/collector/forward.hpp"
#include "wim/collector/ingest.hpp"
#include "wim/collector/registry.hpp"
#include "wim/collector/retention.hpp"
#include "wim/common/audit.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/sqlite.hpp"
#include "wim/common/time.hpp"

using namespace wim;
using namespace wim::collector;
using wim::collector::test::read_file;
using wim::collector::test::temp_dir;
using wim::collector::test::write_file;

namespace {

const std::string kCollector = std::string(WIM_BINARY_DIR) + "/collector/wim-collector";
const std::string kVerify = std::string(WIM_BINARY_DIR) + "/common/wim-verify";

/// A collector data folder as wim-collector leaves it: G001's records 1..5 stored (3 and 5
/// overload violations with images), their cases, and review actions by three people.
struct Collector {
  std::filesystem::path dir = temp_dir("case-export");
  std::filesystem::path data = dir / "data";
  crypto::SigningKey station_key = crypto::SigningKey::generate();
  crypto::SigningKey audit_key = crypto::SigningKey::generate();
  std::unique_ptr<MetadataStore> store;
  std::unique_ptr<FileBlobStore> blobs;
  std::unique_ptr<Review> review;
  std::int64_t now = time::parse_utc("2026-12-07T02:00:00Z");
  const std::string case3 = packet::dir_name("G001", 3), case5 = packet::dir_name("G001", 5);

  /// `start`: the review clock at the first action (the case closes an hour later).
  /// `spool_sink`: the cases are made with a spool sink (folder dir/spool), so each has a
  /// spool delivery, pending (nothing pumps it here).
  explicit Collector(std::int64_t start = time::parse_utc("2026-12-07T02:00:00Z"),
                     bool spool_sink = false)
      : now(start) {
    std::filesystem::create_directories(data);
    const boost::json::object reg{
        {"stations", boost::json::array{{{"id", "G001"},
                                         {"location", {{"lat", 31.0}, {"lon", 121.0}}},
                                         {"lanes", 2},
                                         {"tls_cert_sha256", std::string(64, 'a')},
                                         {"signing_key_pem", station_key.public_key().to_pem()}}}}};
    write_file(dir / "registry.json", boost::json::serialize(reg));
    write_file(dir / "collector.json", R"({"registry":"registry.json","data_dir":"data",)"
                                       R"("tls":{"cert":"c.pem","key":"k.pem","ca":"ca.pem"}})");
    audit_key.save_pem_file(data / "audit.key.pem");
    store = open_sqlite_store(data / "meta.db");
    blobs = std::make_unique<FileBlobStore>(data / "blobs");
    auto registry = std::make_shared<RegistryHolder>(dir / "registry.json");
    Ingest ingest(*store, *blobs, registry);
    Forwarder forwarder(data / "cases.db", *store, *blobs);
    if (spool_sink)
      forwarder.add_sink(std::make_unique<SpoolSink>(
          dir / "spool", [this](const std::string&) { return station_key.public_key().to_pem(); }));
    ingest.add_observer(&forwarder);
    chain::ChainWriter writer{"G001", station_key, 0, ""};
    std::vector<packet::Packet> ps;
    for (std::int64_t n = 1; n <= 5; ++n) {
      const std::int64_t t = wim::test::kT0_us + n * 1'000'000;
      record::Manifest m = n == 1       ? wim::test::event_record("station_start", t)
                           : n % 2 == 0 ? wim::test::pass_record(t)
                                        : wim::test::violation_record(t);
      m.station_id = "G001";
      auto files = wim::test::violation_attachments();
      files["plate.jpg"] += std::to_string(n);  // each violation's own photo
      ps.push_back(writer.append(
          m, m.kind == record::Kind::violation ? files : std::map<std::string, std::string>{}));
    }
    ingest.ingest("G001", ps);
    REQUIRE(forwarder.cases().size() == 2);
    review = std::make_unique<Review>(
        data / "cases.db", crypto::SigningKey::from_pem(audit_key.to_pem()), ReviewOptions{},
        [this] { return now; },
        [](const std::string&) {
          return record::Plate{"沪A12345", "blue", 0.95, false};
        });
    const Actor tina{"tina", Role::transport_reviewer}, paul{"paul", Role::police_reviewer};
    review->confirm(tina, case3, "clear photo, \"quoted\", comma, and\nnewline");  // seq 1
    review->confirm(tina, case5, "");                                              // seq 2
    now += 3600'000'000;
    review->decide(paul, case3, "fine", "");  // seq 3
    review->close(paul, case3, "paid");       // seq 4
  }
  ~Collector() { std::filesystem::remove_all(dir); }
  std::string config() const { return (dir / "collector.json").string(); }
  /// wim-collector export-closed of 2026-12-07 (UTC) into `out`.
  wim::test::CommandResult export_closed_day(const std::filesystem::path& out) const {
    return wim::test::run_command(kCollector + " export-closed --config " + config() +
                                  " --from 2026-12-07T00:00:00Z --to 2026-12-08T00:00:00Z" +
                                  " --out " + out.string());
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

/// Runs every "$ " line of <folder>/README.txt inside <folder>; the lines that failed.
std::vector<std::string> failing_readme_commands(const std::filesystem::path& folder, int& ran) {
  std::vector<std::string> failed;
  ran = 0;
  for (const auto& l : lines_of(read_file(folder / "README.txt"))) {
    if (l.rfind("$ ", 0) != 0) continue;
    ++ran;
    const auto r = wim::test::run_command("cd '" + folder.string() + "' && " + l.substr(2));
    if (r.status != 0) failed.push_back(l);
  }
  return failed;
}

bool any_starts(const std::vector<std::string>& v, const std::string& prefix) {
  for (const auto& s : v)
    if (s.rfind(prefix, 0) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE("export: wim-verify --audit passes the exported log and names a broken entry") {
  Collector c;
  const auto out = c.dir / "out";
  const auto log = out / "audit.jsonl";
  auto r = wim::test::run_command(kCollector + " export-audit --config " + c.config() + " --out " +
                                  log.string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("4 audit entries, seq 1..4") != std::string::npos);
  const auto check = [&](const std::string& text, const std::string& flags = " --from-one") {
    write_file(out / "x.jsonl", text);
    return wim::test::run_command(kVerify + " --audit " + (out / "x.jsonl").string() + " --key " +
                                  (out / "collector.pub.pem").string() + flags);
  };
  const auto lines = lines_of(read_file(log));
  REQUIRE(lines.size() == 4);

  GIVEN("the log as exported") {
    r = check(joined(lines));
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(r.out.find("OK: audit log, 4 entries, seq 1..4") != std::string::npos);
  }
  GIVEN("entry 2's reason edited") {
    auto v = lines;
    const auto at = v[1].find("\"reason\":\"\"");
    REQUIRE(at != std::string::npos);
    v[1].replace(at, 11, "\"reason\":\"x\"");
    r = check(joined(v));
    CHECK(r.status == 1);
    CHECK(r.out.find("entry 2 (line of JSON 2, seq 2): entry_sha256 does not match") !=
          std::string::npos);
  }
  GIVEN("entry 2 removed") {
    auto v = lines;
    v.erase(v.begin() + 1);
    r = check(joined(v));
    CHECK(r.status == 1);
    CHECK(r.out.find("entry 2 (line of JSON 2, seq 3): seq 3 where 2 was expected") !=
          std::string::npos);
  }
  GIVEN("entries 3 and 4 swapped") {
    auto v = lines;
    std::swap(v[2], v[3]);
    r = check(joined(v));
    CHECK(r.status == 1);
    CHECK(r.out.find("entry 3 (line of JSON 3, seq 4): seq 4 where 3 was expected") !=
          std::string::npos);
  }
  GIVEN("the first entry removed") {
    auto v = lines;
    v.erase(v.begin());
    r = check(joined(v));
    CHECK(r.status == 1);
    CHECK(r.out.find("entry 1 (line of JSON 1, seq 2): the log starts at seq 2") !=
          std::string::npos);
    THEN("without --from-one it is a valid tail of the log") {
      CHECK(check(joined(v), "").status == 0);
    }
  }
  GIVEN("a key that is not the collector's") {
    write_file(out / "other.pem", crypto::SigningKey::generate().public_key().to_pem());
    write_file(out / "x.jsonl", joined(lines));
    r = wim::test::run_command(kVerify + " --audit " + (out / "x.jsonl").string() + " --key " +
                               (out / "other.pem").string());
    CHECK(r.status == 1);
    CHECK(r.out.find("entry 1 (line of JSON 1, seq 1): signature does not verify") !=
          std::string::npos);
  }
  GIVEN("one case's excerpt") {
    r = wim::test::run_command(kCollector + " export-audit --config " + c.config() + " --case " +
                               c.case3 + " --out " + log.string());
    REQUIRE(r.status == 0);
    const auto excerpt = read_file(log);
    CHECK(lines_of(excerpt).size() == 3);
    CHECK(check(excerpt, " --excerpt").status == 0);
    r = check(excerpt, "");
    CHECK(r.status == 1);
    CHECK(r.out.find("seq 3 where 2 was expected") != std::string::npos);
  }
}

TEST_CASE("export: a case tar is checked by its README's own commands, a tampered copy fails") {
  Collector c;
  const auto tar = c.dir / "out" / (c.case3 + ".tar");
  auto r = wim::test::run_command(kCollector + " export-case --config " + c.config() + " --case " +
                                  c.case3 + " --out " + tar.string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto x = c.dir / "x";
  std::filesystem::create_directories(x);
  REQUIRE(wim::test::run_command("tar -xf " + tar.string() + " -C " + x.string()).status == 0);
  const auto folder = x / c.case3;
  // The packet inside is the stored one, byte for byte.
  const auto stored = c.store->get_record("G001", 3);
  REQUIRE(stored);
  CHECK(read_file(folder / c.case3 / "manifest.json") == stored->manifest);
  CHECK(read_file(folder / c.case3 / "manifest.sig") == stored->signature);
  CHECK(read_file(folder / c.case3 / "plate.jpg") ==
        wim::test::violation_attachments().at("plate.jpg") + "3");
  CHECK(lines_of(read_file(folder / "audit.jsonl")).size() == 3);

  int ran = 0;
  WHEN("the README's commands run on the archive as exported") {
    const auto failed = failing_readme_commands(folder, ran);
    INFO(joined(failed));
    THEN("every one succeeds") {
      // SHA256SUMS signature and sha256sum -c, the manifest signature, 2 listed
      // attachments, 3 per audit entry x 3.
      CHECK(ran == 2 + 1 + 2 + 3 * 3);
      CHECK(failed.empty());
    }
  }
  const auto tampered = c.dir / "t";
  const auto fresh = [&] {
    std::filesystem::remove_all(tampered);
    std::filesystem::copy(folder, tampered, std::filesystem::copy_options::recursive);
  };
  const auto flip = [](const std::filesystem::path& p, const std::string& from,
                       const std::string& to) {
    auto s = read_file(p);
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    s.replace(at, from.size(), to);
    write_file(p, s);
  };
  WHEN("the manifest's gross is changed") {
    fresh();
    flip(tampered / c.case3 / "manifest.json", "46230.5", "36230.5");
    const auto failed = failing_readme_commands(tampered, ran);
    CHECK(any_starts(failed, "$ openssl pkeyutl -verify -pubin -inkey station.pub.pem"));
    CHECK(any_starts(failed, "$ grep -q \"^manifest_sha256="));  // the audit is about another
  }
  WHEN("the plate image is replaced") {
    fresh();
    write_file(tampered / c.case3 / "plate.jpg", "another picture");
    const auto failed = failing_readme_commands(tampered, ran);
    REQUIRE(failed.size() == 2);
    CHECK(failed[0] == "$ sha256sum -c SHA256SUMS");
    CHECK(failed[1].find("plate.jpg\" | sha256sum -c -") != std::string::npos);
  }
  WHEN("an audit entry's reason is edited and its hash recomputed") {
    fresh();
    const auto entry = tampered / "audit" / "0000000004.txt";
    flip(entry, "reason=\"paid\"", "reason=\"waived\"");
    write_file(tampered / "audit" / "0000000004.sha256", crypto::sha256_hex(read_file(entry)));
    const auto failed = failing_readme_commands(tampered, ran);
    REQUIRE(failed.size() == 2);
    CHECK(failed[0] == "$ sha256sum -c SHA256SUMS");
    CHECK(failed[1].find("-in audit/0000000004.sha256 -sigfile audit/0000000004.sig") !=
          std::string::npos);
  }
  WHEN("an audit entry's reason is edited alone") {
    fresh();
    flip(tampered / "audit" / "0000000001.txt", "clear photo", "blurry photo");
    const auto failed = failing_readme_commands(tampered, ran);
    REQUIRE(failed.size() == 2);
    CHECK(failed[0] == "$ sha256sum -c SHA256SUMS");
    CHECK(failed[1].find("audit/0000000001.txt\" | sha256sum -c -") != std::string::npos);
  }
  WHEN("the case is unknown") {
    r = wim::test::run_command(kCollector + " export-case --config " + c.config() +
                               " --case G001-0000000002 --out " + (c.dir / "n.tar").string());
    CHECK(r.status == 2);
    CHECK(r.out.find("no case G001-0000000002 (not_found)") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(c.dir / "n.tar"));
  }
}

TEST_CASE("export: wim-verify --case passes the exported tar and names each tampered member") {
  Collector c;
  const auto tar = c.dir / "out" / (c.case3 + ".tar");
  auto r = wim::test::run_command(kCollector + " export-case --config " + c.config() + " --case " +
                                  c.case3 + " --out " + tar.string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto verify = [&](const std::filesystem::path& t, const std::string& flags = "") {
    return wim::test::run_command(kVerify + " --case " + t.string() + flags);
  };
  GIVEN("the tar as exported") {
    r = verify(tar);
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(r.out.find("OK: case " + c.case3 + ": ") != std::string::npos);
    CHECK(r.out.find("1 packet(s) with 2 attachment(s) signed, 3 review action(s) signed, "
                     "audit chain linked seq 1..4") != std::string::npos);
    THEN("it passes with the keys a reader trusts, and fails with another collector key") {
      const auto sk = c.dir / "station.pem", ck = c.dir / "collector.pem";
      write_file(sk, c.station_key.public_key().to_pem());
      write_file(ck, c.audit_key.public_key().to_pem());
      CHECK(verify(tar, " --key " + sk.string() + " --audit-key " + ck.string()).status == 0);
      write_file(ck, crypto::SigningKey::generate().public_key().to_pem());
      r = verify(tar, " --audit-key " + ck.string());
      CHECK(r.status == 1);
      CHECK(r.out.find(c.case3 + "/collector.pub.pem: is not the key given") != std::string::npos);
      CHECK(r.out.find(c.case3 + "/SHA256SUMS.sig: the collector's signature does not verify") !=
            std::string::npos);
    }
  }
  // One member of each kind, one byte changed in it: the member is named.
  const auto files = packet::files_from_tar(read_file(tar));
  const std::vector<std::string> members = {c.case3 + "/manifest.json",
                                            c.case3 + "/manifest.sig",
                                            c.case3 + "/plate.jpg",
                                            "station.pub.pem",
                                            "collector.pub.pem",
                                            "review.json",
                                            "audit.jsonl",
                                            "audit-chain.jsonl",
                                            "audit/0000000001.txt",
                                            "audit/0000000001.sha256",
                                            "audit/0000000001.sig",
                                            "README.txt",
                                            "SHA256SUMS",
                                            "SHA256SUMS.sig"};
  for (const auto& m : members) {
    GIVEN("a byte of " + m + " changed") {
      auto v = files;
      bool found = false;
      for (auto& [path, bytes] : v)
        if (path == c.case3 + "/" + m) {
          REQUIRE(!bytes.empty());
          bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
          found = true;
        }
      REQUIRE(found);
      const auto t = c.dir / "tampered.tar";
      write_file(t, packet::files_to_tar(v, 0));
      r = verify(t);
      INFO(r.out);
      CHECK(r.status == 1);
      CHECK(r.out.find(c.case3 + "/" + m + ": ") != std::string::npos);
      CHECK(r.out.find("OK:") == std::string::npos);
    }
  }
  GIVEN("a member removed") {
    auto v = files;
    std::erase_if(v, [&](const auto& f) { return f.first == c.case3 + "/review.json"; });
    const auto t = c.dir / "short.tar";
    write_file(t, packet::files_to_tar(v, 0));
    r = verify(t);
    CHECK(r.status == 1);
    CHECK(r.out.find(c.case3 + "/review.json: listed in SHA256SUMS but missing") !=
          std::string::npos);
  }
  GIVEN("a file that is not a tar") {
    write_file(c.dir / "junk.tar", "not a tar at all");
    r = verify(c.dir / "junk.tar");
    CHECK(r.status == 1);
    CHECK(r.out.find("(archive)") != std::string::npos);
  }
  GIVEN("no --case given") {
    r = wim::test::run_command(kCollector + " export-case --config " + c.config() + " --out " +
                               (c.dir / "n.tar").string());
    CHECK(r.status == 2);
    CHECK(r.out.find("'--case' is required") != std::string::npos);
  }
}

TEST_CASE("export: closed cases as CSV, and the audit log for a time range") {
  Collector c;
  GIVEN("case 3 closed at 03:00Z, case 5 still awaiting police review") {
    const auto csv = c.dir / "closed.csv";
    auto r = c.export_closed_day(csv);
    INFO(r.out);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("1 closed cases") != std::string::npos);
    const auto rows = lines_of(read_file(csv));
    REQUIRE(rows.size() == 2);
    CHECK(rows[0] == std::string(kClosedCsvHeader) + "\r");
    const auto& row = rows[1];
    CHECK(row.starts_with(c.case3 + ",G001,"));
    CHECK(row.find(",沪A12345,") != std::string::npos);
    CHECK(row.find(",46230.5,43000.0,3230.5,") != std::string::npos);
    CHECK(row.find(",fine,1500,") != std::string::npos);  // 3 full tonnes x 500 yuan
    CHECK(row.find(",2026-12-07T02:00:00.000Z,2026-12-07T03:00:00.000Z,"
                   "2026-12-07T03:00:00.000Z,paul,") != std::string::npos);
    THEN("a range before the closing holds the header only") {
      r = wim::test::run_command(kCollector + " export-closed --config " + c.config() +
                                 " --from 2026-12-07T00:00:00Z --to 2026-12-07T03:00:00Z --out " +
                                 csv.string());
      CHECK(r.status == 0);
      CHECK(lines_of(read_file(csv)).size() == 1);
    }
    THEN("a bad time is named") {
      r = wim::test::run_command(kCollector + " export-closed --config " + c.config() +
                                 " --from yesterday --to 2026-12-07T03:00:00Z --out " +
                                 csv.string());
      CHECK(r.status == 2);
      CHECK(r.out.find("--from: ") != std::string::npos);
    }
  }
  GIVEN("the audit entries of 03:00Z onwards (seq 3 and 4)") {
    const auto log = c.dir / "range" / "audit.jsonl";
    auto r = wim::test::run_command(kCollector + " export-audit --config " + c.config() +
                                    " --from 2026-12-07T02:30:00Z --to 2026-12-08T00:00:00Z" +
                                    " --out " + log.string());
    INFO(r.out);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("2 audit entries, seq 3..4") != std::string::npos);
    const auto key = (c.dir / "range" / "collector.pub.pem").string();
    r = wim::test::run_command(kVerify + " --audit " + log.string() + " --key " + key);
    CHECK(r.status == 0);
    CHECK(r.out.find("OK: audit log, 2 entries, seq 3..4") != std::string::npos);
    THEN("as a whole log (--from-one) it is refused: it starts at seq 3") {
      r = wim::test::run_command(kVerify + " --audit " + log.string() + " --key " + key +
                                 " --from-one");
      CHECK(r.status == 1);
      CHECK(r.out.find("the log starts at seq 3") != std::string::npos);
    }
  }
}

namespace {

/// RFC 4180 rows of `text` (quoted cells, doubled quotes, CRLF), as a spreadsheet splits them.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string cell;
  bool quoted = false, was_quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        cell += ch;
      }
    } else if (ch == '"' && cell.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (ch == ',') {
      rows.back().push_back(cell);
      cell.clear();
      was_quoted = false;
    } else if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(cell);
      cell.clear();
      was_quoted = false;
      rows.emplace_back();
      ++i;
    } else {
      cell += ch;
    }
  }
  if (!rows.back().empty() || !cell.empty()) rows.back().push_back(cell);
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

}  // namespace

TEST_CASE(
    "csv: text a spreadsheet would run as a formula is written as text, numbers stay numbers") {
  using csv::text;
  for (const std::string hostile : {"=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "  =1"}) {
    INFO(hostile);
    CHECK(csv::formula_like(hostile));
    const auto cell = parse_csv(text(hostile) + "\r\n");
    REQUIRE(cell.size() == 1);
    REQUIRE(cell[0].size() == 1);
    CHECK(cell[0][0] == "'" + hostile);
  }
  CHECK(text("=HYPERLINK(\"//e/x\",\"y\")") == "\"'=HYPERLINK(\"\"//e/x\"\",\"\"y\"\")\"");
  CHECK(text("a,b") == "\"a,b\"");
  CHECK(text("x\r\ny") == "\"x\r\ny\"");
  CHECK(text("沪A12345") == "沪A12345");
  CHECK(text("2026-12-07T03:00:00.000Z") == "2026-12-07T03:00:00.000Z");
  CHECK(text("") == "");
  CHECK(text("   ") == "   ");
  // A negative number is a number cell, never prefixed; as text it would be.
  CHECK(csv::number(-12.5, 1) == "-12.5");
  CHECK(csv::number(std::int64_t{-3}) == "-3");
  CHECK(text("-12.5") == "\"'-12.5\"");
}

TEST_CASE("export: hostile plate, reason and reviewer name are text in the closed-cases CSV") {
  Collector c;
  // Case 5 (awaiting police review) is returned, its plate read as a formula, confirmed,
  // fined and closed by a reviewer whose name is a formula too.
  const Actor tina{"tina", Role::transport_reviewer}, evil{"-2+3", Role::police_reviewer};
  const std::string plate = "=HYPERLINK(\"//e/x\",\"y\")";
  c.review->return_to_transport(evil, c.case5, "=1+1 wrong plate");
  c.review->read_plate(tina, c.case5, plate);
  c.review->confirm(tina, c.case5, "+SUM(A1:A9)");
  c.review->decide(evil, c.case5, "fine", "@SUM(1,2)");
  c.review->close(evil, c.case5, "-paid");
  const auto out = c.dir / "closed.csv";
  const auto r = c.export_closed_day(out);
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto rows = parse_csv(read_file(out));
  REQUIRE(rows.size() == 3);  // header, case 3, case 5
  const auto& head = rows[0];
  REQUIRE(head.size() == 22);
  const auto col = [&](const std::string& name) {
    const auto it = std::find(head.begin(), head.end(), name);
    REQUIRE(it != head.end());
    return static_cast<std::size_t>(it - head.begin());
  };
  const auto& row = rows[2];
  REQUIRE(row.size() == 22);
  CHECK(row[col("case_id")] == c.case5);
  CHECK(row[col("plate")] == "'" + plate);
  CHECK(row[col("decision_reason")] == "'@SUM(1,2)");
  CHECK(row[col("closed_by")] == "'-2+3");
  // Numbers are left as numbers.
  CHECK(row[col("gross_kg")] == "46230.5");
  CHECK(row[col("fine_yuan")] == "1500");
  // No cell of any row starts the way a formula does.
  for (const auto& rr : rows)
    for (const auto& cell : rr) {
      INFO(cell);
      CHECK_FALSE(csv::formula_like(cell));
    }
}

TEST_CASE(
    "export: the stage deadline of each transition, met or overdue, in export-audit and "
    "export-case") {
  Collector c;
  // Case 5 waits for the police; its deadline passes, then it is decided and closed.
  const auto police = c.review->get(c.case5).stage_deadline_unix_us;
  REQUIRE(police > c.now);
  c.now = police + 60'000'000;
  const Actor paul{"paul", Role::police_reviewer};
  c.review->decide(paul, c.case5, "fine", "");  // seq 5
  c.review->close(paul, c.case5, "");           // seq 6
  const auto police_utc = time::format_utc_us(police);

  const auto log = c.dir / "a" / "audit.jsonl";
  auto r = wim::test::run_command(kCollector + " export-audit --config " + c.config() + " --case " +
                                  c.case5 + " --out " + log.string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto lines = lines_of(read_file(log));
  REQUIRE(lines.size() == 3);  // confirm (seq 2), decide, close
  const auto entry = [&](std::size_t i) { return boost::json::parse(lines[i]).as_object(); };
  CHECK(entry(0).at("deadline").as_string() == "met");
  CHECK(entry(0).at("next_deadline_utc").as_string() == police_utc);
  for (std::size_t i : {1u, 2u}) {
    CHECK(entry(i).at("stage_deadline_utc").as_string() == police_utc);
    CHECK(entry(i).at("deadline").as_string() == "overdue");
  }
  CHECK(entry(2).at("next_deadline_utc").is_null());  // closed: no stage after it
  const auto verify = [&](const std::string& text) {
    write_file(c.dir / "a" / "x.jsonl", text);
    return wim::test::run_command(kVerify + " --audit " + (c.dir / "a" / "x.jsonl").string() +
                                  " --key " + (c.dir / "a" / "collector.pub.pem").string() +
                                  " --excerpt");
  };
  CHECK(verify(joined(lines)).status == 0);
  auto v = lines;
  const auto at = v[1].find("\"deadline\":\"overdue\"");
  REQUIRE(at != std::string::npos);
  v[1].replace(at, 20, "\"deadline\":\"met\"");
  r = verify(joined(v));
  CHECK(r.status == 1);
  CHECK(r.out.find("seq 5): entry_sha256 does not match") != std::string::npos);

  // The case archive's review.json shows the same, and wim-verify --case checks it.
  const auto tar = c.dir / "case5.tar";
  r = wim::test::run_command(kCollector + " export-case --config " + c.config() + " --case " +
                             c.case5 + " --out " + tar.string());
  REQUIRE(r.status == 0);
  r = wim::test::run_command(kVerify + " --case " + tar.string());
  INFO(r.out);
  CHECK(r.status == 0);
  std::string review_text;
  for (const auto& [name, bytes] : packet::files_from_tar(read_file(tar)))
    if (name == c.case5 + "/review.json") review_text = bytes;
  REQUIRE_FALSE(review_text.empty());
  const auto review = boost::json::parse(review_text).as_object();
  const auto& history = review.at("history").as_array();
  REQUIRE(history.size() == 3);
  CHECK(history[1].at("stage_deadline_utc").as_string() == police_utc);
  CHECK(history[1].at("deadline").as_string() == "overdue");
  CHECK(history[0].at("deadline").as_string() == "met");
}

TEST_CASE("export: the audit key is the config's \"audit_key\", as the collector reads it") {
  Collector c;
  // The key moved out of data/ and named in the config, relative to the config's folder.
  std::filesystem::create_directories(c.dir / "keys");
  std::filesystem::rename(c.data / "audit.key.pem", c.dir / "keys" / "audit.pem");
  write_file(c.dir / "collector.json",
             R"({"registry":"registry.json","data_dir":"data","audit_key":"keys/audit.pem",)"
             R"("tls":{"cert":"c.pem","key":"k.pem","ca":"ca.pem"}})");
  const auto log = c.dir / "k" / "audit.jsonl";
  auto r = wim::test::run_command(kCollector + " export-audit --config " + c.config() + " --out " +
                                  log.string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK(read_file(c.dir / "k" / "collector.pub.pem") == c.audit_key.public_key().to_pem());
  // A named key that is not there is named, nothing is written.
  std::filesystem::remove(c.dir / "keys" / "audit.pem");
  std::filesystem::remove_all(c.dir / "k");
  r = wim::test::run_command(kCollector + " export-audit --config " + c.config() + " --out " +
                             log.string());
  CHECK(r.status == 2);
  CHECK(r.out.find((c.dir / "keys" / "audit.pem").string()) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(log));
}

namespace {

constexpr std::int64_t kDayUs = 86400LL * 1'000'000;

std::string attachment_sha(const StoredRecord& r, const std::string& name) {
  for (const auto& a : r.attachments)
    if (a.name == name) return a.sha256;
  FAIL("no attachment " << name);
  return {};
}

std::size_t purge_entries(Review& review, const std::string& case_id) {
  const auto e = review.audit(case_id);
  return static_cast<std::size_t>(std::count_if(
      e.begin(), e.end(), [](const AuditEntry& a) { return a.action == "retention_purge"; }));
}

/// Case 3 closed early in 2026 with 30 days of retention in the config, then the real
/// `wim-collector purge-images` (on the programs' real clock) removed its photo.
/// Delivers the stored records' cases 3 and 5 to a spool sink at `dir`, as the daemon does.
void spool_cases(Collector& c, const std::filesystem::path& dir) {
  SpoolSink sink(dir, [&](const std::string&) { return c.station_key.public_key().to_pem(); });
  for (const std::int64_t seq : {3, 5}) {
    Case k;
    k.case_id = packet::dir_name("G001", static_cast<std::uint64_t>(seq));
    k.station_id = "G001";
    k.seq = seq;
    const auto p = load_stored_packet(*c.store, *c.blobs, "G001", seq);
    REQUIRE(p);
    sink.deliver(k, *p);
  }
}

struct Purged {
  Collector c{time::parse_utc("2026-01-05T02:00:00Z")};
  std::optional<StoredRecord> rec3, rec5;
  std::string img3, img5;
  std::string spool3_before, spool5_before;  ///< the spool tars as delivered (with `spool`)
  wim::test::CommandResult purge;
  /// `spool`: the config has forward.spool_dir "spool", which holds the tars of cases 3
  /// and 5 before the purge.
  explicit Purged(bool spool = false) {
    write_file(c.dir / "collector.json",
               std::string(R"({"registry":"registry.json","data_dir":"data",)"
                           R"("tls":{"cert":"c.pem","key":"k.pem","ca":"ca.pem"},)") +
                   (spool ? R"("forward":{"spool_dir":"spool"},)" : "") +
                   R"("retention":{"violation_images_days":30}})");
    rec3 = c.store->get_record("G001", 3);
    rec5 = c.store->get_record("G001", 5);
    REQUIRE(rec3);
    REQUIRE(rec5);
    img3 = attachment_sha(*rec3, "plate.jpg");
    img5 = attachment_sha(*rec5, "plate.jpg");
    if (spool) {
      spool_cases(c, c.dir / "spool");
      spool3_before = read_file(c.dir / "spool" / (c.case3 + ".tar"));
      spool5_before = read_file(c.dir / "spool" / (c.case5 + ".tar"));
    }
    purge = wim::test::run_command(kCollector + " purge-images --config " + c.config());
    INFO(purge.out);
    REQUIRE(purge.status == 0);
  }
  /// `list` holds case 3's one retention_purge entry, about seq 3's manifest, naming img3.
  void check_case3_list(const std::filesystem::path& list) const {
    const auto entries = lines_of(read_file(list));
    REQUIRE(entries.size() == 1);
    const auto entry = boost::json::parse(entries[0]).as_object();
    CHECK(entry.at("action").as_string() == "retention_purge");
    CHECK(entry.at("manifest_sha256").as_string() == rec3->manifest_sha256);
    CHECK_THAT(std::string(entry.at("reason").as_string()), Catch::Contains("sha256=" + img3));
  }
};

}  // namespace

TEST_CASE(
    "retention: a case ended longer ago loses its images with one audit entry; an open "
    "or recent case keeps them; a re-run removes nothing more") {
  Collector c;
  const auto closed_at = c.now;  // case3 closed at this instant (the fixture's last action)
  const auto rec3 = c.store->get_record("G001", 3), rec5 = c.store->get_record("G001", 5);
  REQUIRE(rec3);
  REQUIRE(rec5);
  const auto img3 = attachment_sha(*rec3, "plate.jpg"),
             wave3 = attachment_sha(*rec3, "waveform.csv"),
             img5 = attachment_sha(*rec5, "plate.jpg");
  REQUIRE(img3 != img5);
  const auto meta = c.data / "meta.db";
  const auto entries_before = c.review->audit("").size();
  // 29 days after the close, 30 days of retention: nothing goes.
  auto r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 29 * kDayUs);
  CHECK(r.cases.empty());
  CHECK(r.files_removed == 0);
  CHECK(c.blobs->contains(img3));
  CHECK(c.review->audit("").size() == entries_before);
  // 31 days after: the closed case's image goes; its waveform and the open case's stay.
  r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 31 * kDayUs);
  CHECK(r.cases == std::vector<std::string>{c.case3});
  CHECK(r.images_marked == 1);
  CHECK(r.files_removed == 1);
  CHECK(r.bytes_removed == static_cast<std::int64_t>(
                               (wim::test::violation_attachments().at("plate.jpg") + "3").size()));
  CHECK_FALSE(c.blobs->contains(img3));
  CHECK(c.blobs->contains(wave3));
  CHECK(c.blobs->contains(img5));
  // The record and its signed manifest stay; the case is still closed.
  CHECK(c.store->get_record("G001", 3)->manifest == rec3->manifest);
  CHECK(c.review->get(c.case3).state == "closed");
  // One system entry on the case, naming the file and its hash, about its manifest.
  REQUIRE(purge_entries(*c.review, c.case3) == 1);
  const auto e = c.review->audit(c.case3).back();
  CHECK(e.action == "retention_purge");
  CHECK(e.user == "system");
  CHECK(e.from_state == "closed");
  CHECK(e.to_state == "closed");
  CHECK(e.manifest_sha256 == rec3->manifest_sha256);
  CHECK_THAT(e.reason, Catch::Contains("plate.jpg sha256=" + img3));
  CHECK_THAT(e.reason, !Catch::Contains(wave3));
  CHECK(c.review->audit("").size() == entries_before + 1);
  // The open case (awaiting police review) keeps its image a year on; a re-run adds nothing.
  r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 400 * kDayUs);
  CHECK(r.cases.empty());
  CHECK(r.images_marked == 0);
  CHECK(r.files_removed == 0);
  CHECK(c.blobs->contains(img5));
  CHECK(c.review->audit("").size() == entries_before + 1);
  CHECK(purge_entries(*c.review, c.case5) == 0);
  // The whole audit log still verifies from seq 1.
  const auto res = audit::verify_jsonl(audit_jsonl(c.review->audit("")), c.review->public_key(),
                                       audit::Span::from_one);
  INFO(res.problem);
  CHECK(res.ok);
  CHECK(res.entries == static_cast<int>(entries_before + 1));
  // meta.db says which attachment was purged.
  sqlite::Db db(meta, SQLITE_OPEN_READONLY);
  CHECK(purged_attachments(db) ==
        std::set<std::pair<std::string, std::string>>{{rec3->manifest_sha256, "plate.jpg"}});
  CHECK(purged_blob_files(db) == std::set<std::string>{img3});
}

TEST_CASE(
    "retention: a purge cut short between its steps is completed by the next run, with "
    "one audit entry") {
  Collector c;
  const auto closed_at = c.now;
  const auto rec3 = c.store->get_record("G001", 3);
  REQUIRE(rec3);
  const auto img3 = attachment_sha(*rec3, "plate.jpg");
  const auto bytes = c.blobs->get(img3);
  REQUIRE(bytes);
  const auto meta = c.data / "meta.db";
  SECTION("stopped after the audit entry, before the file was removed") {
    purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 31 * kDayUs);
    c.blobs->put(img3, *bytes);  // as if the removal had not happened,
    {                            // and so the case not been marked done
      sqlite::Db db(meta);
      sqlite::Stmt st(db, "DELETE FROM purged_cases WHERE case_id=?");
      st.bind(1, c.case3).step();
    }
    const auto r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 32 * kDayUs);
    CHECK(r.cases.empty());
    CHECK(r.images_marked == 0);
    CHECK(r.files_removed == 1);
    CHECK_FALSE(c.blobs->contains(img3));
  }
  SECTION("stopped after marking meta.db, before the audit entry") {
    // The table exists after any run; then the row the first step writes, alone.
    purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 1 * kDayUs);
    {
      sqlite::Db db(meta);
      sqlite::Stmt st(db,
                      "INSERT INTO purged_blobs(case_id, manifest_sha256, name, sha256, "
                      "size_bytes, purged_unix_us) VALUES(?,?,'plate.jpg',?,?,?)");
      st.bind(1, c.case3).bind(2, rec3->manifest_sha256).bind(3, img3);
      st.bind(4, static_cast<std::int64_t>(bytes->size())).bind(5, closed_at + 31 * kDayUs);
      st.step();
    }
    CHECK(purge_entries(*c.review, c.case3) == 0);
    const auto r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 32 * kDayUs);
    CHECK(r.cases == std::vector<std::string>{c.case3});
    CHECK(r.images_marked == 0);
    CHECK(r.files_removed == 1);
    CHECK_FALSE(c.blobs->contains(img3));
  }
  CHECK(purge_entries(*c.review, c.case3) == 1);
  // A second process (own connection) that found no entry before the first wrote it: the
  // check is repeated inside its write transaction, so it appends nothing.
  Review other(
      c.data / "cases.db", crypto::SigningKey::from_pem(c.audit_key.to_pem()), ReviewOptions{},
      [&] { return closed_at + 33 * kDayUs; }, nullptr);
  CHECK_FALSE(other.record_system_once(c.case3, "retention_purge", "a second run"));
  CHECK(purge_entries(*c.review, c.case3) == 1);
  CHECK(audit::verify_jsonl(audit_jsonl(c.review->audit("")), c.review->public_key(),
                            audit::Span::from_one)
            .ok);
}

TEST_CASE(
    "retention: after purge-images, export-case verifies and names the removed image; "
    "backup, verify-backup and restore succeed; an image lost otherwise is still damage") {
  Purged p;
  auto& c = p.c;
  auto r = p.purge;
  INFO(r.out);
  CHECK_THAT(r.out, Catch::Contains("1 case(s) purged, 1 file(s) removed") &&
                        Catch::Contains("  " + c.case3));
  CHECK_FALSE(c.blobs->contains(p.img3));
  CHECK(c.blobs->contains(p.img5));
  r = wim::test::run_command(kCollector + " purge-images --config " + c.config());
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("0 case(s) purged, 0 file(s) removed"));
  CHECK(purge_entries(*c.review, c.case3) == 1);

  // The case archive: the image is named as removed, and everything else verifies.
  const auto tar = c.dir / "out" / (c.case3 + ".tar");
  r = wim::test::run_command(kCollector + " export-case --config " + c.config() + " --case " +
                             c.case3 + " --out " + tar.string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("(1 image(s) removed by retention)"));
  r = wim::test::run_command(kVerify + " --case " + tar.string());
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("1 packet(s) with 1 attachment(s) signed") &&
                        Catch::Contains("1 image(s) removed by retention"));
  const auto x = c.dir / "x";
  std::filesystem::create_directories(x);
  REQUIRE(wim::test::run_command("tar -xf " + tar.string() + " -C " + x.string()).status == 0);
  const auto folder = x / c.case3;
  CHECK_FALSE(std::filesystem::exists(folder / c.case3 / "plate.jpg"));
  CHECK_THAT(read_file(folder / "README.txt"),
             Catch::Contains("Removed by the retention rule") &&
                 Catch::Contains("plate.jpg (sha256 " + p.img3 + ")"));
  int ran = 0;
  const auto failed = failing_readme_commands(folder, ran);
  INFO(joined(failed));
  CHECK(failed.empty());
  CHECK(ran > 5);

  // Backup, its verification and a restore treat the purged image as expected-absent.
  const auto bk = c.dir / "backup";
  r = wim::test::run_command(kCollector + " backup --config " + c.config() + " --unsigned " +
                             bk.string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_FALSE(
      std::filesystem::exists(bk / "blobs" / p.img3.substr(0, 2) / p.img3.substr(2, 2) / p.img3));
  r = wim::test::run_command(kCollector + " verify-backup --config " + c.config() + " --unsigned " +
                             bk.string());
  INFO(r.out);
  CHECK(r.status == 0);
  chain::KeyRegistry keys;
  keys.add("G001", c.station_key.public_key());
  const auto target = c.dir / "restored";
  CHECK_NOTHROW(restore_data_dir(bk, target, keys));
  {
    sqlite::Db db(target / "meta.db", SQLITE_OPEN_READONLY);
    CHECK(purged_blob_files(db) == std::set<std::string>{p.img3});
  }
  CHECK(std::filesystem::exists(target / "blobs" / p.img5.substr(0, 2) / p.img5.substr(2, 2) /
                                p.img5));

  // An image gone without a retention entry is damage, as before: named by all three.
  std::filesystem::remove(c.blobs->path_of(p.img5));
  const auto tar5 = c.dir / "out" / (c.case5 + ".tar");
  r = wim::test::run_command(kCollector + " export-case --config " + c.config() + " --case " +
                             c.case5 + " --out " + tar5.string());
  REQUIRE(r.status == 0);
  r = wim::test::run_command(kVerify + " --case " + tar5.string());
  INFO(r.out);
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains(c.case5 + "/plate.jpg: attachment_missing"));
  CHECK_THROWS_WITH(backup_data_dir(c.data, c.dir / "backup2"), Catch::Contains(p.img5));
  std::filesystem::remove(bk / "blobs" / p.img5.substr(0, 2) / p.img5.substr(2, 2) / p.img5);
  const auto problems = verify_backup(bk, keys);
  CHECK(problems.size() == 1);
  CHECK_THAT(problems.empty() ? "" : problems.front(), Catch::Contains(p.img5 + ": missing"));
}

TEST_CASE(
    "retention: export --station leaves a removed image out beside its signed retention_purge "
    "entry; wim-verify accepts exactly that, and names an image missing otherwise") {
  Purged p;
  auto& c = p.c;
  auto r = p.purge;
  REQUIRE_FALSE(c.blobs->contains(p.img3));

  const auto out = c.dir / "chain";
  const std::string exporter = kCollector + " export --config " + c.config() + " --station G001";
  r = wim::test::run_command(exporter + " --out " + out.string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("G001: 5 records of seq 1..5 in 1 tar(s)") &&
                        Catch::Contains("1 image(s) removed by retention") &&
                        Catch::Contains("G001-retention.jsonl"));
  const auto tar = out / "G001-0000000001-0000000005.tar";
  const auto list = out / "G001-retention.jsonl";
  REQUIRE(std::filesystem::exists(tar));
  CHECK(read_file(out / "collector.pub.pem") == c.audit_key.public_key().to_pem());
  // The tar holds the very signed manifest of seq 3, without the removed photo.
  const auto packets = packet::from_tar(read_file(tar));
  REQUIRE(packets.size() == 5);
  CHECK(packets[2].manifest_json == p.rec3->manifest);
  CHECK_FALSE(packets[2].attachments.contains("plate.jpg"));
  CHECK(packets[2].attachments.contains("waveform.csv"));
  CHECK(packets[4].attachments.contains("plate.jpg"));
  // The list: the case's one retention_purge entry, about seq 3's manifest, naming p.img3.
  p.check_case3_list(list);

  const auto pub = (out / "G001.pub.pem").string();
  const auto verify = [&](const std::filesystem::path& folder, const std::string& extra = "") {
    return wim::test::run_command(kVerify + " --from-one --key " + pub + extra + " " +
                                  folder.string());
  };
  // Purged and listed: the chain verifies; with the trusted key file given, too.
  r = verify(out);
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("OK: 5 records, seq 1..5 (station G001), 1 attachment(s) "
                                    "removed by retention") &&
                        Catch::Contains("the folder's own collector.pub.pem"));
  const auto trusted = c.dir / "trusted-collector.pub.pem";
  write_file(trusted, c.audit_key.public_key().to_pem());
  r = verify(out, " --audit-key " + trusted.string());
  CHECK(r.status == 0);
  r = wim::test::run_command(kVerify + " --json --from-one --key " + pub + " " + out.string());
  CHECK(r.status == 0);
  CHECK(boost::json::parse(r.out).as_object().at("removed_by_retention").as_int64() == 1);

  // Copies of the export, each changed in one way.
  const auto variant = [&](const std::string& name) {
    const auto d = c.dir / name;
    std::filesystem::create_directories(d);
    for (const auto& f : std::filesystem::directory_iterator(out))
      std::filesystem::copy_file(f.path(), d / f.path().filename());
    return d;
  };
  SECTION("an image deleted by hand from the export is named, the list does not cover it") {
    // Unpacked into packet folders (wim-verify reads those too), one photo removed.
    const auto d = variant("hand");
    REQUIRE(wim::test::run_command("cd " + d.string() + " && tar -xf " + tar.filename().string() +
                                   " && rm " + tar.filename().string() +
                                   " G001-0000000005/plate.jpg")
                .status == 0);
    REQUIRE(std::filesystem::exists(d / "G001-0000000005" / "waveform.csv"));
    r = verify(d);
    INFO(r.out);
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Catch::Contains("G001 seq 5: attachment_missing: plate.jpg is listed but "
                                      "not in the packet"));
    CHECK_THAT(r.out, !Catch::Contains("seq 3"));
  }
  SECTION("without the list, the removed image is missing") {
    const auto d = variant("nolist");
    std::filesystem::remove(d / list.filename());
    r = verify(d);
    INFO(r.out);
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Catch::Contains("G001 seq 3: attachment_missing: plate.jpg"));
  }
  SECTION("an edited list entry or a collector key not trusted explains nothing") {
    const auto d = variant("edited");
    auto text = read_file(list);
    const auto at = text.find("\"user\":\"system\"");
    REQUIRE(at != std::string::npos);
    text.replace(at, 15, "\"user\":\"sysadm\"");
    write_file(d / list.filename(), text);
    r = verify(d);
    INFO(r.out);
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Catch::Contains("G001-retention.jsonl: entry 1 (seq ") &&
                          Catch::Contains("entry_sha256 does not match") &&
                          Catch::Contains("G001 seq 3: attachment_missing: plate.jpg"));
    const auto foreign = c.dir / "foreign.pub.pem";
    write_file(foreign, crypto::SigningKey::generate().public_key().to_pem());
    r = verify(out, " --audit-key " + foreign.string());
    INFO(r.out);
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Catch::Contains("G001-retention.jsonl: entry 1") &&
                          Catch::Contains("G001 seq 3: attachment_missing: plate.jpg"));
  }
  SECTION("a blob lost at the collector without a retention mark: exported as lost, exit 1") {
    std::filesystem::remove(c.blobs->path_of(p.img5));
    const auto d = c.dir / "lost";
    r = wim::test::run_command(exporter + " --out " + d.string());
    INFO(r.out);
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Catch::Contains("LOST at the collector (not removed by retention): "
                                      "G001-0000000005/plate.jpg sha256 " +
                                      p.img5));
    r = verify(d);
    INFO(r.out);
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Catch::Contains("G001 seq 5: attachment_missing: plate.jpg"));
    CHECK_THAT(r.out, !Catch::Contains("seq 3"));
    // A second export into the same folder is refused (the list too would be overwritten).
    r = wim::test::run_command(exporter + " --out " + d.string());
    CHECK(r.status == 2);
  }
}

TEST_CASE(
    "retention: a photo deleted from an exported chain tar with GNU tar --delete is the only "
    "finding of wim-verify, and the tar ends on a whole 10240-byte record") {
  Purged p;
  auto& c = p.c;
  const auto out = c.dir / "chain";
  auto r = wim::test::run_command(kCollector + " export --config " + c.config() +
                                  " --station G001 --out " + out.string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto tar = out / "G001-0000000001-0000000005.tar";
  // GNU tar rewrites an archive in records of 20 blocks of 512 bytes and damages, without
  // an error, one whose last record is short (docs/retention.md).
  CHECK(std::filesystem::file_size(tar) % 10240 == 0);
  const auto pub = (out / "G001.pub.pem").string();
  // An auditor removes one photo, as GNU tar does it, and checks the rest.
  const auto edited = [&](const std::string& name, const std::string& tar_bytes,
                          const std::string& tar_options) {
    const auto d = c.dir / name;
    std::filesystem::create_directories(d);
    for (const auto& f : std::filesystem::directory_iterator(out))
      if (f.path().extension() != ".tar")
        std::filesystem::copy_file(f.path(), d / f.path().filename());
    write_file(d / tar.filename(), tar_bytes);
    const auto del =
        wim::test::run_command("tar " + tar_options + " --delete -f " +
                               (d / tar.filename()).string() + " G001-0000000005/plate.jpg");
    INFO(del.out);
    REQUIRE(del.status == 0);
    const auto packets = packet::from_tar(read_file(d / tar.filename()));
    REQUIRE(packets.size() == 5);
    CHECK_FALSE(packets[4].attachments.contains("plate.jpg"));
    return wim::test::run_command(kVerify + " --from-one --key " + pub + " " + d.string());
  };
  const auto only_seq5_photo = [](const wim::test::CommandResult& v) {
    INFO(v.out);
    CHECK(v.status == 1);
    CHECK_THAT(v.out, Catch::Contains("G001 seq 5: attachment_missing: plate.jpg is listed but "
                                      "not in the packet"));
    // Nothing else: no other member changed, seq 3's removal still explained by the list.
    CHECK_THAT(v.out, !Catch::Contains("seq 1") && !Catch::Contains("seq 2") &&
                          !Catch::Contains("seq 3") && !Catch::Contains("seq 4") &&
                          !Catch::Contains("hash"));
  };
  SECTION("the tar as exported, GNU tar's default blocking") {
    only_seq5_photo(edited("gnu-delete", read_file(tar), ""));
  }
  SECTION("a tar exported before the fix (no padding): tar -b 1 --delete, as the guide says") {
    const auto packets = packet::from_tar(read_file(tar));
    const auto compact = packet::to_tar(packets, packet::TarEnd::compact);
    REQUIRE(compact.size() % 10240 != 0);
    only_seq5_photo(edited("gnu-delete-b1", compact, "-b 1"));
  }
}

TEST_CASE(
    "retention: purge-images rewrites a purged case's spool tar without its image, the signed "
    "entry beside it, wim-verify accepts exactly that, other spool tars stay as they were") {
  Purged p(true);
  auto& c = p.c;
  INFO(p.purge.out);
  const auto photo3_bytes = (wim::test::violation_attachments().at("plate.jpg") + "3").size();
  CHECK_THAT(p.purge.out, Catch::Contains("1 case(s) purged, 1 file(s) removed") &&
                              Catch::Contains("1 spool tar(s) rewritten (" +
                                              std::to_string(photo3_bytes) + " image bytes out)"));
  const auto spool = c.dir / "spool";
  const auto tar3 = spool / (c.case3 + ".tar");
  const auto tar3_bytes = read_file(tar3);
  // The very packet as spooled, less the photo; a tar GNU tar edits safely.
  const auto before = packet::from_tar(p.spool3_before), after = packet::from_tar(tar3_bytes);
  REQUIRE(before.size() == 1);
  REQUIRE(after.size() == 1);
  CHECK(after[0].manifest_json == p.rec3->manifest);
  CHECK(after[0].signature == before[0].signature);
  CHECK_FALSE(after[0].attachments.contains("plate.jpg"));
  auto kept = before[0].attachments;
  kept.erase("plate.jpg");
  CHECK(after[0].attachments == kept);
  CHECK(tar3_bytes.size() % packet::kTarRecordBytes == 0);
  // Case 5 is open: its tar is untouched.
  CHECK(read_file(spool / (c.case5 + ".tar")) == p.spool5_before);
  CHECK_FALSE(std::filesystem::exists(spool / spool_retention_list_name(c.case5)));
  // Beside it: the case's one retention_purge entry, about its manifest, naming the photo.
  const auto list = spool / spool_retention_list_name(c.case3);
  p.check_case3_list(list);
  CHECK(read_file(spool / "collector.pub.pem") == c.audit_key.public_key().to_pem());

  const auto key = (spool / "keys" / "G001.pub.pem").string();
  auto r =
      wim::test::run_command(kVerify + " --key " + key + " " + tar3.string() + " " + list.string());
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("1 attachment(s) removed by retention"));
  r = wim::test::run_command(kVerify + " --key " + key + " " + tar3.string());
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains("G001 seq 3: attachment_missing: plate.jpg"));
  // A second run changes nothing.
  r = wim::test::run_command(kCollector + " purge-images --config " + c.config());
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("0 case(s) purged, 0 file(s) removed (0 bytes), 0 spool "
                                    "tar(s) rewritten"));
  CHECK(read_file(tar3) == tar3_bytes);
}

TEST_CASE(
    "retention: a spool rewrite cut short is completed by the next run, a spool tar that is not "
    "the stored packet is named and left as it was, the rest of the purge done") {
  Collector c;
  const auto closed_at = c.now;
  const auto spool = c.dir / "spool";
  spool_cases(c, spool);
  const auto meta = c.data / "meta.db";
  const auto tar3 = spool / (c.case3 + ".tar");
  const auto spooled = read_file(tar3);
  const auto rows = [&] {
    sqlite::Db db(meta);
    sqlite::Stmt st(db, "SELECT COUNT(*) FROM purged_spool");
    st.step();
    return st.col_int(0);
  };
  const auto forget_done = [&] {
    sqlite::Db db(meta);
    db.exec("DELETE FROM purged_spool");
  };
  auto r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 31 * kDayUs, spool);
  REQUIRE(r.spool_rewritten == 1);
  REQUIRE(r.spool_problems.empty());
  CHECK(rows() == 1);
  const auto rewritten = read_file(tar3);
  REQUIRE(rewritten != spooled);
  SECTION("stopped after the list, before the tar was renamed into place") {
    write_file(tar3, spooled);
    forget_done();
    r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 32 * kDayUs, spool);
    CHECK(r.spool_rewritten == 1);
    CHECK(read_file(tar3) == rewritten);
    CHECK(rows() == 1);
    CHECK(purge_entries(*c.review, c.case3) == 1);
  }
  SECTION("stopped after the rename, before meta.db recorded it") {
    forget_done();
    r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 32 * kDayUs, spool);
    CHECK(r.spool_rewritten == 0);
    CHECK(r.spool_problems.empty());
    CHECK(read_file(tar3) == rewritten);
    CHECK(rows() == 1);
  }
  SECTION("a spool tar not of the stored packet: named, kept, retried") {
    const auto foreign = packet::to_tar({*load_stored_packet(*c.store, *c.blobs, "G001", 5)});
    write_file(tar3, "not a tar at all");
    forget_done();
    r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 32 * kDayUs, spool);
    REQUIRE(r.spool_problems.size() == 1);
    CHECK_THAT(r.spool_problems[0], Catch::StartsWith("spool: " + tar3.string() + ": "));
    CHECK(read_file(tar3) == "not a tar at all");
    CHECK(rows() == 0);
    // Case 5's packet under case 3's name: not the one packet G001-0000000003.
    write_file(tar3, foreign);
    r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 33 * kDayUs, spool);
    REQUIRE(r.spool_problems.size() == 1);
    CHECK_THAT(r.spool_problems[0], Catch::Contains("expected the one packet " + c.case3));
    CHECK(read_file(tar3) == foreign);
    // Put right, the next run completes it.
    write_file(tar3, spooled);
    r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 34 * kDayUs, spool);
    CHECK(r.spool_problems.empty());
    CHECK(read_file(tar3) == rewritten);
    CHECK(rows() == 1);
  }
}

TEST_CASE(
    "retention: the operator sees the purge's last run (UTC), images, bytes and cases in "
    "GET /v1/retention and /metrics") {
  Collector c;
  const auto closed_at = c.now;
  auto registry = std::make_shared<RegistryHolder>(c.dir / "registry.json");
  Ingest ingest(*c.store, *c.blobs, registry);
  Monitor monitor(*c.store, MonitorOptions{});
  Api api(ingest, *c.store, monitor, registry);
  const auto get = [&](const std::string& target) {
    Request req{http::verb::get, target, 11};
    const auto res = api.operators(req, Peer{});
    REQUIRE(res.result() == http::status::ok);
    return res.body();
  };
  const auto status = [&] { return boost::json::parse(get("/v1/retention")).as_object(); };
  // Without retention in the config: said so, and no retention metrics.
  CHECK(status().at("enabled").as_bool() == false);
  CHECK_THAT(get("/metrics"), !Catch::Contains("wim_retention_"));

  RetentionRunner runner(c.data / "meta.db", *c.blobs, *c.store, *c.review, 30);
  api.set_retention(&runner);
  auto s = status();
  CHECK(s.at("enabled").as_bool());
  CHECK(s.at("violation_images_days").as_int64() == 30);
  CHECK(s.at("last_run_utc").is_null());
  auto m = get("/metrics");
  CHECK_THAT(m, Catch::Contains("\nwim_retention_period_seconds 2592000\n") &&
                    Catch::Contains("\nwim_retention_last_run_ok 0\n") &&
                    !Catch::Contains("\nwim_retention_last_run_timestamp_seconds "));

  // The first run (31 days after the close) removes case 3's photo.
  const auto t1 = closed_at + 31 * kDayUs;
  CHECK(runner.run_if_due(t1));
  CHECK_FALSE(runner.run_if_due(t1 + 600'000'000));  // not due for an hour
  const auto bytes =
      static_cast<std::int64_t>((wim::test::violation_attachments().at("plate.jpg") + "3").size());
  s = status();
  CHECK(s.at("last_run_utc").as_string() == time::format_utc_ms(t1));
  CHECK(s.at("next_run_utc").as_string() == time::format_utc_ms(t1 + 3600'000'000));
  CHECK(s.at("last_ok").as_bool());
  const auto& last = s.at("last_run").as_object();
  CHECK(last.at("cases_purged").as_int64() == 1);
  CHECK(last.at("files_removed").as_int64() == 1);
  CHECK(last.at("bytes_removed").as_int64() == bytes);
  const auto& all = s.at("all_time").as_object();
  CHECK(all.at("cases").as_int64() == 1);
  CHECK(all.at("images_marked").as_int64() == 1);
  CHECK(all.at("bytes_marked").as_int64() == bytes);
  std::ostringstream when;
  when.precision(16);
  when << static_cast<double>(t1) / 1e6;
  m = get("/metrics");
  INFO(m);
  CHECK_THAT(
      m,
      Catch::Contains("\nwim_retention_last_run_timestamp_seconds " + when.str() + "\n") &&
          Catch::Contains("\nwim_retention_last_run_ok 1\n") &&
          Catch::Contains("\nwim_retention_runs_total{outcome=\"ok\"} 1\n") &&
          Catch::Contains("\nwim_retention_cases_purged_total 1\n") &&
          Catch::Contains("\nwim_retention_files_removed_total 1\n") &&
          Catch::Contains("\nwim_retention_bytes_removed_total " + std::to_string(bytes) + "\n") &&
          Catch::Contains("\nwim_retention_purged_images 1\n") &&
          Catch::Contains("\nwim_retention_purged_cases 1\n"));

  // An hour on: a run that finds nothing new; the totals stay.
  CHECK(runner.run_if_due(t1 + 3600'000'000));
  s = status();
  CHECK(s.at("last_run").as_object().at("files_removed").as_int64() == 0);
  CHECK(s.at("last_run").as_object().at("cases_already_done").as_int64() == 1);
  CHECK(s.at("last_run").as_object().at("spool_problems").as_array().empty());
  CHECK(s.at("all_time").as_object().at("cases_done").as_int64() == 1);
  CHECK(s.at("all_time").as_object().at("spool_tars").as_int64() == 0);
  CHECK_THAT(get("/metrics"), Catch::Contains("\nwim_retention_spool_tars 0\n") &&
                                  Catch::Contains("\nwim_retention_last_run_spool_problems 0\n"));
  CHECK(s.at("since_start").as_object().at("files_removed").as_int64() == 1);
  CHECK(s.at("since_start").as_object().at("runs_ok").as_int64() == 2);
  CHECK(s.at("all_time").as_object().at("images_marked").as_int64() == 1);

  // A run that fails (its meta.db cannot be opened) is shown as failed, with the error.
  RetentionRunner broken(c.dir / "no-such-folder" / "meta.db", *c.blobs, *c.store, *c.review, 30);
  api.set_retention(&broken);
  CHECK(broken.run_if_due(t1));
  s = status();
  CHECK_FALSE(s.at("last_ok").as_bool());
  CHECK_THAT(std::string(s.at("last_error").as_string()), Catch::Contains("no-such-folder"));
  CHECK(s.at("last_success_utc").is_null());
  m = get("/metrics");
  CHECK_THAT(m, Catch::Contains("\nwim_retention_last_run_ok 0\n") &&
                    Catch::Contains("\nwim_retention_runs_total{outcome=\"failed\"} 1\n"));
}

TEST_CASE(
    "retention: the same photo bytes arriving in a new record while the purge runs are not "
    "deleted (the ingest's blob write and the purge's delete share a lock)") {
  Collector c;
  const auto closed_at = c.now;
  const auto rec3 = c.store->get_record("G001", 3);
  REQUIRE(rec3);
  const auto img3 = attachment_sha(*rec3, "plate.jpg");
  // An ingest between its blob write (a no-op: the bytes are stored) and its commit.
  auto hold = c.blobs->hold_references();
  REQUIRE(hold);
  std::atomic<bool> done{false};
  PurgeResult r;
  std::thread purge([&] {
    r = purge_images(c.data / "meta.db", *c.blobs, *c.store, *c.review, 30,
                     closed_at + 31 * kDayUs);
    done = true;
  });
  // The purge has marked the image and written its audit entry, and waits for the lock.
  for (int i = 0; i < 200 && purge_entries(*c.review, c.case3) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK_FALSE(done);
  CHECK(c.blobs->contains(img3));
  // The ingest commits a new record (seq 6) naming the same bytes, then lets go.
  StoredRecord six = *rec3;
  six.seq = 6;
  six.manifest_sha256 = std::string(64, '6');
  six.prev_sha256 = c.store->get_record("G001", 5)->manifest_sha256;
  six.manifest = "{\"seq\":6}";
  REQUIRE(c.store->put_records({six}).at(0) == PutOutcome::stored);
  hold.reset();
  purge.join();
  CHECK(done);
  CHECK(r.cases == std::vector<std::string>{c.case3});
  CHECK(r.files_removed == 0);
  CHECK(r.files_shared == 1);
  CHECK(c.blobs->contains(img3));  // seq 6 still has its photo
  // With no writer holding it, the purge takes the lock at once (and keeps the bytes).
  const auto again =
      purge_images(c.data / "meta.db", *c.blobs, *c.store, *c.review, 30, closed_at + 32 * kDayUs);
  CHECK(again.files_removed == 0);
  CHECK(c.blobs->contains(img3));
}

TEST_CASE(
    "retention: a purged case is done: later runs skip it with one lookup and change nothing; "
    "a spool tar of it that turns up later is still rewritten") {
  Collector c;
  const auto closed_at = c.now;
  const auto meta = c.data / "meta.db";
  const auto spool = c.dir / "spool";
  // A copy of case 3's tar as the spool sink would have written it before the purge.
  const auto early = c.dir / "early";
  spool_cases(c, early);
  const auto r1 = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 31 * kDayUs);
  CHECK(r1.cases == std::vector<std::string>{c.case3});
  CHECK(r1.files_removed == 1);
  CHECK(r1.cases_already_done == 0);
  const auto done_rows = [&] {
    sqlite::Db db(meta, SQLITE_OPEN_READONLY);
    sqlite::Stmt st(db, "SELECT case_id, manifest_sha256 FROM purged_cases");
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.col_text(0) + " " + st.col_text(1));
    return out;
  };
  CHECK(done_rows() ==
        std::vector<std::string>{c.case3 + " " + c.store->get_record("G001", 3)->manifest_sha256});
  const auto entries = c.review->audit("").size();
  // Without a spool: skipped, nothing marked, no entry.
  auto r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 32 * kDayUs);
  CHECK(r.cases.empty());
  CHECK(r.cases_already_done == 1);
  CHECK(r.images_marked == 0);
  CHECK(r.files_removed == 0);
  CHECK(c.review->audit("").size() == entries);
  // With a spool that holds no tar of it: skipped after one stat.
  std::filesystem::create_directories(spool);
  r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 33 * kDayUs, spool);
  CHECK(r.cases_already_done == 1);
  CHECK(r.spool_rewritten == 0);
  // The tar turns up (a delivery made late, a copy put back): rewritten, then done.
  std::filesystem::copy_file(early / (c.case3 + ".tar"), spool / (c.case3 + ".tar"));
  r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 34 * kDayUs, spool);
  CHECK(r.cases_already_done == 0);
  CHECK(r.spool_rewritten == 1);
  CHECK(r.spool_problems.empty());
  CHECK_FALSE(packet::from_tar(read_file(spool / (c.case3 + ".tar")))
                  .at(0)
                  .attachments.contains("plate.jpg"));
  r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 35 * kDayUs, spool);
  CHECK(r.cases_already_done == 1);
  CHECK(r.spool_rewritten == 0);
  CHECK(c.review->audit("").size() == entries);
}

TEST_CASE(
    "retention: a spool delivery still waiting when its case is purged goes out without the "
    "image, the signed entry beside it; a blob lost otherwise is named and retried") {
  Collector c(time::parse_utc("2026-12-07T02:00:00Z"), /*spool_sink=*/true);
  const auto closed_at = c.now;
  const auto meta = c.data / "meta.db";
  const auto spool = c.dir / "spool";
  const auto r = purge_images(meta, *c.blobs, *c.store, *c.review, 30, closed_at + 31 * kDayUs,
                              spool);  // the spool holds no tar yet: the sink was down
  REQUIRE(r.cases == std::vector<std::string>{c.case3});
  CHECK(r.spool_rewritten == 0);
  const auto rec3 = c.store->get_record("G001", 3);
  REQUIRE(rec3);
  ForwardOptions o;
  o.purged_by_retention = [&](const std::string& sha, const std::string& name) {
    return purged_by_retention(meta, sha, name);
  };
  const auto keys = [&](const std::string&) { return c.station_key.public_key().to_pem(); };
  const auto writer = [&](const std::filesystem::path& dir, const Case& k) {
    write_spool_retention_files(dir, k.case_id, k.manifest_sha256, *c.review);
  };
  const auto now = closed_at + 31 * kDayUs + 1;
  const auto delivery = [](const Forwarder& fw, const std::string& id) {
    const auto ds = fw.deliveries(id);
    REQUIRE(ds.size() == 1);
    return ds.front();
  };
  SECTION("delivered without the photo, verifiable with the list beside it") {
    Forwarder fw(c.data / "cases.db", *c.store, *c.blobs, o);
    fw.add_sink(std::make_unique<SpoolSink>(spool, keys, writer));
    CHECK(fw.pump(now) == 2);
    const auto tar3 = spool / (c.case3 + ".tar");
    const auto p3 = packet::from_tar(read_file(tar3));
    REQUIRE(p3.size() == 1);
    CHECK(p3[0].manifest_json == rec3->manifest);
    CHECK_FALSE(p3[0].attachments.contains("plate.jpg"));
    CHECK(p3[0].attachments.contains("waveform.csv"));
    // Case 5 (open) goes out whole, with nothing beside it.
    CHECK(packet::from_tar(read_file(spool / (c.case5 + ".tar")))
              .at(0)
              .attachments.contains("plate.jpg"));
    CHECK_FALSE(std::filesystem::exists(spool / spool_retention_list_name(c.case5)));
    const auto list = spool / spool_retention_list_name(c.case3);
    const auto key = (spool / "keys" / "G001.pub.pem").string();
    const auto v = wim::test::run_command(kVerify + " --key " + key + " " + tar3.string() + " " +
                                          list.string());
    INFO(v.out);
    CHECK(v.status == 0);
    CHECK_THAT(v.out, Catch::Contains("1 attachment(s) removed by retention"));
    CHECK(read_file(spool / "collector.pub.pem") == c.audit_key.public_key().to_pem());
    // The purge's next run finds the tar already without its image: done, not rewritten.
    const auto tar_before = read_file(tar3);
    const auto again =
        purge_images(meta, *c.blobs, *c.store, *c.review, 30, now + 3600'000'000, spool);
    CHECK(again.spool_rewritten == 0);
    CHECK(again.spool_problems.empty());
    CHECK(read_file(tar3) == tar_before);
    CHECK(purge_images(meta, *c.blobs, *c.store, *c.review, 30, now + 7200'000'000, spool)
              .cases_already_done == 1);
  }
  SECTION("a spool sink that cannot write the entries refuses it, and says why") {
    Forwarder fw(c.data / "cases.db", *c.store, *c.blobs, o);
    fw.add_sink(std::make_unique<SpoolSink>(spool, keys));
    CHECK(fw.pump(now) == 1);  // case 5 only
    const auto d = delivery(fw, c.case3);
    CHECK(d.state == "retrying");
    CHECK_THAT(d.last_error, Catch::Contains(c.case3 + ": plate.jpg absent and no retention "
                                                       "entries to write beside the tar"));
    CHECK_FALSE(std::filesystem::exists(spool / (c.case3 + ".tar")));
  }
  SECTION("a blob missing that the retention did not remove: named, retried, nothing spooled") {
    // Both violations share the waveform's bytes; its file is lost (damage, not retention).
    std::filesystem::remove(c.blobs->path_of(attachment_sha(*rec3, "waveform.csv")));
    Forwarder fw(c.data / "cases.db", *c.store, *c.blobs, o);
    fw.add_sink(std::make_unique<SpoolSink>(spool, keys, writer));
    CHECK(fw.pump(now) == 0);
    for (const auto& id : {c.case3, c.case5}) {
      INFO(id);
      const auto d = delivery(fw, id);
      CHECK(d.state == "retrying");
      CHECK_THAT(d.last_error, Catch::Contains(id + ": attachment(s) waveform.csv missing from "
                                                    "the blob store (not removed by retention)"));
      CHECK_FALSE(std::filesystem::exists(spool / (id + ".tar")));
    }
  }
}
