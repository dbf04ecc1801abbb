// SPDX-License-Identifier: Apache-2.0
// Option parsing shared by the wim-edge sub-commands.
#pragma once
#include <signal.h>

#include "wim/common/cli_options.hpp"

namespace wim::edge {

using wim::parse_command_options;

/// Blocks SIGTERM and SIGINT in the calling thread and returns their set. The daemons take
/// them by sigwait on the main thread only: call before any thread is started.
inline sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

}  // namespace wim::edge
