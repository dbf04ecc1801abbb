// SPDX-License-Identifier: Apache-2.0
// Forwarding into the review pipeline (docs/collector.md "Cases"). Every stored record of
// kind violation with verdict "overload" whose measurement is fit for enforcement becomes
// a case. The Forwarder keeps its own SQLite outbox (cases.db): one row per case and one
// delivery row per configured sink. Delivery is at least once: a delivery row is written
// in the same transaction as the case, is retried with exponential backoff until the sink
// accepts it, and survives restarts; at start the Forwarder also re-scans the record store
// for overload records that have no case yet (a crash between the record commit and the
// case commit loses nothing). Sinks are behind CaseSink, so a Kafka sink can be added.
// Thread-safe.
#pragma once
#include <atomic>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "wim/collector/ingest.hpp"
#include "wim/collector/store.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/sqlite.hpp"

namespace wim::collector {

/// One overload case.
struct Case {
  std::string case_id;  ///< packet dir name, e.g. "G001-0000000005"
  std::string station_id;
  std::int64_t seq = 0;
  std::string manifest_sha256;
  int lane = 0;
  std::int64_t time_unix_us = 0;      ///< [us] UTC, the station's time of the pass
  std::int64_t created_unix_us = 0;   ///< [us] UTC, collector clock
  std::int64_t deadline_unix_us = 0;  ///< [us] UTC, end of the review stage
  std::string state = "awaiting_transport_review";
  double gross_kg = 0, limit_kg = 0, excess_kg = 0;
  std::string rule;
  boost::json::object to_json() const;
};

/// A destination of cases. deliver() throws (any std::exception) when the case was not
/// accepted; it is then retried later. It must be idempotent: a case may come twice.
class CaseSink {
 public:
  virtual ~CaseSink() = default;
  virtual std::string name() const = 0;
  virtual void deliver(const Case& c, const packet::Packet& p) = 0;
};

/// The built-in review queue is the table review_queue in cases.db (case_id, state
/// awaiting_transport_review, stage deadline = creation + ForwardOptions::stage_deadline_s).
/// It is written in the same transaction as the case, so it needs no delivery retries.

/// One tar per case, <dir>/<case_id>.tar (packet::to_tar: <case_id>/manifest.json,
/// manifest.sig, attachments), written to a temporary name, fsync'd, renamed, the folder
/// fsync'd. The station's public key goes to <dir>/keys/<station>.pub.pem so that a
/// reviewer can check a case with the openssl command line alone (docs/collector.md).
///
/// A case whose images the retention removed while its delivery waited comes without them:
/// `retention` then writes the signed retention entries and the collector's key beside the
/// tar first (write_spool_retention_files), so every tar in the folder verifies. Without
/// `retention` such a case is refused (SystemError naming the missing attachments).
class SpoolSink final : public CaseSink {
 public:
  using KeyLookup = std::function<std::string(const std::string& station)>;  ///< PEM or ""
  using RetentionWriter = std::function<void(const std::filesystem::path& dir, const Case& c)>;
  SpoolSink(std::filesystem::path dir, KeyLookup keys, RetentionWriter retention = {});
  std::string name() const override { return "spool"; }
  void deliver(const Case& c, const packet::Packet& p) override;

 private:
  std::filesystem::path dir_;
  KeyLookup keys_;
  RetentionWriter retention_;
};

/// POSTs JSON to one http://host:port/path URL (InputError for another form). post()
/// throws (std::exception) unless the answer is 2xx within `timeout` per step.
class HttpPoster {
 public:
  HttpPoster(const std::string& url, std::chrono::milliseconds timeout);
  void post(const std::string& body,
            const std::vector<std::pair<std::string, std::string>>& headers) const;

 private:
  std::string host_, port_, target_;
  std::chrono::milliseconds timeout_;
};

/// POSTs the case as JSON to an http:// URL (an external enforcement platform): the case
/// fields plus "manifest" (the signed JSON text) and "signature_hex". Header
/// Idempotency-Key: <case_id>. Any 2xx status is success; anything else (or a timeout,
/// refused connection) is a failure to retry.
class WebhookSink final : public CaseSink {
 public:
  WebhookSink(const std::string& url, std::chrono::milliseconds timeout);
  std::string name() const override { return "webhook"; }
  void deliver(const Case& c, const packet::Packet& p) override;

