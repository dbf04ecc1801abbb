// SPDX-License-Identifier: Apache-2.0
#include "wim/common/chain.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <unordered_map>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/time.hpp"

namespace wim::chain {
namespace fs = std::filesystem;
namespace bj = boost::json;

// --- ChainWriter ------------------------------------------------------------------------

ChainWriter::ChainWriter(std::string station_id, crypto::SigningKey key, std::uint64_t last_seq,
                         std::string last_sha256)
    : station_id_(std::move(station_id)),
      key_(std::move(key)),
      last_seq_(last_seq),
      last_sha256_(std::move(last_sha256)) {
  if (!record::is_valid_station_id(station_id_))
    throw InputError("chain: station id \"" + station_id_ + "\" is not [A-Za-z0-9_-]{1,32}");
  if (last_seq_ == 0) {
    if (!last_sha256_.empty() && last_sha256_ != record::kGenesisSha256)
      throw InputError("chain: a new chain (last_seq 0) has no previous SHA-256");
    last_sha256_ = record::kGenesisSha256;
  } else if (!record::is_sha256_hex(last_sha256_)) {
    throw InputError("chain: last_sha256 must be 64 lower-case hex digits");
  }
}

packet::Packet ChainWriter::append(record::Manifest m,
                                   std::map<std::string, std::string> attachments) {
  if (!m.station_id.empty() && m.station_id != station_id_)
    throw InputError("chain: record of station \"" + m.station_id + "\" appended to chain of \"" +
                     station_id_ + "\"");
  m.station_id = station_id_;
  m.seq = last_seq_ + 1;
  m.prev_sha256 = last_sha256_;
  auto p = packet::seal(std::move(m), std::move(attachments), key_);
  ++last_seq_;
  last_sha256_ = crypto::sha256_hex(p.manifest_json);
  return p;
}

packet::Packet ChainWriter::rotate_key(crypto::SigningKey new_key, record::Manifest event) {
  const auto pub = new_key.public_key();
  event.kind = record::Kind::event;
  event.lane = 0;
  event.measurement.reset();
  event.legal.reset();
  event.event = record::Event{kKeyChangeEvent,
                              {{"new_key_pem", pub.to_pem()},
                               {"new_key_fingerprint_sha256", pub.fingerprint()},
                               {"old_key_fingerprint_sha256", key_.public_key().fingerprint()}}};
  auto p = append(std::move(event), {});  // signed with the old key
  key_ = std::move(new_key);
  return p;
}

// --- KeyRegistry ------------------------------------------------------------------------

void KeyRegistry::add(std::string station_id, crypto::VerifyKey key) {
  keys_.insert_or_assign(std::move(station_id), std::move(key));
}

void KeyRegistry::set_default(crypto::VerifyKey key) {
  default_ = std::move(key);
}

const crypto::VerifyKey* KeyRegistry::find(std::string_view station_id) const {
  auto it = keys_.find(station_id);
  if (it != keys_.end()) return &it->second;
  return default_ ? &*default_ : nullptr;
}

KeyRegistry KeyRegistry::load_dir(const fs::path& dir) {
  constexpr std::string_view suffix = ".pub.pem";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError(dir.string() + ": not a directory");
  KeyRegistry reg;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    if (!name.ends_with(suffix)) continue;
    auto station = name.substr(0, name.size() - suffix.size());
    if (!record::is_valid_station_id(station))
      throw InputError(e.path().string() + ": \"" + station + "\" is not a valid station id");
    reg.add(station, crypto::VerifyKey::load_pem_file(e.path()));
  }
  if (ec) throw SystemError(dir.string() + ": " + ec.message());
  return reg;
}

// --- verification -----------------------------------------------------------------------

std::string_view to_string(Problem p) {
  switch (p) {
    case Problem::malformed:
      return "malformed";
    case Problem::unknown_key:
      return "unknown_key";
    case Problem::bad_signature:
      return "bad_signature";
    case Problem::attachment_missing:
      return "attachment_missing";
    case Problem::attachment_hash_mismatch:
      return "attachment_hash_mismatch";
    case Problem::attachment_unlisted:
      return "attachment_unlisted";
    case Problem::broken_link:
      return "broken_link";
    case Problem::gap:
      return "gap";
    case Problem::duplicate:
      return "duplicate";
    case Problem::fork:
      return "fork";
    case Problem::time_out_of_order:
      return "time_out_of_order";
    case Problem::station_mismatch:
      return "station_mismatch";
    case Problem::name_mismatch:
      return "name_mismatch";
    case Problem::out_of_order:
      return "out_of_order";
  }
  return "?";
}

