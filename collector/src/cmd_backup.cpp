// SPDX-License-Identifier: Apache-2.0
// wim-collector backup  --config collector.json DIR   (online: the collector may run)
// wim-collector restore --config collector.json DIR [--replace]
// wim-collector verify-backup --config collector.json DIR
#include "cmd_backup.hpp"

#include <boost/program_options.hpp>
#include <iostream>
#include <string_view>

#include "wim/collector/backup.hpp"
#include "wim/collector/config.hpp"
#include "wim/collector/registry.hpp"

namespace po = boost::program_options;

namespace wim::collector {
namespace {

// The keys of this machine's registry: a backup never brings its own trust anchor.
chain::KeyRegistry registry_keys(const CollectorConfig& cfg) {
  const RegistryHolder registry(cfg.registry);
  chain::KeyRegistry keys;
  for (const auto& s : registry.current()->stations())
    if (s.signing_key) keys.add(s.id, *s.signing_key);
  return keys;
}

void print_summary(const BackupResult& r) {
  std::int64_t records = 0;
  for (const auto& [id, s] : r.stations) records += s.records;
  std::cout << "  " << r.files.size() << " files, " << r.bytes << " bytes, " << r.blobs
            << " blobs, " << r.stations.size() << " stations, " << records << " records\n";
}

}  // namespace

int run_backup_command(int argc, char** argv) {
  const std::string cmd = argv[0];
  po::options_description opts("wim-collector " + cmd + " options");
  opts.add_options()("help,h", "show this help")("config,c", po::value<std::string>()->required(),
                                                 "collector config file (JSON)");
  if (cmd == "restore")
    opts.add_options()("replace", "move an existing data folder aside (stop the collector first)");
  po::options_description hidden;
  hidden.add_options()("dir", po::value<std::string>()->required(), "");
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("dir", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: wim-collector " << cmd << " --config collector.json DIR"
                << (cmd == "restore" ? " [--replace]" : "") << "\n"
                << "Exit 0: done; 1: backup refused (every problem listed); 2: usage, config\n"
                << "or I/O error. See docs/backup-restore.md.\n"
                << opts;
      return 0;
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "wim-collector " << cmd << ": " << e.what() << "\n" << opts;
    return 2;
  }
  const std::filesystem::path dir = vm["dir"].as<std::string>();
  try {
    const auto cfg = CollectorConfig::load_file(vm["config"].as<std::string>());
    if (cmd == "backup") {
      const auto r = backup_data_dir(cfg.data_dir, dir);
      std::cout << "backup of " << cfg.data_dir.string() << " written to " << dir.string() << "\n";
      print_summary(r);
      return 0;
    }
    const auto keys = registry_keys(cfg);
    if (cmd == "verify-backup") {
      BackupResult r;
      const auto problems = verify_backup(dir, keys, &r);
      if (!problems.empty()) throw RestoreRefused(problems);
      std::cout << "backup " << dir.string() << " verified\n";
      print_summary(r);
      return 0;
    }
    RestoreOptions ro;
    ro.replace_existing = vm.count("replace") > 0;
    const auto r = restore_data_dir(dir, cfg.data_dir, keys, ro);
    std::cout << "restored " << dir.string() << " to " << cfg.data_dir.string()
              << " (every file, chain and blob verified)\n";
    print_summary(r.verified);
    if (!r.moved_aside.empty())
      std::cout << "  the previous data folder was moved to " << r.moved_aside.string() << "\n";
    return 0;
  } catch (const RestoreRefused& e) {
    std::cerr << "wim-collector " << cmd << ": " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "wim-collector " << cmd << ": " << e.what() << "\n";
    return 2;
  }
}

}  // namespace wim::collector
