// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/chain_export.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>

#include "wim/collector/case_export.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"
#include "wim/common/retention_list.hpp"

namespace wim::collector {

std::optional<packet::Packet> load_stored_packet(const MetadataStore& store, const BlobStore& blobs,
                                                 std::string_view station, std::int64_t seq,
                                                 std::vector<std::string>* absent) {
  auto r = store.get_record(station, seq);
  if (!r) return std::nullopt;
  packet::Packet p;
  p.manifest_json = std::move(r->manifest);
  p.signature = std::move(r->signature);
  for (const auto& a : r->attachments) {
    auto bytes = blobs.get(a.sha256);
    if (!bytes && absent) {
      absent->push_back(a.name);
      continue;
    }
    if (!bytes)
      throw SystemError("attachment " + a.name + " (" + a.sha256 + ") of " +
                        packet::dir_name(station, static_cast<std::uint64_t>(seq)) +
                        " is missing from the blob store");
    p.attachments[a.name] = std::move(*bytes);
  }
  return p;
}

namespace {

std::string seq10(std::int64_t seq) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%010lld", static_cast<long long>(seq));
  return buf;
}

void write_tar(const std::filesystem::path& path, const std::vector<packet::Packet>& packets) {
  const auto part = std::filesystem::path(path.string() + ".part");
  {
    std::ofstream out(part, std::ios::binary | std::ios::trunc);
    // Whole 10240-byte records: auditors edit these with GNU tar (docs/retention.md).
    const std::string tar = packet::to_tar(packets, packet::TarEnd::full_records);
    out.write(tar.data(), static_cast<std::streamsize>(tar.size()));
    out.flush();
    if (!out) throw SystemError("cannot write " + part.string());
  }
  std::filesystem::rename(part, path);
}

}  // namespace

ExportResult export_chain(const MetadataStore& store, const BlobStore& blobs,
                          std::string_view station, const std::filesystem::path& out_dir,
                          const ExportOptions& options) {
  if (options.per_tar < 1) throw InputError("export: per_tar must be at least 1");
  const auto summary = store.chain(station);
  if (summary.highest_seq < 1)
    throw InputError("export: the collector has no record of station '" + std::string(station) +
                     "'");
  ExportResult result;
  result.first_seq = options.from_seq;
  result.last_seq = options.to_seq == 0 ? summary.highest_seq : options.to_seq;
  if (result.first_seq < 1 || result.last_seq < result.first_seq)
    throw InputError("export: bad seq range " + std::to_string(result.first_seq) + ".." +
                     std::to_string(result.last_seq));
  std::filesystem::create_directories(out_dir);
  const std::string prefix = std::string(station) + "-";
  for (const auto& e : std::filesystem::directory_iterator(out_dir)) {
    const auto name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 &&
        (e.path().extension() == ".tar" || name == retention_list_name(station)))
      throw InputError("export: " + out_dir.string() + " already holds " + name +
                       ": export each station into an empty folder");
  }

  std::vector<packet::Packet> batch;
  std::int64_t batch_first = 0, batch_last = 0;
  const auto flush = [&] {
    if (batch.empty()) return;
    const auto path = out_dir / (prefix + seq10(batch_first) + "-" + seq10(batch_last) + ".tar");
    write_tar(path, batch);
    result.files.push_back(path);
    result.records += static_cast<std::int64_t>(batch.size());
    batch.clear();
  };
  for (std::int64_t seq = result.first_seq; seq <= result.last_seq; ++seq) {
    std::vector<std::string> absent;
    auto p = load_stored_packet(store, blobs, station, seq, &absent);
    if (!p) {
      if (!result.missing.empty() && result.missing.back().second == seq - 1)
        result.missing.back().second = seq;
      else
        result.missing.emplace_back(seq, seq);
      continue;
    }
    if (!absent.empty()) {
      const auto manifest_sha = crypto::sha256_hex(p->manifest_json);
      for (const auto& a : p->manifest().attachments) {
        if (std::find(absent.begin(), absent.end(), a.name) == absent.end()) continue;
        const bool purged = options.purged && options.purged->contains({manifest_sha, a.name});
        (purged ? result.removed : result.lost).push_back({seq, manifest_sha, a.name, a.sha256});
      }
    }
    if (batch.empty()) batch_first = seq;
    batch_last = seq;
    batch.push_back(std::move(*p));
    if (batch.size() >= options.per_tar) flush();
  }
  flush();
  return result;
}

std::string retention_list_name(std::string_view station) {
  return std::string(station) + "-retention.jsonl";
}

std::filesystem::path write_retention_list(Review& review, std::string_view station,
                                           const ExportResult& result,
                                           const std::filesystem::path& out_dir) {
  const auto path = out_dir / retention_list_name(station);
  if (result.removed.empty()) return path;
  std::map<std::int64_t, AuditEntry> entries;  // by audit seq: the log's order
  for (const auto& a : result.removed) {
    bool named = false;
    for (auto& e : review.audit(packet::dir_name(station, static_cast<std::uint64_t>(a.seq)))) {
      if (e.action != retention_list::kAction || e.manifest_sha256 != a.manifest_sha256) continue;
      named = named || retention_list::hashes_in_reason(e.reason).contains(a.sha256);
      entries.emplace(e.seq, std::move(e));
    }
    if (!named)
      throw InputError("export: " + a.name + " of " +
                       packet::dir_name(station, static_cast<std::uint64_t>(a.seq)) +
                       " is marked removed by retention, but no retention_purge audit entry "
                       "of its case names sha256 " +
                       a.sha256);
  }
  std::vector<AuditEntry> ordered;
  for (auto& [seq, e] : entries) ordered.push_back(std::move(e));
  write_file_atomic(std::filesystem::absolute(path), audit_jsonl(ordered));
  write_file_atomic(std::filesystem::absolute(out_dir / kCollectorKeyName),
                    review.public_key().to_pem());
  return path;
}

}  // namespace wim::collector
