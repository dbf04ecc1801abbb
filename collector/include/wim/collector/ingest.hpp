// SPDX-License-Identifier: Apache-2.0
// Ingest of the uplink (docs/uplink.md): verifies every packet a station sends and stores
// the good ones durably before they are acknowledged.
//
// Per packet: readable manifest, station of the manifest == station of the TLS
// certificate, signature with the station's registered key and attachment hashes
// (wim::chain::verify_packet), seq not far beyond the highest stored seq, chain link to
// the stored (or same-request) previous seq and to a stored next seq. Then the
// attachments go to the blob store and all accepted records of the request are committed
// in one transaction. Nothing of a rejected packet is stored (its attachments are not
// written either).
//
// Threads: reading the tar and verifying signatures and hashes (the CPU work) runs on a
// small pool (`verify_threads`), in parallel and in any order. Chain checks, blob writes
// and the SQLite commit run on one commit thread that takes every verified request
// waiting at that moment as one group: one blob sync and one transaction for the group
// (group commit), and the chain checks of the group's requests see each other's records
// in order, so two requests of one station in flight at once never both link to the same
// predecessor. A failed commit fails every request of its group; nothing is answered
// before the commit that holds its records. Observers and the completion run on the pool
// afterwards, so neither the io threads nor the commit thread wait for them.
#pragma once
#include <array>
#include <atomic>
#include <boost/json/object.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "wim/collector/registry.hpp"
#include "wim/collector/store.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/record.hpp"

namespace wim::collector {

struct IngestOptions {
  /// A seq more than this beyond the highest stored seq is rejected (a forged or corrupt
  /// seq would otherwise open a huge "gap"). 100 000 ≈ 50 days of a busy station.
  std::int64_t future_seq_window = 100'000;
  packet::Limits limits;
  /// Threads that read tars and verify signatures and attachment hashes (>= 1).
  int verify_threads = 2;
};

/// The verdict on one packet of a request.
struct RecordResult {
  std::int64_t seq = 0;
  std::string status;   ///< "stored" | "duplicate" | "conflict" | "rejected"
  std::string problem;  ///< for rejected/conflict: wim::chain::Problem name or ingest reason
  std::string detail;
};

struct IngestReply {
  std::string station_id;
  std::vector<RecordResult> results;
  ChainSummary chain;
  boost::json::object to_json() const;  ///< the body of docs/uplink.md
};

/// Told about what the ingest did (monitoring, forwarding, statistics). Called after the
/// commit, on the request's thread.
class IngestObserver {
 public:
  virtual ~IngestObserver() = default;
  virtual void on_stored(const StoredRecord& /*r*/, const record::Manifest& /*m*/) {}
  virtual void on_conflict(const std::string& /*station*/, std::int64_t /*seq*/,
                           const std::string& /*detail*/) {}
  virtual void on_chain_break(const std::string& /*station*/, std::int64_t /*seq*/,
                              const std::string& /*detail*/) {}
  virtual void on_rejected(const std::string& /*station*/, const RecordResult& /*r*/) {}
};

/// Counters for /metrics. Thread-safe. `commit_groups`: groups of requests that shared one
/// blob sync and one transaction (requests / commit_groups = requests per commit).
struct IngestCounters {
  std::atomic<std::uint64_t> requests{0}, stored{0}, duplicate{0}, conflict{0}, rejected{0},
      broken_tar{0}, commit_groups{0};
};

/// Time from a request's arrival at the ingest to its answer (verify, durable commit), as a
/// Prometheus histogram. Bounds in seconds: a group commit with a blob sync takes
/// milliseconds on an SSD, up to seconds on a loaded disk; above 30 s the station's uplink
/// times out (edge UplinkOptions::op_timeout, 30 s by default), so the last finite bucket is there.
/// Thread-safe.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 12> kBoundsS{0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                   0.25,  0.5,   1,    2.5,   10,   30};
  void observe_us(std::int64_t us);
  /// Count of observations <= kBoundsS[i] (cumulative), i < kBoundsS.size().
  std::uint64_t cumulative(std::size_t i) const;
  std::uint64_t count() const { return count_.load(); }
  double sum_s() const { return static_cast<double>(sum_us_.load()) / 1e6; }

