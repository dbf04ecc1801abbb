// SPDX-License-Identifier: Apache-2.0
// Exports of the review (issue 18, docs/collector.md "Exports"): the audit log as JSON
// lines for `wim-verify --audit`, and one case as a tar a court clerk checks with openssl
// and sha256sum alone (the README.txt inside gives the exact commands).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "wim/collector/review.hpp"
#include "wim/collector/store.hpp"

namespace wim::collector {

/// One AuditEntry::to_json per line, in the given order (wim-verify --audit reads it).
std::string audit_jsonl(const std::vector<AuditEntry>& entries);

struct CaseTar {
  std::string tar;                          ///< the archive's bytes
  std::vector<std::string> files;           ///< paths inside it, in order
  std::vector<std::string> missing_images;  ///< attachments no longer in the blob store
};

/// The case archive of `case_id` (layout: wim/common/case_archive.hpp; checked by
/// case_archive::verify and by the openssl lines of its README.txt). SHA256SUMS is signed
/// with `audit_key`, which must be the review's key. An attachment removed by retention
/// is named in README.txt and `missing_images`, not invented.
/// ReviewError not_found for an unknown case; InputError when the record or the station's
/// key is not at this collector.
CaseTar case_tar(const MetadataStore& store, const BlobStore& blobs, Review& review,
                 const std::string& case_id, const std::string& station_key_pem,
                 std::int64_t now_unix_us, const crypto::SigningKey& audit_key);

/// The CSV header of closed_csv (its columns are documented in docs/case-export.md).
inline constexpr const char* kClosedCsvHeader =
    "case_id,station_id,lane,pass_time_utc,plate,plate_colour,vehicle_class,axle_config,"
    "axle_count,gross_kg,limit_kg,excess_kg,overload_ratio,rule,decision,fine_yuan,"
    "decision_reason,confirmed_utc,decided_utc,closed_utc,closed_by,manifest_sha256";

/// Closed cases as CSV (docs/case-export.md "export-closed"): one row per case closed in
/// [from_unix_us, to_unix_us), in order of closing; the vehicle's axle configuration and
/// plate colour from the case's signed manifest in `store`.
std::string closed_csv(Review& review, const MetadataStore& store, std::int64_t from_unix_us,
                       std::int64_t to_unix_us, std::size_t* rows = nullptr);

/// The audit entries with time in [from_unix_us, to_unix_us) (all seqs between the first
/// and the last such entry, so the excerpt is a consecutive, linked span of the log).
std::vector<AuditEntry> audit_range(Review& review, std::int64_t from_unix_us,
                                    std::int64_t to_unix_us);

}  // namespace wim::collector
