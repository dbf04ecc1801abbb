// SPDX-License-Identifier: Apache-2.0
// The benchmarks' plain baseline: a threshold-and-area weigher written the simplest way
// that works, independent of edge/weigh's code (only the legal decision is shared).
// Per channel: zero and noise from the first second (mean, standard deviation), then the
// zero follows a slow mean between pulses; a pulse is the raw signal above
// max(detect_on, 5 sigma) down to 2 sigma; wheel load from the area (strip) or the mean of
// the middle half (plate). Per lane: row 1's left/right pulses within 20 ms are an axle; an
// axle's speed from the same axle on the last row; a new vehicle where the spacing would
// exceed 9 m. Loads are the mean over rows of the axle found nearest the expected time.
// No voting, no outlier rejection, no uncertainty margin: every vehicle is "valid".
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "wim/common/legal_limits.hpp"
#include "wim/common/station_config.hpp"
#include "wim/edge/weigh/types.hpp"

namespace wim::bench {

class PlainWeigher {
 public:
  PlainWeigher(const config::StationConfig& cfg, double rate_hz) : cfg_(cfg), rate_hz_(rate_hz) {
    cfg_.legal.uncertainty_pct = 0;
    ch_.resize(cfg.channels.size());
    for (std::size_t i = 0; i < ch_.size(); ++i) {
      const auto& c = cfg.channels[i];
      ch_[i].floor = cfg.weighing.detect_on_kg /
                     (c.kind == config::SensorKind::plate ? c.gain : c.gain * 0.2 / c.length_m);
      ch_[i].zero = c.zero;
    }
  }

  void feed(std::int64_t t_us, std::span<const std::int32_t> counts) {
    now_us_ = t_us;
    for (std::size_t i = 0; i < ch_.size(); ++i) feed_channel(i, t_us, counts[i]);
  }

  /// Everything weighed so far once `finish` is true or the lanes have been quiet 3 s.
  std::vector<weigh::WeighedVehicle> take(bool finish) {
    std::vector<weigh::WeighedVehicle> out;
    for (int lane : cfg_.lanes()) {
      std::int64_t last = 0;
      bool busy = false;
      for (std::size_t i = 0; i < ch_.size(); ++i)
        if (cfg_.channels[i].lane == lane) {
          busy = busy || ch_[i].in;
          for (const auto& p : ch_[i].pulses) last = std::max(last, p.t_us);
        }
      if (!finish && (busy || now_us_ - last < 3'000'000)) continue;
      assemble(lane, out);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.t_us < b.t_us; });
    return out;
  }

 private:
  struct P {
    std::int64_t t_us;  // centroid
    double area, plateau;
  };
  struct Ch {
    double zero = 0, floor = 0, sigma = 0, s = 0, ss = 0;
    std::int64_t n = 0;
    bool in = false;
    double area = 0, tsum = 0;
    std::vector<double> samples;
    std::vector<P> pulses;
  };

  void feed_channel(std::size_t i, std::int64_t t_us, std::int32_t raw) {
    Ch& c = ch_[i];
    const double y = raw - c.zero;
    if (c.n < static_cast<std::int64_t>(rate_hz_)) {  // first second: zero and noise
      ++c.n, c.s += raw, c.ss += static_cast<double>(raw) * raw;
      if (c.n == static_cast<std::int64_t>(rate_hz_)) {
        const double m = c.s / static_cast<double>(c.n);
        c.sigma = std::sqrt(std::max(0.0, c.ss / static_cast<double>(c.n) - m * m));
        c.zero = m;
      }
      return;
    }
    const double on = std::max(c.floor, 5 * c.sigma), off = 2 * c.sigma;
    if (!c.in) {
      if (y > on) {
        c.in = true, c.area = 0, c.tsum = 0, c.samples.clear();
      } else {
        c.zero += y / rate_hz_;  // 1 s time constant
        return;
      }
    }
    if (y > off) {
      c.area += y, c.tsum += y * static_cast<double>(t_us), c.samples.push_back(y);
      return;
    }
    c.in = false;
    const std::size_t n = c.samples.size();
    double mid = 0;
    for (std::size_t k = n / 4; k < n - n / 4; ++k) mid += c.samples[k];
    mid /= static_cast<double>(std::max<std::size_t>(1, n - 2 * (n / 4)));
    if (c.area > 0)
      c.pulses.push_back({static_cast<std::int64_t>(c.tsum / c.area), c.area / rate_hz_, mid});
  }

  double wheel_kg(std::size_t ch, const P& p, double v) const {
    const auto& c = cfg_.channels[ch];
    return c.kind == config::SensorKind::strip ? c.gain * v * p.area / c.length_m
                                               : c.gain * p.plateau;
  }

