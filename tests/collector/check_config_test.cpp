// SPDX-License-Identifier: Apache-2.0
// `wim-collector check-config`: every mistake of the config, its registry and the files
// they name, at once, each with its file and JSON pointer; the class and the program.
#include <algorithm>
#include <catch2/catch.hpp>

#include "../run_command.hpp"
#include "test_util.hpp"
#include "wim/collector/config.hpp"
#include "wim/common/crypto.hpp"

using namespace wim;
using namespace wim::collector;
using namespace wim::collector::test;

namespace {

const std::string kCollector = std::string(WIM_BINARY_DIR) + "/collector/wim-collector";

/// A folder with a clean collector.json, registry.json (one station) and TLS files.
struct Site {
  std::filesystem::path dir = temp_dir("check-config");
  Site() {
    for (const char* f : {"pki/c.pem", "pki/k.pem", "pki/ca.pem"}) write_file(dir / f, "PEM\n");
    write_file(dir / "keys/G001.pub.pem", crypto::SigningKey::generate().public_key().to_pem());
    write_file(dir / "registry.json",
               R"({"stations":[{"id":"G001","location":{"lat":31.2,"lon":121.4},"lanes":2,)"
               R"("tls_cert_sha256":")" +
                   std::string(64, 'a') + R"(","signing_key_file":"keys/G001.pub.pem"}]})");
    config(R"({"tls":{"cert":"pki/c.pem","key":"pki/k.pem","ca":"pki/ca.pem"}})");
  }
  ~Site() { std::filesystem::remove_all(dir); }
  std::filesystem::path config(const std::string& text) const {
    write_file(dir / "collector.json", text);
    return dir / "collector.json";
  }
};

std::vector<std::string> pointers(const ConfigProblems& p) {
  std::vector<std::string> v;
  for (const auto& x : p.list()) v.push_back(x.file + " " + x.pointer);
  return v;
}

}  // namespace

TEST_CASE("check-config: a clean site has no problem") {
  Site s;
  const auto p = check_config(s.dir / "collector.json");
  INFO(p.text());
  CHECK(p.empty());
}

