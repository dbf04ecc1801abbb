// SPDX-License-Identifier: Apache-2.0
#include "wim/common/time.hpp"

#include <sys/timex.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "wim/common/error.hpp"

namespace wim::time {

std::string_view to_string(ClockSync s) {
  switch (s) {
    case ClockSync::synced:
      return "synced";
    case ClockSync::unsynced:
      return "unsynced";
    case ClockSync::unknown:
      break;
  }
  return "unknown";
}

ClockSync clock_sync_from_string(std::string_view s) {
  if (s == "synced") return ClockSync::synced;
  if (s == "unsynced") return ClockSync::unsynced;
  if (s == "unknown") return ClockSync::unknown;
  throw InputError("clock sync state must be synced, unsynced or unknown, got '" + std::string(s) +
                   "'");
}

ClockStatus query_clock() {
  ClockStatus st;
  struct timex tx {};
  int state = ::adjtimex(&tx);
  if (state < 0) return st;
  st.sync =
      (state == TIME_ERROR || (tx.status & STA_UNSYNC)) ? ClockSync::unsynced : ClockSync::synced;
  st.max_error_ms = static_cast<double>(tx.maxerror) / 1000.0;
  // offset is in microseconds, or nanoseconds when STA_NANO is set
  st.offset_ms = static_cast<double>(tx.offset) / ((tx.status & STA_NANO) ? 1e6 : 1e3);
  return st;
}

std::int64_t now_unix_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t monotonic_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

namespace {
std::string format(std::int64_t unix_us, bool micro) {
  std::int64_t secs = unix_us / 1000000;
  std::int64_t frac = unix_us % 1000000;
  if (frac < 0) frac += 1000000, secs -= 1;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[96];
  if (micro)
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(frac));
  else
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(frac / 1000));
  return buf;
}
}  // namespace

std::string format_utc_ms(std::int64_t unix_us) {
  return format(unix_us, false);
}
std::string format_utc_us(std::int64_t unix_us) {
  return format(unix_us, true);
}

std::int64_t parse_utc(std::string_view text) {
  auto bad = [&]() -> InputError {
    return InputError("not a UTC time (YYYY-MM-DDTHH:MM:SS[.fff]Z): '" + std::string(text) + "'");
  };
  if (text.size() < 20 || text.back() != 'Z') throw bad();
  auto num = [&](std::size_t pos, std::size_t len) {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') throw bad();
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  if (text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':')
    throw bad();
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60)
    throw bad();
  std::int64_t frac_us = 0;
  std::size_t end = text.size() - 1;
  if (end > 19) {
    if (text[19] != '.' || end == 20 || end - 20 > 9) throw bad();
    std::int64_t scale = 100000;
    for (std::size_t i = 20; i < end; ++i) {
      if (text[i] < '0' || text[i] > '9') throw bad();
      frac_us += (text[i] - '0') * scale;
      scale /= 10;
    }
  } else if (end != 19) {
    throw bad();
  }
  return static_cast<std::int64_t>(::timegm(&tm)) * 1000000 + frac_us;
}

}  // namespace wim::time
