// SPDX-License-Identifier: Apache-2.0
// `wim-edge run-many` (edge::StationGroup): several stations in one process, each with its
// own outbox, key, chain and uplink, one shared plate reader model; every chain arrives
// complete at the real collector and verifies; a bad config in the folder is refused with
// its file and field named and no station starts; SIGTERM stops every station cleanly.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>

#include "../run_command.hpp"
#include "local_collector.hpp"
#include "record.hpp"  // wim_sim
#include "station_fixture.hpp"
#include "station_test_util.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/json.hpp"
#include "wim/edge/station_group.hpp"

using namespace wim;
using namespace std::chrono_literals;

namespace {

const std::string kEdge = std::string(WIM_TEST_EMULATOR) + WIM_BINARY_DIR + "/edge/wim-edge";

/// A folder of stations G001..Gn: per station a wim-sim recording with overloads, a signing
/// key, and station.json (replay, sim camera, uplink to 127.0.0.1:port with the PKI).
struct City {
  test::TempDir dir{"run-many"};
  std::vector<std::string> ids;
  std::map<std::string, crypto::SigningKey> keys;

  /// `vehicles`: simulated vehicles in each station's recording.
  explicit City(int stations, std::size_t vehicles = 5) {
    std::string list;
    for (int i = 1; i <= stations; ++i) {
      ids.push_back("G00" + std::to_string(i));
      list += " " + ids.back();
    }
    test::make_pki(dir / "pki", list.substr(1));
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto& id = ids[i];
      const auto site = dir / "stations" / id;
      sim::SimOptions so;
      so.seed = 20 + static_cast<unsigned>(i);
      so.site.station_id = id;
      so.traffic.overload_share = 0.6;
      sim::record(so, vehicles, site);
      keys.emplace(id, crypto::SigningKey::generate());
      keys.at(id).save_pem_file(site / "signing.key.pem");
    }
  }
  std::filesystem::path config(const std::string& id) const {
    return dir / "stations" / id / "station.json";
  }
  std::vector<std::pair<std::string, crypto::VerifyKey>> public_keys() const {
    std::vector<std::pair<std::string, crypto::VerifyKey>> out;
    for (const auto& id : ids) out.emplace_back(id, keys.at(id).public_key());
    return out;
  }
  /// Writes every station.json for a collector on `port` (the simulator's own file gives
  /// the channels).
  void write_configs(std::uint16_t port, bool camera) const {
    for (const auto& id : ids) {
      const auto site = dir / "stations" / id;
      auto cfg = json::load_file(site / "station.json").as_object();
      const auto pki = dir / "pki";
      cfg["keys"] = {{"signing_key", (site / "signing.key.pem").string()}};
      cfg["uplink"] = {{"url", "https://127.0.0.1:" + std::to_string(port)},
                       {"ca_file", (pki / "ca.cert.pem").string()},
                       {"cert_file", (pki / "stations" / (id + ".cert.pem")).string()},
                       {"key_file", (pki / "stations" / (id + ".key.pem")).string()},
                       {"timeout_s", 5},
                       {"heartbeat_s", 1}};
      cfg["outbox"] = {{"path", (site / "outbox.db").string()}, {"quota_mb", 64}};
      cfg["acquisition"] = {{"source", "replay"}, {"recording", "rec.csv"}};
      cfg["calibration"] = {{"id", "SIM-CAL-" + id}};
#ifdef WIM_ANPR_MODEL_DIR
      if (camera)
        cfg["camera"] = {{"kind", "sim"},
                         {"condition", "clear_day"},
                         {"seed", 5},
                         {"model_dir", WIM_ANPR_MODEL_DIR}};
#else
      (void)camera;
#endif
      std::ofstream(config(id)) << boost::json::serialize(cfg);
    }
  }
};

/// Runs `wim-edge <args>`; output (stdout + stderr) into `out`; the exit status.
int run_edge(const std::string& args, std::string& out) {
  auto r = test::run_command(kEdge + " " + args);
  out += r.out;
  return r.status;
}

/// A new chain per station, retries after 50-300 ms (not seconds), `batch` records per POST.
edge::StationGroupOptions quick_retry_options(std::size_t batch = 200) {
  edge::StationGroupOptions options;
  options.new_chain = true;
  options.adjust_hooks = [batch](edge::StationHooks& h) {
    h.adjust_uplink = [batch](edge::UplinkConfig& u) {
      u.backoff_initial = 50ms;
      u.backoff_max = 300ms;
      u.batch_max_records = batch;
    };
  };
  return options;
}

