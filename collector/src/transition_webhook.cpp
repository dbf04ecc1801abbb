// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/transition_webhook.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "wim/common/log.hpp"

namespace wim::collector {

TransitionWebhook::TransitionWebhook(const std::filesystem::path& cases_db, Review& review,
                                     crypto::SigningKey key, const std::string& url,
                                     std::chrono::milliseconds timeout,
                                     std::int64_t retry_initial_ms, std::int64_t retry_max_ms)
    : db_(std::make_unique<sqlite::Db>(cases_db)),
      review_(review),
      key_(std::move(key)),
      http_(url, timeout),
      retry_initial_ms_(retry_initial_ms),
      retry_max_ms_(retry_max_ms) {
  db_->exec("PRAGMA busy_timeout=5000");
  db_->exec(
      "CREATE TABLE IF NOT EXISTS transition_webhook(id INTEGER PRIMARY KEY CHECK(id=1), "
      "delivered_seq INTEGER NOT NULL, attempts INTEGER NOT NULL, "
      "next_attempt_unix_us INTEGER NOT NULL, last_error TEXT NOT NULL);"
      "INSERT OR IGNORE INTO transition_webhook VALUES(1, 0, 0, 0, '')");
}

TransitionWebhook::~TransitionWebhook() = default;

TransitionWebhookStatus TransitionWebhook::status() const {
  std::lock_guard lock(mutex_);
  sqlite::Stmt st(*db_,
                  "SELECT delivered_seq, attempts, next_attempt_unix_us, last_error FROM "
                  "transition_webhook WHERE id=1");
  TransitionWebhookStatus s;
  if (st.step())
    s = {st.col_int(0), static_cast<int>(st.col_int(1)), st.col_int(2), st.col_text(3)};
  sqlite::Stmt last(*db_, "SELECT COALESCE(MAX(seq), 0) FROM audit_log");
  if (last.step()) s.latest_seq = last.col_int(0);
  return s;
}

void TransitionWebhook::save(const TransitionWebhookStatus& s) {
  std::lock_guard lock(mutex_);
  sqlite::Stmt st(*db_,
                  "UPDATE transition_webhook SET delivered_seq=?, attempts=?, "
                  "next_attempt_unix_us=?, last_error=? WHERE id=1");
  st.bind(1, s.delivered_seq).bind(2, std::int64_t{s.attempts}).bind(3, s.next_attempt_unix_us);
  st.bind(4, s.last_error);
  st.step();
}

int TransitionWebhook::pump(std::int64_t now_unix_us) {
  auto s = status();
  if (now_unix_us < s.next_attempt_unix_us) return 0;
  int sent = 0;
  for (const auto& e : review_.audit_after(s.delivered_seq, 1000)) {
    const auto body = boost::json::serialize(e.to_json());
    try {
      http_.post(body, {{"Idempotency-Key", "audit-" + std::to_string(e.seq)},
                        {"X-Wim-Signature", crypto::to_hex(key_.sign(body))}});
    } catch (const std::exception& ex) {
      ++s.attempts;
      const auto shift = std::min(s.attempts - 1, 30);
      const auto delay_ms = std::min(retry_max_ms_, retry_initial_ms_ << shift);
      s.next_attempt_unix_us = now_unix_us + delay_ms * 1000;
      s.last_error = "audit seq " + std::to_string(e.seq) + ": " + ex.what();
      save(s);
      log::warning("transition-webhook", s.last_error + " (attempt " + std::to_string(s.attempts) +
                                             ", retry in " + std::to_string(delay_ms) + " ms)");
      return sent;
    }
    s = {e.seq, 0, 0, "", s.latest_seq};
    save(s);
    ++sent;
  }
  return sent;
}

}  // namespace wim::collector
