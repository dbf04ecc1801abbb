// SPDX-License-Identifier: Apache-2.0
// The review's transitions to an external platform (issue 18: "the webhook sink carries
// each transition"; docs/collector.md "Transition webhook"). Every audit entry (confirm,
// reject, return, decide, close, plate read, system actions) is POSTed, in seq order, one
// request each, to forward.transition_webhook_url: the body is the entry's JSON exactly as
// export-audit writes it (signed: entry_sha256 over audit::canonical, signature_hex by the
// collector's audit key), with headers Idempotency-Key: audit-<seq> and
// X-Wim-Signature: Ed25519 signature (hex) of the body bytes by the same key, checkable
// with `openssl pkeyutl -verify -rawin` and collector.pub.pem. At least once: the cursor
// (last delivered seq) is in cases.db and moves only after a 2xx, so a restart resends at
// most the entry in flight; a failure is retried with exponential backoff and holds the
// later entries back (the order is kept). The first start delivers the log from seq 1.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "wim/collector/forward.hpp"
#include "wim/collector/review.hpp"
#include "wim/common/crypto.hpp"

namespace wim::collector {

struct TransitionWebhookStatus {
  std::int64_t delivered_seq = 0;         ///< last audit seq the platform accepted
  int attempts = 0;                       ///< failed tries of the next entry
  std::int64_t next_attempt_unix_us = 0;  ///< [us] UTC, not before
  std::string last_error;                 ///< of the last failed try ("" = none)
  std::int64_t latest_seq = 0;            ///< highest seq in the audit log (status() only)
  /// Entries not yet accepted by the platform.
  std::int64_t backlog() const {
    return latest_seq > delivered_seq ? latest_seq - delivered_seq : 0;
  }
  /// "delivered" (nothing waits), "pending" (waits, none failed), "failing" (a try failed).
  std::string state() const {
    if (attempts > 0) return "failing";
    return backlog() ? "pending" : "delivered";
  }
};

class TransitionWebhook {
 public:
  TransitionWebhook(const std::filesystem::path& cases_db, Review& review, crypto::SigningKey key,
                    const std::string& url, std::chrono::milliseconds timeout,
                    std::int64_t retry_initial_ms, std::int64_t retry_max_ms);
  ~TransitionWebhook();
  /// Sends the entries after the cursor until one fails or none is left (at most 1000 per
  /// call); returns how many were delivered. Does nothing before next_attempt_unix_us.
  int pump(std::int64_t now_unix_us);
  TransitionWebhookStatus status() const;

 private:
  void save(const TransitionWebhookStatus& s);
  mutable std::mutex mutex_;  // guards db_ (status() is read from the API's threads)
  std::unique_ptr<sqlite::Db> db_;
  Review& review_;
  crypto::SigningKey key_;
  HttpPoster http_;
  std::int64_t retry_initial_ms_, retry_max_ms_;
};

}  // namespace wim::collector
