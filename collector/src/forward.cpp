// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/forward.hpp"

#include "wim/collector/chain_export.hpp"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <limits>
#include <map>

#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"
#include "wim/common/log.hpp"
#include "wim/common/record.hpp"
#include "wim/common/time.hpp"

namespace wim::collector {

namespace bj = boost::json;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS cases(
  case_id TEXT PRIMARY KEY, station TEXT NOT NULL, seq INTEGER NOT NULL,
  manifest_sha256 TEXT NOT NULL, lane INTEGER NOT NULL, time_unix_us INTEGER NOT NULL,
  created_unix_us INTEGER NOT NULL, gross_kg REAL NOT NULL, limit_kg REAL NOT NULL,
  excess_kg REAL NOT NULL, rule TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS review_queue(
  case_id TEXT PRIMARY KEY, state TEXT NOT NULL, stage_deadline_unix_us INTEGER NOT NULL,
  queued_unix_us INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries(
  case_id TEXT NOT NULL, sink TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
  next_attempt_unix_us INTEGER NOT NULL, delivered_unix_us INTEGER NOT NULL,
  last_error TEXT NOT NULL, PRIMARY KEY(case_id, sink)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(state, next_attempt_unix_us);
CREATE TABLE IF NOT EXISTS catch_up(id INTEGER PRIMARY KEY CHECK(id=1),
  watermark_unix_us INTEGER NOT NULL);
INSERT OR IGNORE INTO catch_up(id, watermark_unix_us) VALUES(1, 0);
)sql";

Case case_from_row(const sqlite::Stmt& st) {
  Case c;
  c.case_id = st.col_text(0);
  c.station_id = st.col_text(1);
  c.seq = st.col_int(2);
  c.manifest_sha256 = st.col_text(3);
  c.lane = static_cast<int>(st.col_int(4));
  c.time_unix_us = st.col_int(5);
  c.created_unix_us = st.col_int(6);
  c.gross_kg = st.col_double(7);
  c.limit_kg = st.col_double(8);
  c.excess_kg = st.col_double(9);
  c.rule = st.col_text(10);
  if (!st.col_null(11)) c.state = st.col_text(11);
  c.deadline_unix_us = st.col_null(12) ? 0 : st.col_int(12);
  return c;
}

constexpr const char* kCaseColumns =
    "SELECT c.case_id, c.station, c.seq, c.manifest_sha256, c.lane, c.time_unix_us, "
    "c.created_unix_us, c.gross_kg, c.limit_kg, c.excess_kg, c.rule, q.state, "
    "q.stage_deadline_unix_us FROM cases c LEFT JOIN review_queue q USING(case_id) ";

}  // namespace

bool is_case(const record::Manifest& m) {
  return m.kind == record::Kind::violation && m.legal && m.legal->verdict == "overload" &&
         m.measurement && m.measurement->fit_for_enforcement;
}

bj::object Case::to_json() const {
  bj::object o{{"case_id", case_id},
               {"station_id", station_id},
               {"seq", seq},
               {"manifest_sha256", manifest_sha256},
               {"lane", lane},
               {"time_utc", time::format_utc_us(time_unix_us)},
               {"created_utc", time::format_utc_ms(created_unix_us)},
               {"state", state},
               {"gross_kg", gross_kg},
               {"limit_kg", limit_kg},
               {"excess_kg", excess_kg},
               {"rule", rule}};
  if (deadline_unix_us) o["stage_deadline_utc"] = time::format_utc_ms(deadline_unix_us);
  return o;
}

// ---------------------------------------------------------------------------- SpoolSink

SpoolSink::SpoolSink(std::filesystem::path dir, KeyLookup keys, RetentionWriter retention)
    : dir_(std::move(dir)), keys_(std::move(keys)), retention_(std::move(retention)) {
  std::filesystem::create_directories(dir_ / "keys");
}

void SpoolSink::deliver(const Case& c, const packet::Packet& p) {
  // The key first: a tar in the folder always has its key beside it.
  const std::string pem = keys_ ? keys_(c.station_id) : std::string();
  if (!pem.empty()) {
    const auto key_path = dir_ / "keys" / (c.station_id + ".pub.pem");
    std::error_code ec;
    if (std::filesystem::file_size(key_path, ec) != pem.size() || ec)
      write_file_atomic(key_path, pem);
  }
  // Attachments the signed manifest lists but the packet lacks (removed by retention while
  // the delivery waited): the entries that say so go beside the tar first.
  std::string absent;
  for (const auto& a : record::parse_manifest(p.manifest_json).attachments)
    if (!p.attachments.count(a.name)) absent += (absent.empty() ? "" : ", ") + a.name;
  if (!absent.empty()) {
    if (!retention_)
      throw SystemError(c.case_id + ": " + absent +
                        " absent and no retention entries to write beside the tar: not spooled");
    retention_(dir_, c);
  }
  write_file_atomic(dir_ / (c.case_id + ".tar"), packet::to_tar({p}, packet::TarEnd::full_records));
}

// -------------------------------------------------------------------------- WebhookSink

HttpPoster::HttpPoster(const std::string& url, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0)
    throw InputError("webhook url " + url + ": expected http://host:port/path");
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto hostport = rest.substr(0, slash);
  target_ = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = hostport.rfind(':');
  host_ = colon == std::string::npos ? hostport : hostport.substr(0, colon);
  port_ = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
  if (host_.empty() || port_.empty())
    throw InputError("webhook url " + url + ": expected http://host:port/path");
}

void HttpPoster::post(const std::string& body,
                      const std::vector<std::pair<std::string, std::string>>& headers) const {
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  // The error an operator reads (GET /v1/deliveries, the workbench): the step, the peer
  // and the system's reason, without boost's source location.
  const char* step = "connect to ";
  try {
    stream.expires_after(timeout_);
    stream.connect(resolver.resolve(host_, port_));
    step = "send to ";
    http::request<http::string_body> req{http::verb::post, target_, 11};
    req.set(http::field::host, host_);
    req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    stream.expires_after(timeout_);
    http::write(stream, req);
    step = "read the answer of ";
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    stream.expires_after(timeout_);
    http::read(stream, buf, parser);
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    const auto status = parser.get().result_int();
    if (status < 200 || status > 299)
      throw std::runtime_error("HTTP " + std::to_string(status) + " from " + host_ + ":" + port_ +
                               target_);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(std::string(step) + host_ + ":" + port_ + target_ + ": " +
                             e.code().message());
  }
}

WebhookSink::WebhookSink(const std::string& url, std::chrono::milliseconds timeout)
    : http_(url, timeout) {}

void WebhookSink::deliver(const Case& c, const packet::Packet& p) {
  auto body = c.to_json();
  body["manifest"] = p.manifest_json;
  body["signature_hex"] = crypto::to_hex(p.signature);
  http_.post(bj::serialize(body), {{"Idempotency-Key", c.case_id}});
}

// ---------------------------------------------------------------------------- Forwarder

Forwarder::Forwarder(const std::filesystem::path& db_path, const MetadataStore& store,
                     const BlobStore& blobs, ForwardOptions options)
    : store_(store), blobs_(blobs), options_(options) {
  db_ = std::make_unique<sqlite::Db>(db_path);
  db_->exec("PRAGMA journal_mode=WAL");
  db_->exec("PRAGMA synchronous=FULL");
  db_->exec(kSchema);
}

Forwarder::~Forwarder() = default;

void Forwarder::add_sink(std::unique_ptr<CaseSink> sink) {
  sinks_.push_back(std::move(sink));
}

bool Forwarder::create_case(const StoredRecord& r, const record::Manifest& m, std::int64_t now_us) {
  if (!is_case(m)) return false;
  const auto id = packet::dir_name(r.station_id, static_cast<std::uint64_t>(r.seq));
  std::lock_guard lock(mutex_);
  sqlite::Transaction tx(*db_);
  sqlite::Stmt ins(*db_,
                   "INSERT OR IGNORE INTO cases(case_id, station, seq, manifest_sha256, lane, "
                   "time_unix_us, created_unix_us, gross_kg, limit_kg, excess_kg, rule) "
                   "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)");
  ins.bind(1, id).bind(2, r.station_id).bind(3, r.seq).bind(4, r.manifest_sha256);
  ins.bind(5, static_cast<std::int64_t>(r.lane)).bind(6, r.time_unix_us).bind(7, now_us);
  ins.bind_double(8, m.measurement->gross_kg).bind_double(9, m.legal->limit_kg);
  ins.bind_double(10, m.legal->excess_kg).bind(11, m.legal->rule);
  ins.step();
  const bool created = sqlite3_changes(db_->handle()) > 0;
  if (created) {
    sqlite::Stmt d(*db_,
                   "INSERT OR IGNORE INTO deliveries(case_id, sink, state, attempts, "
                   "next_attempt_unix_us, delivered_unix_us, last_error) "
                   "VALUES(?1,?2,'pending',0,?3,0,'')");
    for (const auto& s : sinks_) {
      d.bind(1, id).bind(2, s->name()).bind(3, now_us);
      d.step();
      d.reset();
    }
    // The review deadline is fixed when the case is created, not when the queue sink runs.
    sqlite::Stmt q(*db_,
                   "INSERT OR IGNORE INTO review_queue(case_id, state, stage_deadline_unix_us, "
                   "queued_unix_us) VALUES(?1,'awaiting_transport_review',?2,?3)");
    const auto deadline = options_.first_deadline ? options_.first_deadline(now_us)
                                                  : now_us + options_.stage_deadline_s * 1'000'000;
    q.bind(1, id).bind(2, deadline).bind(3, now_us).step();
  }
  tx.commit();
  if (created)
    log::notice("forward", "case " + id + ": " + std::to_string(m.legal->excess_kg) + " kg over " +
                               std::to_string(m.legal->limit_kg) + " kg");
  return created;
}

void Forwarder::on_stored(const StoredRecord& r, const record::Manifest& m) {
  try {
    create_case(r, m, time::now_unix_us());
  } catch (const std::exception& e) {
    // The record is stored; catch_up() at the next start creates the case.
    {
      std::lock_guard lock(mutex_);
      if (!oldest_failed_us_ || r.received_unix_us < oldest_failed_us_)
        oldest_failed_us_ = r.received_unix_us;
    }
    log::error("forward", "case for " + r.station_id + " seq " + std::to_string(r.seq) +
                              " not created (catch-up at restart): " + e.what());
  }
}

std::int64_t Forwarder::watermark_unix_us() const {
  std::lock_guard lock(mutex_);
  sqlite::Stmt st(*db_, "SELECT watermark_unix_us FROM catch_up WHERE id=1");
  return st.step() ? st.col_int(0) : 0;
}

void Forwarder::advance_watermark(std::int64_t now_us) {
  std::int64_t to = now_us - options_.catch_up_margin_s * 1'000'000;
  {
    std::lock_guard lock(mutex_);
    if (oldest_failed_us_) to = std::min(to, oldest_failed_us_);
  }
  const auto current = watermark_unix_us();
  // Moves forward only, and only in steps of a tenth of the margin (a write per minute).
  if (to <= current + options_.catch_up_margin_s * 100'000) return;
  std::lock_guard lock(mutex_);
  sqlite::Stmt st(*db_, "UPDATE catch_up SET watermark_unix_us=?1 WHERE id=1");
  st.bind(1, to).step();
}

int Forwarder::catch_up(std::int64_t now_us) {
  int created = 0;
  const std::int64_t from =
      std::max<std::int64_t>(0, watermark_unix_us() - options_.catch_up_margin_s * 1'000'000);
  const auto rows = store_.overloads_received_since(from);
  catch_up_rows_read_ = static_cast<std::int64_t>(rows.size());
  for (const auto& [station, seq, received_us] : rows) {
    try {
      auto full = store_.get_record(station, seq);
      if (full && create_case(*full, record::parse_manifest(full->manifest), now_us)) ++created;
    } catch (const InputError& e) {
      // A stored record that cannot become a case: logged, not retried forever.
      log::error("forward", station + " seq " + std::to_string(seq) + ": " + e.what());
    }
  }
  log::notice("forward", "catch-up read " + std::to_string(rows.size()) +
                             " overload records received since " + time::format_utc_ms(from) +
                             ", created " + std::to_string(created) + " cases");
  caught_up_ = true;
  advance_watermark(now_us);
  return created;
}

std::optional<packet::Packet> Forwarder::load_packet(const Case& c) const {
  std::vector<std::string> absent;
  auto p = load_stored_packet(store_, blobs_, c.station_id, c.seq, &absent);
  // An image the retention removed (the case ended long ago, the sink was down) is left
  // out; any other absent blob is damage, named, and the delivery retried.
  std::string lost;
  for (const auto& name : absent)
    if (!options_.purged_by_retention || !options_.purged_by_retention(c.manifest_sha256, name))
      lost += (lost.empty() ? "" : ", ") + name;
  if (!lost.empty())
    throw SystemError(c.case_id + ": attachment(s) " + lost +
                      " missing from the blob store (not removed by retention)");
  return p;
}

int Forwarder::pump(std::int64_t now_us) {
  std::lock_guard pump_lock(pump_mutex_);
  if (caught_up_) advance_watermark(now_us);
  struct Due {
    std::string case_id, sink;
    int attempts;
  };
  std::vector<Due> due;
  {
    std::lock_guard lock(mutex_);
    sqlite::Stmt st(*db_,
                    "SELECT case_id, sink, attempts FROM deliveries WHERE state != 'delivered' "
                    "AND next_attempt_unix_us <= ?1 ORDER BY next_attempt_unix_us LIMIT 500");
    st.bind(1, now_us);
    while (st.step())
      due.push_back({st.col_text(0), st.col_text(1), static_cast<int>(st.col_int(2))});
  }
  int delivered = 0;
  std::map<std::string, std::optional<packet::Packet>> packets;
  for (const auto& d : due) {
    CaseSink* sink = nullptr;
    for (const auto& s : sinks_)
      if (s->name() == d.sink) sink = s.get();
    std::string error;
    if (!sink) {
      error = "sink " + d.sink + " is not configured";
    } else {
      try {
        auto cs = cases_where("WHERE c.case_id=?1", d.case_id);
        if (cs.empty()) throw SystemError("case " + d.case_id + " vanished");
        auto& p = packets[d.case_id];
        if (!p) p = load_packet(cs.front());
        if (!p) throw SystemError("record of case " + d.case_id + " is not stored");
        sink->deliver(cs.front(), *p);
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    std::lock_guard lock(mutex_);
    if (error.empty()) {
      sqlite::Stmt up(*db_,
                      "UPDATE deliveries SET state='delivered', attempts=attempts+1, "
                      "delivered_unix_us=?3, last_error='' WHERE case_id=?1 AND sink=?2");
      up.bind(1, d.case_id).bind(2, d.sink).bind(3, time::now_unix_us()).step();
      ++delivered;
    } else {
      const int attempts = d.attempts + 1;
      std::int64_t delay_ms = options_.retry_initial_ms;
      for (int i = 1; i < attempts && delay_ms < options_.retry_max_ms; ++i) delay_ms *= 2;
      delay_ms = std::min(delay_ms, options_.retry_max_ms);
      sqlite::Stmt up(*db_,
                      "UPDATE deliveries SET state='retrying', attempts=?3, "
                      "next_attempt_unix_us=?4, last_error=?5 WHERE case_id=?1 AND sink=?2");
      up.bind(1, d.case_id).bind(2, d.sink).bind(3, static_cast<std::int64_t>(attempts));
      up.bind(4, now_us + delay_ms * 1000).bind(5, error).step();
      log::warning("forward", "case " + d.case_id + " to " + d.sink + " failed (attempt " +
                                  std::to_string(attempts) + ", next in " +
                                  std::to_string(delay_ms) + " ms): " + error);
    }
  }
  return delivered;
}

std::vector<Case> Forwarder::cases_where(const std::string& where, const std::string& arg,
                                         std::size_t limit) const {
  std::lock_guard lock(mutex_);
  std::vector<Case> out;
  const std::string q = std::string(kCaseColumns) + where +
                        " ORDER BY c.created_unix_us DESC, c.case_id DESC LIMIT ?2";
  sqlite::Stmt st(*db_, q.c_str());
  if (!arg.empty()) st.bind(1, arg);
  st.bind(2, static_cast<std::int64_t>(limit));
  while (st.step()) out.push_back(case_from_row(st));
  return out;
}

std::vector<Case> Forwarder::cases(const std::string& station, std::size_t limit) const {
  return station.empty() ? cases_where("WHERE ?1 IS NULL", "", limit)
                         : cases_where("WHERE c.station=?1", station, limit);
}

std::vector<Delivery> Forwarder::deliveries(const std::string& case_id) const {
  std::lock_guard lock(mutex_);
  std::vector<Delivery> out;
  sqlite::Stmt st(*db_,
                  "SELECT sink, state, attempts, next_attempt_unix_us, delivered_unix_us, "
                  "last_error FROM deliveries WHERE case_id=?1 ORDER BY sink");
  st.bind(1, case_id);
  while (st.step())
    out.push_back({st.col_text(0), st.col_text(1), static_cast<int>(st.col_int(2)), st.col_int(3),
                   st.col_int(4), st.col_text(5)});
  return out;
}

bj::array Forwarder::cases_json(const std::string& station, std::size_t limit) const {
  bj::array out;
  for (const auto& c : cases(station, limit)) {
    auto o = c.to_json();
    bj::array ds;
    for (const auto& d : deliveries(c.case_id)) {
      bj::object x{{"sink", d.sink}, {"state", d.state}, {"attempts", d.attempts}};
      if (d.state == "delivered")
        x["delivered_utc"] = time::format_utc_ms(d.delivered_unix_us);
      else
        x["next_attempt_utc"] = time::format_utc_ms(d.next_attempt_unix_us);
      if (!d.last_error.empty()) x["last_error"] = d.last_error;
      ds.push_back(std::move(x));
    }
    o["deliveries"] = std::move(ds);
    out.push_back(std::move(o));
  }
  return out;
}

std::int64_t Forwarder::pending_deliveries() const {
  std::lock_guard lock(mutex_);
  sqlite::Stmt st(*db_, "SELECT COUNT(*) FROM deliveries WHERE state != 'delivered'");
  st.step();
  return st.col_int(0);
}

std::string SinkSummary::state() const {
  if (retrying) return "failing";
  return pending ? "pending" : "delivered";
}

std::vector<SinkSummary> Forwarder::sink_summaries() const {
  std::map<std::string, SinkSummary> by;
  for (const auto& s : sinks_) by[s->name()].sink = s->name();
  std::lock_guard lock(mutex_);
  sqlite::Stmt st(*db_, "SELECT sink, state, COUNT(*) FROM deliveries GROUP BY sink, state");
  while (st.step()) {
    auto& s = by[st.col_text(0)];
    s.sink = st.col_text(0);
    const auto state = st.col_text(1);
    (state == "delivered"  ? s.delivered
     : state == "retrying" ? s.retrying
                           : s.pending) += st.col_int(2);
  }
  for (auto& [name, s] : by) {
    sqlite::Stmt old(*db_,
                     "SELECT MIN(c.created_unix_us) FROM deliveries d JOIN cases c USING(case_id) "
                     "WHERE d.sink=?1 AND d.state != 'delivered'");
    old.bind(1, name);
    if (old.step() && !old.col_null(0)) s.oldest_waiting_unix_us = old.col_int(0);
    sqlite::Stmt err(*db_,
                     "SELECT last_error, next_attempt_unix_us FROM deliveries WHERE sink=?1 AND "
                     "state='retrying' ORDER BY next_attempt_unix_us, case_id LIMIT 1");
    err.bind(1, name);
    if (err.step()) {
      s.last_error = err.col_text(0);
      s.next_attempt_unix_us = err.col_int(1);
    }
  }
  std::vector<SinkSummary> out;
  for (auto& [name, s] : by) out.push_back(std::move(s));
  return out;
}

// --------------------------------------------------------------------------- statistics

std::int64_t parse_day(std::string_view day) {
  if (day.size() != 10 || day[4] != '-' || day[7] != '-')
    throw InputError("day " + std::string(day) + ": expected YYYY-MM-DD");
  return time::parse_utc(std::string(day) + "T00:00:00Z");
}

bj::object day_stats(const MetadataStore& store, const std::string& station,
                     std::int64_t day_start_us, const std::string& day) {
  struct Count {
    std::int64_t vehicles = 0, overloads = 0;
  };
  Count total;
  std::map<int, Count> lanes;
  for (const auto& r :
       store.records_between(station, day_start_us, day_start_us + 86'400'000'000LL)) {
    if (r.kind != "pass" && r.kind != "violation") continue;  // events are no vehicles
    const bool over = r.verdict == "overload";
    ++total.vehicles;
    ++lanes[r.lane].vehicles;
    if (over) {
      ++total.overloads;
      ++lanes[r.lane].overloads;
    }
  }
  auto rate = [](const Count& c) {
    return c.vehicles ? static_cast<double>(c.overloads) / static_cast<double>(c.vehicles) : 0.0;
  };
  bj::array ls;
  for (const auto& [lane, c] : lanes)
    ls.push_back({{"lane", lane},
                  {"vehicles", c.vehicles},
                  {"overloads", c.overloads},
                  {"overload_rate", rate(c)}});
  return {{"station_id", station},        {"day", day},
          {"vehicles", total.vehicles},   {"overloads", total.overloads},
          {"overload_rate", rate(total)}, {"lanes", std::move(ls)}};
}

}  // namespace wim::collector
