// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/review.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>

#include "wim/common/audit.hpp"
#include "wim/common/error.hpp"
#include "wim/common/time.hpp"

namespace wim::collector {

namespace bj = boost::json;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS review_queue(
  case_id TEXT PRIMARY KEY, state TEXT NOT NULL, stage_deadline_unix_us INTEGER NOT NULL,
  queued_unix_us INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS case_review(
  case_id TEXT PRIMARY KEY, plate TEXT NOT NULL, plate_confidence REAL NOT NULL,
  plate_needs_human INTEGER NOT NULL, plate_read_by TEXT NOT NULL,
  decision_kind TEXT NOT NULL DEFAULT '', amount_yuan INTEGER NOT NULL DEFAULT 0,
  decision_reason TEXT NOT NULL DEFAULT '') WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_log(
  seq INTEGER PRIMARY KEY, time_unix_us INTEGER NOT NULL, user TEXT NOT NULL,
  role TEXT NOT NULL, case_id TEXT NOT NULL, action TEXT NOT NULL, from_state TEXT NOT NULL,
  to_state TEXT NOT NULL, reason TEXT NOT NULL, manifest_sha256 TEXT NOT NULL,
  prev_sha256 TEXT NOT NULL, entry_sha256 TEXT NOT NULL, signature_hex TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_case ON audit_log(case_id, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS cases_no_delete BEFORE DELETE ON cases
  BEGIN SELECT RAISE(ABORT, 'cases are never deleted'); END;
)sql";

constexpr const char* kSelect =
    "SELECT c.case_id, c.station, c.manifest_sha256, c.rule, q.state, c.lane, c.time_unix_us, "
    "c.created_unix_us, q.stage_deadline_unix_us, c.gross_kg, c.limit_kg, c.excess_kg, "
    "r.plate, r.plate_read_by, r.plate_confidence, r.plate_needs_human, r.decision_kind, "
    "r.amount_yuan, r.decision_reason FROM cases c JOIN review_queue q USING(case_id) "
    "LEFT JOIN case_review r USING(case_id) ";

const std::vector<std::string> kTransportStates = {"awaiting_transport_review",
                                                   "returned_to_transport"};
const std::vector<std::string> kOpenStates = {"awaiting_transport_review", "returned_to_transport",
                                              "awaiting_police_review", "penalty_decided"};

/// A reason: trimmed, 1..2000 bytes, valid UTF-8 assumed from JSON, no control characters.
std::string check_reason(const std::string& reason, bool required) {
  auto b = reason.find_first_not_of(" \t");
  std::string r = b == std::string::npos ? "" : reason.substr(b);
  while (!r.empty() && (r.back() == ' ' || r.back() == '\t')) r.pop_back();
  if (required && r.empty()) throw ReviewError("bad_field", "reason: required for this action");
  if (r.size() > 2000) throw ReviewError("bad_field", "reason: longer than 2000 bytes");
  for (unsigned char ch : r)
    if (ch < 0x20 && ch != '\n')
      throw ReviewError("bad_field", "reason: contains a control character");
  return r;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/// Days since 1970-01-01 -> "YYYY-MM-DD" (the date part of common's UTC format).
std::string civil_date(std::int64_t days) {
  return time::format_utc_ms(days * 86400 * 1'000'000).substr(0, 10);
}

}  // namespace

std::string_view to_string(Role r) {
  switch (r) {
    case Role::transport_reviewer:
      return "transport_reviewer";
    case Role::police_reviewer:
      return "police_reviewer";
    case Role::supervisor:
      return "supervisor";
    case Role::operator_:
      return "operator";
    case Role::admin:
      return "admin";
  }
  return "?";
}

Role role_from_string(std::string_view s) {
  for (Role r : {Role::transport_reviewer, Role::police_reviewer, Role::supervisor, Role::operator_,
                 Role::admin})
    if (to_string(r) == s) return r;
  throw InputError("role: unknown '" + std::string(s) +
                   "' (transport_reviewer, police_reviewer, supervisor, operator, admin)");
}

std::int64_t WorkCalendar::add(std::int64_t from_unix_us, std::int64_t working_s) const {
  if (day_end_s <= day_start_s || (weekdays & 0x7f) == 0)
    throw InputError("calendar: no working time (day_end <= day_start or no weekday)");
  constexpr std::int64_t kDay = 86400;
  std::int64_t left_us = working_s * 1'000'000;
  std::int64_t local_us = from_unix_us + std::int64_t{utc_offset_s} * 1'000'000;
  for (int guard = 0; guard < 20000; ++guard) {
    const std::int64_t day = floor_div(local_us, kDay * 1'000'000);
    const std::int64_t weekday = ((day % 7) + 7 + 3) % 7;  // 1970-01-01 was a Thursday (3)
    const bool working =
        ((weekdays >> weekday) & 1) &&
        std::find(holidays.begin(), holidays.end(), civil_date(day)) == holidays.end();
    const std::int64_t start = (day * kDay + day_start_s) * 1'000'000;
    const std::int64_t end = (day * kDay + day_end_s) * 1'000'000;
    if (working && local_us < end) {
      const std::int64_t at = std::max(local_us, start);
      if (left_us <= end - at) return at + left_us - std::int64_t{utc_offset_s} * 1'000'000;
      left_us -= end - at;
    }
    local_us = (day + 1) * kDay * 1'000'000;
  }
  throw InputError("calendar: deadline more than 20000 days away (holidays list too long?)");
}

std::int64_t WorkCalendar::working_us_between(std::int64_t from_unix_us,
                                              std::int64_t to_unix_us) const {
  if (to_unix_us <= from_unix_us) return 0;
  if (day_end_s <= day_start_s || (weekdays & 0x7f) == 0)
    throw InputError("calendar: no working time (day_end <= day_start or no weekday)");
  constexpr std::int64_t kDayUs = 86400ll * 1'000'000;
  const std::int64_t offset_us = std::int64_t{utc_offset_s} * 1'000'000;
  const std::int64_t from = from_unix_us + offset_us, to = to_unix_us + offset_us;  // local
  std::int64_t sum = 0;
  for (std::int64_t day = floor_div(from, kDayUs); day * kDayUs < to; ++day) {
    const std::int64_t weekday = ((day % 7) + 7 + 3) % 7;  // 1970-01-01 was a Thursday (3)
    if (!((weekdays >> weekday) & 1) ||
        std::find(holidays.begin(), holidays.end(), civil_date(day)) != holidays.end())
      continue;
    const std::int64_t start = std::max(from, day * kDayUs + std::int64_t{day_start_s} * 1'000'000);
    const std::int64_t end = std::min(to, day * kDayUs + std::int64_t{day_end_s} * 1'000'000);
    if (end > start) sum += end - start;
  }
  return sum;
}

WorkCalendar WorkCalendar::from_json(const bj::object& o) {
  WorkCalendar c;
  auto num = [&](const char* k, int& out, int lo, int hi) {
    if (const auto* v = o.if_contains(k)) {
      if (!v->is_int64() || v->as_int64() < lo || v->as_int64() > hi)
        throw InputError(std::string("calendar.") + k + ": expected an integer in [" +
                         std::to_string(lo) + ", " + std::to_string(hi) + "]");
      out = static_cast<int>(v->as_int64());
    }
  };
  num("utc_offset_s", c.utc_offset_s, -14 * 3600, 14 * 3600);
  num("day_start_s", c.day_start_s, 0, 86400);
  num("day_end_s", c.day_end_s, 0, 86400);
  if (const auto* v = o.if_contains("weekdays")) {
    if (!v->is_array()) throw InputError("calendar.weekdays: expected an array of 1..7");
    c.weekdays = 0;
    for (const auto& d : v->as_array()) {
      if (!d.is_int64() || d.as_int64() < 1 || d.as_int64() > 7)
        throw InputError("calendar.weekdays: expected 1 (Monday) .. 7 (Sunday)");
      c.weekdays |= 1u << (d.as_int64() - 1);
    }
  }
  if (const auto* v = o.if_contains("holidays")) {
    if (!v->is_array()) throw InputError("calendar.holidays: expected an array of dates");
    for (const auto& d : v->as_array()) {
      if (!d.is_string() || d.as_string().size() != 10)
        throw InputError("calendar.holidays: expected \"YYYY-MM-DD\"");
      c.holidays.emplace_back(d.as_string());
    }
  }
  if (c.day_end_s <= c.day_start_s) throw InputError("calendar: day_end_s <= day_start_s");
  if (c.weekdays == 0) throw InputError("calendar.weekdays: empty");
  return c;
}

std::int64_t fine_yuan(double excess_kg) {
  if (!(excess_kg > 1000.0)) return 0;
  const auto tonnes = static_cast<std::int64_t>(std::floor(excess_kg / 1000.0));
  return std::min<std::int64_t>(tonnes * 500, 30000);
}

bj::object ReviewCase::to_json(bool with_plate) const {
  bj::object o{{"case_id", case_id},
               {"station_id", station_id},
               {"lane", lane},
               {"time_utc", time::format_utc_us(time_unix_us)},
               {"state", state},
               {"gross_kg", gross_kg},
               {"limit_kg", limit_kg},
               {"excess_kg", excess_kg},
               {"rule", rule},
               {"manifest_sha256", manifest_sha256},
               {"plate_confidence", plate_confidence},
               {"plate_needs_human", plate_needs_human},
               {"plate_read_by", plate_read_by},
               {"stage_deadline_utc", stage_deadline_unix_us
                                          ? bj::value(time::format_utc_us(stage_deadline_unix_us))
                                          : bj::value(nullptr)},
               {"overdue", overdue}};
  o["plate"] = with_plate ? bj::value(plate) : bj::value(nullptr);
  if (decision.kind.empty())
    o["decision"] = nullptr;
  else
    o["decision"] = bj::object{{"kind", decision.kind},
                               {"amount_yuan", decision.amount_yuan},
                               {"reason", decision.reason}};
  std::string dept;
  if (state == "awaiting_transport_review" || state == "returned_to_transport") dept = "transport";
  if (state == "awaiting_police_review" || state == "penalty_decided") dept = "police";
  o["department"] = dept;
  return o;
}

bj::object AuditEntry::to_json() const {
  bj::object o{{"seq", seq},
               {"time_unix_us", time_unix_us},
               {"time_utc", time::format_utc_us(time_unix_us)},
               {"user", user},
               {"role", role},
               {"case_id", case_id},
               {"action", action},
               {"from", from_state},
               {"to", to_state},
               {"reason", reason},
               {"manifest_sha256", manifest_sha256},
               {"prev_sha256", prev_sha256},
               {"entry_sha256", entry_sha256},
               {"signature_hex", signature_hex}};
  if (!deadline.empty()) {  // hashed (audit::canonical); the _utc fields are for reading
    const auto utc = [](std::int64_t us) {
      return us ? bj::value(time::format_utc_us(us)) : bj::value(nullptr);
    };
    o["stage_deadline_unix_us"] = stage_deadline_unix_us;
    o["stage_deadline_utc"] = utc(stage_deadline_unix_us);
    o["deadline"] = deadline;
    o["next_deadline_unix_us"] = next_deadline_unix_us;
    o["next_deadline_utc"] = utc(next_deadline_unix_us);
  }
  return o;
}

Review::Review(const std::filesystem::path& cases_db, crypto::SigningKey key, ReviewOptions options,
               Clock clock, PlateLookup plates)
    : db_(std::make_unique<sqlite::Db>(cases_db)),
      key_(std::move(key)),
      options_(std::move(options)),
      clock_(std::move(clock)),
      plates_(std::move(plates)) {
  db_->exec("PRAGMA busy_timeout=5000");
  // cases is the Forwarder's table; create it here too so the order of opening is free.
  db_->exec(R"sql(CREATE TABLE IF NOT EXISTS cases(
  case_id TEXT PRIMARY KEY, station TEXT NOT NULL, seq INTEGER NOT NULL,
  manifest_sha256 TEXT NOT NULL, lane INTEGER NOT NULL, time_unix_us INTEGER NOT NULL,
  created_unix_us INTEGER NOT NULL, gross_kg REAL NOT NULL, limit_kg REAL NOT NULL,
  excess_kg REAL NOT NULL, rule TEXT NOT NULL) WITHOUT ROWID;)sql");
  db_->exec(kSchema);
  // The stage deadline of each entry (since 2026-12-07); NULL in older entries.
  bool has_deadline = false;
  for (sqlite::Stmt cols(*db_, "PRAGMA table_info(audit_log)"); cols.step();)
    has_deadline = has_deadline || cols.col_text(1) == "deadline";
  if (!has_deadline)
    db_->exec(
        "ALTER TABLE audit_log ADD COLUMN stage_deadline_unix_us INTEGER;"
        "ALTER TABLE audit_log ADD COLUMN deadline TEXT;"
        "ALTER TABLE audit_log ADD COLUMN next_deadline_unix_us INTEGER;");
}

Review::~Review() = default;

std::vector<ReviewCase> Review::select(const std::string& where, const std::string& arg,
                                       std::size_t limit) {
  sqlite::Stmt st(*db_, std::string(kSelect) + where + " LIMIT ?");
  int i = 1;
  if (!arg.empty()) st.bind(i++, arg);
  st.bind(i, static_cast<std::int64_t>(limit));
  std::vector<ReviewCase> out;
  const auto now = clock_();
  while (st.step()) {
    ReviewCase c;
    c.case_id = st.col_text(0);
    c.station_id = st.col_text(1);
    c.manifest_sha256 = st.col_text(2);
    c.rule = st.col_text(3);
    c.state = st.col_text(4);
    c.lane = static_cast<int>(st.col_int(5));
    c.time_unix_us = st.col_int(6);
    c.created_unix_us = st.col_int(7);
    c.stage_deadline_unix_us = st.col_int(8);
    c.gross_kg = st.col_double(9);
    c.limit_kg = st.col_double(10);
    c.excess_kg = st.col_double(11);
    if (!st.col_null(12)) {
      c.plate = st.col_text(12);
      c.plate_read_by = st.col_text(13);
      c.plate_confidence = st.col_double(14);
      c.plate_needs_human = st.col_int(15) != 0;
      c.decision = {st.col_text(16), st.col_int(17), st.col_text(18)};
    }
    const bool open = c.state != "rejected" && c.state != "closed";
    c.overdue = open && c.stage_deadline_unix_us != 0 && now > c.stage_deadline_unix_us;
    out.push_back(std::move(c));
  }
  return out;
}

void Review::ensure_plate(const std::string& case_id) {
  sqlite::Stmt has(*db_, "SELECT 1 FROM case_review WHERE case_id=?");
  has.bind(1, case_id);
  if (has.step()) return;
  record::Plate p;
  if (plates_)
    if (auto got = plates_(case_id)) p = *got;
  sqlite::Stmt ins(*db_,
                   "INSERT OR IGNORE INTO case_review(case_id, plate, plate_confidence, "
                   "plate_needs_human, plate_read_by) VALUES(?,?,?,?,'')");
  ins.bind(1, case_id).bind(2, p.text).bind_double(3, p.confidence);
  ins.bind(4, std::int64_t{p.needs_human_review || p.text.empty()});
  ins.step();
}

ReviewCase Review::load(const std::string& case_id) {
  if (case_id.empty() || case_id.size() > 64)
    throw ReviewError("bad_field", "case_id: empty or longer than 64 bytes");
  ensure_plate(case_id);
  auto v = select("WHERE c.case_id=?", case_id, 1);
  if (v.empty()) throw ReviewError("not_found", "no case " + case_id);
  return v.front();
}

ReviewCase Review::get(const std::string& case_id) {
  std::lock_guard lock(mutex_);
  return load(case_id);
}

std::vector<ReviewCase> Review::queue(const std::string& queue, std::size_t limit) {
  std::lock_guard lock(mutex_);
  std::string where;
  if (queue == "transport")
    where = "WHERE q.state IN ('awaiting_transport_review','returned_to_transport')";
  else if (queue == "police")
    where = "WHERE q.state = 'awaiting_police_review' OR q.state = 'penalty_decided'";
  else
    throw ReviewError("bad_field", "queue: expected transport or police");
  auto v = select(where + " ORDER BY q.stage_deadline_unix_us, c.case_id", "", limit);
  for (auto& c : v)
    if (c.plate_read_by.empty() && c.plate.empty()) {
      ensure_plate(c.case_id);
      c = select("WHERE c.case_id=?", c.case_id, 1).front();
    }
  return v;
}

std::vector<ReviewCase> Review::by_state(const std::string& state, std::size_t limit) {
  std::lock_guard lock(mutex_);
  static const std::vector<std::string> all = {"awaiting_transport_review",
                                               "returned_to_transport",
                                               "awaiting_police_review",
                                               "penalty_decided",
                                               "rejected",
                                               "closed"};
  if (std::find(all.begin(), all.end(), state) == all.end())
    throw ReviewError("bad_field", "state: unknown '" + state + "'");
  return select("WHERE q.state=? ORDER BY q.stage_deadline_unix_us, c.case_id", state, limit);
}

std::vector<std::pair<std::string, ReviewCase>> Review::overdue() {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, ReviewCase>> out;
  for (auto& c : select("WHERE q.state NOT IN ('rejected','closed') ORDER BY "
                        "q.stage_deadline_unix_us",
                        "", 1000000))
    if (c.overdue) {
      const bool transport =
          c.state == "awaiting_transport_review" || c.state == "returned_to_transport";
      out.emplace_back(transport ? "transport" : "police", std::move(c));
    }
  return out;
}

void Review::append_audit(const std::string& user, const std::string& role, const ReviewCase& c,
                          const std::string& action, const std::string& from, const std::string& to,
                          const std::string& reason, std::int64_t applied_deadline_unix_us,
                          std::int64_t next_deadline_unix_us) {
  std::int64_t seq = db_->query_int("SELECT COALESCE(MAX(seq),0) FROM audit_log") + 1;
  std::string prev = seq == 1 ? audit::kGenesis
                              : db_->query_text("SELECT entry_sha256 FROM audit_log WHERE seq=" +
                                                std::to_string(seq - 1));
  AuditEntry e;
  e.seq = seq;
  e.time_unix_us = clock_();
  e.user = user;
  e.role = role;
  e.case_id = c.case_id;
  e.action = action;
  e.from_state = from;
  e.to_state = to;
  e.reason = reason;
  e.manifest_sha256 = c.manifest_sha256;
  e.prev_sha256 = prev;
  e.stage_deadline_unix_us = applied_deadline_unix_us;
  e.next_deadline_unix_us = next_deadline_unix_us;
  e.deadline = applied_deadline_unix_us == 0                ? "none"
               : e.time_unix_us <= applied_deadline_unix_us ? "met"
                                                            : "overdue";
  e.entry_sha256 = crypto::sha256_hex(audit::canonical(e.to_json()));
  e.signature_hex = crypto::to_hex(key_.sign(e.entry_sha256));
  sqlite::Stmt st(*db_,
                  "INSERT INTO audit_log(seq, time_unix_us, user, role, case_id, action, "
                  "from_state, to_state, reason, manifest_sha256, prev_sha256, entry_sha256, "
                  "signature_hex, stage_deadline_unix_us, deadline, next_deadline_unix_us) "
                  "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, e.seq).bind(2, e.time_unix_us).bind(3, e.user).bind(4, e.role).bind(5, e.case_id);
  st.bind(6, e.action).bind(7, e.from_state).bind(8, e.to_state).bind(9, e.reason);
  st.bind(10, e.manifest_sha256).bind(11, e.prev_sha256).bind(12, e.entry_sha256);
  st.bind(13, e.signature_hex).bind(14, e.stage_deadline_unix_us).bind(15, e.deadline);
  st.bind(16, e.next_deadline_unix_us);
  st.step();
}

ReviewCase Review::transition(const Actor& a, const std::string& case_id, Role need,
                              const std::vector<std::string>& from, const std::string& to,
                              const std::string& action, const std::string& reason,
                              const std::function<void(ReviewCase&)>& change) {
  std::lock_guard lock(mutex_);
  if (a.role != need)
    throw ReviewError("forbidden", std::string(to_string(a.role)) + " may not " + action +
                                       " (needs " + std::string(to_string(need)) + ")");
  if (a.user.empty()) throw ReviewError("forbidden", "no user");
  sqlite::Transaction tx(*db_);
  auto c = load(case_id);
  if (std::find(from.begin(), from.end(), c.state) == from.end()) {
    std::string want;
    for (const auto& s : from) want += (want.empty() ? "" : " or ") + s;
    throw ReviewError("wrong_state",
                      "case " + case_id + " is " + c.state + "; " + action + " needs " + want);
  }
  const auto old = c.state;
  change(c);
  const std::string next = to.empty() ? old : to;  // "" = the action keeps the state
  c.state = next;
  const auto now = clock_();
  std::int64_t deadline = c.stage_deadline_unix_us;
  if (next == "awaiting_police_review" && old != next)
    deadline = options_.calendar.add(now, options_.police_working_s);
  if (next == "returned_to_transport")
    deadline = options_.calendar.add(now, options_.transport_working_s);
  sqlite::Stmt q(*db_, "UPDATE review_queue SET state=?, stage_deadline_unix_us=? WHERE case_id=?");
  q.bind(1, next).bind(2, deadline).bind(3, case_id);
  q.step();
  sqlite::Stmt r(*db_,
                 "UPDATE case_review SET plate=?, plate_read_by=?, decision_kind=?, "
                 "amount_yuan=?, decision_reason=? WHERE case_id=?");
  r.bind(1, c.plate).bind(2, c.plate_read_by).bind(3, c.decision.kind);
  r.bind(4, c.decision.amount_yuan).bind(5, c.decision.reason).bind(6, case_id);
  r.step();
  const bool ended = next == "rejected" || next == "closed";
  append_audit(a.user, std::string(to_string(a.role)), c, action, old, next, reason,
               c.stage_deadline_unix_us, ended ? 0 : deadline);
  tx.commit();
  return select("WHERE c.case_id=?", case_id, 1).front();
}

ReviewCase Review::read_plate(const Actor& a, const std::string& case_id,
                              const std::string& plate) {
  if (plate.empty() || plate.size() > 32)
    throw ReviewError("bad_field", "plate: expected 1..32 bytes");
  for (unsigned char ch : plate)
    if (ch < 0x21 || ch == 0x7f)
      throw ReviewError("bad_field", "plate: contains a space or control character");
  return transition(a, case_id, Role::transport_reviewer, kTransportStates, "", "read_plate",
                    "plate read by a person", [&](ReviewCase& c) {
                      c.plate = plate;
                      c.plate_read_by = a.user;
                    });
}

ReviewCase Review::confirm(const Actor& a, const std::string& case_id, const std::string& reason) {
  const auto why = check_reason(reason, false);
  return transition(a, case_id, Role::transport_reviewer, kTransportStates,
                    "awaiting_police_review", "confirm", why, [&](ReviewCase& c) {
                      if (c.plate_needs_human && c.plate_read_by.empty())
                        throw ReviewError(
                            "wrong_state",
                            "case " + c.case_id + ": the plate must be read by a person first");
                      if (c.plate.empty())
                        throw ReviewError("wrong_state", "case " + c.case_id + ": no plate");
                    });
}

ReviewCase Review::reject(const Actor& a, const std::string& case_id, const std::string& reason) {
  const auto why = check_reason(reason, true);
  return transition(a, case_id, Role::transport_reviewer, kTransportStates, "rejected", "reject",
                    why, [](ReviewCase&) {});
}

ReviewCase Review::return_to_transport(const Actor& a, const std::string& case_id,
                                       const std::string& reason) {
  const auto why = check_reason(reason, true);
  return transition(a, case_id, Role::police_reviewer, {"awaiting_police_review"},
                    "returned_to_transport", "return", why, [](ReviewCase&) {});
}

ReviewCase Review::decide(const Actor& a, const std::string& case_id, const std::string& kind,
                          const std::string& reason) {
  if (kind != "warning" && kind != "fine" && kind != "no_penalty")
    throw ReviewError("bad_field", "kind: expected warning, fine or no_penalty");
  const auto why = check_reason(reason, kind == "no_penalty");
  return transition(a, case_id, Role::police_reviewer, {"awaiting_police_review"},
                    "penalty_decided", "decide:" + kind, why, [&](ReviewCase& c) {
                      if (kind == "warning" && c.excess_kg > 1000.0)
                        throw ReviewError("bad_field",
                                          "kind: a warning only is for an excess of at most "
                                          "1000 kg (Art. 43); this excess is " +
                                              std::to_string(c.excess_kg) + " kg");
                      if (kind == "fine" && c.excess_kg <= 1000.0)
                        throw ReviewError("bad_field",
                                          "kind: an excess of at most 1000 kg gets a warning "
                                          "only (Art. 43), not a fine");
                      c.decision = {kind, kind == "fine" ? fine_yuan(c.excess_kg) : 0, why};
                    });
}

ReviewCase Review::close(const Actor& a, const std::string& case_id, const std::string& reason) {
  const auto why = check_reason(reason, false);
  return transition(a, case_id, Role::police_reviewer, {"penalty_decided"}, "closed", "close", why,
                    [](ReviewCase&) {});
}

void Review::record_system(const std::string& case_id, const std::string& action,
                           const std::string& reason) {
  record_system_if(case_id, action, reason, false);
}

bool Review::record_system_once(const std::string& case_id, const std::string& action,
                                const std::string& reason) {
  return record_system_if(case_id, action, reason, true);
}

bool Review::record_system_if(const std::string& case_id, const std::string& action,
                              const std::string& reason, bool once) {
  std::lock_guard lock(mutex_);
  sqlite::Transaction tx(*db_);  // BEGIN IMMEDIATE: the check and the append are one
  if (once) {
    sqlite::Stmt q(*db_, "SELECT 1 FROM audit_log WHERE case_id=? AND action=? LIMIT 1");
    q.bind(1, case_id).bind(2, action);
    if (q.step()) return false;
  }
  auto c = load(case_id);
  const bool open = c.state != "rejected" && c.state != "closed";
  append_audit("system", "system", c, action, c.state, c.state, reason,
               open ? c.stage_deadline_unix_us : 0, open ? c.stage_deadline_unix_us : 0);
  tx.commit();
  return true;
}

namespace {

constexpr const char* kAuditSelect =
    "SELECT seq, time_unix_us, user, role, case_id, action, from_state, to_state, reason, "
    "manifest_sha256, prev_sha256, entry_sha256, signature_hex, stage_deadline_unix_us, "
    "deadline, next_deadline_unix_us FROM audit_log ";

std::vector<AuditEntry> read_entries(sqlite::Stmt& st) {
  std::vector<AuditEntry> out;
  while (st.step()) {
    AuditEntry e;
    e.seq = st.col_int(0);
    e.time_unix_us = st.col_int(1);
    e.user = st.col_text(2);
    e.role = st.col_text(3);
    e.case_id = st.col_text(4);
    e.action = st.col_text(5);
    e.from_state = st.col_text(6);
    e.to_state = st.col_text(7);
    e.reason = st.col_text(8);
    e.manifest_sha256 = st.col_text(9);
    e.prev_sha256 = st.col_text(10);
    e.entry_sha256 = st.col_text(11);
    e.signature_hex = st.col_text(12);
    if (!st.col_null(14)) {
      e.stage_deadline_unix_us = st.col_int(13);
      e.deadline = st.col_text(14);
      e.next_deadline_unix_us = st.col_int(15);
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::vector<AuditEntry> Review::audit(const std::string& case_id, std::size_t limit) {
  std::lock_guard lock(mutex_);
  sqlite::Stmt st(*db_,
                  std::string(kAuditSelect) + "WHERE (?='' OR case_id=?) ORDER BY seq LIMIT ?");
  st.bind(1, case_id).bind(2, case_id).bind(3, static_cast<std::int64_t>(limit));
  return read_entries(st);
}

std::vector<std::pair<std::string, std::int64_t>> Review::ended_before(
    std::int64_t before_unix_us) {
  std::lock_guard lock(mutex_);
  sqlite::Stmt st(
      *db_,
      "SELECT q.case_id, MAX(a.time_unix_us) AS t FROM review_queue q JOIN audit_log a "
      "ON a.case_id = q.case_id AND a.to_state = q.state AND a.from_state <> a.to_state "
      "WHERE q.state IN ('closed', 'rejected') GROUP BY q.case_id HAVING t < ? "
      "ORDER BY t, q.case_id");
  st.bind(1, before_unix_us);
  std::vector<std::pair<std::string, std::int64_t>> out;
  while (st.step()) out.emplace_back(st.col_text(0), st.col_int(1));
  return out;
}

std::vector<AuditEntry> Review::audit_after(std::int64_t after_seq, std::size_t limit) {
  std::lock_guard lock(mutex_);
  sqlite::Stmt st(*db_, std::string(kAuditSelect) + "WHERE seq > ? ORDER BY seq LIMIT ?");
  st.bind(1, after_seq).bind(2, static_cast<std::int64_t>(limit));
  return read_entries(st);
}

}  // namespace wim::collector
