// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace wim::collector {

/// `wim-collector purge-images --config C` (argv[0] is the subcommand): the retention
/// purge of docs/retention.md once, now; the process exit code (0 done, 2 usage/config).
int run_purge_images(int argc, char** argv);

}  // namespace wim::collector
