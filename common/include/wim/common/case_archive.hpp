// SPDX-License-Identifier: Apache-2.0
// The case archive (issue 18, docs/case-export.md): one tar a court is given for one
// overload case, written by `wim-collector export-case` and checked offline by
// `wim-verify --case`. Every path sits under "<case_id>/":
//   <case_id>/manifest.json, manifest.sig, attachments   the station's signed packet
//   station.pub.pem, collector.pub.pem                    the station's and the audit key
//   review.json         the case and its review history (who, role, when UTC, deadlines)
//   audit.jsonl         the case's audit entries (signed, hash-chained)
//   audit-chain.jsonl   the chain links from the case's first to its last entry
//   audit/<seq>.txt, .sha256, .sig   one entry's hashed text, hash and signature (openssl)
//   README.txt          how to check it with openssl and sha256sum alone
//   SHA256SUMS          SHA-256 of every other file (sha256sum -c format)
//   SHA256SUMS.sig      raw Ed25519 signature of SHA256SUMS by the collector's audit key
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wim/common/crypto.hpp"

namespace wim::case_archive {

inline constexpr std::string_view kSums = "SHA256SUMS";
inline constexpr std::string_view kSumsSig = "SHA256SUMS.sig";
inline constexpr std::string_view kStationKey = "station.pub.pem";
inline constexpr std::string_view kCollectorKey = "collector.pub.pem";
inline constexpr std::string_view kReview = "review.json";
inline constexpr std::string_view kAudit = "audit.jsonl";
inline constexpr std::string_view kChain = "audit-chain.jsonl";
inline constexpr std::string_view kReadme = "README.txt";

/// "0000000042": the audit/<seq> file stem.
std::string seq10(std::int64_t seq);

/// SHA256SUMS text over (path relative to <case_id>/, bytes): "<sha256>  <path>\n" each,
/// in the given order (sha256sum -c reads it).
std::string sums_text(const std::vector<std::pair<std::string, std::string>>& files);

struct Problem {
  std::string member;   ///< path inside <case_id>/ ("(archive)" for the tar itself)
  std::string problem;  ///< what is wrong with it
};

struct Report {
  std::string case_id;
  std::size_t files = 0;        ///< files listed in SHA256SUMS and matching it
  std::size_t packets = 0;      ///< packets whose signature and attachments verified
  std::size_t attachments = 0;  ///< attachments of those packets
  /// Attachments the manifest lists that are absent because a signed audit entry
  /// "retention_purge" of the case names their SHA-256 (common/retention_list.hpp).
  std::size_t removed_images = 0;
  std::size_t audit_entries = 0;                         ///< the case's audit entries that verified
  std::int64_t chain_first_seq = 0, chain_last_seq = 0;  ///< linked span (0: none)
  bool keys_from_archive = true;  ///< no key was given: the archive's own were used
  std::vector<Problem> problems;
  bool ok() const { return problems.empty(); }
};

/// Checks a case archive: the SHA256SUMS signature and every file's hash (and no file
/// unlisted), each packet's station signature and attachments, each audit entry's hash and
/// signature and that it is about this case's manifest, the chain links across the span,
/// the audit/<seq> files, and review.json against the audit entries. `station_key` /
/// `collector_key` (nullptr: the archive's own key files) are the keys a reader trusts;
/// a key file in the archive that differs from them is a problem. Never throws on bad
/// input: everything wrong is a Problem.
Report verify(std::string_view tar, const crypto::VerifyKey* station_key,
              const crypto::VerifyKey* collector_key);

}  // namespace wim::case_archive
