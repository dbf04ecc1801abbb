// SPDX-License-Identifier: Apache-2.0
// The two-stage review (issue 18): every allowed and forbidden transition, the decision
// rules of Art. 43, working-time deadlines on a controlled clock, the audit chain.
#include "wim/collector/review.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <map>

#include "test_util.hpp"
#include "wim/common/audit.hpp"
#include "wim/common/error.hpp"
#include "wim/common/sqlite.hpp"
#include "wim/common/time.hpp"

using namespace wim;
using namespace wim::collector;

namespace {

/// 2026-12-07 (a Monday) 10:00 local (+8 h) = 02:00 UTC.
const std::int64_t kMonday10 = time::parse_utc("2026-12-07T02:00:00Z");

struct Fixture {
  std::filesystem::path dir = wim::collector::test::temp_dir("review");
  std::int64_t now = kMonday10;
  std::map<std::string, record::Plate> plates;
  std::unique_ptr<Review> review;
  Fixture() {
    review = std::make_unique<Review>(
        dir / "cases.db", crypto::SigningKey::generate(), ReviewOptions{}, [this] { return now; },
        [this](const std::string& id) -> std::optional<record::Plate> {
          auto it = plates.find(id);
          if (it == plates.end()) return std::nullopt;
          return it->second;
        });
  }
  /// A case as the Forwarder writes it (cases + review_queue).
  void add_case(const std::string& id, double excess_kg, bool needs_human = false) {
    sqlite::Db db(dir / "cases.db");
    sqlite::Stmt c(db, "INSERT INTO cases VALUES(?, 'G001', 5, ?, 1, ?, ?, ?, 49000, ?, 'gross')");
    c.bind(1, id).bind(2, std::string(64, 'a')).bind(3, now).bind(4, now);
    c.bind_double(5, 49000 + excess_kg).bind_double(6, excess_kg);
    c.step();
    sqlite::Stmt q(db, "INSERT INTO review_queue VALUES(?, 'awaiting_transport_review', ?, ?)");
    q.bind(1, id).bind(2, now + 72ll * 3600 * 1'000'000).bind(3, now);
    q.step();
    plates[id] =
        record::Plate{needs_human ? "" : "京A12345", "blue", needs_human ? 0.3 : 0.95, needs_human};
  }
};

const Actor kTransport{"tina", Role::transport_reviewer};
const Actor kPolice{"paul", Role::police_reviewer};
const Actor kSuper{"sue", Role::supervisor};
const Actor kOperator{"otto", Role::operator_};
const Actor kAdmin{"ada", Role::admin};

std::string code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ReviewError& e) {
    return e.code();
  }
  return "none";
}

}  // namespace

TEST_CASE("review: the full path transport -> police -> decided -> closed") {
  Fixture f;
  f.add_case("G001-0000000005", 3000);
  auto c = f.review->confirm(kTransport, "G001-0000000005", "clear photo");
  CHECK(c.state == "awaiting_police_review");
  c = f.review->decide(kPolice, "G001-0000000005", "fine", "");
  CHECK(c.state == "penalty_decided");
  CHECK(c.decision.kind == "fine");
  CHECK(c.decision.amount_yuan == 1500);
  c = f.review->close(kPolice, "G001-0000000005", "");
  CHECK(c.state == "closed");
  const auto log = f.review->audit("G001-0000000005");
  REQUIRE(log.size() == 3);
  CHECK(log[0].action == "confirm");
  CHECK(log[0].user == "tina");
  CHECK(log[0].from_state == "awaiting_transport_review");
  CHECK(log[0].to_state == "awaiting_police_review");
  CHECK(log[0].reason == "clear photo");
  CHECK(log[0].manifest_sha256 == std::string(64, 'a'));
  CHECK(log[1].action == "decide:fine");
  CHECK(log[2].to_state == "closed");
}

