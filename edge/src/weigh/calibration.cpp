// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/weigh/calibration.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <numeric>

#include "wim/common/error.hpp"
#include "wim/common/recording.hpp"
#include "wim/edge/weigh/pipeline.hpp"

namespace wim::weigh {
namespace {

/// The reference truck's pass in a run: the first vehicle with the reference axle count.
WeighedVehicle weigh_run(const config::StationConfig& cfg, const ReferenceRun& run,
                         std::size_t index) {
  const recording::Recording rec = recording::read_all(run.recording);
  Pipeline p(cfg, rec.header.sample_rate_hz, rec.header.channels);
  p.feed(rec.data);
  p.finish();
  for (WeighedVehicle& v : p.take())
    if (v.axles.size() == run.static_axle_loads_kg.size()) return std::move(v);
  throw InputError("runs[" + std::to_string(index) + "]: no vehicle with " +
                   std::to_string(run.static_axle_loads_kg.size()) + " axles in " +
                   run.recording.string());
}

double sum(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0);
}

}  // namespace

Residuals residuals(const std::vector<double>& e) {
  Residuals r;
  r.n = e.size();
  if (e.empty()) return r;
  r.bias_pct = sum(e) / static_cast<double>(e.size());
  double ss = 0;
  for (double x : e) ss += (x - r.bias_pct) * (x - r.bias_pct);
  r.sd_pct = e.size() > 1 ? std::sqrt(ss / static_cast<double>(e.size() - 1)) : 0;
  r.ci95_lo_pct = r.bias_pct - 1.96 * r.sd_pct;
  r.ci95_hi_pct = r.bias_pct + 1.96 * r.sd_pct;
  return r;
}

CalibrationResult calibrate(const config::StationConfig& cfg, const std::vector<ReferenceRun>& runs,
                            const std::string& id, const std::string& date) {
  if (runs.size() < 2) throw InputError("runs: at least 2 reference passes are needed");
  CalibrationResult res;
  res.id = id;
  res.date = date;
  config::StationConfig base = cfg;
  base.weighing.speed_corr_pct_per_10kmh = 0;  // fit from scratch
  const std::size_t C = cfg.channels.size();
  std::vector<double> sxy(C), sxx(C);
  res.wheels.assign(C, 0);
  std::vector<double> before;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const WeighedVehicle v = weigh_run(base, runs[i], i);
    before.push_back((v.gross_kg - sum(runs[i].static_axle_loads_kg)) /
                     sum(runs[i].static_axle_loads_kg) * 100);
    for (std::size_t a = 0; a < v.axles.size(); ++a) {
      const WeighedAxle& ax = v.axles[a];
      const double ref_wheel = runs[i].static_axle_loads_kg[a] / 2;
      for (std::size_t r = 0; r < ax.row_left_kg.size(); ++r)
        for (auto [ch, kg] : {std::pair{ax.row_left_channel[r], ax.row_left_kg[r]},
                              std::pair{ax.row_right_channel[r], ax.row_right_kg[r]}}) {
          if (ch < 0 || !std::isfinite(kg)) continue;
          sxy[static_cast<std::size_t>(ch)] += kg * ref_wheel;
          sxx[static_cast<std::size_t>(ch)] += kg * kg;
          ++res.wheels[static_cast<std::size_t>(ch)];
        }
    }
  }
  res.gross_before = residuals(before);
  config::StationConfig out = base;
  for (std::size_t c = 0; c < C; ++c) {
    res.old_gain.push_back(cfg.channels[c].gain);
    if (sxx[c] <= 0)
      throw InputError("channel " + cfg.channels[c].name +
                       ": no wheel passes in the reference runs");
    out.channels[c].gain = cfg.channels[c].gain * sxy[c] / sxx[c];
    res.new_gain.push_back(out.channels[c].gain);
  }
  // Speed-dependent correction: least squares of the remaining gross ratio over speed.
  std::vector<double> speed, ratio;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const WeighedVehicle v = weigh_run(out, runs[i], i);
    speed.push_back(v.speed_kmh);
    ratio.push_back(sum(runs[i].static_axle_loads_kg) / v.gross_kg);
  }
  const double vm = sum(speed) / static_cast<double>(speed.size());
  const double rm = sum(ratio) / static_cast<double>(ratio.size());
  double svr = 0, svv = 0;
  for (std::size_t i = 0; i < speed.size(); ++i)
    svr += (speed[i] - vm) * (ratio[i] - rm), svv += (speed[i] - vm) * (speed[i] - vm);
  res.speed_ref_kmh = vm;
  res.speed_pct_per_10kmh = svv > 1 ? svr / svv * 10 * 100 : 0;  // needs a spread of speeds
  out.weighing.speed_corr_ref_kmh = res.speed_ref_kmh;
  out.weighing.speed_corr_pct_per_10kmh = res.speed_pct_per_10kmh;
  out.calibration_id = id;
  out.calibration_date = date;
  std::vector<double> after, axle_after;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const WeighedVehicle v = weigh_run(out, runs[i], i);
    const double ref = sum(runs[i].static_axle_loads_kg);
    after.push_back((v.gross_kg - ref) / ref * 100);
    for (std::size_t a = 0; a < v.axles.size(); ++a)
      axle_after.push_back((v.axles[a].load_kg - runs[i].static_axle_loads_kg[a]) /
                           runs[i].static_axle_loads_kg[a] * 100);
  }
  res.gross_after = residuals(after);
  res.axle_after = residuals(axle_after);
  res.calibrated = std::move(out);
  return res;
}

boost::json::object to_json(const CalibrationResult& r) {
  namespace bj = boost::json;
  auto res = [](const Residuals& x) {
    return bj::object{{"n", x.n},
                      {"bias_pct", x.bias_pct},
                      {"sd_pct", x.sd_pct},
                      {"ci95_pct", bj::array{x.ci95_lo_pct, x.ci95_hi_pct}}};
  };
  bj::array chans;
  for (std::size_t c = 0; c < r.new_gain.size(); ++c)
    chans.push_back(bj::object{{"name", r.calibrated.channels[c].name},
                               {"old_gain", r.old_gain[c]},
                               {"new_gain", r.new_gain[c]},
                               {"change_pct", (r.new_gain[c] / r.old_gain[c] - 1) * 100},
                               {"wheel_passes", r.wheels[c]}});
  return bj::object{{"calibration_id", r.id},
                    {"date", r.date},
                    {"channels", std::move(chans)},
                    {"speed_correction", bj::object{{"ref_kmh", r.speed_ref_kmh},
                                                    {"pct_per_10kmh", r.speed_pct_per_10kmh}}},
                    {"gross_before", res(r.gross_before)},
                    {"gross_after", res(r.gross_after)},
                    {"axle_after", res(r.axle_after)}};
}

}  // namespace wim::weigh