TEST_CASE("check-config: every mistake of config and registry at once, with file and pointer") {
  Site s;
  const auto cfg = (s.dir / "collector.json").string();
  const auto reg = (s.dir / "registry.json").string();
  SECTION("many fields of the config wrong, and a TLS file missing") {
    s.config(R"({"tls":{"cert":"pki/c.pem","key":"pki/none.pem"},"blob_sync":"never",)"
             R"("threads":0,"listen":{"port":70000},"operator_listen":"8080",)"
             R"("monitor":{"tick_s":"x","silent_after_s":0},)"
             R"("forward":{"webhook_url":"ftp://x","retry_initial_ms":10,"retry_max_ms":5}})");
    const auto p = check_config(cfg);
    INFO(p.text());
    CHECK(pointers(p) ==
          std::vector<std::string>{cfg + " /blob_sync", cfg + " /tls/ca", cfg + " /listen/port",
                                   cfg + " /operator_listen", cfg + " /threads",
                                   cfg + " /monitor/silent_after_s", cfg + " /monitor/tick_s",
                                   cfg + " /forward/retry_max_ms", cfg + " /forward/webhook_url",
                                   cfg + " /tls/key"});
    // What is expected, in the words an operator reads.
    CHECK_THAT(p.text(), Catch::Contains(cfg + ": /blob_sync: expected \"syncfs\" or "
                                               "\"per_file\", got \"never\""));
    CHECK_THAT(p.text(), Catch::Contains(cfg + ": /tls/ca: missing"));
    CHECK_THAT(p.text(), Catch::Contains(cfg + ": /listen/port: expected an integer in 0..65535, "
                                               "got 70000"));
    CHECK_THAT(p.text(), Catch::Contains(cfg + ": /monitor/tick_s: expected an integer"));
    CHECK_THAT(p.text(),
               Catch::Contains("/tls/key: cannot read file " + (s.dir / "pki/none.pem").string()));
  }
  SECTION("config and registry both wrong: problems of both files") {
    s.config(R"({"tls":{"cert":"pki/c.pem","key":"pki/k.pem","ca":"pki/ca.pem"},"threads":99})");
    write_file(s.dir / "registry.json",
               R"({"stations":[{"id":"G001","location":{"lat":1,"lon":2},"lanes":0,)"
               R"("tls_cert_sha256":"xyz","signing_key_file":"keys/G001.pub.pem"},)"
               R"({"id":"G002","location":{"lat":1,"lon":2},"lanes":1,)"
               R"("tls_cert_sha256_file":"pki/none.sha256","signing_key_file":"keys/none.pem"}]})");
    const auto p = check_config(cfg);
    INFO(p.text());
    CHECK(pointers(p) == std::vector<std::string>{cfg + " /threads", reg + " /stations/0/lanes",
                                                  reg + " /stations/0/tls_cert_sha256",
                                                  reg + " /stations/1/tls_cert_sha256_file",
                                                  reg + " /stations/1/signing_key_file"});
  }
  SECTION("the workbench's fields (docs/workbench-api.md): each mistake at its pointer") {
    s.config(R"({"tls":{"cert":"pki/c.pem","key":"pki/k.pem","ca":"pki/ca.pem"},)"
             R"("workbench_listen":"127.0.0.1:99999","session_ttl_s":10,)"
             R"("audit_key":"keys/none.pem","workbench_web_dir":"nowhere",)"
             R"("review":{"transport_working_h":0,"calendar":{"weekdays":[1,9]}}})");
    const auto p = check_config(cfg);
    INFO(p.text());
    CHECK(pointers(p) ==
          std::vector<std::string>{cfg + " /workbench_listen", cfg + " /session_ttl_s",
                                   cfg + " /review/transport_working_h",
                                   cfg + " /review/calendar/weekdays", cfg + " /audit_key",
                                   cfg + " /workbench_web_dir"});
    CHECK_THAT(p.text(), Catch::Contains(cfg + ": /workbench_listen: expected a port in 0..65535, "
                                               "got 99999"));
    CHECK_THAT(p.text(), Catch::Contains(cfg + ": /review/calendar/weekdays: expected 1 (Monday)"));
    CHECK_THAT(p.text(),
               Catch::Contains(cfg + ": /session_ttl_s: expected an integer in 60..604800"));
    // The same fields right (pages from the source tree, the audit key created at start).
    s.config(R"({"tls":{"cert":"pki/c.pem","key":"pki/k.pem","ca":"pki/ca.pem"},)"
             R"("workbench_listen":"127.0.0.1:0","session_ttl_s":3600,"session_idle_s":600,)"
             R"("review":{"transport_working_h":16,"calendar":{"weekdays":[1,2,3,4,5]}}})");
    const auto ok = check_config(cfg);
    INFO(ok.text());
    CHECK(ok.empty());
  }
  SECTION("a config that is not JSON: its line and column; nothing else is guessed") {
    s.config("{\"tls\": {\n  \"cert\": }");
    const auto p = check_config(cfg);
    REQUIRE(p.list().size() == 1);
    CHECK(p.list()[0].pointer.empty());
    CHECK_THAT(p.list()[0].text(), Catch::StartsWith(cfg + ": line 2, column"));
  }
  SECTION("the registry file is missing") {
    std::filesystem::remove(s.dir / "registry.json");
    const auto p = check_config(cfg);
    REQUIRE(p.list().size() == 1);
    CHECK(p.list()[0].text() == reg + ": cannot open registry file");
  }
}

TEST_CASE("check-config: the program's output and exit codes, and the daemon refuses the same") {
  Site s;
  const auto cfg = (s.dir / "collector.json").string();
  auto ok = wim::test::run_command(kCollector + " check-config " + cfg);
  CHECK(ok.status == 0);
  CHECK_THAT(ok.out, Catch::Contains(cfg + ": ok (registry") && Catch::Contains("1 stations"));

  s.config(R"({"tls":{"cert":"pki/c.pem","key":"pki/k.pem","ca":"pki/ca.pem"},)"
           R"("threads":0,"verify_threads":65,"monitor":{"tick_s":0}})");
  auto bad = wim::test::run_command(kCollector + " check-config --config " + cfg);
  INFO(bad.out);
  CHECK(bad.status == 1);
  CHECK_THAT(bad.out, Catch::Contains(cfg + ": /threads: expected an integer in 1..64, got 0"));
  CHECK_THAT(bad.out, Catch::Contains(cfg + ": /verify_threads: expected an integer in 1..64"));
  CHECK_THAT(bad.out, Catch::Contains(cfg + ": /monitor/tick_s: expected an integer in"));
  CHECK_THAT(bad.out, Catch::Contains("3 problems"));

  // The daemon names the same problems and exits 2 (the unit does not restart on 2).
  auto daemon = wim::test::run_command(kCollector + " --config " + cfg);
  CHECK(daemon.status == 2);
  CHECK(std::count(daemon.out.begin(), daemon.out.end(), '\n') == 3);
  CHECK_THAT(daemon.out, Catch::Contains("/verify_threads"));

  CHECK(wim::test::run_command(kCollector + " check-config " + (s.dir / "none.json").string())
            .status == 1);
  CHECK(wim::test::run_command(kCollector + " check-config").status == 2);
  CHECK(wim::test::run_command(kCollector + " check-config a.json b.json").status == 2);
}

TEST_CASE("check-config: a transition webhook url is checked like the case webhook's") {
  Site s;
  const auto cfg = (s.dir / "collector.json").string();
  s.config(R"({"tls":{"cert":"pki/c.pem","key":"pki/k.pem","ca":"pki/ca.pem"},)"
           R"("forward":{"transition_webhook_url":"https://platform/x"}})");
  auto p = check_config(cfg);
  INFO(p.text());
  CHECK(pointers(p) == std::vector<std::string>{cfg + " /forward/transition_webhook_url"});
  CHECK_THAT(p.text(), Catch::Contains("expected http://host:port/path"));
  s.config(R"({"tls":{"cert":"pki/c.pem","key":"pki/k.pem","ca":"pki/ca.pem"},)"
           R"("forward":{"transition_webhook_url":"http://127.0.0.1:9000/transitions"}})");
  CHECK(check_config(cfg).empty());
}

TEST_CASE("check-config: the retention of violation images is a whole number of days >= 1") {
  Site s;
  const auto cfg = (s.dir / "collector.json").string();
  const std::string tls = R"({"tls":{"cert":"pki/c.pem","key":"pki/k.pem","ca":"pki/ca.pem"},)";
  for (const char* bad : {"0", "-3", "1.5", "\"30\"", "null", "100001"}) {
    s.config(tls + R"("retention":{"violation_images_days":)" + bad + "}}");
    const auto p = check_config(cfg);
    INFO(bad << ": " << p.text());
    CHECK(pointers(p) == std::vector<std::string>{cfg + " /retention/violation_images_days"});
  }
  s.config(tls + R"("retention":7})");
  CHECK(pointers(check_config(cfg)) == std::vector<std::string>{cfg + " /retention"});
  s.config(tls + R"("retention":{"violation_images_days":30}})");
  CHECK(check_config(cfg).empty());
  CHECK(CollectorConfig::load_file(cfg).retention_images_days == 30);
  s.config(tls + R"("retention":{}})");  // absent: kept forever
  CHECK(check_config(cfg).empty());
  CHECK(CollectorConfig::load_file(cfg).retention_images_days == 0);
}
