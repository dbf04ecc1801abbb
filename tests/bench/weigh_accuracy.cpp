// SPDX-License-Identifier: Apache-2.0
// Accuracy of the weighing pipeline on wim-sim traffic over a scenario matrix, against a
// plain threshold-and-area weigher (plain_weigher.hpp) run on the same samples in the same
// process. Per cell and method: vehicles in / out / matched, extra (split or invented) and
// missed (merged or lost), axle count, gross / single axle / axle group within +-5/7/10 %,
// gross within 5 % per vehicle class, speed error, overload verdicts (true / false / missed),
// the COST 323 class reached (simplified: 95 % of each category within its delta), and
// whether the issue-21 targets are met.
// Usage: weigh_accuracy [vehicles_per_seed=400] [seeds=5] [cell filter | full]
//   env WEIGH_BENCH_FOLLOWER_PCT=x: the pipeline's follower_speed_diff_pct (default 3 %)
//   env WEIGH_BENCH_TOW_KG=x: the pipeline's light_tow_max_kg (default 5 250 kg, 0: off)
//   env WEIGH_BENCH_CAR_WB_M=x: the pipeline's car_wheelbase_min_m (default 1.8 m, 0: off)
//   the default matrix: one knob at a time around 15 counts of noise, and the hard cells;
//   "full": noise 2/15/40 x rows (4 @ 1 m, 4 @ 1.5 m, 2 @ 1.5 m) x strip/plate x dynamics
//   1/2.5 x free flow/0.4 s gaps (72 cells).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "physics.hpp"
#include "plain_weigher.hpp"
#include "site.hpp"
#include "traffic.hpp"
#include "wim/common/station_config.hpp"
#include "wim/edge/weigh/pipeline.hpp"

