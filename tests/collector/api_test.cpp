// SPDX-License-Identifier: Apache-2.0
// The collector as stations and operators see it: HTTPS with client certificates in
// front of ingest, monitor and API; plain HTTP for operators.
#include "wim/collector/api.hpp"

#include <unistd.h>
#include <catch2/catch.hpp>
#include <thread>

#include "../common/record_samples.hpp"
#include "../run_command.hpp"
#include "exposition.hpp"
#include "https_client.hpp"
#include "test_util.hpp"
#include "wim/collector/config.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"

using namespace wim;
using namespace wim::collector;
using namespace wim::collector::test;

namespace {

struct Collector {
  std::filesystem::path pki = test_pki();
  std::filesystem::path dir = temp_dir("api");
  crypto::SigningKey key1 = crypto::SigningKey::generate();
  std::shared_ptr<RegistryHolder> registry;
  std::unique_ptr<MetadataStore> store = open_sqlite_store(dir / "meta.db");
  FileBlobStore blobs{dir / "blobs"};
  std::unique_ptr<Ingest> ingest;
  std::unique_ptr<Monitor> monitor;
  std::unique_ptr<Api> api;
  boost::asio::io_context ioc;
  boost::asio::ssl::context tls =
      make_server_tls(pki / "collector.cert.pem", pki / "collector.key.pem", pki / "ca.cert.pem");
  std::unique_ptr<Server> stations, operators;
  std::thread thread;

  Collector() {
    write_file(dir / "keys/G001.pub.pem", key1.public_key().to_pem());
    write_file(
        dir / "registry.json",
        R"({"stations":[{"id":"G001","name":"Ring road N","location":{"lat":31.1,"lon":121.2},)"
        R"("lanes":2,"tls_cert_sha256_file":")" +
            (pki / "stations/G001.sha256").string() +
            R"(","signing_key_file":"keys/G001.pub.pem"}]})");
    registry = std::make_shared<RegistryHolder>(dir / "registry.json");
    ingest = std::make_unique<Ingest>(*store, blobs, registry);
    MonitorOptions mo;
    mo.silent_after_s = 60;
    monitor = std::make_unique<Monitor>(*store, mo);
    ingest->add_observer(monitor.get());
    api = std::make_unique<Api>(*ingest, *store, *monitor, registry);
    // As wim-collector serves stations: records answered from the ingest's threads.
    stations = std::make_unique<Server>(
        ioc, ServerOptions{}, AsyncHandler([this](Request&& r, const Peer& p, Respond respond) {
          api->station_async(std::move(r), p, std::move(respond));
        }),
        &tls, registry);
    operators = std::make_unique<Server>(
        ioc, ServerOptions{},
        [this](const Request& r, const Peer& p) { return api->operators(r, p); });
    api->set_server_counters(&stations->counters());
    thread = std::thread([this] { ioc.run(); });
  }
  ~Collector() {
    ingest->stop();  // answers still in flight go to the io_context before it stops
    ioc.stop();
    thread.join();
    std::filesystem::remove_all(dir);
  }
  Client station() {
    return Client(stations->port(), pki / "ca.cert.pem", pki / "stations/G001.cert.pem",
                  pki / "stations/G001.key.pem");
  }
};

/// Seq 1..n of G001, signed with its registered key, one pass record a second.
std::vector<packet::Packet> g001_chain(const Collector& c, int n) {
  chain::ChainWriter writer("G001", c.key1, 0, "");
  std::vector<packet::Packet> ps;
  for (int i = 0; i < n; ++i) {
    auto m = wim::test::pass_record(wim::test::kT0_us + i * 1'000'000);
    m.station_id = "G001";
    ps.push_back(writer.append(m, {}));
  }
  return ps;
}

boost::json::value body(const Reply& r) {
  return wim::json::parse(r.body, "reply");
}

}  // namespace

