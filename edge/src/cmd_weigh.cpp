// SPDX-License-Identifier: Apache-2.0
// `wim-edge weigh --config station.json --recording rec.csv [--temperature-c T]`:
// replays a contract-1 recording through the weighing pipeline and prints one
// contract-3 JSON line per vehicle, in pass order. Exit 0 on success, 2 on bad input.
#include <boost/json.hpp>
#include <iostream>
#include <string>

#include "wim/common/error.hpp"
#include "wim/common/recording.hpp"
#include "wim/common/station_config.hpp"
#include "wim/edge/weigh/pipeline.hpp"
#include "wim/edge/weigh/vehicle_json.hpp"

namespace {

constexpr const char* kUsage =
    "usage: wim-edge weigh --config station.json --recording rec.csv [--temperature-c T]\n"
    "  prints one JSON object per vehicle (contract 3), in pass order\n";

}  // namespace

int cmd_weigh(int argc, char** argv) {
  std::string config_path, recording_path;
  double temperature_c = 0;
  bool have_temperature = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw wim::InputError(a + ": missing value");
      return argv[++i];
    };
    try {
      if (a == "--config")
        config_path = value();
      else if (a == "--recording")
        recording_path = value();
      else if (a == "--temperature-c")
        temperature_c = std::stod(value()), have_temperature = true;
      else if (a == "-h" || a == "--help") {
        std::cout << kUsage;
        return 0;
      } else
        throw wim::InputError("unknown option '" + a + "'");
    } catch (const std::exception& e) {
      std::cerr << "wim-edge weigh: " << e.what() << "\n" << kUsage;
      return 2;
    }
  }
  if (config_path.empty() || recording_path.empty()) {
    std::cerr << "wim-edge weigh: --config and --recording are required\n" << kUsage;
    return 2;
  }
  try {
    const wim::config::StationConfig cfg = wim::config::load_station_config(config_path);
    auto reader = wim::recording::Reader::open(recording_path);
    const wim::recording::Header& h = reader->header();
    if (!h.station.empty() && h.station != cfg.station_id)
      std::cerr << "wim-edge weigh: warning: recording station '" << h.station
                << "' differs from config station_id '" << cfg.station_id << "'\n";
    wim::weigh::Pipeline pipeline(cfg, h.sample_rate_hz, h.channels);
    if (have_temperature) pipeline.set_temperature_c(temperature_c);
    auto print = [&] {
      for (const wim::weigh::WeighedVehicle& v : pipeline.take()) {
        boost::json::object o = wim::weigh::vehicle_json(v);
        o["station_id"] = cfg.station_id;
        if (!cfg.calibration_id.empty()) o["calibration_id"] = cfg.calibration_id;
        std::cout << boost::json::serialize(o) << "\n";
      }
    };
    wim::recording::Block block;
    while (reader->read_block(block, 4096) > 0) {
      pipeline.feed(block);
      print();
    }
    pipeline.finish();
    print();
    std::cout.flush();
    return 0;
  } catch (const wim::InputError& e) {
    std::cerr << "wim-edge weigh: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "wim-edge weigh: " << e.what() << "\n";
    return 1;
  }
}
