// SPDX-License-Identifier: Apache-2.0
// Logging to stderr in a form journald understands ("<N>" syslog priority prefix).
// Thread-safe: one line is written at a time.
#pragma once
#include <functional>
#include <string>
#include <string_view>

namespace wim::log {

enum class Level { debug = 7, info = 6, notice = 5, warning = 4, error = 3 };

void set_min_level(Level level);
/// Replaces the output (tests capture lines); nullptr restores stderr.
void set_sink(std::function<void(Level, std::string_view line)> sink);
/// Writes "<N>component: message"; on a thread inside a StationScope
/// "<N>component [STATION]: message".
void write(Level level, std::string_view component, std::string_view message);

/// While alive, every line this thread writes names `station_id` (run-many runs many
/// stations in one process: an operator reading journald must know which one a line is
/// about). Nests: the destructor restores the enclosing scope's station. A thread started
/// inside a scope does not inherit it; pass current_station() to it.
class StationScope {
 public:
  explicit StationScope(std::string station_id);
  ~StationScope();
  StationScope(const StationScope&) = delete;
  StationScope& operator=(const StationScope&) = delete;

 private:
  std::string previous_;
};
/// The station of this thread's innermost StationScope, "" outside any.
std::string current_station();

inline void debug(std::string_view c, std::string_view m) {
  write(Level::debug, c, m);
}
inline void info(std::string_view c, std::string_view m) {
  write(Level::info, c, m);
}
inline void notice(std::string_view c, std::string_view m) {
  write(Level::notice, c, m);
}
inline void warning(std::string_view c, std::string_view m) {
  write(Level::warning, c, m);
}
inline void error(std::string_view c, std::string_view m) {
  write(Level::error, c, m);
}

}  // namespace wim::log