 private:
  HttpPoster http_;
};

struct ForwardOptions {
  std::int64_t stage_deadline_s = 72 * 3600;  ///< [s] review-stage deadline after creation
  /// The transport review's deadline of a case created at [us] UTC, in [us] UTC: the
  /// collector sets it to the review's working-time calendar (Review's options), so the
  /// first stage has the same deadline rule as the later ones. Empty: + stage_deadline_s.
  std::function<std::int64_t(std::int64_t)> first_deadline;
  /// [s] catch-up re-reads this much before the watermark (requests in flight when the
  /// watermark moved; the collector clock stepping back).
  std::int64_t catch_up_margin_s = 600;
  /// Whether attachment `name` of the record with this manifest SHA-256 was removed by
  /// the image retention (purged_by_retention on meta.db). A delivery whose attachment
  /// blob is absent goes out without it when this says so, and fails (retried, the
  /// error naming it) otherwise. Empty: every absent blob is an error.
  std::function<bool(const std::string& manifest_sha256, const std::string& name)>
      purged_by_retention;
  std::int64_t retry_initial_ms = 1000;  ///< [ms] first retry delay
  std::int64_t retry_max_ms = 300'000;   ///< [ms] backoff ceiling
};

/// Delivery state of one case at one sink.
struct Delivery {
  std::string sink;
  std::string state;  ///< "pending" | "delivered" | "retrying"
  int attempts = 0;
  std::int64_t next_attempt_unix_us = 0;
  std::int64_t delivered_unix_us = 0;
  std::string last_error;
};

/// One sink's deliveries, summed over all cases (the operator's delivery status).
struct SinkSummary {
  std::string sink;
  std::int64_t pending = 0;    ///< never tried yet
  std::int64_t retrying = 0;   ///< failed at least once, not delivered yet
  std::int64_t delivered = 0;  ///< accepted by the sink
  /// [us] UTC creation of the oldest case not delivered to this sink (0: none waits).
  std::int64_t oldest_waiting_unix_us = 0;
  /// The retrying delivery tried next: its error and when [us] UTC ("" / 0: none).
  std::string last_error;
  std::int64_t next_attempt_unix_us = 0;
  /// "delivered" (nothing waits), "pending" (waits, none failed), "failing" (one retrying).
  std::string state() const;
};

class Forwarder final : public IngestObserver {
 public:
  /// Opens (creates) the outbox at `db_path`; sinks are added before catch_up()/pump().
  Forwarder(const std::filesystem::path& db_path, const MetadataStore& store,
            const BlobStore& blobs, ForwardOptions options = {});
  ~Forwarder() override;
  void add_sink(std::unique_ptr<CaseSink> sink);

  /// Creates the cases of overload records already stored but without a case. Returns
  /// how many were created. Reads only overload records received since the watermark
  /// (kept in the outbox, minus ForwardOptions::catch_up_margin_s), so a start is
  /// O(records received since the last run), not O(all records).
  int catch_up(std::int64_t now_unix_us);
  /// Overload records the last catch_up() read from the store.
  std::int64_t catch_up_rows_read() const { return catch_up_rows_read_; }
  /// [us] collector time below which every overload record has its case.
  std::int64_t watermark_unix_us() const;
  void on_stored(const StoredRecord& r, const record::Manifest& m) override;

  /// Attempts every delivery due at `now_unix_us`; returns how many succeeded.
  int pump(std::int64_t now_unix_us);

  std::vector<Case> cases(const std::string& station = "", std::size_t limit = 1000) const;
  std::vector<Delivery> deliveries(const std::string& case_id) const;
  /// [{case fields..., "deliveries":[...]}] newest first.
  boost::json::array cases_json(const std::string& station = "", std::size_t limit = 1000) const;
  std::int64_t pending_deliveries() const;
  /// Every configured sink (and any sink named in the outbox), by name.
  std::vector<SinkSummary> sink_summaries() const;

 private:
  bool create_case(const StoredRecord& r, const record::Manifest& m, std::int64_t now_us);
  std::optional<packet::Packet> load_packet(const Case& c) const;
  std::vector<Case> cases_where(const std::string& where, const std::string& arg,
                                std::size_t limit = 1) const;

  const MetadataStore& store_;
  const BlobStore& blobs_;
  ForwardOptions options_;
  mutable std::mutex mutex_;  // guards db_
  std::unique_ptr<sqlite::Db> db_;
  std::vector<std::unique_ptr<CaseSink>> sinks_;
  std::int64_t catch_up_rows_read_ = 0;
  std::atomic<bool> caught_up_{false};  // the watermark moves only after a catch-up
  /// [us] received time of the oldest record whose case could not be created since the
  /// last start (0: none); the watermark never passes it.
  std::int64_t oldest_failed_us_ = 0;
  void advance_watermark(std::int64_t now_us);
  std::mutex pump_mutex_;  // one pump at a time (sinks are called without mutex_)
};

/// True when a stored record becomes a case.
bool is_case(const record::Manifest& m);

/// Statistics of one station for one UTC day [day_start, +24 h): vehicles (pass and
/// violation records), overloads (verdict "overload"), overload rate, and the same per
/// lane. {"station_id","day","vehicles","overloads","overload_rate","lanes":[{...}]}.
boost::json::object day_stats(const MetadataStore& store, const std::string& station,
                              std::int64_t day_start_unix_us, const std::string& day);
/// "2026-11-27" -> [us] of 00:00:00 UTC; InputError on anything else.
std::int64_t parse_day(std::string_view day);

}  // namespace wim::collector
