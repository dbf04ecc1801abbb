// SPDX-License-Identifier: Apache-2.0
// wim-collector backup  --config collector.json DIR [--unsigned]  (online: the collector may run)
// wim-collector restore --config collector.json DIR [--replace] [--unsigned]
// wim-collector verify-backup --config collector.json DIR [--unsigned]
// wim-collector backup-keygen --config collector.json   (once: the backup key pair)
// backup.json is signed with the collector's backup key (config "backup"); verify-backup
// and restore check that signature. --unsigned is the explicit, printed exception.
#include "cmd_backup.hpp"
#include "cmd_options.hpp"

#include <boost/program_options.hpp>
#include <iostream>
#include <string_view>

#include "wim/collector/backup.hpp"
#include "wim/collector/config.hpp"
#include "wim/collector/registry.hpp"
#include "wim/collector/store.hpp"

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

static int run_backup_keygen(int argc, char** argv) {
  const auto opts = command_options("backup-keygen");
  po::variables_map vm;
  if (const auto rc = parse_command_line(
          argc, argv, "backup-keygen", opts,
          "usage: wim-collector backup-keygen --config collector.json\n"
          "Creates the backup key pair at the config's /backup/signing_key (0600) and\n"
          "/backup/verify_key (0644); never overwrites. See docs/backup-restore.md.\n",
          vm))
    return *rc;
  const std::string config = vm["config"].as<std::string>();
  try {
    const auto cfg = CollectorConfig::load_file(config);
    if (cfg.backup_signing_key.empty() || cfg.backup_verify_key.empty())
      throw InputError(config + ": /backup: set both signing_key and verify_key (the paths " +
                       "to create)");
    if (std::filesystem::exists(cfg.backup_verify_key))
      throw InputError(cfg.backup_verify_key.string() + ": exists; refusing to overwrite a key");
    const auto key = crypto::SigningKey::generate();
    key.save_pem_file(cfg.backup_signing_key);  // 0600, refuses an existing file
    write_file_atomic(cfg.backup_verify_key, key.public_key().to_pem());
    std::filesystem::permissions(cfg.backup_verify_key, std::filesystem::perms::owner_read |
                                                            std::filesystem::perms::owner_write |
                                                            std::filesystem::perms::group_read |
                                                            std::filesystem::perms::others_read);
    std::cout << "backup signing key " << cfg.backup_signing_key.string()
              << " (0600; keep it with the collector, readable by whoever runs backups)\n"
              << "backup public key  " << cfg.backup_verify_key.string()
              << " (copy it off the machine: a restore elsewhere needs it)\n"
              << "fingerprint        " << key.public_key().fingerprint() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "wim-collector backup-keygen: " << e.what() << "\n";
    return 2;
  }
}

int run_backup_command(int argc, char** argv) {
  const std::string cmd = argv[0];
  if (cmd == "backup-keygen") return run_backup_keygen(argc, argv);
  auto opts = command_options(cmd);
  if (cmd == "restore")
    opts.add_options()("replace", "move an existing data folder aside (stop the collector first)");
  opts.add_options()("unsigned", cmd == "backup"
                                     ? "write a backup without backup.json.sig (no backup key)"
                                     : "do not check backup.json.sig (no backup key at hand)");
  po::options_description hidden;
  hidden.add_options()("dir", po::value<std::string>()->required(), "");
  po::positional_options_description pos;
  pos.add("dir", 1);
  po::variables_map vm;
  if (const auto rc = parse_command_line(
          argc, argv, cmd, opts,
          "usage: wim-collector " + cmd + " --config collector.json DIR" +
              (cmd == "restore" ? " [--replace]" : "") +
              " [--unsigned]\n"
              "Exit 0: done; 1: backup refused (every problem listed); 2: usage, config\n"
              "or I/O error. See docs/backup-restore.md.\n",
          vm, {.hidden = &hidden, .positional = &pos}))
    return *rc;
  const std::filesystem::path dir = vm["dir"].as<std::string>();
  try {
    const auto cfg = CollectorConfig::load_file(vm["config"].as<std::string>());
    const bool unsigned_ok = vm.count("unsigned") > 0;
    const std::string no_key = vm["config"].as<std::string>() + ": /backup/" +
                               (cmd == "backup" ? "signing_key" : "verify_key") +
                               ": not set: backups are signed with the collector's backup key "
                               "(docs/backup-restore.md); --unsigned to go without";
    if (cmd == "backup") {
      const auto key = backup_signing_key(cfg);
      if (!key && !unsigned_ok) throw InputError(no_key);
      const auto r = backup_data_dir(cfg.data_dir, dir, key ? &*key : nullptr);
      std::cout << "backup of " << cfg.data_dir.string() << " written to " << dir.string() << "\n";
      print_summary(r);
      if (key)
        std::cout << "  backup.json signed with backup key " << key->public_key().fingerprint()
                  << "\n";
      else
        std::cout << "  backup.json NOT signed (--unsigned)\n";
      return 0;
    }
    const auto backup_key = unsigned_ok ? std::nullopt : backup_verify_key(cfg);
    if (!backup_key && !unsigned_ok) throw InputError(no_key);
    const std::string signature_line =
        backup_key ? "  backup.json signature verified with backup key " + backup_key->fingerprint()
                   : std::string("  backup.json signature NOT checked (--unsigned)");
    const auto keys = registry_keys(cfg);
    if (cmd == "verify-backup") {
      BackupResult r;
      const auto problems = verify_backup(dir, keys, &r, 256, backup_key ? &*backup_key : nullptr);
      if (!problems.empty()) throw RestoreRefused(problems);
      std::cout << "backup " << dir.string() << " verified\n";
      print_summary(r);
      std::cout << signature_line << "\n";
      return 0;
    }
    RestoreOptions ro;
    ro.replace_existing = vm.count("replace") > 0;
    ro.backup_key = backup_key;
    const auto r = restore_data_dir(dir, cfg.data_dir, keys, ro);
    std::cout << "restored " << dir.string() << " to " << cfg.data_dir.string()
              << " (every file, chain and blob verified)\n";
    print_summary(r.verified);
    std::cout << signature_line << "\n";
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
