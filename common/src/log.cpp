// SPDX-License-Identifier: Apache-2.0
#include "wim/common/log.hpp"

#include <cstdio>
#include <mutex>

namespace wim::log {
namespace {
std::mutex g_mutex;
Level g_min = Level::info;
std::function<void(Level, std::string_view)> g_sink;
thread_local std::string t_station;
}  // namespace

StationScope::StationScope(std::string station_id) : previous_(std::move(t_station)) {
  t_station = std::move(station_id);
}

StationScope::~StationScope() {
  t_station = std::move(previous_);
}

std::string current_station() {
  return t_station;
}

void set_min_level(Level level) {
  std::lock_guard lock(g_mutex);
  g_min = level;
}

void set_sink(std::function<void(Level, std::string_view)> sink) {
  std::lock_guard lock(g_mutex);
  g_sink = std::move(sink);
}

void write(Level level, std::string_view component, std::string_view message) {
  std::lock_guard lock(g_mutex);
  if (static_cast<int>(level) > static_cast<int>(g_min)) return;
  std::string line = "<" + std::to_string(static_cast<int>(level)) + ">" + std::string(component);
  if (!t_station.empty()) line += " [" + t_station + "]";
  line += ": ";
  line += message;
  if (g_sink) {
    g_sink(level, line);
    return;
  }
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace wim::log
