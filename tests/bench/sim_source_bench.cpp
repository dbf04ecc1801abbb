// SPDX-License-Identifier: Apache-2.0
// SimSource cost: CPU time per simulated second of 8 ch x 4 kHz (the figure that decides
// whether 51 in-process stations fit on 2 cores), against replaying the same samples from
// a contract-1 recording, and a paced real-time run (sleeps and wake-ups included).
//   sim_source_bench [simulated_seconds=120] [paced_wall_seconds=5]
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "record.hpp"
#include "sim_source.hpp"
#include "wim/hw/replay_source.hpp"

using namespace wim;
using namespace std::chrono_literals;

namespace {

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Cost {
  double cpu_s = 0, sim_s = 0;
  double ms_per_sim_s() const { return cpu_s / sim_s * 1e3; }
};

Cost drain(hw::SampleSource& src, double sim_s) {
  hw::SampleBlock b;
  const auto want = static_cast<std::uint64_t>(sim_s * src.sample_rate_hz());
  std::uint64_t got = 0;
  const double c0 = thread_cpu_s();
  while (got < want && src.read(b, 0ms)) got += b.size();
  return {thread_cpu_s() - c0, static_cast<double>(got) / src.sample_rate_hz()};
}

sim::SimSourceOptions station(double flow, int lanes) {
  sim::SimSourceOptions so;
  so.sim.seed = 7;
  so.sim.site.lanes = lanes;
  so.sim.traffic.flow_veh_per_h = flow;
  so.paced = false;
  so.start_unix_us = 1'795'766'400'000'000;
  return so;
}

void line(const char* what, const Cost& c, const Cost& base) {
  std::printf(
      "%-44s %7.2f ms CPU / simulated s = %5.2f %% of a core at real time  (x%.2f of replay)\n",
      what, c.ms_per_sim_s(), c.ms_per_sim_s() / 10, c.ms_per_sim_s() / base.ms_per_sim_s());
}

}  // namespace

int main(int argc, char** argv) {
  const double sim_s = argc > 1 ? std::atof(argv[1]) : 120;
  const double paced_s = argc > 2 ? std::atof(argv[2]) : 5;
  std::printf("sim_source_bench: %.0f simulated s per case, 4 kHz\n", sim_s);

  // Baseline: replay the same 8-channel samples from a recording (parse cost of rec.csv).
  const auto dir = std::filesystem::temp_directory_path() / "wim_sim_source_bench";
  auto so = station(600, 1);
  so.sim.tail_s = sim_s;  // long enough
  const auto r = sim::record(so.sim, static_cast<std::size_t>(sim_s * 600 / 3600) + 1, dir);
  auto replay = hw::ReplaySource::open(dir / "rec.csv");
  const Cost base = drain(*replay, std::min(sim_s, r.duration_s));
  std::filesystem::remove_all(dir);
  std::printf("%-44s %7.2f ms CPU / simulated s  (baseline)\n", "replay rec.csv, 8 ch",
              base.ms_per_sim_s());

  sim::SimSource s8(station(600, 1));
  const Cost c8 = drain(s8, sim_s);
  line("sim 8 ch (1 lane x 4 rows), 600 veh/h", c8, base);
  sim::SimSource s8d(station(3000, 1));
  line("sim 8 ch, 3000 veh/h (busy)", drain(s8d, sim_s), base);
  sim::SimSource s16(station(1800, 2));
  line("sim 16 ch (2 lanes), 1800 veh/h", drain(s16, sim_s), base);
  std::printf("=> 51 stations x sim 8 ch @600 veh/h: %.1f %% of one core (%.1f %% of 2 cores)\n",
              51 * c8.ms_per_sim_s() / 10, 51 * c8.ms_per_sim_s() / 20);

  // Paced at real time, as in a station daemon: read(block, 200 ms) in a loop.
  auto sp = station(600, 1);
  sp.paced = true;
  sp.start_unix_us.reset();
  sim::SimSource paced(sp);
  hw::SampleBlock b;
  std::uint64_t got = 0, reads = 0;
  const double c0 = thread_cpu_s();
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::duration<double>(paced_s)) {
    paced.read(b, 200ms);
    got += b.size();
    ++reads;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = thread_cpu_s() - c0;
  std::printf(
      "paced real time, 8 ch, %.1f s wall: %llu samples in %llu reads, %.2f %% of a core "
      "(%.2f ms CPU / s)\n",
      wall, static_cast<unsigned long long>(got), static_cast<unsigned long long>(reads),
      100 * cpu / wall, cpu / wall * 1e3);
  return 0;
}
