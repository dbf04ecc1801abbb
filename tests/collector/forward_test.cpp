// SPDX-License-Identifier: Apache-2.0
// Forwarding (cases to the review queue, spool folder and webhook) and daily statistics.
#include "wim/collector/forward.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "../common/record_samples.hpp"
#include "test_util.hpp"
#include "wim/collector/api.hpp"
#include "wim/collector/transition_webhook.hpp"
#include "wim/common/audit.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"
#include "wim/common/time.hpp"

using namespace wim;
using namespace wim::collector;
using wim::collector::test::temp_dir;

namespace {

/// Record n (1-based): station_start, then pass (even n) and overload violation (odd n).
/// Lane 1 for passes; violations on lane 2 when `violation_lane2`.
struct TestStation {
  std::string id;
  crypto::SigningKey key = crypto::SigningKey::generate();
  chain::ChainWriter writer{id, key, 0, ""};
  explicit TestStation(std::string station_id) : id(std::move(station_id)) {}
  packet::Packet next(bool fit = true) {
    const auto n = static_cast<std::int64_t>(writer.last_seq()) + 1;
    const std::int64_t t = wim::test::kT0_us + n * 1'000'000;
    record::Manifest m = n == 1       ? wim::test::event_record("station_start", t)
                         : n % 2 == 0 ? wim::test::pass_record(t)
                                      : wim::test::violation_record(t);
    m.station_id = id;
    if (m.kind == record::Kind::violation) {
      m.lane = 2;
      m.measurement->lane = 2;
      m.measurement->fit_for_enforcement = fit;
      if (!fit) m.measurement->invalid_reasons = {"speed_change"};
    }
    return writer.append(m, m.kind == record::Kind::violation
                                ? wim::test::violation_attachments()
                                : std::map<std::string, std::string>{});
  }
};

struct Fixture {
  std::filesystem::path dir = temp_dir("forward");
  TestStation g1{"G001"};
  std::unique_ptr<MetadataStore> store = open_sqlite_store(dir / "meta.db");
  FileBlobStore blobs{dir / "blobs"};
  std::shared_ptr<RegistryHolder> registry;
  std::unique_ptr<Ingest> ingest;

