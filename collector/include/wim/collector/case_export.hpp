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

/// The tar of case `case_id`, every path under "<case_id>/":
///   <case_id>/manifest.json, manifest.sig, attachments: the signed packet as stored
///   station.pub.pem, collector.pub.pem: the station's key (from the registry), the audit key
///   audit.jsonl: the case's audit entries; audit/NNNNNNNNNN.txt (canonical text hashed),
///   .sha256 (its hash, the signed text), .sig (64-byte Ed25519 signature) per entry
///   SHA256SUMS: the attachments' hashes as the signed manifest lists them
///   README.txt: what each file is and the commands (lines starting "$ ") that check it.
/// An attachment removed by retention is listed in README.txt, not invented.
/// ReviewError not_found for an unknown case; InputError when the record is not stored.
CaseTar case_tar(const MetadataStore& store, const BlobStore& blobs, Review& review,
                 const std::string& case_id, const std::string& station_key_pem,
                 std::int64_t now_unix_us);

}  // namespace wim::collector
