// SPDX-License-Identifier: Apache-2.0
// wim-edge: the station program. One subcommand per file (cmd_*.cpp); this table
// dispatches. The weighing subcommands (weigh, calibrate) are added by their issue.
#include <cstring>
#include <iostream>

int cmd_keygen(int argc, char** argv);
int cmd_run(int argc, char** argv);

namespace {
struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* help;
};
constexpr Command kCommands[] = {
    {"keygen", cmd_keygen, "create the station's signing key and TLS certificate request"},
    {"run", cmd_run, "run the station daemon (--config station.json)"},
};
}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2) {
    for (const auto& c : kCommands)
      if (std::strcmp(argv[1], c.name) == 0) return c.run(argc - 1, argv + 1);
  }
  std::cerr << "usage: wim-edge <command> [options]\n";
  for (const auto& c : kCommands) std::cerr << "  " << c.name << "  " << c.help << "\n";
  return 2;
}