TEST_CASE("review: every forbidden transition is refused and changes nothing") {
  Fixture f;
  f.add_case("C1", 3000);
  const std::string id = "C1";
  // Wrong role for each action, in the starting state.
  for (const auto* a : {&kPolice, &kSuper, &kOperator, &kAdmin}) {
    CHECK(code_of([&] { f.review->confirm(*a, id, ""); }) == "forbidden");
    CHECK(code_of([&] { f.review->reject(*a, id, "x"); }) == "forbidden");
    CHECK(code_of([&] { f.review->read_plate(*a, id, "京B1"); }) == "forbidden");
  }
  for (const auto* a : {&kTransport, &kSuper, &kOperator, &kAdmin}) {
    CHECK(code_of([&] { f.review->return_to_transport(*a, id, "x"); }) == "forbidden");
    CHECK(code_of([&] { f.review->decide(*a, id, "fine", ""); }) == "forbidden");
    CHECK(code_of([&] { f.review->close(*a, id, ""); }) == "forbidden");
  }
  // Right role, wrong state: police actions before confirmation.
  CHECK(code_of([&] { f.review->return_to_transport(kPolice, id, "x"); }) == "wrong_state");
  CHECK(code_of([&] { f.review->decide(kPolice, id, "fine", ""); }) == "wrong_state");
  CHECK(code_of([&] { f.review->close(kPolice, id, ""); }) == "wrong_state");
  CHECK(f.review->get(id).state == "awaiting_transport_review");
  CHECK(f.review->audit(id).empty());
  // After confirmation transport can no longer act; close needs a decision.
  f.review->confirm(kTransport, id, "");
  CHECK(code_of([&] { f.review->confirm(kTransport, id, ""); }) == "wrong_state");
  CHECK(code_of([&] { f.review->reject(kTransport, id, "x"); }) == "wrong_state");
  CHECK(code_of([&] { f.review->read_plate(kTransport, id, "京B1"); }) == "wrong_state");
  CHECK(code_of([&] { f.review->close(kPolice, id, ""); }) == "wrong_state");
  // After a decision: no second decision, no return.
  f.review->decide(kPolice, id, "fine", "");
  CHECK(code_of([&] { f.review->decide(kPolice, id, "fine", ""); }) == "wrong_state");
  CHECK(code_of([&] { f.review->return_to_transport(kPolice, id, "x"); }) == "wrong_state");
  f.review->close(kPolice, id, "");
  // Closed is terminal for every action.
  CHECK(code_of([&] { f.review->confirm(kTransport, id, ""); }) == "wrong_state");
  CHECK(code_of([&] { f.review->reject(kTransport, id, "x"); }) == "wrong_state");
  CHECK(code_of([&] { f.review->return_to_transport(kPolice, id, "x"); }) == "wrong_state");
  CHECK(code_of([&] { f.review->decide(kPolice, id, "fine", ""); }) == "wrong_state");
  CHECK(code_of([&] { f.review->close(kPolice, id, ""); }) == "wrong_state");
  CHECK(f.review->audit(id).size() == 3);
  CHECK(code_of([&] { f.review->get("nope"); }) == "not_found");
}

TEST_CASE("review: reject and return need a reason, and returned cases go back to transport") {
  Fixture f;
  f.add_case("R1", 3000);
  f.add_case("R2", 3000);
  CHECK(code_of([&] { f.review->reject(kTransport, "R1", "  "); }) == "bad_field");
  CHECK(code_of([&] { f.review->reject(kTransport, "R1", std::string("a\x01", 2)); }) ==
        "bad_field");
  CHECK(code_of([&] { f.review->reject(kTransport, "R1", std::string(2001, 'x')); }) ==
        "bad_field");
  CHECK(f.review->reject(kTransport, "R1", "photo shows a bus").state == "rejected");
  CHECK(code_of([&] { f.review->confirm(kTransport, "R1", ""); }) == "wrong_state");
  f.review->confirm(kTransport, "R2", "");
  CHECK(code_of([&] { f.review->return_to_transport(kPolice, "R2", ""); }) == "bad_field");
  auto c = f.review->return_to_transport(kPolice, "R2", "plate unreadable");
  CHECK(c.state == "returned_to_transport");
  CHECK(f.review->queue("transport").size() == 1);
  // From returned: confirm again, or reject.
  CHECK(f.review->confirm(kTransport, "R2", "checked").state == "awaiting_police_review");
  f.review->return_to_transport(kPolice, "R2", "again");
  CHECK(f.review->reject(kTransport, "R2", "not a truck").state == "rejected");
  // Never deleted: the row stays and the database refuses a delete.
  sqlite::Db db(f.dir / "cases.db");
  CHECK_THROWS_AS(db.exec("DELETE FROM cases WHERE case_id='R1'"), SystemError);
  CHECK(f.review->get("R1").state == "rejected");
}

