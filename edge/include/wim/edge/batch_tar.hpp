// SPDX-License-Identifier: Apache-2.0
// Batches for POST /v1/records: the outbox keeps each packet as its own tar (contract 4
// wire form); a batch is one tar holding their entries in ascending seq. libarchive
// does the tar format; no packet semantics here (that is wim::packet).
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wim::edge {

struct TarEntry {
  std::string name;  ///< e.g. "G017-0000000005/manifest.json"
  std::string data;
};

/// Reads every regular-file entry of a tar held in memory. Throws InputError naming the
/// entry (or the position) when the tar is malformed or an entry exceeds max_entry_bytes.
std::vector<TarEntry> read_tar(std::string_view tar, std::size_t max_entry_bytes = 64u << 20);
/// One pax tar of the given entries, in order (mode 0644, owner 0, mtime 0).
std::string write_tar(const std::vector<TarEntry>& entries);
/// Concatenates the entries of several tars into one tar, in order.
std::string merge_tars(const std::vector<std::string_view>& tars);

}  // namespace wim::edge
