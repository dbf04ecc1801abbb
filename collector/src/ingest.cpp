// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/ingest.hpp"

#include <chrono>
#include <future>
#include <map>
#include <optional>

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
    : store_(store), blobs_(blobs), registry_(std::move(registry)), options_(options) {
  if (options_.verify_threads < 1) throw InputError("ingest: verify_threads must be >= 1");
  committer_ = std::thread([this] { commit_loop(); });
  for (int i = 0; i < options_.verify_threads; ++i) pool_.emplace_back([this] { verify_worker(); });
}

Ingest::~Ingest() {
  stop();
}

struct Ingest::Job {
  /// A verified packet waiting for its chain checks and the commit.
  struct Candidate {
    StoredRecord rec;
    record::Manifest manifest;
    const packet::Packet* packet;
    std::size_t result_index;  // in reply.results
    bool accepted = false;     // passed the chain checks
    PutOutcome outcome = PutOutcome::stored;
  };
  std::string station_id;
  std::string owned_tar;                               // submit(): the request body
  std::string_view tar;                                // owned_tar or the caller's bytes
  const std::vector<packet::Packet>* given = nullptr;  // ingest(): packets already read
  std::vector<packet::Packet> packets;                 // read from `tar`
  IngestDone done;
  IngestReply reply;
  std::vector<Candidate> candidates;
  std::vector<std::pair<std::int64_t, std::string>> chain_breaks;
  std::exception_ptr error;
  std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now();
};

void LatencyHistogram::observe_us(std::int64_t us) {
  if (us < 0) us = 0;
  const double s = static_cast<double>(us) / 1e6;
  for (std::size_t i = 0; i < kBoundsS.size(); ++i)
    if (s <= kBoundsS[i]) {
      ++buckets_[i];
      break;
    }
  sum_us_ += static_cast<std::uint64_t>(us);
  ++count_;  // last: a reader never sees more in the buckets than in the count
}

std::uint64_t LatencyHistogram::cumulative(std::size_t i) const {
  std::uint64_t n = 0;
  for (std::size_t k = 0; k <= i && k < kBoundsS.size(); ++k) n += buckets_[k].load();
  return n;
}

void Ingest::submit(std::string station_id, std::string tar, IngestDone done) {
  auto job = std::make_unique<Job>();
  job->station_id = std::move(station_id);
  job->owned_tar = std::move(tar);
  job->tar = job->owned_tar;
  job->done = std::move(done);
  enqueue(std::move(job));
}

namespace {

IngestDone fulfil(std::promise<IngestReply>& p) {
  return [&p](std::exception_ptr e, IngestReply&& r) {
    if (e)
      p.set_exception(e);
    else
      p.set_value(std::move(r));
  };
}

}  // namespace

IngestReply Ingest::ingest_tar(const std::string& station_id, std::string_view tar) {
  std::promise<IngestReply> answer;
  auto job = std::make_unique<Job>();
  job->station_id = station_id;
  job->tar = tar;  // the caller waits below, so its bytes outlive the job
  job->done = fulfil(answer);
  auto f = answer.get_future();
  enqueue(std::move(job));
  return f.get();
}

IngestReply Ingest::ingest(const std::string& station_id,
                           const std::vector<packet::Packet>& packets) {
  std::promise<IngestReply> answer;
  auto job = std::make_unique<Job>();
  job->station_id = station_id;
  job->given = &packets;
  job->done = fulfil(answer);
  auto f = answer.get_future();
  enqueue(std::move(job));
  return f.get();
}

void Ingest::enqueue(std::unique_ptr<Job> job) {
  ++counters_.requests;
  {
    std::lock_guard lock(mutex_);
    if (!closing_) {
      to_verify_.push_back(std::move(job));
      work_cv_.notify_one();
      return;
    }
  }
  latency_.observe_us(0);
  job->done(std::make_exception_ptr(SystemError("ingest is stopping: request not taken")), {});
}

void Ingest::stop() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  commit_cv_.notify_all();
  if (committer_.joinable()) committer_.join();  // every verified request committed
  {
    std::lock_guard lock(mutex_);
    pool_stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : pool_)
    if (t.joinable()) t.join();  // every request answered
}

