// SPDX-License-Identifier: Apache-2.0
// wim-edge: the station program. Sub-commands are dispatched from one table; each lives
// in its own cmd_*.cpp and receives argv starting at the sub-command's name.
#include <cstring>
#include <iostream>

int cmd_weigh(int argc, char** argv);
int cmd_calibrate(int argc, char** argv);
int cmd_keygen(int argc, char** argv);
int cmd_rotate_key(int argc, char** argv);
int cmd_renew_cert(int argc, char** argv);
int cmd_install_cert(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_run_many(int argc, char** argv);
int cmd_status(int argc, char** argv);
int cmd_record(int argc, char** argv);
#ifdef WIM_WITH_CAMERA
int cmd_read_plate(int argc, char** argv);
#else
static int cmd_read_plate(int, char**) {
  std::cerr << "wim-edge read-plate: this build has no camera part (WIM_WITH_CAMERA=OFF)\n";
  return 2;
}
#endif

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* help;
};

constexpr Command kCommands[] = {
    {"run", cmd_run, "run the station daemon (--config station.json)"},
    {"run-many", cmd_run_many, "many station daemons in one process (--config-dir DIR)"},
    {"status", cmd_status, "the running daemon's live state (--config station.json | --socket)"},
    {"weigh", cmd_weigh, "replay a recording through the weighing pipeline (JSON lines)"},
    {"calibrate", cmd_calibrate, "fit channel gains from reference-truck passes"},
    {"record", cmd_record, "record the acquisition source for calibration (--duration S)"},
    {"keygen", cmd_keygen, "create the station's signing key and TLS certificate request"},
    {"rotate-key", cmd_rotate_key, "a new signing key, announced in the chain (daemon stopped)"},
    {"renew-cert", cmd_renew_cert, "a new TLS key + request; the certificate in force stays"},
    {"install-cert", cmd_install_cert, "install the CA's certificate for renew-cert's request"},
    {"read-plate", cmd_read_plate, "read plates on saved frames (JSON lines; --truth scores)"},
};

int usage(std::ostream& out) {
  out << "usage: wim-edge <command> [options]\ncommands:\n";
  for (const Command& c : kCommands) out << "  " << c.name << "\t" << c.help << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(std::cerr);
  if (!std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    usage(std::cout);
    return 0;
  }
  for (const Command& c : kCommands)
    if (!std::strcmp(argv[1], c.name)) return c.run(argc - 1, argv + 1);
  std::cerr << "wim-edge: unknown command '" << argv[1] << "'\n";
  return usage(std::cerr);
}
