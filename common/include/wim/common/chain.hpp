// SPDX-License-Identifier: Apache-2.0
// The hash chain of a station's records: seq from 1 without gaps, each manifest naming
// the SHA-256 of the previous manifest.json. ChainWriter builds it on the station;
// verify_packet / verify_chain check it anywhere (collector, wim-verify, a court's expert)
// and report every problem precisely instead of stopping at the first.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wim/common/crypto.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/record.hpp"

namespace wim::chain {

/// Edge side: assigns seq and prev_sha256, signs. Not thread-safe: one writer per station,
/// called from one thread. The caller persists each packet (outbox) before the next append;
/// on restart it passes the last persisted seq and manifest SHA-256 back in.
class ChainWriter {
 public:
  /// `last_seq` 0 starts a new chain (then `last_sha256` must be empty or 64 '0').
  ChainWriter(std::string station_id, crypto::SigningKey key, std::uint64_t last_seq,
              std::string last_sha256);
  /// Sets station_id (an existing different one is an InputError), seq and prev_sha256,
  /// then seals. The chain advances only when sealing succeeds.
  packet::Packet append(record::Manifest m, std::map<std::string, std::string> attachments);

  /// Key rotation: appends a key_change event (`event` gives time, clock state and
  /// software identity; kind, type and detail are set here) signed with the current
  /// key, announcing `new_key`'s public key; every later record is signed with `new_key`.
  packet::Packet rotate_key(crypto::SigningKey new_key, record::Manifest event);

  std::uint64_t last_seq() const { return last_seq_; }
  const std::string& last_sha256() const { return last_sha256_; }
  const std::string& station_id() const { return station_id_; }

 private:
  std::string station_id_;
  crypto::SigningKey key_;
  std::uint64_t last_seq_;
  std::string last_sha256_;
};

/// Station id -> record-signing public key.
class KeyRegistry {
 public:
  void add(std::string station_id, crypto::VerifyKey key);
  /// A key used for any station not registered by name (wim-verify --key).
  void set_default(crypto::VerifyKey key);
  /// nullptr when the station is unknown and no default key is set.
  const crypto::VerifyKey* find(std::string_view station_id) const;
  std::size_t size() const { return keys_.size(); }
  /// Loads every "<station>.pub.pem" in `dir`; InputError names a bad file.
  static KeyRegistry load_dir(const std::filesystem::path& dir);

 private:
  std::map<std::string, crypto::VerifyKey, std::less<>> keys_;
  std::optional<crypto::VerifyKey> default_;
};

/// Key rotation: a station announces its new signing key in an "key_change" event record
/// signed with its OLD key; detail "new_key_pem" holds the new SPKI PEM and
/// "new_key_fingerprint_sha256" its fingerprint. Records after that seq are signed with
/// the new key. Returns the announced key of such an event (nullopt for any other
/// record); InputError when it is a key_change event whose key does not parse or does not
/// match its fingerprint.
std::optional<crypto::VerifyKey> announced_key(const record::Manifest& m);
inline constexpr const char* kKeyChangeEvent = "key_change";

enum class Problem {
  malformed,                 ///< unreadable packet or manifest (detail names the field)
  unknown_key,               ///< no key registered for the station
  bad_signature,             ///< manifest.sig does not verify over manifest.json
  attachment_missing,        ///< listed in the manifest, not in the packet
  attachment_hash_mismatch,  ///< bytes differ from the listed SHA-256 or size
  attachment_unlisted,       ///< in the packet, not listed in the manifest
  broken_link,               ///< prev_sha256 is not the SHA-256 of the previous manifest
  gap,                       ///< seqs missing (seq = first missing; detail gives the range)
  duplicate,                 ///< the same manifest bytes twice
  fork,                      ///< two different authentic manifests with one seq
  time_out_of_order,         ///< record time earlier than the previous record's
  station_mismatch,          ///< a packet of another station in this station's chain
  name_mismatch,             ///< packet directory name differs from its manifest
  out_of_order,              ///< packets not in ascending seq order in the set
};
std::string_view to_string(Problem p);

struct Finding {
  std::string station_id;
  std::uint64_t seq = 0;  ///< 0 when the seq could not be read at all
  Problem problem = Problem::malformed;
  std::string detail;
};

/// Signature and attachments of one packet (plus manifest syntax and dir name).
std::vector<Finding> verify_packet(const packet::Packet& p, const KeyRegistry& keys);

/// What verify_packet computed on the way, so that a caller (the collector's ingest)
/// need not parse the manifest or hash it a second time.
struct PacketFacts {
  std::optional<record::Manifest> manifest;  ///< set when manifest.json parsed strictly
  std::string manifest_sha256;               ///< hex SHA-256 of manifest.json
};
std::vector<Finding> verify_packet(const packet::Packet& p, const KeyRegistry& keys,
                                   PacketFacts& facts);

/// Every packet (verify_packet) plus, over the authentic ones: links, gaps, duplicates,
/// forks, time order, one station, input order. The set may start at any seq (an export
/// of a range); `require_from_seq_1` reports a gap before the first seq as well.
/// `keys` gives the key in force at the first seq; an authentic key_change event hands
/// over to its announced key for every later seq (the old key's records stay valid,
/// a record with the new key before the event is a bad_signature).
struct ChainSummary {
  std::string station_id;
  std::size_t records = 0;  ///< distinct seqs present
  std::uint64_t first_seq = 0, last_seq = 0;
  /// The key that signs the records after last_seq: the registry's, or the one the last
  /// authentic key_change event of the set announced.
  std::optional<crypto::VerifyKey> key_in_force;
  std::size_t key_changes = 0;  ///< authentic key_change events followed
};
std::vector<Finding> verify_chain(std::vector<packet::Packet> packets, const KeyRegistry& keys);
std::vector<Finding> verify_chain(std::vector<packet::Packet> packets, const KeyRegistry& keys,
                                  bool require_from_seq_1, ChainSummary* summary);

}  // namespace wim::chain
