// SPDX-License-Identifier: Apache-2.0
// wim-sim: the simulated roadside.
//   wim-sim record --seed S --vehicles N --out DIR [site/traffic/fault options]
//   wim-sim serve --modbus-tcp HOST:PORT | --modbus-rtu-pty LINK [--seed S] [--flow N]
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "options.hpp"
#include "record.hpp"
#include "wim/common/error.hpp"

namespace po = boost::program_options;
using namespace wim::sim;

namespace {

int usage(const po::options_description& d) {
  std::cerr << "usage: wim-sim record --seed S --vehicles N --out DIR [options]\n"
               "       wim-sim serve --modbus-tcp HOST:PORT [--seed S] [--flow N] [options]\n"
               "       wim-sim serve --modbus-rtu-pty LINK [--seed S] [--flow N] [options]\n\n"
            << d;
  return 2;
}

int run_record(int argc, char** argv) {
  SimOptions opt;
  std::size_t vehicles = 10;
  std::string out;
  po::options_description d("wim-sim record");
  d.add_options()("help,h", "this help")("vehicles", po::value(&vehicles)->default_value(vehicles),
                                         "vehicles to simulate")(
      "out", po::value(&out)->required(), "output directory (rec.csv, truth.jsonl, station.json)");
  add_sim_options(d, opt);
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, d), vm);
  if (vm.count("help")) return usage(d), 0;
  po::notify(vm);
  finish_sim_options(vm, opt);
  const RecordResult r = record(opt, vehicles, out);
  std::printf("wim-sim: %zu vehicles, %zu channels, %zu samples per channel (%.1f s) in %s\n",
              r.vehicles, r.channels, r.samples, r.duration_s, out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    po::options_description d;
    return usage(d);
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "record") return run_record(argc - 1, argv + 1);
    std::cerr << "wim-sim: unknown command '" << cmd << "' (record | serve)\n";
    return 2;
  } catch (const po::error& e) {
    std::cerr << "wim-sim " << cmd << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "wim-sim " << cmd << ": " << e.what() << "\n";
    return 1;
  }
}