TEST_CASE("review: Art. 43 decisions") {
  CHECK(fine_yuan(1000) == 0);
  CHECK(fine_yuan(1000.5) == 500);
  CHECK(fine_yuan(1999) == 500);
  CHECK(fine_yuan(2000) == 1000);
  CHECK(fine_yuan(59999) == 29500);
  CHECK(fine_yuan(60000) == 30000);
  CHECK(fine_yuan(250000) == 30000);
  Fixture f;
  f.add_case("W1", 1000);  // at most 1000 kg: warning only
  f.add_case("F1", 1001);
  f.add_case("N1", 5000);
  for (const auto* id : {"W1", "F1", "N1"}) f.review->confirm(kTransport, id, "");
  CHECK(code_of([&] { f.review->decide(kPolice, "W1", "fine", ""); }) == "bad_field");
  CHECK(code_of([&] { f.review->decide(kPolice, "F1", "warning", ""); }) == "bad_field");
  CHECK(code_of([&] { f.review->decide(kPolice, "F1", "jail", ""); }) == "bad_field");
  CHECK(code_of([&] { f.review->decide(kPolice, "N1", "no_penalty", ""); }) == "bad_field");
  CHECK(f.review->get("F1").state == "awaiting_police_review");
  auto w = f.review->decide(kPolice, "W1", "warning", "");
  CHECK(w.decision.kind == "warning");
  CHECK(w.decision.amount_yuan == 0);
  CHECK(f.review->decide(kPolice, "F1", "fine", "").decision.amount_yuan == 500);
  auto n = f.review->decide(kPolice, "N1", "no_penalty", "emergency vehicle");
  CHECK(n.decision.reason == "emergency vehicle");
  CHECK(n.decision.amount_yuan == 0);
}

TEST_CASE("review: a plate a human must read is read before confirmation") {
  Fixture f;
  f.add_case("P1", 3000, /*needs_human=*/true);
  CHECK(code_of([&] { f.review->confirm(kTransport, "P1", ""); }) == "wrong_state");
  CHECK(code_of([&] { f.review->read_plate(kTransport, "P1", ""); }) == "bad_field");
  CHECK(code_of([&] { f.review->read_plate(kTransport, "P1", "京A 1"); }) == "bad_field");
  auto c = f.review->read_plate(kTransport, "P1", "京C77777");
  CHECK(c.state == "awaiting_transport_review");
  CHECK(c.plate == "京C77777");
  CHECK(c.plate_read_by == "tina");
  CHECK(f.review->confirm(kTransport, "P1", "").state == "awaiting_police_review");
  CHECK(c.to_json(false).at("plate").is_null());
  CHECK(c.to_json(true).at("plate").as_string() == "京C77777");
}

TEST_CASE("review: working-time deadlines and overdue flags on a controlled clock") {
  WorkCalendar cal;  // Mon-Fri 09:00-17:00 at +8 h
  // Friday 16:00 local + 2 working hours = Monday 10:00 local.
  const auto fri16 = time::parse_utc("2026-12-11T08:00:00Z");
  CHECK(time::format_utc_us(cal.add(fri16, 2 * 3600)) == "2026-12-14T02:00:00.000000Z");
  // Saturday counts nothing: from Saturday noon, 1 h = Monday 10:00.
  CHECK(time::format_utc_us(cal.add(time::parse_utc("2026-12-12T04:00:00Z"), 3600)) ==
        "2026-12-14T02:00:00.000000Z");
  // A holiday on Monday moves it to Tuesday.
  cal.holidays = {"2026-12-14"};
  CHECK(time::format_utc_us(cal.add(fri16, 2 * 3600)) == "2026-12-15T02:00:00.000000Z");
  CHECK_THROWS_AS(WorkCalendar::from_json(
                      boost::json::parse(R"({"day_start_s":10,"day_end_s":5})").as_object()),
                  InputError);
  CHECK_THROWS_AS(WorkCalendar::from_json(boost::json::parse(R"({"weekdays":[0]})").as_object()),
                  InputError);

  Fixture f;
  f.add_case("D1", 3000);
  f.add_case("D2", 3000);
  f.review->confirm(kTransport, "D2", "");  // police stage: 5 working days from Mon 10:00
  CHECK(time::format_utc_us(f.review->get("D2").stage_deadline_unix_us) ==
        "2026-12-14T02:00:00.000000Z");
  CHECK(f.review->overdue().empty());
  f.now += 73ll * 3600 * 1'000'000;  // past D1's 72 h transport deadline
  auto od = f.review->overdue();
  REQUIRE(od.size() == 1);
  CHECK(od[0].first == "transport");
  CHECK(od[0].second.case_id == "D1");
  f.now = time::parse_utc("2026-12-14T02:00:01Z");
  od = f.review->overdue();
  REQUIRE(od.size() == 2);
  CHECK(od[1].first == "police");
  CHECK(f.review->get("D2").overdue);
}