TEST_CASE("api: a station posts records, reads its ack, sends heartbeats, operators see it") {
  Collector c;
  const auto ps = g001_chain(c, 3);
  auto client = c.station();
  auto r = client.post("/v1/records", packet::to_tar({ps[0], ps[2]}), "application/x-tar");
  REQUIRE(r.ok);
  REQUIRE(r.status == 200);
  auto b = body(r).as_object();
  CHECK(b.at("acked_seq").as_int64() == 1);
  CHECK(wim::json::canonical(b.at("missing")) == "[[2,2]]");

  auto ack = client.get("/v1/stations/G001/ack");
  CHECK(body(ack).as_object().at("highest_seq").as_int64() == 3);
  CHECK(client.get("/v1/stations/G002/ack").status == 403);

  SECTION("a broken tar is a 400 naming the problem, and is counted") {
    auto bad = client.post("/v1/records", "this is not a tar", "application/x-tar");
    CHECK(bad.status == 400);
    CHECK_THAT(bad.body, Catch::Contains("broken_tar"));
    Client op(c.operators->port());
    CHECK_THAT(op.get("/metrics").body, Catch::Contains("wim_ingest_broken_tar_total 1"));
  }
  SECTION("wrong content type is 415") {
    CHECK(client.post("/v1/records", "x", "application/json").status == 415);
  }
  SECTION("heartbeat with a faulty channel and unsynced clock raises alerts; a good one clears") {
    auto hb =
        R"({"station_id":"G001","sent_utc":"2026-11-27T08:00:00.000Z",)"
        R"("clock":{"sync":"unsynced","offset_ms":900,"max_error_ms":16000},)"
        R"("outbox":{"depth":5,"oldest_unsent_age_s":12},)"
        R"("channels":[{"name":"L1R1L","state":"stuck","errors":3,"lost_samples":0}],"faults":[]})";
    auto h = client.post("/v1/heartbeat", hb, "application/json");
    REQUIRE(h.status == 200);
    CHECK(body(h).as_object().at("acked_seq").as_int64() == 1);
    Client op(c.operators->port());
    auto alerts = body(op.get("/v1/alerts?active=1")).as_array();
    std::vector<std::string> kinds;
    for (const auto& a : alerts) kinds.emplace_back(a.as_object().at("kind").as_string());
    CHECK(kinds == std::vector<std::string>{"clock", "sensor_fault"});

    auto good = R"({"station_id":"G001","clock":{"sync":"synced","offset_ms":0.2},)"
                R"("outbox":{"depth":0,"oldest_unsent_age_s":0},"channels":[],"faults":[]})";
    REQUIRE(client.post("/v1/heartbeat", good, "application/json").status == 200);
    CHECK(body(op.get("/v1/alerts?active=1")).as_array().empty());
    auto all = body(op.get("/v1/alerts")).as_array();
    REQUIRE(all.size() == 2);
    CHECK_FALSE(all[0].as_object().at("end_utc").is_null());

    auto st = body(op.get("/v1/stations/G001")).as_object();
    CHECK(st.at("name").as_string() == "Ring road N");
    CHECK(st.at("clock").as_object().at("sync").as_string() == "synced");
    CHECK(st.at("chain").as_object().at("records").as_int64() == 2);
    CHECK_THAT(op.get("/metrics").body,
               Catch::Contains("wim_station_missing_records{station=\"G001\"} 1"));
  }
  SECTION("a heartbeat with a bad field is a 400 naming it") {
    auto h = client.post("/v1/heartbeat", R"({"station_id":"G001","clock":{"sync":"maybe"}})",
                         "application/json");
    CHECK(h.status == 400);
    CHECK_THAT(h.body, Catch::Contains("maybe"));
  }
  SECTION("a heartbeat for another station is refused") {
    auto h = client.post("/v1/heartbeat", R"({"station_id":"G002","clock":{"sync":"synced"}})",
                         "application/json");
    CHECK(h.status == 403);
  }
}

