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
