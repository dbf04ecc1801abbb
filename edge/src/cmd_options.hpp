// SPDX-License-Identifier: Apache-2.0
// Option parsing shared by the wim-edge sub-commands.
#pragma once
#include <signal.h>

#include <boost/program_options.hpp>
#include <iostream>
#include <optional>

namespace wim::edge {

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

/// Blocks SIGINT and SIGTERM in this thread and every thread started after it, so that
/// only the caller takes them (sigwait/sigtimedwait on the returned set).
inline sigset_t block_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return stop_signals;
}

}  // namespace wim::edge
