// SPDX-License-Identifier: Apache-2.0
// wim-collector export-audit  --config C --out audit.jsonl [--case ID | --from UTC --to UTC]
// wim-collector export-case   --config C --case ID --out CASE.tar
// wim-collector export-closed --config C --from UTC --to UTC --out closed.csv
// Read-only on cases.db and the stores (safe while the collector runs: SQLite WAL).
// The collector's audit key is the config's "audit_key" (default <data_dir>/audit.key.pem).
#include <boost/program_options.hpp>
#include <iostream>
#include <limits>

#include "cmd_case_export.hpp"
#include "cmd_options.hpp"
#include "wim/collector/case_export.hpp"
#include "wim/collector/chain_export.hpp"
#include "wim/collector/config.hpp"
#include "wim/collector/registry.hpp"
#include "wim/common/error.hpp"
#include "wim/common/time.hpp"

namespace po = boost::program_options;

namespace wim::collector {

namespace {

constexpr int kOk = 0, kUsage = 2;

void write_out(const std::filesystem::path& p, const std::string& bytes) {
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  write_file_atomic(std::filesystem::absolute(p), bytes);
}

struct Opened {
  CollectorConfig cfg;
  std::filesystem::path key_file;
  std::unique_ptr<Review> review;
};

Opened open_review(const std::filesystem::path& config, const std::string& key_override) {
  Opened o{CollectorConfig::load_file(config), {}, nullptr};
  const auto cases = o.cfg.data_dir / "cases.db";
  if (!std::filesystem::exists(cases)) throw InputError("no cases at " + cases.string());
  // The config's "audit_key" as the collector itself reads it; --audit-key wins.
  o.key_file = key_override.empty() ? o.cfg.audit_key : std::filesystem::path(key_override);
  if (!std::filesystem::exists(o.key_file))
    throw InputError("audit key " + o.key_file.string() +
                     " does not exist (config \"audit_key\" or --audit-key)");
  o.review = std::make_unique<Review>(
      cases, crypto::SigningKey::load_pem_file(o.key_file), o.cfg.review,
      [] { return time::now_unix_us(); }, nullptr);
  return o;
}

std::unique_ptr<MetadataStore> open_store(const CollectorConfig& cfg) {
  const auto meta = cfg.data_dir / "meta.db";
  if (!std::filesystem::exists(meta)) throw InputError("no collector data at " + meta.string());
  return open_sqlite_store(meta);
}

/// --from/--to as UTC instants [us]; absent: the whole time line.
std::pair<std::int64_t, std::int64_t> time_range(const po::variables_map& vm) {
  const auto at = [&](const char* k, std::int64_t dflt) {
    if (!vm.count(k)) return dflt;
    try {
      return time::parse_utc(vm[k].as<std::string>());
    } catch (const std::exception& e) {
      throw InputError(std::string("--") + k + ": " + e.what() +
                       " (expected UTC like 2026-12-01T00:00:00Z)");
    }
  };
  const auto from = at("from", std::numeric_limits<std::int64_t>::min());
  const auto to = at("to", std::numeric_limits<std::int64_t>::max());
  if (from >= to) throw InputError("--from must be before --to");
  return {from, to};
}

const char* usage(const std::string& cmd) {
  if (cmd == "export-audit")
    return "usage: wim-collector export-audit --config C --out audit.jsonl [--case ID]\n"
           "         [--from UTC] [--to UTC]\n"
           "The review audit log (JSON lines; collector.pub.pem written beside it): all of\n"
           "it, one case's entries, or the consecutive span of entries whose time is in\n"
           "[--from, --to). Check: wim-verify --audit audit.jsonl --key collector.pub.pem\n";
  if (cmd == "export-case")
    return "usage: wim-collector export-case --config C --case ID --out CASE.tar\n"
           "One case as a tar a court can be given: the signed packet, the review history,\n"
           "the case's audit entries with their chain links, the keys, SHA256SUMS of every\n"
           "file (signed) and a README.txt with the openssl/sha256sum commands that check\n"
           "it. Check: wim-verify --case CASE.tar\n";
  return "usage: wim-collector export-closed --config C --from UTC --to UTC --out closed.csv\n"
         "The cases closed in [--from, --to) as CSV for the vehicle's home authority\n"
         "(columns: docs/case-export.md).\n";
}

}  // namespace

int run_case_export(int argc, char** argv) {
  const std::string cmd = argv[0];
  if (cmd != "export-audit" && cmd != "export-case" && cmd != "export-closed") return -1;
  auto opts = command_options(cmd);
  opts.add_options()("out", po::value<std::string>()->required(), "file to write")(
      "audit-key", po::value<std::string>()->default_value(""),
      "the collector's audit key (default: config \"audit_key\", <data_dir>/audit.key.pem)");
  if (cmd == "export-case")
    opts.add_options()("case", po::value<std::string>()->required(),
                       "case id, e.g. G001-0000000003");
  if (cmd == "export-audit")
    opts.add_options()("case", po::value<std::string>(), "only this case's entries");
  if (cmd != "export-case")
    opts.add_options()("from", po::value<std::string>(), "UTC start, inclusive")(
        "to", po::value<std::string>(), "UTC end, exclusive");
  po::variables_map vm;
  if (const auto rc = parse_command_line(
          argc, argv, cmd, opts,
          std::string(usage(cmd)) +
              "Exit 0: written; 2: usage, config, unknown case or I/O error.\n",
          vm, {.check = [&cmd](const po::variables_map& v) {
            if (cmd == "export-closed" && (!v.count("from") || !v.count("to")))
              throw po::error("export-closed needs --from and --to");
            if (cmd == "export-audit" && v.count("case") && (v.count("from") || v.count("to")))
              throw po::error("--case and --from/--to do not go together");
          }}))
    return *rc;
  try {
    const std::filesystem::path config = vm["config"].as<std::string>();
    const std::filesystem::path out = vm["out"].as<std::string>();
    auto o = open_review(config, vm["audit-key"].as<std::string>());
    if (cmd == "export-audit") {
      const auto case_id = vm.count("case") ? vm["case"].as<std::string>() : std::string();
      const bool ranged = vm.count("from") || vm.count("to");
      if (!case_id.empty()) o.review->get(case_id);  // ReviewError not_found
      const auto [from, to] = time_range(vm);
      const auto entries =
          ranged ? audit_range(*o.review, from, to) : o.review->audit(case_id, 100'000'000);
      write_out(out, audit_jsonl(entries));
      const auto pub = out.parent_path() / "collector.pub.pem";
      write_out(pub, o.review->public_key().to_pem());
      std::cout << entries.size() << " audit entries";
      if (!entries.empty())
        std::cout << ", seq " << entries.front().seq << ".." << entries.back().seq
                  << ", last entry_sha256 " << entries.back().entry_sha256;
      const char* span = !case_id.empty() ? " --excerpt" : ranged ? "" : " --from-one";
      std::cout << " in " << out.string() << "\n  check: wim-verify --audit " << out.string()
                << " --key " << pub.string() << span << "\n";
      return kOk;
    }
    const auto store = open_store(o.cfg);
    if (cmd == "export-closed") {
      const auto [from, to] = time_range(vm);
      std::size_t rows = 0;
      write_out(out, closed_csv(*o.review, *store, from, to, &rows));
      std::cout << rows << " closed cases in " << out.string() << "\n";
      return kOk;
    }
    const auto case_id = vm["case"].as<std::string>();
    const FileBlobStore blobs(o.cfg.data_dir / "blobs", o.cfg.blob_sync);
    const RegistryHolder registry(o.cfg.registry);
    std::string station;
    std::uint64_t seq = 0;
    std::string pem;
    if (packet::parse_dir_name(case_id, station, seq))
      if (const auto* e = registry.current()->by_id(station); e && e->signing_key)
        pem = e->signing_key->to_pem();
    const auto t = case_tar(*store, blobs, *o.review, case_id, pem, time::now_unix_us(),
                            crypto::SigningKey::load_pem_file(o.key_file));
    write_out(out, t.tar);
    std::cout << case_id << ": " << t.files.size() << " files in " << out.string()
              << (t.missing_images.empty() ? ""
                                           : " (" + std::to_string(t.missing_images.size()) +
                                                 " image(s) removed by retention)")
              << "\n  check: wim-verify --case " << out.string() << "\n";
    return kOk;
  } catch (const ReviewError& e) {
    std::cerr << "wim-collector " << cmd << ": " << e.what() << " (" << e.code() << ")\n";
    return kUsage;
  } catch (const std::exception& e) {
    std::cerr << "wim-collector " << cmd << ": " << e.what() << "\n";
    return kUsage;
  }
}

}  // namespace wim::collector