TEST_CASE("metrics: the exposition checker finds each broken rule") {
  const std::set<std::string> reg{"G001"};
  const std::string good =
      "# HELP a_total Things.\n# TYPE a_total counter\na_total{station=\"G001\"} 3\n"
      "# HELP l_seconds Latency.\n# TYPE l_seconds histogram\n"
      "l_seconds_bucket{le=\"0.1\"} 1\nl_seconds_bucket{le=\"1\"} 2\n"
      "l_seconds_bucket{le=\"+Inf\"} 2\nl_seconds_sum 0.7\nl_seconds_count 2\n";
  CHECK(check_exposition(good, reg).empty());
  const auto finds = [&](const std::string& text, const std::string& what) {
    const auto bad = check_exposition(text, reg);
    for (const auto& b : bad)
      if (b.find(what) != std::string::npos) return true;
    FAIL_CHECK("expected a violation containing '" << what << "' in:\n" << text);
    return false;
  };
  CHECK(finds("# TYPE x gauge\nx 1\n", "no # HELP"));
  CHECK(finds("# HELP x X.\nx 1\n", "no # TYPE"));
  CHECK(finds("# HELP x X.\n# TYPE x counter\nx 1\n", "must end in _total"));
  CHECK(
      finds("# HELP x_offset_ms X.\n# TYPE x_offset_ms gauge\nx_offset_ms 1\n", "not a base unit"));
  CHECK(finds("# HELP x_total X.\n# TYPE x_total counter\nx_total{station=\"Z9\"} 1\n",
              "not in the registry"));
  CHECK(
      finds("# HELP x X.\n# TYPE x gauge\nx{a=\"1\"} 1\n# HELP y Y.\n# TYPE y gauge\ny 1\n"
            "x{a=\"2\"} 1\n",
            "not together"));
  CHECK(
      finds("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"0.5\"} 3\n"
            "h_bucket{le=\"+Inf\"} 3\nh_sum 1\nh_count 3\n",
            "not ascending"));
  CHECK(
      finds("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\n"
            "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",
            "below the previous"));
  CHECK(finds("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",
              "without a +Inf bucket"));
  CHECK(finds("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
              "differs from _count"));
  CHECK(finds("# HELP x X.\n# TYPE x gauge\nx one\n", "not a sample line"));
}

