// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/weigh/lane_assembler.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>

namespace wim::weigh {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string metres(double m) {
  std::ostringstream s;
  s.precision(3);
  s << m << " m";
  return s.str();
}

void add_reason(WeighedVehicle& v, const std::string& r) {
  if (std::find(v.reasons.begin(), v.reasons.end(), r) == v.reasons.end()) v.reasons.push_back(r);
  v.valid = false;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/// Mean of the values within pct % of their median (all of them when fewer than 3).
double robust_mean(std::vector<double> vals, double pct, std::vector<bool>& kept) {
  kept.assign(vals.size(), true);
  if (vals.empty()) return kNaN;
  if (vals.size() >= 3) {
    std::vector<double> s = vals;
    std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(s.size() / 2), s.end());
    double med = s[s.size() / 2];
    if (s.size() % 2 == 0) {
      const double lo =
          *std::max_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(s.size() / 2));
      med = (med + lo) / 2;
    }
    for (std::size_t i = 0; i < vals.size(); ++i)
      kept[i] = std::abs(vals[i] - med) <= pct / 100 * std::abs(med);
    if (std::count(kept.begin(), kept.end(), true) == 0) kept.assign(vals.size(), true);
  }
  double sum = 0;
  int n = 0;
  for (std::size_t i = 0; i < vals.size(); ++i)
    if (kept[i]) sum += vals[i], ++n;
  return sum / n;
}

}  // namespace

std::vector<double> WeighedVehicle::axle_loads_kg() const {
  std::vector<double> v;
  for (const WeighedAxle& a : axles) v.push_back(a.load_kg);
  return v;
}
std::vector<double> WeighedVehicle::axle_speeds_kmh() const {
  std::vector<double> v;
  for (const WeighedAxle& a : axles) v.push_back(a.speed_kmh);
  return v;
}

LaneAssembler::LaneAssembler(int lane, const config::StationConfig& cfg) : lane_(lane), cfg_(cfg) {
  row_of_.assign(cfg.channels.size(), -1);
  for (std::size_t i = 0; i < cfg.channels.size(); ++i) {
    const config::ChannelConfig& c = cfg.channels[i];
    if (c.lane != lane) continue;
    channels_.push_back(static_cast<int>(i));
    bool known = false;
    for (double r : rows_m_) known = known || std::abs(r - c.row_m) < 1e-6;
    if (!known) rows_m_.push_back(c.row_m);
  }
  std::sort(rows_m_.begin(), rows_m_.end());
  for (int i : channels_)
    for (std::size_t r = 0; r < rows_m_.size(); ++r)
      if (std::abs(rows_m_[r] - cfg.channels[static_cast<std::size_t>(i)].row_m) < 1e-6)
        row_of_[static_cast<std::size_t>(i)] = static_cast<int>(r);
  row_bias_history_.resize(rows_m_.size());
}

std::vector<LaneAssembler::Hit> LaneAssembler::pair_sides(
    std::vector<const Pulse*>& row_pulses) const {
  std::sort(row_pulses.begin(), row_pulses.end(),
            [](const Pulse* a, const Pulse* b) { return a->centroid_us < b->centroid_us; });
  const double match_us = cfg_.weighing.side_match_s * 1e6;
  std::vector<Hit> hits;
  for (const Pulse* p : row_pulses) {
    const int s =
        cfg_.channels[static_cast<std::size_t>(p->channel)].side == config::Side::left ? 0 : 1;
    if (!hits.empty()) {
      Hit& h = hits.back();
      const Pulse* other = h.side[1 - s];
      if (h.side[s] == nullptr && other != nullptr &&
          std::abs(p->centroid_us - other->centroid_us) <= match_us) {
        h.side[s] = p;
        h.t_us = (p->centroid_us + other->centroid_us) / 2;
        continue;
      }
    }
    Hit h;
    h.side[s] = p;
    h.t_us = p->centroid_us;
    hits.push_back(h);
  }
  return hits;
}

