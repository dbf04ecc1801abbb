// SPDX-License-Identifier: Apache-2.0
// The clock a driver (and its simulated twin) reads and sleeps on. The system clock in
// production; in tests a WarpClock that jumps ahead instead of sleeping, so minutes of
// backoff, freezes and drift run in milliseconds against the real driver and the real
// Modbus server (both read the same WarpClock).
#pragma once
#include <atomic>
#include <cstdint>

namespace wim::hw {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t mono_us() const = 0;  ///< [us] monotonic
  virtual std::int64_t unix_us() const = 0;  ///< [us] UTC
  virtual void sleep_us(std::int64_t us) = 0;
};

/// CLOCK_MONOTONIC / CLOCK_REALTIME and a real sleep. Thread-safe.
Clock& system_clock();

/// Real time plus an offset that every sleep adds to (nobody really sleeps). Thread-safe.
class WarpClock final : public Clock {
 public:
  std::int64_t mono_us() const override;
  std::int64_t unix_us() const override;
  void sleep_us(std::int64_t us) override;
  void advance_us(std::int64_t us) { offset_us_ += us; }

 private:
  std::atomic<std::int64_t> offset_us_{0};
};

}  // namespace wim::hw