TEST_CASE("review: working time between two instants counts what a deadline counts") {
  WorkCalendar cal;  // Mon-Fri 09:00-17:00 at +8 h
  constexpr std::int64_t kH = 3600ll * 1'000'000;
  const auto at = [](const char* utc) { return time::parse_utc(utc); };
  const auto fri16 = at("2026-12-11T08:00:00Z");  // Friday 16:00 local
  // Friday 16:00 -> Monday 10:00 local: 1 h on Friday, nothing on the weekend, 1 h Monday.
  CHECK(cal.working_us_between(fri16, at("2026-12-14T02:00:00Z")) == 2 * kH);
  // The inverse of add(): from any instant, add(from, s) is s working seconds later.
  for (const auto from : {fri16, at("2026-12-12T04:00:00Z"), at("2026-12-07T00:59:59Z")})
    for (const std::int64_t s : {1ll, 3600ll, 7 * 3600ll + 17, 40 * 3600ll})
      CHECK(cal.working_us_between(from, cal.add(from, s)) == s * 1'000'000);
  // Outside working hours only: Friday 17:00 to Monday 09:00 local is none.
  CHECK(cal.working_us_between(at("2026-12-11T09:00:00Z"), at("2026-12-14T01:00:00Z")) == 0);
  // A holiday counts nothing: Friday 16:00 -> Tuesday 10:00 with Monday off is 2 h.
  cal.holidays = {"2026-12-14"};
  CHECK(cal.working_us_between(fri16, at("2026-12-15T02:00:00Z")) == 2 * kH);
  // An end before the start is no time, not negative time.
  CHECK(cal.working_us_between(at("2026-12-15T02:00:00Z"), fri16) == 0);
  CHECK(cal.working_us_between(fri16, fri16) == 0);
  cal.weekdays = 0;
  CHECK_THROWS_AS(cal.working_us_between(fri16, fri16 + kH), InputError);
}

TEST_CASE("review: the audit chain verifies and a tampered entry is found") {
  Fixture f;
  f.add_case("A1", 3000);
  f.add_case("A2", 500);
  f.review->confirm(kTransport, "A1", "");
  f.review->reject(kTransport, "A2", "wrong lane");
  f.review->decide(kPolice, "A1", "fine", "");
  f.review->record_system("A1", "retention", "images removed");
  auto entries = f.review->audit();
  REQUIRE(entries.size() == 4);
  boost::json::array arr;
  for (const auto& e : entries) arr.push_back(e.to_json());
  const auto key = f.review->public_key();
  auto r = audit::verify(arr, key);
  CHECK(r.ok);
  CHECK(r.entries == 4);

  auto tampered = arr;
  tampered[1].as_object()["reason"] = "changed afterwards";
  r = audit::verify(tampered, key);
  CHECK_FALSE(r.ok);
  CHECK(r.bad_seq == 2);
  CHECK(r.problem.find("entry_sha256") != std::string::npos);

  auto dropped = arr;
  dropped.erase(dropped.begin() + 1);
  r = audit::verify(dropped, key);
  CHECK_FALSE(r.ok);
  CHECK(r.bad_seq == 3);

  // Re-hashed after the edit but not re-signed: the signature gives it away.
  auto rehashed = arr;
  auto& o = rehashed[3].as_object();
  o["reason"] = "x";
  o["entry_sha256"] = crypto::sha256_hex(audit::canonical(o));
  r = audit::verify(rehashed, key);
  CHECK_FALSE(r.ok);
  CHECK(r.bad_seq == 4);
  CHECK(r.problem.find("signature") != std::string::npos);

  // The database refuses edits.
  sqlite::Db db(f.dir / "cases.db");
  CHECK_THROWS_AS(db.exec("UPDATE audit_log SET reason='x' WHERE seq=1"), SystemError);
  CHECK_THROWS_AS(db.exec("DELETE FROM audit_log"), SystemError);
}

