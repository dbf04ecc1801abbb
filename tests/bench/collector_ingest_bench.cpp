// SPDX-License-Identifier: Apache-2.0
// Collector benchmarks (prints figures; not a ctest):
//  1. ingest rate with full verification and durable commit (SQLite WAL synchronous=FULL,
//     fsync'd blobs), in-process, next to `openssl speed -seconds 3 ed25519` verify/s
//     measured in the same run (the ceiling: one verification per record);
//  2. acknowledgement latency over HTTPS + mutual TLS with N stations each sending one
//     record every 500 ms (2 records/s), p50/p99.
// Both for each way of syncing blob files (BlobSync). The machine is shared: every figure
// carries the load average (1 min) read when it was taken.
// Usage: bench_collector_ingest [records=3000] [stations=51] [latency_seconds=10]
//                               [blob_sync=both|per_file|syncfs] [part=all|rate|latency]
//                               [attachments=photo|fake|both] [phase=spread|locked]
// phase (ack latency only): `spread` (default) = independent stations: each starts at its
// own offset within the 500 ms period and has its violations at its own place in the cycle
// of ten; `locked` = every station sends at the same instant and all 51 violations (with
// photos: 36 MB) arrive in the same tick, a worst case no real city produces.
// Attachments of the violations (one record in ten): `photo` (default) = what a station
// sends, 2 JPEG-sized files of 250 KB (plate.jpg, overview.jpg) + a 200 KB waveform.csv,
// every byte distinct per record; `fake` = the 24-byte stand-ins of the unit tests. `both`
// runs each part with each, side by side.
#include <sys/resource.h>

#include <cstdlib>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>

#include "../collector/https_client.hpp"
#include "../collector/test_util.hpp"
#include "../common/record_samples.hpp"
#include "wim/collector/api.hpp"
#include "wim/collector/config.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/json.hpp"
#include "wim/common/log.hpp"

using namespace wim;
using namespace wim::collector;
using Clock = std::chrono::steady_clock;

