// SPDX-License-Identifier: Apache-2.0
// Seeded random numbers whose sequence is the same on every platform and library
// version (std::uniform_real_distribution and friends are implementation-defined).
#pragma once
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

namespace wim::sim {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : gen_(seed) {}
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Integer in [lo, hi].
  int integer(int lo, int hi) {
    return lo + static_cast<int>(uniform() * static_cast<double>(hi - lo + 1));
  }
  bool chance(double p) { return uniform() < p; }
  /// Standard normal (Box-Muller).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2 * std::numbers::pi * u2);
    has_spare_ = true;
    return r * std::cos(2 * std::numbers::pi * u2);
  }
  double normal(double mean, double sd) { return mean + sd * normal(); }
  /// Exponential with the given mean.
  double exponential(double mean) { return -mean * std::log(1.0 - uniform()); }
  std::uint64_t raw() { return gen_(); }

 private:
  std::mt19937_64 gen_;  // the Mersenne Twister's output sequence is fixed by the standard
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace wim::sim
