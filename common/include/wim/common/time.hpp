// SPDX-License-Identifier: Apache-2.0
// Time is kept as microseconds since the Unix epoch, UTC (`*_unix_us`), always together
// with the state of the clock's synchronisation when it was read.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace wim::time {

enum class ClockSync {
  synced,    ///< kernel reports the clock disciplined by NTP/PTP (chrony, timesyncd)
  unsynced,  ///< kernel reports STA_UNSYNC: free-running clock
  unknown,   ///< not determined (e.g. replayed data)
};
std::string_view to_string(ClockSync s);
/// Inverse of to_string; throws InputError naming the bad value.
ClockSync clock_sync_from_string(std::string_view s);

struct ClockStatus {
  ClockSync sync = ClockSync::unknown;
  double max_error_ms = 0;  ///< [ms] kernel's estimate of the maximum error
  double offset_ms = 0;     ///< [ms] last offset applied by the time daemon
};
/// Reads the kernel's NTP state (adjtimex); never throws.
ClockStatus query_clock();

std::int64_t now_unix_us();   ///< [us] CLOCK_REALTIME
std::int64_t monotonic_us();  ///< [us] CLOCK_MONOTONIC (for intervals, never for records)

/// "2026-11-27T08:00:00.000Z" (milliseconds, always UTC).
std::string format_utc_ms(std::int64_t unix_us);
/// "2026-11-27T08:00:00.000123Z" (microseconds).
std::string format_utc_us(std::int64_t unix_us);
/// Parses "YYYY-MM-DDTHH:MM:SS[.fraction]Z"; throws InputError on anything else.
std::int64_t parse_utc(std::string_view text);

}  // namespace wim::time
