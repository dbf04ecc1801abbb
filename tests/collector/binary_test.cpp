// SPDX-License-Identifier: Apache-2.0
// The wim-collector program itself (not its classes): a config with forward sinks, a
// station posting a violation over mutual TLS, the spool tar and the case in /v1/cases,
// a restart that keeps the case, and a bad forward config that exits 2 naming the field.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "../common/record_samples.hpp"
#include "https_client.hpp"
#include "test_util.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/json.hpp"

using namespace wim;
using namespace wim::collector::test;
using namespace std::chrono_literals;

namespace {

const std::string kCollector = std::string(WIM_BINARY_DIR) + "/collector/wim-collector";

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// One wim-collector process, stderr to `log`; SIGTERM and reaped on destruction.
struct Process {
  pid_t pid = -1;
  std::filesystem::path log;
  Process(const std::filesystem::path& config, std::filesystem::path log_file)
      : log(std::move(log_file)) {
    pid = ::fork();
    if (pid == 0) {
      FILE* f = std::freopen(log.c_str(), "w", stderr);
      if (f) ::dup2(::fileno(stderr), 1);
      ::execl(kCollector.c_str(), kCollector.c_str(), "--config", config.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  /// Exit status once it has ended (SIGTERM first when `stop`).
  int wait(bool stop) {
    if (pid <= 0) return -1;
    if (stop) ::kill(pid, SIGTERM);
    int st = 0;
    ::waitpid(pid, &st, 0);
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  ~Process() { wait(true); }
  /// Ports from the start-up line "stations: https://127.0.0.1:P operators: http://...:Q".
  std::pair<std::uint16_t, std::uint16_t> ports() const {
    for (int i = 0; i < 300; ++i) {
      const auto text = slurp(log);
      auto s = text.find("stations: https://127.0.0.1:");
      auto o = text.find("operators: http://127.0.0.1:");
      if (s != std::string::npos && o != std::string::npos)
        return {static_cast<std::uint16_t>(std::stoi(text.substr(s + 28))),
                static_cast<std::uint16_t>(std::stoi(text.substr(o + 28)))};
      std::this_thread::sleep_for(50ms);
    }
    FAIL("wim-collector did not start; its log:\n" << slurp(log));
    return {0, 0};
  }
};

std::uint16_t closed_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

std::string config_json(const std::filesystem::path& pki, const std::string& webhook_url) {
  return R"({"registry":"registry.json","data_dir":"data","threads":2,)"
         R"("tls":{"cert":")" +
         (pki / "collector.cert.pem").string() + R"(","key":")" +
         (pki / "collector.key.pem").string() + R"(","ca":")" + (pki / "ca.cert.pem").string() +
         R"("},"listen":{"port":0},"operator_listen":{"port":0},)"
         R"("forward":{"spool_dir":"spool","webhook_url":")" +
         webhook_url +
         R"(","stage_deadline_h":24,"tick_ms":100,"retry_initial_ms":100,)"
         R"("webhook_timeout_ms":500}})";
}

}  // namespace

