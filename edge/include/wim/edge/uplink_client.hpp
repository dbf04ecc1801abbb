// SPDX-License-Identifier: Apache-2.0
// The uplink loop the daemon runs on its own thread: connect with mutual TLS, resume from
// the collector's acked seq, drain the outbox, send heartbeats; on any failure close the
// connection and retry after an exponential backoff with jitter. Nothing is removed from
// the outbox that the collector did not acknowledge (see drain_outbox).
// Thread-safety: run() on one thread; stop(), notify() and status() from any thread.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "wim/edge/outbox.hpp"
#include "wim/edge/uplink.hpp"

namespace wim::edge {

struct UplinkStatus {
  std::string state = "starting";         ///< starting, connected, idle, backoff, stopped
  std::string last_error;                 ///< empty when the last attempt succeeded
  std::uint64_t acked_seq = 0;            ///< [-] collector's last acked seq
  std::int64_t last_success_unix_us = 0;  ///< [us] UTC of the last successful exchange
  unsigned consecutive_failures = 0;      ///< [-]
  std::uint64_t records_sent = 0;         ///< [-] acknowledged since start
};

class UplinkClient {
 public:
  /// `heartbeat_json` builds the heartbeat body when one is due (may be empty: none).
  UplinkClient(UplinkConfig cfg, Outbox& outbox, std::function<std::string()> heartbeat_json);

  /// Loops until stop(). Never throws: failures are logged and retried.
  void run();
  void stop();
  /// A new record is in the outbox: wake up now instead of at the next poll.
  void notify();
  UplinkStatus status() const;

  /// One attempt: connect, resume, drain, heartbeat if due. Throws UplinkError.
  DrainResult run_once();

 private:
  void set_state(const std::string& s);
  UplinkConfig cfg_;
  Outbox& outbox_;
  std::function<std::string()> heartbeat_json_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool wake_ = false;
  UplinkStatus status_;
  std::int64_t next_heartbeat_us_ = 0;  ///< [us] monotonic
  std::size_t batch_limit_ = 0;         ///< [-] records per batch now (halved on refusal)
};

}  // namespace wim::edge
