// SPDX-License-Identifier: Apache-2.0
// wim-collector add-user (--config collector.json | --data DIR) --user NAME --role ROLE
// Creates a workbench user; the password is the first line of stdin (never an argument,
// so it stays out of the process list and shell history). The only way to make the first
// admin: the collector has no default user or password.
#include "cmd_users.hpp"
#include "cmd_options.hpp"

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "wim/collector/users.hpp"
#include "wim/common/error.hpp"
#include "wim/common/log.hpp"

namespace po = boost::program_options;

namespace wim::collector {

int run_add_user(int argc, char** argv) {
  auto opts = command_options("add-user", false);
  opts.add_options()("data", po::value<std::string>(),
                     "the collector's data folder (instead of --config)")(
      "user", po::value<std::string>()->required(), "user name: 1..32 of a-z 0-9 . _ -")(
      "role", po::value<std::string>()->required(),
      "transport_reviewer, police_reviewer, supervisor, operator or admin");
  po::variables_map vm;
  if (const auto rc = parse_command_line(
          argc, argv, "add-user", opts,
          "usage: wim-collector add-user --config collector.json --user NAME --role ROLE\n"
          "       (password: first line of stdin, at least 12 bytes)\n",
          vm, {.check = [](const po::variables_map& v) {
            if (v.count("config") == v.count("data"))
              throw po::error("give exactly one of --config and --data");
          }}))
    return *rc;
  try {
    const std::filesystem::path data =
        vm.count("data") ? std::filesystem::path(vm["data"].as<std::string>())
                         : CollectorConfig::load_file(vm["config"].as<std::string>()).data_dir;
    const auto role = role_from_string(vm["role"].as<std::string>());
    std::string password;
    if (!std::getline(std::cin, password)) throw InputError("password: nothing on stdin");
    if (!password.empty() && password.back() == '\r') password.pop_back();
    std::filesystem::create_directories(data);
    Users users(data / "users.db");
    users.add(vm["user"].as<std::string>(), role, password);
    std::cout << "wim-collector add-user: " << vm["user"].as<std::string>() << " ("
              << to_string(role) << ") added to " << (data / "users.db").string() << "\n";
    return 0;
  } catch (const InputError& e) {
    std::cerr << "wim-collector add-user: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "wim-collector add-user: " << e.what() << "\n";
    return 1;
  }
}

crypto::SigningKey load_or_create_audit_key(const CollectorConfig& cfg) {
  if (cfg.audit_key_configured || std::filesystem::exists(cfg.audit_key))
    return crypto::SigningKey::load_pem_file(cfg.audit_key);
  auto key = crypto::SigningKey::generate();
  key.save_pem_file(cfg.audit_key);
  auto pub = cfg.audit_key;
  pub.replace_filename("audit.pub.pem");
  std::ofstream out(pub, std::ios::binary | std::ios::trunc);
  out << key.public_key().to_pem();
  if (!out.flush()) throw SystemError("cannot write " + pub.string());
  log::notice("collector", "created the audit signing key " + cfg.audit_key.string() +
                               " (public key " + pub.string() + ")");
  return key;
}

}  // namespace wim::collector
