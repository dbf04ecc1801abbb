// SPDX-License-Identifier: Apache-2.0
// The command-line parsing that every wim-collector subcommand shares: --help and
// --config, usage on --help (stdout, exit 0), a named error and the options on a usage
// mistake (stderr, exit 2).
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <optional>
#include <string>

namespace wim::collector {

/// Options with "help,h" and "config,c" (the collector config file, JSON; required
/// unless `config_required` is false), titled "wim-collector <command> options".
boost::program_options::options_description command_options(const std::string& command,
                                                            bool config_required = true);

struct CommandLine {
  /// Options parsed but not listed in the help (e.g. a positional DIR).
  const boost::program_options::options_description* hidden = nullptr;
  const boost::program_options::positional_options_description* positional = nullptr;
  /// Checks across options after notify(); throws boost::program_options::error.
  std::function<void(const boost::program_options::variables_map&)> check = {};
};

/// Parses argv into `vm`. Returns the exit code to end with when the command must not
/// run: 0 after --help (`usage` and the options printed), 2 on a usage error ("wim-collector
/// <command>: <what>" and the options on stderr); nullopt when `vm` is ready.
std::optional<int> parse_command_line(int argc, char** argv, const std::string& command,
                                      const boost::program_options::options_description& visible,
                                      const std::string& usage,
                                      boost::program_options::variables_map& vm,
                                      const CommandLine& extra = {});

}  // namespace wim::collector