/// verify_chain over a station's packets: every finding (shown on failure) is counted.
/// A replayed recording of yesterday has vehicle times before the station_start record's
/// wall-clock time: those vehicle records carry sealed_after_utc, which verify_chain
/// accepts (docs/records.md, "Time order"); `late` counts them.
std::size_t chain_findings(std::vector<packet::Packet> packets, const std::string& id,
                           const crypto::VerifyKey& key, chain::ChainSummary& summary,
                           std::size_t& late) {
  chain::KeyRegistry keys;
  keys.add(id, key);
  late = 0;
  for (const auto& p : packets)
    if (p.manifest().sealed_after_unix_us) ++late;
  const auto findings = chain::verify_chain(std::move(packets), keys, true, &summary);
  for (const auto& f : findings)
    UNSCOPED_INFO("seq " << f.seq << " " << chain::to_string(f.problem) << " " << f.detail);
  return findings.size();
}

}  // namespace

SCENARIO("run-many: three stations in one process, each chain arrives complete and verifies") {
  GIVEN("three stations with the sim camera and the real collector knowing all three") {
    City city(3);
    test::TempDir data("run-many-collector");
    test::LocalCollector collector(city.dir / "pki", data.path(), city.public_keys());
    city.write_configs(collector.port(), true);

    WHEN("one process runs them until every record is acknowledged, then stops") {
      edge::StationGroup group({city.config("G001"), city.config("G002"), city.config("G003")},
                               quick_retry_options());
      REQUIRE(group.size() == 3);
      group.start();
      const bool drained = test::wait_for(
          [&] {
            for (std::size_t i = 0; i < group.size(); ++i) {
              auto& s = group.station(i);
              if (!s.weighing_ended() ||
                  collector.store().chain(s.config().station_id).highest_seq !=
                      static_cast<std::int64_t>(s.sealer().last_seq()))
                return false;
            }
            return true;
          },
          120);
      group.stop("test over");

      THEN("each station's chain (collector + what is left in its outbox) is complete") {
        CHECK(drained);
        CHECK(group.failed_count() == 0);
#ifdef WIM_ANPR_MODEL_DIR
        CHECK(group.plate_models_loaded() == 1);  // one model for the three cameras
#endif
        int violations_with_plate = 0;
        for (std::size_t i = 0; i < group.size(); ++i) {
          auto& s = group.station(i);
          const std::string id = s.config().station_id;
          INFO("station " << id);
          std::map<std::uint64_t, packet::Packet> chain;
          for (auto& p : collector.stored_packets(id)) {
            const auto seq = p.manifest().seq;
            chain.emplace(seq, std::move(p));
          }
          for (auto& p : test::outbox_packets(s.outbox())) {
            const auto seq = p.manifest().seq;
            chain.emplace(seq, std::move(p));
          }
          std::vector<packet::Packet> packets;
          for (auto& [seq, p] : chain) {
            const auto m = p.manifest();
            CHECK(m.station_id == id);
            if (m.kind == record::Kind::violation && m.measurement && m.measurement->plate &&
                !m.measurement->plate->text.empty())
              ++violations_with_plate;
            packets.push_back(std::move(p));
          }
          chain::ChainSummary summary;
          const auto stops = test::events_of(packets, "station_stop");
          std::size_t late = 0;
          CHECK(chain_findings(std::move(packets), id, city.keys.at(id).public_key(), summary,
                               late) == 0);
          WARN(id << ": " << late << " vehicle records sealed after a later chain time");
          CHECK(summary.first_seq == 1);
          CHECK(summary.last_seq == s.sealer().last_seq());
          CHECK(summary.records == s.sealer().last_seq());
          // station_start, the vehicles, station_stop (sent, or still in the outbox).
          CHECK(summary.last_seq >= 3);
          REQUIRE(stops.size() == 1);
          CHECK(stops[0].seq == summary.last_seq);
        }
#ifdef WIM_ANPR_MODEL_DIR
        CHECK(violations_with_plate > 0);
#endif
      }
    }
  }
}

