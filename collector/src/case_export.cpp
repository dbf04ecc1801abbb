// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/case_export.hpp"

#include <boost/json.hpp>
#include <cstdio>

#include "wim/common/audit.hpp"
#include "wim/common/error.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/time.hpp"

namespace wim::collector {

namespace {

std::string seq10(std::int64_t seq) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%010lld", static_cast<long long>(seq));
  return buf;
}

}  // namespace

std::string audit_jsonl(const std::vector<AuditEntry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    out += boost::json::serialize(e.to_json());
    out += '\n';
  }
  return out;
}

CaseTar case_tar(const MetadataStore& store, const BlobStore& blobs, Review& review,
                 const std::string& case_id, const std::string& station_key_pem,
                 std::int64_t now_unix_us) {
  const auto c = review.get(case_id);  // ReviewError not_found
  std::string station;
  std::uint64_t seq = 0;
  if (!packet::parse_dir_name(case_id, station, seq))
    throw InputError("case " + case_id + ": not a packet name <station>-<seq>");
  const auto rec = store.get_record(station, static_cast<std::int64_t>(seq));
  if (!rec) throw InputError("case " + case_id + ": its record is not stored at this collector");
  if (station_key_pem.empty())
    throw InputError("case " + case_id + ": no signing key for station " + station +
                     " in the registry");
  const std::string d = case_id + "/";
  CaseTar out;
  std::vector<std::pair<std::string, std::string>> files;
  auto add = [&](std::string path, std::string bytes) {
    out.files.push_back(path);
    files.emplace_back(std::move(path), std::move(bytes));
  };
  add(d, "");
  add(d + case_id + "/", "");
  add(d + case_id + "/manifest.json", rec->manifest);
  add(d + case_id + "/manifest.sig", rec->signature);
  std::string sums;
  for (const auto& a : rec->attachments) {
    auto bytes = blobs.get(a.sha256);
    if (!bytes) {
      out.missing_images.push_back(a.name + " (sha256 " + a.sha256 + ")");
      continue;
    }
    add(d + case_id + "/" + a.name, std::move(*bytes));
    sums += a.sha256 + "  " + case_id + "/" + a.name + "\n";
  }
  add(d + "station.pub.pem", station_key_pem);
  add(d + "collector.pub.pem", review.public_key().to_pem());
  const auto entries = review.audit(case_id);
  add(d + "audit.jsonl", audit_jsonl(entries));
  add(d + "audit/", "");
  for (const auto& e : entries) {
    const auto n = d + "audit/" + seq10(e.seq);
    add(n + ".txt", audit::canonical(e.to_json()));
    add(n + ".sha256", e.entry_sha256);
    std::string sig;
    try {
      sig = crypto::from_hex(e.signature_hex);
    } catch (const std::exception&) {
      throw InputError("audit entry " + std::to_string(e.seq) + ": signature_hex is not hex");
    }
    add(n + ".sig", sig);
  }
  add(d + "SHA256SUMS", sums);

  // The README: every line starting "$ " is a command run from inside the <case_id>/
  // folder; the test runs exactly these lines.
  std::string r;
  r += "Case " + case_id + ": overload evidence exported by wim-collector\n";
  r += "Exported at " + time::format_utc_ms(now_unix_us) + " (UTC, collector clock).\n";
  r += "Station " + c.station_id + ", lane " + std::to_string(c.lane) + ", pass at " +
       time::format_utc_ms(c.time_unix_us) + " (UTC, station clock; its sync state is the\n";
  r += "manifest's \"clock_sync\" field). State of the case: " + c.state + ".\n\n";
  r += "What the files are\n";
  r += "  " + case_id + "/manifest.json  the station's record, the exact bytes it signed\n";
  r += "  " + case_id + "/manifest.sig   its Ed25519 signature (64 bytes)\n";
  r += "  " + case_id + "/<images>       the attachments the manifest lists with SHA-256\n";
  r += "  station.pub.pem    the station's public key, as registered at the collector\n";
  r += "  collector.pub.pem  the collector's audit key (signs every review action)\n";
  r += "  SHA256SUMS         the attachments' SHA-256 copied from manifest.json\n";
  r += "  audit.jsonl        the review actions on this case, one JSON object per line\n";
  r += "  audit/<seq>.txt    one action's exact text that was hashed; <seq>.sha256 its\n";
  r += "                     SHA-256 (the text signed); <seq>.sig the signature\n";
  if (!out.missing_images.empty()) {
    r += "\nRemoved by the retention rule (the signed manifest still lists their SHA-256;\n";
    r += "the audit entry \"retention_purge\" records when):\n";
    for (const auto& m : out.missing_images) r += "  " + m + "\n";
  }
  r += "\nHow to check it (Linux or any system with OpenSSL 3 and coreutils), inside the\n";
  r += "folder " + case_id + "/ of this archive. Each command must print OK or\n";
  r += "\"Signature Verified Successfully\"; anything else means the file was changed.\n\n";
  r += "1. The station signed this record:\n";
  r += "$ openssl pkeyutl -verify -pubin -inkey station.pub.pem -rawin -in " + case_id +
       "/manifest.json -sigfile " + case_id + "/manifest.sig\n";
  r += "2. The images are the ones the record lists (compare each hash in SHA256SUMS with\n";
  r += "   the \"sha256\" of the same name in manifest.json, e.g. grep HASH manifest.json):\n";
  if (!sums.empty()) r += "$ sha256sum -c SHA256SUMS\n";
  for (const auto& a : rec->attachments)
    r += "$ grep -q '\"sha256\":\"" + a.sha256 + "\"' " + case_id + "/manifest.json && echo " +
         a.name + ": listed OK\n";
  r += "3. Each review action is the collector's, unchanged, and about this record:\n";
  for (const auto& e : entries) {
    const auto n = "audit/" + seq10(e.seq);
    r += "$ echo \"$(cat " + n + ".sha256)  " + n + ".txt\" | sha256sum -c -\n";
    r += "$ openssl pkeyutl -verify -pubin -inkey collector.pub.pem -rawin -in " + n +
         ".sha256 -sigfile " + n + ".sig\n";
    r += "$ grep -q \"^manifest_sha256=\\\"$(sha256sum < " + case_id +
         "/manifest.json | cut -c1-64)\\\"$\" " + n + ".txt && echo " + n +
         ": about this record OK\n";
  }
  if (entries.empty()) r += "   (no review action yet)\n";
  r += "\nThe whole audit log (all cases, hash-chained) is checked with\n";
  r += "  wim-verify --audit audit.jsonl --key collector.pub.pem --from-one\n";
  r += "and this case's entries alone with --excerpt.\n";
  add(d + "README.txt", r);
  out.tar = packet::files_to_tar(files, now_unix_us / 1'000'000);
  return out;
}

}  // namespace wim::collector
