// SPDX-License-Identifier: Apache-2.0
// The running station (edge::Station on a simulated roadside, no main): `wim-edge status`
// over its UNIX socket, start/stop/config/calibration/clock/disk events.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>

#include "../common/record_samples.hpp"
#include "../run_command.hpp"
#include "station_fixture.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/log.hpp"
#include "wim/edge/weigh/software_id.hpp"

using namespace wim;
using Catch::Contains;

namespace {

/// A client that connects and then never reads (nor closes until destroyed).
struct StuckClient {
  explicit StuckClient(const std::filesystem::path& p) {
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, p.c_str(), sizeof(a.sun_path) - 1);
    connected = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~StuckClient() { ::close(fd); }
  int fd = -1;
  bool connected = false;
};

std::string describe(const std::vector<chain::Finding>& fs) {
  std::string s;
  for (const auto& f : fs)
    s += std::to_string(f.seq) + " " + std::string(chain::to_string(f.problem)) + " " + f.detail +
         "; ";
  return s;
}

/// Runs `wim-edge` with `args`; returns exit code and stdout+stderr.
std::pair<int, std::string> run_wim_edge(const std::string& args) {
  auto r =
      test::run_command(std::string(WIM_TEST_EMULATOR) + WIM_BINARY_DIR + "/edge/wim-edge " + args);
  return {r.status, std::move(r.out)};
}

}  // namespace