TEST_CASE("review: every transition records the stage deadline that applied and if it was met") {
  Fixture f;
  const auto utc = [](std::int64_t us) { return time::format_utc_us(us); };
  f.add_case("E1", 3000);  // transport deadline: created + 72 h (as the Forwarder set it)
  f.add_case("E2", 3000);
  const auto transport1 = f.review->get("E1").stage_deadline_unix_us;
  f.review->confirm(kTransport, "E1", "");  // Mon 10:00 local: met
  const auto police1 = f.review->get("E1").stage_deadline_unix_us;
  CHECK(utc(police1) == "2026-12-14T02:00:00.000000Z");
  f.now += 73ll * 3600 * 1'000'000;  // E2's 72 h transport deadline has passed
  f.review->reject(kTransport, "E2", "wrong lane");
  f.now = time::parse_utc("2026-12-14T02:00:01Z");  // 1 s after E1's police deadline
  f.review->return_to_transport(kPolice, "E1", "plate unreadable");
  const auto transport2 = f.review->get("E1").stage_deadline_unix_us;
  CHECK(transport2 == WorkCalendar{}.add(f.now, ReviewOptions{}.transport_working_s));
  f.review->confirm(kTransport, "E1", "");
  const auto police2 = f.review->get("E1").stage_deadline_unix_us;
  f.review->decide(kPolice, "E1", "fine", "");
  f.review->close(kPolice, "E1", "");
  f.review->record_system("E1", "retention", "images removed");

  const auto entries = f.review->audit();
  REQUIRE(entries.size() == 7);
  struct Want {
    std::string action;
    std::int64_t applied;
    std::string deadline;
    std::int64_t next;
  };
  const std::vector<Want> want = {{"confirm", transport1, "met", police1},
                                  {"reject", transport1, "overdue", 0},
                                  {"return", police1, "overdue", transport2},
                                  {"confirm", transport2, "met", police2},
                                  {"decide:fine", police2, "met", police2},
                                  {"close", police2, "met", 0},
                                  {"retention", 0, "none", 0}};
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("entry " << i + 1 << " " << want[i].action);
    CHECK(entries[i].action == want[i].action);
    CHECK(entries[i].stage_deadline_unix_us == want[i].applied);
    CHECK(entries[i].deadline == want[i].deadline);
    CHECK(entries[i].next_deadline_unix_us == want[i].next);
  }
  const auto j = entries[2].to_json();
  CHECK(j.at("stage_deadline_utc").as_string() == utc(police1));
  CHECK(j.at("deadline").as_string() == "overdue");
  CHECK(j.at("next_deadline_utc").as_string() == utc(transport2));
  CHECK(entries[1].to_json().at("next_deadline_utc").is_null());

  // The deadline fields are hashed and signed: an edited one is found.
  boost::json::array arr;
  for (const auto& e : entries) arr.push_back(e.to_json());
  const auto key = f.review->public_key();
  REQUIRE(audit::verify(arr, key, audit::Span::from_one).ok);
  auto edited = arr;
  edited[2].as_object()["deadline"] = "met";
  auto r = audit::verify(edited, key);
  CHECK(r.bad_seq == 3);
  CHECK(r.problem.find("entry_sha256") != std::string::npos);
  edited = arr;
  edited[2].as_object()["stage_deadline_unix_us"] = police1 + 3600'000'000;
  CHECK(audit::verify(edited, key).bad_seq == 3);
  edited = arr;
  edited[2].as_object().erase("deadline");  // made to look like an entry of before
  CHECK(audit::verify(edited, key).bad_seq == 3);
  // The readable times must say what the hashed ones say.
  edited = arr;
  edited[2].as_object()["stage_deadline_utc"] = utc(police1 + 3600'000'000);
  r = audit::verify(edited, key);
  CHECK(r.bad_seq == 3);
  CHECK(r.problem.find("stage_deadline_utc") != std::string::npos);
  edited = arr;
  edited[0].as_object()["time_utc"] = "2026-12-01T00:00:00.000000Z";
  r = audit::verify(edited, key);
  CHECK(r.bad_seq == 1);
  CHECK(r.problem.find("time_utc") != std::string::npos);
}

