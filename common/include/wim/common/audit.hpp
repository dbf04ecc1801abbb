// SPDX-License-Identifier: Apache-2.0
// The collector's audit log of reviewer actions (issue 18, docs/review.md "Audit log"):
// each entry holds the SHA-256 of the previous entry, its own SHA-256 over a canonical
// text of its fields, and an Ed25519 signature (collector key) of that hash's hex text.
// One entry per line of JSON when exported (audit.jsonl); wim-verify --audit checks it.
#pragma once
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <string>

#include "wim/common/crypto.hpp"

namespace wim::audit {

/// "0" x 64: the prev_sha256 of the first entry.
inline const std::string kGenesis(64, '0');

/// The exact text hashed for an entry: its fields (all but entry_sha256 and signature_hex)
/// one per line as key=value, in a fixed order; values are JSON-escaped strings/numbers.
/// An entry with "deadline" (the stage deadline that applied: "met" | "overdue" | "none")
/// also has stage_deadline_unix_us, deadline, next_deadline_unix_us hashed after them;
/// entries written before deadlines were recorded have none of the three.
std::string canonical(const boost::json::object& entry);

struct Result {
  bool ok = true;
  std::int64_t entries = 0;
  std::int64_t bad_seq = -1;                 ///< first entry found wrong (-1 = none)
  std::string problem;                       ///< what was wrong with it
  std::int64_t first_seq = 0, last_seq = 0;  ///< of the good entries (0: none)
  std::string last_sha256;                   ///< entry_sha256 of the last good entry
};

/// How much of the log the entries are.
enum class Span {
  tail,      ///< consecutive entries from any seq (a whole log starting at 1, or its tail)
  from_one,  ///< the whole log: the first entry must be seq 1
  excerpt,   ///< some entries (e.g. one case's trail): seq increasing, links not checked
};

/// Checks every entry in order: entry_sha256 = sha256(canonical), signature valid, the
/// readable time_utc / stage_deadline_utc / next_deadline_utc equal to their hashed
/// *_unix_us (null or absent when that is 0); for
/// tail/from_one also seq consecutive from the first and prev_sha256 = the previous
/// entry_sha256 (kGenesis for seq 1). `bad_seq` and `problem` name the first entry wrong;
/// `entries` is how many were good before it (so it is entry number entries + 1).
Result verify(const boost::json::array& entries, const crypto::VerifyKey& key,
              Span span = Span::tail);
/// Same over JSON lines (InputError-free: a line that does not parse is a problem found).
Result verify_jsonl(const std::string& text, const crypto::VerifyKey& key, Span span = Span::tail);

}  // namespace wim::audit
