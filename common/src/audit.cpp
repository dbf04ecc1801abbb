// SPDX-License-Identifier: Apache-2.0
#include "wim/common/audit.hpp"

#include <boost/json.hpp>
#include <sstream>

#include "wim/common/time.hpp"

namespace wim::audit {

namespace bj = boost::json;

namespace {

constexpr const char* kFields[] = {"seq",     "time_unix_us",    "user",       "role",
                                   "case_id", "action",          "from",       "to",
                                   "reason",  "manifest_sha256", "prev_sha256"};
/// The stage deadline of an entry (recorded since 2026-12-07): hashed after the fields
/// above when the entry has "deadline", so older entries keep their text and hash.
constexpr const char* kDeadlineFields[] = {"stage_deadline_unix_us", "deadline",
                                           "next_deadline_unix_us"};
/// Fields for people, derived from a hashed one: each must equal format_utc_us of it.
constexpr std::pair<const char*, const char*> kDerivedUtc[] = {
    {"time_utc", "time_unix_us"},
    {"stage_deadline_utc", "stage_deadline_unix_us"},
    {"next_deadline_utc", "next_deadline_unix_us"}};

void add_line(std::string& out, const bj::object& entry, const char* f) {
  const auto* v = entry.if_contains(f);
  out += f;
  out += '=';
  out += v ? bj::serialize(*v) : "null";
  out += '\n';
}
}  // namespace

std::string canonical(const bj::object& entry) {
  std::string out;
  for (const char* f : kFields) add_line(out, entry, f);
  if (entry.contains("deadline"))
    for (const char* f : kDeadlineFields) add_line(out, entry, f);
  return out;
}

Result verify(const bj::array& entries, const crypto::VerifyKey& key, Span span) {
  Result r;
  std::string prev = kGenesis;
  std::int64_t expect_seq = 0;
  for (const auto& v : entries) {
    const auto* o = v.if_object();
    std::int64_t seq = -1;
    auto fail = [&](std::string why) {
      r.ok = false;
      r.bad_seq = seq;
      r.problem = std::move(why);
      return r;
    };
    if (!o) return fail("entry " + std::to_string(r.entries + 1) + " is not a JSON object");
    const auto* s = o->if_contains("seq");
    if (!s || !s->is_int64()) return fail("entry without an integer seq");
    seq = s->as_int64();
    if (expect_seq == 0) {
      if (span == Span::from_one && seq != 1)
        return fail("the log starts at seq " + std::to_string(seq) +
                    ", not 1 (entries before it missing)");
      expect_seq = seq;
    }
    if (span == Span::excerpt && seq < expect_seq)
      return fail("seq " + std::to_string(seq) + " after seq " + std::to_string(expect_seq - 1) +
                  " (entries reordered or repeated)");
    if (span != Span::excerpt && seq != expect_seq)
      return fail("seq " + std::to_string(seq) + " where " + std::to_string(expect_seq) +
                  " was expected (entry missing or reordered)");
    auto text = [&](const char* k) -> std::string {
      const auto* x = o->if_contains(k);
      return x && x->is_string() ? std::string(x->as_string()) : std::string();
    };
    if (seq == 1 && text("prev_sha256") != kGenesis) return fail("first entry not at genesis");
    if (span != Span::excerpt && r.entries > 0 && text("prev_sha256") != prev)
      return fail("prev_sha256 does not match the previous entry (chain broken)");
    const auto hash = crypto::sha256_hex(canonical(*o));
    if (hash != text("entry_sha256")) return fail("entry_sha256 does not match its fields");
    for (const auto& [utc, us] : kDerivedUtc) {
      const auto* shown = o->if_contains(utc);
      if (!shown) continue;
      const auto* at = o->if_contains(us);
      const bool none = !at || (at->is_int64() && at->as_int64() == 0);
      const std::string want = none             ? ""
                               : at->is_int64() ? time::format_utc_us(at->as_int64())
                                                : "?";
      const std::string got = shown->is_string() ? std::string(shown->as_string()) : "?";
      if (got != want && !(none && shown->is_null()))
        return fail(std::string(utc) + " \"" + got + "\" is not " + us + " (" +
                    (want.empty() ? "none" : want) + ")");
    }
    std::string sig;
    try {
      sig = crypto::from_hex(text("signature_hex"));
    } catch (const std::exception&) {
      return fail("signature_hex is not hex");
    }
    if (!key.verify(hash, sig)) return fail("signature does not verify with the collector key");
    prev = hash;
    expect_seq = seq + 1;
    if (r.entries == 0) r.first_seq = seq;
    r.last_seq = seq;
    r.last_sha256 = hash;
    ++r.entries;
  }
  return r;
}

Result verify_jsonl(const std::string& text, const crypto::VerifyKey& key, Span span) {
  bj::array entries;
  std::istringstream in(text);
  std::string line;
  std::int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    bj::error_code ec;
    auto v = bj::parse(line, ec);
    if (ec) {
      Result r;
      r.ok = false;
      r.problem = "line " + std::to_string(n) + " is not JSON: " + ec.message();
      return r;
    }
    entries.push_back(std::move(v));
  }
  return verify(entries, key, span);
}

}  // namespace wim::audit
