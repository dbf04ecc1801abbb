// SPDX-License-Identifier: Apache-2.0
// Throughput and memory of the weighing pipeline: 8 channels x 4 kHz of wim-sim traffic,
// pre-rendered into memory, fed through the pipeline on one core. Prints channel
// samples/s, the ratio to real time, against a baseline loop that only reads every sample
// in the same run, and peak RSS after 10 and 60 minutes of replayed traffic (the same
// rendered minute replayed with shifted time stamps).
// Usage: weigh_speed [minutes=60]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "physics.hpp"
#include "site.hpp"
#include "traffic.hpp"
#include "wim/common/station_config.hpp"
#include "wim/edge/weigh/pipeline.hpp"

namespace {

double rss_mib(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field, 0) == 0)
      return std::atof(line.c_str() + std::string(field).size()) / 1024;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int minutes = argc > 1 ? std::atoi(argv[1]) : 60;
  wim::sim::SiteConfig site;  // 1 lane, 4 rows, 2 sides = 8 channels, 4 kHz
  wim::sim::TrafficConfig traffic;
  traffic.flow_veh_per_h = 1200;
  const auto channels = site.channels(7);
  const auto cfg = wim::config::parse_station_config(site.station_json(channels), "sim");
  std::vector<std::string> names;
  for (const auto& c : channels) names.push_back(c.name);

  // Render one minute of traffic into memory (row-major, as acquisition delivers it).
  const auto rows_per_min = static_cast<std::size_t>(site.sample_rate_hz * 60);
  wim::sim::TrafficModel model(traffic, 1, 1'000'000, 7);
  wim::sim::SignalSynth synth(
      site, channels, [&]() -> std::optional<wim::sim::Vehicle> { return model.next(); }, {}, 7);
  std::size_t vehicles_per_min = 0;
  synth.on_vehicle([&](const wim::sim::Vehicle&) { ++vehicles_per_min; });
  std::vector<std::int32_t> minute(rows_per_min * channels.size());
  std::vector<std::int64_t> t_us(rows_per_min);
  for (std::size_t r = 0; r < rows_per_min; ++r)
    t_us[r] =
        synth.next(std::span<std::int32_t>(minute.data() + r * channels.size(), channels.size()));

  // Baseline: a loop that reads every sample once (the floor for any pipeline).
  auto t0 = std::chrono::steady_clock::now();
  long long sum = 0;
  for (int rep = 0; rep < 10; ++rep)
    for (std::int32_t v : minute) sum += v;
  const double base_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 10;

  wim::weigh::Pipeline p(cfg, site.sample_rate_hz, names);
  std::size_t weighed = 0;
  double busy_s = 0, rss10 = 0;
  for (int m = 0; m < minutes; ++m) {
    const std::int64_t shift = static_cast<std::int64_t>(m) * 60'000'000;
    t0 = std::chrono::steady_clock::now();
    for (std::size_t r = 0; r < rows_per_min; ++r)
      p.feed(t_us[r] + shift,
             std::span<const std::int32_t>(minute.data() + r * channels.size(), channels.size()));
    weighed += p.take().size();
    busy_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (m + 1 == 10) rss10 = rss_mib("VmHWM:");
  }
  p.finish();
  weighed += p.take().size();
  const double samples = static_cast<double>(minutes) * static_cast<double>(rows_per_min) *
                         static_cast<double>(channels.size());
  const double real_s = minutes * 60.0;
  std::printf("weigh_speed: %zu channels x %.0f Hz, %d min replayed (%zu vehicles/min), one core\n",
              channels.size(), site.sample_rate_hz, minutes, vehicles_per_min);
  std::printf(
      "  pipeline: %.3g channel samples/s = %.0f x real time (%.2f s for %.0f s of traffic), "
      "%zu vehicles weighed\n",
      samples / busy_s, real_s / busy_s, busy_s, real_s, weighed);
  std::printf("  baseline (read each sample once): %.3g samples/s; pipeline costs %.1f x it\n",
              static_cast<double>(minute.size()) / base_s, busy_s / minutes / base_s);
  std::printf("  peak RSS: %.1f MiB after 10 min, %.1f MiB after %d min (checksum %lld)\n", rss10,
              rss_mib("VmHWM:"), minutes, sum % 7);
  return 0;
}