TEST_CASE("wim-collector binary: forward config, a violation becomes a spool tar and a case") {
  const auto pki = test_pki();
  const auto dir = temp_dir("binary");
  const auto key = crypto::SigningKey::generate();
  write_file(dir / "keys/G001.pub.pem", key.public_key().to_pem());
  write_file(dir / "registry.json",
             R"({"stations":[{"id":"G001","location":{"lat":31.1,"lon":121.2},"lanes":2,)"
             R"("tls_cert_sha256_file":")" +
                 (pki / "stations/G001.sha256").string() +
                 R"(","signing_key_file":"keys/G001.pub.pem"}]})");
  const auto webhook = "http://127.0.0.1:" + std::to_string(closed_port()) + "/cases";
  write_file(dir / "collector.json", config_json(pki, webhook));

  GIVEN("the program running with a spool folder and an unreachable webhook") {
    std::uint16_t station_port = 0, operator_port = 0;
    {
      Process p(dir / "collector.json", dir / "collector.log");
      std::tie(station_port, operator_port) = p.ports();

      WHEN("station G001 posts a start event, a pass and an overload violation") {
        chain::ChainWriter w("G001", key, 0, "");
        auto e = test::event_record("station_start", test::kT0_us);
        e.station_id = "G001";
        auto pass = test::pass_record(test::kT0_us + 1'000'000);
        pass.station_id = "G001";
        auto v = test::violation_record(test::kT0_us + 2'000'000);
        v.station_id = "G001";
        v.measurement->fit_for_enforcement = true;
        std::vector<packet::Packet> ps{w.append(e, {}), w.append(pass, {}),
                                       w.append(v, test::violation_attachments())};
        Client c(station_port, pki / "ca.cert.pem", pki / "stations/G001.cert.pem",
                 pki / "stations/G001.key.pem");
        auto r = c.post("/v1/records", packet::to_tar(ps), "application/x-tar");
        REQUIRE(r.status == 200);
        CHECK(json::parse(r.body, "ack").as_object().at("acked_seq").as_int64() == 3);

        THEN("the spool folder holds the case's tar, verifiable with the station key") {
          const auto tar = dir / "spool" / "G001-0000000003.tar";
          for (int i = 0; i < 100 && !std::filesystem::exists(tar); ++i)
            std::this_thread::sleep_for(100ms);
          REQUIRE(std::filesystem::exists(tar));
          auto back = packet::from_tar(slurp(tar));
          REQUIRE(back.size() == 1);
          chain::KeyRegistry keys;
          keys.add("G001", key.public_key());
          CHECK(chain::verify_packet(back[0], keys).empty());
          CHECK(slurp(dir / "spool/keys/G001.pub.pem") == key.public_key().to_pem());

          AND_THEN("/v1/cases lists it with its stage deadline; the webhook is retrying") {
            Client op(operator_port);
            auto cs = json::parse(op.get("/v1/cases").body, "cases").as_array();
            REQUIRE(cs.size() == 1);
            CHECK(cs[0].as_object().at("case_id").as_string() == "G001-0000000003");
            CHECK(cs[0].as_object().at("state").as_string() == "awaiting_transport_review");
            CHECK(!cs[0].as_object().at("stage_deadline_utc").as_string().empty());
            std::map<std::string, std::string> states;
            for (const auto& d : cs[0].as_object().at("deliveries").as_array())
              states[std::string(d.as_object().at("sink").as_string())] =
                  d.as_object().at("state").as_string();
            CHECK(states["spool"] == "delivered");
            CHECK(states["webhook"] == "retrying");
            CHECK(p.wait(true) == 0);  // SIGTERM: a clean stop

            AND_THEN("after a restart the case and its deliveries are still there") {
              Process again(dir / "collector.json", dir / "collector2.log");
              auto ports2 = again.ports();
              Client op2(ports2.second);
              auto cs2 = json::parse(op2.get("/v1/cases").body, "cases").as_array();
              REQUIRE(cs2.size() == 1);
              CHECK(cs2[0].as_object().at("case_id").as_string() == "G001-0000000003");
              auto st = json::parse(op2.get("/v1/stations/G001").body, "station");
              CHECK(st.as_object().at("chain").as_object().at("acked_seq").as_int64() == 3);
            }
          }
        }
      }
    }
  }

  WHEN("the forward section is wrong") {
    auto bad = config_json(pki, "ftp://example/cases");
    write_file(dir / "bad.json", bad);
    Process p(dir / "bad.json", dir / "bad.log");
    THEN("the program exits 2 and names the field") {
      CHECK(p.wait(false) == 2);
      CHECK_THAT(slurp(dir / "bad.log"), Catch::Contains("forward.webhook_url"));
    }
    auto bad2 = config_json(pki, webhook);
    bad2.replace(bad2.find("\"stage_deadline_h\":24"), 21, "\"stage_deadline_h\":0");
    write_file(dir / "bad2.json", bad2);
    Process p2(dir / "bad2.json", dir / "bad2.log");
    CHECK(p2.wait(false) == 2);
    CHECK_THAT(slurp(dir / "bad2.log"), Catch::Contains("forward.stage_deadline_h"));
  }
  std::filesystem::remove_all(dir);
}
