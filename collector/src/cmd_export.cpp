// SPDX-License-Identifier: Apache-2.0
// wim-collector export --config collector.json --station ID --out DIR [--from N] [--to N]
// Writes a station's stored chain as tars of packets, with the station's public key from
// the registry, so that it can be checked without our collector (wim-verify, or tar +
// openssl). Safe while the collector runs (SQLite WAL: a reader sees committed records).
#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "cmd_export.hpp"
#include "wim/collector/chain_export.hpp"
#include "wim/collector/config.hpp"
#include "wim/collector/registry.hpp"
#include "wim/common/error.hpp"

namespace po = boost::program_options;

namespace wim::collector {

int run_export(int argc, char** argv) {
  po::options_description opts("wim-collector export options");
  opts.add_options()("help,h", "show this help")("config,c", po::value<std::string>()->required(),
                                                 "collector config file (JSON)")(
      "station", po::value<std::string>()->required(), "station id")(
      "out", po::value<std::string>()->required(),
      "folder for the tars and <station>.pub.pem (one station per folder)")(
      "from", po::value<std::int64_t>()->default_value(1), "first seq")(
      "to", po::value<std::int64_t>()->default_value(0), "last seq (0: the highest stored)")(
      "per-tar", po::value<std::size_t>()->default_value(1000), "packets per tar file");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    if (vm.count("help")) {
      std::cout << "usage: wim-collector export --config collector.json --station ID --out DIR\n"
                << "Exit 0: the range is complete; 1: seqs are missing (listed); 2: usage,\n"
                << "config or I/O error.\n"
                << opts;
      return 0;
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "wim-collector export: " << e.what() << "\n" << opts;
    return 2;
  }
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
    const auto result = export_chain(*store, blobs, station, out, eo);

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
    std::cout << "  check: wim-verify --key " << key.string()
              << (eo.from_seq == 1 ? " --from-one " : " ") << out.string() << "\n";
    return result.missing.empty() ? 0 : 1;
  } catch (const std::exception& e) {  // config, range, I/O: named in the message
    std::cerr << "wim-collector export: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace wim::collector