  std::vector<std::pair<std::size_t, std::size_t>> row_channels(int lane) const {
    std::vector<std::pair<double, std::pair<std::size_t, std::size_t>>> rows;
    for (std::size_t i = 0; i < cfg_.channels.size(); ++i) {
      const auto& c = cfg_.channels[i];
      if (c.lane != lane || c.side != config::Side::left) continue;
      for (std::size_t j = 0; j < cfg_.channels.size(); ++j) {
        const auto& o = cfg_.channels[j];
        if (o.lane == lane && o.side == config::Side::right && std::abs(o.row_m - c.row_m) < 1e-6)
          rows.push_back({c.row_m, {i, j}});
      }
    }
    std::sort(rows.begin(), rows.end());
    std::vector<std::pair<std::size_t, std::size_t>> out;
    for (auto& r : rows) out.push_back(r.second);
    return out;
  }

  struct Axle {
    std::int64_t t_us;
    double load_kg;  // at the row's speed, filled later
    const P *l, *r;
  };
  std::vector<Axle> row_axles(std::size_t lch, std::size_t rch) const {
    std::vector<Axle> out;
    const auto& L = ch_[lch].pulses;
    const auto& R = ch_[rch].pulses;
    std::vector<bool> used(R.size());
    for (const P& p : L) {
      const P* best = nullptr;
      std::size_t bi = 0;
      for (std::size_t k = 0; k < R.size(); ++k)
        if (!used[k] && std::abs(R[k].t_us - p.t_us) < 20'000 &&
            (!best || std::abs(R[k].t_us - p.t_us) < std::abs(best->t_us - p.t_us)))
          best = &R[k], bi = k;
      if (best) used[bi] = true, out.push_back({(p.t_us + best->t_us) / 2, 0, &p, best});
    }
    return out;
  }

  void assemble(int lane, std::vector<weigh::WeighedVehicle>& out) {
    const auto rows = row_channels(lane);
    std::vector<double> row_m;
    std::vector<std::vector<Axle>> axles;
    for (auto [l, r] : rows) {
      row_m.push_back(cfg_.channels[l].row_m);
      axles.push_back(row_axles(l, r));
    }
    const double span = row_m.back() - row_m.front();
    weigh::WeighedVehicle v;
    double prev_t = 0, prev_v = 0;
    auto flush = [&] {
      if (v.axles.empty()) return;
      v.t_us = std::llround(v.axles.front().t_us);
      v.lane = lane;
      double s = 0;
      for (const auto& a : v.axles) v.gross_kg += a.load_kg, s += a.speed_kmh;
      v.speed_kmh = s / static_cast<double>(v.axles.size());
      v.valid = v.axles.size() >= 2;
      v.legal = legal::decide(v.axle_loads_kg(), v.axle_spacings_m, cfg_.legal, v.valid);
      out.push_back(std::move(v));
      v = {};
    };
    for (const Axle& a0 : axles[0]) {
      // Speed: the same axle on the last row, 5-150 km/h away: the first such hit for a
      // vehicle's first axle, then the one whose speed is closest to the previous axle's.
      const double t = static_cast<double>(a0.t_us);
      const bool first = v.axles.empty() || prev_v * (t - prev_t) * 1e-6 > 9.0;
      double vm = 16.7;
      if (rows.size() > 1) {
        double best = -1;
        for (const Axle& b : axles.back()) {
          const double dt = static_cast<double>(b.t_us - a0.t_us) * 1e-6;
          if (dt <= span / 42 || dt >= span / 1.4) continue;
          const double vb = span / dt;
          if (best < 0 || (first ? vb > best : std::abs(vb - prev_v) < std::abs(best - prev_v)))
            best = vb;
        }
        if (best > 0) vm = best;
      }
      if (!v.axles.empty() && (vm + prev_v) / 2 * (t - prev_t) * 1e-6 > 9.0) flush();
      if (!v.axles.empty()) v.axle_spacings_m.push_back((vm + prev_v) / 2 * (t - prev_t) * 1e-6);
      weigh::WeighedAxle ax;
      ax.t_us = t;
      ax.speed_kmh = vm * 3.6;
      double sum = 0;
      int n = 0;
      for (std::size_t r = 0; r < rows.size(); ++r) {
        const double expect = t + (row_m[r] - row_m[0]) / vm * 1e6;
        const Axle* best = nullptr;
        for (const Axle& b : axles[r])
          if (!best || std::abs(b.t_us - expect) < std::abs(best->t_us - expect)) best = &b;
        if (!best || std::abs(static_cast<double>(best->t_us) - expect) > 50'000) continue;
        sum += wheel_kg(rows[r].first, *best->l, vm) + wheel_kg(rows[r].second, *best->r, vm);
        ++n;
      }
      ax.load_kg = n ? sum / n : 0;
      ax.rows_used = n;
      v.axles.push_back(ax);
      prev_t = t, prev_v = vm;
    }
    flush();
    for (auto& c : ch_)
      if (cfg_.channels[static_cast<std::size_t>(&c - ch_.data())].lane == lane) c.pulses.clear();
  }

  config::StationConfig cfg_;
  double rate_hz_;
  std::vector<Ch> ch_;
  std::int64_t now_us_ = 0;
};

}  // namespace wim::bench
