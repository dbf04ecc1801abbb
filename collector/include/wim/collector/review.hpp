// SPDX-License-Identifier: Apache-2.0
// The two-stage review of cases (issue 18, docs/review.md): transport review, then police
// review and penalty, on the cases the Forwarder writes into cases.db. Each transition is
// checked (role, state, input), recorded in the append-only audit log (hash-chained,
// signed with the collector's Ed25519 key; common/audit.hpp checks it) in the same
// transaction as the state change, and nothing is ever deleted. Deadlines per stage are
// counted in working time (WorkCalendar) on an injectable clock. Thread-safe.
#pragma once
#include <boost/json/object.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "wim/common/crypto.hpp"
#include "wim/common/record.hpp"
#include "wim/common/sqlite.hpp"

namespace wim::collector {

enum class Role { transport_reviewer, police_reviewer, supervisor, operator_, admin };
std::string_view to_string(Role r);
/// InputError on an unknown name.
Role role_from_string(std::string_view s);

struct Actor {
  std::string user;
  Role role = Role::supervisor;
};

/// Working days and hours. A deadline of N working seconds counts only time inside
/// [day_start, day_end) local-to-UTC-offset on working weekdays that are not holidays.
struct WorkCalendar {
  int utc_offset_s = 8 * 3600;        ///< [s] the city's offset from UTC (China: +8 h)
  int day_start_s = 9 * 3600;         ///< [s] after local midnight
  int day_end_s = 17 * 3600;          ///< [s] after local midnight
  unsigned weekdays = 0b0011111;      ///< bit 0 = Monday ... bit 6 = Sunday
  std::vector<std::string> holidays;  ///< local dates "YYYY-MM-DD"
  /// [us] UTC instant at which `working_s` of working time after `from_unix_us` is used.
  std::int64_t add(std::int64_t from_unix_us, std::int64_t working_s) const;
  /// [us] working time in [from_unix_us, to_unix_us) (0 when to <= from): how far past a
  /// deadline an action came, counted like the deadline itself.
  std::int64_t working_us_between(std::int64_t from_unix_us, std::int64_t to_unix_us) const;
  /// InputError naming the field on a bad value.
  static WorkCalendar from_json(const boost::json::object& o);
};

struct ReviewOptions {
  std::int64_t transport_working_s = 3 * 8 * 3600;  ///< [s] working time for transport review
  std::int64_t police_working_s = 5 * 8 * 3600;     ///< [s] working time for police review
  WorkCalendar calendar;
};

struct Decision {
  std::string kind;  ///< "warning" | "fine" | "no_penalty" ("" = none yet)
  std::int64_t amount_yuan = 0;
  std::string reason;
};

/// Fine of Art. 43 (docs/review.md): 500 yuan per full 1 000 kg of excess, capped at
/// 30 000 yuan; 0 for an excess of at most 1 000 kg (warning only).
std::int64_t fine_yuan(double excess_kg);

struct ReviewCase {
  std::string case_id, station_id, manifest_sha256, rule, state;
  int lane = 0;
  std::int64_t time_unix_us = 0, created_unix_us = 0, stage_deadline_unix_us = 0;
  double gross_kg = 0, limit_kg = 0, excess_kg = 0;
  std::string plate, plate_read_by;
  double plate_confidence = 0;
  bool plate_needs_human = false;
  Decision decision;
  bool overdue = false;  ///< set against the clock when read
  /// The contract's case JSON (docs/workbench-api.md); plate null unless `with_plate`.
  boost::json::object to_json(bool with_plate) const;
};

struct AuditEntry {
  std::int64_t seq = 0;
  std::int64_t time_unix_us = 0;
  std::string user, role, case_id, action, from_state, to_state, reason, manifest_sha256;
  std::string prev_sha256, entry_sha256, signature_hex;
  /// The deadline of the stage the action was taken in (what applied) [us UTC, 0 = none],
  /// whether it was "met" (time <= deadline) or "overdue", "none" without one; "" in
  /// entries written before deadlines were recorded. next_deadline: the stage the case
  /// is in after the action (0 when it ends in rejected or closed).
  std::int64_t stage_deadline_unix_us = 0, next_deadline_unix_us = 0;
  std::string deadline;
  boost::json::object to_json() const;
};

/// Refused action: code is the API error code ("forbidden", "wrong_state", "bad_field",
/// "not_found"), what() the detail.
class ReviewError : public std::runtime_error {
 public:
  ReviewError(std::string code, const std::string& detail)
      : std::runtime_error(detail), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

class Review {
 public:
  using Clock = std::function<std::int64_t()>;  ///< [us] UTC now
  /// The plate reading of a case from its signed manifest (nullopt: none).
  using PlateLookup = std::function<std::optional<record::Plate>(const std::string& case_id)>;
  Review(const std::filesystem::path& cases_db, crypto::SigningKey key, ReviewOptions options,
         Clock clock, PlateLookup plates);
  ~Review();

