// SPDX-License-Identifier: Apache-2.0
// The station's uplink to the collector (contract 5, docs/uplink.md).
//
// UplinkSession<Stream> speaks HTTP/1.1 over any Beast-compatible stream: the real one is
// ssl::stream<beast::tcp_stream> (mutual TLS), tests plug in beast::test::stream with a
// fail_count and loop over every failure point. Every operation (resolve, connect,
// handshake, write, read) has a deadline; on expiry the lowest layer is closed.
// drain_outbox() sends pending records in seq order and removes from the outbox only
// what the collector answered as stored or duplicate (or covered by acked_seq).
//
// Thread-safety: a session and its io_context are used from one thread. Errors throw
// UplinkError (network, timeout, HTTP status, malformed answer); the caller reconnects
// after a Backoff delay.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "wim/common/error.hpp"
#include "wim/edge/outbox.hpp"

namespace wim::edge {

class UplinkError : public SystemError {
 public:
  using SystemError::SystemError;
};

/// The collector answered with an HTTP error status (body kept: `{"error": code, ...}`).
class UplinkHttpError : public UplinkError {
 public:
  UplinkHttpError(const std::string& what, unsigned status, std::string body)
      : UplinkError(what), status_(status), body_(std::move(body)) {}
  unsigned status() const { return status_; }
  const std::string& body() const { return body_; }
  /// The error code of the body ("broken_tar"), empty when none.
  std::string code() const;
  /// A 4xx that says the request itself was bad (400, 413, 415, 422): resending the same
  /// batch would fail the same way. Not 401/403 (credentials), 408, 429 (retry later).
  bool batch_refused() const {
    return status_ == 400 || status_ == 413 || status_ == 415 || status_ == 422;
  }

 private:
  unsigned status_;
  std::string body_;
};

struct UplinkConfig {
  std::string station_id;
  std::string host = "127.0.0.1";  ///< collector host name (checked against its certificate)
  std::string port = "8443";
  std::string ca_file;    ///< PEM: the deployment's CA (verifies the collector)
  std::string cert_file;  ///< PEM: this station's client certificate
  std::string key_file;   ///< PEM: the client certificate's private key
  std::chrono::milliseconds op_timeout{30000};        ///< [ms] per network operation
  std::size_t batch_max_records = 200;                ///< [-] records per POST
  std::uint64_t batch_max_bytes = 16u << 20;          ///< [B] packet bytes per POST (<64 MiB)
  std::chrono::milliseconds backoff_initial{1000};    ///< [ms] first retry delay
  std::chrono::milliseconds backoff_max{300000};      ///< [ms] cap of the retry delay
  std::chrono::milliseconds heartbeat_period{60000};  ///< [ms]
};

/// Exponential backoff with "equal jitter": attempt n waits d/2 + U(0, d/2) where
/// d = min(max, initial * 2^n), so 51 stations that lost the collector together do not
/// come back in lockstep. Not thread-safe.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, std::uint32_t seed);
  std::chrono::milliseconds next();
  void reset() { attempt_ = 0; }
  unsigned attempt() const { return attempt_; }

 private:
  std::chrono::milliseconds initial_, max_;
  unsigned attempt_ = 0;
  std::mt19937 rng_;
};

/// GET /v1/stations/{id}/ack
struct AckState {
  std::uint64_t acked_seq = 0;
  std::uint64_t highest_seq = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> missing;  ///< inclusive ranges
};

/// One result line of POST /v1/records.
struct RecordResult {
  std::uint64_t seq = 0;
  std::string status;   ///< stored, duplicate, conflict, rejected
  std::string problem;  ///< for conflict/rejected: the collector's code ("fork", "bad_signature")
  std::string detail;
};
struct RecordsReply {
  std::vector<RecordResult> results;
  std::uint64_t acked_seq = 0;
};

/// Parse the collector's JSON answers; UplinkError names the missing or bad field.
AckState parse_ack_reply(std::string_view body, std::string_view station_id);
RecordsReply parse_records_reply(std::string_view body, std::string_view station_id);

/// What one drain did.
struct DrainResult {
  std::size_t batches = 0;
  std::size_t acknowledged = 0;  ///< records removed from the outbox
  std::size_t conflicts = 0;
  std::size_t rejected = 0;
  std::uint64_t acked_seq = 0;  ///< the collector's last answer
};

namespace http = boost::beast::http;

template <class Stream>
class UplinkSession {
 public:
  /// `stream` is connected (and for TLS, handshaken) already; it must outlive the session.
  UplinkSession(boost::asio::io_context& ioc, Stream& stream, const UplinkConfig& cfg);

  AckState get_ack();
  RecordsReply post_records(std::string tar);
  /// POST /v1/heartbeat; returns the acked_seq of the reply.
  std::uint64_t post_heartbeat(std::string json);

  /// Runs `init(handler)` and the io_context until the handler ran or op_timeout expired
  /// (then the stream's lowest layer is closed). Throws UplinkError naming `what`.
  template <class Initiate>
  void run_with_deadline(std::string_view what, Initiate&& init);

 private:
  http::response<http::string_body> exchange(http::request<http::string_body>& req);

  boost::asio::io_context& ioc_;
  Stream& stream_;
  const UplinkConfig& cfg_;
  boost::beast::flat_buffer buffer_;
};

/// Resumes from the collector's acked seq, then sends every pending record, batch by
/// batch in ascending seq, until the outbox has nothing left to send.
/// A batch the collector refuses as a whole (UplinkHttpError::batch_refused, e.g. 400
/// broken_tar) is not resent identically: the batch is halved (the limit is kept in
/// `*batch_limit` across attempts, since the collector may hang up after an error) until
/// the single record that makes it fail is found; that record is then marked rejected
/// (kept in the outbox, flagged, no longer sent, counted as a conflict in health and
/// heartbeat) and the rest go on. After a batch is accepted the limit doubles again.
template <class Stream>
DrainResult drain_outbox(UplinkSession<Stream>& session, Outbox& outbox, const UplinkConfig& cfg,
                         std::size_t* batch_limit = nullptr);

/// Applies one POST /v1/records answer to the outbox (exposed for tests).
void apply_records_reply(const RecordsReply& reply, const std::vector<OutboxRecord>& sent,
                         Outbox& outbox, DrainResult& result);

/// One batch body from outbox records (their packets are tars; see batch_tar.hpp).
std::string make_batch(const std::vector<OutboxRecord>& records);

}  // namespace wim::edge

#include "wim/edge/impl/uplink_session.hpp"
