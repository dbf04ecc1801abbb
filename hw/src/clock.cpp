// SPDX-License-Identifier: Apache-2.0
#include "wim/hw/clock.hpp"

#include <chrono>
#include <thread>

#include "wim/common/time.hpp"

namespace wim::hw {
namespace {

class SystemClock final : public Clock {
 public:
  std::int64_t mono_us() const override { return time::monotonic_us(); }
  std::int64_t unix_us() const override { return time::now_unix_us(); }
  void sleep_us(std::int64_t us) override {
    if (us > 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
  }
};

}  // namespace

Clock& system_clock() {
  static SystemClock c;
  return c;
}

std::int64_t WarpClock::mono_us() const {
  return time::monotonic_us() + offset_us_.load();
}

std::int64_t WarpClock::unix_us() const {
  return time::now_unix_us() + offset_us_.load();
}

void WarpClock::sleep_us(std::int64_t us) {
  if (us > 0) offset_us_ += us;
  std::this_thread::yield();
}

}  // namespace wim::hw
