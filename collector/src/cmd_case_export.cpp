// SPDX-License-Identifier: Apache-2.0
// wim-collector export-audit --config C --out audit.jsonl [--case ID]
// wim-collector export-case  --config C CASE_ID OUT.tar
// Read-only on cases.db and the stores (safe while the collector runs: SQLite WAL).
// The collector's audit key is the config's "audit_key" (default <data_dir>/audit.key.pem).
#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cmd_case_export.hpp"
#include "wim/collector/case_export.hpp"
#include "wim/collector/chain_export.hpp"
#include "wim/collector/config.hpp"
#include "wim/collector/registry.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/time.hpp"

namespace po = boost::program_options;

namespace wim::collector {

namespace {

constexpr int kOk = 0, kUsage = 2;

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw InputError(p.string() + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_out(const std::filesystem::path& p, const std::string& bytes) {
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  write_file_atomic(std::filesystem::absolute(p), bytes);
}

/// The config's "audit_key" (relative to the config's folder), default
/// <data_dir>/audit.key.pem; `override_path` wins when given.
std::filesystem::path audit_key_path(const std::filesystem::path& config,
                                     const CollectorConfig& cfg, const std::string& override_path) {
  if (!override_path.empty()) return override_path;
  const auto v = json::parse(read_text(config), config.string());
  const auto key = json::get_string(json::as_object(v, ""), "audit_key", "", "");
  return key.empty() ? cfg.data_dir / "audit.key.pem" : config.parent_path() / key;
}

struct Opened {
  CollectorConfig cfg;
  std::unique_ptr<Review> review;
};

Opened open_review(const std::filesystem::path& config, const std::string& key_override) {
  Opened o{CollectorConfig::load_file(config), nullptr};
  const auto cases = o.cfg.data_dir / "cases.db";
  if (!std::filesystem::exists(cases)) throw InputError("no cases at " + cases.string());
  const auto key_file = audit_key_path(config, o.cfg, key_override);
  if (!std::filesystem::exists(key_file))
    throw InputError("audit key " + key_file.string() +
                     " does not exist (config \"audit_key\" or --audit-key)");
  o.review = std::make_unique<Review>(
      cases, crypto::SigningKey::load_pem_file(key_file), ReviewOptions{},
      [] { return time::now_unix_us(); }, nullptr);
  return o;
}

}  // namespace

int run_case_export(int argc, char** argv) {
  const std::string cmd = argv[0];
  if (cmd != "export-audit" && cmd != "export-case") return -1;
  po::options_description opts("wim-collector " + cmd + " options");
  opts.add_options()("help,h", "show this help")("config,c", po::value<std::string>()->required(),
                                                 "collector config file (JSON)")(
      "audit-key", po::value<std::string>()->default_value(""),
      "the collector's audit key (default: config \"audit_key\", <data_dir>/audit.key.pem)");
  if (cmd == "export-audit")
    opts.add_options()("out", po::value<std::string>()->required(), "audit.jsonl to write")(
        "case", po::value<std::string>()->default_value(""), "only this case's entries");
  po::options_description hidden;
  hidden.add_options()("args", po::value<std::vector<std::string>>(), "");
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("args", -1);
  po::variables_map vm;
  std::vector<std::string> args;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    if (vm.count("help")) {
      if (cmd == "export-audit")
        std::cout << "usage: wim-collector export-audit --config C --out audit.jsonl [--case ID]\n"
                  << "Writes the review audit log (and collector.pub.pem beside it) for\n"
                  << "wim-verify --audit audit.jsonl --key collector.pub.pem --from-one\n";
      else
        std::cout << "usage: wim-collector export-case --config C CASE_ID OUT.tar\n"
                  << "One case as a tar: the signed packet, its audit trail, the keys and a\n"
                  << "README.txt with the openssl/sha256sum commands that check it.\n";
      std::cout << "Exit 0: written; 2: usage, config, unknown case or I/O error.\n" << opts;
      return kOk;
    }
    po::notify(vm);
    if (vm.count("args")) args = vm["args"].as<std::vector<std::string>>();
    if (cmd == "export-audit" ? !args.empty() : args.size() != 2)
      throw po::error(cmd == "export-audit" ? "no positional arguments expected"
                                            : "expected CASE_ID OUT.tar");
  } catch (const std::exception& e) {
    std::cerr << "wim-collector " << cmd << ": " << e.what() << "\n" << opts;
    return kUsage;
  }
  try {
    const std::filesystem::path config = vm["config"].as<std::string>();
    auto o = open_review(config, vm["audit-key"].as<std::string>());
    if (cmd == "export-audit") {
      const std::filesystem::path out = vm["out"].as<std::string>();
      const auto case_id = vm["case"].as<std::string>();
      const auto entries = o.review->audit(case_id, 100'000'000);
      write_out(out, audit_jsonl(entries));
      const auto pub = out.parent_path() / "collector.pub.pem";
      write_out(pub, o.review->public_key().to_pem());
      std::cout << entries.size() << " audit entries";
      if (!entries.empty())
        std::cout << ", seq " << entries.front().seq << ".." << entries.back().seq
                  << ", last entry_sha256 " << entries.back().entry_sha256;
      std::cout << " in " << out.string() << "\n  check: wim-verify --audit " << out.string()
                << " --key " << pub.string() << (case_id.empty() ? " --from-one" : " --excerpt")
                << "\n";
      return kOk;
    }
    const auto& case_id = args[0];
    const std::filesystem::path out = args[1];
    if (!std::filesystem::exists(o.cfg.data_dir / "meta.db"))
      throw InputError("no collector data at " + (o.cfg.data_dir / "meta.db").string());
    const auto store = open_sqlite_store(o.cfg.data_dir / "meta.db");
    const FileBlobStore blobs(o.cfg.data_dir / "blobs", o.cfg.blob_sync);
    const RegistryHolder registry(o.cfg.registry);
    std::string station;
    std::uint64_t seq = 0;
    std::string pem;
    if (packet::parse_dir_name(case_id, station, seq))
      if (const auto* e = registry.current()->by_id(station); e && e->signing_key)
        pem = e->signing_key->to_pem();
    const auto t = case_tar(*store, blobs, *o.review, case_id, pem, time::now_unix_us());
    write_out(out, t.tar);
    std::cout << case_id << ": " << t.files.size() << " entries in " << out.string()
              << (t.missing_images.empty() ? ""
                                           : " (" + std::to_string(t.missing_images.size()) +
                                                 " image(s) removed by retention)")
              << "\n  check: tar -xf " << out.string() << " && cat " << case_id << "/README.txt\n";
    return kOk;
  } catch (const ReviewError& e) {
    std::cerr << "wim-collector " << cmd << ": " << e.code() << ": " << e.what() << "\n";
    return kUsage;
  } catch (const std::exception& e) {
    std::cerr << "wim-collector " << cmd << ": " << e.what() << "\n";
    return kUsage;
  }
}

}  // namespace wim::collector
