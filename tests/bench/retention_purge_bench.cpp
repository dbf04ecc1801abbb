// SPDX-License-Identifier: Apache-2.0
// Image retention purge cost (issue 18; prints figures, not a ctest). A collector data folder
// with N ended (rejected) overload cases, each with its own photo, is purged as the daemon
// does hourly: the first run removes every photo (per case: a meta.db transaction, a signed
// audit entry, an unlink; with a spool, the case's tar rewritten), the runs after it find
// everything done. Baseline in the same process: one get_record per ended case (the least a
// run that looked at each case's record would cost).
// Usage: bench_retention_purge [cases=10000] [spool=no|yes|both]
// The photos are 2 KB each (not a station's 250 KB: 100 000 of those would need 25 GB of
// disk); the unlink's cost does not grow with the size, the spool rewrite's does (the tar is
// read and written whole), so the spool figures are a lower bound for real photos.
#include <cstdlib>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "../collector/test_util.hpp"
#include "../common/record_samples.hpp"
#include "wim/collector/chain_export.hpp"
#include "wim/collector/forward.hpp"
#include "wim/collector/ingest.hpp"
#include "wim/collector/registry.hpp"
#include "wim/collector/retention.hpp"
#include "wim/collector/review.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/json.hpp"
#include "wim/common/log.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/time.hpp"

using namespace wim;
using namespace wim::collector;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kDayUs = 86400LL * 1'000'000;

