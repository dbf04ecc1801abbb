// SPDX-License-Identifier: Apache-2.0
#include "wim/common/case_archive.hpp"

#include <boost/json.hpp>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "wim/common/audit.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/retention_list.hpp"

namespace bj = boost::json;

namespace wim::case_archive {

std::string seq10(std::int64_t seq) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%010lld", static_cast<long long>(seq));
  return buf;
}

std::string sums_text(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string out;
  for (const auto& [path, bytes] : files) out += crypto::sha256_hex(bytes) + "  " + path + "\n";
  return out;
}

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

std::string str(const bj::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::int64_t int_of(const bj::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_int64() ? v->as_int64() : -1;
}

class Checker {
 public:
  Checker(Report& r, const crypto::VerifyKey* station_key, const crypto::VerifyKey* collector_key)
      : r_(r), station_override_(station_key), collector_override_(collector_key) {
    r_.keys_from_archive = !station_key && !collector_key;
  }

  void run(std::string_view tar) {
    if (!read(tar)) return;
    collector_ = key(std::string(kCollectorKey), collector_override_);
    station_ = key(std::string(kStationKey), station_override_);
    sums();
    packets();
    audit_entries();
    chain_links();
    audit_files();
    review();
  }

 private:
  void bad(std::string member, std::string problem) {
    r_.problems.push_back({std::move(member), std::move(problem)});
  }
  const std::string* file(const std::string& rel) const {
    const auto it = files_.find(rel);
    return it == files_.end() ? nullptr : &it->second;
  }
  const std::string* need(const std::string& rel) {
    const auto* f = file(rel);
    if (!f) bad(rel, "missing from the archive");
    return f;
  }

  bool read(std::string_view tar) {
    std::vector<std::pair<std::string, std::string>> all;
    try {
      all = packet::files_from_tar(tar);
    } catch (const std::exception& e) {
      bad("(archive)", e.what());
      return false;
    }
    for (const auto& [path, bytes] : all) {
      const auto slash = path.find('/');
      const auto top = path.substr(0, slash);
      if (r_.case_id.empty()) r_.case_id = top;
      if (slash == std::string::npos || top != r_.case_id) {
        bad(path, "not inside the case folder " + r_.case_id + "/");
        continue;
      }
      files_[path.substr(slash + 1)] = bytes;
    }
    if (files_.empty()) bad("(archive)", "holds no case folder");
    return !files_.empty();
  }

  std::optional<crypto::VerifyKey> key(const std::string& rel, const crypto::VerifyKey* given) {
    const auto* pem = need(rel);
    std::optional<crypto::VerifyKey> inside;
    if (pem) try {
        inside = crypto::VerifyKey::from_pem(*pem);
      } catch (const std::exception& e) {
        bad(rel, std::string("not a public key: ") + e.what());
      }
    if (!given) return inside;
    if (inside && inside->fingerprint() != given->fingerprint())
      bad(rel, "is not the key given to check with (fingerprint " + inside->fingerprint() +
                   ", given " + given->fingerprint() + ")");
    return *given;
  }

  void sums() {
    const auto* text = need(std::string(kSums));
    const auto* sig = need(std::string(kSumsSig));
    if (!text) return;
    if (sig && collector_ && !collector_->verify(*text, *sig)) {
      // Which of the two was changed cannot be told: both are named.
      bad(std::string(kSums), "not signed by the collector (SHA256SUMS.sig does not verify)");
      bad(std::string(kSumsSig), "the collector's signature does not verify over SHA256SUMS");
    }
    std::set<std::string> listed;
    int line_no = 0;
    for (const auto& l : lines_of(*text)) {
      ++line_no;
      if (l.size() < 67 || l.compare(64, 2, "  ") != 0) {
        bad(std::string(kSums), "line " + std::to_string(line_no) + " is not \"<sha256>  <file>\"");
        continue;
      }
      const auto name = l.substr(66);
      listed.insert(name);
      const auto* f = file(name);
      if (!f)
        bad(name, "listed in SHA256SUMS but missing from the archive");
      else if (crypto::sha256_hex(*f) != l.substr(0, 64))
        bad(name, "SHA-256 " + crypto::sha256_hex(*f) + " differs from SHA256SUMS (" +
                      l.substr(0, 64) + "): the file was changed");
      else
        ++r_.files;
    }
    for (const auto& [name, bytes] : files_)
      if (name != kSums && name != kSumsSig && !listed.contains(name))
        bad(name, "in the archive but not listed in SHA256SUMS");
  }

  void packets() {
    std::map<std::string, packet::Packet> found;
    for (const auto& [name, bytes] : files_) {
      const auto slash = name.find('/');
      if (slash == std::string::npos) continue;
      std::string station;
      std::uint64_t seq = 0;
      const auto dir = name.substr(0, slash);
      if (!packet::parse_dir_name(dir, station, seq)) continue;
      auto& p = found[dir];
      p.origin = dir;
      const auto leaf = name.substr(slash + 1);
      if (leaf == "manifest.json")
        p.manifest_json = bytes;
      else if (leaf == "manifest.sig")
        p.signature = bytes;
      else
        p.attachments[leaf] = bytes;
    }
    if (!found.contains(r_.case_id)) {
      bad(r_.case_id + "/manifest.json", "the case's own packet is missing");
      return;
    }
    chain::KeyRegistry keys;
    if (station_) keys.set_default(*station_);
    // Images removed by retention: named with their SHA-256 by a retention_purge entry of
    // audit.jsonl about this manifest (audit_entries() checks its signature).
    retention_list::Removed removed;
    if (const auto* text = file(std::string(kAudit)))
      for (const auto& l : lines_of(*text)) {
        bj::error_code ec;
        const auto v = bj::parse(l, ec);
        if (!ec && v.is_object() && str(v.as_object(), "action") == retention_list::kAction)
          removed[str(v.as_object(), "manifest_sha256")].merge(
              retention_list::hashes_in_reason(str(v.as_object(), "reason")));
      }
    for (const auto& [dir, p] : found) {
      auto findings = chain::verify_packet(p, keys);
      r_.removed_images += retention_list::accept_removed(findings, p, removed).size();
      for (const auto& f : findings) {
        const bool about_file = f.problem == chain::Problem::attachment_missing ||
                                f.problem == chain::Problem::attachment_hash_mismatch ||
                                f.problem == chain::Problem::attachment_unlisted;
        const auto member = about_file
                                ? dir + "/" + f.detail.substr(0, f.detail.find_first_of(": "))
                            : f.problem == chain::Problem::bad_signature ? dir + "/manifest.sig"
                                                                         : dir + "/manifest.json";
        bad(member, std::string(chain::to_string(f.problem)) + ": " + f.detail);
      }
      if (findings.empty()) {
        ++r_.packets;
        r_.attachments += p.attachments.size();
      }
    }
    manifest_sha256_ = crypto::sha256_hex(found[r_.case_id].manifest_json);
  }

  void audit_entries() {
    const auto* text = need(std::string(kAudit));
    if (!text || !collector_) return;
    const auto res = audit::verify_jsonl(*text, *collector_, audit::Span::excerpt);
    if (!res.ok)
      bad(std::string(kAudit), "entry " + std::to_string(res.entries + 1) + " (seq " +
                                   std::to_string(res.bad_seq) + "): " + res.problem);
    int n = 0;
    for (const auto& l : lines_of(*text)) {
      ++n;
      bj::error_code ec;
      auto v = bj::parse(l, ec);
      if (ec || !v.is_object()) continue;  // verify_jsonl named it
      const auto& o = v.as_object();
      if (n <= res.entries) {
        if (str(o, "case_id") != r_.case_id)
          bad(std::string(kAudit), "entry seq " + std::to_string(int_of(o, "seq")) +
                                       " is about case " + str(o, "case_id") + ", not " +
                                       r_.case_id);
        else if (str(o, "manifest_sha256") != manifest_sha256_)
          bad(std::string(kAudit), "entry seq " + std::to_string(int_of(o, "seq")) +
                                       " is about another manifest (manifest_sha256 " +
                                       str(o, "manifest_sha256") + ")");
      }
      entries_.push_back(o);
    }
    r_.audit_entries = static_cast<std::size_t>(res.entries);
  }

  void chain_links() {
    const auto* text = need(std::string(kChain));
    if (!text || !collector_) return;
    std::map<std::int64_t, bj::object> links;
    std::int64_t prev_seq = 0;
    std::string prev_hash;
    int n = 0;
    for (const auto& l : lines_of(*text)) {
      const auto where = "link " + std::to_string(++n);
      bj::error_code ec;
      auto v = bj::parse(l, ec);
      if (ec || !v.is_object()) return bad(std::string(kChain), where + ": not a JSON object");
      const auto& o = v.as_object();
      const auto seq = int_of(o, "seq");
      const auto hash = str(o, "entry_sha256");
      const auto at = where + " (seq " + std::to_string(seq) + ")";
      if (prev_seq && seq != prev_seq + 1)
        return bad(std::string(kChain), at + ": seq " + std::to_string(prev_seq + 1) +
                                            " expected (a link missing or reordered)");
      if (seq == 1 && str(o, "prev_sha256") != audit::kGenesis)
        return bad(std::string(kChain), at + ": the first entry does not start at genesis");
      if (prev_seq && str(o, "prev_sha256") != prev_hash)
        return bad(std::string(kChain), at + ": prev_sha256 is not the previous entry's hash");
      std::string sig;
      try {
        sig = crypto::from_hex(str(o, "signature_hex"));
      } catch (const std::exception&) {
      }
      if (!collector_->verify(hash, sig))
        return bad(std::string(kChain), at + ": the collector's signature does not verify");
      links[seq] = o;
      prev_seq = seq;
      prev_hash = hash;
    }
    for (const auto& e : entries_) {
      const auto seq = int_of(e, "seq");
      const auto it = links.find(seq);
      if (it == links.end())
        bad(std::string(kChain), "no link for the case's audit entry seq " + std::to_string(seq));
      else if (str(it->second, "entry_sha256") != str(e, "entry_sha256") ||
               str(it->second, "prev_sha256") != str(e, "prev_sha256"))
        bad(std::string(kChain),
            "link seq " + std::to_string(seq) + " differs from the case's audit entry");
    }
    if (!links.empty()) {
      r_.chain_first_seq = links.begin()->first;
      r_.chain_last_seq = links.rbegin()->first;
    }
  }

  void audit_files() {
    for (const auto& e : entries_) {
      const auto stem = "audit/" + seq10(int_of(e, "seq"));
      if (const auto* t = need(stem + ".txt"); t && *t != audit::canonical(e))
        bad(stem + ".txt", "differs from the entry's text in audit.jsonl");
      const auto* h = need(stem + ".sha256");
      if (h && *h != str(e, "entry_sha256"))
        bad(stem + ".sha256", "differs from the entry's entry_sha256 in audit.jsonl");
      const auto* s = need(stem + ".sig");
      if (s && h && collector_ && !collector_->verify(*h, *s))
        bad(stem + ".sig", "the collector's signature does not verify over " + stem + ".sha256");
    }
  }

  void review() {
    const auto* text = need(std::string(kReview));
    if (!text) return;
    bj::error_code ec;
    auto v = bj::parse(*text, ec);
    const bj::object* o = !ec && v.is_object() ? &v.as_object() : nullptr;
    const bj::object* c = o && o->if_contains("case") && (*o).at("case").is_object()
                              ? &o->at("case").as_object()
                              : nullptr;
    const bj::array* h = o && o->if_contains("history") && o->at("history").is_array()
                             ? &o->at("history").as_array()
                             : nullptr;
    const std::string m(kReview);
    if (!c || !h) return bad(m, "not the review JSON (an object with \"case\" and \"history\")");
    if (str(*c, "case_id") != r_.case_id) bad(m, "case.case_id is not " + r_.case_id);
    if (str(*c, "manifest_sha256") != manifest_sha256_)
      bad(m, "case.manifest_sha256 is not the SHA-256 of the case's manifest.json");
    if (h->size() != entries_.size())
      return bad(m, "history has " + std::to_string(h->size()) + " actions, audit.jsonl " +
                        std::to_string(entries_.size()));
    for (std::size_t i = 0; i < h->size(); ++i) {
      const auto* item = (*h)[i].if_object();
      const auto& e = entries_[i];
      for (const char* k : {"time_utc", "user", "role", "action", "from", "to", "reason",
                            "entry_sha256", "stage_deadline_utc", "deadline", "next_deadline_utc"})
        if (!item || str(*item, k) != str(e, k) || int_of(*item, "seq") != int_of(e, "seq"))
          return bad(m, "history[" + std::to_string(i) + "]." + k +
                            " differs from audit entry seq " + std::to_string(int_of(e, "seq")));
    }
    if (!entries_.empty() && str(*c, "state") != str(entries_.back(), "to"))
      bad(m, "case.state " + str(*c, "state") + " is not the last audited state " +
                 str(entries_.back(), "to"));
  }

  Report& r_;
  const crypto::VerifyKey* station_override_;
  const crypto::VerifyKey* collector_override_;
  std::optional<crypto::VerifyKey> station_, collector_;
  std::map<std::string, std::string> files_;  // path inside <case_id>/ -> bytes
  std::string manifest_sha256_;
  std::vector<bj::object> entries_;  // audit.jsonl, in order
};

}  // namespace

Report verify(std::string_view tar, const crypto::VerifyKey* station_key,
              const crypto::VerifyKey* collector_key) {
  Report r;
  Checker(r, station_key, collector_key).run(tar);
  return r;
}

}  // namespace wim::case_archive
