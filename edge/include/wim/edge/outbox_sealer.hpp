// SPDX-License-Identifier: Apache-2.0
// Seals records into the station's chain (wim::chain::ChainWriter) and commits each to the
// outbox before returning: when commit() returns, the record is durable and the pass is
// done. Disk quota: before a record is sealed, unsent pass records are thinned as needed
// and a "thinning" event record naming each thinned seq and manifest SHA-256 is committed
// first, so the collector sees why those seqs never arrive and the chain stays explainable.
// Held events: a vehicle record carries its pass time (first axle), which lies up to a
// segment's length in the past when the record is sealed, while an event is stamped when
// it is detected. So that record times never go backwards along the chain, events the
// record builder or another thread detect are held (hold_event) and sealed in time order
// between the vehicle records: before a vehicle whose time is later, or when the caller
// releases them (release_events: no vehicle earlier than the watermark can come any more).
// Thread-safety: all members may be called from any thread (one mutex).
// Errors: OutboxFull (nothing stored, the chain stays at the outbox head), InputError
// (invalid manifest).
#pragma once
#include <boost/json/object.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "wim/common/chain.hpp"
#include "wim/common/record.hpp"
#include "wim/edge/outbox.hpp"

namespace wim::edge {

/// Outbox fact (Outbox::station_fact) holding the fingerprint (crypto::VerifyKey::
/// fingerprint) of the record-signing key in force: set with each key_change event.
inline constexpr const char* kSigningKeyFact = "signing_key_fingerprint";

class OutboxSealer {
 public:
  /// Continues the chain from the outbox head.
  OutboxSealer(Outbox& outbox, std::string station_id, crypto::SigningKey key,
               std::string software_sha256);

  /// Seals `m` (seq, prev, station set here) with its attachments and commits it.
  /// Returns the seq. Fills time and clock fields when m.time_unix_us is 0.
  std::uint64_t commit(record::Manifest m, std::map<std::string, std::string> attachments = {});
  /// A station event record ("station_start", "clock_step", ...), sealed now, after the
  /// held events.
  std::uint64_t commit_event(const std::string& type, boost::json::object detail);

  /// Key rotation: seals and commits the key_change event (chain::ChainWriter::rotate_key)
  /// with the current key, after the held events; in the same outbox transaction the fact
  /// kSigningKeyFact becomes `new_key`'s fingerprint. Later records are signed with
  /// `new_key`. On an error nothing changed (the old key stays in force). Returns the seq.
  std::uint64_t rotate_key(crypto::SigningKey new_key);

  /// Holds an event record (time and clock filled from the clock when 0) until a vehicle
  /// record with a later time is committed or release_events() passes its time. Held
  /// events are kept in the outbox until sealed: after a kill, the next sealer (the
  /// constructor) holds them again, marked "sealed_after_restart": true in their detail,
  /// and Station::start() seals them first, before its clock check and station_start.
  void hold_event(record::Manifest m);
  /// Seals the held events with time <= watermark_unix_us [us], in time order (a
  /// "clock_step" event goes first: it is when the clock went back). Returns how many.
  std::size_t release_events(std::int64_t watermark_unix_us);
  std::size_t release_all_events() { return release_events(INT64_MAX); }
  std::size_t held_events() const;

  /// The clock for records sealed with time 0 (default: time::now_unix_us and
  /// time::query_clock). Tests running compressed simulated time set their own.
  void set_clock(std::function<std::int64_t()> now_unix_us);

  std::uint64_t last_seq() const;
  /// [us] time of the last record sealed by this sealer (0 before the first).
  std::int64_t last_time_unix_us() const;

 private:
  std::size_t release_locked(std::int64_t watermark_unix_us);
  void stamp(record::Manifest& m) const;
  std::uint64_t seal_and_append(record::Manifest m, std::map<std::string, std::string> att,
                                std::uint64_t reports_thinned_upto, std::int64_t held_id = 0,
                                const crypto::SigningKey* rotate_to = nullptr);
  void report_thinning(std::int64_t before_unix_us);
  void resync();

  Outbox& outbox_;
  std::string station_id_;
  crypto::SigningKey key_;
  std::string software_sha256_;
  chain::ChainWriter writer_;
  mutable std::mutex mu_;
  struct Held {
    record::Manifest m;
    std::int64_t id = 0;  ///< its row in the outbox's held table
  };
  std::vector<Held> held_;
  std::function<std::int64_t()> now_;
  std::int64_t last_time_us_ = 0;
};

}  // namespace wim::edge
