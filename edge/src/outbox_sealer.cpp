// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/outbox_sealer.hpp"

#include "wim/common/log.hpp"
#include "wim/common/packet.hpp"

namespace wim::edge {

namespace {
RecordKind outbox_kind(record::Kind k) {
  switch (k) {
    case record::Kind::pass:
      return RecordKind::pass;
    case record::Kind::violation:
      return RecordKind::violation;
    case record::Kind::event:
      return RecordKind::event;
  }
  return RecordKind::event;
}
}  // namespace

OutboxSealer::OutboxSealer(Outbox& outbox, std::string station_id, crypto::SigningKey key,
                           std::string software_sha256)
    : outbox_(outbox),
      station_id_(std::move(station_id)),
      key_(key),
      software_sha256_(std::move(software_sha256)),
      writer_(station_id_, key_, outbox.head().seq, outbox.head().manifest_sha256) {}

void OutboxSealer::resync() {
  const auto h = outbox_.head();
  writer_ = chain::ChainWriter(station_id_, key_, h.seq, h.manifest_sha256);
}

std::uint64_t OutboxSealer::seal_and_append(record::Manifest m,
                                            std::map<std::string, std::string> att,
                                            std::uint64_t reports_thinned_upto) {
  if (m.time_unix_us == 0) {
    const auto clock = time::query_clock();
    m.time_unix_us = time::now_unix_us();
    m.clock_sync = clock.sync;
    m.clock_offset_ms = clock.offset_ms;
  }
  if (m.software_sha256.empty()) m.software_sha256 = software_sha256_;
  try {
    packet::Packet p = writer_.append(std::move(m), std::move(att));
    const auto parsed = p.manifest();
    OutboxRecord r;
    r.seq = parsed.seq;
    r.kind = outbox_kind(parsed.kind);
    r.manifest_sha256 = crypto::sha256_hex(p.manifest_json);
    r.prev_sha256 = parsed.prev_sha256;
    r.created_unix_us = parsed.time_unix_us;
    r.packet = packet::to_tar({p});
    outbox_.append(r, reports_thinned_upto);
    return r.seq;
  } catch (...) {
    resync();  // the chain advances only with what the outbox holds
    throw;
  }
}

void OutboxSealer::report_thinning() {
  auto thinned = outbox_.unreported_thinned();
  if (thinned.empty()) return;
  boost::json::array seqs;
  for (const auto& t : thinned)
    seqs.push_back(boost::json::object{{"seq", t.seq}, {"manifest_sha256", t.manifest_sha256}});
  record::Manifest m;
  m.station_id = station_id_;
  m.kind = record::Kind::event;
  m.event =
      record::Event{"thinning", boost::json::object{{"reason", "outbox disk quota"},
                                                    {"quota_bytes", outbox_.stats().quota_bytes},
                                                    {"thinned", seqs}}};
  seal_and_append(std::move(m), {}, thinned.back().seq);
  log::warning("outbox",
               "thinning event recorded for " + std::to_string(thinned.size()) + " pass records");
}

std::uint64_t OutboxSealer::commit(record::Manifest m,
                                   std::map<std::string, std::string> attachments) {
  std::uint64_t incoming = 4096;  // [B] manifest, signature and tar headers, generously
  for (const auto& [name, bytes] : attachments) incoming += bytes.size() + 1024;
  outbox_.thin_to_quota(incoming);
  report_thinning();
  m.station_id = station_id_;
  return seal_and_append(std::move(m), std::move(attachments), 0);
}

std::uint64_t OutboxSealer::commit_event(const std::string& type, boost::json::object detail) {
  record::Manifest m;
  m.kind = record::Kind::event;
  m.event = record::Event{type, std::move(detail)};
  return commit(std::move(m));
}

}  // namespace wim::edge
