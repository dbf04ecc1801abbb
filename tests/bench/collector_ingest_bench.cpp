// SPDX-License-Identifier: Apache-2.0
// Collector benchmarks (prints figures; not a ctest):
//  1. ingest rate with full verification and durable commit (SQLite WAL synchronous=FULL,
//     fsync'd blobs), in-process, next to `openssl speed -seconds 3 ed25519` verify/s
//     measured in the same run (the ceiling: one verification per record);
//  2. acknowledgement latency over HTTPS + mutual TLS with N stations each sending one
//     record every 500 ms (2 records/s), p50/p99.
// Usage: bench_collector_ingest [records=3000] [stations=51] [latency_seconds=10]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "../collector/https_client.hpp"
#include "../collector/test_util.hpp"
#include "../common/record_samples.hpp"
#include "wim/collector/api.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/json.hpp"
#include "wim/common/log.hpp"

using namespace wim;
using namespace wim::collector;
using Clock = std::chrono::steady_clock;

namespace {

double openssl_verify_per_s() {
  FILE* p = ::popen("openssl speed -seconds 3 ed25519 2>/dev/null", "r");
  if (!p) return 0;
  char line[512];
  double verify = 0;
  while (std::fgets(line, sizeof line, p)) {
    std::string s(line);
    if (s.find("EdDSA (Ed25519)") == std::string::npos || s.find('s') == 0) continue;
    // "...  0.0000s   0.0001s  sign/s  verify/s"
    double a, b, sign_s, verify_s;
    auto pos = s.find(')');
    if (std::sscanf(s.c_str() + pos + 1, " %lfs %lfs %lf %lf", &a, &b, &sign_s, &verify_s) == 4)
      verify = verify_s;
  }
  ::pclose(p);
  return verify;
}

struct Sim {
  std::string id;
  crypto::SigningKey key = crypto::SigningKey::generate();
  chain::ChainWriter writer{id, key, 0, ""};
  explicit Sim(std::string i) : id(std::move(i)) {}
  packet::Packet next() {
    const auto n = static_cast<std::int64_t>(writer.last_seq()) + 1;
    bool violation = n % 10 == 0;  // one overload in ten passes, with attachments
    auto m = violation ? wim::test::violation_record(wim::test::kT0_us + n * 500'000)
                       : wim::test::pass_record(wim::test::kT0_us + n * 500'000);
    m.station_id = id;
    return writer.append(
        m, violation ? wim::test::violation_attachments() : std::map<std::string, std::string>{});
  }
};

std::string registry_json(const std::vector<std::unique_ptr<Sim>>& sims,
                          const std::filesystem::path& pki) {
  boost::json::array st;
  for (const auto& s : sims)
    st.push_back({{"id", s->id},
                  {"location", {{"lat", 31.0}, {"lon", 121.0}}},
                  {"lanes", 2},
                  {"tls_cert_sha256_file", (pki / "stations" / (s->id + ".sha256")).string()},
                  {"signing_key_pem", s->key.public_key().to_pem()}});
  return boost::json::serialize(boost::json::object{{"stations", st}});
}

}  // namespace

int main(int argc, char** argv) {
  const int records = argc > 1 ? std::atoi(argv[1]) : 3000;
  const int stations = argc > 2 ? std::atoi(argv[2]) : 51;
  const int seconds = argc > 3 ? std::atoi(argv[3]) : 10;
  wim::log::set_min_level(wim::log::Level::error);

  auto dir = wim::collector::test::temp_dir("bench");
  auto pki = dir / "pki";
  std::string ids;
  std::vector<std::unique_ptr<Sim>> sims;
  for (int i = 1; i <= stations; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "B%03d", i);
    sims.push_back(std::make_unique<Sim>(id));
    ids += std::string(" ") + id;
  }
  if (std::system((std::string(WIM_SOURCE_DIR) + "/scripts/make-ca.sh " + pki.string() + ids +
                   " >/dev/null")
                      .c_str()) != 0)
    return 1;
  wim::collector::test::write_file(dir / "registry.json", registry_json(sims, pki));
  auto registry = std::make_shared<RegistryHolder>(dir / "registry.json");

