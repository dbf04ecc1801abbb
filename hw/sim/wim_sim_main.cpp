// SPDX-License-Identifier: Apache-2.0
// wim-sim: the simulated roadside.
//   wim-sim record --seed S --vehicles N --out DIR [site/traffic/fault options]
//   wim-sim serve --modbus-tcp HOST:PORT | --modbus-rtu-pty LINK [--seed S] [--flow N]
//   wim-sim plates --out DIR --count N [--seed S] [--conditions a,b] [--stress] (plates_cmd.cpp)
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <memory>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "modbus_server.hpp"
#include "options.hpp"
#include "record.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/time.hpp"

namespace po = boost::program_options;
using namespace wim::sim;

#ifdef WIM_WITH_CAMERA
int run_plates(int argc, char** argv);
#endif

namespace {

int usage(const po::options_description& d) {
  std::cerr
      << "usage: wim-sim record --seed S --vehicles N --out DIR [options]\n"
         "       wim-sim serve --modbus-tcp HOST:PORT [--seed S] [--flow N] [options]\n"
         "       wim-sim serve --modbus-rtu-pty LINK [--seed S] [--flow N] [options]\n"
         "       wim-sim plates --out DIR --count N [--seed S] [--conditions a,b] [--stress]\n\n"
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

/// "FROM,TO" [s] (or "FROM,TO,CODE" where code is given) of device time.
FaultWindow parse_window(const std::string& flag, const std::string& v, int* code = nullptr) {
  std::vector<double> parts;
  std::size_t pos = 0;
  while (pos <= v.size()) {
    const auto comma = std::min(v.find(',', pos), v.size());
    const std::string part = v.substr(pos, comma - pos);
    std::size_t used = 0;
    double x = 0;
    try {
      x = std::stod(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (part.empty() || used != part.size() || !std::isfinite(x))
      throw wim::InputError(flag + ": '" + part + "' in '" + v + "' is not a number");
    parts.push_back(x);
    pos = comma + 1;
  }
  const std::size_t want = code ? 3 : 2;
  if (parts.size() != 2 && parts.size() != want)
    throw wim::InputError(flag + ": '" + v + "' is not FROM,TO" + (code ? "[,CODE]" : ""));
  if (parts[0] < 0 || parts[1] <= parts[0])
    throw wim::InputError(flag + ": '" + v + "': FROM must be >= 0 and TO after FROM [s]");
  if (parts.size() == 3) {
    if (parts[2] != std::floor(parts[2]) || parts[2] < 1 || parts[2] > 255)
      throw wim::InputError(flag + ": '" + v + "': the exception code is not 1..255");
    *code = static_cast<int>(parts[2]);
  }
  return {parts[0], parts[1]};
}

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) {
  g_stop = true;
}

int run_serve(int argc, char** argv) {
  SimOptions opt;
  ServerOptions srv;
  std::string tcp, pty, truth_path, exception, freeze, stall, identity, restart;
  double duration_s = 0;
  po::options_description d("wim-sim serve");
  // clang-format off
  d.add_options()
    ("help,h", "this help")
    ("modbus-tcp", po::value(&tcp), "serve Modbus TCP on HOST:PORT (port 0: any, printed)")
    ("modbus-rtu-pty", po::value(&pty), "serve Modbus RTU (slave 1) on a pseudo-terminal; LINK becomes a symlink to it")
    ("time-scale", po::value(&srv.time_scale)->default_value(srv.time_scale), "simulated seconds per second")
    ("fifo-capacity", po::value(&srv.fifo_capacity)->default_value(srv.fifo_capacity), "[samples] amplifier FIFO")
    ("drop-prob", po::value(&srv.faults.drop_prob)->default_value(0.0), "[-] FIFO reads never answered")
    ("late-prob", po::value(&srv.faults.late_prob)->default_value(0.0), "[-] FIFO reads answered late")
    ("late-ms", po::value(&srv.faults.late_ms)->default_value(0), "[ms] delay of a late answer")
    ("disconnect-every", po::value(&srv.faults.disconnect_every)->default_value(0), "close the connection after every N-th request")
    ("corrupt-prob", po::value(&srv.faults.corrupt_prob)->default_value(0.0), "[-] RTU: FIFO answers sent with a wrong CRC")
    ("exception", po::value(&exception), "FROM,TO[,CODE]: [s of device time] every request answered with Modbus exception CODE (default 6, busy)")
    ("freeze", po::value(&freeze), "FROM,TO: [s] no answer, the connection kept open (a hung process); the FIFO keeps filling")
    ("freeze-stops-sampling", po::bool_switch(&srv.faults.freeze_stops_sampling), "the ADC stops during --freeze too")
    ("stall", po::value(&stall), "FROM,TO: [s] the ADC stops, the Modbus task answers on (no new samples)")
    ("identity-fault", po::value(&identity), "FROM,TO: [s] the identity register reads another device")
    ("restart", po::value(&restart), "FROM,TO: [s] power lost at FROM (no answer, connections dropped), back at TO with an empty FIFO, boot counter + 1")
    ("restart-counter", po::value(&srv.faults.restart_counter)->default_value(0), "the sample counter after --restart")
    ("drift-ppm", po::value(&srv.faults.drift_ppm)->default_value(0.0), "[ppm] the device's sample clock runs fast (+) or slow (-)")
    ("ack-fifo", po::bool_switch(&srv.ack_fifo), "FIFO reads pop nothing; the master acknowledges with a write of the count")
    ("truth", po::value(&truth_path), "write each vehicle's truth (JSON Lines) here")
    ("duration", po::value(&duration_s)->default_value(0), "[s] wall time to serve (0: until SIGINT/SIGTERM)");
  // clang-format on
  add_sim_options(d, opt);
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, d), vm);
  if (vm.count("help")) return usage(d), 0;
  po::notify(vm);
  finish_sim_options(vm, opt);
  if (!exception.empty())
    srv.faults.exception_window =
        parse_window("--exception", exception, &srv.faults.exception_code);
  if (!freeze.empty()) srv.faults.freeze_window = parse_window("--freeze", freeze);
  if (!stall.empty()) srv.faults.stall_window = parse_window("--stall", stall);
  if (!identity.empty()) srv.faults.identity_window = parse_window("--identity-fault", identity);
  if (!restart.empty()) srv.faults.restart = parse_window("--restart", restart);
  if (tcp.empty() == pty.empty())
    throw wim::InputError("give one of --modbus-tcp or --modbus-rtu-pty");
  srv.seed = opt.seed;

  auto synth = make_synth(opt);
  std::ofstream truth;
  if (!truth_path.empty()) {
    truth.open(truth_path);
    if (!truth) throw wim::SystemError("cannot write " + truth_path);
    synth->on_vehicle(
        [&](const Vehicle& v) { truth << wim::json::canonical(v.truth_json()) << std::endl; });
  }
  AmplifierServer server(std::move(synth), srv);
  if (!tcp.empty()) {
    const auto colon = tcp.rfind(':');
    if (colon == std::string::npos)
      throw wim::InputError("--modbus-tcp: '" + tcp + "' is not HOST:PORT");
    const int port = server.listen_tcp(tcp.substr(0, colon), std::stoi(tcp.substr(colon + 1)));
    std::printf("wim-sim: Modbus TCP on %s:%d, %d channels at %g Hz, %d samples per FIFO read\n",
                tcp.substr(0, colon).c_str(), port, server.channels(), opt.site.sample_rate_hz,
                server.fifo_max_samples());
  } else {
    const std::string dev = server.open_rtu_pty(pty);
    std::printf("wim-sim: Modbus RTU slave 1 on %s (%s), %d channels at %g Hz\n", dev.c_str(),
                pty.c_str(), server.channels(), opt.site.sample_rate_hz);
  }
  std::fflush(stdout);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::thread timer;
  if (duration_s > 0)
    timer = std::thread([duration_s] {
      const auto end = wim::time::monotonic_us() + static_cast<std::int64_t>(duration_s * 1e6);
      while (!g_stop && wim::time::monotonic_us() < end)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      g_stop = true;
    });
  server.run(g_stop);
  if (timer.joinable()) timer.join();
  const ServerStats st = server.stats();
  std::printf(
      "wim-sim: served %llu requests, %llu samples produced, %llu delivered, %llu dropped, %llu "
      "overflowed\n",
      static_cast<unsigned long long>(st.requests),
      static_cast<unsigned long long>(st.samples_produced),
      static_cast<unsigned long long>(st.samples_delivered),
      static_cast<unsigned long long>(st.samples_dropped),
      static_cast<unsigned long long>(st.samples_overflowed));
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
    if (cmd == "serve") return run_serve(argc - 1, argv + 1);
#ifdef WIM_WITH_CAMERA
    if (cmd == "plates") return run_plates(argc - 1, argv + 1);
#else
    if (cmd == "plates") {
      std::cerr << "wim-sim plates: this build has no camera part (WIM_WITH_CAMERA=OFF)\n";
      return 2;
    }
#endif
    std::cerr << "wim-sim: unknown command '" << cmd << "' (record | serve | plates)\n";
    return 2;
  } catch (const po::error& e) {
    std::cerr << "wim-sim " << cmd << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "wim-sim " << cmd << ": " << e.what() << "\n";
    return 1;
  }
}