SCENARIO("run-many: a bad config in the folder is refused, naming the file and field") {
  GIVEN("a folder of three stations, G002's uplink CA file missing") {
    City city(3);
    city.write_configs(1, false);
    auto cfg = json::load_file(city.config("G002")).as_object();
    cfg["uplink"].as_object()["ca_file"] = (city.dir / "no-such-ca.pem").string();
    std::ofstream(city.config("G002")) << boost::json::serialize(cfg);

    WHEN("wim-edge run-many --config-dir is started") {
      std::string out;
      const int status =
          run_edge("run-many --new-chain --config-dir " + (city.dir / "stations").string(), out);
      THEN("it exits 2 naming G002's file and field; no station built an outbox") {
        INFO(out);
        CHECK(status == 2);
        CHECK_THAT(out, Catch::Contains(city.config("G002").string()));
        CHECK_THAT(out, Catch::Contains("uplink.ca_file"));
        CHECK_THAT(out, Catch::Contains("no station started"));
        for (const auto& id : city.ids)
          CHECK_FALSE(std::filesystem::exists(city.dir / "stations" / id / "outbox.db"));
      }
    }
  }
#ifdef WIM_ANPR_MODEL_DIR
  GIVEN("a station whose camera names an OCR folder that is not there") {
    City city(2);
    city.write_configs(1, true);
    auto cfg = json::load_file(city.config("G002")).as_object();
    cfg["camera"].as_object()["ocr_dir"] = (city.dir / "no-such-ocr").string();
    std::ofstream(city.config("G002")) << boost::json::serialize(cfg);
    WHEN("wim-edge run-many --config-dir is started") {
      std::string out;
      const int status =
          run_edge("run-many --new-chain --config-dir " + (city.dir / "stations").string(), out);
      THEN("it exits 2 naming G002's file, camera.ocr_dir and the folder") {
        INFO(out);
        CHECK(status == 2);
        CHECK_THAT(out, Catch::Contains(city.config("G002").string() + ": camera.ocr_dir: '" +
                                        (city.dir / "no-such-ocr").string()));
        CHECK_THAT(out, Catch::Contains("no station started"));
      }
    }
  }
#endif
  GIVEN("two configs of the same station id") {
    City city(2);
    city.write_configs(1, false);
    auto cfg = json::load_file(city.config("G002")).as_object();
    cfg["station_id"] = "G001";
    std::ofstream(city.config("G002")) << boost::json::serialize(cfg);
    WHEN("both are given") {
      std::string out;
      const int status = run_edge("run-many --new-chain --config " + city.config("G001").string() +
                                      " --config " + city.config("G002").string(),
                                  out);
      THEN("it is refused: the second file's station_id is already used by the first") {
        INFO(out);
        CHECK(status == 2);
        CHECK_THAT(out, Catch::Contains(city.config("G002").string() +
                                        ": station_id: 'G001' is "
                                        "already used by " +
                                        city.config("G001").string()));
        CHECK_FALSE(std::filesystem::exists(city.dir / "stations" / "G001" / "outbox.db"));
      }
    }
  }
}

SCENARIO("run-many: a provisioned station without its outbox is refused with exit 3") {
  GIVEN("two complete station configs whose outboxes do not exist yet") {
    City city(2);
    city.write_configs(1, false);
    WHEN("run-many starts without --new-chain (e.g. systemd before the first start)") {
      std::string out;
      const int status = run_edge("run-many --config-dir " + (city.dir / "stations").string(), out);
      THEN("it exits 3 (not retried by the unit), says why, and creates no outbox") {
        INFO(out);
        CHECK(status == 3);
        CHECK_THAT(out, Catch::Contains("does not exist: refusing to start a new chain"));
        CHECK_THAT(out, Catch::Contains("--new-chain"));
        for (const auto& id : city.ids)
          CHECK_FALSE(std::filesystem::exists(city.dir / "stations" / id / "outbox.db"));
      }
    }
  }
}