  // 1. Ingest rate.
  const double ceiling = openssl_verify_per_s();
  {
    auto store = open_sqlite_store(dir / "rate.db");
    FileBlobStore blobs(dir / "rate-blobs");
    Ingest ingest(*store, blobs, registry);
    const int batch = 50;
    std::vector<std::string> tars;
    int made = 0;
    while (made < records) {
      for (auto& s : sims) {
        std::vector<packet::Packet> ps;
        for (int i = 0; i < batch && made < records; ++i, ++made) ps.push_back(s->next());
        if (!ps.empty()) tars.push_back(packet::to_tar(ps));
        if (made >= records) break;
      }
    }
    auto t0 = Clock::now();
    std::size_t stored = 0;
    for (std::size_t i = 0; i < tars.size(); ++i) {
      const auto& id = sims[i % sims.size()]->id;
      for (const auto& r : ingest.ingest_tar(id, tars[i]).results) stored += r.status == "stored";
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf(
        "ingest: %zu records (%d per request, 10%% violations with 2 attachments) in %.2f s"
        " = %.0f records/s (target >= 2000)\n",
        stored, batch, s, stored / s);
    std::printf("openssl speed ed25519 verify (same run): %.0f verify/s; ingest/ceiling = %.2f\n",
                ceiling, ceiling > 0 ? stored / s / ceiling : 0.0);
  }

  // 2. Ack latency over HTTPS with `stations` stations at 2 records/s each.
  {
    auto store = open_sqlite_store(dir / "lat.db");
    FileBlobStore blobs(dir / "lat-blobs");
    Ingest ingest(*store, blobs, registry);
    Monitor monitor(*store, {});
    Api api(ingest, *store, monitor, registry);
    boost::asio::io_context ioc;
    auto tls =
        make_server_tls(pki / "collector.cert.pem", pki / "collector.key.pem", pki / "ca.cert.pem");
    Server server(
        ioc, ServerOptions{}, [&](const Request& r, const Peer& p) { return api.station(r, p); },
        &tls, registry);
    std::vector<std::thread> io;
    for (int i = 0; i < 2; ++i) io.emplace_back([&] { ioc.run(); });
    std::mutex mu;
    std::vector<double> lat_ms;
    std::atomic<int> failures{0};
    std::vector<std::thread> clients;
    const auto end = Clock::now() + std::chrono::seconds(seconds);
    for (auto& sp : sims) {
      clients.emplace_back([&, s = sp.get()] {
        wim::collector::test::Client c(server.port(), pki / "ca.cert.pem",
                                       pki / "stations" / (s->id + ".cert.pem"),
                                       pki / "stations" / (s->id + ".key.pem"));
        auto next = Clock::now();
        while (next < end) {
          auto tar = packet::to_tar({s->next()});
          auto t0 = Clock::now();
          auto r = c.post("/v1/records", tar, "application/x-tar");
          double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
          if (!r.ok || r.status != 200 || r.body.find("\"stored\"") == std::string::npos)
            ++failures;
          {
            std::lock_guard l(mu);
            lat_ms.push_back(ms);
          }
          next += std::chrono::milliseconds(500);
          std::this_thread::sleep_until(next);
        }
      });
    }
    for (auto& t : clients) t.join();
    ioc.stop();
    for (auto& t : io) t.join();
    std::sort(lat_ms.begin(), lat_ms.end());
    auto pct = [&](double p) {
      return lat_ms.empty()
                 ? 0.0
                 : lat_ms[std::min(lat_ms.size() - 1, static_cast<std::size_t>(p * lat_ms.size()))];
    };
    std::printf(
        "ack latency: %d stations x 2 records/s for %d s over HTTPS+mTLS (keep-alive): "
        "%zu acks, %d failures, p50 %.1f ms, p99 %.1f ms, max %.1f ms (target p99 < 100 ms)\n",
        stations, seconds, lat_ms.size(), failures.load(), pct(0.50), pct(0.99),
        lat_ms.empty() ? 0.0 : lat_ms.back());
  }
  std::filesystem::remove_all(dir);
  return 0;
}