namespace {

double cpu_s() {  // [s] user + system CPU of this process, all threads
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// "load 1.23 (1 min) on N cpus": printed next to every figure.
std::string load() {
  double l[3] = {0, 0, 0};
  char buf[64];
  if (::getloadavg(l, 3) < 1) return "load ?";
  std::snprintf(buf, sizeof buf, "load %.2f (1 min) on %u cpus", l[0],
                std::thread::hardware_concurrency());
  return buf;
}

/// "N requests in M commit groups, K blob syncs; load ...": how well commits were shared.
std::string grouping(const IngestCounters& c, const FileBlobStore& blobs) {
  return std::to_string(c.requests.load()) + " requests in " +
         std::to_string(c.commit_groups.load()) + " commit groups, " +
         std::to_string(blobs.syncs()) + " blob syncs; " + load();
}

/// `openssl speed` verify/s of one core: CPU time by default, wall clock with -elapsed
/// (what a loaded machine actually gives one thread, comparable to our wall-clock rate).
double openssl_verify_per_s(bool elapsed) {
  FILE* p = ::popen(elapsed ? "openssl speed -elapsed -seconds 3 ed25519 2>/dev/null"
                            : "openssl speed -seconds 3 ed25519 2>/dev/null",
                    "r");
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

constexpr std::size_t kPhotoBytes = 250 * 1024;     // one JPEG of a violation
constexpr std::size_t kWaveformBytes = 200 * 1024;  // the raw waveform around the vehicle

/// `n` bytes that differ for every (seed, n): xorshift64, so blobs never deduplicate.
std::string pseudo_random_bytes(std::size_t n, std::uint64_t seed) {
  std::string out(n, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x >> 56);
  }
  return out;
}

/// A violation's attachments as a station sends them: 2 photos + the waveform.
std::map<std::string, std::string> photo_attachments(std::uint64_t seed) {
  auto plate = pseudo_random_bytes(kPhotoBytes, seed * 3);
  auto overview = pseudo_random_bytes(kPhotoBytes, seed * 3 + 1);
  plate.replace(0, 4, "\xff\xd8\xff\xe0");  // JPEG SOI + APP0
  overview.replace(0, 4, "\xff\xd8\xff\xe0");
  return {{"plate.jpg", std::move(plate)},
          {"overview.jpg", std::move(overview)},
          {"waveform.csv", pseudo_random_bytes(kWaveformBytes, seed * 3 + 2)}};
}

struct Sim {
  std::string id;
  crypto::SigningKey key = crypto::SigningKey::generate();
  std::unique_ptr<chain::ChainWriter> writer;
  bool photos = true;       // photo-sized attachments, else the 24-byte fakes
  int violation_phase = 0;  // this station's violations are the seqs n with n % 10 == phase
  explicit Sim(std::string i) : id(std::move(i)) { restart(); }
  /// A fresh chain from seq 1 (each rate run stores into an empty database).
  void restart() { writer = std::make_unique<chain::ChainWriter>(id, key, 0, ""); }
  packet::Packet next() {
    const auto n = static_cast<std::int64_t>(writer->last_seq()) + 1;
    bool violation = n % 10 == violation_phase;  // one overload in ten, with attachments
    auto m = violation ? wim::test::violation_record(wim::test::kT0_us + n * 500'000)
                       : wim::test::pass_record(wim::test::kT0_us + n * 500'000);
    m.station_id = id;
    std::map<std::string, std::string> files;
    if (violation && photos) {
      files = photo_attachments(std::hash<std::string>{}(id) ^ static_cast<std::uint64_t>(n));
    } else if (violation) {
      files = wim::test::violation_attachments();
      for (auto& [name, bytes] : files) bytes += id + "/" + std::to_string(n);  // all differ
    }
    return writer->append(m, std::move(files));
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
  const std::string sync_arg = argc > 4 ? argv[4] : "both";
  const std::string part = argc > 5 ? argv[5] : "all";
  const std::string attach_arg = argc > 6 ? argv[6] : "photo";
  const std::string phase_arg = argc > 7 ? argv[7] : "spread";
  std::vector<std::string> attach_modes;
  if (attach_arg == "both" || attach_arg == "fake") attach_modes.push_back("fake");
  if (attach_arg == "both" || attach_arg == "photo") attach_modes.push_back("photo");
  std::vector<std::pair<std::string, BlobSync>> syncs;
  if (sync_arg == "both" || sync_arg == "per_file")
    syncs.emplace_back("per_file", BlobSync::per_file);
  if (sync_arg == "both" || sync_arg == "syncfs") syncs.emplace_back("syncfs", BlobSync::syncfs);
  if (records < 1 || stations < 1 || seconds < 1 || syncs.empty() ||
      (part != "all" && part != "rate" && part != "latency") || attach_modes.empty() ||
      (phase_arg != "spread" && phase_arg != "locked")) {
    std::fprintf(stderr,
                 "usage: bench_collector_ingest [records>=1] [stations>=1] [latency_seconds>=1] "
                 "[blob_sync=both|per_file|syncfs] [part=all|rate|latency] "
                 "[attachments=photo|fake|both] [phase=spread|locked]\n");
    return 2;
  }
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
  const IngestOptions ingest_options = CollectorConfig{}.ingest;  // the config defaults
  std::printf("start: %s; ingest verify_threads %d + 1 commit thread\n", load().c_str(),
              ingest_options.verify_threads);

  // 1. Ingest rate: the same requests from one thread (each request waits for its own
  //    commit), from `kSenders` threads and from one thread per station (that many
  //    requests in flight: the verify pool works in parallel and the commit thread groups
  //    what is verified meanwhile).
  const double ceiling = openssl_verify_per_s(false);
  std::printf(
      "openssl speed ed25519 verify (same run, CPU time of one core): %.0f verify/s "
      "(one verify per record); %s\n",
      ceiling, load().c_str());
  const double ceiling_wall = openssl_verify_per_s(true);
  std::printf(
      "openssl speed -elapsed ed25519 verify (same run, wall clock, one thread): %.0f "
      "verify/s; %s\n",
      ceiling_wall, load().c_str());
  const int batch = 50;
  const int kSenders = 8;
  std::vector<std::vector<std::string>> tars_by_station(sims.size());
  std::size_t tar_bytes = 0;
  // The rate runs' requests: every station's chain from seq 1, `photos` or fake attachments.
  auto make_tars = [&](bool photos) {
    tar_bytes = 0;
    for (auto& v : tars_by_station) v.clear();
    for (auto& sim : sims) {
      sim->photos = photos;
      sim->restart();
    }
    int made = 0;
    while (made < records)
      for (std::size_t k = 0; k < sims.size() && made < records; ++k) {
        std::vector<packet::Packet> ps;
        for (int i = 0; i < batch && made < records; ++i, ++made) ps.push_back(sims[k]->next());
        tars_by_station[k].push_back(packet::to_tar(ps));
        tar_bytes += tars_by_station[k].back().size();
      }
  };
  int run_no = 0;
  std::string attach_name;
  auto run_rate = [&](const std::string& name, int senders, BlobSync sync) {
    const auto base = dir / ("rate-" + std::to_string(++run_no));
    auto store = open_sqlite_store(base.string() + ".db");
    FileBlobStore blobs(base.string() + "-blobs", sync);
    Ingest ingest(*store, blobs, registry, ingest_options);
    std::atomic<std::size_t> stored{0};
    const double cpu0 = cpu_s();
    auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < senders; ++t)
      ts.emplace_back([&, t] {
        // Sender t owns stations t, t+senders, ...: one station's requests stay in order.
        for (std::size_t k = t; k < sims.size(); k += senders)
          for (const auto& tar : tars_by_station[k])
            for (const auto& r : ingest.ingest_tar(sims[k]->id, tar).results)
              stored += r.status == "stored";
      });
    for (auto& th : ts) th.join();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    const double cpu = cpu_s() - cpu0;
    std::printf(
        "ingest %-25s %zu records (%d per request, 10%% violations with %s attachments)"
        " in %.2f s = %.0f records/s (target >= 2000), %.1f MB/s of tars (%.1f MB); "
        "ingest/openssl-verify = %.2f (cpu), %.2f (-elapsed); %s\n",
        (name + "/" + attach_name).c_str(), stored.load(), batch,
        attach_name == "photo" ? "2x250 KB jpeg + 200 KB waveform" : "2 fake 24-byte", s,
        stored / s, tar_bytes / 1e6 / s, tar_bytes / 1e6, ceiling > 0 ? stored / s / ceiling : 0.0,
        ceiling_wall > 0 ? stored / s / ceiling_wall : 0.0,
        grouping(ingest.counters(), blobs).c_str());
    std::printf(
        "  cpu: %.2f s user+sys = %.0f us per record; records per cpu-second %.0f (what 1 idle "
        "core would carry; the rest of the wall time is waiting for syncs or for a core)\n",
        cpu, cpu * 1e6 / std::max<std::size_t>(1, stored), stored / std::max(cpu, 1e-9));
    return stored / s;
  };
  if (part != "latency")
    for (const auto& mode : attach_modes)
      for (const auto& [sync_name, sync] : syncs) {
        if (attach_name != mode) {
          attach_name = mode;
          make_tars(mode == "photo");
        }
        const double seq_rate = run_rate("1-sender/" + sync_name, 1, sync);
        const double par_rate =
            run_rate(std::to_string(kSenders) + "-senders/" + sync_name, kSenders, sync);
        std::printf("  %d senders / 1 sender = %.2f (%s)\n", kSenders, par_rate / seq_rate,
                    sync_name.c_str());
        // Every station catching up its backlog at once: one request in flight per station.
        if (stations > kSenders)
          run_rate(std::to_string(stations) + "-senders/" + sync_name, stations, sync);
      }

  // 2. Ack latency over HTTPS with `stations` stations at 2 records/s each, served as
  //    wim-collector serves them (async handler, the config's io and verify threads).
  for (auto& v : tars_by_station) v = {};  // free the rate runs' requests
  if (part != "rate")
    for (const auto& mode : attach_modes)
      for (const auto& [sync_name, sync] : syncs) {
        for (std::size_t i = 0; i < sims.size(); ++i) {
          sims[i]->photos = mode == "photo";
          sims[i]->violation_phase = phase_arg == "spread" ? static_cast<int>(i % 10) : 0;
        }
        const auto base = dir / ("lat-" + std::to_string(++run_no));
        auto store = open_sqlite_store(base.string() + ".db");
        FileBlobStore blobs(base.string() + "-blobs", sync);
        Ingest ingest(*store, blobs, registry, ingest_options);
        Monitor monitor(*store, {});
        Api api(ingest, *store, monitor, registry);
        boost::asio::io_context ioc;
        auto tls = make_server_tls(pki / "collector.cert.pem", pki / "collector.key.pem",
                                   pki / "ca.cert.pem");
        ServerOptions so;
        Server server(ioc, so, AsyncHandler([&](Request&& r, const Peer& p, Respond respond) {
                        api.station_async(std::move(r), p, std::move(respond));
                      }),
                      &tls, registry);
        std::vector<std::thread> io;
        const int io_threads = CollectorConfig{}.threads;  // the config default
        auto work = boost::asio::make_work_guard(ioc);
        for (int i = 0; i < io_threads; ++i) io.emplace_back([&] { ioc.run(); });
        std::mutex mu;
        // Acks on an open connection (all, and those sent once every station had connected:
        // the steady state without 51 TLS handshakes competing for the 2 cores); TLS set-up.
        std::vector<double> lat_ms, steady_ms, handshake_ms;
        std::atomic<int> failures{0}, connected_count{0};
        std::vector<std::thread> clients;
        const auto end = Clock::now() + std::chrono::seconds(seconds);
        for (std::size_t si = 0; si < sims.size(); ++si) {
          // spread: station si starts si/N of the way into the 500 ms period.
          const auto offset = phase_arg == "spread"
                                  ? std::chrono::milliseconds(500 * si / sims.size())
                                  : std::chrono::milliseconds(0);
          clients.emplace_back([&, offset, s = sims[si].get()] {
            wim::collector::test::Client c(server.port(), pki / "ca.cert.pem",
                                           pki / "stations" / (s->id + ".cert.pem"),
                                           pki / "stations" / (s->id + ".key.pem"));
            auto h0 = Clock::now();
            const bool connected = c.connect();
            {
              std::lock_guard l(mu);
              handshake_ms.push_back(
                  std::chrono::duration<double, std::milli>(Clock::now() - h0).count());
            }
            if (!connected) ++failures;
            ++connected_count;
            auto next = Clock::now() + offset;
            std::this_thread::sleep_until(next);
            while (connected && next < end) {
              auto tar = packet::to_tar({s->next()});
              const bool steady = connected_count.load() == static_cast<int>(sims.size());
              auto t0 = Clock::now();
              auto r = c.post("/v1/records", tar, "application/x-tar");
              double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
              if (!r.ok || r.status != 200 || r.body.find("\"stored\"") == std::string::npos)
                ++failures;
              {
                std::lock_guard l(mu);
                lat_ms.push_back(ms);
                if (steady) steady_ms.push_back(ms);
              }
              next += std::chrono::milliseconds(500);
              std::this_thread::sleep_until(next);
            }
          });
        }
        for (auto& t : clients) t.join();
        ingest.stop();
        work.reset();
        ioc.stop();
        for (auto& t : io) t.join();
        for (auto* v : {&lat_ms, &steady_ms, &handshake_ms}) std::sort(v->begin(), v->end());
        auto pct = [](const std::vector<double>& v, double p) {
          return v.empty() ? 0.0
                           : v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
        };
        std::printf(
            "ack latency/%s/%s attachments/%s: %d stations x 2 records/s for %d s over "
            "HTTPS+mTLS (keep-alive, %d "
            "io threads): %zu acks, %d failures, p50 %.1f ms, p99 %.1f ms, max %.1f ms (target "
            "p99 < 100 ms); %s\n",
            sync_name.c_str(), mode.c_str(), phase_arg.c_str(), stations, seconds, io_threads,
            lat_ms.size(), failures.load(), pct(lat_ms, 0.50), pct(lat_ms, 0.99),
            lat_ms.empty() ? 0.0 : lat_ms.back(), grouping(ingest.counters(), blobs).c_str());
        std::printf(
            "  steady (sent after all %d stations had connected): %zu acks, p50 %.1f ms, p99 %.1f "
            "ms, max %.1f ms\n",
            stations, steady_ms.size(), pct(steady_ms, 0.50), pct(steady_ms, 0.99),
            steady_ms.empty() ? 0.0 : steady_ms.back());
        std::printf("  TLS connect (handshake, %d stations at once): p50 %.1f ms, max %.1f ms\n",
                    stations, pct(handshake_ms, 0.5),
                    handshake_ms.empty() ? 0.0 : handshake_ms.back());
      }
  std::printf("end: %s\n", load().c_str());
  std::filesystem::remove_all(dir);
  return 0;
}
