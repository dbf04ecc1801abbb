// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/chain_export.hpp"

#include <cstdio>
#include <fstream>

#include "wim/common/error.hpp"

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
    const std::string tar = packet::to_tar(packets);
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
    if (name.rfind(prefix, 0) == 0 && e.path().extension() == ".tar")
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
    auto p = load_stored_packet(store, blobs, station, seq);
    if (!p) {
      if (!result.missing.empty() && result.missing.back().second == seq - 1)
        result.missing.back().second = seq;
      else
        result.missing.emplace_back(seq, seq);
      continue;
    }
    if (batch.empty()) batch_first = seq;
    batch_last = seq;
    batch.push_back(std::move(*p));
    if (batch.size() >= options.per_tar) flush();
  }
  flush();
  return result;
}

}  // namespace wim::collector
