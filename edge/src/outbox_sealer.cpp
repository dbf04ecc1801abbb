// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/outbox_sealer.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "wim/common/log.hpp"
#include "wim/common/packet.hpp"

namespace wim::edge {

namespace {
/// A held event as the outbox keeps it (not signed yet: only what the sealer needs).
std::string held_to_json(const record::Manifest& m) {
  return boost::json::serialize(
      boost::json::object{{"time_us", m.time_unix_us},
                          {"clock_sync", std::string(time::to_string(m.clock_sync))},
                          {"clock_offset_ms", m.clock_offset_ms},
                          {"type", m.event->type},
                          {"detail", m.event->detail}});
}

record::Manifest held_from_json(const std::string& text) {
  const auto v = boost::json::parse(text);
  const auto& o = v.as_object();
  record::Manifest m;
  m.kind = record::Kind::event;
  m.time_unix_us = o.at("time_us").to_number<std::int64_t>();
  m.clock_sync = time::clock_sync_from_string(std::string(o.at("clock_sync").as_string()));
  m.clock_offset_ms = o.at("clock_offset_ms").to_number<double>();
  m.event = record::Event{std::string(o.at("type").as_string()), o.at("detail").as_object()};
  return m;
}

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
      writer_(station_id_, key_, outbox.head().seq, outbox.head().manifest_sha256),
      last_time_us_(outbox.head().time_unix_us) {
  // Events a killed run held back: held again, sealed by the next event commit.
  for (const auto& [id, text] : outbox_.held()) {
    try {
      Held h{held_from_json(text), id};
      h.m.station_id = station_id_;
      // Detected by a run that was killed before sealing it (docs/station.md).
      h.m.event->detail["sealed_after_restart"] = true;
      held_.push_back(std::move(h));
    } catch (const std::exception& e) {
      log::error("outbox", "held event " + std::to_string(id) + " unreadable, kept: " + e.what());
    }
  }
  if (!held_.empty())
    log::notice("outbox", std::to_string(held_.size()) + " held events from the last run");
}

void OutboxSealer::resync() {
  const auto h = outbox_.head();
  writer_ = chain::ChainWriter(station_id_, key_, h.seq, h.manifest_sha256);
}

void OutboxSealer::set_clock(std::function<std::int64_t()> now_unix_us) {
  std::lock_guard lock(mu_);
  now_ = std::move(now_unix_us);
}

std::uint64_t OutboxSealer::last_seq() const {
  std::lock_guard lock(mu_);
  return writer_.last_seq();
}

std::int64_t OutboxSealer::last_time_unix_us() const {
  std::lock_guard lock(mu_);
  return last_time_us_;
}

std::size_t OutboxSealer::held_events() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

void OutboxSealer::stamp(record::Manifest& m) const {
  if (m.time_unix_us != 0) return;
  const auto clock = time::query_clock();
  m.time_unix_us = now_ ? now_() : time::now_unix_us();
  m.clock_sync = clock.sync;
  m.clock_offset_ms = clock.offset_ms;
}

void OutboxSealer::hold_event(record::Manifest m) {
  std::lock_guard lock(mu_);
  stamp(m);
  m.station_id = station_id_;
  const std::int64_t id = outbox_.add_held(held_to_json(m));
  held_.push_back({std::move(m), id});
}

std::size_t OutboxSealer::release_events(std::int64_t watermark_unix_us) {
  std::lock_guard lock(mu_);
  return release_locked(watermark_unix_us);
}

std::size_t OutboxSealer::release_locked(std::int64_t watermark_unix_us) {
  auto is_step = [](const Held& h) { return h.m.event && h.m.event->type == "clock_step"; };
  // A clock step goes first (it says from when on times restart lower); the rest by time.
  std::stable_sort(held_.begin(), held_.end(), [&](const Held& a, const Held& b) {
    if (is_step(a) != is_step(b)) return is_step(a);
    return a.m.time_unix_us < b.m.time_unix_us;
  });
  std::size_t n = 0;
  while (!held_.empty() &&
         (is_step(held_.front()) || held_.front().m.time_unix_us <= watermark_unix_us)) {
    const bool step = is_step(held_.front());
    const std::int64_t held_id = held_.front().id;
    record::Manifest m = std::move(held_.front().m);
    held_.erase(held_.begin());
    // Never backwards along the chain (except a clock step): an event detected while a
    // later record was already sealed keeps its detection time in the detail.
    if (!step && m.time_unix_us < last_time_us_ && m.event) {
      m.event->detail["detected_utc"] = time::format_utc_us(m.time_unix_us);
      m.time_unix_us = last_time_us_;
    }
    outbox_.thin_to_quota(4096);
    report_thinning(m.time_unix_us);
    seal_and_append(std::move(m), {}, 0, held_id);
    ++n;
  }
  return n;
}

std::uint64_t OutboxSealer::seal_and_append(record::Manifest m,
                                            std::map<std::string, std::string> att,
                                            std::uint64_t reports_thinned_upto,
                                            std::int64_t held_id,
                                            const crypto::SigningKey* rotate_to) {
  stamp(m);
  if (m.software_sha256.empty()) m.software_sha256 = software_sha256_;
  // The time-order rule (docs/records.md): a vehicle record keeps its measured time; one
  // older than the chain time is marked with the chain time it was sealed after.
  const bool vehicle = m.kind != record::Kind::event;
  const bool step = m.event && m.event->type == "clock_step";
  std::int64_t chain_time = m.time_unix_us;
  if (vehicle && m.time_unix_us < last_time_us_) {
    m.sealed_after_unix_us = last_time_us_;
    chain_time = last_time_us_;
    log::warning("outbox", "vehicle record of " + time::format_utc_us(m.time_unix_us) +
                               " sealed after the chain time " +
                               time::format_utc_us(last_time_us_) + ": marked sealed_after_utc");
  } else if (!vehicle && !step && m.time_unix_us < last_time_us_) {
    chain_time = last_time_us_;  // callers move events to the head's time; never backwards
  }
  try {
    packet::Packet p = rotate_to ? writer_.rotate_key(*rotate_to, std::move(m))
                                 : writer_.append(std::move(m), std::move(att));
    const auto parsed = p.manifest();
    OutboxRecord r;
    r.seq = parsed.seq;
    r.kind = outbox_kind(parsed.kind);
    r.manifest_sha256 = crypto::sha256_hex(p.manifest_json);
    r.prev_sha256 = parsed.prev_sha256;
    r.created_unix_us = parsed.time_unix_us;
    r.lane = parsed.lane;
    r.chain_time_unix_us = chain_time;
    r.packet = packet::to_tar({p});
    if (rotate_to) {
      outbox_.append(r, reports_thinned_upto, held_id,
                     {{kSigningKeyFact, rotate_to->public_key().fingerprint()}});
      key_ = *rotate_to;  // only once the outbox holds the event
    } else {
      outbox_.append(r, reports_thinned_upto, held_id);
    }
    last_time_us_ = chain_time;
    return r.seq;
  } catch (...) {
    resync();  // the chain advances only with what the outbox holds
    throw;
  }
}

void OutboxSealer::report_thinning(std::int64_t before_unix_us) {
  auto thinned = outbox_.unreported_thinned();
  if (thinned.empty()) return;
  // Each thinned pass by seq, manifest hash, time and lane: enough to match it to the
  // vehicle that passed (lane 0: a schema-1 row whose lane was not kept).
  boost::json::array seqs;
  for (const auto& t : thinned) {
    boost::json::object e{{"seq", t.seq}, {"manifest_sha256", t.manifest_sha256}};
    if (t.time_unix_us) e["time_utc"] = time::format_utc_us(t.time_unix_us);
    if (t.lane) e["lane"] = t.lane;
    seqs.push_back(std::move(e));
  }
  record::Manifest m;
  m.station_id = station_id_;
  m.kind = record::Kind::event;
  m.event =
      record::Event{"thinning", boost::json::object{{"reason", "outbox disk quota"},
                                                    {"quota_bytes", outbox_.stats().quota_bytes},
                                                    {"thinned", seqs}}};
  // Stamped with the time of the record it precedes, never before the chain head.
  m.time_unix_us = std::max(before_unix_us, last_time_us_);
  const auto clock = time::query_clock();
  m.clock_sync = clock.sync;
  m.clock_offset_ms = clock.offset_ms;
  seal_and_append(std::move(m), {}, thinned.back().seq);
  log::warning("outbox",
               "thinning event recorded for " + std::to_string(thinned.size()) + " pass records");
}

std::uint64_t OutboxSealer::commit(record::Manifest m,
                                   std::map<std::string, std::string> attachments) {
  std::lock_guard lock(mu_);
  stamp(m);
  // Held events up to this record's time go first (events never precede their time).
  if (m.kind != record::Kind::event || !(m.event && m.event->type == "clock_step"))
    release_locked(m.kind == record::Kind::event ? INT64_MAX : m.time_unix_us);
  if (m.kind == record::Kind::event && m.event && m.event->type != "clock_step" &&
      m.time_unix_us < last_time_us_) {
    m.event->detail["detected_utc"] = time::format_utc_us(m.time_unix_us);
    m.time_unix_us = last_time_us_;
  }
  std::uint64_t incoming = 4096;  // [B] manifest, signature and tar headers, generously
  for (const auto& [name, bytes] : attachments) incoming += bytes.size() + 1024;
  outbox_.thin_to_quota(incoming);
  report_thinning(m.time_unix_us);
  m.station_id = station_id_;
  return seal_and_append(std::move(m), std::move(attachments), 0);
}

std::uint64_t OutboxSealer::rotate_key(crypto::SigningKey new_key) {
  std::lock_guard lock(mu_);
  release_locked(INT64_MAX);  // events detected before the change are signed before it
  record::Manifest m;
  m.kind = record::Kind::event;
  m.event = record::Event{chain::kKeyChangeEvent, {}};
  stamp(m);
  m.time_unix_us = std::max(m.time_unix_us, last_time_us_);
  outbox_.thin_to_quota(4096);
  report_thinning(m.time_unix_us);
  m.station_id = station_id_;
  return seal_and_append(std::move(m), {}, 0, 0, &new_key);
}

std::uint64_t OutboxSealer::commit_event(const std::string& type, boost::json::object detail) {
  record::Manifest m;
  m.kind = record::Kind::event;
  m.event = record::Event{type, std::move(detail)};
  return commit(std::move(m));
}

}  // namespace wim::edge
