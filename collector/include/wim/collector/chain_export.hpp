// SPDX-License-Identifier: Apache-2.0
// A station's chain as the collector stored it, written back out as packets (contract 4)
// so that anyone can check it with `wim-verify` (or tar + openssl) without our collector:
// `wim-collector export --config collector.json --station G001 --out DIR`.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "wim/collector/review.hpp"
#include "wim/collector/store.hpp"
#include "wim/common/packet.hpp"

namespace wim::collector {

/// The packet stored for (station, seq): the exact manifest bytes, signature and
/// attachments from the blob store; nullopt when that seq is not stored. SystemError
/// naming the attachment when the metadata refers to a blob that is missing; with
/// `absent`, such an attachment's name goes there instead (images removed by retention,
/// docs/retention.md: the caller decides whether the absence is expected).
std::optional<packet::Packet> load_stored_packet(const MetadataStore& store, const BlobStore& blobs,
                                                 std::string_view station, std::int64_t seq,
                                                 std::vector<std::string>* absent = nullptr);

struct ExportOptions {
  std::int64_t from_seq = 1;   ///< first seq to write
  std::int64_t to_seq = 0;     ///< last seq to write (0: the highest stored)
  std::size_t per_tar = 1000;  ///< packets per tar file (>= 1)
  /// (manifest_sha256, attachment name) removed by retention (retention.hpp
  /// purged_attachments): such an attachment, when its blob is gone, is exported without
  /// its bytes and listed in `removed`. nullptr: none.
  const std::set<std::pair<std::string, std::string>>* purged = nullptr;
};

/// An attachment the signed manifest lists that is not in the exported packet.
struct AbsentAttachment {
  std::int64_t seq = 0;
  std::string manifest_sha256, name, sha256;
};

struct ExportResult {
  std::int64_t records = 0;                  ///< packets written
  std::int64_t first_seq = 0, last_seq = 0;  ///< range asked for, after defaults
  SeqRanges missing;                         ///< seqs in that range the collector lacks
  std::vector<std::filesystem::path> files;  ///< tars written, in seq order
  /// Removed by retention (in ExportOptions::purged): expected-absent, docs/retention.md.
  std::vector<AbsentAttachment> removed;
  /// Missing from the blob store without a retention mark: damage at the collector. The
  /// packet is exported without it (wim-verify names it as attachment_missing).
  std::vector<AbsentAttachment> lost;
};

/// Writes seqs [from_seq, to_seq] of `station` into `out_dir` (created) as tars named
/// "<station>-<first seq>-<last seq>.tar" (10 digits each) of at most per_tar packets, in
/// seq order; a tar is written to "<name>.part" and renamed when complete. Seqs the
/// collector lacks are listed in `missing`, never invented; attachments whose bytes are
/// gone in `removed` or `lost` (the packet is written without them). Refuses (InputError) an
/// out_dir that already holds a tar or the retention list of this station, a bad range, or
/// a station with no stored record.
ExportResult export_chain(const MetadataStore& store, const BlobStore& blobs,
                          std::string_view station, const std::filesystem::path& out_dir,
                          const ExportOptions& options = {});

/// "<station>-retention.jsonl": the signed retention_purge audit entries about the
/// exported records whose images retention removed (docs/retention.md "Station chain
/// export"); wim-verify reads it from the chain folder with collector.pub.pem.
std::string retention_list_name(std::string_view station);
inline constexpr const char* kCollectorKeyName = "collector.pub.pem";

/// Writes retention_list_name(station) (the review's retention_purge entries about the
/// manifests in `result.removed`, as JSON lines in seq order) and collector.pub.pem (the
/// review's public key) into `out_dir`; returns the list's path. Nothing is written when
/// `result.removed` is empty. InputError naming the record and file when no entry of its
/// case names the removed attachment's SHA-256 (the export must not claim what the audit
/// log does not say).
std::filesystem::path write_retention_list(Review& review, std::string_view station,
                                           const ExportResult& result,
                                           const std::filesystem::path& out_dir);

}  // namespace wim::collector
