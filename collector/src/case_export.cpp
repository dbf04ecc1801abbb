// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/case_export.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <map>
#include <set>

#include "wim/collector/csv.hpp"
#include "wim/common/audit.hpp"
#include "wim/common/case_archive.hpp"
#include "wim/common/error.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/time.hpp"

namespace wim::collector {

namespace {

namespace bj = boost::json;

std::int64_t packet_seq(const std::string& case_id) {
  std::string station;
  std::uint64_t seq = 0;
  return packet::parse_dir_name(case_id, station, seq) ? static_cast<std::int64_t>(seq) : 0;
}

/// The case and its review history: every action with who, role, when (UTC), from/to
/// state and reason, the current stage deadline, and the decision.
std::string review_json(const ReviewCase& c, const std::vector<AuditEntry>& entries,
                        std::int64_t now_unix_us) {
  bj::array history;
  for (const auto& e : entries) {
    bj::object h{{"seq", e.seq},
                 {"time_utc", time::format_utc_us(e.time_unix_us)},
                 {"user", e.user},
                 {"role", e.role},
                 {"action", e.action},
                 {"from", e.from_state},
                 {"to", e.to_state},
                 {"reason", e.reason},
                 {"entry_sha256", e.entry_sha256}};
    // The stage deadline that applied and whether it was met (entries since 2026-12-07).
    if (const auto j = e.to_json(); !e.deadline.empty())
      for (const char* k : {"stage_deadline_utc", "deadline", "next_deadline_utc"}) h[k] = j.at(k);
    history.push_back(std::move(h));
  }
  bj::object o{{"format", "wim-case-review 1"},
               {"exported_utc", time::format_utc_us(now_unix_us)},
               {"case", c.to_json(true)},
               {"created_utc", time::format_utc_us(c.created_unix_us)},
               {"history", std::move(history)}};
  return bj::serialize(o) + "\n";
}

/// The chain's links (seq, prev_sha256, entry_sha256, signature_hex) from `first` to `last`:
/// the other cases' entries between the case's own stay out but their links prove that no
/// entry was removed or reordered in that span.
std::string chain_links(Review& review, std::int64_t first, std::int64_t last) {
  std::string out;
  for (const auto& e : review.audit("", 100'000'000)) {
    if (e.seq < first || e.seq > last) continue;
    out += bj::serialize(bj::object{{"seq", e.seq},
                                    {"prev_sha256", e.prev_sha256},
                                    {"entry_sha256", e.entry_sha256},
                                    {"signature_hex", e.signature_hex}}) +
           "\n";
  }
  return out;
}

/// README.txt: every line starting "$ " is a command run inside the <case_id>/ folder
/// (the test runs exactly these lines).
std::string readme(const ReviewCase& c, const StoredRecord& rec,
                   const std::vector<AuditEntry>& entries,
                   const std::vector<std::string>& missing_images, std::int64_t now_unix_us) {
  const auto& id = c.case_id;
  std::string r;
  r += "Case " + id + ": overload evidence exported by wim-collector\n";
  r += "Exported at " + time::format_utc_ms(now_unix_us) + " (UTC, collector clock).\n";
  r += "Station " + c.station_id + ", lane " + std::to_string(c.lane) + ", pass at " +
       time::format_utc_ms(c.time_unix_us) + " (UTC, station clock; its sync state is the\n";
  r += "manifest's \"clock_sync\" field). State of the case: " + c.state + ".\n\n";
  r += "What the files are\n";
  r += "  " + id + "/manifest.json  the station's record, the exact bytes it signed\n";
  r += "  " + id + "/manifest.sig   its Ed25519 signature (64 bytes)\n";
  r += "  " + id + "/<images>       the attachments the manifest lists with SHA-256\n";
  r += "  station.pub.pem    the station's public key, as registered at the collector\n";
  r += "  collector.pub.pem  the collector's audit key (signs every review action)\n";
  r += "  review.json        the case and its review history: who, role, when (UTC), why\n";
  r += "  audit.jsonl        the review actions on this case, one JSON object per line\n";
  r += "  audit-chain.jsonl  the audit log's links from the case's first action to its\n";
  r += "                     last (other cases' actions as hashes only): none removed\n";
  r += "  audit/<seq>.txt    one action's exact text that was hashed; <seq>.sha256 its\n";
  r += "                     SHA-256 (the text signed); <seq>.sig the signature\n";
  r += "  SHA256SUMS         the SHA-256 of every file above; SHA256SUMS.sig its\n";
  r += "                     signature by the collector's audit key\n";
  if (!missing_images.empty()) {
    r += "\nRemoved by the retention rule (the signed manifest still lists their SHA-256;\n";
    r += "the audit entry \"retention_purge\" records when):\n";
    for (const auto& m : missing_images) r += "  " + m + "\n";
  }
  r += "\nHow to check it (Linux or any system with OpenSSL 3 and coreutils), inside the\n";
  r += "folder " + id + "/ of this archive. Each command must print OK or\n";
  r += "\"Signature Verified Successfully\"; anything else means the file was changed.\n";
  r += "(wim-verify --case " + id + ".tar does all of this and the chain links at once.)\n\n";
  r += "1. Every file is the one the collector exported:\n";
  r += "$ openssl pkeyutl -verify -pubin -inkey collector.pub.pem -rawin -in SHA256SUMS "
       "-sigfile SHA256SUMS.sig\n";
  r += "$ sha256sum -c SHA256SUMS\n";
  r += "2. The station signed this record:\n";
  r += "$ openssl pkeyutl -verify -pubin -inkey station.pub.pem -rawin -in " + id +
       "/manifest.json -sigfile " + id + "/manifest.sig\n";
  r += "3. The images are the ones the record lists:\n";
  if (!missing_images.empty())
    r += "   (not those removed by retention: audit.jsonl's retention_purge entry names them)\n";
  for (const auto& a : rec.attachments)
    if (std::none_of(missing_images.begin(), missing_images.end(),
                     [&](const std::string& m) { return m.starts_with(a.name + " ("); }))
      r += "$ grep -q '\"sha256\":\"" + a.sha256 + "\"' " + id + "/manifest.json && echo \"" +
           a.sha256 + "  " + id + "/" + a.name + "\" | sha256sum -c -\n";
  r += "4. Each review action is the collector's, unchanged, and about this record:\n";
  for (const auto& e : entries) {
    const auto n = "audit/" + case_archive::seq10(e.seq);
    r += "$ echo \"$(cat " + n + ".sha256)  " + n + ".txt\" | sha256sum -c -\n";
    r += "$ openssl pkeyutl -verify -pubin -inkey collector.pub.pem -rawin -in " + n +
         ".sha256 -sigfile " + n + ".sig\n";
    r += "$ grep -q \"^manifest_sha256=\\\"$(sha256sum < " + id +
         "/manifest.json | cut -c1-64)\\\"$\" " + n + ".txt && echo " + n +
         ": about this record OK\n";
  }
  if (entries.empty()) r += "   (no review action yet)\n";
  return r;
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
                 std::int64_t now_unix_us, const crypto::SigningKey& audit_key) {
  namespace ca = case_archive;
  if (audit_key.public_key().fingerprint() != review.public_key().fingerprint())
    throw InputError("the audit key given is not the review's");
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
  CaseTar out;
  std::vector<std::pair<std::string, std::string>> files;  // relative to <case_id>/
  const auto add = [&](std::string path, std::string bytes) {
    files.emplace_back(std::move(path), std::move(bytes));
  };
  add(case_id + "/manifest.json", rec->manifest);
  add(case_id + "/manifest.sig", rec->signature);
  for (const auto& a : rec->attachments) {
    auto bytes = blobs.get(a.sha256);
    if (!bytes) {
      out.missing_images.push_back(a.name + " (sha256 " + a.sha256 + ")");
      continue;
    }
    add(case_id + "/" + a.name, std::move(*bytes));
  }
  add(std::string(ca::kStationKey), station_key_pem);
  add(std::string(ca::kCollectorKey), review.public_key().to_pem());
  const auto entries = review.audit(case_id);
  add(std::string(ca::kReview), review_json(c, entries, now_unix_us));
  add(std::string(ca::kAudit), audit_jsonl(entries));
  add(std::string(ca::kChain), entries.empty()
                                   ? std::string()
                                   : chain_links(review, entries.front().seq, entries.back().seq));
  for (const auto& e : entries) {
    const auto n = "audit/" + ca::seq10(e.seq);
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
  add(std::string(ca::kReadme), readme(c, *rec, entries, out.missing_images, now_unix_us));
  const auto sums = ca::sums_text(files);
  add(std::string(ca::kSums), sums);
  add(std::string(ca::kSumsSig), audit_key.sign(sums));

  std::vector<std::pair<std::string, std::string>> in_tar{{case_id + "/", ""}};
  std::set<std::string> dirs{case_id + "/"};
  for (auto& [path, bytes] : files) {
    for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
      if (const auto dir = case_id + "/" + path.substr(0, slash + 1); dirs.insert(dir).second)
        in_tar.emplace_back(dir, "");
    out.files.push_back(case_id + "/" + path);
    in_tar.emplace_back(case_id + "/" + path, std::move(bytes));
  }
  out.tar = packet::files_to_tar(in_tar, now_unix_us / 1'000'000, packet::TarEnd::full_records);
  return out;
}

std::vector<AuditEntry> audit_range(Review& review, std::int64_t from_unix_us,
                                    std::int64_t to_unix_us) {
  auto all = review.audit("", 100'000'000);
  std::size_t first = all.size(), last = 0;
  for (std::size_t i = 0; i < all.size(); ++i)
    if (all[i].time_unix_us >= from_unix_us && all[i].time_unix_us < to_unix_us) {
      first = std::min(first, i);
      last = i;
    }
  if (first == all.size()) return {};
  return {all.begin() + static_cast<std::ptrdiff_t>(first),
          all.begin() + static_cast<std::ptrdiff_t>(last) + 1};
}

std::string closed_csv(Review& review, const MetadataStore& store, std::int64_t from_unix_us,
                       std::int64_t to_unix_us, std::size_t* rows) {
  // The latest time of each action per case (a case returned to transport is confirmed
  // again: the last confirmation is the one that led to the decision).
  std::map<std::string, std::map<std::string, const AuditEntry*>> last_action;
  const auto entries = review.audit("", 100'000'000);
  for (const auto& e : entries) {
    const auto action = e.action.starts_with("decide:") ? std::string("decide") : e.action;
    last_action[e.case_id][action] = &e;
  }
  std::vector<std::pair<std::int64_t, std::string>> lines;
  for (const auto& c : review.by_state("closed", 100'000'000)) {
    const auto& acts = last_action[c.case_id];
    const auto closed = acts.find("close");
    if (closed == acts.end()) continue;  // closed without an audit entry: cannot happen
    const auto t = closed->second->time_unix_us;
    if (t < from_unix_us || t >= to_unix_us) continue;
    const auto at = [&](const char* action) {
      const auto it = acts.find(action);
      return it == acts.end() ? std::string() : time::format_utc_ms(it->second->time_unix_us);
    };
    std::string colour, vclass, axles;
    std::size_t axle_count = 0;
    double ratio = c.limit_kg > 0 ? (c.gross_kg - c.limit_kg) / c.limit_kg : 0;
    if (const auto rec = store.get_record(c.station_id, packet_seq(c.case_id))) {
      const auto m = record::parse_manifest(rec->manifest);
      if (m.measurement) {
        if (m.measurement->plate) colour = m.measurement->plate->colour;
        vclass = m.measurement->vehicle_class;
        axles = m.measurement->axle_config;
        axle_count = m.measurement->axle_loads_kg.size();
      }
      if (m.legal) ratio = m.legal->overload_ratio;
    }
    // Text cells are guarded against formula injection; number cells are ours (csv.hpp).
    using csv::number;
    using csv::text;
    const std::vector<std::string> f{text(c.case_id),
                                     text(c.station_id),
                                     number(std::int64_t{c.lane}),
                                     text(time::format_utc_ms(c.time_unix_us)),
                                     text(c.plate),
                                     text(colour),
                                     text(vclass),
                                     text(axles),
                                     number(static_cast<std::int64_t>(axle_count)),
                                     number(c.gross_kg, 1),
                                     number(c.limit_kg, 1),
                                     number(c.excess_kg, 1),
                                     number(ratio, 4),
                                     text(c.rule),
                                     text(c.decision.kind),
                                     number(std::int64_t{c.decision.amount_yuan}),
                                     text(c.decision.reason),
                                     text(at("confirm")),
                                     text(at("decide")),
                                     text(time::format_utc_ms(t)),
                                     text(closed->second->user),
                                     text(c.manifest_sha256)};
    std::string line;
    for (const auto& v : f) line += (line.empty() ? "" : ",") + v;
    lines.emplace_back(t, line + "\r\n");
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out(kClosedCsvHeader);
  out += "\r\n";
  for (const auto& [t, l] : lines) out += l;
  if (rows) *rows = lines.size();
  return out;
}

}  // namespace wim::collector
