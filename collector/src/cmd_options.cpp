// SPDX-License-Identifier: Apache-2.0
#include "cmd_options.hpp"

#include <iostream>

namespace po = boost::program_options;

namespace wim::collector {

po::options_description command_options(const std::string& command, bool config_required) {
  po::options_description opts(command.empty() ? "wim-collector options"
                                               : "wim-collector " + command + " options");
  auto config = po::value<std::string>();
  if (config_required) config->required();
  opts.add_options()("help,h", "show this help")("config,c", config,
                                                 "collector config file (JSON)");
  return opts;
}

std::optional<int> parse_command_line(int argc, char** argv, const std::string& command,
                                      const po::options_description& visible,
                                      const std::string& usage, po::variables_map& vm,
                                      const CommandLine& extra) {
  const std::string name = command.empty() ? "wim-collector" : "wim-collector " + command;
  try {
    po::options_description all;
    all.add(visible);
    if (extra.hidden) all.add(*extra.hidden);
    po::command_line_parser parser(argc, argv);
    parser.options(all);
    if (extra.positional) parser.positional(*extra.positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << usage << visible;
      return 0;
    }
    po::notify(vm);
    if (extra.check) extra.check(vm);
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n" << visible;
    return 2;
  }
  return std::nullopt;
}

}  // namespace wim::collector
