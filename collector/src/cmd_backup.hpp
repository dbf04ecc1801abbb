// SPDX-License-Identifier: Apache-2.0
// wim-collector backup / restore / verify-backup (docs/backup-restore.md).
#pragma once

namespace wim::collector {

/// argv[0] is "backup", "restore" or "verify-backup". Exit 0 done; 1 the backup is
/// refused (problems listed); 2 usage, config or I/O error.
int run_backup_command(int argc, char** argv);

}  // namespace wim::collector