namespace {

using wim::weigh::WeighedVehicle;

struct Share {
  std::vector<double> err;  // [%] |error|
  void add(double err_pct) { err.push_back(std::abs(err_pct)); }
  double within(double d) const {
    if (err.empty()) return 100;
    return 100.0 *
           static_cast<double>(
               std::count_if(err.begin(), err.end(), [&](double e) { return e <= d; })) /
           static_cast<double>(err.size());
  }
  std::string str() const {
    char b[96];
    if (err.empty()) return "      -";
    std::snprintf(b, sizeof b, "%5.1f %5.1f %5.1f (n=%zu)", within(5), within(7), within(10),
                  err.size());
    return b;
  }
};

/// COST 323 tolerance widths delta [%] (shared/domain/FACTS.md): gross, group, single axle.
struct Cost323 {
  const char* name;
  double gross, group, single;
};
constexpr std::array<Cost323, 5> kClasses = {{{"A(5)", 5, 7, 8},
                                              {"B+(7)", 7, 10, 11},
                                              {"B(10)", 10, 13, 15},
                                              {"C(15)", 15, 18, 20},
                                              {"D+(20)", 20, 23, 25}}};

struct Stats {
  std::size_t truth = 0, output = 0, matched = 0, axles_ok = 0, invalid = 0;
  Share gross, single, group;
  std::array<Share, wim::sim::kClassCount> by_class;
  double speed_sum = 0, speed_sq = 0, speed_max = 0;
  std::size_t speed_n = 0;
  std::size_t true_case = 0, false_case = 0, missed = 0, warn_true = 0, warn_false = 0,
              truth_over = 0, missed_invalid = 0;
  double worst_false_pct = 0;
  std::map<std::string, int> reasons;  // why not enforceable (first 60 characters, digits cut)
  double count_ok_pct() const {
    return truth ? 100.0 * static_cast<double>(axles_ok) / static_cast<double>(truth) : 0;
  }
  std::string cost323() const {
    for (const Cost323& c : kClasses)
      if (gross.within(c.gross) >= 95 && group.within(c.group) >= 95 &&
          single.within(c.single) >= 95)
        return c.name;
    return "worse than D+(20)";
  }
};

void score(Stats& s, const std::vector<wim::sim::Vehicle>& truth,
           std::vector<WeighedVehicle>& out) {
  s.truth += truth.size();
  s.output += out.size();
  std::vector<bool> used(out.size());
  for (const wim::sim::Vehicle& t : truth) {
    const double limit = wim::sim::goods_limit_kg(t.cls);
    const bool over = limit > 0 && t.gross_kg() > limit;
    s.truth_over += over;
    std::size_t best = out.size();
    double best_dt = 0.3e6;
    for (std::size_t i = 0; i < out.size(); ++i) {
      const double dt = std::abs(static_cast<double>(out[i].t_us - t.t_us));
      if (!used[i] && out[i].lane == t.lane && dt < best_dt) best = i, best_dt = dt;
    }
    if (best == out.size()) {
      s.missed += over;
      continue;
    }
    used[best] = true;
    const WeighedVehicle& o = out[best];
    ++s.matched;
    s.invalid += !o.valid;
    for (const std::string& r : o.reasons) {
      std::string k = r.substr(0, 60);
      std::erase_if(k, [](char c) { return c >= '0' && c <= '9'; });
      ++s.reasons[k];
    }
    const bool axles_ok = o.axles.size() == t.axle_loads_kg.size();
    s.axles_ok += axles_ok;
    const double verr = (o.axles.front().speed_kmh - t.speed_kmh) / t.speed_kmh * 100;
    if (std::isfinite(verr)) {
      s.speed_sum += verr, s.speed_sq += verr * verr, ++s.speed_n;
      s.speed_max = std::max(s.speed_max, std::abs(verr));
    }
    if (axles_ok) {
      const double ge = (o.gross_kg - t.gross_kg()) / t.gross_kg() * 100;
      s.gross.add(ge);
      s.by_class[static_cast<std::size_t>(t.cls)].add(ge);
      std::size_t a = 0;
      for (int g : t.axle_groups) {
        double tl = 0, ol = 0;
        for (int k = 0; k < g; ++k, ++a) tl += t.axle_loads_kg[a], ol += o.axles[a].load_kg;
        (g == 1 ? s.single : s.group).add((ol - tl) / tl * 100);
      }
    }
    const auto v = o.legal.verdict;
    const bool flagged = v == wim::legal::Verdict::overload;
    const bool warned = v == wim::legal::Verdict::warning;
    if (flagged && over) ++s.true_case;
    if (flagged && !over) {
      ++s.false_case;
      s.worst_false_pct =
          std::max(s.worst_false_pct, (o.gross_kg - t.gross_kg()) / t.gross_kg() * 100);
    }
    if (warned) (over ? s.warn_true : s.warn_false) += 1;
    if (over && !flagged && !warned) {
      ++s.missed;
      s.missed_invalid += !o.valid;
    }
  }
  out.clear();
}

/// [s] time for a point moving at v0_mps with constant a_mps2 to cover d_m (the motion of
/// hw/sim's synthesiser: x = v0 t + a t^2 / 2).
double travel_s(double v0_mps, double a_mps2, double d_m) {
  if (std::abs(a_mps2) < 1e-9) return d_m / v0_mps;
  const double disc = v0_mps * v0_mps + 2 * a_mps2 * d_m;
  return disc <= 0 ? d_m / 3.0 : (std::sqrt(disc) - v0_mps) / a_mps2;
}

/// env WEIGH_BENCH_DIAG=1: one line per output that is not exactly one true vehicle. Every
/// output axle is matched to the nearest true axle at row 1 (within 40 ms); the line says
/// which true vehicles (class, axles) the output holds and, at each boundary between two
/// of them, the true axle distance, the true and measured speeds of the two axles and the
/// follower rule's allowance.
void diagnose(const char* cell, int seed, const std::vector<wim::sim::Vehicle>& truth,
              const std::vector<WeighedVehicle>& out, const wim::config::WeighSettings& w) {
  struct TrueAxle {
    std::size_t veh;
    std::size_t idx;
    double t_us, v_mps, x_m;  // x: distance from the vehicle's first axle
  };
  std::vector<TrueAxle> axles;
  for (std::size_t k = 0; k < truth.size(); ++k) {
    const wim::sim::Vehicle& t = truth[k];
    const double v0 = t.speed_kmh / 3.6;
    double x = 0;
    for (std::size_t i = 0; i < t.axle_loads_kg.size(); ++i) {
      if (i > 0) x += t.axle_spacings_m[i - 1];
      const double dt = travel_s(v0, t.accel_mps2, x);
      axles.push_back({k, i, static_cast<double>(t.t_us) + dt * 1e6, v0 + t.accel_mps2 * dt, x});
    }
  }
  std::vector<int> seen(truth.size());
  for (const WeighedVehicle& o : out) {
    std::vector<const TrueAxle*> m;
    for (const auto& a : o.axles) {
      const TrueAxle* best = nullptr;
      for (const TrueAxle& ta : axles)
        if (std::abs(ta.t_us - a.t_us) < 40e3 &&
            (!best || std::abs(ta.t_us - a.t_us) < std::abs(best->t_us - a.t_us)))
          best = &ta;
      m.push_back(best);
    }
    std::vector<std::size_t> vehs;
    int invented = 0;
    for (const TrueAxle* ta : m) {
      if (!ta) {
        ++invented;
        continue;
      }
      if (vehs.empty() || vehs.back() != ta->veh) vehs.push_back(ta->veh);
    }
    for (std::size_t k : vehs) ++seen[k];
    const bool one =
        vehs.size() == 1 && invented == 0 && o.axles.size() == truth[vehs[0]].axle_loads_kg.size();
    if (one) {
      // Speed noise between two axles of one vehicle: measured speed difference minus the
      // true one (the acceleration), in % of the speed; one line per adjacent axle pair.
      for (std::size_t i = 0; i + 1 < m.size(); ++i) {
        const double v1 = o.axles[i].speed_kmh / 3.6, v2 = o.axles[i + 1].speed_kmh / 3.6;
        const double dv_meas = (v2 - v1) / v1 * 100;
        const double dv_true = (m[i + 1]->v_mps - m[i]->v_mps) / m[i]->v_mps * 100;
        std::printf("DIAGPAIR %s|%.2f %.4f\n", cell, o.axle_spacings_m[i], dv_meas - dv_true);
      }
      continue;
    }
    std::string kind = invented ? "invented-axle" : vehs.size() > 1 ? "merged" : "partial";
    std::printf("DIAG %s seed %d t %.3f s %s: %zu axles, valid %d, holds", cell, seed,
                static_cast<double>(o.t_us) * 1e-6, kind.c_str(), o.axles.size(), o.valid);
    for (std::size_t k : vehs)
      std::printf(" [%s %zu ax %.0f kg %.1f km/h a %+.2f]",
                  std::string(wim::sim::to_string(truth[k].cls)).c_str(),
                  truth[k].axle_loads_kg.size(), truth[k].gross_kg(), truth[k].speed_kmh,
                  truth[k].accel_mps2);
    for (std::size_t i = 0; i + 1 < m.size(); ++i) {
      if (!m[i] || !m[i + 1] || m[i]->veh == m[i + 1]->veh) continue;
      const double dv_true = (m[i + 1]->v_mps - m[i]->v_mps) / m[i]->v_mps * 100;
      const double v1 = o.axles[i].speed_kmh / 3.6, v2 = o.axles[i + 1].speed_kmh / 3.6;
      const double dt_s = (o.axles[i + 1].t_us - o.axles[i].t_us) * 1e-6;
      const double allowed =
          (w.max_accel_mps2 * dt_s + w.follower_speed_diff_pct / 100 * v1) / v1 * 100;
      std::printf(
          " | boundary %zu-%zu: spacing %.2f m (true %.2f), dv true %+.2f %% meas %+.2f "
          "%% allowed %.2f %%, speed err %+.2f %+.2f %%",
          i, i + 1, o.axle_spacings_m[i],
          (m[i + 1]->t_us - m[i]->t_us) * 1e-6 * (m[i]->v_mps + m[i + 1]->v_mps) / 2, dv_true,
          (v2 - v1) / v1 * 100, allowed, (v1 - m[i]->v_mps) / m[i]->v_mps * 100,
          (v2 - m[i + 1]->v_mps) / m[i + 1]->v_mps * 100);
    }
    std::printf("\n");
  }
  for (std::size_t k = 0; k < truth.size(); ++k)
    if (!seen[k])
      std::printf("DIAG %s seed %d t %.3f s lost: [%s %zu ax]\n", cell, seed,
                  static_cast<double>(truth[k].t_us) * 1e-6,
                  std::string(wim::sim::to_string(truth[k].cls)).c_str(),
                  truth[k].axle_loads_kg.size());
}

void print(const char* name, const Stats& s) {
  const double n = static_cast<double>(std::max<std::size_t>(1, s.speed_n));
  const double vm = s.speed_sum / n;
  const double vsd = std::sqrt(std::max(0.0, s.speed_sq / n - vm * vm));
  std::printf(
      "  %-8s vehicles %zu in / %zu out / %zu matched; extra (split/invented) %zu, missed "
      "(merged/lost) %zu; count+axles right %.2f %%; not enforceable %zu\n",
      name, s.truth, s.output, s.matched, s.output - s.matched, s.truth - s.matched,
      s.count_ok_pct(), s.invalid);
  std::printf("  %-8s +-5/7/10 %%: gross %s | single axles %s | groups %s | COST 323 %s\n", "",
              s.gross.str().c_str(), s.single.str().c_str(), s.group.str().c_str(),
              s.cost323().c_str());
  std::printf("  %-8s gross +-5 %% by class:", "");
  for (int c = 0; c < wim::sim::kClassCount; ++c)
    if (!s.by_class[static_cast<std::size_t>(c)].err.empty())
      std::printf(" %s %.1f",
                  std::string(wim::sim::to_string(static_cast<wim::sim::VehicleClass>(c))).c_str(),
                  s.by_class[static_cast<std::size_t>(c)].within(5));
  std::vector<std::pair<int, std::string>> rs;
  for (const auto& [k, c] : s.reasons) rs.emplace_back(-c, k);
  std::sort(rs.begin(), rs.end());
  for (std::size_t i = 0; i < rs.size() && i < 3; ++i)
    std::printf("\n  %-8s not enforceable because: %d x '%s'", "", -rs[i].first,
                rs[i].second.c_str());
  std::printf("\n  %-8s speed error %+.2f %% mean, %.2f %% sd, %.2f %% max |.|\n", "", vm, vsd,
              s.speed_max);
  std::printf(
      "  %-8s overload: truly over %zu -> cases %zu, warnings %zu, missed %zu (not enforceable "
      "%zu); FALSE cases %zu (worst gross error %.1f %%), false warnings %zu\n",
      "", s.truth_over, s.true_case, s.warn_true, s.missed, s.missed_invalid, s.false_case,
      s.worst_false_pct, s.warn_false);
}

struct Cell {
  std::string label;
  wim::sim::SiteConfig site;
  wim::sim::TrafficConfig traffic;
};

struct Totals {
  int cells = 0, met = 0, below_baseline = 0, false_cases = 0;
};

void run(const Cell& cell, std::size_t per_seed, int seeds, Totals& tot) {
  const auto& site = cell.site;
  const auto& traffic = cell.traffic;
  std::printf(
      "\n== %s: %zu rows (last at %.1f m), %s, noise %.0f counts, bounce %.2f, hop %.2f, "
      "headway %.1f s, flow %.0f veh/h\n",
      cell.label.c_str(), site.rows_m.size(), site.rows_m.back(),
      std::string(wim::sim::to_string(site.kind)).c_str(), site.noise_counts, traffic.bounce_amp,
      traffic.hop_amp, traffic.min_headway_s, traffic.flow_veh_per_h);
  Stats pipe, plain;
  for (int seed = 1; seed <= seeds; ++seed) {
    const std::vector<wim::sim::Channel> channels = site.channels(static_cast<std::uint64_t>(seed));
    auto cfg = wim::config::parse_station_config(site.station_json(channels), "sim");
    // Sweep knob for the close-follower speed rule (pipeline only; the baseline has none).
    if (const char* pct = std::getenv("WEIGH_BENCH_FOLLOWER_PCT"))
      cfg.weighing.follower_speed_diff_pct = std::atof(pct);
    if (const char* kg = std::getenv("WEIGH_BENCH_TOW_KG"))
      cfg.weighing.light_tow_max_kg = std::atof(kg);
    if (const char* m = std::getenv("WEIGH_BENCH_CAR_WB_M"))
      cfg.weighing.car_wheelbase_min_m = std::atof(m);
    std::vector<std::string> names;
    for (const auto& c : channels) names.push_back(c.name);
    wim::weigh::Pipeline p(cfg, site.sample_rate_hz, names);
    wim::bench::PlainWeigher b(cfg, site.sample_rate_hz);
    wim::sim::TrafficModel model(traffic, site.lanes, 2'000'000, static_cast<std::uint64_t>(seed));
    std::size_t drawn = 0;
    std::vector<wim::sim::Vehicle> truth;
    wim::sim::SignalSynth synth(
        site, channels,
        [&]() -> std::optional<wim::sim::Vehicle> {
          if (drawn >= per_seed) return std::nullopt;
          ++drawn;
          return model.next();
        },
        {}, static_cast<std::uint64_t>(seed));
    synth.on_vehicle([&](const wim::sim::Vehicle& v) { truth.push_back(v); });
    std::vector<std::int32_t> row(channels.size());
    for (;;) {
      const std::int64_t t = synth.next(row);
      p.feed(t, row);
      b.feed(t, row);
      if (auto q = synth.quiet_after_us(); q && t >= *q + 4'000'000) break;
    }
    p.finish();
    std::vector<WeighedVehicle> out = p.take();
    if (std::getenv("WEIGH_BENCH_DIAG"))
      diagnose(cell.label.c_str(), seed, truth, out, cfg.weighing);
    score(pipe, truth, out);
    std::vector<WeighedVehicle> bout = b.take(true);
    score(plain, truth, bout);
  }
  print("pipeline", pipe);
  print("baseline", plain);
  // Targets of issue 21 (noise <= 15 counts): count and axles right >= 99.5 % free flow,
  // >= 98.5 % with gaps below 1 s; gross within 5 % >= 95 %; zero false cases; never below
  // the baseline (count and gross share).
  const bool gaps = traffic.min_headway_s < 1.0 || traffic.dense;
  std::string miss;
  if (pipe.count_ok_pct() < (gaps ? 98.5 : 99.5)) miss += " count/axles";
  if (pipe.gross.within(5) < 95) miss += " gross5";
  if (pipe.false_case) miss += " FALSE-CASES";
  const bool below = pipe.count_ok_pct() + 0.05 < plain.count_ok_pct() ||
                     pipe.gross.within(5) + 0.05 < plain.gross.within(5);
  if (below) miss += " below-baseline";
  ++tot.cells;
  tot.met += miss.empty();
  tot.below_baseline += below;
  tot.false_cases += static_cast<int>(pipe.false_case);
  std::printf("  targets (%s): %s\n", site.noise_counts <= 15 ? "apply" : "report only",
              miss.empty() ? "met" : ("MISSED:" + miss).c_str());
  std::fflush(stdout);
}

wim::sim::SiteConfig rows(wim::sim::SiteConfig s, std::vector<double> r) {
  s.rows_m = std::move(r);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t per_seed = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 400;
  const int seeds = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::string only = argc > 3 ? argv[3] : "";
  wim::sim::SiteConfig base;  // 4 strip rows 1 m apart, 4 kHz
  wim::sim::TrafficConfig free_flow;
  const std::vector<double> r4_1{0, 1, 2, 3}, r4_15{0, 1.5, 3, 4.5}, r2_15{0, 1.5}, r2_1{0, 1};
  auto noise = [](wim::sim::SiteConfig s, double n) {
    s.noise_counts = n;
    return s;
  };
  auto plate = [](wim::sim::SiteConfig s) {
    s.kind = wim::sim::SensorKind::plate;
    s.length_m = 0.6;
    s.gain_kg_per_count = 1.0;
    return s;
  };
  auto rough = [](wim::sim::TrafficConfig t) {  // dynamic loads 2.5x the defaults
    t.bounce_amp = 0.10, t.hop_amp = 0.05;
    return t;
  };
  auto gaps = [](wim::sim::TrafficConfig t) {  // 0.4 s gaps at row 1 (rear end to front end)
    t.min_headway_s = 0.4, t.flow_veh_per_h = 2400;
    return t;
  };
  auto drift = [](wim::sim::SiteConfig s) {  // random walk, temperature ramp, 1/f-like noise
    s.zero_walk_counts_per_sqrt_s = 2, s.temperature_slope_c_per_h = 10;
    s.noise_lf_counts = 8, s.noise_lf_hz = 5;
    s.contact_min_m = 0.15, s.contact_max_m = 0.25;
    return s;
  };
  auto faulty = [](wim::sim::SiteConfig s) {
    s.faulty_row = 2, s.faulty_row_gain = 0.85, s.faulty_row_miss = 0.03;
    return s;
  };
  std::vector<Cell> cells;
  if (only == "full") {
    for (double n : {2.0, 15.0, 40.0})
      for (const auto& [rl, r] : {std::pair{"4x1m", r4_1}, {"4x1.5m", r4_15}, {"2x1.5m", r2_15}})
        for (bool pl : {false, true})
          for (bool ro : {false, true})
            for (bool ga : {false, true}) {
              char l[96];
              std::snprintf(l, sizeof l, "n%.0f %s %s dyn%s %s", n, rl, pl ? "plate" : "strip",
                            ro ? "2.5" : "1", ga ? "gaps0.4" : "free");
              wim::sim::SiteConfig s = noise(rows(base, r), n);
              if (pl) s = plate(s);
              wim::sim::TrafficConfig t = free_flow;
              if (ro) t = rough(t);
              if (ga) t = gaps(t);
              cells.push_back({l, s, t});
            }
  } else {
    cells = {
        {"clean (old defaults)", base, free_flow},
        {"n15", noise(base, 15), free_flow},
        {"n40", noise(base, 40), free_flow},
        {"n15 rows 1.5m", noise(rows(base, r4_15), 15), free_flow},
        {"n15 2 rows 1.5m", noise(rows(base, r2_15), 15), free_flow},
        {"n15 2 rows 1m", noise(rows(base, r2_1), 15), free_flow},
        {"n15 plate 2 rows", plate(noise(rows(base, r2_15), 15)), free_flow},
        {"n15 dyn2.5", noise(base, 15), rough(free_flow)},
        {"n15 gaps0.4", noise(base, 15), gaps(free_flow)},
        {"n15 drift+walk+lf+patch", drift(noise(base, 15)), free_flow},
        {"n15 faulty row", faulty(noise(base, 15)), free_flow},
        {"hard n15 rows1.5 dyn2.5 gaps0.4 drift", drift(noise(rows(base, r4_15), 15)),
         gaps(rough(free_flow))},
        {"hard n15 2rows1m dyn2.5 gaps0.4", noise(rows(base, r2_1), 15), gaps(rough(free_flow))},
        {"hard n15 plate dyn2.5 gaps0.4", plate(noise(rows(base, r2_15), 15)),
         gaps(rough(free_flow))},
        {"hard n40 rows1.5 dyn2.5 gaps0.4 drift", drift(noise(rows(base, r4_15), 40)),
         gaps(rough(free_flow))},
    };
  }
  std::printf("weigh_accuracy: %zu vehicles x %d seeds per cell, 1 lane, 4 kHz, %zu cells\n",
              per_seed, seeds, cells.size());
  Totals tot;
  for (const Cell& c : cells)
    if (only.empty() || only == "full" || c.label.find(only) != std::string::npos)
      run(c, per_seed, seeds, tot);
  std::printf(
      "\nsummary: %d cells, targets met in %d, pipeline below the baseline in %d, false "
      "cases %d\n",
      tot.cells, tot.met, tot.below_baseline, tot.false_cases);
  return 0;
}
