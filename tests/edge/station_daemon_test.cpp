// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <fstream>

#include "station_test_util.hpp"
#include "wim/common/error.hpp"
#include "wim/edge/station_daemon.hpp"

using namespace wim;

namespace {
void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}
}  // namespace

SCENARIO("The daemon's config is checked at start and every mistake names its field") {
  test::TempDir dir("daemoncfg");
  for (auto f : {"sign.pem", "ca.pem", "cert.pem", "key.pem"}) write(dir / f, "x");
  const std::string d = dir.path().string();
  GIVEN("a complete config") {
    write(dir / "station.json", R"({"station_id":"G017","channels":[],
      "keys":{"signing_key":")" + d +
                                    R"(/sign.pem"},
      "uplink":{"url":"https://collector.city.example:8443","ca_file":")" +
                                    d + R"(/ca.pem","cert_file":")" + d +
                                    R"(/cert.pem","key_file":")" + d + R"(/key.pem","timeout_s":5},
      "outbox":{"path":")" + d + R"(/outbox.db","quota_mb":100}})");
    auto c = edge::load_daemon_config(dir / "station.json");
    THEN("its values are taken, defaults fill the rest") {
      CHECK(c.station_id == "G017");
      CHECK(c.uplink.host == "collector.city.example");
      CHECK(c.uplink.port == "8443");
      CHECK(c.uplink.op_timeout == std::chrono::milliseconds(5000));
      CHECK(c.uplink.batch_max_records == 200);
      CHECK(c.uplink.station_id == "G017");
      CHECK(c.outbox_quota_bytes == 100ull << 20);
    }
  }
  GIVEN("a config with several mistakes") {
    write(dir / "bad.json",
          R"({"station_id":"G 017",
      "keys":{"signing_key":"/nonexistent/sign.pem"},
      "uplink":{"url":"http://collector","ca_file":")" +
              d + "/ca.pem\",\"cert_file\":\"/nonexistent/cert.pem\",\"key_file\":\"" + d +
              R"(/key.pem","timeout_s":0},
      "outbox":{"path":"/nonexistent-dir/outbox.db","quota_mb":0}})");
    THEN("all of them are reported at once, each with its field") {
      CHECK_THROWS_WITH(edge::load_daemon_config(dir / "bad.json"),
                        Catch::Contains("bad.json") && Catch::Contains("station_id") &&
                            Catch::Contains("keys.signing_key") && Catch::Contains("uplink.url") &&
                            Catch::Contains("uplink.cert_file") &&
                            Catch::Contains("uplink.timeout_s") && Catch::Contains("outbox.path") &&
                            Catch::Contains("outbox.quota_mb") && Catch::Contains("7 error"));
    }
  }
  GIVEN("a config without the uplink section") {
    write(dir / "nouplink.json", R"({"station_id":"G017","keys":{"signing_key":")" + d +
                                     R"(/sign.pem"},"outbox":{"path":")" + d + R"(/o.db"}})");
    THEN("the missing section is named") {
      CHECK_THROWS_WITH(edge::load_daemon_config(dir / "nouplink.json"), Catch::Contains("uplink"));
    }
  }
}