  Fixture() {
    boost::json::array st{{{"id", g1.id},
                           {"location", {{"lat", 31.0}, {"lon", 121.0}}},
                           {"lanes", 2},
                           {"tls_cert_sha256", std::string(64, 'a')},
                           {"signing_key_pem", g1.key.public_key().to_pem()}}};
    registry = std::make_shared<RegistryHolder>(
        Registry::parse(boost::json::serialize(boost::json::object{{"stations", st}}), "t", "."),
        "unused");
    ingest = std::make_unique<Ingest>(*store, blobs, registry);
  }
  ~Fixture() { std::filesystem::remove_all(dir); }
  std::unique_ptr<Forwarder> forwarder(ForwardOptions o = {}) {
    auto f = std::make_unique<Forwarder>(dir / "cases.db", *store, blobs, o);
    return f;
  }
  std::string key_pem(const std::string&) const { return g1.key.public_key().to_pem(); }
  void send(int n) {
    std::vector<packet::Packet> ps;
    for (int i = 0; i < n; ++i) ps.push_back(g1.next());
    ingest->ingest(g1.id, ps);
  }
};

/// A one-connection-at-a-time HTTP receiver on 127.0.0.1 (port from the OS). Answers the
/// first `fail_first` requests with 503, the rest with 200, and keeps every body.
struct Receiver {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor{ioc, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  int fail_first;
  std::mutex m;
  std::vector<std::string> bodies, keys, signatures;
  std::vector<unsigned> statuses;
  std::thread thread;
  explicit Receiver(int fail) : fail_first(fail) {
    thread = std::thread([this] {
      for (;;) {
        boost::asio::ip::tcp::socket s(ioc);
        boost::system::error_code ec;
        acceptor.accept(s, ec);
        if (ec) return;
        boost::beast::flat_buffer buf;
        boost::beast::http::request<boost::beast::http::string_body> req;
        boost::beast::http::read(s, buf, req, ec);
        if (ec) continue;
        if (req.target() == "/quit") return;
        unsigned status;
        {
          std::lock_guard lock(m);
          bodies.push_back(req.body());
          keys.push_back(std::string(req["Idempotency-Key"]));
          signatures.push_back(std::string(req["X-Wim-Signature"]));
          status = static_cast<int>(bodies.size()) <= fail_first ? 503 : 200;
          statuses.push_back(status);
        }
        boost::beast::http::response<boost::beast::http::string_body> res{
            static_cast<boost::beast::http::status>(status), 11};
        res.body() = status == 200 ? "{\"ok\":true}" : "{\"error\":\"busy\"}";
        res.prepare_payload();
        boost::beast::http::write(s, res, ec);
      }
    });
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
  ~Receiver() {
    // Wake the accept with a last request, then join.
    try {
      WebhookSink quit("http://127.0.0.1:" + std::to_string(port()) + "/quit",
                       std::chrono::milliseconds(500));
      quit.deliver(Case{}, packet::Packet{});
    } catch (...) {
    }
    thread.join();
  }
};

int run(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

}  // namespace

TEST_CASE("forward: fit overload records become cases in the review queue") {
  Fixture f;
  ForwardOptions o;
  o.stage_deadline_s = 48 * 3600;
  auto fw = f.forwarder(o);
  f.ingest->add_observer(fw.get());
  GIVEN("seq 1 event, 2 pass, 3 overload, 4 pass, 5 overload, 6 pass, 7 overload not fit") {
    f.send(6);
    auto unfit = f.g1.next(false);
    f.ingest->ingest(f.g1.id, {unfit});
    THEN("seqs 3 and 5 are cases awaiting transport review with the configured deadline") {
      auto cs = fw->cases();
      REQUIRE(cs.size() == 2);
      for (const auto& c : cs) {
        CHECK((c.seq == 3 || c.seq == 5));
        CHECK(c.state == "awaiting_transport_review");
        CHECK(c.deadline_unix_us - c.created_unix_us == 48LL * 3600 * 1'000'000);
        CHECK(c.lane == 2);
        CHECK(c.gross_kg == Approx(46230.5));
        CHECK(c.excess_kg == Approx(3230.5));
        CHECK(c.case_id == packet::dir_name("G001", static_cast<std::uint64_t>(c.seq)));
      }
    }
    AND_WHEN("the same records are resent") {
      std::vector<packet::Packet> again;
      f.ingest->ingest(f.g1.id, {unfit});
      THEN("no case is doubled") {
        CHECK(fw->cases().size() == 2);
      }
    }
  }
}

TEST_CASE("forward: spool folder holds one tar per case, checkable with openssl alone") {
  Fixture f;
  auto fw = f.forwarder();
  const auto spool = f.dir / "spool";
  fw->add_sink(
      std::make_unique<SpoolSink>(spool, [&](const std::string& id) { return f.key_pem(id); }));
  f.ingest->add_observer(fw.get());
  f.send(5);
  CHECK(fw->pending_deliveries() == 2);
  CHECK(fw->pump(time::now_unix_us()) == 2);
  CHECK(fw->pending_deliveries() == 0);
  const auto id = packet::dir_name("G001", 3);
  const auto tar = spool / (id + ".tar");
  REQUIRE(std::filesystem::exists(tar));
  REQUIRE(std::filesystem::exists(spool / (packet::dir_name("G001", 5) + ".tar")));
  // Only final names in the folder: no temporary files left.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(spool))
    if (e.is_regular_file()) ++files;
  CHECK(files == 2);
  auto ps = packet::from_tar(wim::collector::test::read_file(tar));
  REQUIRE(ps.size() == 1);
  CHECK(ps[0].manifest().seq == 3);

  WHEN("a reviewer extracts it and runs openssl") {
    const auto x = f.dir / "review";
    std::filesystem::create_directories(x);
    REQUIRE(run("tar -xf " + tar.string() + " -C " + x.string()) == 0);
    const auto pkt = x / id;
    const std::string verify = "openssl pkeyutl -verify -pubin -inkey " +
                               (spool / "keys" / "G001.pub.pem").string() + " -rawin -in " +
                               (pkt / "manifest.json").string() + " -sigfile ";
    THEN("the signature verifies and the attachment hashes match the manifest") {
      CHECK(run(verify + (pkt / "manifest.sig").string()) == 0);
      const auto manifest = wim::collector::test::read_file(pkt / "manifest.json");
      const auto out = f.dir / "dgst.txt";
      REQUIRE(run("openssl dgst -sha256 -r " + (pkt / "plate.jpg").string() + " > " +
                  out.string()) == 0);
      const auto hash = wim::collector::test::read_file(out).substr(0, 64);
      CHECK(manifest.find(hash) != std::string::npos);
    }
    AND_THEN("a tampered manifest fails the openssl check") {
      auto m = wim::collector::test::read_file(pkt / "manifest.json");
      m[m.find("46230.5")] = '5';
      wim::collector::test::write_file(pkt / "manifest.json", m);
      CHECK(run(verify + (pkt / "manifest.sig").string()) != 0);
    }
  }
}

TEST_CASE("forward: webhook fails first, is retried with backoff, then delivered") {
  Fixture f;
  Receiver rx(2);
  ForwardOptions o;
  o.retry_initial_ms = 1000;
  o.retry_max_ms = 3000;
  auto fw = f.forwarder(o);
  fw->add_sink(std::make_unique<WebhookSink>(
      "http://127.0.0.1:" + std::to_string(rx.port()) + "/cases", std::chrono::milliseconds(2000)));
  f.ingest->add_observer(fw.get());
  f.send(3);  // one case: seq 3
  const auto id = packet::dir_name("G001", 3);
  const auto t0 = time::now_unix_us();

  CHECK(fw->pump(t0) == 0);
  auto d = fw->deliveries(id);
  REQUIRE(d.size() == 1);
  CHECK(d[0].state == "retrying");
  CHECK(d[0].attempts == 1);
  CHECK(d[0].last_error.find("503") != std::string::npos);
  CHECK(d[0].next_attempt_unix_us == t0 + 1'000'000);
  WHEN("pumped again before the backoff ends") {
    CHECK(fw->pump(t0 + 500'000) == 0);
    THEN("nothing was sent") {
      CHECK(fw->deliveries(id)[0].attempts == 1);
    }
  }
  CHECK(fw->pump(t0 + 1'000'000) == 0);  // second 503
  d = fw->deliveries(id);
  CHECK(d[0].attempts == 2);
  CHECK(d[0].next_attempt_unix_us == t0 + 1'000'000 + 2'000'000);  // doubled

  // A restart keeps the delivery state.
  fw.reset();
  fw = f.forwarder(o);
  fw->add_sink(std::make_unique<WebhookSink>(
      "http://127.0.0.1:" + std::to_string(rx.port()) + "/cases", std::chrono::milliseconds(2000)));
  CHECK(fw->pump(t0 + 3'000'000) == 1);
  d = fw->deliveries(id);
  CHECK(d[0].state == "delivered");
  CHECK(d[0].attempts == 3);
  CHECK(d[0].last_error.empty());
  CHECK(fw->pump(t0 + 100'000'000) == 0);  // delivered once, not again

  std::lock_guard lock(rx.m);
  REQUIRE(rx.bodies.size() == 3);
  CHECK(rx.statuses == std::vector<unsigned>{503, 503, 200});
  CHECK(rx.keys[2] == id);
  auto body = boost::json::parse(rx.bodies[2]).as_object();
  CHECK(body.at("case_id").as_string() == id);
  CHECK(body.at("state").as_string() == "awaiting_transport_review");
  // The webhook receives the signed manifest and a signature that verifies.
  const std::string manifest(body.at("manifest").as_string());
  CHECK(f.g1.key.public_key().verify(
      manifest, crypto::from_hex(std::string(body.at("signature_hex").as_string()))));

  auto js = fw->cases_json();
  REQUIRE(js.size() == 1);
  CHECK(js[0].at("deliveries").as_array()[0].at("state").as_string() == "delivered");
}

TEST_CASE("forward: a webhook that refuses connections stays retrying with the error") {
  Fixture f;
  std::uint16_t dead_port;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    dead_port = a.local_endpoint().port();
  }
  auto fw = f.forwarder();
  fw->add_sink(std::make_unique<WebhookSink>("http://127.0.0.1:" + std::to_string(dead_port) + "/x",
                                             std::chrono::milliseconds(500)));
  f.ingest->add_observer(fw.get());
  f.send(3);
  CHECK(fw->pump(time::now_unix_us()) == 0);
  auto d = fw->deliveries(packet::dir_name("G001", 3));
  REQUIRE(d.size() == 1);
  CHECK(d[0].state == "retrying");
  CHECK(d[0].last_error.find("refused") != std::string::npos);
}

TEST_CASE("forward: catch-up creates the cases of records stored while forwarding was off") {
  Fixture f;
  f.send(7);  // overloads at 3, 5, 7; no forwarder observing
  auto fw = f.forwarder();
  CHECK(fw->cases().empty());
  CHECK(fw->catch_up(time::now_unix_us()) == 3);
  CHECK(fw->cases().size() == 3);
  CHECK(fw->catch_up(time::now_unix_us()) == 0);
  CHECK(fw->cases("G001").size() == 3);
  CHECK(fw->cases("G002").empty());
}

TEST_CASE("stats: vehicles, overloads and rate per station per day and lane") {
  Fixture f;
  f.send(9);  // 1 event; passes 2,4,6,8 on lane 1; overloads 3,5,7,9 on lane 2
  const auto day = time::format_utc_ms(wim::test::kT0_us).substr(0, 10);
  auto s = day_stats(*f.store, "G001", parse_day(day), day);
  CHECK(s.at("vehicles").as_int64() == 8);
  CHECK(s.at("overloads").as_int64() == 4);
  CHECK(s.at("overload_rate").as_double() == Approx(0.5));
  const auto& lanes = s.at("lanes").as_array();
  REQUIRE(lanes.size() == 2);
  CHECK(lanes[0].at("lane").as_int64() == 1);
  CHECK(lanes[0].at("overloads").as_int64() == 0);
  CHECK(lanes[1].at("vehicles").as_int64() == 4);
  CHECK(lanes[1].at("overload_rate").as_double() == Approx(1.0));
  auto next = day_stats(*f.store, "G001", parse_day(day) + 86'400'000'000LL, "next");
  CHECK(next.at("vehicles").as_int64() == 0);
  CHECK_THROWS_WITH(parse_day("2026-13"), Catch::Contains("YYYY-MM-DD"));

  WHEN("read through the operators' API") {
    Monitor monitor(*f.store, {});
    Api api(*f.ingest, *f.store, monitor, f.registry);
    auto fw = f.forwarder();
    fw->catch_up(time::now_unix_us());
    api.set_forwarder(fw.get());
    auto get = [&](const std::string& target) {
      Request req{http::verb::get, target, 11};
      return api.operators(req, Peer{});
    };
    auto r = get("/v1/stats?day=" + day + "&station=G001");
    REQUIRE(r.result() == http::status::ok);
    CHECK(boost::json::parse(r.body()).at("overloads").as_int64() == 4);
    r = get("/v1/stats?day=" + day);
    REQUIRE(r.result() == http::status::ok);
    auto all = boost::json::parse(r.body());
    CHECK(all.at("vehicles").as_int64() == 8);
    CHECK(all.at("stations").as_array().size() == 1);
    CHECK(get("/v1/stats?day=yesterday").result() == http::status::bad_request);
    CHECK(get("/v1/stats?day=" + day + "&station=G999").result() == http::status::not_found);
    r = get("/v1/cases?station=G001");
    REQUIRE(r.result() == http::status::ok);
    auto cs = boost::json::parse(r.body()).as_array();
    REQUIRE(cs.size() == 4);
    CHECK(cs[0].at("state").as_string() == "awaiting_transport_review");
    CHECK(cs[0].as_object().contains("stage_deadline_utc"));
  }
}

TEST_CASE("forward: catch-up at start reads only records received since the watermark") {
  GIVEN("7 records (overloads 3, 5, 7) caught up by a first run") {
    Fixture f;
    f.send(7);
    ForwardOptions o;
    o.catch_up_margin_s = 0;
    const auto first_start_us = time::now_unix_us();
    {
      auto fw = f.forwarder(o);
      CHECK(fw->catch_up(first_start_us) == 3);
      CHECK(fw->catch_up_rows_read() == 3);
      CHECK(fw->watermark_unix_us() == first_start_us);
    }
    WHEN("4 more records (overloads 9, 11) arrive while no forwarder observes and it restarts") {
      f.send(4);
      auto fw = f.forwarder(o);
      CHECK(fw->catch_up(time::now_unix_us()) == 2);
      THEN("only the 2 new overload rows were read, and every case exists") {
        CHECK(fw->catch_up_rows_read() == 2);
        CHECK(fw->cases("G001").size() == 5);
      }
    }
    WHEN("the outbox has no watermark yet (first start of an upgraded collector)") {
      for (const char* n : {"cases.db", "cases.db-wal", "cases.db-shm"})
        std::filesystem::remove(f.dir / n);
      auto fw = f.forwarder(o);
      CHECK(fw->catch_up(time::now_unix_us()) == 3);
      CHECK(fw->catch_up_rows_read() == 3);
    }
  }
}

TEST_CASE("forward: every review transition goes to the transition webhook, signed, in order") {
  Fixture f;
  Receiver rx(1);  // the first POST is refused (503)
  auto fw = f.forwarder();
  f.ingest->add_observer(fw.get());
  f.send(5);  // cases at seq 3 and 5
  const auto c3 = packet::dir_name("G001", 3), c5 = packet::dir_name("G001", 5);
  const auto audit_key = crypto::SigningKey::generate();
  std::int64_t now = time::now_unix_us();
  Review review(
      f.dir / "cases.db", crypto::SigningKey::from_pem(audit_key.to_pem()), ReviewOptions{},
      [&] { return now; },
      [](const std::string&) {
        return record::Plate{"沪A12345", "blue", 0.95, false};
      });
  const Actor tina{"tina", Role::transport_reviewer}, paul{"paul", Role::police_reviewer};
  review.confirm(tina, c3, "");
  review.reject(tina, c5, "wrong lane");
  review.decide(paul, c3, "fine", "");
  const auto url = "http://127.0.0.1:" + std::to_string(rx.port()) + "/transitions";
  auto hook = std::make_unique<TransitionWebhook>(f.dir / "cases.db", review,
                                                  crypto::SigningKey::from_pem(audit_key.to_pem()),
                                                  url, std::chrono::milliseconds(2000), 1000, 4000);

  CHECK(hook->pump(now) == 0);  // 503: seq 1 not delivered, the rest held back
  auto st = hook->status();
  CHECK(st.delivered_seq == 0);
  CHECK(st.attempts == 1);
  CHECK(st.next_attempt_unix_us == now + 1'000'000);
  CHECK(st.last_error.find("audit seq 1: HTTP 503") != std::string::npos);
  CHECK(hook->pump(now + 500'000) == 0);  // before the backoff ends: nothing sent
  CHECK(hook->pump(now + 1'000'000) == 3);
  CHECK(hook->status().delivered_seq == 3);
  CHECK(hook->status().last_error.empty());

  // A restart keeps the cursor: only the new transition is sent.
  hook = std::make_unique<TransitionWebhook>(f.dir / "cases.db", review,
                                             crypto::SigningKey::from_pem(audit_key.to_pem()), url,
                                             std::chrono::milliseconds(2000), 1000, 4000);
  CHECK(hook->pump(now + 2'000'000) == 0);
  review.close(paul, c3, "paid");
  CHECK(hook->pump(now + 2'000'000) == 1);
  CHECK(hook->pump(now + 3'000'000) == 0);

  std::lock_guard lock(rx.m);
  REQUIRE(rx.bodies.size() == 5);  // seq 1 twice (503, then 200), 2, 3, 4
  CHECK(rx.statuses == std::vector<unsigned>{503, 200, 200, 200, 200});
  CHECK(rx.keys == std::vector<std::string>{"audit-1", "audit-1", "audit-2", "audit-3", "audit-4"});
  boost::json::array entries;
  for (std::size_t i = 1; i < rx.bodies.size(); ++i) {
    INFO("request " << i);
    // The body bytes are signed by the collector's audit key.
    CHECK(audit_key.public_key().verify(rx.bodies[i], crypto::from_hex(rx.signatures[i])));
    CHECK_FALSE(
        audit_key.public_key().verify(rx.bodies[i] + " ", crypto::from_hex(rx.signatures[i])));
    entries.push_back(boost::json::parse(rx.bodies[i]));
  }
  // The bodies are the audit log itself: a complete, verifiable chain from seq 1.
  const auto r = audit::verify(entries, audit_key.public_key(), audit::Span::from_one);
  INFO(r.problem);
  CHECK(r.ok);
  CHECK(r.entries == 4);
  CHECK(entries[1].at("action").as_string() == "reject");
  CHECK(entries[1].at("case_id").as_string() == c5);
  CHECK(entries[3].at("action").as_string() == "close");
  CHECK(entries[3].at("to").as_string() == "closed");
}

TEST_CASE(
    "forward: GET /v1/deliveries and /metrics give each sink's backlog and error and the "
    "transition webhook's, and no case data") {
  Fixture f;
  std::uint16_t dead_port;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    dead_port = a.local_endpoint().port();
  }
  Receiver rx(1);  // the transition webhook: the first POST is refused (503)
  auto fw = f.forwarder();
  fw->add_sink(std::make_unique<SpoolSink>(f.dir / "spool",
                                           [&](const std::string& id) { return f.key_pem(id); }));
  fw->add_sink(std::make_unique<WebhookSink>("http://127.0.0.1:" + std::to_string(dead_port) + "/x",
                                             std::chrono::milliseconds(500)));
  f.ingest->add_observer(fw.get());
  f.send(5);  // cases at seq 3 and 5
  Monitor monitor(*f.store, MonitorOptions{});
  Api api(*f.ingest, *f.store, monitor, f.registry);
  api.set_forwarder(fw.get());
  const auto get = [&](const char* target) {
    auto res = api.operators(Request{http::verb::get, target, 11}, Peer{});
    REQUIRE(res.result() == http::status::ok);
    return res.body();
  };
  const auto deliveries = [&] { return boost::json::parse(get("/v1/deliveries")).as_object(); };
  const auto sink = [](const boost::json::object& d, const std::string& name) {
    for (const auto& s : d.at("case_sinks").as_array())
      if (s.at("sink").as_string() == name) return s.as_object();
    FAIL("no sink " << name);
    return boost::json::object{};
  };

  auto d = deliveries();
  REQUIRE(d.at("case_sinks").as_array().size() == 2);
  CHECK(d.at("transition_webhook").as_object() == boost::json::object{{"enabled", false}});
  std::int64_t created = 0;
  for (const auto& c : fw->cases())
    created = created ? std::min(created, c.created_unix_us) : c.created_unix_us;
  for (const auto* name : {"spool", "webhook"}) {
    INFO(name);
    const auto s = sink(d, name);
    CHECK(s.at("state").as_string() == "pending");
    CHECK(s.at("pending").as_int64() == 2);
    CHECK(s.at("backlog").as_int64() == 2);
    CHECK(s.at("delivered").as_int64() == 0);
    CHECK(s.at("oldest_waiting_utc").as_string() == time::format_utc_ms(created));
    CHECK(s.at("last_error").as_string() == "");
  }
  const auto t0 = time::now_unix_us();
  CHECK(fw->pump(t0) == 2);  // the spool takes both, the dead webhook none
  d = deliveries();
  auto spool = sink(d, "spool"), hook = sink(d, "webhook");
  CHECK(spool.at("state").as_string() == "delivered");
  CHECK(spool.at("delivered").as_int64() == 2);
  CHECK(spool.at("backlog").as_int64() == 0);
  CHECK(spool.at("oldest_waiting_utc").is_null());
  CHECK(spool.at("next_attempt_utc").is_null());
  CHECK(hook.at("state").as_string() == "failing");
  CHECK(hook.at("retrying").as_int64() == 2);
  CHECK(hook.at("pending").as_int64() == 0);
  CHECK(hook.at("backlog").as_int64() == 2);
  CHECK(hook.at("oldest_waiting_utc").as_string() == time::format_utc_ms(created));
  // The step, the peer and the reason, without boost's source location.
  CHECK(hook.at("last_error").as_string() ==
        "connect to 127.0.0.1:" + std::to_string(dead_port) + "/x: Connection refused");
  CHECK(hook.at("next_attempt_utc").as_string() ==
        time::format_utc_ms(t0 + ForwardOptions{}.retry_initial_ms * 1000));

  // The transition webhook: 2 entries, the first try refused, then both delivered.
  std::int64_t now = t0;
  Review review(
      f.dir / "cases.db", crypto::SigningKey::generate(), ReviewOptions{}, [&] { return now; },
      [](const std::string&) {
        return record::Plate{"沪A12345", "blue", 0.95, false};
      });
  const Actor tina{"tina", Role::transport_reviewer};
  review.read_plate(tina, packet::dir_name("G001", 3), "沪A54321");
  review.reject(tina, packet::dir_name("G001", 5), "wrong lane");
  TransitionWebhook tw(f.dir / "cases.db", review, crypto::SigningKey::generate(),
                       "http://127.0.0.1:" + std::to_string(rx.port()) + "/t",
                       std::chrono::milliseconds(2000), 1000, 4000);
  api.set_transitions(&tw);
  auto t = deliveries().at("transition_webhook").as_object();
  CHECK(t.at("enabled").as_bool());
  CHECK(t.at("state").as_string() == "pending");
  CHECK(t.at("backlog").as_int64() == 2);
  CHECK(tw.pump(now) == 0);
  const auto body = get("/v1/deliveries");
  t = boost::json::parse(body).at("transition_webhook").as_object();
  CHECK(t.at("state").as_string() == "failing");
  CHECK(t.at("delivered_seq").as_int64() == 0);
  CHECK(t.at("latest_seq").as_int64() == 2);
  CHECK(t.at("backlog").as_int64() == 2);
  CHECK(t.at("attempts").as_int64() == 1);
  CHECK(t.at("last_error").as_string().rfind("audit seq 1: HTTP 503", 0) == 0);
  CHECK(t.at("next_attempt_utc").as_string() == time::format_utc_ms(now + 1'000'000));
  auto metrics = get("/metrics");
  CHECK(metrics.find("\nwim_transition_webhook_backlog_entries 2\n") != std::string::npos);
  CHECK(metrics.find("\nwim_transition_webhook_failed_attempts 1\n") != std::string::npos);
  // No case data: no plate (the stored one, the one read), no case id.
  for (const auto* no : {"沪A12345", "沪A54321", "京A12345", "G001-"}) {
    INFO(no);
    CHECK(body.find(no) == std::string::npos);
  }
  CHECK(tw.pump(now + 1'000'000) == 2);
  t = deliveries().at("transition_webhook").as_object();
  CHECK(t.at("state").as_string() == "delivered");
  CHECK(t.at("backlog").as_int64() == 0);
  CHECK(t.at("last_error").as_string() == "");
  CHECK(t.at("next_attempt_utc").is_null());
  metrics = get("/metrics");
  CHECK(metrics.find("\nwim_transition_webhook_backlog_entries 0\n") != std::string::npos);
}

TEST_CASE("forward: a transition webhook url that is not http://host:port/path is refused") {
  Fixture f;
  Review review(
      f.dir / "cases.db", crypto::SigningKey::generate(), ReviewOptions{},
      [] { return time::now_unix_us(); }, nullptr);
  for (const std::string bad : {"https://x/y", "ftp://h/", "http://:80/x", "http:///x"}) {
    INFO(bad);
    CHECK_THROWS_AS(TransitionWebhook(f.dir / "cases.db", review, crypto::SigningKey::generate(),
                                      bad, std::chrono::milliseconds(100), 1000, 2000),
                    InputError);
  }
}
