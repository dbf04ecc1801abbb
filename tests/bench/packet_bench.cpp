// SPDX-License-Identifier: Apache-2.0
// Throughput of sealing, tar round trips and chain verification for violation packets
// (plate image + waveform attachments), against a baseline measured in the same run:
// plain SHA-256 of the same bytes (the least any signed-evidence scheme must do).
// Times are process CPU time (the machine is shared; wall time would measure the others),
// except write_dir, which waits for the disk and is timed by the wall clock.
// Usage: wim_bench_packet [records (default 2000)] [attachment kB (default 120)]
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "../common/record_samples.hpp"
#include "wim/common/chain.hpp"

using namespace wim;

namespace {
struct Clock {
  using time_point = double;
  static double now() {  // [s] CPU time of this process
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
};
double seconds_since(double t0) {
  return Clock::now() - t0;
}
}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  const std::size_t kb = argc > 2 ? static_cast<std::size_t>(std::atoi(argv[2])) : 120;
  std::map<std::string, std::string> att{{"plate.jpg", std::string(kb * 1000 * 5 / 6, 'p')},
                                         {"waveform.csv", std::string(kb * 1000 / 6, 'w')}};
  const double mb_per_record = static_cast<double>(kb) / 1000.0;
  std::printf("records=%d, attachments=%zu kB per record\n", n, kb);

  auto t0 = Clock::now();
  std::size_t sink = 0;
  for (int i = 0; i < n; ++i)
    for (const auto& [name, bytes] : att) sink += crypto::sha256_hex(bytes)[0];
  const double base_s = seconds_since(t0);
  std::printf("baseline sha256 of attachments : %8.0f records/s (%7.1f MB/s)\n", n / base_s,
              n * mb_per_record / base_s);

  auto key = crypto::SigningKey::generate();
  chain::ChainWriter w("G017", key, 0, "");
  std::vector<packet::Packet> ps;
  ps.reserve(static_cast<std::size_t>(n));
  t0 = Clock::now();
  for (int i = 0; i < n; ++i)
    ps.push_back(w.append(test::violation_record(test::kT0_us + i * 1000000LL), att));
  const double seal_s = seconds_since(t0);
  std::printf("seal (serialise+hash+sign)     : %8.0f records/s  = %.2fx baseline time\n",
              n / seal_s, seal_s / base_s);

  t0 = Clock::now();
  auto tar = packet::to_tar(ps);
  const double to_tar_s = seconds_since(t0);
  t0 = Clock::now();
  auto back = packet::from_tar(tar, packet::Limits{1u << 20, 64u << 20, 1ull << 40, 1000000, 64});
  const double from_tar_s = seconds_since(t0);
  std::printf("to_tar                         : %8.1f MB/s   = %.2fx baseline time\n",
              tar.size() / 1e6 / to_tar_s, to_tar_s / base_s);
  std::printf("from_tar                       : %8.1f MB/s   = %.2fx baseline time\n",
              tar.size() / 1e6 / from_tar_s, from_tar_s / base_s);

  chain::KeyRegistry reg;
  reg.add("G017", key.public_key());
  t0 = Clock::now();
  auto findings = chain::verify_chain(back, reg);
  const double verify_s = seconds_since(t0);
  std::printf(
      "verify_chain                   : %8.0f records/s  = %.2fx baseline time "
      "(%zu findings)\n",
      n / verify_s, verify_s / base_s, findings.size());

  // Durable directory writes (fsync per file and dir): the edge's per-record cost.
  const int nd = std::min(n, 200);
  auto dir = test::temp_dir("bench-packet");
  const auto wall0 = std::chrono::steady_clock::now();
  for (int i = 0; i < nd; ++i) packet::write_dir(ps[static_cast<std::size_t>(i)], dir);
  const double dir_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  std::printf("write_dir (fsync'ed, wall time): %8.0f records/s (%d records)\n", nd / dir_s, nd);
  std::filesystem::remove_all(dir);
  std::printf("(checksum %zu)\n", sink);
  return findings.empty() ? 0 : 1;
}
