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
// written either). Thread-safe: requests of different stations may run in parallel;
// requests of one station are serialised (a per-station mutex), so the chain checks see
// a consistent store.
#pragma once
#include <atomic>
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
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

/// Counters for /metrics. Thread-safe.
struct IngestCounters {
  std::atomic<std::uint64_t> requests{0}, stored{0}, duplicate{0}, conflict{0}, rejected{0},
      broken_tar{0};
};

class Ingest {
 public:
  Ingest(MetadataStore& store, BlobStore& blobs, std::shared_ptr<RegistryHolder> registry,
         IngestOptions options = {});

  /// Verifies and stores the packets in `tar` sent by `station_id` (from its certificate).
  /// Throws InputError when the tar itself cannot be read (nothing is stored then);
  /// SystemError when storage fails (nothing is acknowledged then).
  IngestReply ingest_tar(const std::string& station_id, std::string_view tar);
  /// Same for packets already read.
  IngestReply ingest(const std::string& station_id, const std::vector<packet::Packet>& packets);

  void add_observer(IngestObserver* o) { observers_.push_back(o); }
  const IngestCounters& counters() const { return counters_; }
  const IngestOptions& options() const { return options_; }

 private:
  std::mutex& station_mutex(const std::string& station);

  MetadataStore& store_;
  BlobStore& blobs_;
  std::shared_ptr<RegistryHolder> registry_;
  IngestOptions options_;
  std::vector<IngestObserver*> observers_;
  IngestCounters counters_;
  std::mutex mutexes_mutex_;
  std::map<std::string, std::unique_ptr<std::mutex>> station_mutexes_;
};

/// {"station_id","acked_seq","highest_seq","missing":[[a,b],...]}
boost::json::object chain_json(const std::string& station, const ChainSummary& c);

}  // namespace wim::collector
