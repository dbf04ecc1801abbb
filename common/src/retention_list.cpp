// SPDX-License-Identifier: Apache-2.0
#include "wim/common/retention_list.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <sstream>

#include "wim/common/audit.hpp"
#include "wim/common/error.hpp"

namespace bj = boost::json;

namespace wim::retention_list {

namespace {

std::string text_field(const bj::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

/// "plate.jpg is listed but not in the packet" -> "plate.jpg" (chain.cpp's wording).
std::string missing_name(const chain::Finding& f) {
  return f.detail.substr(0, f.detail.find(" is listed"));
}

struct Listed {
  std::string station_id, manifest_sha256;
  std::uint64_t seq = 0;
  std::map<std::string, std::string> sha_by_name;
  const packet::Packet* packet = nullptr;
};

bool listed_of(const packet::Packet& p, Listed& out) {
  try {
    const auto m = p.manifest();
    out.station_id = m.station_id;
    out.seq = m.seq;
    for (const auto& a : m.attachments) out.sha_by_name[a.name] = a.sha256;
  } catch (const InputError&) {  // malformed: verify_packet names it; nothing to accept
    return false;
  }
  out.manifest_sha256 = crypto::sha256_hex(p.manifest_json);
  out.packet = &p;
  return true;
}

bool explains(const Listed& l, const std::string& name, const Removed& removed) {
  if (l.packet->attachments.contains(name)) return false;
  const auto a = l.sha_by_name.find(name);
  if (a == l.sha_by_name.end()) return false;
  const auto r = removed.find(l.manifest_sha256);
  return r != removed.end() && r->second.contains(a->second);
}

}  // namespace

std::set<std::string> hashes_in_reason(std::string_view reason) {
  std::set<std::string> out;
  constexpr std::string_view kKey = "sha256=";
  for (auto at = reason.find(kKey); at != std::string::npos; at = reason.find(kKey, at + 1)) {
    const auto hex = reason.substr(at + kKey.size(), 64);
    if (hex.size() == 64 && hex.find_first_not_of("0123456789abcdef") == std::string::npos)
      out.emplace(hex);
  }
  return out;
}

List read(const std::string& jsonl, const crypto::VerifyKey& collector_key) {
  List out;
  const auto res = audit::verify_jsonl(jsonl, collector_key, audit::Span::excerpt);
  if (!res.ok) {
    out.problem = "entry " + std::to_string(res.entries + 1) + " (seq " +
                  (res.bad_seq < 0 ? std::string("?") : std::to_string(res.bad_seq)) +
                  "): " + res.problem;
    return out;
  }
  Removed removed;
  std::istringstream in(jsonl);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    ++n;
    const auto o = bj::parse(line).as_object();  // verify_jsonl parsed it already
    const auto action = text_field(o, "action"), manifest = text_field(o, "manifest_sha256");
    const auto seq = o.if_contains("seq") ? bj::serialize(o.at("seq")) : std::string("?");
    if (action != kAction) {
      out.problem = "entry " + std::to_string(n) + " (seq " + seq + ") is a \"" + action +
                    "\" entry, not " + std::string(kAction);
      return out;
    }
    const auto hashes = hashes_in_reason(text_field(o, "reason"));
    if (manifest.size() != 64 || hashes.empty()) {
      out.problem = "entry " + std::to_string(n) + " (seq " + seq +
                    ") names no manifest_sha256 or no removed file's sha256";
      return out;
    }
    removed[manifest].insert(hashes.begin(), hashes.end());
  }
  out.entries = n;
  out.removed = std::move(removed);
  return out;
}

std::vector<std::string> accept_removed(std::vector<chain::Finding>& findings,
                                        const packet::Packet& p, const Removed& removed) {
  std::vector<std::string> accepted;
  Listed l;
  if (removed.empty() || !listed_of(p, l)) return accepted;
  std::erase_if(findings, [&](const chain::Finding& f) {
    if (f.problem != chain::Problem::attachment_missing) return false;
    const auto name = missing_name(f);
    if (!explains(l, name, removed)) return false;
    accepted.push_back(name);
    return true;
  });
  return accepted;
}

std::size_t accept_removed(std::vector<chain::Finding>& findings,
                           const std::vector<packet::Packet>& packets, const Removed& removed) {
  if (removed.empty()) return 0;
  std::multimap<std::pair<std::string, std::uint64_t>, Listed> by_seq;
  for (const auto& p : packets)
    if (Listed l; listed_of(p, l)) by_seq.emplace(std::pair{l.station_id, l.seq}, std::move(l));
  const auto before = findings.size();
  std::erase_if(findings, [&](const chain::Finding& f) {
    if (f.problem != chain::Problem::attachment_missing) return false;
    const auto name = missing_name(f);
    const auto [b, e] = by_seq.equal_range({f.station_id, f.seq});
    // Every packet of that seq that lacks the file must have it explained (a fork's twin
    // without an entry keeps its finding: verify_chain reports each packet's own).
    bool any = false;
    for (auto it = b; it != e; ++it) {
      if (it->second.packet->attachments.contains(name)) continue;
      if (!explains(it->second, name, removed)) return false;
      any = true;
    }
    return any;
  });
  return before - findings.size();
}

}  // namespace wim::retention_list
