// SPDX-License-Identifier: Apache-2.0
#include "site.hpp"

#include <cmath>

#include "rng.hpp"
#include "wim/common/error.hpp"

namespace wim::sim {

std::string_view to_string(SensorKind k) {
  return k == SensorKind::strip ? "strip" : "plate";
}

void SiteConfig::validate() const {
  auto bad = [](const std::string& what) { throw InputError("site: " + what); };
  if (station_id.empty()) bad("station_id: empty");
  if (lanes < 1 || lanes > 4) bad("lanes: " + std::to_string(lanes) + " not in 1..4");
  if (rows_m.empty()) bad("rows: at least one sensor row is needed");
  if (rows_m.front() != 0) bad("rows_m[0]: the first row sits at 0 m");
  for (std::size_t i = 1; i < rows_m.size(); ++i)
    if (rows_m[i] < rows_m[i - 1] + length_m)
      bad("rows_m[" + std::to_string(i) + "]: rows overlap or are not increasing");
  if (!(length_m > 0 && length_m < 2)) bad("length_m: must be in (0, 2) m");
  if (!(gain_kg_per_count > 0)) bad("gain: must be > 0 kg/count");
  if (!(sample_rate_hz >= 100 && sample_rate_hz <= 100000))
    bad("sample_rate_hz: must be in 100..100000 Hz");
  if (noise_counts < 0) bad("noise_counts: must be >= 0");
  if (saturation_counts < 100) bad("saturation_counts: must be >= 100");
  if (noise_lf_counts < 0) bad("noise_lf_counts: must be >= 0");
  if (!(noise_lf_hz > 0 && noise_lf_hz < sample_rate_hz / 2))
    bad("noise_lf_hz: must be in (0, sample_rate_hz / 2)");
  if (zero_walk_counts_per_sqrt_s < 0) bad("zero_walk_counts_per_sqrt_s: must be >= 0");
  if (!(contact_min_m >= 0.05 && contact_max_m >= contact_min_m && contact_max_m <= 1))
    bad("contact_min_m/contact_max_m: need 0.05 <= min <= max <= 1 m");
  if (faulty_row < 0 || faulty_row > static_cast<int>(rows_m.size()))
    bad("faulty_row: " + std::to_string(faulty_row) + " not in 0.." +
        std::to_string(rows_m.size()));
  if (!(faulty_row_gain > 0 && faulty_row_gain <= 10)) bad("faulty_row_gain: must be in (0, 10]");
  if (faulty_row_miss < 0 || faulty_row_miss > 1) bad("faulty_row_miss: must be in [0, 1]");
}

std::vector<Channel> SiteConfig::channels(std::uint64_t seed) const {
  Rng rng(seed ^ 0x5eed5173ull);
  std::vector<Channel> out;
  for (int lane = 1; lane <= lanes; ++lane)
    for (std::size_t r = 0; r < rows_m.size(); ++r)
      for (bool left : {true, false}) {
        Channel c;
        c.lane = lane;
        c.row = static_cast<int>(r) + 1;
        c.row_m = rows_m[r];
        c.left = left;
        c.kind = kind;
        c.length_m = length_m;
        c.gain = gain_kg_per_count;
        c.name = "L" + std::to_string(lane) + "R" + std::to_string(c.row) + (left ? "L" : "R");
        c.zero =
            static_cast<std::int32_t>(std::lround(rng.uniform(-zero_max_counts, zero_max_counts)));
        c.drift_counts_per_c = rng.uniform(-drift_max_counts_per_c, drift_max_counts_per_c);
        out.push_back(c);
      }
  return out;
}

boost::json::object SiteConfig::station_json(const std::vector<Channel>& channels) const {
  boost::json::array chans;
  for (const auto& c : channels) {
    chans.push_back(boost::json::object{{"name", c.name},
                                        {"lane", c.lane},
                                        {"row_m", c.row_m},
                                        {"side", c.left ? "left" : "right"},
                                        {"kind", to_string(c.kind)},
                                        {"length_m", c.length_m},
                                        {"gain", c.gain},
                                        {"zero", c.zero}});
  }
  return boost::json::object{
      {"station_id", station_id},
      {"sample_rate_hz", sample_rate_hz == std::floor(sample_rate_hz)
                             ? boost::json::value(std::llround(sample_rate_hz))
                             : boost::json::value(sample_rate_hz)},
      {"channels", std::move(chans)}};
}

}  // namespace wim::sim
