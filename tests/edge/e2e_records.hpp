// SPDX-License-Identifier: Apache-2.0
// Shared by the station's end-to-end tests: sealing a run of records and printing chain
// findings.
#pragma once
#include <string>
#include <vector>

#include "../common/record_samples.hpp"
#include "wim/common/chain.hpp"
#include "wim/edge/outbox_sealer.hpp"

namespace wim::test {

inline std::string describe(const std::vector<chain::Finding>& fs) {
  std::string s;
  for (const auto& f : fs)
    s += std::to_string(f.seq) + " " + std::string(chain::to_string(f.problem)) + " " + f.detail +
         "; ";
  return s;
}

/// Seals `n` records (every 5th a violation with attachments), time increasing by 1.5 s.
inline void seal(edge::OutboxSealer& sealer, int n, std::int64_t& t_us) {
  for (int i = 0; i < n; ++i) {
    t_us += 1'500'000;
    if ((sealer.last_seq() + 1) % 5 == 0)
      sealer.commit(violation_record(t_us), violation_attachments());
    else
      sealer.commit(pass_record(t_us));
  }
}

}  // namespace wim::test