namespace {

struct Checked {
  std::optional<record::Manifest> manifest;
  std::string station_id;  // from the manifest, leniently, or from the dir name
  std::uint64_t seq = 0;
  bool authentic = false;  // signature verified over the bytes
  std::string sha256;      // of manifest_json
};

std::string short_hex(std::string_view hex) {
  return std::string(hex.substr(0, 16)) + "…";
}

// Best effort for a manifest that does not parse strictly: which record was it meant to be?
void identify_leniently(const packet::Packet& p, Checked& c) {
  try {
    auto doc = json::parse(p.manifest_json, "manifest.json");
    if (doc.is_object()) {
      const auto& o = doc.get_object();
      if (auto it = o.find("station_id"); it != o.end() && it->value().is_string())
        c.station_id = std::string(it->value().get_string());
      if (auto it = o.find("seq");
          it != o.end() && it->value().is_int64() && it->value().get_int64() > 0)
        c.seq = static_cast<std::uint64_t>(it->value().get_int64());
    }
  } catch (const InputError&) {
  }
  // "<station>-<10 digits>" as written by write_dir / to_tar
  std::string station;
  std::uint64_t seq = 0;
  if (packet::parse_dir_name(p.origin, station, seq)) {
    if (c.station_id.empty()) c.station_id = station;
    if (c.seq == 0) c.seq = seq;
  }
}

// `hint_station` / `hint_seq` stand in when the packet itself does not say (a manifest
// too broken to read, held in memory without a directory name).
Checked check_packet(const packet::Packet& p, const KeyRegistry& keys, std::vector<Finding>& out,
                     const std::string& hint_station = {}, std::uint64_t hint_seq = 0) {
  Checked c;
  c.sha256 = crypto::sha256_hex(p.manifest_json);
  auto add = [&](Problem pr, std::string detail) {
    out.push_back({c.station_id, c.seq, pr, std::move(detail)});
  };
  std::string parse_error;
  try {
    c.manifest = p.manifest();
    c.station_id = c.manifest->station_id;
    c.seq = c.manifest->seq;
  } catch (const InputError& e) {
    parse_error = e.what();
    identify_leniently(p, c);
    if (c.station_id.empty()) c.station_id = hint_station;
    if (c.seq == 0 && hint_seq != 0) {
      c.seq = hint_seq;
      parse_error += " (seq inferred from the packet's place in the chain)";
    }
  }
  if (!parse_error.empty()) add(Problem::malformed, parse_error);

  const crypto::VerifyKey* key = c.station_id.empty() ? nullptr : keys.find(c.station_id);
  if (c.station_id.empty()) {
    // no station: cannot pick a key; malformed already says why
  } else if (!key) {
    add(Problem::unknown_key, "no public key registered for station " + c.station_id);
  } else if (p.signature.size() != 64) {
    add(Problem::bad_signature,
        "manifest.sig is " + std::to_string(p.signature.size()) + " bytes, expected 64");
  } else if (!key->verify(p.manifest_json, p.signature)) {
    add(Problem::bad_signature, "manifest.sig does not verify over manifest.json with key " +
                                    short_hex(key->fingerprint()));
  } else {
    c.authentic = true;
  }
  if (!c.manifest) return c;
  const auto& m = *c.manifest;

  if (record::serialize(m) != p.manifest_json)
    add(Problem::malformed, "manifest.json is not in canonical form (keys sorted, no spaces)");
  if (!p.origin.empty() && p.origin != packet::dir_name(m.station_id, m.seq))
    add(Problem::name_mismatch, "packet \"" + p.origin + "\" holds the manifest of " +
                                    packet::dir_name(m.station_id, m.seq));
  std::set<std::string> listed;
  for (const auto& a : m.attachments) {
    listed.insert(a.name);
    auto it = p.attachments.find(a.name);
    if (it == p.attachments.end()) {
      add(Problem::attachment_missing, a.name + " is listed but not in the packet");
      continue;
    }
    if (it->second.size() != a.size_bytes)
      add(Problem::attachment_hash_mismatch, a.name + ": " + std::to_string(it->second.size()) +
                                                 " bytes, manifest says " +
                                                 std::to_string(a.size_bytes));
    else if (auto h = crypto::sha256_hex(it->second); h != a.sha256)
      add(Problem::attachment_hash_mismatch,
          a.name + ": sha256 " + short_hex(h) + ", manifest says " + short_hex(a.sha256));
  }
  for (const auto& [name, bytes] : p.attachments)
    if (!listed.contains(name))
      add(Problem::attachment_unlisted, name + " is in the packet but not in the manifest");
  return c;
}

}  // namespace

