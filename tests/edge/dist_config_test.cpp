// SPDX-License-Identifier: Apache-2.0
// The default /etc/wim/station.json shipped in the .deb (edge/dist/station.json): a
// complete example that the daemon's own parsers accept once the technician has filled
// in what only the site can give (keys, certificates, calibration), and that fails
// before that with messages naming each missing piece.
#include <catch2/catch.hpp>
#include <fstream>
#include <functional>

#include "station_test_util.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/station_config.hpp"
#include "wim/edge/keygen.hpp"
#include "wim/edge/station_daemon.hpp"
#include "wim/edge/station_weigher.hpp"

using namespace wim;
namespace fs = std::filesystem;

namespace {

const fs::path kShipped = fs::path(WIM_SOURCE_DIR) / "edge/dist/station.json";
const fs::path kShippedMaps = fs::path(WIM_SOURCE_DIR) / "hw/maps";
const std::string kInstalledMaps = "/usr/share/wim/register-maps/";

void write_json(const fs::path& p, const boost::json::value& v) {
  std::ofstream out(p);
  out << boost::json::serialize(v);
}

std::string input_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return {};
}

}  // namespace

SCENARIO("the station config shipped in the package is a complete example") {
  GIVEN("the shipped default, copied as /etc/wim/station.json would be") {
    test::TempDir dir("distcfg");
    const auto shipped = json::load_file(kShipped);
    const fs::path cfg_path = dir / "station.json";
    write_json(cfg_path, shipped);

    THEN("its sensor layout parses: one lane, 4 rows, both wheel tracks") {
      const auto cfg = config::parse_station_config(shipped, cfg_path.string());
      CHECK(cfg.station_id == "G000");
      REQUIRE(cfg.channels.size() == 8);
      for (const auto& c : cfg.channels) CHECK(c.lane == 1);
    }
    THEN("its register map is one the package installs under /usr/share/wim") {
      const std::string map(shipped.at("acquisition").at("map").as_string());
      REQUIRE(map.rfind(kInstalledMaps, 0) == 0);
      CHECK(fs::is_regular_file(kShippedMaps / map.substr(kInstalledMaps.size())));
    }
    WHEN("the daemon loads it before any key or certificate is provisioned") {
      const std::string err = input_error_of([&] { edge::load_daemon_config(cfg_path); });
      THEN("it fails naming the file and every missing key and certificate file") {
        CHECK_THAT(err, Catch::Contains(cfg_path.string()));
        CHECK_THAT(err, Catch::Contains(
                            "keys.signing_key: no such file '/var/lib/wim/keys/G000.key.pem'"));
        CHECK_THAT(err, Catch::Contains("uplink.ca_file: no such file"));
        CHECK_THAT(err, Catch::Contains("uplink.cert_file: no such file"));
        CHECK_THAT(err, Catch::Contains("uplink.key_file: no such file"));
        CHECK_THAT(err, !Catch::Contains("uplink.url"));
        CHECK_THAT(err, !Catch::Contains("station_id"));
      }
    }
    WHEN("the weigher loads it before the site is calibrated") {
      const std::string err = input_error_of([&] { edge::load_acquisition(cfg_path); });
      THEN("it asks for the calibration id") {
        CHECK_THAT(err, Catch::Contains("calibration.id: required"));
      }
    }
    WHEN("the technician fills in keys, certificates, outbox and calibration") {
      const auto ids = edge::generate_station_identity(dir / "keys", "G017");
      for (const char* f : {"ca.pem", "G017.tls.pem"}) std::ofstream(dir / "keys" / f) << "PEM\n";
      fs::create_directories(dir / "outbox");
      auto o = shipped.as_object();
      o["station_id"] = "G017";
      o["keys"].as_object()["signing_key"] = ids.signing_key.string();
      auto& up = o["uplink"].as_object();
      up["url"] = "https://127.0.0.1:24443";
      up["ca_file"] = (dir / "keys/ca.pem").string();
      up["cert_file"] = (dir / "keys/G017.tls.pem").string();
      up["key_file"] = ids.tls_key.string();
      o["outbox"].as_object()["path"] = (dir / "outbox/outbox.db").string();
      o["calibration"] = {{"id", "CAL-G017-1"}, {"date", "2026-11-28"}};
      // On the box the map sits under /usr/share/wim; here: the folder the package ships.
      auto& acq = o["acquisition"].as_object();
      const std::string map(acq["map"].as_string());
      acq["map"] = (kShippedMaps / map.substr(kInstalledMaps.size())).string();
      write_json(cfg_path, o);

      THEN("the daemon's config and the acquisition load with no other change") {
        const auto dc = edge::load_daemon_config(cfg_path);
        CHECK(dc.station_id == "G017");
        CHECK(dc.uplink.host == "127.0.0.1");
        CHECK(dc.uplink.port == "24443");
        CHECK(dc.outbox_quota_bytes == 2048ull * 1024 * 1024);
        auto acq_loaded = edge::load_acquisition(cfg_path);
        REQUIRE(acq_loaded);
        CHECK(acq_loaded->station.calibration_id == "CAL-G017-1");
        CHECK(acq_loaded->source->channels().size() == 8);
        CHECK(acq_loaded->source->sample_rate_hz() == 4000);
        CHECK(acq_loaded->options.live_clock);
      }
    }
  }
}
