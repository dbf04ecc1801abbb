// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace wim::collector {

/// `wim-collector export-audit ...` and `wim-collector export-case ...` (argv[0] is the
/// subcommand); the process exit code. Every other argv[0]: returns -1.
int run_case_export(int argc, char** argv);

}  // namespace wim::collector