void Ingest::verify_worker() {
  std::unique_lock lock(mutex_);
  for (;;) {
    // Answers first: they are committed work whose stations wait for the ack.
    if (!to_finish_.empty()) {
      auto job = std::move(to_finish_.front());
      to_finish_.pop_front();
      lock.unlock();
      finish(*job);
      job.reset();
      lock.lock();
      continue;
    }
    if (!to_verify_.empty()) {
      auto job = std::move(to_verify_.front());
      to_verify_.pop_front();
      ++verifying_;
      lock.unlock();
      verify(*job);
      lock.lock();
      --verifying_;
      if (job->error) {
        to_finish_.push_back(std::move(job));  // nothing to commit: answer it
      } else {
        to_commit_.push_back(std::move(job));
      }
      commit_cv_.notify_one();
      continue;
    }
    if (pool_stop_) return;
    work_cv_.wait(lock);
  }
}

void Ingest::commit_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!to_commit_.empty()) {
      // Every request verified while the previous group was committing: one group.
      std::vector<std::unique_ptr<Job>> group(std::make_move_iterator(to_commit_.begin()),
                                              std::make_move_iterator(to_commit_.end()));
      to_commit_.clear();
      lock.unlock();
      commit_group(group);
      lock.lock();
      for (auto& j : group) to_finish_.push_back(std::move(j));
      work_cv_.notify_all();
      continue;
    }
    if (closing_ && to_verify_.empty() && verifying_ == 0) return;
    commit_cv_.wait(lock);
  }
}

// Pool thread, any order: the tar, the manifest, station, signature and attachment hashes.
void Ingest::verify(Job& job) {
  const std::string& station_id = job.station_id;
  const std::vector<packet::Packet>* packets = job.given;
  if (!packets) {
    try {
      job.packets = packet::from_tar(job.tar, options_.limits);
    } catch (const InputError& e) {
      ++counters_.broken_tar;
      log::warning("ingest", station_id + ": unreadable tar: " + e.what());
      job.error = std::current_exception();
      return;
    }
    packets = &job.packets;
  }
  IngestReply& reply = job.reply;
  reply.station_id = station_id;
  auto reg = registry_->current();
  const StationEntry* entry = reg->by_id(station_id);
  if (!entry || entry->revoked) {
    job.error = std::make_exception_ptr(InputError("station " + station_id + " is not registered"));
    return;
  }
  chain::KeyRegistry keys;
  keys.add(station_id, *entry->signing_key);
  // Key rotation: the stored key changes, then those of this request in seq order.
  auto changes = key_changes(station_id);
  auto keys_for = [&](const packet::Packet& p) {
    if (changes.empty()) return keys;
    std::int64_t seq = 0;
    try {
      seq = static_cast<std::int64_t>(p.manifest().seq);
    } catch (const InputError&) {  // verify_packet names the problem
    }
    chain::KeyRegistry k;
    const crypto::VerifyKey* in_force = entry->signing_key.get();
    for (const auto& c : changes)
      if (c.after_seq < seq) in_force = &c.key;
    k.add(station_id, *in_force);
    return k;
  };
  const std::int64_t now_us = time::now_unix_us();

  auto reject = [&](std::int64_t seq, std::string problem, std::string detail) {
    reply.results.push_back({seq, "rejected", std::move(problem), std::move(detail)});
  };

  for (const auto& p : *packets) {
    chain::PacketFacts facts;
    auto findings = chain::verify_packet(p, keys_for(p), facts);
    if (!facts.manifest) {  // the first finding says why it did not parse
      reject(0, "malformed", findings.front().detail + (p.origin.empty() ? "" : " in " + p.origin));
      continue;
    }
    record::Manifest& m = *facts.manifest;
    const auto seq = static_cast<std::int64_t>(m.seq);
    if (m.station_id != station_id) {
      reject(seq, "station_mismatch",
             "manifest of station " + m.station_id + " sent with the certificate of " + station_id);
      continue;
    }
    if (!findings.empty()) {
      std::string detail;
      for (const auto& f : findings) {
        if (!detail.empty()) detail += "; ";
        detail += std::string(chain::to_string(f.problem)) + ": " + f.detail;
      }
      reject(seq, std::string(chain::to_string(findings.front().problem)), detail);
      continue;
    }
    try {
      if (auto k = chain::announced_key(m)) {
        changes.push_back({seq, std::move(*k)});
        std::stable_sort(
            changes.begin(), changes.end(),
            [](const KeyChange& a, const KeyChange& b) { return a.after_seq < b.after_seq; });
      }
    } catch (const InputError& e) {
      reject(seq, "malformed", e.what());
      continue;
    }
    StoredRecord r;
    r.station_id = station_id;
    r.seq = seq;
    r.manifest_sha256 = std::move(facts.manifest_sha256);
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
    reply.results.push_back({seq, "", "", ""});
    job.candidates.push_back({std::move(r), std::move(m), &p, reply.results.size() - 1});
  }
}