SCENARIO("wim-edge status answers from the running station without stalling weighing") {
  const std::int64_t start = time::now_unix_us() / 1000 * 1000;
  auto acq = test::sim_acquisition(5, 1800, 40, start);
  acq["faults"] = boost::json::array{{{"kind", "stuck"}, {"channel", "L1R2L"}, {"start_s", 20}}};
  test::StationFixture f("status", acq);
  test::SimClock clock(40, start);
  edge::Station station(f.config(), true, test::sim_hooks(clock));
  station.start();
  const auto sock = f.dir() / "status.sock";

  GIVEN("three clients that connect to the status socket and never read") {
    std::vector<std::unique_ptr<StuckClient>> stuck;
    for (int i = 0; i < 3; ++i) stuck.push_back(std::make_unique<StuckClient>(sock));
    for (auto& c : stuck) REQUIRE(c->connected);

    WHEN("the station weighs traffic meanwhile") {
      REQUIRE(test::wait_for([&] { return station.board().vehicles().size() >= 4; }, 60));
      THEN("a status query answers with the vehicles it weighed and the outbox it holds") {
        struct stat st {};
        REQUIRE(::stat(sock.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0660);
        const auto doc = boost::json::parse(edge::query_status(sock)).as_object();
        CHECK(test::str(doc.at("station_id")) == "G017");
        CHECK(test::str(doc.at("software").at("legal_sha256")) ==
              std::string(legal::software_sha256()));
        CHECK(test::str(doc.at("software").at("program_sha256")) == station.program_sha256());
        CHECK(test::str(doc.at("calibration_id")) == "SIM-CAL-1");
        const auto& chans = doc.at("channels").as_array();
        REQUIRE(chans.size() == 8);  // 1 lane, 4 rows, left and right
        CHECK(test::str(chans[0].at("name")) == "L1R1L");
        CHECK(chans[0].at("last_counts").to_number<int>() != 0);
        const auto& vs = doc.at("vehicles").as_array();
        REQUIRE(vs.size() >= 4);
        REQUIRE(vs.size() <= 10);
        // Each line is the sealed record with that seq: same lane, axles, gross, verdict.
        std::map<std::uint64_t, record::Manifest> sealed;
        for (const auto& p : test::outbox_packets(station.outbox())) {
          auto m = p.manifest();
          sealed[m.seq] = m;
        }
        for (const auto& v : vs) {
          const auto seq = v.at("seq").to_number<std::uint64_t>();
          INFO("seq " << seq);
          REQUIRE(sealed.count(seq));
          const auto& m = sealed[seq];
          REQUIRE(m.measurement);
          CHECK(v.at("lane").to_number<int>() == m.lane);
          CHECK(v.at("axles").to_number<std::size_t>() == m.measurement->axle_loads_kg.size());
          CHECK(v.at("gross_kg").to_number<double>() == m.measurement->gross_kg);
          CHECK(test::str(v.at("verdict")) == (m.legal ? m.legal->verdict : "not_enforceable"));
          CHECK_FALSE(v.as_object().contains("plate"));
        }
        // Newest first.
        CHECK(vs[0].at("seq").to_number<std::uint64_t>() >
              vs[1].at("seq").to_number<std::uint64_t>());
        // The collector is unreachable: everything is still in the outbox.
        const auto depth = doc.at("outbox").at("depth").to_number<std::uint64_t>();
        // The snapshot was taken before `sealed` was read; nothing leaves the outbox, and
        // every vehicle the snapshot shows had been sealed by then.
        CHECK(depth <= sealed.size());
        CHECK(depth >= vs[0].at("seq").to_number<std::uint64_t>());
        CHECK(depth <= station.outbox().head().seq);
        CHECK_FALSE(doc.at("uplink").at("connected").as_bool());
        CHECK(station.board().vehicles().size() >= 4);

        AND_THEN("the readable form names the station, the vehicles and the outbox") {
          const auto text = edge::format_status(doc);
          CHECK_THAT(text, Contains("station G017"));
          CHECK_THAT(text, Contains("seq " + std::to_string(vs[0].at("seq").as_int64())));
          CHECK_THAT(text, Contains("outbox    depth"));
          const auto [rc, out] = run_wim_edge("status --socket " + sock.string());
          CHECK(rc == 0);
          CHECK_THAT(out, Contains("station G017"));
        }
      }
      AND_WHEN("the simulated channel L1R2L sticks") {
        REQUIRE(test::wait_for(
            [&] {
              return !test::events_of(test::outbox_packets(station.outbox()), "sensor_fault")
                          .empty();
            },
            60));
        THEN("the fault is an event record, and shows in status") {
          const auto faults =
              test::events_of(test::outbox_packets(station.outbox()), "sensor_fault");
          int pipeline_flat = 0;
          for (const auto& m : faults) {
            CHECK(test::str(m.event->detail.at("channel")) == "L1R2L");
            if (m.event->detail.contains("detected_by") &&
                std::string(m.event->detail.at("what").as_string()).starts_with("flat"))
              ++pipeline_flat;
          }
          CHECK(pipeline_flat <= 1);  // once per fault start, not per sample
          const auto doc = boost::json::parse(edge::query_status(sock)).as_object();
          int l1r2l_faults = -1;
          for (const auto& c : doc.at("channels").as_array())
            if (test::str(c.at("name")) == "L1R2L") l1r2l_faults = c.at("faults").to_number<int>();
          CHECK(l1r2l_faults >= 1);
        }
      }
    }
  }
  station.stop("test end");
  THEN("a stopped station removed its socket; status says the daemon is not running") {
    CHECK_FALSE(std::filesystem::exists(sock));
    CHECK_THROWS_WITH(edge::query_status(sock), Contains("is wim-edge running?"));
    const auto [rc, out] = run_wim_edge("status --socket " + sock.string());
    CHECK(rc == 1);
    CHECK_THAT(out, Contains("does not exist"));
  }
}

SCENARIO("A stale status socket left by a crash is replaced, a live one is not taken over") {
  test::TempDir dir("statussock");
  const auto sock = dir / "s.sock";
  GIVEN("a socket file nobody listens on (the daemon was killed)") {
    {
      const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::strncpy(a.sun_path, sock.c_str(), sizeof(a.sun_path) - 1);
      REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
      ::close(fd);
    }
    REQUIRE(std::filesystem::is_socket(sock));
    CHECK_THROWS_WITH(edge::query_status(sock), Contains("not running"));
    WHEN("a status server starts on it") {
      edge::StatusServer server({sock}, [] { return std::string(R"({"station_id":"G017"})"); });
      THEN("it serves there, and a second server refuses the live socket") {
        CHECK(edge::query_status(sock) == R"({"station_id":"G017"})");
        CHECK_THROWS_WITH(edge::StatusServer({sock}, [] { return std::string("{}"); }),
                          Contains("another daemon answers"));
        CHECK(server.served() >= 1);
      }
    }
  }
  GIVEN("a regular file where the socket should be") {
    std::ofstream(sock) << "not a socket";
    THEN("the server refuses to replace it") {
      CHECK_THROWS_WITH(edge::StatusServer({sock}, [] { return std::string("{}"); }),
                        Contains("not a socket"));
    }
  }
}

SCENARIO(
    "Station events: start/stop identity, config and calibration change, clock step, "
    "disk pressure") {
  const std::int64_t start = time::now_unix_us() / 1000 * 1000;
  if (std::getenv("WIM_TEST_DEBUG")) log::set_min_level(log::Level::debug);
  test::StationFixture f("events", {});
  f.cfg()["outbox"].as_object()["quota_mb"] = 1;
  f.cfg()["outbox"].as_object()["pressure_percent"] = 10;
  f.write();
  test::SimClock clock(1, start);
  {
    edge::Station s(f.config(), true, test::sim_hooks(clock));
    s.start();
    s.stop("first run");
  }
  GIVEN("a station restarted with another station.json and another calibration id") {
    f.cfg()["calibration"] = {{"id", "SIM-CAL-2"}};
    f.cfg()["uplink"].as_object()["timeout_s"] = 3;
    f.write();
    edge::Station s(f.config(), false, test::sim_hooks(clock));
    s.start();
    WHEN("the wall clock steps 30 s back and the outbox passes the pressure threshold") {
      // The clock watch takes its first reading when its thread starts: let it.
      std::this_thread::sleep_for(std::chrono::seconds(1));
      clock.step_us = -30'000'000;
      REQUIRE(test::wait_for(
          [&] { return !test::events_of(test::outbox_packets(s.outbox()), "clock_step").empty(); },
          20));
      // > 10 % of 1 MiB: two violations with 80 kB attachments.
      for (int i = 0; i < 2; ++i)
        s.sealer().commit(test::violation_record(clock.now()),
                          {{"plate.jpg", std::string(80000, 'p')}});
      REQUIRE(test::wait_for(
          [&] {
            return !test::events_of(test::outbox_packets(s.outbox()), "disk_pressure").empty();
          },
          20));
      s.stop("second run");
      const auto ps = test::outbox_packets(s.outbox());
      THEN("start and stop events carry the program's and the legal software's SHA-256") {
        const auto starts = test::events_of(ps, "station_start");
        REQUIRE(starts.size() == 2);
        for (const auto& m : starts) {
          CHECK(test::str(m.event->detail.at("program_sha256")) == s.program_sha256());
          CHECK(test::str(m.event->detail.at("legal_software_sha256")) ==
                std::string(legal::software_sha256()));
        }
        CHECK(test::str(starts[1].event->detail.at("calibration_id")) == "SIM-CAL-2");
        const auto stops = test::events_of(ps, "station_stop");
        REQUIRE(stops.size() == 2);
        CHECK(test::str(stops[1].event->detail.at("reason")) == "second run");
        CHECK(test::str(stops[1].event->detail.at("program_sha256")) == s.program_sha256());
      }
      THEN("the config and calibration changes are recorded once, naming old and new") {
        const auto cc = test::events_of(ps, "config_change");
        REQUIRE(cc.size() == 1);
        CHECK(test::str(cc[0].event->detail.at("was_sha256")) !=
              test::str(cc[0].event->detail.at("now_sha256")));
        const auto cal = test::events_of(ps, "calibration_change");
        REQUIRE(cal.size() == 1);
        CHECK(test::str(cal[0].event->detail.at("was_calibration_id")) == "SIM-CAL-1");
        CHECK(test::str(cal[0].event->detail.at("now_calibration_id")) == "SIM-CAL-2");
      }
      THEN("the clock step and the disk pressure are events; the chain verifies") {
        const auto steps = test::events_of(ps, "clock_step");
        REQUIRE(steps.size() == 1);
        CHECK(test::str(steps[0].event->detail.at("direction")) == "backwards");
        CHECK(steps[0].event->detail.at("step_ms").to_number<double>() < -29000);
        const auto dp = test::events_of(ps, "disk_pressure");
        REQUIRE(dp.size() == 1);
        CHECK(test::str(dp[0].event->detail.at("state")) == "above");
        chain::KeyRegistry keys;
        keys.add("G017", f.key().public_key());
        auto findings = chain::verify_chain(std::vector<packet::Packet>(ps), keys, true, nullptr);
        INFO(describe(findings));
        CHECK(findings.empty());
      }
    }
  }
}
