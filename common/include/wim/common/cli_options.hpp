// SPDX-License-Identifier: Apache-2.0
// Option parsing shared by the programs' sub-commands (wim-edge, wim-sim). Header-only: the
// program links Boost::program_options.
#pragma once
#include <boost/program_options.hpp>
#include <iostream>
#include <optional>

namespace wim {

/// Parses a sub-command's options into vm. nullopt: go on; otherwise the exit code after
/// printing: 0 for --help (the option list), 2 for a usage error (the error + the list).
inline std::optional<int> parse_command_options(
    int argc, char** argv, const boost::program_options::options_description& desc,
    const char* command, boost::program_options::variables_map& vm) {
  namespace po = boost::program_options;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << command << ": " << e.what() << "\n" << desc << "\n";
    return 2;
  }
  return std::nullopt;
}

}  // namespace wim
