// SPDX-License-Identifier: Apache-2.0
// Backlog drain rate: sealed records in the station outbox sent over mutual TLS to the REAL
// collector (in this process, 127.0.0.1; it verifies each signature and commits durably)
// until the outbox is empty, against a plain SQLite insert loop (WAL, synchronous=FULL,
// autocommit, as in outbox_bench) and the outbox's own durable append rate, measured in
// the same run on the same file system. Usage: uplink_drain_bench [records] [dir]
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "../common/record_samples.hpp"
#include "../edge/local_collector.hpp"
#include "wim/edge/outbox_sealer.hpp"
#include "wim/edge/uplink_client.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double plain_loop(const fs::path& p, int n) {
  fs::remove(p);
  sqlite3* db = nullptr;
  sqlite3_open(p.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  sqlite3_exec(db, "CREATE TABLE t(seq INTEGER PRIMARY KEY, packet BLOB)", nullptr, nullptr,
               nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?)", -1, &st, nullptr);
  auto t0 = Clock::now();
  for (int i = 1; i <= n; ++i) {
    std::string b(2000, static_cast<char>('a' + i % 26));
    sqlite3_bind_int64(st, 1, i);
    sqlite3_bind_blob(st, 2, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_reset(st);
  }
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n / s;
}

struct DrainFigures {
  double seal_rate = 0;   ///< [rec/s] sealed + committed durably to the outbox
  double drain_rate = 0;  ///< [rec/s] sent, verified and stored by the collector, removed
  std::size_t batches = 0;
  std::uint64_t bytes = 0;  ///< [B] packet bytes drained
};

DrainFigures drain(const fs::path& dir, int n, std::size_t batch_records) {
  fs::remove_all(dir);
  fs::create_directories(dir / "coll");
  wim::test::make_pki(dir / "pki", "G017");
  const auto key = wim::crypto::SigningKey::generate();
  wim::edge::OutboxOptions oo;
  oo.path = dir / "outbox.db";
  oo.station_id = "G017";
  oo.create_new_chain = true;
  wim::edge::Outbox box(oo);
  wim::edge::OutboxSealer sealer(box, "G017", key, wim::test::kSoftwareSha);
  DrainFigures f;
  std::int64_t t_us = wim::time::now_unix_us();
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    t_us += 2'000'000;
    if (i % 10 == 9)
      sealer.commit(wim::test::violation_record(t_us), wim::test::violation_attachments());
    else
      sealer.commit(wim::test::pass_record(t_us));
  }
  f.seal_rate = n / std::chrono::duration<double>(Clock::now() - t0).count();
  f.bytes = box.stats().stored_bytes;

  wim::test::LocalCollector collector(dir / "pki", dir / "coll", "G017", key.public_key());
  auto cfg = wim::test::uplink_config(dir / "pki", "G017", collector.port());
  cfg.batch_max_records = batch_records;
  wim::edge::UplinkClient client(cfg, box, nullptr);
  t0 = Clock::now();
  auto r = client.run_once();
  f.drain_rate = n / std::chrono::duration<double>(Clock::now() - t0).count();
  f.batches = r.batches;
  if (box.stats().depth != 0 || collector.store().chain("G017").acked_seq != n)
    std::fprintf(stderr, "DRAIN INCOMPLETE: depth %llu, collector acked %lld\n",
                 static_cast<unsigned long long>(box.stats().depth),
                 static_cast<long long>(collector.store().chain("G017").acked_seq));
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::stoi(argv[1]) : 1000;
  const fs::path base_dir = argc > 2 ? fs::path(argv[2]) : fs::temp_directory_path();
  const fs::path dir = base_dir / ("wim-drain-bench-" + std::to_string(std::random_device{}()));
  const double plain = plain_loop(base_dir / "wim-drain-bench-plain.db", n);
  fs::remove(base_dir / "wim-drain-bench-plain.db");
  fs::remove(base_dir / "wim-drain-bench-plain.db-wal");
  fs::remove(base_dir / "wim-drain-bench-plain.db-shm");
  std::printf("records: %d (every 10th a violation with attachments), dir %s\n", n,
              base_dir.c_str());
  std::printf("plain SQLite insert, WAL, sync FULL, autocommit : %9.0f rec/s (baseline)\n", plain);
  for (std::size_t batch : {std::size_t{200}, std::size_t{20}}) {
    auto f = drain(dir, n, batch);
    std::printf("outbox seal+commit (signed, durable per record) : %9.0f rec/s (%.2fx)\n",
                f.seal_rate, f.seal_rate / plain);
    std::printf("drain to local collector, batch %3zu (%zu POSTs, %.1f MB): %9.0f rec/s (%.2fx)\n",
                batch, f.batches, f.bytes / 1e6, f.drain_rate, f.drain_rate / plain);
  }
  fs::remove_all(dir);
  return 0;
}
