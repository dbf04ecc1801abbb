// SPDX-License-Identifier: Apache-2.0
// Modbus TCP on loopback: the highest sample rate (8 channels) the driver sustains
// without loss, CPU time per 1 000 samples, and a long no-loss soak at 8 × 4 kHz.
// Prints figures and ratios against the 4 kHz baseline measured in the same run.
//   modbus_bench [soak_minutes (default 5)]
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "modbus_server.hpp"
#include "record.hpp"
#include "wim/common/log.hpp"
#include "wim/hw/modbus_source.hpp"

using namespace wim;
using namespace std::chrono_literals;

namespace {

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Result {
  double rate_hz = 0;
  std::uint64_t samples = 0, lost = 0, produced = 0, overflowed = 0, requests = 0, timeouts = 0;
  double driver_cpu_s = 0, server_cpu_s = 0, wall_s = 0;
  /// No loss, and the FIFO backlog stays under 8192 samples (of 65536).
  bool kept_up() const { return lost == 0 && overflowed == 0 && samples + lost + 8192 > produced; }
};

Result run(double time_scale, double wall_s) {
  sim::SimOptions o;
  o.seed = 1;
  o.traffic.flow_veh_per_h = 2000;
  sim::ServerOptions so;
  so.time_scale = time_scale;
  sim::AmplifierServer server(sim::make_synth(o), so);
  const int port = server.listen_tcp("127.0.0.1", 0);
  std::atomic<bool> stop{false};
  std::atomic<double> server_cpu{0};
  std::thread th([&] {
    const double c0 = thread_cpu_s();
    server.run(stop);
    server_cpu = thread_cpu_s() - c0;
  });
  std::vector<std::string> names;
  for (const auto& c : o.site.channels(o.seed)) names.push_back(c.name);
  hw::ModbusSource src(
      hw::RegisterMap::load(std::string(WIM_SOURCE_DIR) + "/hw/maps/wim-sim-amplifier.json"),
      hw::ModbusEndpoint::parse("tcp:127.0.0.1:" + std::to_string(port)), names);
  hw::SampleBlock b;
  const double c0 = thread_cpu_s();
  const auto t0 = std::chrono::steady_clock::now();
  const auto end = t0 + std::chrono::duration<double>(wall_s);
  while (std::chrono::steady_clock::now() < end) src.read(b, 50ms);
  Result r;
  r.driver_cpu_s = thread_cpu_s() - c0;
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop = true;
  th.join();
  const auto st = server.stats();
  const auto k = src.counters();
  r.rate_hz = 4000 * time_scale;
  r.samples = k.samples;
  r.lost = k.lost_samples;
  r.produced = st.samples_produced;
  r.overflowed = st.samples_overflowed;
  r.requests = k.requests;
  r.timeouts = k.timeouts;
  r.server_cpu_s = server_cpu;
  return r;
}

void print(const char* what, const Result& r, const Result& base) {
  const double per_k = r.samples ? r.driver_cpu_s / static_cast<double>(r.samples) * 1000 * 1e6 : 0;
  const double base_k =
      base.samples ? base.driver_cpu_s / static_cast<double>(base.samples) * 1000 * 1e6 : 0;
  std::printf(
      "%-9s rate %8.0f Hz x 8 ch | delivered %9llu lost %6llu backlog %7lld | requests %7llu "
      "timeouts %llu | "
      "driver CPU %6.1f us/1000 samples (x%.2f of baseline) | server CPU %5.1f %% | %s\n",
      what, r.rate_hz, static_cast<unsigned long long>(r.samples),
      static_cast<unsigned long long>(r.lost),
      static_cast<long long>(r.produced) - static_cast<long long>(r.samples + r.lost),
      static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.timeouts),
      per_k, base_k > 0 ? per_k / base_k : 0, 100 * r.server_cpu_s / r.wall_s,
      r.kept_up() ? "no loss" : "LOSS/LAG");
}

}  // namespace

int main(int argc, char** argv) {
  log::set_min_level(log::Level::error);
  const double soak_min = argc > 1 ? std::atof(argv[1]) : 5.0;
  std::printf("modbus_bench: Modbus TCP loopback, driver and simulated amplifier in one process\n");
  const Result base = run(1, 3);
  print("baseline", base, base);
  double best = base.kept_up() ? base.rate_hz : 0;
  for (double scale : {2.0, 4.0, 8.0, 16.0, 32.0, 64.0}) {
    const Result r = run(scale, 3);
    print("sweep", r, base);
    if (!r.kept_up()) break;
    best = r.rate_hz;
  }
  std::printf(
      "highest rate sustained without loss: %.0f Hz x 8 channels (%.1fx the 4 kHz baseline)\n",
      best, best / 4000);
  if (soak_min > 0) {
    // Several simulated minutes at 8 x 4 kHz, run 10x faster than real time.
    const Result soak = run(10, soak_min * 60 / 10);
    std::printf("soak: %.1f simulated minutes at 8 x 4 kHz (10x real time): ", soak_min);
    print("soak", soak, base);
  }
  return 0;
}