double LaneAssembler::wheel_load_kg(const Pulse& p, double v_mps) const {
  const config::ChannelConfig& c = cfg_.channels[static_cast<std::size_t>(p.channel)];
  if (c.kind == config::SensorKind::strip) return c.gain * v_mps * p.area_counts_s / c.length_m;
  // Plate: mean while the wheel is wholly on the plate. The pulse lasts (L + c) / v, so
  // the contact length c follows from the duration; the plateau lies c / v inside each end.
  // Only the part above the off level counts (the window's margins are noise).
  const std::size_t core = std::min(p.core_samples, p.samples.size() - p.lead_samples);
  const double n = static_cast<double>(core);
  const double contact_m = std::clamp(v_mps * n * p.dt_s - c.length_m, 0.0, c.length_m);
  auto skip = static_cast<std::size_t>(std::ceil(contact_m / v_mps / p.dt_s));
  if (2 * skip + 1 > core) skip = static_cast<std::size_t>(0.4 * n);
  double sum = 0;
  std::size_t k = 0;
  for (std::size_t i = skip; i + skip < core; ++i) sum += p.samples[p.lead_samples + i], ++k;
  return k ? c.gain * sum / static_cast<double>(k) : kNaN;
}

double LaneAssembler::speed_noise_margin_pct() const {
  if (pair_speed_diff_pct_.size() < kSpeedNoiseMinPairs) return kNaN;
  std::vector<double> d(pair_speed_diff_pct_.begin(), pair_speed_diff_pct_.end());
  const auto k = static_cast<std::size_t>(0.99 * static_cast<double>(d.size() - 1));
  std::nth_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(k), d.end());
  return kSpeedNoiseP99Factor * d[k];
}

