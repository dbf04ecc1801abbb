// SPDX-License-Identifier: Apache-2.0
// wim-collector export --config collector.json --station ID --out DIR [--from N] [--to N]
// Writes a station's stored chain as tars of packets, with the station's public key from
// the registry, so that it can be checked without our collector (wim-verify, or tar +
// openssl). Safe while the collector runs (SQLite WAL: a reader sees committed records).
#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "cmd_export.hpp"
#include "cmd_options.hpp"
#include "wim/collector/chain_export.hpp"
#include "wim/collector/config.hpp"
#include "wim/collector/registry.hpp"
#include "wim/collector/retention.hpp"
#include "wim/common/error.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/sqlite.hpp"
#include "wim/common/time.hpp"

namespace po = boost::program_options;

namespace wim::collector {

int run_export(int argc, char** argv) {
  auto opts = command_options("export");
  opts.add_options()("station", po::value<std::string>()->required(), "station id")(
      "out", po::value<std::string>()->required(),
      "folder for the tars and <station>.pub.pem (one station per folder)")(
      "from", po::value<std::int64_t>()->default_value(1), "first seq")(
      "to", po::value<std::int64_t>()->default_value(0), "last seq (0: the highest stored)")(
      "per-tar", po::value<std::size_t>()->default_value(1000), "packets per tar file");
  po::variables_map vm;
  if (const auto rc = parse_command_line(
          argc, argv, "export", opts,
          "usage: wim-collector export --config collector.json --station ID --out DIR\n"
          "Images removed by retention are left out and their signed retention_purge\n"
          "entries written beside the tars (<station>-retention.jsonl, collector.pub.pem).\n"
          "Exit 0: the range is complete; 1: seqs or attachments are missing (listed);\n"
          "2: usage, config or I/O error.\n",
          vm))
    return *rc;
  try {
    const auto cfg = CollectorConfig::load_file(vm["config"].as<std::string>());
    const auto station = vm["station"].as<std::string>();
    const std::filesystem::path out = vm["out"].as<std::string>();
    if (!std::filesystem::exists(cfg.data_dir / "meta.db"))
      throw InputError("no collector data at " + (cfg.data_dir / "meta.db").string());
    const auto store = open_sqlite_store(cfg.data_dir / "meta.db");
    const FileBlobStore blobs(cfg.data_dir / "blobs", cfg.blob_sync);
    ExportOptions eo;
    eo.from_seq = vm["from"].as<std::int64_t>();
    eo.to_seq = vm["to"].as<std::int64_t>();
    eo.per_tar = vm["per-tar"].as<std::size_t>();
    // The key the collector verified these records with (the registry's); read first, so
    // that a broken registry stops the export before any tar is written.
    const RegistryHolder registry(cfg.registry);
    // Images removed by retention are expected-absent; any other missing blob is damage.
    std::set<std::pair<std::string, std::string>> purged;
    {
      sqlite::Db meta(cfg.data_dir / "meta.db", SQLITE_OPEN_READONLY);
      purged = purged_attachments(meta);
    }
    eo.purged = &purged;
    const auto result = export_chain(*store, blobs, station, out, eo);
    std::filesystem::path list;
    if (!result.removed.empty()) {
      if (!std::filesystem::exists(cfg.audit_key))
        throw InputError("images of " + station +
                         " were removed by retention; their audit "
                         "entries need the audit key " +
                         cfg.audit_key.string() + " (config \"audit_key\"), which does not exist");
      Review review(
          cfg.data_dir / "cases.db", crypto::SigningKey::load_pem_file(cfg.audit_key), cfg.review,
          [] { return time::now_unix_us(); }, nullptr);
      list = write_retention_list(review, station, result, out);
    }

    const auto* entry = registry.current()->by_id(station);
    const auto key = out / (station + ".pub.pem");
    std::string key_note = "no signing key in the registry for " + station;
    if (entry && entry->signing_key) {
      std::ofstream(key) << entry->signing_key->to_pem();
      key_note = "key (the registry's): " + key.string();
    }
    std::cout << station << ": " << result.records << " records of seq " << result.first_seq << ".."
              << result.last_seq << " in " << result.files.size() << " tar(s) in " << out.string()
              << "\n"
              << "  " << key_note << "\n";
    for (const auto& [a, b] : result.missing)
      std::cout << "  missing at the collector: seq " << a
                << (a == b ? "" : ".." + std::to_string(b)) << "\n";
    if (!result.removed.empty())
      std::cout << "  " << result.removed.size()
                << " image(s) removed by retention, exported without their bytes; the signed "
                   "retention_purge entries naming them: "
                << list.string() << " (collector key: " << (out / kCollectorKeyName).string()
                << ")\n";
    for (const auto& a : result.lost)
      std::cout << "  LOST at the collector (not removed by retention): "
                << packet::dir_name(station, static_cast<std::uint64_t>(a.seq)) << "/" << a.name
                << " sha256 " << a.sha256 << ": exported without it; restore it from a backup\n";
    std::cout << "  check: wim-verify --key " << key.string()
              << (result.removed.empty() ? ""
                                         : " --audit-key " + (out / kCollectorKeyName).string())
              << (eo.from_seq == 1 ? " --from-one " : " ") << out.string() << "\n";
    return result.missing.empty() && result.lost.empty() ? 0 : 1;
  } catch (const std::exception& e) {  // config, range, I/O: named in the message
    std::cerr << "wim-collector export: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace wim::collector
