// SPDX-License-Identifier: Apache-2.0
// wim-collector purge-images --config C: removes the violation images whose retention
// ("retention": {"violation_images_days": N}) has run out (docs/retention.md). Safe while
// the collector runs (SQLite WAL; the collector's own purge does the same, idempotently).
#include "cmd_retention.hpp"

#include "cmd_options.hpp"

#include <boost/program_options.hpp>
#include <iostream>

#include "wim/collector/config.hpp"
#include "wim/collector/retention.hpp"
#include "wim/common/error.hpp"
#include "wim/common/time.hpp"

namespace po = boost::program_options;

namespace wim::collector {

int run_purge_images(int argc, char** argv) {
  const auto opts = command_options("purge-images");
  po::variables_map vm;
  if (const auto rc = parse_command_line(
          argc, argv, "purge-images", opts,
          "usage: wim-collector purge-images --config collector.json\n"
          "Removes the images of cases closed or rejected more than\n"
          "/retention/violation_images_days ago, each with a retention_purge audit\n"
          "entry; the signed manifests stay. With forward.spool_dir, each such case's\n"
          "spool tar is rewritten without them, the entry beside it. Exit 0 done, 1 a\n"
          "spool tar could not be rewritten (named), 2 config or data error\n"
          "(docs/retention.md).\n",
          vm))
    return *rc;
  try {
    const auto cfg = CollectorConfig::load_file(vm["config"].as<std::string>());
    if (cfg.retention_images_days == 0) {
      std::cout << "purge-images: no /retention/violation_images_days in the config: images "
                   "are kept forever, nothing removed\n";
      return 0;
    }
    const auto meta = cfg.data_dir / "meta.db", cases = cfg.data_dir / "cases.db";
    if (!std::filesystem::exists(meta) || !std::filesystem::exists(cases))
      throw InputError("no collector data at " + cfg.data_dir.string() + " (meta.db and cases.db)");
    if (!std::filesystem::exists(cfg.audit_key))
      throw InputError("audit key " + cfg.audit_key.string() +
                       " does not exist (config \"audit_key\")");
    const auto store = open_sqlite_store(meta);
    FileBlobStore blobs(cfg.data_dir / "blobs", cfg.blob_sync);
    Review review(
        cases, crypto::SigningKey::load_pem_file(cfg.audit_key), cfg.review,
        [] { return time::now_unix_us(); }, nullptr);
    const auto r = purge_images(meta, blobs, *store, review, cfg.retention_images_days,
                                time::now_unix_us(), cfg.spool_dir);
    std::cout << "purge-images: " << r.cases.size() << " case(s) purged, " << r.files_removed
              << " file(s) removed (" << r.bytes_removed << " bytes)";
    if (r.files_shared)
      std::cout << ", " << r.files_shared << " kept (shared with a retained record)";
    if (!cfg.spool_dir.empty())
      std::cout << ", " << r.spool_rewritten << " spool tar(s) rewritten (" << r.spool_bytes_removed
                << " image bytes out)";
    std::cout << "\n";
    for (const auto& c : r.cases) std::cout << "  " << c << "\n";
    for (const auto& p : r.spool_problems) std::cerr << "wim-collector purge-images: " << p << "\n";
    return r.spool_problems.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "wim-collector purge-images: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace wim::collector
