// SPDX-License-Identifier: Apache-2.0
// The rule for attachments removed by retention (common/retention_list.hpp): accepted only
// when a retention_purge entry signed by the trusted collector key and about that very
// manifest names the attachment's SHA-256. The real programs are tested in
// tests/collector/case_export_test.cpp ("retention: export --station ...").
#include "wim/common/retention_list.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "record_samples.hpp"
#include "wim/common/audit.hpp"

using namespace wim;

namespace {

/// One signed audit entry as the collector writes it (JSON line).
std::string entry(const crypto::SigningKey& key, std::int64_t seq, const std::string& action,
                  const std::string& manifest_sha256, const std::string& reason) {
  boost::json::object o{{"seq", seq},
                        {"time_unix_us", 0},
                        {"user", "system"},
                        {"role", "system"},
                        {"case_id", "G017-0000000003"},
                        {"action", action},
                        {"from", "closed"},
                        {"to", "closed"},
                        {"reason", reason},
                        {"manifest_sha256", manifest_sha256},
                        {"prev_sha256", audit::kGenesis}};
  const auto hash = crypto::sha256_hex(audit::canonical(o));
  o["entry_sha256"] = hash;
  o["signature_hex"] = crypto::to_hex(key.sign(hash));
  return boost::json::serialize(o) + "\n";
}

}  // namespace

TEST_CASE("retention list: a missing attachment is accepted only for the signed entry's manifest") {
  const auto station = crypto::SigningKey::generate(), collector = crypto::SigningKey::generate();
  chain::ChainWriter w("G017", station, 0, "");
  chain::KeyRegistry keys;
  keys.add("G017", station.public_key());
  std::vector<packet::Packet> ps;
  ps.push_back(w.append(test::event_record("station_start", test::kT0_us), {}));
  auto files = test::violation_attachments();
  ps.push_back(w.append(test::violation_record(test::kT0_us + 1'000'000), files));
  // Seq 3 carries the same photo bytes: only the entry's manifest tells them apart.
  ps.push_back(w.append(test::violation_record(test::kT0_us + 2'000'000), files));
  const auto m2 = crypto::sha256_hex(ps[1].manifest_json);
  const auto img2 = crypto::sha256_hex(ps[1].attachments.at("plate.jpg"));
  const auto reason = "removed: plate.jpg sha256=" + img2 + " (25 bytes);";

  CHECK(retention_list::hashes_in_reason(reason) == std::set<std::string>{img2});
  CHECK(retention_list::hashes_in_reason("sha256=ABC sha256=" + std::string(63, 'a')).empty());

  const auto list = retention_list::read(entry(collector, 7, "retention_purge", m2, reason),
                                         collector.public_key());
  INFO(list.problem);
  REQUIRE(list.ok());
  CHECK(list.entries == 1);
  CHECK(list.removed == retention_list::Removed{{m2, {img2}}});

  // Seq 2 without its photo: explained. Seq 3 without the same bytes: not (another
  // manifest, no entry about it).
  ps[1].attachments.erase("plate.jpg");
  auto findings = chain::verify_chain(ps, keys);
  REQUIRE(findings.size() == 1);
  CHECK(retention_list::accept_removed(findings, ps, list.removed) == 1);
  CHECK(findings.empty());
  ps[2].attachments.erase("plate.jpg");
  findings = chain::verify_chain(ps, keys);
  CHECK(retention_list::accept_removed(findings, ps, list.removed) == 1);
  REQUIRE(findings.size() == 1);
  CHECK(findings[0].seq == 3);
  CHECK(findings[0].problem == chain::Problem::attachment_missing);
  // One packet: the same rule; the waveform is never explained by a photo's entry.
  ps[1].attachments.erase("waveform.csv");
  findings = chain::verify_packet(ps[1], keys);
  CHECK(retention_list::accept_removed(findings, ps[1], list.removed) ==
        std::vector<std::string>{"plate.jpg"});
  REQUIRE(findings.size() == 1);
  CHECK_THAT(findings[0].detail, Catch::StartsWith("waveform.csv"));

  // Lists that explain nothing: another key, an edited entry, another action, no hash.
  const auto other = crypto::SigningKey::generate();
  auto bad =
      retention_list::read(entry(other, 7, "retention_purge", m2, reason), collector.public_key());
  CHECK_THAT(bad.problem, Catch::Contains("entry 1 (seq 7): signature does not verify"));
  CHECK(bad.removed.empty());
  auto text = entry(collector, 7, "retention_purge", m2, reason);
  text.replace(text.find(img2), 4, "0000");
  bad = retention_list::read(text, collector.public_key());
  CHECK_THAT(bad.problem, Catch::Contains("entry_sha256 does not match"));
  CHECK(bad.removed.empty());
  bad = retention_list::read(entry(collector, 7, "close", m2, reason), collector.public_key());
  CHECK_THAT(bad.problem, Catch::Contains("is a \"close\" entry, not retention_purge"));
  bad = retention_list::read(entry(collector, 7, "retention_purge", m2, "no hash here"),
                             collector.public_key());
  CHECK_THAT(bad.problem, Catch::Contains("names no manifest_sha256 or no removed file"));
  CHECK(bad.removed.empty());
}