  /// Cases of a queue ("transport", "police") sorted by deadline, or of a state.
  std::vector<ReviewCase> queue(const std::string& queue, std::size_t limit = 1000);
  std::vector<ReviewCase> by_state(const std::string& state, std::size_t limit = 1000);
  /// ReviewError not_found.
  ReviewCase get(const std::string& case_id);
  /// Overdue open cases, department ("transport"|"police") -> cases.
  std::vector<std::pair<std::string, ReviewCase>> overdue();

  ReviewCase read_plate(const Actor& a, const std::string& case_id, const std::string& plate);
  ReviewCase confirm(const Actor& a, const std::string& case_id, const std::string& reason);
  ReviewCase reject(const Actor& a, const std::string& case_id, const std::string& reason);
  ReviewCase return_to_transport(const Actor& a, const std::string& case_id,
                                 const std::string& reason);
  ReviewCase decide(const Actor& a, const std::string& case_id, const std::string& kind,
                    const std::string& reason);
  ReviewCase close(const Actor& a, const std::string& case_id, const std::string& reason);
  /// Appends an entry for a system action (e.g. retention) on a case.
  void record_system(const std::string& case_id, const std::string& action,
                     const std::string& reason);
  /// Same, unless the case has an entry with this action already (checked and appended in
  /// one write transaction, so two processes cannot both append); true when appended.
  bool record_system_once(const std::string& case_id, const std::string& action,
                          const std::string& reason);

  /// (case_id, [us] UTC time of its final transition) of every case that is rejected or
  /// closed and whose final transition (reject / close audit entry) is before
  /// `before_unix_us`, ascending time (the retention purge reads it).
  std::vector<std::pair<std::string, std::int64_t>> ended_before(std::int64_t before_unix_us);

  /// Audit entries in order (case_id "" = all).
  std::vector<AuditEntry> audit(const std::string& case_id = "", std::size_t limit = 100000);
  /// The entries with seq > `after_seq`, in order, at most `limit`.
  std::vector<AuditEntry> audit_after(std::int64_t after_seq, std::size_t limit);
  crypto::VerifyKey public_key() const { return key_.public_key(); }
  /// The calendar the deadlines are counted on (the site's config).
  const WorkCalendar& calendar() const { return options_.calendar; }

 private:
  ReviewCase load(const std::string& case_id);
  bool record_system_if(const std::string& case_id, const std::string& action,
                        const std::string& reason, bool once);
  void ensure_plate(const std::string& case_id);
  ReviewCase transition(const Actor& a, const std::string& case_id, Role need,
                        const std::vector<std::string>& from, const std::string& to,
                        const std::string& action, const std::string& reason,
                        const std::function<void(ReviewCase&)>& change);
  void append_audit(const std::string& user, const std::string& role, const ReviewCase& c,
                    const std::string& action, const std::string& from, const std::string& to,
                    const std::string& reason, std::int64_t applied_deadline_unix_us,
                    std::int64_t next_deadline_unix_us);
  std::vector<ReviewCase> select(const std::string& where, const std::string& arg,
                                 std::size_t limit);

  std::mutex mutex_;
  std::unique_ptr<sqlite::Db> db_;
  crypto::SigningKey key_;
  ReviewOptions options_;
  Clock clock_;
  PlateLookup plates_;
};

}  // namespace wim::collector