TEST_CASE(
    "review: an audit log from before deadlines were recorded is migrated and still verifies") {
  const auto dir = wim::collector::test::temp_dir("review-old");
  const auto key = crypto::SigningKey::generate();
  const auto t0 = kMonday10;
  {
    // The table as it was before 2026-12-07, with one signed entry of then.
    sqlite::Db db(dir / "cases.db");
    db.exec(
        "CREATE TABLE audit_log(seq INTEGER PRIMARY KEY, time_unix_us INTEGER NOT NULL, "
        "user TEXT NOT NULL, role TEXT NOT NULL, case_id TEXT NOT NULL, action TEXT NOT NULL, "
        "from_state TEXT NOT NULL, to_state TEXT NOT NULL, reason TEXT NOT NULL, "
        "manifest_sha256 TEXT NOT NULL, prev_sha256 TEXT NOT NULL, entry_sha256 TEXT NOT NULL, "
        "signature_hex TEXT NOT NULL)");
    AuditEntry old;
    old.seq = 1;
    old.time_unix_us = t0;
    old.user = "tina";
    old.role = "transport_reviewer";
    old.case_id = "O1";
    old.action = "confirm";
    old.from_state = "awaiting_transport_review";
    old.to_state = "awaiting_police_review";
    old.manifest_sha256 = std::string(64, 'a');
    old.prev_sha256 = audit::kGenesis;
    const auto text = audit::canonical(old.to_json());
    CHECK(std::count(text.begin(), text.end(), '\n') == 11);  // the fields of then only
    old.entry_sha256 = crypto::sha256_hex(text);
    old.signature_hex = crypto::to_hex(key.sign(old.entry_sha256));
    sqlite::Stmt st(db, "INSERT INTO audit_log VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)");
    st.bind(1, old.seq).bind(2, old.time_unix_us).bind(3, old.user).bind(4, old.role);
    st.bind(5, old.case_id).bind(6, old.action).bind(7, old.from_state).bind(8, old.to_state);
    st.bind(9, old.reason).bind(10, old.manifest_sha256).bind(11, old.prev_sha256);
    st.bind(12, old.entry_sha256).bind(13, old.signature_hex);
    st.step();
  }
  std::int64_t now = t0 + 1'000'000;
  Review review(
      dir / "cases.db", crypto::SigningKey::from_pem(key.to_pem()), ReviewOptions{},
      [&] { return now; }, nullptr);
  {
    sqlite::Db db(dir / "cases.db");
    db.exec("INSERT INTO cases VALUES('O1','G001',5,'" + std::string(64, 'a') + "',1," +
            std::to_string(t0) + "," + std::to_string(t0) + ",52000,49000,3000,'gross')");
    db.exec("INSERT INTO review_queue VALUES('O1','awaiting_police_review'," +
            std::to_string(t0 + 3600'000'000) + "," + std::to_string(t0) + ")");
  }
  review.return_to_transport(kPolice, "O1", "plate unreadable");
  const auto entries = review.audit();
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].deadline.empty());  // not recorded then
  CHECK_FALSE(entries[0].to_json().contains("deadline"));
  CHECK(entries[1].deadline == "met");
  CHECK(entries[1].stage_deadline_unix_us == t0 + 3600'000'000);
  boost::json::array arr;
  for (const auto& e : entries) arr.push_back(e.to_json());
  const auto r = audit::verify(arr, review.public_key(), audit::Span::from_one);
  INFO(r.problem);
  CHECK(r.ok);
  CHECK(r.entries == 2);
  std::filesystem::remove_all(dir);
}
