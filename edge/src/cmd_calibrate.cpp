// SPDX-License-Identifier: Apache-2.0
// `wim-edge calibrate --config station.json --runs runs.json --id CAL-... [--date D]
//  [--out calibrated.json]`: fits per-channel gains and a speed correction from passes of
// reference trucks; prints the calibration report (JSON); writes the calibrated station
// config (the input with new gains, "calibration" and the speed correction) to --out.
// runs.json: {"runs": [{"recording": "run1.csv", "static_axle_loads_kg": [6100, 9800]}, ...]}
// (recording paths relative to runs.json).
#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <string>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/time.hpp"
#include "wim/edge/weigh/calibration.hpp"

namespace {
constexpr const char* kUsage =
    "usage: wim-edge calibrate --config station.json --runs runs.json --id CAL-ID [--date "
    "YYYY-MM-DD] [--out calibrated.json]\n";
}

int cmd_calibrate(int argc, char** argv) {
  std::string config_path, runs_path, id, date, out_path;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (i + 1 >= argc) throw wim::InputError(a + ": missing value");
      const std::string v = argv[++i];
      if (a == "--config")
        config_path = v;
      else if (a == "--runs")
        runs_path = v;
      else if (a == "--id")
        id = v;
      else if (a == "--date")
        date = v;
      else if (a == "--out")
        out_path = v;
      else
        throw wim::InputError("unknown option '" + a + "'");
    }
    if (config_path.empty() || runs_path.empty() || id.empty())
      throw wim::InputError("--config, --runs and --id are required");
    if (date.empty()) date = wim::time::format_utc_ms(wim::time::now_unix_us()).substr(0, 10);
    boost::json::value doc = wim::json::load_file(config_path);
    const wim::config::StationConfig cfg = wim::config::parse_station_config(
        doc, std::filesystem::path(config_path).filename().string());
    const boost::json::value runs_doc = wim::json::load_file(runs_path);
    const std::string rname = std::filesystem::path(runs_path).filename().string();
    std::vector<wim::weigh::ReferenceRun> runs;
    const auto& arr = wim::json::get_array(wim::json::as_object(runs_doc, rname), "runs", "");
    for (std::size_t i = 0; i < arr.size(); ++i) {
      const std::string ctx = "runs[" + std::to_string(i) + "]";
      const auto& o = wim::json::as_object(arr[i], ctx);
      wim::weigh::ReferenceRun r;
      r.recording = std::filesystem::path(runs_path).parent_path() /
                    wim::json::get_string(o, "recording", ctx);
      for (const auto& x : wim::json::get_array(o, "static_axle_loads_kg", ctx)) {
        if (!x.is_number() || x.to_number<double>() <= 0)
          throw wim::InputError(rname + ": " + ctx +
                                ".static_axle_loads_kg: positive numbers expected");
        r.static_axle_loads_kg.push_back(x.to_number<double>());
      }
      runs.push_back(std::move(r));
    }
    const wim::weigh::CalibrationResult res = wim::weigh::calibrate(cfg, runs, id, date);
    std::cout << boost::json::serialize(wim::weigh::to_json(res)) << "\n";
    if (!out_path.empty()) {
      boost::json::object& root = doc.as_object();
      auto& chans = root["channels"].as_array();
      for (std::size_t c = 0; c < chans.size(); ++c) chans[c].as_object()["gain"] = res.new_gain[c];
      if (!root.contains("weighing") || !root["weighing"].is_object())
        root["weighing"] = boost::json::object{};
      root["weighing"].as_object()["speed_corr_ref_kmh"] = res.speed_ref_kmh;
      root["weighing"].as_object()["speed_corr_pct_per_10kmh"] = res.speed_pct_per_10kmh;
      root["calibration"] = boost::json::object{{"id", id}, {"date", date}};
      std::ofstream f(out_path);
      f << boost::json::serialize(root) << "\n";
      f.close();
      if (!f) throw wim::SystemError("cannot write " + out_path);
    }
    return 0;
  } catch (const wim::InputError& e) {
    std::cerr << "wim-edge calibrate: " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "wim-edge calibrate: " << e.what() << "\n";
    return 1;
  }
}
