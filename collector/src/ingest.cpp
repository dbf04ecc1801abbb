// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/ingest.hpp"

#include <map>

#include "wim/common/chain.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"
#include "wim/common/log.hpp"
#include "wim/common/time.hpp"

namespace wim::collector {

namespace bj = boost::json;

bj::object chain_json(const std::string& station, const ChainSummary& c) {
  bj::array missing;
  for (const auto& [a, b] : c.missing) missing.push_back(bj::array{a, b});
  return bj::object{{"station_id", station},
                    {"acked_seq", c.acked_seq},
                    {"highest_seq", c.highest_seq},
                    {"missing", std::move(missing)}};
}

bj::object IngestReply::to_json() const {
  bj::array rs;
  for (const auto& r : results) {
    bj::object o{{"seq", r.seq}, {"status", r.status}};
    if (!r.problem.empty()) o["problem"] = r.problem;
    if (!r.detail.empty()) o["detail"] = r.detail;
    rs.push_back(std::move(o));
  }
  auto o = chain_json(station_id, chain);
  o["results"] = std::move(rs);
  return o;
}

Ingest::Ingest(MetadataStore& store, BlobStore& blobs, std::shared_ptr<RegistryHolder> registry,
               IngestOptions options)
    : store_(store), blobs_(blobs), registry_(std::move(registry)), options_(options) {}

std::mutex& Ingest::station_mutex(const std::string& station) {
  std::lock_guard lock(mutexes_mutex_);
  auto& m = station_mutexes_[station];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

IngestReply Ingest::ingest_tar(const std::string& station_id, std::string_view tar) {
  ++counters_.requests;
  std::vector<packet::Packet> packets;
  try {
    packets = packet::from_tar(tar, options_.limits);
  } catch (const InputError& e) {
    ++counters_.broken_tar;
    log::warning("ingest", station_id + ": unreadable tar: " + e.what());
    throw;
  }
  return ingest(station_id, packets);
}

namespace {

struct Accepted {
  StoredRecord rec;
  record::Manifest manifest;
  const packet::Packet* packet;
  std::size_t result_index;
};

}  // namespace

IngestReply Ingest::ingest(const std::string& station_id,
                           const std::vector<packet::Packet>& packets) {
  IngestReply reply;
  reply.station_id = station_id;
  auto reg = registry_->current();
  const StationEntry* entry = reg->by_id(station_id);
  if (!entry || entry->revoked) throw InputError("station " + station_id + " is not registered");
  chain::KeyRegistry keys;
  keys.add(station_id, *entry->signing_key);

  std::lock_guard station_lock(station_mutex(station_id));
  const ChainSummary before = store_.chain(station_id);
  std::vector<Accepted> accepted;
  std::map<std::int64_t, std::string> pending_sha;  // seq -> manifest sha of this request
  std::vector<std::pair<std::int64_t, std::string>> chain_breaks;
  const std::int64_t now_us = time::now_unix_us();

  auto reject = [&](std::int64_t seq, std::string problem, std::string detail) {
    reply.results.push_back({seq, "rejected", std::move(problem), std::move(detail)});
  };

  for (const auto& p : packets) {
    record::Manifest m;
    try {
      m = p.manifest();
    } catch (const std::exception& e) {
      reject(0, "malformed", std::string(e.what()) + (p.origin.empty() ? "" : " in " + p.origin));
      continue;
    }
    const auto seq = static_cast<std::int64_t>(m.seq);
    if (m.station_id != station_id) {
      reject(seq, "station_mismatch",
             "manifest of station " + m.station_id + " sent with the certificate of " + station_id);
      continue;
    }
    auto findings = chain::verify_packet(p, keys);
    if (!findings.empty()) {
      std::string detail;
      for (const auto& f : findings) {
        if (!detail.empty()) detail += "; ";
        detail += std::string(chain::to_string(f.problem)) + ": " + f.detail;
      }
      reject(seq, std::string(chain::to_string(findings.front().problem)), detail);
      continue;
    }
    const std::int64_t highest =
        std::max(before.highest_seq, pending_sha.empty() ? 0 : pending_sha.rbegin()->first);
    if (seq > highest + options_.future_seq_window) {
      reject(seq, "seq_out_of_window",
             "seq " + std::to_string(seq) + " is more than " +
                 std::to_string(options_.future_seq_window) + " beyond the highest stored seq " +
                 std::to_string(highest));
      continue;
    }
    const std::string sha = crypto::sha256_hex(p.manifest_json);
    auto stored_here = store_.link(station_id, seq);
    auto pending_here = pending_sha.find(seq);
    const bool known = stored_here.has_value() || pending_here != pending_sha.end();
    if (!known) {
      // Link to the previous record, stored or earlier in this request.
      std::string prev_sha;
      if (auto it = pending_sha.find(seq - 1); it != pending_sha.end())
        prev_sha = it->second;
      else if (auto l = store_.link(station_id, seq - 1))
        prev_sha = l->first;
      if (!prev_sha.empty() && prev_sha != m.prev_sha256) {
        std::string d = "prev_sha256 " + m.prev_sha256 + " is not the stored seq " +
                        std::to_string(seq - 1) + " (" + prev_sha + ")";
        reject(seq, "broken_link", d);
        chain_breaks.emplace_back(seq, d);
        continue;
      }
      // Link from the next record, when a gap is being filled.
      if (auto next = store_.link(station_id, seq + 1); next && next->second != sha) {
        std::string d = "stored seq " + std::to_string(seq + 1) + " names prev_sha256 " +
                        next->second + ", this manifest is " + sha;
        reject(seq, "broken_link", d);
        chain_breaks.emplace_back(seq, d);
        continue;
      }
    }
    StoredRecord r;
    r.station_id = station_id;
    r.seq = seq;
    r.manifest_sha256 = sha;
    r.prev_sha256 = m.prev_sha256;
    r.kind = std::string(record::to_string(m.kind));
    r.time_unix_us = m.time_unix_us;
    r.clock_sync = std::string(time::to_string(m.clock_sync));
    r.verdict = m.legal ? m.legal->verdict : "";
    r.lane = m.lane;
    r.manifest = p.manifest_json;
    r.signature = p.signature;
    r.received_unix_us = now_us;
    for (const auto& a : m.attachments)
      r.attachments.push_back({a.name, a.sha256, static_cast<std::int64_t>(a.size_bytes)});
    if (!known) pending_sha.emplace(seq, sha);
    reply.results.push_back({seq, "", "", ""});
    accepted.push_back({std::move(r), std::move(m), &p, reply.results.size() - 1});
  }

  // Files first (each durable on return), then the metadata that refers to them.
  for (const auto& a : accepted)
    for (const auto& [name, bytes] : a.packet->attachments)
      for (const auto& ref : a.rec.attachments)
        if (ref.name == name) blobs_.put(ref.sha256, bytes);
  std::vector<StoredRecord> batch;
  batch.reserve(accepted.size());
  for (const auto& a : accepted) batch.push_back(a.rec);
  const auto outcomes = batch.empty() ? std::vector<PutOutcome>{} : store_.put_records(batch);

  for (std::size_t i = 0; i < accepted.size(); ++i) {
    auto& res = reply.results[accepted[i].result_index];
    switch (outcomes[i]) {
      case PutOutcome::stored:
        res.status = "stored";
        ++counters_.stored;
        for (auto* o : observers_) o->on_stored(accepted[i].rec, accepted[i].manifest);
        break;
      case PutOutcome::duplicate:
        res.status = "duplicate";
        ++counters_.duplicate;
        break;
      case PutOutcome::conflict: {
        res.status = "conflict";
        res.problem = "fork";
        res.detail = "another manifest is stored for seq " + std::to_string(res.seq) +
                     "; this one (" + accepted[i].rec.manifest_sha256 +
                     ") is kept as conflict evidence";
        ++counters_.conflict;
        log::error("ingest", station_id + ": conflict at seq " + std::to_string(res.seq));
        for (auto* o : observers_) o->on_conflict(station_id, res.seq, res.detail);
        break;
      }
    }
  }
  for (const auto& r : reply.results) {
    if (r.status != "rejected") continue;
    ++counters_.rejected;
    log::warning("ingest", station_id + ": seq " + std::to_string(r.seq) +
                               " rejected: " + r.problem + ": " + r.detail);
    for (auto* o : observers_) o->on_rejected(station_id, r);
  }
  for (const auto& [seq, d] : chain_breaks)
    for (auto* o : observers_) o->on_chain_break(station_id, seq, d);
  reply.chain = store_.chain(station_id);
  return reply;
}

}  // namespace wim::collector
