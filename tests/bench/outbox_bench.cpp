// SPDX-License-Identifier: Apache-2.0
// Records per second committed durably to the outbox (WAL, synchronous=FULL, one
// transaction per record, chain head updated) against plain SQLite insert loops measured
// in the same run on the same file system. Usage: outbox_bench [records] [dir]
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "wim/common/crypto.hpp"
#include "wim/edge/outbox.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::string payload(int i) {
  return std::string(600 + i % 200, static_cast<char>('a' + i % 26));
}

double plain_loop(const std::filesystem::path& p, int n, const char* pragmas, bool one_tx) {
  std::filesystem::remove(p);
  sqlite3* db = nullptr;
  sqlite3_open(p.c_str(), &db);
  sqlite3_exec(db, pragmas, nullptr, nullptr, nullptr);
  sqlite3_exec(db, "CREATE TABLE t(seq INTEGER PRIMARY KEY, packet BLOB)", nullptr, nullptr,
               nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?)", -1, &st, nullptr);
  auto t0 = Clock::now();
  if (one_tx) sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  for (int i = 1; i <= n; ++i) {
    auto b = payload(i);
    sqlite3_bind_int64(st, 1, i);
    sqlite3_bind_blob(st, 2, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_reset(st);
  }
  if (one_tx) sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n / s;
}

double outbox_loop(const std::filesystem::path& p, int n) {
  std::filesystem::remove(p);
  std::filesystem::remove(p.string() + "-wal");
  std::filesystem::remove(p.string() + "-shm");
  wim::edge::OutboxOptions o;
  o.path = p;
  o.station_id = "B001";
  o.create_new_chain = true;
  wim::edge::Outbox box(o);
  std::string prev;
  auto t0 = Clock::now();
  for (int i = 1; i <= n; ++i) {
    wim::edge::OutboxRecord r;
    r.seq = static_cast<std::uint64_t>(i);
    r.packet = payload(i);
    r.manifest_sha256 = wim::crypto::sha256_hex(r.packet);
    r.prev_sha256 = prev;
    r.created_unix_us = i;
    box.append(r);
    prev = r.manifest_sha256;
  }
  return n / std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::stoi(argv[1]) : 300;
  const std::filesystem::path dir =
      argc > 2 ? std::filesystem::path(argv[2]) : std::filesystem::temp_directory_path();
  const auto p = dir / "wim-outbox-bench.db";
  const double base =
      plain_loop(p, n, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL", false);
  const double wal_full =
      plain_loop(p, n, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", false);
  const double wal_normal =
      plain_loop(p, n, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", false);
  const double one_tx = plain_loop(p, n, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", true);
  const double box = outbox_loop(p, n);
  std::printf("records: %d of ~700 B, dir %s\n", n, dir.c_str());
  std::printf("plain insert, rollback journal, sync FULL, autocommit : %9.0f rec/s (baseline)\n",
              base);
  std::printf("plain insert, WAL, sync FULL, autocommit             : %9.0f rec/s (%.2fx)\n",
              wal_full, wal_full / base);
  std::printf("plain insert, WAL, sync NORMAL (not power-safe)      : %9.0f rec/s (%.2fx)\n",
              wal_normal, wal_normal / base);
  std::printf("plain insert, one transaction (no per-record commit) : %9.0f rec/s (%.2fx)\n",
              one_tx, one_tx / base);
  std::printf("outbox append (WAL, FULL, chain head, durable/record): %9.0f rec/s (%.2fx)\n", box,
              box / base);
  std::filesystem::remove(p);
  std::filesystem::remove(p.string() + "-wal");
  std::filesystem::remove(p.string() + "-shm");
  return 0;
}