TEST_CASE("metrics: the live /metrics follows the conventions (and promtool, when installed)") {
  Collector c;
  const auto ps = g001_chain(c, 4);
  auto client = c.station();
  REQUIRE(client.post("/v1/records", packet::to_tar({ps[0], ps[1]}), "application/x-tar").status ==
          200);
  REQUIRE(client.post("/v1/records", packet::to_tar({ps[3]}), "application/x-tar").status == 200);
  REQUIRE(client.post("/v1/records", "not a tar", "application/x-tar").status == 400);
  auto hb = R"({"station_id":"G001","clock":{"sync":"synced","offset_ms":12.5},)"
            R"("outbox":{"depth":5,"oldest_unsent_age_s":40},"channels":[],"faults":[]})";
  REQUIRE(client.post("/v1/heartbeat", hb, "application/json").status == 200);

  Client op(c.operators->port());
  const auto res = op.get("/metrics");
  REQUIRE(res.status == 200);
  const auto& text = res.body;
  const auto bad = check_exposition(text, {"G001"});
  for (const auto& b : bad) UNSCOPED_INFO(b);
  CHECK(bad.empty());
  // The values behind the names: seconds, not milliseconds; three requests answered.
  CHECK_THAT(text, Catch::Contains("wim_station_clock_offset_seconds{station=\"G001\"} 0.0125\n"));
  CHECK_THAT(text, Catch::Contains("wim_station_outbox_oldest_age_seconds{station=\"G001\"} 40\n"));
  CHECK_THAT(text, Catch::Contains("wim_station_missing_records{station=\"G001\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("wim_ingest_latency_seconds_count 3\n"));
  CHECK_THAT(text, Catch::Contains("wim_ingest_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("wim_ingest_records_total{status=\"stored\"} 3\n"));
  CHECK_THAT(text, !Catch::Contains("_ms"));

  // promtool: WIM_PROMTOOL names one, else the one install-deps.sh unpacks from Debian's
  // prometheus package (only the program: the package would start a server), else PATH.
  const char* env = std::getenv("WIM_PROMTOOL");
  std::string promtool = env && *env ? env : "";
  const char* unpacked = "/opt/wim-deps/prometheus/usr/bin/promtool";
  if (promtool.empty() && ::access(unpacked, X_OK) == 0) promtool = unpacked;
  if (promtool.empty() && wim::test::run_command("command -v promtool").status == 0)
    promtool = "promtool";
  if (promtool.empty()) {
    WARN(
        "promtool not installed (Debian package prometheus, or WIM_PROMTOOL=path): "
        "`promtool check metrics` skipped");
  } else {
    write_file(c.dir / "metrics.txt", text);
    const auto r =
        wim::test::run_command(promtool + " check metrics < " + (c.dir / "metrics.txt").string());
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(trim(r.out).empty());  // lint findings are printed, even with exit 0
  }
}

TEST_CASE("monitor: a silent station raises an alert that ends when it is heard again") {
  auto dir = temp_dir("monitor");
  auto store = open_sqlite_store(dir / "meta.db");
  MonitorOptions mo;
  mo.silent_after_s = 60;
  Monitor mon(*store, mo);
  const std::int64_t t0 = wim::test::kT0_us;
  boost::json::object hb{{"clock", {{"sync", "synced"}, {"offset_ms", 1.0}}}};
  mon.heartbeat("G001", hb, t0);
  mon.tick({"G001"}, t0 + 30'000'000);
  CHECK(mon.alerts(true).empty());
  mon.tick({"G001"}, t0 + 61'000'000);
  REQUIRE(mon.alerts(true).size() == 1);
  CHECK(mon.alerts(true)[0].kind == "silent");
  CHECK(mon.alerts(true)[0].start_unix_us == t0 + 61'000'000);
  mon.heartbeat("G001", hb, t0 + 90'000'000);
  CHECK(mon.alerts(true).empty());
  REQUIRE(mon.alerts(false).size() == 1);
  CHECK(mon.alerts(false)[0].end_unix_us == t0 + 90'000'000);
  std::filesystem::remove_all(dir);
}

TEST_CASE("monitor: alerts and station health survive a restart (monitor.db)") {
  GIVEN("a monitor with state file: G001 went silent and came back, G002 is still silent") {
    auto dir = temp_dir("monitor-restart");
    auto store = open_sqlite_store(dir / "meta.db");
    MonitorOptions mo;
    mo.silent_after_s = 60;
    const std::int64_t t0 = wim::test::kT0_us;
    boost::json::object hb{{"clock", {{"sync", "unsynced"}, {"offset_ms", 12.5}}},
                           {"outbox", {{"depth", 7}, {"oldest_unsent_age_s", 30}}},
                           {"faults", boost::json::array{"L1R1L: open circuit"}}};
    {
      Monitor mon(*store, mo, dir / "monitor.db");
      mon.heartbeat("G001", hb, t0);
      mon.tick({"G001", "G002"}, t0 + 61'000'000);  // G001 silent; G002 never heard
      mon.heartbeat("G001", hb, t0 + 90'000'000);   // G001 back: its silent alert ends
      StoredRecord rec;
      rec.station_id = "G001";
      rec.received_unix_us = t0 + 95'000'000;
      mon.on_stored(rec, record::Manifest{});  // saved when the monitor stops
      CHECK(mon.alerts(true).size() == 3);     // G001 clock + sensor_fault, G002 silent
    }
    WHEN("the collector restarts (a new Monitor on the same file)") {
      Monitor mon(*store, mo, dir / "monitor.db");
      THEN("the open alert is still open with its original start; ended ones keep their end") {
        const auto all = mon.alerts(false);
        REQUIRE(all.size() == 4);
        const Alert* g2 = nullptr;
        const Alert* g1_silent = nullptr;
        for (const auto& a : all) {
          if (a.station_id == "G002" && a.kind == "silent") g2 = &a;
          if (a.station_id == "G001" && a.kind == "silent") g1_silent = &a;
        }
        REQUIRE(g2);
        CHECK(g2->end_unix_us == 0);
        CHECK(g2->start_unix_us == t0 + 61'000'000);
        REQUIRE(g1_silent);
        CHECK(g1_silent->start_unix_us == t0 + 61'000'000);
        CHECK(g1_silent->end_unix_us == t0 + 90'000'000);
        CHECK(mon.alerts(true).size() == 3);
      }
      THEN("the last heartbeat and health are back") {
        const auto h = mon.health("G001");
        CHECK(h.last_heartbeat_unix_us == t0 + 90'000'000);
        CHECK(h.last_record_unix_us == t0 + 95'000'000);
        CHECK(h.clock_sync == "unsynced");
        CHECK(h.clock_offset_ms == Approx(12.5));
        CHECK(h.outbox_depth == 7);
        REQUIRE(h.faults.size() == 1);
        CHECK(h.faults[0] == "L1R1L: open circuit");
      }
      THEN("a still-silent station is not raised twice; new alerts get new ids") {
        mon.tick({"G001", "G002"}, t0 + 210'000'000);
        auto active = mon.alerts(true);
        std::int64_t max_id = 0, g2_silent = 0;
        for (const auto& a : active) {
          max_id = std::max(max_id, a.id);
          g2_silent += a.station_id == "G002" && a.kind == "silent";
        }
        CHECK(g2_silent == 1);
        CHECK(active.size() == 4);  // + G001 silent again (new alert)
        CHECK(max_id == 5);
      }
    }
    std::filesystem::remove_all(dir);
  }
}

TEST_CASE("config: defaults, paths relative to the file, errors name the field") {
  auto c = CollectorConfig::parse(
      R"({"tls":{"cert":"pki/c.pem","key":"pki/k.pem","ca":"pki/ca.pem"},"listen":{"port":0}})",
      "collector.json", "/etc/wim");
  CHECK(c.tls_ca == "/etc/wim/pki/ca.pem");
  CHECK(c.registry == "/etc/wim/registry.json");
  CHECK(c.station_listen.port == 0);
  CHECK(c.operator_listen.port == 8080);
  CHECK(c.operator_listen.address == "127.0.0.1");
  CHECK(c.ingest.future_seq_window == 100000);
  CHECK(c.threads == 2);
  CHECK(c.ingest.verify_threads == 2);
  CHECK(c.blob_sync == BlobSync::syncfs);
  auto per_file = CollectorConfig::parse(
      R"({"tls":{"cert":"a","key":"b","ca":"c"},"blob_sync":"per_file","verify_threads":3})",
      "collector.json", ".");
  CHECK(per_file.blob_sync == BlobSync::per_file);
  CHECK(per_file.ingest.verify_threads == 3);
  CHECK_THROWS_WITH(
      CollectorConfig::parse(R"({"tls":{"cert":"a","key":"b","ca":"c"},"blob_sync":"never"})",
                             "collector.json", "."),
      Catch::Contains("blob_sync") && Catch::Contains("never"));
  CHECK_THROWS_WITH(
      CollectorConfig::parse(R"({"tls":{"cert":"a","key":"b","ca":"c"},"verify_threads":0})",
                             "collector.json", "."),
      Catch::Contains("verify_threads"));
  CHECK_THROWS_WITH(
      CollectorConfig::parse(R"({"tls":{"cert":"a","key":"b"}})", "collector.json", "."),
      Catch::Contains("collector.json: /tls/ca: missing"));
  CHECK_THROWS_WITH(
      CollectorConfig::parse(R"({"tls":{"cert":"a","key":"b","ca":"c"},"listen":{"port":70000}})",
                             "collector.json", "."),
      Catch::Contains("collector.json: /listen/port: expected an integer in 0..65535"));
}
