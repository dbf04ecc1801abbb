// SPDX-License-Identifier: Apache-2.0
#include "record.hpp"

#include <fstream>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/recording.hpp"
#include "wim/common/time.hpp"

namespace wim::sim {

std::vector<ChannelFault> SimOptions::resolve_faults(const std::vector<Channel>& channels) const {
  std::vector<ChannelFault> out;
  for (const NamedFault& f : faults) {
    std::size_t i = 0;
    while (i < channels.size() && channels[i].name != f.channel) ++i;
    if (i == channels.size())
      throw InputError("fault: channel '" + f.channel + "' is not a channel of this site");
    out.push_back({i, f.kind, static_cast<std::int64_t>(f.start_s * 1e6)});
  }
  return out;
}

namespace {
std::ofstream open_out(const std::filesystem::path& p) {
  std::ofstream f(p, std::ios::binary);
  if (!f) throw SystemError("cannot write " + p.string());
  return f;
}
void close_out(std::ofstream& f, const std::filesystem::path& p) {
  f.close();
  if (!f) throw SystemError("write failed (disk full?): " + p.string());
}
}  // namespace

std::unique_ptr<SignalSynth> make_synth(const SimOptions& opt) {
  opt.site.validate();
  opt.traffic.validate();
  const auto channels = opt.site.channels(opt.seed);
  auto traffic = std::make_shared<TrafficModel>(
      opt.traffic, opt.site.lanes, static_cast<std::int64_t>(opt.lead_in_s * 1e6), opt.seed);
  return std::make_unique<SignalSynth>(
      opt.site, channels, [traffic]() -> std::optional<Vehicle> { return traffic->next(); },
      opt.resolve_faults(channels), opt.seed);
}

RecordResult record(const SimOptions& opt, std::size_t vehicles,
                    const std::filesystem::path& out_dir) {
  opt.site.validate();
  opt.traffic.validate();
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw SystemError("cannot create " + out_dir.string() + ": " + ec.message());

  const std::vector<Channel> channels = opt.site.channels(opt.seed);
  TrafficModel traffic(opt.traffic, opt.site.lanes, static_cast<std::int64_t>(opt.lead_in_s * 1e6),
                       opt.seed);
  std::size_t drawn = 0;
  SignalSynth synth(
      opt.site, channels,
      [&]() -> std::optional<Vehicle> {
        if (drawn >= vehicles) return std::nullopt;
        ++drawn;
        return traffic.next();
      },
      opt.resolve_faults(channels), opt.seed);

  const auto truth_path = out_dir / "truth.jsonl";
  std::ofstream truth = open_out(truth_path);
  synth.on_vehicle([&](const Vehicle& v) { truth << json::canonical(v.truth_json()) << '\n'; });

  const auto station_path = out_dir / "station.json";
  std::ofstream station = open_out(station_path);
  station << boost::json::serialize(opt.site.station_json(channels)) << '\n';
  close_out(station, station_path);

  recording::Header h;
  h.sample_rate_hz = opt.site.sample_rate_hz;
  h.station = opt.site.station_id;
  h.started_unix_us = opt.started_unix_us;
  h.meta["source"] = "wim-sim seed=" + std::to_string(opt.seed);
  for (const Channel& c : channels) h.channels.push_back(c.name);
  const auto rec_path = out_dir / "rec.csv";
  std::ofstream rec = open_out(rec_path);
  recording::Writer writer(rec, h);
  std::vector<std::int32_t> row(channels.size());
  const auto tail_us = static_cast<std::int64_t>(opt.tail_s * 1e6);
  RecordResult res;
  for (;;) {
    const std::int64_t t_us = synth.next(row);
    writer.write(t_us, row);
    ++res.samples;
    if (auto quiet = synth.quiet_after_us(); quiet && t_us >= *quiet + tail_us) break;
  }
  close_out(rec, rec_path);
  close_out(truth, truth_path);
  res.vehicles = drawn;
  res.channels = channels.size();
  res.duration_s = static_cast<double>(res.samples) / opt.site.sample_rate_hz;
  return res;
}

}  // namespace wim::sim