// Commit thread: chain checks in arrival order against the store and the records of
// this group (`pending`), then the group's files, then one transaction.
void Ingest::commit_group(std::vector<std::unique_ptr<Job>>& group) {
  ++counters_.commit_groups;
  struct Link {
    std::string sha, prev;
  };
  std::map<std::string, std::map<std::int64_t, Link>> pending;  // station -> seq -> link
  for (auto& job : group) {
    const std::string& station_id = job->station_id;
    auto& mine = pending[station_id];
    const std::int64_t stored_highest = store_.chain(station_id).highest_seq;
    auto reject = [&](Job::Candidate& c, std::string problem, std::string detail) {
      auto& res = job->reply.results[c.result_index];
      res.status = "rejected";
      res.problem = std::move(problem);
      res.detail = std::move(detail);
    };
    for (auto& c : job->candidates) {
      const std::int64_t seq = c.rec.seq;
      const std::string& sha = c.rec.manifest_sha256;
      const std::int64_t highest =
          std::max(stored_highest, mine.empty() ? 0 : mine.rbegin()->first);
      if (seq > highest + options_.future_seq_window) {
        reject(c, "seq_out_of_window",
               "seq " + std::to_string(seq) + " is more than " +
                   std::to_string(options_.future_seq_window) + " beyond the highest stored seq " +
                   std::to_string(highest));
        continue;
      }
      const bool known = mine.contains(seq) || store_.link(station_id, seq).has_value();
      if (!known) {
        // Link to the previous record, stored or earlier in this group.
        std::string prev_sha;
        if (auto it = mine.find(seq - 1); it != mine.end())
          prev_sha = it->second.sha;
        else if (auto l = store_.link(station_id, seq - 1))
          prev_sha = l->first;
        if (!prev_sha.empty() && prev_sha != c.rec.prev_sha256) {
          std::string d = "prev_sha256 " + c.rec.prev_sha256 + " is not the stored seq " +
                          std::to_string(seq - 1) + " (" + prev_sha + ")";
          job->chain_breaks.emplace_back(seq, d);
          reject(c, "broken_link", std::move(d));
          continue;
        }
        // Link from the next record (stored or earlier in this group), when filling a gap.
        std::optional<std::string> next_prev;
        if (auto it = mine.find(seq + 1); it != mine.end())
          next_prev = it->second.prev;
        else if (auto l = store_.link(station_id, seq + 1))
          next_prev = l->second;
        if (next_prev && *next_prev != sha) {
          std::string d = "stored seq " + std::to_string(seq + 1) + " names prev_sha256 " +
                          *next_prev + ", this manifest is " + sha;
          job->chain_breaks.emplace_back(seq, d);
          reject(c, "broken_link", std::move(d));
          continue;
        }
        mine.emplace(seq, Link{sha, c.rec.prev_sha256});
      }
      c.accepted = true;
    }
  }

  // Files first (durable on return), then the metadata that refers to them.
  std::vector<std::pair<std::string, std::string_view>> files;
  std::vector<StoredRecord> batch;
  for (auto& job : group)
    for (auto& c : job->candidates) {
      if (!c.accepted) continue;
      for (const auto& ref : c.rec.attachments)
        if (auto it = c.packet->attachments.find(ref.name); it != c.packet->attachments.end())
          files.emplace_back(ref.sha256, it->second);
      batch.push_back(c.rec);
    }
  try {
    // From the blob write to the commit: the retention purge must not delete a blob that
    // one of these records is about to name (store.hpp BlobStore::hold_references).
    const auto hold = blobs_.hold_references();
    blobs_.put_many(files, HashCheck::trusted);  // verify_packet hashed every attachment
    const auto outcomes = batch.empty() ? std::vector<PutOutcome>{} : store_.put_records(batch);
    std::size_t i = 0;
    for (auto& job : group)
      for (auto& c : job->candidates)
        if (c.accepted) c.outcome = outcomes.at(i++);
  } catch (...) {
    for (auto& job : group) job->error = std::current_exception();
  }
}