std::string load() {
  double l[3] = {0, 0, 0};
  if (::getloadavg(l, 3) < 1) return "load ?";
  char buf[48];
  std::snprintf(buf, sizeof buf, "load %.2f (1 min)", l[0]);
  return buf;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// A data folder with `n` rejected cases of station G001 (records 2..n+1, violations).
struct Folder {
  std::filesystem::path dir;
  crypto::SigningKey station_key = crypto::SigningKey::generate();
  std::unique_ptr<MetadataStore> store;
  std::unique_ptr<FileBlobStore> blobs;
  std::unique_ptr<Review> review;
  std::int64_t ended_us = time::parse_utc("2026-01-05T10:00:00Z");
  std::vector<std::string> case_ids;

  Folder(int n, bool spool) : dir(wim::collector::test::temp_dir("purge-bench")) {
    const auto t0 = Clock::now();
    const auto data = dir / "data";
    std::filesystem::create_directories(data);
    store = open_sqlite_store(data / "meta.db");
    blobs = std::make_unique<FileBlobStore>(data / "blobs");
    boost::json::array st{{{"id", "G001"},
                           {"location", {{"lat", 31.0}, {"lon", 121.0}}},
                           {"lanes", 2},
                           {"tls_cert_sha256", std::string(64, 'a')},
                           {"signing_key_pem", station_key.public_key().to_pem()}}};
    auto registry = std::make_shared<RegistryHolder>(
        Registry::parse(boost::json::serialize(boost::json::object{{"stations", st}}), "b", "."),
        "unused");
    Ingest ingest(*store, *blobs, registry);
    Forwarder forwarder(data / "cases.db", *store, *blobs);
    ingest.add_observer(&forwarder);
    chain::ChainWriter writer{"G001", station_key, 0, ""};
    std::vector<packet::Packet> batch;
    const auto flush = [&] {
      ingest.ingest("G001", batch);
      batch.clear();
    };
    auto start = wim::test::event_record("station_start", wim::test::kT0_us);
    start.station_id = "G001";
    batch.push_back(writer.append(start, {}));
    for (int i = 0; i < n; ++i) {
      auto m = wim::test::violation_record(wim::test::kT0_us + (i + 1) * 1'000'000LL);
      m.station_id = "G001";
      auto files = wim::test::violation_attachments();
      files["plate.jpg"] = std::string(2048, static_cast<char>('a' + i % 26)) + std::to_string(i);
      batch.push_back(writer.append(m, files));
      case_ids.push_back(packet::dir_name("G001", writer.last_seq()));
      if (batch.size() == 500) flush();
    }
    flush();
    const double ingest_s = seconds_since(t0);
    if (spool) {
      SpoolSink sink(dir / "spool",
                     [&](const std::string&) { return station_key.public_key().to_pem(); });
      for (const auto& c : forwarder.cases("", case_ids.size())) {
        const auto p = load_stored_packet(*store, *blobs, c.station_id, c.seq);
        sink.deliver(c, *p);
      }
    }
    const double spool_s = seconds_since(t0) - ingest_s;
    std::int64_t now = ended_us;
    review = std::make_unique<Review>(
        data / "cases.db", crypto::SigningKey::generate(), ReviewOptions{}, [&now] { return now; },
        [](const std::string&) {
          return record::Plate{"沪A12345", "blue", 0.95, false};
        });
    const Actor tina{"tina", Role::transport_reviewer};
    for (const auto& id : case_ids) review->reject(tina, id, "bench");
    // The review's clock is fixed from here on: the purge runs take their own `now`.
    review = std::make_unique<Review>(
        data / "cases.db", crypto::SigningKey::generate(), ReviewOptions{},
        [t = ended_us] { return t; }, [](const std::string&) { return record::Plate{}; });
    std::printf(
        "seeded %d cases in %.1f s (ingest %.1f s, spool tars %.1f s, rejects %.1f s), %s\n", n,
        seconds_since(t0), ingest_s, spool_s, seconds_since(t0) - ingest_s - spool_s,
        load().c_str());
  }
  ~Folder() { std::filesystem::remove_all(dir); }
};

void run(int n, bool spool) {
  std::printf("--- %d cases, %s\n", n, spool ? "with a spool folder" : "no spool");
  Folder f(n, spool);
  const auto meta = f.dir / "data" / "meta.db";
  const auto spool_dir = spool ? f.dir / "spool" : std::filesystem::path();
  // Baseline: read every ended case's record once.
  auto t0 = Clock::now();
  const auto ended = f.review->ended_before(f.ended_us + kDayUs);
  std::size_t found = 0;
  for (const auto& [id, at] : ended) {
    std::string station;
    std::uint64_t seq = 0;
    packet::parse_dir_name(id, station, seq);
    found += f.store->get_record(station, static_cast<std::int64_t>(seq)) ? 1 : 0;
  }
  const double base_s = seconds_since(t0);
  std::printf("baseline: ended_before + get_record of %zu cases: %.2f s = %.0f cases/s, %s\n",
              found, base_s, found / base_s, load().c_str());
  std::int64_t now = f.ended_us + 31 * kDayUs;
  for (int pass = 1; pass <= 3; ++pass, now += 3600'000'000LL) {
    t0 = Clock::now();
    const auto r = purge_images(meta, *f.blobs, *f.store, *f.review, 30, now, spool_dir);
    const double s = seconds_since(t0);
    std::printf(
        "run %d: %.2f s = %.0f cases/s (%.2f x baseline time); purged %zu, already done %lld, "
        "files removed %lld, spool tars rewritten %lld, problems %zu; %s\n",
        pass, s, n / s, s / base_s, r.cases.size(), static_cast<long long>(r.cases_already_done),
        static_cast<long long>(r.files_removed), static_cast<long long>(r.spool_rewritten),
        r.spool_problems.size(), load().c_str());
    if (pass == 1 && static_cast<int>(r.cases.size()) != n) {
      std::fprintf(stderr, "run 1 purged %zu of %d cases\n", r.cases.size(), n);
      std::exit(1);
    }
    if (pass > 1 && r.cases_already_done != n) {
      std::fprintf(stderr, "run %d skipped %lld of %d cases\n", pass,
                   static_cast<long long>(r.cases_already_done), n);
      std::exit(1);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  log::set_min_level(log::Level::error);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each figure as it comes (runs take minutes)
  const int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  const std::string spool = argc > 2 ? argv[2] : "no";
  if (n < 1 || (spool != "no" && spool != "yes" && spool != "both")) {
    std::cerr << "usage: bench_retention_purge [cases=10000] [spool=no|yes|both]\n";
    return 2;
  }
  if (spool != "yes") run(n, false);
  if (spool != "no") run(n, true);
  return 0;
}
