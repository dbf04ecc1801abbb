// SPDX-License-Identifier: Apache-2.0
// The wim-collector program itself (not its classes): a config with forward sinks, a
// station posting a violation over mutual TLS, the spool tar and the case in /v1/cases,
// a restart that keeps the case, and a bad forward config that exits 2 naming the field.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
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
  // With image retention on, as a city runs it (the purge runs at start: nothing to do).
  auto config = config_json(pki, "http://127.0.0.1:" + std::to_string(closed_port()) + "/cases");
  config.replace(config.find("\"threads\":2,"), 12,
                 "\"threads\":2,\"retention\":{\"violation_images_days\":30},");
  write_file(dir / "collector.json", config);
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
      AND_THEN("the daemon's retention purge ran at start and says so to the operator") {
        Client op(ports.second);
        boost::json::object st;
        for (int i = 0; i < 100; ++i) {
          st = json::parse(op.get("/v1/retention").body, "retention").as_object();
          if (!st.at("last_run_utc").is_null()) break;
          std::this_thread::sleep_for(50ms);
        }
        INFO(boost::json::serialize(st));
        CHECK(st.at("enabled").as_bool());
        CHECK(st.at("violation_images_days").as_int64() == 30);
        REQUIRE(st.at("last_run_utc").is_string());
        CHECK(st.at("last_ok").as_bool());
        CHECK(st.at("last_run").as_object().at("cases_purged").as_int64() == 0);
        CHECK_THAT(op.get("/metrics").body,
                   Catch::Contains("\nwim_retention_last_run_ok 1\n") &&
                       Catch::Contains("\nwim_retention_runs_total{outcome=\"ok\"} 1\n"));
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

TEST_CASE("wim-collector backup, verify-backup, restore: the program, under ingest, signed") {
  const auto pki = test_pki();
  const auto dir = temp_dir("backup-bin");
  const auto key = crypto::SigningKey::generate();
  write_g001_registry(dir, pki, key);
  // The collector's backup key: private beside the config (0600), public for restores.
  const auto backup_key = crypto::SigningKey::generate();
  backup_key.save_pem_file(dir / "backup.key.pem");
  write_file(dir / "backup.pub.pem", backup_key.public_key().to_pem());
  const auto base = config_json(pki, "http://127.0.0.1:" + std::to_string(closed_port()) + "/c");
  write_file(dir / "collector.json",
             R"({"backup":{"signing_key":"backup.key.pem"},)" + base.substr(1));
  // The new machine: its own data folder, only the backup's public key.
  auto fresh = R"({"backup":{"verify_key":"backup.pub.pem"},)" + base.substr(1);
  fresh.replace(fresh.find(R"("data_dir":"data")"), 17, R"("data_dir":"data2")");
  write_file(dir / "fresh.json", fresh);
  const std::string cli = kCollector + " ";
  const std::string C = " --config " + (dir / "collector.json").string() + " ";
  const std::string F = " --config " + (dir / "fresh.json").string() + " ";
  const std::string fp = backup_key.public_key().fingerprint();

  std::int64_t before_backup = 0, sent = 0;
  {
    Process p(dir / "collector.json", dir / "collector.log");
    const auto ports = p.ports();
    // A station sending 4 records a request for as long as the backup runs.
    std::atomic<bool> stop{false};
    std::atomic<std::int64_t> acked{0};
    std::thread station([&] {
      Client c(ports.first, pki / "ca.cert.pem", pki / "stations/G001.cert.pem",
               pki / "stations/G001.key.pem");
      chain::ChainWriter w("G001", key, 0, "");
      while (!stop) {
        std::vector<packet::Packet> ps;
        for (int i = 0; i < 4; ++i) {
          const auto t = test::kT0_us + static_cast<std::int64_t>(w.last_seq()) * 1'000'000;
          auto m = w.last_seq() % 5 == 4 ? test::violation_record(t) : test::pass_record(t);
          m.station_id = "G001";
          ps.push_back(w.append(m, m.kind == record::Kind::violation
                                       ? test::violation_attachments()
                                       : std::map<std::string, std::string>{}));
        }
        auto r = c.post("/v1/records", packet::to_tar(ps), "application/x-tar");
        if (r.status != 200) break;
        acked = json::parse(r.body, "ack").as_object().at("acked_seq").as_int64();
      }
    });
    for (int i = 0; i < 300 && acked < 40; ++i) std::this_thread::sleep_for(10ms);
    before_backup = acked;
    std::string out;
    const int rc = run_cmd(cli + "backup" + C + (dir / "bk").string(), out);
    const std::int64_t during = acked;
    stop = true;
    station.join();
    sent = acked;
    INFO(out);
    REQUIRE(rc == 0);
    CHECK_THAT(out, Catch::Contains("backup.json signed with backup key " + fp));
    CHECK(before_backup >= 40);
    CHECK(during > before_backup);  // records kept arriving while the backup ran
    CHECK(std::filesystem::file_size(dir / "bk/backup.json.sig") == 64);
  }
  const auto manifest = json::parse(slurp(dir / "bk/backup.json"), "backup.json");
  const auto& g = manifest.as_object().at("stations").as_object().at("G001").as_object();
  const std::int64_t in_backup = g.at("highest_seq").as_int64();
  CHECK(g.at("records").as_int64() == in_backup);  // from seq 1, no gap
  CHECK(in_backup >= before_backup);
  CHECK(in_backup <= sent);
  CHECK(manifest.as_object().at("backup_key_fingerprint_sha256").as_string() == fp);

  SECTION("verify-backup and restore on a fresh data folder; the restored collector serves it") {
    std::string v;
    REQUIRE(run_cmd(cli + "verify-backup" + F + (dir / "bk").string(), v) == 0);
    CHECK_THAT(v, Catch::Contains("backup.json signature verified with backup key " + fp));
    std::string r;
    const int rc = run_cmd(cli + "restore" + F + (dir / "bk").string(), r);
    INFO(r);
    REQUIRE(rc == 0);
    CHECK_THAT(r, Catch::Contains("every file, chain and blob verified"));
    Process again(dir / "fresh.json", dir / "fresh.log");
    Client op(again.ports().second);
    auto st = json::parse(op.get("/v1/stations/G001").body, "station").as_object();
    CHECK(st.at("chain").as_object().at("acked_seq").as_int64() == in_backup);
  }
  SECTION("a manifest rewritten with a matching hash file is refused by its signature") {
    std::filesystem::copy(dir / "bk", dir / "bk2", std::filesystem::copy_options::recursive);
    auto text = slurp(dir / "bk2/backup.json");
    const auto at = text.find("\"records\":");
    REQUIRE(at != std::string::npos);
    text.insert(at + 10, "1");  // more records claimed than there are
    write_file(dir / "bk2/backup.json", text);
    write_file(dir / "bk2/backup.json.sha256", crypto::sha256_hex(text) + "  backup.json\n");
    std::string v;
    CHECK(run_cmd(cli + "verify-backup" + F + (dir / "bk2").string(), v) == 1);
    CHECK_THAT(v, Catch::Contains("backup.json.sig: does not verify backup.json with the backup "
                                  "key " +
                                  fp));
    std::string r;
    CHECK(run_cmd(cli + "restore" + F + (dir / "bk2").string(), r) == 1);
    CHECK_FALSE(std::filesystem::exists(dir / "data2"));
    std::filesystem::remove(dir / "bk2/backup.json.sig");
    std::string m;
    CHECK(run_cmd(cli + "verify-backup" + F + (dir / "bk2").string(), m) == 1);
    CHECK_THAT(m, Catch::Contains("backup.json.sig: missing (the backup is not signed"));
  }
  SECTION("without a backup key: refused, naming the field, unless --unsigned") {
    write_file(dir / "nokey.json", base);
    const std::string N = " --config " + (dir / "nokey.json").string() + " ";
    std::string b, v, u;
    CHECK(run_cmd(cli + "backup" + N + (dir / "bk3").string(), b) == 2);
    CHECK_THAT(b, Catch::Contains("/backup/signing_key: not set"));
    CHECK_FALSE(std::filesystem::exists(dir / "bk3/backup.json"));
    CHECK(run_cmd(cli + "verify-backup" + N + (dir / "bk").string(), v) == 2);
    CHECK_THAT(v, Catch::Contains("/backup/verify_key: not set"));
    CHECK(run_cmd(cli + "verify-backup" + N + "--unsigned " + (dir / "bk").string(), u) == 0);
    CHECK_THAT(u, Catch::Contains("signature NOT checked (--unsigned)"));
  }
  SECTION("check-config names a backup key pair that does not match, and a readable key") {
    const auto other = crypto::SigningKey::generate();
    write_file(dir / "other.pub.pem", other.public_key().to_pem());
    write_file(dir / "pair.json",
               R"({"backup":{"signing_key":"backup.key.pem","verify_key":"other.pub.pem"},)" +
                   base.substr(1));
    std::string out;
    CHECK(run_cmd(cli + "check-config " + (dir / "pair.json").string(), out) == 1);
    CHECK_THAT(out, Catch::Contains("/backup/verify_key: ") &&
                        Catch::Contains("is not the public key of signing_key"));
    write_file(dir / "missing.json",
               R"({"backup":{"signing_key":"nowhere.key.pem","verify_key":"nowhere.pub.pem"},)" +
                   base.substr(1));
    std::string out3;
    CHECK(run_cmd(cli + "check-config " + (dir / "missing.json").string(), out3) == 1);
    CHECK_THAT(out3, Catch::Contains("/backup/signing_key: ") &&
                         Catch::Contains("nowhere.key.pem: no such key file") &&
                         Catch::Contains("/backup/verify_key: cannot read"));
    std::filesystem::permissions(dir / "backup.key.pem", std::filesystem::perms::group_read,
                                 std::filesystem::perm_options::add);
    std::string out2;
    CHECK(run_cmd(cli + "check-config " + (dir / "collector.json").string(), out2) == 1);
    CHECK_THAT(out2,
               Catch::Contains("/backup/signing_key: ") && Catch::Contains("readable by others"));
  }
  std::filesystem::remove_all(dir);
}