namespace {
// Ascending after_seq, one entry per seq.
template <class V, class C>
void insert_change(V& v, C change) {
  for (const auto& c : v)
    if (c.after_seq == change.after_seq) return;
  v.push_back(std::move(change));
  std::stable_sort(v.begin(), v.end(),
                   [](const auto& a, const auto& b) { return a.after_seq < b.after_seq; });
}
}  // namespace

std::vector<Ingest::KeyChange> Ingest::key_changes(const std::string& station) {
  std::lock_guard lock(keys_mutex_);
  auto it = key_changes_.find(station);
  if (it == key_changes_.end()) {
    // Once per station and process: its stored key_change events (each was verified
    // with the key in force when it was stored).
    std::vector<KeyChange> v;
    for (const auto& [seq, manifest] : store_.event_manifests(station, chain::kKeyChangeEvent)) {
      try {
        if (auto k = chain::announced_key(record::parse_manifest(manifest)))
          insert_change(v, KeyChange{seq, std::move(*k)});
      } catch (const InputError& e) {
        log::error("ingest", station + ": stored seq " + std::to_string(seq) +
                                 " is an unreadable key_change: " + e.what());
      }
    }
    it = key_changes_.emplace(station, std::move(v)).first;
  }
  return it->second;
}

void Ingest::note_key_change(const std::string& station, std::int64_t seq, crypto::VerifyKey key) {
  key_changes(station);  // loaded first, so the store's older changes are not lost
  const auto fp = key.fingerprint();
  std::lock_guard lock(keys_mutex_);
  insert_change(key_changes_[station], KeyChange{seq, std::move(key)});
  log::notice("ingest", station + ": signing key changed after seq " + std::to_string(seq) +
                            " to key " + fp.substr(0, 16) + "…");
}

// Pool thread, after the commit: results, counters, observers, then the answer.
void Ingest::finish(Job& job) {
  const std::string& station_id = job.station_id;
  if (!job.error) {
    IngestReply& reply = job.reply;
    try {
      for (auto& c : job.candidates) {
        if (!c.accepted) continue;
        auto& res = reply.results[c.result_index];
        switch (c.outcome) {
          case PutOutcome::stored:
            res.status = "stored";
            ++counters_.stored;
            if (auto k = chain::announced_key(c.manifest))  // verified in verify()
              note_key_change(station_id, c.rec.seq, std::move(*k));
            for (auto* o : observers_) o->on_stored(c.rec, c.manifest);
            break;
          case PutOutcome::duplicate:
            res.status = "duplicate";
            ++counters_.duplicate;
            break;
          case PutOutcome::conflict: {
            res.status = "conflict";
            res.problem = "fork";
            res.detail = "another manifest is stored for seq " + std::to_string(res.seq) +
                         "; this one (" + c.rec.manifest_sha256 + ") is kept as conflict evidence";
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
      for (const auto& [seq, d] : job.chain_breaks)
        for (auto* o : observers_) o->on_chain_break(station_id, seq, d);
    } catch (const std::exception& e) {
      // The records are durable: they are acknowledged even when an observer failed.
      log::error("ingest", station_id + ": observer failed after the commit: " + e.what());
    }
    reply.chain = store_.chain(station_id);
  }
  latency_.observe_us(std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - job.arrived)
                          .count());
  try {
    job.done(job.error, std::move(job.reply));
  } catch (const std::exception& e) {
    log::error("ingest", station_id + ": completion failed: " + e.what());
  }
}

}  // namespace wim::collector