std::vector<WeighedVehicle> LaneAssembler::assemble(std::vector<Pulse> pulses,
                                                    std::span<const std::int64_t> gaps_us,
                                                    bool cut) {
  const config::WeighSettings& w = cfg_.weighing;
  const std::size_t R = rows_m_.size();
  std::vector<std::vector<const Pulse*>> per_row(R);
  for (const Pulse& p : pulses) {
    const int r = row_of_.at(static_cast<std::size_t>(p.channel));
    if (r >= 0) per_row[static_cast<std::size_t>(r)].push_back(&p);
  }
  std::vector<std::vector<Hit>> hits(R);
  std::map<std::size_t, int> freq;
  for (std::size_t r = 0; r < R; ++r) {
    hits[r] = pair_sides(per_row[r]);
    ++freq[hits[r].size()];
  }
  // The axle count most rows agree on (ties: the larger count); other rows missed axles.
  std::size_t n = 0;
  int best = 0;
  for (auto [count, rows] : freq)
    if (count > 0 && rows >= best) n = count, best = rows;
  if (n == 0) return {};
  std::vector<std::size_t> good, odd;
  for (std::size_t r = 0; r < R; ++r) (hits[r].size() == n ? good : odd).push_back(r);

  // Speed per axle: least-squares fit of row position over time across the good rows.
  struct AxleFit {
    double t0_us, tmean_us, v_mps;
  };
  std::vector<AxleFit> fit(n);
  for (std::size_t i = 0; i < n; ++i) {
    double tm = 0, xm = 0;
    for (std::size_t r : good) tm += hits[r][i].t_us, xm += rows_m_[r];
    tm /= static_cast<double>(good.size());
    xm /= static_cast<double>(good.size());
    double v = kNaN;
    if (good.size() >= 2) {
      double sxt = 0, stt = 0;
      for (std::size_t r : good) {
        const double dt = (hits[r][i].t_us - tm) * 1e-6;
        sxt += dt * (rows_m_[r] - xm);
        stt += dt * dt;
      }
      if (stt > 0) v = sxt / stt;
    } else {
      // One row: speed from the ramp of a strip pulse (= width / v), or plate duration.
      double sum = 0;
      int k = 0;
      for (const Pulse* p : hits[good[0]][i].side) {
        if (!p) continue;
        const config::ChannelConfig& c = cfg_.channels[static_cast<std::size_t>(p->channel)];
        double vv = c.kind == config::SensorKind::strip
                        ? c.length_m / p->ramp_s
                        : (c.length_m + w.contact_nominal_m) /
                              (static_cast<double>(p->core_samples) * p->dt_s);
        if (std::isfinite(vv)) sum += vv, ++k;
      }
      if (k) v = sum / k;
    }
    const double t0 = std::isfinite(v) && v > 0 ? tm + (rows_m_.front() - xm) / v * 1e6 : tm;
    fit[i] = {t0, tm, v};
  }

  // The rows vote: a row that saw another axle count is lined up with the axles the
  // majority found (time predicted from their speed fit). A hit near no axle is an extra
  // pulse (noise) and dropped; an axle it missed is weighed from the other rows. A row
  // that misses more than one axle of the segment stays out, and the pass is flagged.
  std::vector<std::string> segment_reasons;
  for (std::size_t r : odd) {
    std::vector<Hit> aligned(n);
    std::vector<bool> used(hits[r].size());
    std::size_t matched = 0;
    for (std::size_t i = 0; good.size() >= 2 && i < n; ++i) {
      if (!(fit[i].v_mps > 0)) continue;
      const double t_pred = fit[i].t0_us + (rows_m_[r] - rows_m_.front()) / fit[i].v_mps * 1e6;
      double tol = 0.03e6;  // [us] never more than 40 % of the time to a neighbouring axle
      if (i > 0) tol = std::min(tol, 0.4 * (fit[i].t0_us - fit[i - 1].t0_us));
      if (i + 1 < n) tol = std::min(tol, 0.4 * (fit[i + 1].t0_us - fit[i].t0_us));
      std::size_t best = hits[r].size();
      for (std::size_t k = 0; k < hits[r].size(); ++k)
        if (!used[k] && std::abs(hits[r][k].t_us - t_pred) <= tol &&
            (best == hits[r].size() ||
             std::abs(hits[r][k].t_us - t_pred) < std::abs(hits[r][best].t_us - t_pred)))
          best = k;
      if (best < hits[r].size()) used[best] = true, aligned[i] = hits[r][best], ++matched;
    }
    if (good.size() >= 2 && matched + 1 >= n && matched > 0) {
      hits[r] = std::move(aligned);
      good.push_back(r);
    } else {
      segment_reasons.push_back("row at " + metres(rows_m_[r]) + " saw " +
                                std::to_string(hits[r].size()) + " axle(s), the others " +
                                std::to_string(n) + " (missed row or extra pulse)");
    }
  }
  std::sort(good.begin(), good.end());

  // Vehicle separation: spacing, speed consistency, presence loop. The axles of one rigid
  // vehicle (or one coupled combination) move at one speed, up to max_accel_mps2 x the time
  // between them:
  // - two axles further apart than certain_axle_spacing_m whose row-timed speeds differ by
  //   more than that plus follower_speed_diff_pct are two vehicles (a close follower);
  // - two axles further apart than kOneVehicleSpacingM whose speeds differ by more than that
  //   plus the site's measured speed noise margin are two vehicles too, but the split rests
  //   on speed alone (a margin measured, not configured), so both sides are flagged: right
  //   for the count, never a case.
  // - a light 2-axle unit (both axles below light_axle_kg: a car or van) followed, more than
  //   certain_axle_spacing_m behind, by a part heavier than light_tow_max_kg (+ the axle
  //   uncertainty) is two vehicles: no vehicle of at most 3.5 t may tow that much (§ 42 (1)
  //   StVZO; docs/weighing.md "Towing limit"). A legal limit, not a physical one, so flagged
  //   on both sides like the speed-only split.
  // - behind a spacing above certain_axle_spacing_m, a part of exactly two axles, both below
  //   light_axle_kg, at least car_wheelbase_min_m apart, with no axle within
  //   certain_axle_spacing_m behind it, is a car (no car's wheelbase is shorter than ~1.8 m;
  //   a caravan's or light trailer's tandem is ~1 m) rather than a trailer's axle group: two
  //   vehicles. Trailers with 2 axles 1.8 m or more apart exist (Directive 96/53/EC Annex I
  //   has a class for them; light drawbar trailers), so this is a likelihood, not a proof:
  //   flagged on both sides too (docs/weighing.md "Car wheelbase").
  const double noise_pct = speed_noise_margin_pct();
  auto spacing_m = [&](std::size_t i) {
    return (fit[i].v_mps + fit[i + 1].v_mps) / 2 * (fit[i + 1].t0_us - fit[i].t0_us) * 1e-6;
  };
  // Axle load for the towing rule: median over the rows that saw both wheels (NaN: none),
  // computed only for the axles the rule looks at.
  std::vector<double> rough_cache(n, kNaN);
  std::vector<bool> rough_done(n, false);
  auto rough_kg = [&](std::size_t i) {
    if (rough_done[i]) return rough_cache[i];
    rough_done[i] = true;
    std::vector<double> vals;
    for (std::size_t r : good) {
      const Hit& h = hits[r][i];
      if (h.side[0] && h.side[1] && fit[i].v_mps > 0)
        vals.push_back(wheel_load_kg(*h.side[0], fit[i].v_mps) +
                       wheel_load_kg(*h.side[1], fit[i].v_mps));
    }
    return rough_cache[i] = vals.empty() ? kNaN : median(vals);
  };
  const double tow_limit_kg = w.light_tow_max_kg * (1 + cfg_.legal.axle_uncertainty_pct / 100);
  std::vector<std::pair<std::size_t, std::size_t>> vehicles;
  std::vector<std::string> speed_split;  // per vehicle boundary: why (empty: certain)
  std::size_t first = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const double dt_s = (fit[i + 1].t0_us - fit[i].t0_us) * 1e-6;
    const double sp = (fit[i].v_mps + fit[i + 1].v_mps) / 2 * dt_s;
    bool split = !(sp <= w.max_axle_spacing_m);
    std::string why;
    const double dv = std::abs(fit[i + 1].v_mps - fit[i].v_mps);
    if (good.size() >= 2 && sp > w.certain_axle_spacing_m) {
      const double allowed =
          w.max_accel_mps2 * dt_s + w.follower_speed_diff_pct / 100 * fit[i].v_mps;
      split = split || dv > allowed;
    }
    for (std::int64_t g : gaps_us)
      split = split ||
              (static_cast<double>(g) > fit[i].t0_us && static_cast<double>(g) < fit[i + 1].t0_us);
    if (!split && good.size() >= 2 && sp > kOneVehicleSpacingM && std::isfinite(noise_pct) &&
        dv > w.max_accel_mps2 * dt_s + noise_pct / 100 * fit[i].v_mps) {
      split = true;
      std::ostringstream s;
      s.precision(3);
      s << "vehicle separation by speed only: axles " << sp << " m apart differ by "
        << dv / fit[i].v_mps * 100 << " % in speed (site speed noise margin " << noise_pct
        << " % + max_accel_mps2)";
      why = s.str();
    }
    if (!split && w.light_tow_max_kg > 0 && sp > w.certain_axle_spacing_m && i == first + 1 &&
        spacing_m(first) <= w.certain_axle_spacing_m && rough_kg(first) < w.light_axle_kg &&
        rough_kg(i) < w.light_axle_kg) {
      // The part behind: up to the next spacing that may be a gap to another vehicle.
      double behind_kg = rough_kg(i + 1);
      for (std::size_t j = i + 1; j + 1 < n && spacing_m(j) <= w.certain_axle_spacing_m; ++j)
        behind_kg += rough_kg(j + 1);
      if (behind_kg > tow_limit_kg) {
        split = true;
        std::ostringstream s;
        s.precision(4);
        s << "vehicle separation by towing limit: a light 2-axle unit (" << rough_kg(first) << " + "
          << rough_kg(i) << " kg) " << sp << " m ahead of " << behind_kg
          << " kg, more than light_tow_max_kg " << w.light_tow_max_kg << " kg + "
          << cfg_.legal.axle_uncertainty_pct << " %";
        why = s.str();
      }
    }
    if (!split && w.car_wheelbase_min_m > 0 && sp > w.certain_axle_spacing_m && i + 2 < n &&
        (i + 3 == n || spacing_m(i + 2) > w.certain_axle_spacing_m)) {
      const double wheelbase_m = spacing_m(i + 1);
      if (wheelbase_m >= w.car_wheelbase_min_m && wheelbase_m <= w.certain_axle_spacing_m &&
          rough_kg(i + 1) < w.light_axle_kg && rough_kg(i + 2) < w.light_axle_kg) {
        split = true;
        std::ostringstream s;
        s.precision(4);
        s << "vehicle separation by car wheelbase: a light 2-axle part (" << rough_kg(i + 1)
          << " + " << rough_kg(i + 2) << " kg, axles " << wheelbase_m
          << " m apart, at least car_wheelbase_min_m " << w.car_wheelbase_min_m << " m) " << sp
          << " m behind the axle ahead: a car, not a trailer's axle group";
        why = s.str();
      }
    }
    if (split) vehicles.emplace_back(first, i + 1), first = i + 1, speed_split.push_back(why);
  }
  vehicles.emplace_back(first, n);
  // The site's speed noise, from the pairs that are one vehicle for certain.
  for (std::size_t i = 0; good.size() >= 2 && i + 1 < n; ++i) {
    const double sp = spacing_m(i);
    const double d = std::abs(fit[i + 1].v_mps - fit[i].v_mps) / fit[i].v_mps * 100;
    if (!(sp <= kOneVehicleSpacingM) || !std::isfinite(d)) continue;
    pair_speed_diff_pct_.push_back(d);
    if (pair_speed_diff_pct_.size() > kSpeedNoisePairs) pair_speed_diff_pct_.pop_front();
  }

  std::vector<WeighedVehicle> out;
  for (std::size_t k = 0; k < vehicles.size(); ++k) {
    const auto [a, b] = vehicles[k];
    WeighedVehicle v;
    if (k > 0 && !speed_split[k - 1].empty()) add_reason(v, speed_split[k - 1]);
    if (k < speed_split.size() && !speed_split[k].empty()) add_reason(v, speed_split[k]);
    v.lane = lane_;
    v.rows = static_cast<int>(R);
    for (const std::string& r : segment_reasons) add_reason(v, r);
    if (cut) add_reason(v, "traffic did not leave a gap for max_segment_s (vehicle may be cut)");
    // Acceleration: slope of axle speed over time.
    double accel = 0;
    if (b - a >= 2) {
      double tm = 0, vm = 0;
      for (std::size_t i = a; i < b; ++i) tm += fit[i].tmean_us * 1e-6, vm += fit[i].v_mps;
      tm /= static_cast<double>(b - a);
      vm /= static_cast<double>(b - a);
      double svt = 0, stt = 0;
      for (std::size_t i = a; i < b; ++i) {
        const double dt = fit[i].tmean_us * 1e-6 - tm;
        svt += dt * (fit[i].v_mps - vm);
        stt += dt * dt;
      }
      if (stt > 0 && good.size() >= 2) accel = svt / stt;
    }
    v.accel_mps2 = accel;
    for (std::size_t i = a; i < b; ++i) {
      WeighedAxle ax;
      ax.t_us = fit[i].t0_us;
      ax.speed_kmh = fit[i].v_mps * 3.6;
      ax.row_loads_kg.assign(R, kNaN);
      ax.row_left_kg.assign(R, kNaN);
      ax.row_right_kg.assign(R, kNaN);
      ax.row_left_channel.assign(R, -1);
      ax.row_right_channel.assign(R, -1);
      // A wheel one row missed while at least two rows saw both wheels is outvoted; a
      // track missing on most rows is a straddler (or a dead channel, flagged as a fault).
      std::size_t both = 0;
      for (std::size_t r : good) both += hits[r][i].side[0] && hits[r][i].side[1];
      for (std::size_t r : good) {
        const Hit& h = hits[r][i];
        if (!h.side[0] && !h.side[1]) continue;  // this row missed the axle (voted out)
        if ((!h.side[0] || !h.side[1]) && both >= 2 && both + 1 >= good.size()) continue;
        if (!h.side[0] || !h.side[1]) {
          add_reason(v, "wheel track missing on row at " + metres(rows_m_[r]) +
                            " (straddling lanes or a dead channel)");
          continue;
        }
        const double v_row = fit[i].v_mps + accel * (h.t_us - fit[i].tmean_us) * 1e-6;
        const double l = wheel_load_kg(*h.side[0], v_row);
        const double rr = wheel_load_kg(*h.side[1], v_row);
        for (const Pulse* p : h.side)
          if (p->saturated)
            add_reason(v, "channel " + cfg_.channels[static_cast<std::size_t>(p->channel)].name +
                              " saturated during the pass");
        ax.row_loads_kg[r] = l + rr;
        ax.row_left_kg[r] = l;
        ax.row_right_kg[r] = rr;
        ax.row_left_channel[r] = h.side[0]->channel;
        ax.row_right_channel[r] = h.side[1]->channel;
      }
      v.axles.push_back(ax);
    }
    // Combine rows. Dynamic loads make rows differ at random from axle to axle and from
    // vehicle to vehicle (each vehicle bounces at its own 1.5-4 Hz body and 10-15 Hz axle hop
    // frequency, in its own phase over the sensors); a bad row (gain, mounting) is off the
    // same way on every vehicle. So a row's bias is its median ratio to the axles' medians
    // over this vehicle's axles, and the row is dropped when the median of that bias over
    // the last row_bias_vehicles vehicles (this one included) is off by more than
    // row_bias_pct: a persistent fault is caught from its first vehicles on, while one rough
    // pass no longer throws away a good row. The rest are averaged (a plain mean averages
    // the dynamics best), dropping only a single value beyond row_outlier_pct from its
    // axle's median.
    std::vector<bool> dropped(R, false);
    if (good.size() >= 3) {
      std::size_t n_dropped = 0;
      for (std::size_t r : good) {
        std::vector<double> ratios;
        for (const WeighedAxle& ax : v.axles) {
          std::vector<double> vals;
          for (double x : ax.row_loads_kg)
            if (std::isfinite(x)) vals.push_back(x);
          if (vals.size() < 3 || !std::isfinite(ax.row_loads_kg[r])) continue;
          ratios.push_back(ax.row_loads_kg[r] / median(vals));
        }
        if (ratios.empty()) continue;
        std::deque<double>& hist = row_bias_history_[r];
        hist.push_back(median(ratios));
        while (hist.size() > static_cast<std::size_t>(w.row_bias_vehicles)) hist.pop_front();
        const double bias = median(std::vector<double>(hist.begin(), hist.end()));
        if (std::abs(bias - 1) > w.row_bias_pct / 100) dropped[r] = true, ++n_dropped;
      }
      if (n_dropped + 2 > good.size()) {
        dropped.assign(R, false);
        add_reason(v, "sensor rows disagree beyond row_bias_pct");
      }
    }
    for (WeighedAxle& ax : v.axles) {
      std::vector<double> loads, lefts, rights;
      for (std::size_t r = 0; r < R; ++r)
        if (!dropped[r] && std::isfinite(ax.row_loads_kg[r])) {
          loads.push_back(ax.row_loads_kg[r]);
          lefts.push_back(ax.row_left_kg[r]);
          rights.push_back(ax.row_right_kg[r]);
        }
      std::vector<bool> kept;
      ax.load_kg = robust_mean(loads, w.row_outlier_pct, kept);
      for (std::size_t k = 0; k < kept.size(); ++k) {
        if (!kept[k]) continue;
        ++ax.rows_used;
        ax.left_kg += lefts[k];
        ax.right_kg += rights[k];
      }
      if (ax.rows_used) ax.left_kg /= ax.rows_used, ax.right_kg /= ax.rows_used;
      if (!std::isfinite(ax.load_kg)) ax.load_kg = 0;
      // Calibrated speed-dependent correction (wim-edge calibrate), 0 by default.
      const double corr =
          1 + w.speed_corr_pct_per_10kmh / 100 * (ax.speed_kmh - w.speed_corr_ref_kmh) / 10;
      if (w.speed_corr_pct_per_10kmh != 0 && std::isfinite(corr)) {
        ax.load_kg *= corr;
        ax.left_kg *= corr;
        ax.right_kg *= corr;
      }
    }
    v.t_us = std::llround(v.axles.front().t_us);
    double vs = 0;
    for (std::size_t i = 0; i < v.axles.size(); ++i) {
      vs += v.axles[i].speed_kmh;
      v.gross_kg += v.axles[i].load_kg;
      if (i + 1 < v.axles.size()) {
        const double sp = (fit[a + i].v_mps + fit[a + i + 1].v_mps) / 2 *
                          (fit[a + i + 1].t0_us - fit[a + i].t0_us) * 1e-6;
        v.axle_spacings_m.push_back(sp);
      }
    }
    v.speed_kmh = vs / static_cast<double>(v.axles.size());
    // Separation by spacing alone is certain only below certain_axle_spacing_m: a longer
    // spacing may be the gap to a close follower (dense traffic); and a light 2-axle pair
    // at either end of a heavy vehicle looks like a car merged with it.
    for (double sp : v.axle_spacings_m)
      if (sp > w.certain_axle_spacing_m)
        add_reason(v, "vehicle separation uncertain: axle spacing " + metres(sp) + " above " +
                          metres(w.certain_axle_spacing_m) + " (close following?)");
    if (v.axles.size() >= 3) {
      const std::size_t n_ax = v.axles.size();
      auto light = [&](std::size_t i) { return v.axles[i].load_kg < w.light_axle_kg; };
      bool heavy = false;
      for (std::size_t i = 0; i < n_ax; ++i) heavy = heavy || !light(i);
      if (heavy && ((light(0) && light(1)) || (light(n_ax - 2) && light(n_ax - 1))))
        add_reason(v,
                   "vehicle separation uncertain: a light 2-axle pair at one end (a car merged?)");
    }
    if (v.axles.size() < 2) add_reason(v, "fewer than 2 axles: not a complete vehicle");
    bool speed_ok = true;
    for (const WeighedAxle& ax : v.axles)
      speed_ok = speed_ok && std::isfinite(ax.speed_kmh) && ax.speed_kmh >= w.min_speed_kmh &&
                 ax.speed_kmh <= w.max_speed_kmh;
    if (!speed_ok) {
      std::ostringstream s;
      s.precision(4);
      s << "speed " << v.speed_kmh << " km/h outside the valid range " << w.min_speed_kmh << "-"
        << w.max_speed_kmh << " km/h";
      add_reason(v, s.str());
    }
    if (std::abs(accel) > w.max_accel_mps2) {
      std::ostringstream s;
      s.precision(3);
      s << "acceleration " << accel << " m/s^2 beyond +-" << w.max_accel_mps2 << " m/s^2";
      add_reason(v, s.str());
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace wim::weigh