 private:
  std::array<std::atomic<std::uint64_t>, kBoundsS.size()> buckets_{};  // not cumulative
  std::atomic<std::uint64_t> count_{0}, sum_us_{0};
};

/// The answer to a submitted request: `error` set (InputError: the tar is unreadable,
/// nothing stored; SystemError: storage failed, nothing acknowledged) or `reply`.
using IngestDone = std::function<void(std::exception_ptr error, IngestReply&& reply)>;

class Ingest {
 public:
  /// Starts the verify pool and the commit thread.
  Ingest(MetadataStore& store, BlobStore& blobs, std::shared_ptr<RegistryHolder> registry,
         IngestOptions options = {});
  /// stop()
  ~Ingest();
  Ingest(const Ingest&) = delete;
  Ingest& operator=(const Ingest&) = delete;

  /// Verifies and stores the packets in `tar` sent by `station_id` (from its certificate)
  /// and calls `done` once, on a pool thread, after the durable commit (or the failure).
  /// After stop(), `done` is called at once with a SystemError.
  void submit(std::string station_id, std::string tar, IngestDone done);
  /// Same, waiting for the answer. Throws InputError when the tar itself cannot be read
  /// (nothing is stored then); SystemError when storage fails (nothing is acknowledged).
  IngestReply ingest_tar(const std::string& station_id, std::string_view tar);
  /// Same for packets already read.
  IngestReply ingest(const std::string& station_id, const std::vector<packet::Packet>& packets);
  /// Finishes every request already submitted (each gets its answer), then stops the
  /// threads. Call it before whatever the completions post to goes away. Idempotent.
  void stop();

  /// Not thread-safe: add observers before the first request.
  void add_observer(IngestObserver* o) { observers_.push_back(o); }
  const IngestCounters& counters() const { return counters_; }
  /// submit() to answer, every request (stored, refused or failed).
  const LatencyHistogram& latency() const { return latency_; }
  const IngestOptions& options() const { return options_; }

 private:
  struct Job;
  void enqueue(std::unique_ptr<Job> job);
  void verify_worker();
  void verify(Job& job);
  void commit_loop();
  void commit_group(std::vector<std::unique_ptr<Job>>& group);
  void finish(Job& job);

  /// Station key rotation: the key announced by an authentic key_change event signs the
  /// records after `after_seq`.
  struct KeyChange {
    std::int64_t after_seq;
    crypto::VerifyKey key;
  };
  /// The station's stored key changes, ascending (read from the store once per station).
  std::vector<KeyChange> key_changes(const std::string& station);
  void note_key_change(const std::string& station, std::int64_t seq, crypto::VerifyKey key);

  MetadataStore& store_;
  BlobStore& blobs_;
  std::shared_ptr<RegistryHolder> registry_;
  IngestOptions options_;
  std::vector<IngestObserver*> observers_;
  IngestCounters counters_;
  LatencyHistogram latency_;

  std::mutex mutex_;  // everything below
  std::condition_variable work_cv_, commit_cv_;
  std::deque<std::unique_ptr<Job>> to_verify_, to_commit_, to_finish_;
  int verifying_ = 0;       // jobs taken from to_verify_, not yet in to_commit_
  bool closing_ = false;    // no new requests; the commit thread ends when all is drained
  bool pool_stop_ = false;  // the pool ends once to_finish_ is empty
  std::thread committer_;
  std::mutex keys_mutex_;  // key_changes_
  std::map<std::string, std::vector<KeyChange>, std::less<>> key_changes_;
  std::vector<std::thread> pool_;
};

/// {"station_id","acked_seq","highest_seq","missing":[[a,b],...]}
boost::json::object chain_json(const std::string& station, const ChainSummary& c);

}  // namespace wim::collector
