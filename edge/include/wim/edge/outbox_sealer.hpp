// SPDX-License-Identifier: Apache-2.0
// Seals records into the station's chain (wim::chain::ChainWriter) and commits each to the
// outbox before returning: when commit() returns, the record is durable and the pass is
// done. Disk quota: before a record is sealed, unsent pass records are thinned as needed
// and a "thinning" event record naming each thinned seq and manifest SHA-256 is committed
// first, so the collector sees why those seqs never arrive and the chain stays explainable.
// Thread-safety: one sealer per station, used from one thread (the record builder).
// Errors: OutboxFull (nothing stored, the chain stays at the outbox head), InputError
// (invalid manifest).
#pragma once
#include <boost/json/object.hpp>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "wim/common/chain.hpp"
#include "wim/common/record.hpp"
#include "wim/edge/outbox.hpp"

namespace wim::edge {

class OutboxSealer {
 public:
  /// Continues the chain from the outbox head.
  OutboxSealer(Outbox& outbox, std::string station_id, crypto::SigningKey key,
               std::string software_sha256);

  /// Seals `m` (seq, prev, station set here) with its attachments and commits it.
  /// Returns the seq. Fills time and clock fields when m.time_unix_us is 0.
  std::uint64_t commit(record::Manifest m, std::map<std::string, std::string> attachments = {});
  /// A station event record ("station_start", "clock_step", ...).
  std::uint64_t commit_event(const std::string& type, boost::json::object detail);

  std::uint64_t last_seq() const { return writer_.last_seq(); }

 private:
  std::uint64_t seal_and_append(record::Manifest m, std::map<std::string, std::string> att,
                                std::uint64_t reports_thinned_upto);
  void report_thinning();
  void resync();

  Outbox& outbox_;
  std::string station_id_;
  crypto::SigningKey key_;
  std::string software_sha256_;
  chain::ChainWriter writer_;
};

}  // namespace wim::edge
