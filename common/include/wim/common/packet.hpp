// SPDX-License-Identifier: Apache-2.0
// The evidence packet of contract 4: manifest.json (the signed bytes), manifest.sig
// (64-byte raw Ed25519 signature) and the attachments, as a directory
// "<station>-<seq, 10 digits>/" or as entries of one tar (ustar/pax, libarchive).
// Reading never trusts the input: sizes and counts are bounded, names are checked, and
// errors (InputError) name the file or tar entry. Nothing here verifies the signature:
// that is wim::chain::verify_packet. No global state; safe to use from several threads.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wim/common/crypto.hpp"
#include "wim/common/record.hpp"

namespace wim::packet {

inline constexpr std::string_view kManifestName = "manifest.json";
inline constexpr std::string_view kSignatureName = "manifest.sig";

/// Bounds on what a reader accepts (a tar from the network, a directory on a USB stick).
struct Limits {
  std::uint64_t max_manifest_bytes = 1u << 20;  ///< [bytes] manifest.json
  std::uint64_t max_entry_bytes = 64u << 20;    ///< [bytes] any one attachment
  std::uint64_t max_total_bytes = 256u << 20;   ///< [bytes] all entries together
  std::size_t max_packets = 10000;              ///< packets in one tar
  std::size_t max_entries_per_packet = 64;      ///< files in one packet
};

struct Packet {
  std::string manifest_json;                       ///< the exact signed bytes
  std::string signature;                           ///< 64 raw bytes (Ed25519)
  std::map<std::string, std::string> attachments;  ///< name -> bytes
  /// Where it was read from ("G017-0000000005" dir or tar entry prefix); empty when
  /// built in memory. Used by the verifier to spot misnamed packets.
  std::string origin;

  /// Parses manifest_json (InputError naming the field).
  record::Manifest manifest() const;
  /// "G017-0000001234"; parses the manifest (InputError).
  std::string dir_name() const;
  /// Same signed bytes, signature and attachments (origin is not compared).
  bool operator==(const Packet& o) const {
    return manifest_json == o.manifest_json && signature == o.signature &&
           attachments == o.attachments;
  }
};

/// "G017-0000001234" for station "G017", seq 1234.
std::string dir_name(std::string_view station_id, std::uint64_t seq);

/// Splits "G017-0000001234" into station and seq; false when the name is not of that form.
bool parse_dir_name(std::string_view name, std::string& station_id, std::uint64_t& seq);

/// Fills m.attachments from `attachments` (name, sha256, size; media type guessed from the
/// extension unless m already lists the name with a media type), serialises and signs.
/// Throws InputError when the manifest is invalid (privacy rule included) or an
/// attachment name is unsafe.
Packet seal(record::Manifest m, std::map<std::string, std::string> attachments,
            const crypto::SigningKey& key);

/// Media type for a file name by extension ("plate.jpg" -> "image/jpeg").
std::string media_type_for(std::string_view name);

/// Writes parent/<dir_name>/ atomically: a temp dir in `parent`, each file fsync'ed, the
/// dir renamed into place, `parent` fsync'ed. Writing an identical packet again is a
/// no-op; a different packet under the same name is refused (InputError), never
/// overwritten. Throws SystemError on I/O failure (the temp dir is removed).
void write_dir(const Packet& p, const std::filesystem::path& parent);
/// Reads a packet directory (no subdirectories or links allowed). InputError names the
/// file; a missing manifest.json or manifest.sig is an error.
Packet read_dir(const std::filesystem::path& dir, const Limits& limits = {});

/// How a tar ends after its two zero blocks of end-of-archive.
enum class TarEnd {
  /// Nothing more (a request body on the uplink: the smallest).
  compact,
  /// Zeros up to a whole record of 10240 bytes (20 blocks of 512), as GNU tar, bsdtar and
  /// Python's tarfile write by default. For every tar a person may handle with GNU tar:
  /// GNU tar 1.34 `--delete` rewrites an archive in such records and, without an error,
  /// damages members of one whose last record is short (docs/retention.md).
  full_records,
};
inline constexpr std::size_t kTarRecordBytes = 10240;

/// One tar holding each packet as "<dir_name>/" entries, in the given order.
/// Deterministic: entry times are the record time, owner 0, modes 0755/0644.
std::string to_tar(const std::vector<Packet>& packets, TarEnd end = TarEnd::compact);
/// One tar of (path, bytes) entries in the given order (a path ending in '/' is a
/// directory); owner 0, modes 0755/0644, every entry at `mtime_unix_s`.
std::string files_to_tar(const std::vector<std::pair<std::string, std::string>>& files,
                         std::int64_t mtime_unix_s, TarEnd end = TarEnd::compact);
/// Reads every regular file of a tar as (path, bytes), in order (directory entries skipped,
/// a leading "./" dropped). Rejects absolute paths, "..", links, devices, duplicate paths,
/// more than `limits.max_packets` files and anything over max_entry_bytes or
/// max_total_bytes (InputError naming the entry).
std::vector<std::pair<std::string, std::string>> files_from_tar(std::string_view tar,
                                                                const Limits& limits = {});
/// Reads packets from a tar, in order of first appearance. Accepts the layout to_tar
/// writes (directory entries optional); rejects absolute or nested paths, links,
/// devices, duplicate entries and anything over `limits` (InputError naming the entry).
std::vector<Packet> from_tar(std::string_view tar, const Limits& limits = {});

}  // namespace wim::packet