std::optional<crypto::VerifyKey> announced_key(const record::Manifest& m) {
  if (!m.event || m.event->type != kKeyChangeEvent) return std::nullopt;
  const auto& d = m.event->detail;
  auto text = [&](const char* field) {
    auto it = d.find(field);
    if (it == d.end() || !it->value().is_string())
      throw InputError("key_change event: manifest.event.detail." + std::string(field) +
                       ": missing or not a string");
    return std::string(it->value().get_string());
  };
  auto key = crypto::VerifyKey::from_pem(text("new_key_pem"));
  if (const auto fp = text("new_key_fingerprint_sha256"); fp != key.fingerprint())
    throw InputError("key_change event: new_key_fingerprint_sha256 " + short_hex(fp) +
                     " is not the fingerprint of new_key_pem (" + short_hex(key.fingerprint()) +
                     ")");
  return key;
}

std::vector<Finding> verify_packet(const packet::Packet& p, const KeyRegistry& keys) {
  std::vector<Finding> out;
  check_packet(p, keys, out);
  return out;
}

std::vector<Finding> verify_packet(const packet::Packet& p, const KeyRegistry& keys,
                                   PacketFacts& facts) {
  std::vector<Finding> out;
  Checked c = check_packet(p, keys, out);
  facts.manifest = std::move(c.manifest);
  facts.manifest_sha256 = std::move(c.sha256);
  return out;
}

std::vector<Finding> verify_chain(std::vector<packet::Packet> packets, const KeyRegistry& keys) {
  return verify_chain(std::move(packets), keys, false, nullptr);
}

