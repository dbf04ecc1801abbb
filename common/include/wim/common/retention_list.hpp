// SPDX-License-Identifier: Apache-2.0
// Attachments a collector removed on purpose (image retention, docs/retention.md), as a
// reader can check them: the collector's signed audit entries "retention_purge" (common/
// audit.hpp), each about one record (its manifest_sha256) and naming every removed file
// as "<name> sha256=<hex> (<n> bytes);" in its reason. An attachment the signed manifest
// lists and the packet lacks is expected-absent only when such an entry, signed by the
// collector key the reader trusts, names that attachment's SHA-256 for that very manifest;
// any other missing attachment stays a chain::Problem::attachment_missing.
// Used by wim-verify on a station chain export (`<station>-retention.jsonl` beside the
// tars), by wim-verify --case (case_archive) and by the workbench.
#pragma once
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "wim/common/chain.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/packet.hpp"

namespace wim::retention_list {

inline constexpr std::string_view kAction = "retention_purge";

/// The SHA-256 (hex) of each file a retention_purge entry's reason names ("sha256=<hex>").
std::set<std::string> hashes_in_reason(std::string_view reason);

/// manifest SHA-256 (hex) -> SHA-256 (hex) of the attachments removed from that record.
using Removed = std::map<std::string, std::set<std::string>>;

struct List {
  Removed removed;          ///< filled only when the whole list verified (ok)
  std::size_t entries = 0;  ///< entries that verified
  std::string problem;      ///< empty when ok; else what is wrong and with which entry
  bool ok() const { return problem.empty(); }
};

/// Reads audit entries as JSON lines (`wim-collector export --station` writes them) and
/// checks them with `collector_key` (hash, signature, readable times; seq increasing, as
/// an excerpt of the log); every entry must be a retention_purge about a manifest. Never
/// throws on bad input: a wrong entry is named in `problem`, and then nothing is accepted.
List read(const std::string& jsonl, const crypto::VerifyKey& collector_key);

/// Drops from `findings` each attachment_missing about packet `p` that `removed` explains
/// (an entry about p's manifest names the listed attachment's SHA-256); returns the names
/// of the attachments so accepted.
std::vector<std::string> accept_removed(std::vector<chain::Finding>& findings,
                                        const packet::Packet& p, const Removed& removed);

/// The same over a chain's findings (chain::verify_chain): each attachment_missing is
/// matched to the packets of its station and seq. Returns how many were accepted.
std::size_t accept_removed(std::vector<chain::Finding>& findings,
                           const std::vector<packet::Packet>& packets, const Removed& removed);

}  // namespace wim::retention_list
