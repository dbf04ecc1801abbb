// SPDX-License-Identifier: Apache-2.0
// Online backup and verified restore of a collector's data folder (docs/backup-restore.md).
//
// backup_data_dir() copies monitor.db, cases.db and meta.db with SQLite's online backup API
// (each a consistent snapshot, taken while the collector keeps ingesting), then every
// evidence blob that the copied meta.db refers to, hashing each blob against its name, and
// writes backup.json (every file with its SHA-256 and size, each station's record count)
// and backup.json.sha256 last: a folder without them is an incomplete backup.
//
// restore_data_dir() checks everything before it touches the target: backup.json's hash,
// every listed file's size and SHA-256, no unlisted file, each database's integrity, and
// every station's chain (signature with the key in force, including key changes,
// links, gaps, every attachment against its manifest) against the keys of the target's
// own registry, never keys carried in the backup. Only then does it move the copy into
// place; a live data folder is moved aside (never deleted), and only when forced.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "wim/common/chain.hpp"
#include "wim/common/error.hpp"

namespace wim::collector {

inline constexpr const char* kBackupManifest = "backup.json";
inline constexpr const char* kBackupManifestHash = "backup.json.sha256";

struct BackupFile {
  std::string path;  ///< relative to the backup folder, '/' separated
  std::string sha256;
  std::int64_t size_bytes = 0;
};

struct BackupStation {
  std::int64_t records = 0;
  std::int64_t highest_seq = 0;
  bool operator==(const BackupStation&) const = default;
};

struct BackupResult {
  std::vector<BackupFile> files;  ///< what backup.json lists
  std::map<std::string, BackupStation> stations;
  std::int64_t blobs = 0;
  std::int64_t bytes = 0;  ///< [bytes] total of the files listed
};

/// Backs `data_dir` up into `out_dir`, which must not exist or be an empty folder (a
/// backup never overwrites). SystemError/InputError name the file that failed.
BackupResult backup_data_dir(const std::filesystem::path& data_dir,
                             const std::filesystem::path& out_dir);

/// Thrown when a backup fails verification; what() lists every problem, one per line,
/// each naming the file or the record (station, seq).
class RestoreRefused : public InputError {
 public:
  RestoreRefused(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

struct RestoreOptions {
  /// Replace an existing data folder (it is moved aside to <data_dir>.replaced-<UTC>).
  bool replace_existing = false;
  std::size_t batch_records = 256;  ///< records held in memory at once while verifying
};

struct RestoreResult {
  BackupResult verified;              ///< the files, stations and blobs checked
  std::filesystem::path moved_aside;  ///< where the replaced data went ("" if none)
};

/// Verifies the backup in `backup_dir` (see above) and, when all is well, makes it the
/// data folder `data_dir`. Throws RestoreRefused (nothing touched) on any problem.
RestoreResult restore_data_dir(const std::filesystem::path& backup_dir,
                               const std::filesystem::path& data_dir,
                               const chain::KeyRegistry& keys, const RestoreOptions& options = {});

/// Only the verification part of restore_data_dir, of the backup folder in place (it
/// opens the databases read-only). Returns the problems (empty: the backup is sound).
std::vector<std::string> verify_backup(const std::filesystem::path& backup_dir,
                                       const chain::KeyRegistry& keys, BackupResult* out = nullptr,
                                       std::size_t batch_records = 256);

}  // namespace wim::collector