std::vector<Finding> verify_chain(std::vector<packet::Packet> packets, const KeyRegistry& keys,
                                  bool require_from_seq_1, ChainSummary* summary) {
  std::vector<Finding> out;
  std::vector<std::vector<Finding>> found(packets.size());
  std::vector<Checked> checked;
  checked.reserve(packets.size());
  for (std::size_t i = 0; i < packets.size(); ++i)
    checked.push_back(check_packet(packets[i], keys, found[i]));

  // The chain's station: the one most packets name (first seen wins a tie).
  std::map<std::string, std::size_t> votes;
  std::string station;
  std::size_t best = 0;
  for (const auto& c : checked)
    if (!c.station_id.empty() && ++votes[c.station_id] > best)
      best = votes[c.station_id], station = c.station_id;
  // A packet that says neither station nor seq: if it sits between seq k and k+2 it was
  // meant to be k+1 of this chain; checking it as such names the problem with its seq.
  for (std::size_t i = 0; i < checked.size(); ++i) {
    if (!checked[i].station_id.empty() && checked[i].seq != 0) continue;
    std::uint64_t hint = 0;
    if (i > 0 && i + 1 < checked.size() && checked[i - 1].seq != 0 &&
        checked[i + 1].seq == checked[i - 1].seq + 2)
      hint = checked[i - 1].seq + 1;
    found[i].clear();
    checked[i] = check_packet(packets[i], keys, found[i], station, hint);
  }
  // Key rotation: walk the seqs upwards with the key in force. After an authentic
  // key_change event every later seq is checked again with the key it announced, so a
  // record signed with a new key that no event signed by the old key announced stays a
  // bad_signature (a forged rotation).
  std::optional<crypto::VerifyKey> in_force;
  if (const auto* k = keys.find(station)) in_force = *k;
  std::size_t key_changes = 0;
  {
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < checked.size(); ++i)
      if (checked[i].station_id == station && checked[i].seq != 0) order.push_back(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return checked[a].seq < checked[b].seq; });
    std::optional<crypto::VerifyKey> next;
    std::uint64_t change_seq = 0;
    for (auto i : order) {
      if (next && checked[i].seq > change_seq) {
        in_force = std::move(next);
        next.reset();
        ++key_changes;
      }
      if (key_changes > 0) {
        KeyRegistry one;
        one.add(station, *in_force);
        const auto seq = checked[i].seq;
        found[i].clear();
        checked[i] = check_packet(packets[i], one, found[i], station, seq);
      }
      if (!checked[i].authentic || !checked[i].manifest) continue;
      try {
        if (auto nk = announced_key(*checked[i].manifest)) {
          next = std::move(nk);
          change_seq = checked[i].seq;
        }
      } catch (const InputError& e) {
        found[i].push_back({station, checked[i].seq, Problem::malformed, e.what()});
      }
    }
    if (next) {
      in_force = std::move(next);
      ++key_changes;
    }
  }
  for (auto& f : found) out.insert(out.end(), f.begin(), f.end());
  for (auto& c : checked)
    if (!c.station_id.empty() && c.station_id != station && c.seq != 0)
      out.push_back({c.station_id, c.seq, Problem::station_mismatch,
                     "record of station " + c.station_id + " in the chain of " + station});

  auto in_chain = [&](const Checked& c) { return c.station_id == station && c.seq != 0; };

  // Input order: packets are stored and sent in ascending seq.
  std::uint64_t highest = 0;
  for (const auto& c : checked) {
    if (!in_chain(c)) continue;
    if (c.seq < highest)
      out.push_back(
          {station, c.seq, Problem::out_of_order,
           "seq " + std::to_string(c.seq) + " comes after seq " + std::to_string(highest)});
    highest = std::max(highest, c.seq);
  }

  // Presence (any packet with a known seq) and authentic variants per seq.
  std::map<std::uint64_t, std::vector<std::size_t>> by_seq;
  for (std::size_t i = 0; i < checked.size(); ++i)
    if (in_chain(checked[i])) by_seq[checked[i].seq].push_back(i);

  std::map<std::uint64_t, std::vector<std::size_t>> authentic;  // distinct manifests
  for (const auto& [seq, idx] : by_seq) {
    std::set<std::string> bytes_seen;
    for (auto i : idx) {
      if (!bytes_seen.insert(checked[i].sha256).second) {
        out.push_back({station, seq, Problem::duplicate,
                       "the same manifest (sha256 " + short_hex(checked[i].sha256) +
                           ") appears more than once"});
        continue;
      }
      if (checked[i].authentic && checked[i].manifest) authentic[seq].push_back(i);
    }
    if (authentic[seq].size() > 1) {
      std::string detail = std::to_string(authentic[seq].size()) +
                           " different signed manifests with this seq: sha256";
      for (auto i : authentic[seq]) detail += " " + short_hex(checked[i].sha256);
      out.push_back({station, seq, Problem::fork, detail});
    }
    if (authentic[seq].empty()) authentic.erase(seq);
  }

  // Gaps between the seqs present.
  std::uint64_t expect = require_from_seq_1 ? 1 : (by_seq.empty() ? 0 : by_seq.begin()->first);
  for (const auto& [seq, idx] : by_seq) {
    if (seq > expect)
      out.push_back({station, expect, Problem::gap,
                     "seq " + std::to_string(expect) + ".." + std::to_string(seq - 1) +
                         " missing (" + std::to_string(seq - expect) + " records)"});
    expect = seq + 1;
  }

  // Links and time order between authentic neighbours; an unauthentic neighbour is
  // already reported and proves nothing either way.
  for (const auto& [seq, idx] : authentic) {
    auto prev = authentic.find(seq - 1);
    if (prev == authentic.end()) continue;
    for (auto i : idx) {
      const auto& m = *checked[i].manifest;
      const Checked* linked = nullptr;
      for (auto j : prev->second)
        if (checked[j].sha256 == m.prev_sha256) linked = &checked[j];
      if (!linked) {
        out.push_back({station, seq, Problem::broken_link,
                       "prev_sha256 " + short_hex(m.prev_sha256) + " is not the sha256 of seq " +
                           std::to_string(seq - 1) + " (" +
                           short_hex(checked[prev->second.front()].sha256) + ")"});
        linked = &checked[prev->second.front()];
      }
      // A clock_step event records the very moment the clock was set back. A vehicle
      // record sealed after a later record keeps its measured time and names the chain
      // time it was sealed after (sealed_after_utc); the chain time runs on from there.
      const bool clock_step = m.event && m.event->type == "clock_step";
      const auto& pm = *linked->manifest;
      const std::int64_t chain_time = pm.sealed_after_unix_us.value_or(pm.time_unix_us);
      if (m.sealed_after_unix_us && *m.sealed_after_unix_us != chain_time)
        out.push_back({station, seq, Problem::time_out_of_order,
                       "sealed_after " + time::format_utc_us(*m.sealed_after_unix_us) +
                           " is not seq " + std::to_string(seq - 1) + "'s chain time " +
                           time::format_utc_us(chain_time)});
      else if (m.time_unix_us < chain_time && !clock_step && !m.sealed_after_unix_us)
        out.push_back({station, seq, Problem::time_out_of_order,
                       "time " + time::format_utc_us(m.time_unix_us) + " is before seq " +
                           std::to_string(seq - 1) + "'s " + time::format_utc_us(chain_time)});
    }
  }

  std::stable_sort(out.begin(), out.end(),
                   [](const Finding& a, const Finding& b) { return a.seq < b.seq; });
  if (summary) {
    summary->station_id = station;
    summary->records = by_seq.size();
    summary->first_seq = by_seq.empty() ? 0 : by_seq.begin()->first;
    summary->last_seq = by_seq.empty() ? 0 : by_seq.rbegin()->first;
    summary->key_in_force = in_force;
    summary->key_changes = key_changes;
  }
  return out;
}

}  // namespace wim::chain
