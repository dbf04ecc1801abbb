// SPDX-License-Identifier: Apache-2.0
// wim-collector's configuration file (JSON, docs/collector.md). Every field has a default
// except the TLS files; relative paths are relative to the config file's folder.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "wim/collector/forward.hpp"
#include "wim/collector/ingest.hpp"
#include "wim/collector/monitor.hpp"
#include "wim/collector/problems.hpp"
#include "wim/collector/registry.hpp"
#include "wim/collector/review.hpp"
#include "wim/collector/server.hpp"
#include "wim/collector/workbench.hpp"
#include "wim/common/crypto.hpp"

namespace wim::collector {

struct CollectorConfig {
  std::filesystem::path registry = "registry.json";
  std::filesystem::path data_dir = "data";  ///< meta.db and blobs/ live here
  BlobSync blob_sync = BlobSync::syncfs;    ///< how blob files are made durable
  std::filesystem::path tls_cert, tls_key, tls_ca;
  ServerOptions station_listen;   ///< HTTPS, mutual TLS (default 127.0.0.1:8443)
  ServerOptions operator_listen;  ///< plain HTTP, read-only (default 127.0.0.1:8080)
  int threads = 2;  ///< io threads serving both listeners (TLS and HTTP; ingest has its own)
  IngestOptions ingest;
  MonitorOptions monitor;
  std::int64_t monitor_tick_s = 10;  ///< [s] how often silence is checked
  ForwardOptions forward;
  std::filesystem::path spool_dir;  ///< "" = no spool sink
  std::string webhook_url;          ///< "" = no webhook sink
  /// Every review transition (audit entry) POSTed here, signed ("" = none;
  /// transition_webhook.hpp); forward.transition_webhook_url.
  std::string transition_webhook_url;
  std::int64_t webhook_timeout_ms = 5000;
  std::int64_t forward_tick_ms = 1000;  ///< [ms] how often due deliveries are attempted
  /// "backup": {"signing_key", "verify_key"} (docs/backup-restore.md). The collector's own
  /// Ed25519 key that signs backup.json (PKCS#8 PEM, 0600, readable by whoever runs
  /// `wim-collector backup`); "" = none: backup refuses unless --unsigned.
  std::filesystem::path backup_signing_key;
  /// Its public key (SPKI PEM), which verify-backup and restore check backup.json.sig with;
  /// "" = the signing key's public key. A restore machine needs only this one.
  std::filesystem::path backup_verify_key;
  /// The workbench (docs/workbench-api.md): HTTPS for browsers, off unless
  /// "workbench_listen" is set.
  bool workbench = false;
  ServerOptions workbench_listen;                               ///< body limit 1 MiB
  std::filesystem::path workbench_tls_cert, workbench_tls_key;  ///< default: tls.cert/tls.key
  WorkbenchOptions workbench_options;  ///< web_dir default: the source tree's collector/web
  ReviewOptions review;                ///< deadlines and calendar ("review" object)
  /// The collector's own Ed25519 key signing the review audit log. Default
  /// <data_dir>/audit.key.pem, created (0600) with audit.pub.pem at first start; a
  /// configured "audit_key" must exist.
  std::filesystem::path audit_key;
  bool audit_key_configured = false;
  /// "retention": {"violation_images_days": N} (docs/retention.md): the images of a case
  /// closed or rejected more than N days ago are removed by the purge; 0 = kept forever
  /// (the field absent).
  std::int64_t retention_images_days = 0;

  /// Every mistake is found: each "<file>: <JSON pointer>: <what is expected>". Without
  /// `problems`, throws them all as one InputError (a line each); with it, adds them there
  /// and returns what was read (defaults where a field was wrong).
  static CollectorConfig parse(std::string_view text, std::string_view what,
                               const std::filesystem::path& base_dir,
                               ConfigProblems* problems = nullptr);
  static CollectorConfig load_file(const std::filesystem::path& path,
                                   ConfigProblems* problems = nullptr);
};

/// `wim-collector check-config`: every mistake of the config file, of the registry it
/// names (each station) and the TLS files it names (readable?), without starting anything.
ConfigProblems check_config(const std::filesystem::path& path);

/// The backup key pair of `c` as configured (loaded now). Throws InputError naming the file.
std::optional<crypto::SigningKey> backup_signing_key(const CollectorConfig& c);
/// backup_verify_key, else the signing key's public key; nullopt when neither is set.
std::optional<crypto::VerifyKey> backup_verify_key(const CollectorConfig& c);

}  // namespace wim::collector
