// SPDX-License-Identifier: Apache-2.0
// Raw bytes into the packet readers: from_tar (as a tar) and parse_manifest (as a
// manifest). Malformed input must end in InputError, never in a crash or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "wim/common/chain.hpp"
#include "wim/common/error.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  wim::packet::Limits limits;
  limits.max_total_bytes = 1u << 20;
  limits.max_entry_bytes = 1u << 20;
  try {
    auto packets = wim::packet::from_tar(bytes, limits);
    // Whatever was read goes through the verifier as well (no keys: every path but the
    // signature check itself).
    (void)wim::chain::verify_chain(packets, wim::chain::KeyRegistry{});
  } catch (const wim::InputError&) {
  }
  try {
    auto m = wim::record::parse_manifest(bytes);
    (void)wim::record::serialize(m);
  } catch (const wim::InputError&) {
  }
  return 0;
}
