// SPDX-License-Identifier: Apache-2.0
// Runs a shell command line from a test (our programs: wim-edge, wim-verify, ...) and
// returns its exit status with stdout and stderr together.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace wim::test {

struct CommandResult {
  int status = -1;  ///< exit code; 128 + signal number when killed by a signal
  std::string out;  ///< stdout and stderr, interleaved
};

inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + cmd);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
  return r;
}

}  // namespace wim::test
