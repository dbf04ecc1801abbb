// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <catch2/catch.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "https_client.hpp"
#include "test_util.hpp"
#include "wim/common/json.hpp"

using namespace wim::collector;
using namespace wim::collector::test;

namespace {

/// Registry with G001 (active) and G002 (revoked); G003 has a certificate from the CA
/// but no registry entry.
Registry make_registry(const std::filesystem::path& pki, bool revoke_g001 = false) {
  auto key = wim::crypto::SigningKey::generate().public_key().to_pem();
  boost::json::array st;
  for (auto [id, revoked] : {std::pair{"G001", revoke_g001}, std::pair{"G002", true}}) {
    st.push_back(boost::json::object{
        {"id", id},
        {"location", {{"lat", 1.0}, {"lon", 2.0}}},
        {"lanes", 2},
        {"tls_cert_sha256", trim(read_file(pki / "stations" / (std::string(id) + ".sha256")))},
        {"signing_key_pem", key},
        {"revoked", revoked}});
  }
  return Registry::parse(boost::json::serialize(boost::json::object{{"stations", st}}), "test",
                         ".");
}

struct Fixture {
  std::filesystem::path pki = test_pki();
  boost::asio::io_context ioc;
  boost::asio::ssl::context tls =
      make_server_tls(pki / "collector.cert.pem", pki / "collector.key.pem", pki / "ca.cert.pem");
  std::shared_ptr<RegistryHolder> registry =
      std::make_shared<RegistryHolder>(make_registry(pki), "unused.json");
  std::unique_ptr<Server> server;
  std::thread thread;

  Fixture() {
    ServerOptions opt;
    opt.body_limit_bytes = 1024;
    opt.timeout = std::chrono::seconds(5);
    server = std::make_unique<Server>(
        ioc, opt,
        [](const Request& req, const Peer& peer) {
          return json_response(req, http::status::ok,
                               "{\"station\":\"" + peer.station_id +
                                   "\",\"bytes\":" + std::to_string(req.body().size()) + "}");
        },
        &tls, registry);
    thread = std::thread([this] { ioc.run(); });
  }
  ~Fixture() {
    server->stop();
    ioc.stop();
    thread.join();
  }
  Client station(const std::string& id) {
    return Client(server->port(), pki / "ca.cert.pem", pki / "stations" / (id + ".cert.pem"),
                  pki / "stations" / (id + ".key.pem"));
  }
};

}  // namespace

TEST_CASE("server: a registered station is served and identified by its certificate") {
  Fixture f;
  auto c = f.station("G001");
  auto r = c.get("/x");
  REQUIRE(r.ok);
  CHECK(r.status == 200);
  CHECK_THAT(r.body, Catch::Contains("\"station\":\"G001\""));
  AND_THEN("the connection is kept alive for a second request") {
    auto r2 = c.post("/y", "hello", "text/plain");
    REQUIRE(r2.ok);
    CHECK_THAT(r2.body, Catch::Contains("\"bytes\":5"));
  }
}

TEST_CASE("server: unknown, revoked, foreign-CA and missing client certificates are refused") {
  Fixture f;
  SECTION("revoked station G002") {
    auto c = f.station("G002");
    CHECK_FALSE(c.get("/x").ok);
  }
  SECTION("G003: certificate from our CA, not in the registry") {
    auto c = f.station("G003");
    CHECK_FALSE(c.get("/x").ok);
  }
  SECTION("no client certificate") {
    Client c(f.server->port(), f.pki / "ca.cert.pem", "", "");
    CHECK_FALSE(c.get("/x").ok);
  }
  SECTION("a certificate for G001 from another CA") {
    auto other = temp_dir("otherca");
    REQUIRE(std::system((std::string(WIM_SOURCE_DIR) + "/scripts/make-ca.sh " + other.string() +
                         " G001 >/dev/null")
                            .c_str()) == 0);
    Client c(f.server->port(), f.pki / "ca.cert.pem", other / "stations/G001.cert.pem",
             other / "stations/G001.key.pem");
    CHECK_FALSE(c.get("/x").ok);
    std::filesystem::remove_all(other);
  }
  CHECK(eventually([&] { return f.server->counters().tls_refused.load() >= 1; }));
}