SCENARIO("run-many: SIGTERM stops every station of the process cleanly") {
  GIVEN("wim-edge run-many with two stations (collector unreachable: records stay queued)") {
    City city(2);
    city.write_configs(1, false);
    const auto log = city.dir / "run-many.log";
    const pid_t pid = ::fork();
    if (pid == 0) {
      FILE* f = std::freopen(log.c_str(), "w", stderr);
      if (f) ::dup2(::fileno(stderr), 1);
      const std::string bin = std::string(WIM_BINARY_DIR) + "/edge/wim-edge";
      const std::string dir = (city.dir / "stations").string();
      ::execl(bin.c_str(), bin.c_str(), "run-many", "--new-chain", "--config-dir", dir.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    REQUIRE(pid > 0);
    WHEN("both have started and the process gets SIGTERM") {
      const bool started = test::wait_for(
          [&] {
            return std::filesystem::exists(city.dir / "stations/G001/status.sock") &&
                   std::filesystem::exists(city.dir / "stations/G002/status.sock");
          },
          60);
      ::kill(pid, SIGTERM);
      int st = 0;
      ::waitpid(pid, &st, 0);
      THEN("it exits 0 and each outbox ends with that station's station_stop on SIGTERM") {
        INFO(test::slurp(log));
        CHECK(started);
        CHECK(WIFEXITED(st));
        CHECK(WEXITSTATUS(st) == 0);
        for (const auto& id : city.ids) {
          edge::OutboxOptions oo;
          oo.path = city.dir / "stations" / id / "outbox.db";
          oo.station_id = id;
          edge::Outbox box(oo);
          const auto packets = test::outbox_packets(box);
          REQUIRE_FALSE(packets.empty());
          const auto last = packets.back().manifest();
          CHECK(last.station_id == id);
          REQUIRE(last.event);
          CHECK(last.event->type == "station_stop");
          CHECK(test::events_of(packets, "station_start").size() == 1);
          CHECK_FALSE(std::filesystem::exists(city.dir / "stations" / id / "status.sock"));
        }
      }
    }
  }
}

SCENARIO("run-many: the collector restarted under load, stations resend, nothing lost or doubled") {
  GIVEN("four stations in one process sending to the real collector") {
    City city(4, 40);  // enough traffic that records are still being sealed at the restart
    test::TempDir data("run-many-restart");
    auto live =
        std::make_unique<test::LocalCollector>(city.dir / "pki", data.path(), city.public_keys());
    const std::uint16_t port = live->port();
    city.write_configs(port, false);

    // Many small batches: the restart falls between and inside them.
    const auto options = quick_retry_options(3);
    std::vector<std::filesystem::path> configs;
    for (const auto& id : city.ids) configs.push_back(city.config(id));
    edge::StationGroup group(configs, options);
    group.start();

    WHEN("the collector is stopped while records arrive, stays down, and comes back") {
      // Stopped as soon as every station has had at least one record stored.
      const bool first_stored = test::wait_for(
          [&] {
            for (const auto& id : city.ids)
              if (live->store().chain(id).highest_seq < 1) return false;
            return true;
          },
          120);
      live.reset();  // stop: sessions in flight are cut
      // What the first collector stored, read from its files while it is down.
      std::int64_t stored_before = 0;
      {
        const auto store = collector::open_sqlite_store(data / "meta.db");
        for (const auto& id : city.ids) stored_before += store->chain(id).record_count;
      }
      std::this_thread::sleep_for(1500ms);  // stations seal on, fail, back off
      live = std::make_unique<test::LocalCollector>(city.dir / "pki", data.path(),
                                                    city.public_keys(), port);
      const bool drained = test::wait_for(
          [&] {
            for (std::size_t i = 0; i < group.size(); ++i) {
              auto& s = group.station(i);
              if (!s.weighing_ended() || live->store().chain(s.config().station_id).highest_seq !=
                                             static_cast<std::int64_t>(s.sealer().last_seq()))
                return false;
            }
            return true;
          },
          180);
      group.stop("test over");
      const auto& after = live->counters();

      THEN("every record is stored once, none is missing, none conflicts, each chain verifies") {
        CHECK(first_stored);
        CHECK(drained);
        CHECK(group.failed_count() == 0);
        // The restarted collector saw the stations resume: it stored the records the first
        // one had not; what the first one stored and was sent again is a duplicate, never a
        // conflict or a rejection.
        CHECK(after.conflict == 0);
        CHECK(after.rejected == 0);
        CHECK(after.broken_tar == 0);
        CHECK(after.stored > 0);
        std::int64_t stored_total = 0;
        for (std::size_t i = 0; i < group.size(); ++i) {
          auto& s = group.station(i);
          const std::string id = s.config().station_id;
          INFO("station " << id);
          const auto sum = live->store().chain(id);
          // station_stop may still be queued in the outbox: sealed after the group stopped.
          const auto sealed = static_cast<std::int64_t>(s.sealer().last_seq());
          CHECK(sum.conflict_count == 0);
          CHECK(sum.missing.empty());
          CHECK(sum.highest_seq >= sealed - 1);
          CHECK(sum.record_count == sum.highest_seq);
          stored_total += sum.highest_seq;
          auto packets = live->stored_packets(id);
          CHECK(static_cast<std::int64_t>(packets.size()) == sum.highest_seq);
          chain::ChainSummary summary;
          std::size_t late = 0;
          CHECK(chain_findings(std::move(packets), id, city.keys.at(id).public_key(), summary,
                               late) == 0);
          WARN(id << ": " << late << " vehicle records sealed after a later chain time");
          CHECK(summary.first_seq == 1);
        }
        // Each record stored exactly once: the restarted collector stored exactly those the
        // first one had not (what was sent again is counted as a duplicate).
        CHECK(stored_before > 0);
        CHECK(static_cast<std::int64_t>(after.stored) == stored_total - stored_before);
      }
    }
  }
}
