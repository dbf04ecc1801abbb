// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace wim::collector {

/// `wim-collector export ...` (argv[0] is "export"); the process exit code.
int run_export(int argc, char** argv);

}  // namespace wim::collector