TEST_CASE("server: revoking a station in the registry refuses its next connection") {
  Fixture f;
  auto c1 = f.station("G001");
  REQUIRE(c1.get("/x").ok);
  f.registry->replace(make_registry(f.pki, /*revoke_g001=*/true));
  auto c2 = f.station("G001");
  CHECK_FALSE(c2.get("/x").ok);
}

TEST_CASE("server: oversized body gets 413, malformed HTTP gets 400") {
  Fixture f;
  auto c = f.station("G001");
  auto big = c.post("/v1/records", std::string(4096, 'x'), "application/x-tar");
  REQUIRE(big.ok);
  CHECK(big.status == 413);
  CHECK_THAT(big.body, Catch::Contains("body_too_large") && Catch::Contains("1024"));
  CHECK(f.server->counters().oversized.load() == 1);

  auto c2 = f.station("G001");
  auto bad = c2.raw("GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: banana\r\n\r\n");
  REQUIRE(bad.ok);
  CHECK(bad.status == 400);
  CHECK_THAT(bad.body, Catch::Contains("malformed_http"));
  CHECK(f.server->counters().malformed_http.load() == 1);
}

TEST_CASE("server: an async handler answers later from another thread, the io thread serves on") {
  // GIVEN one io thread and a handler that answers /slow only when the test says so
  // WHEN a station waits on /slow THEN a second station is served meanwhile (the io thread
  // is not blocked), and /slow gets its answer, on a kept-alive connection, once released.
  std::filesystem::path pki = test_pki();
  boost::asio::io_context ioc;
  auto tls =
      make_server_tls(pki / "collector.cert.pem", pki / "collector.key.pem", pki / "ca.cert.pem");
  auto registry = std::make_shared<RegistryHolder>(make_registry(pki), "unused.json");
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::vector<std::thread> answerers;
  std::mutex mu;
  Server server(
      ioc, ServerOptions{}, AsyncHandler([&](Request&& req, const Peer& peer, Respond respond) {
        if (req.target() == "/throw") throw std::runtime_error("handler broke");
        auto res = json_response(req, http::status::ok,
                                 "{\"station\":\"" + peer.station_id + "\",\"target\":\"" +
                                     std::string(req.target()) + "\"}");
        if (req.target() != "/slow") return respond(std::move(res));
        std::lock_guard l(mu);
        answerers.emplace_back([released, respond, res = std::move(res)]() mutable {
          released.wait();
          respond(std::move(res));
        });
      }),
      &tls, registry);
  std::thread io([&] { ioc.run(); });
  auto client = [&] {
    return Client(server.port(), pki / "ca.cert.pem", pki / "stations/G001.cert.pem",
                  pki / "stations/G001.key.pem");
  };
  auto slow_client = client();
  auto slow = std::async(std::launch::async, [&] { return slow_client.get("/slow"); });
  auto fast_client = client();
  auto fast = fast_client.get("/fast");
  REQUIRE(fast.ok);
  CHECK_THAT(fast.body, Catch::Contains("\"target\":\"/fast\""));
  CHECK(slow.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
  release.set_value();
  auto s = slow.get();
  REQUIRE(s.ok);
  CHECK_THAT(s.body, Catch::Contains("\"target\":\"/slow\""));
  auto again = slow_client.get("/fast");  // the same connection, kept alive
  REQUIRE(again.ok);
  CHECK(again.status == 200);
  AND_THEN("a handler that throws is answered with 500") {
    auto r = fast_client.get("/throw");
    REQUIRE(r.ok);
    CHECK(r.status == 500);
    CHECK_THAT(r.body, Catch::Contains("handler broke"));
  }
  for (auto& t : answerers) t.join();
  server.stop();
  ioc.stop();
  io.join();
}
