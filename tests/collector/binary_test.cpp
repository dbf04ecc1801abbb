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
#include "../run_command.hpp"
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

/// Runs a command; stdout + stderr into `out`; its exit status.
int run_cmd(const std::string& cmd, std::string& out) {
  auto r = wim::test::run_command(cmd);
  out += r.out;
  return r.status;
}

/// registry.json in `dir` with station G001: its certificate from the test PKI, `key`'s
/// public half in keys/G001.pub.pem.
void write_g001_registry(const std::filesystem::path& dir, const std::filesystem::path& pki,
                         const crypto::SigningKey& key) {
  write_file(dir / "keys/G001.pub.pem", key.public_key().to_pem());
  write_file(dir / "registry.json",
             R"({"stations":[{"id":"G001","location":{"lat":31.1,"lon":121.2},"lanes":2,)"
             R"("tls_cert_sha256_file":")" +
                 (pki / "stations/G001.sha256").string() +
                 R"(","signing_key_file":"keys/G001.pub.pem"}]})");
}

}  // namespace

TEST_CASE("wim-collector binary: forward config, a violation becomes a spool tar and a case") {
  const auto pki = test_pki();
  const auto dir = temp_dir("binary");
  const auto key = crypto::SigningKey::generate();
  write_g001_registry(dir, pki, key);
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
      CHECK_THAT(slurp(dir / "bad.log"), Catch::Contains("/forward/webhook_url: expected http://"));
    }
    auto bad2 = config_json(pki, webhook);
    bad2.replace(bad2.find("\"stage_deadline_h\":24"), 21, "\"stage_deadline_h\":0");
    write_file(dir / "bad2.json", bad2);
    Process p2(dir / "bad2.json", dir / "bad2.log");
    CHECK(p2.wait(false) == 2);
    CHECK_THAT(slurp(dir / "bad2.log"),
               Catch::Contains("/forward/stage_deadline_h: expected an integer in 1.."));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("wim-collector export: a station's stored chain is checked by wim-verify alone") {
  const auto pki = test_pki();
  const auto dir = temp_dir("export");
  const auto key = crypto::SigningKey::generate();
  write_g001_registry(dir, pki, key);
  write_file(dir / "collector.json",
             config_json(pki, "http://127.0.0.1:" + std::to_string(closed_port()) + "/cases"));
  const std::string exporter = kCollector + " export --config " + (dir / "collector.json").string();
  const std::string verify = std::string(WIM_BINARY_DIR) + "/common/wim-verify --from-one --key ";

  Process p(dir / "collector.json", dir / "collector.log");
  const auto ports = p.ports();
  chain::ChainWriter w("G001", key, 0, "");
  std::vector<packet::Packet> ps;
  for (int i = 0; i < 7; ++i) {
    auto m = i == 0       ? test::event_record("station_start", test::kT0_us)
             : i % 3 == 0 ? test::violation_record(test::kT0_us + i * 1'000'000)
                          : test::pass_record(test::kT0_us + i * 1'000'000);
    m.station_id = "G001";
    ps.push_back(w.append(m, m.kind == record::Kind::violation
                                 ? test::violation_attachments()
                                 : std::map<std::string, std::string>{}));
  }
  Client c(ports.first, pki / "ca.cert.pem", pki / "stations/G001.cert.pem",
           pki / "stations/G001.key.pem");

  WHEN("seq 1-7 are stored and the chain is exported while the collector runs") {
    REQUIRE(c.post("/v1/records", packet::to_tar(ps), "application/x-tar").status == 200);
    std::string out;
    const int rc =
        run_cmd(exporter + " --station G001 --per-tar 3 --out " + (dir / "out").string(), out);
    THEN("3 tars hold seq 1-7, and wim-verify with the written key finds nothing") {
      INFO(out);
      CHECK(rc == 0);
      CHECK_THAT(out, Catch::Contains("G001: 7 records of seq 1..7 in 3 tar(s)"));
      CHECK(std::filesystem::exists(dir / "out/G001-0000000001-0000000003.tar"));
      CHECK(std::filesystem::exists(dir / "out/G001-0000000007-0000000007.tar"));
      CHECK(slurp(dir / "out/G001.pub.pem") == key.public_key().to_pem());
      std::string v;
      const int vrc =
          run_cmd(verify + (dir / "out/G001.pub.pem").string() + " " + (dir / "out").string(), v);
      INFO(v);
      CHECK(vrc == 0);
      // The exported packets are the very bytes the station signed.
      std::vector<packet::Packet> back;
      for (const auto* name : {"G001-0000000001-0000000003.tar", "G001-0000000004-0000000006.tar",
                               "G001-0000000007-0000000007.tar"})
        for (auto& q : packet::from_tar(slurp(dir / "out" / name))) back.push_back(std::move(q));
      REQUIRE(back.size() == ps.size());
      for (std::size_t i = 0; i < ps.size(); ++i) {
        CHECK(back[i].manifest_json == ps[i].manifest_json);
        CHECK(back[i].signature == ps[i].signature);
        CHECK(back[i].attachments == ps[i].attachments);
      }
      AND_THEN("exporting into the same folder again is refused, nothing overwritten") {
        std::string again;
        CHECK(run_cmd(exporter + " --station G001 --out " + (dir / "out").string(), again) == 2);
        CHECK_THAT(again, Catch::Contains("already holds G001-0000000001-0000000003.tar"));
      }
    }
  }
  WHEN("seq 4 never arrived (1-3 and 5-7 stored)") {
    std::vector<packet::Packet> without4(ps.begin(), ps.begin() + 3);
    without4.insert(without4.end(), ps.begin() + 4, ps.end());
    REQUIRE(c.post("/v1/records", packet::to_tar(without4), "application/x-tar").status == 200);
    std::string out;
    const int rc = run_cmd(exporter + " --station G001 --out " + (dir / "gap").string(), out);
    THEN("the export names the missing seq and exits 1, and wim-verify reports the gap") {
      INFO(out);
      CHECK(rc == 1);
      CHECK_THAT(out, Catch::Contains("missing at the collector: seq 4\n"));
      CHECK_THAT(out, Catch::Contains("G001: 6 records of seq 1..7"));
      std::string v;
      CHECK(run_cmd(verify + (dir / "gap/G001.pub.pem").string() + " " + (dir / "gap").string(),
                    v) == 1);
      INFO(v);
      CHECK_THAT(v, Catch::Contains("G001 seq 4: gap: seq 4..4 missing (1 records)"));
    }
  }
  WHEN("the station is unknown or the range is wrong") {
    REQUIRE(c.post("/v1/records", packet::to_tar(ps), "application/x-tar").status == 200);
    std::string out1, out2;
    const int rc1 = run_cmd(exporter + " --station G009 --out " + (dir / "x").string(), out1);
    const int rc2 =
        run_cmd(exporter + " --station G001 --from 5 --to 2 --out " + (dir / "y").string(), out2);
    THEN("each exits 2 naming what was wrong") {
      CHECK(rc1 == 2);
      CHECK_THAT(out1, Catch::Contains("no record of station 'G009'"));
      CHECK(rc2 == 2);
      INFO(out2);
      CHECK_THAT(out2, Catch::Contains("bad seq range 5..2"));
    }
  }
  CHECK(p.wait(true) == 0);
  std::filesystem::remove_all(dir);
}
