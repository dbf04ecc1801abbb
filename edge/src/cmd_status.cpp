// SPDX-License-Identifier: Apache-2.0
// `wim-edge status [--config station.json | --socket PATH] [--json]`: asks the running
// daemon over its UNIX socket and prints what a technician needs (or the raw JSON).
// Exit 0 with the answer, 1 when the daemon does not answer (message says why), 2 on
// bad usage.
#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>

#include "wim/common/error.hpp"
#include "wim/edge/station_daemon.hpp"
#include "wim/edge/status_server.hpp"

#include "cmd_options.hpp"

namespace po = boost::program_options;
using namespace wim;

int cmd_status(int argc, char** argv) {
  po::options_description desc("wim-edge status: the running station's live state");
  std::string socket, config;
  double timeout_s = 5;
  desc.add_options()("help,h", "this text")("socket", po::value(&socket),
                                            "status socket (default: from --config, else "
                                            "/etc/wim/station.json's, else /run/wim/status.sock)")(
      "config", po::value(&config), "station.json (its status.socket)")(
      "timeout", po::value(&timeout_s), "[s] give up after this long")("json",
                                                                       "print the raw JSON");
  po::variables_map vm;
  if (auto done = edge::parse_command_options(argc, argv, desc, "wim-edge status", vm))
    return *done;
  try {
    if (socket.empty() && config.empty() && std::filesystem::exists("/etc/wim/station.json"))
      config = "/etc/wim/station.json";
    if (socket.empty() && !config.empty())
      socket = edge::load_daemon_config(config).status_socket.string();
    if (socket.empty()) socket = "/run/wim/status.sock";
    const std::string doc = edge::query_status(
        socket, std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000)));
    if (vm.count("json")) {
      std::cout << doc << "\n";
      return 0;
    }
    const auto v = boost::json::parse(doc);
    if (!v.is_object())
      throw edge::StatusError("status socket " + socket + ": answer is not a JSON object");
    std::cout << edge::format_status(v.as_object());
    return 0;
  } catch (const InputError& e) {
    std::cerr << "wim-edge status: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "wim-edge status: " << e.what() << "\n";
    return 1;
  }
}
