// SPDX-License-Identifier: Apache-2.0
// wim-collector station-cert add|retire|list (docs/operator-guide.md).
#pragma once

namespace wim::collector {

/// argv[0] is "station-cert". Exit 0 done; 1 refused (the message says why; the registry
/// is unchanged); 2 usage or config error.
int run_station_cert(int argc, char** argv);

}  // namespace wim::collector
