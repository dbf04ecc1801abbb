// SPDX-License-Identifier: Apache-2.0
#include "wim/hw/paced_source.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <thread>

namespace wim::hw {

PaceClock PaceClock::steady() {
  return {[] { return time::monotonic_us(); },
          [](std::int64_t t_us) {
            const auto d = t_us - time::monotonic_us();
            if (d > 0) std::this_thread::sleep_for(std::chrono::microseconds(d));
          }};
}

PacedSource::PacedSource(std::unique_ptr<SampleSource> inner, double rate, PaceClock clock)
    : inner_(std::move(inner)), rate_(rate), clock_(std::move(clock)) {
  if (!(rate_ > 0) || !std::isfinite(rate_))
    throw std::invalid_argument("PacedSource: rate must be > 0");
}

bool PacedSource::read(SampleBlock& block, std::chrono::milliseconds timeout) {
  block.clear();
  if (!pending_) {
    if (ended_) return false;
    SampleBlock b;
    if (!inner_->read(b, timeout)) {
      ended_ = true;
      return false;
    }
    if (b.size() == 0) {  // nothing to pace (a lost span alone is handed out at once)
      block = std::move(b);
      return true;
    }
    if (!t0_rec_) {
      t0_rec_ = b.t_mono_us.front();
      t0_clock_us_ = clock_.now_us();
    }
    pending_ = std::move(b);
  }
  // Due when the clock has run as long as the recording has up to the block's last sample.
  const auto rec_us = static_cast<double>(pending_->t_mono_us.back() - *t0_rec_);
  const std::int64_t due = t0_clock_us_ + std::llround(rec_us / rate_);
  const std::int64_t deadline =
      clock_.now_us() + std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
  if (clock_.now_us() < due) clock_.sleep_until_us(std::min(due, deadline));
  if (clock_.now_us() < due) return true;  // not yet: an empty block
  block = std::move(*pending_);
  pending_.reset();
  return true;
}

std::string PacedSource::status() const {
  return inner_->status() + "paced: x" + std::to_string(rate_) + "\n";
}

}  // namespace wim::hw
