// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/uplink.hpp"

#include <algorithm>
#include <map>

#include "wim/common/json.hpp"
#include "wim/edge/batch_tar.hpp"

namespace wim::edge {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                 std::uint32_t seed)
    : initial_(initial), max_(max), rng_(seed) {}

std::string UplinkHttpError::code() const {
  boost::system::error_code ec;
  auto v = boost::json::parse(body_, ec);
  if (ec || !v.is_object()) return "";
  const auto* e = v.as_object().if_contains("error");
  return e && e->is_string() ? std::string(e->as_string()) : "";
}

std::chrono::milliseconds Backoff::next() {
  std::int64_t d = initial_.count();
  for (unsigned i = 0; i < attempt_ && d < max_.count(); ++i) d *= 2;
  d = std::min<std::int64_t>(d, max_.count());
  if (attempt_ < 64) ++attempt_;
  std::uniform_int_distribution<std::int64_t> jitter(0, d / 2);
  return std::chrono::milliseconds(d - d / 2 + jitter(rng_));
}

namespace {
namespace bj = boost::json;

bj::value parse_reply(std::string_view body, std::string_view what) {
  try {
    return json::parse(body, what);
  } catch (const InputError& e) {
    throw UplinkError(e.what());
  }
}

void check_station(const bj::object& o, std::string_view station_id, std::string_view what) {
  if (station_id.empty()) return;
  auto s = json::get_string(o, "station_id", what);
  if (s != station_id)
    throw UplinkError(std::string(what) + ": station_id '" + s + "', expected '" +
                      std::string(station_id) + "'");
}

std::uint64_t get_seq(const bj::object& o, std::string_view key, std::string_view ctx) {
  auto v = json::get_int(o, key, ctx);
  if (v < 0) throw UplinkError(json::field_path(ctx, key) + ": negative");
  return static_cast<std::uint64_t>(v);
}

}  // namespace

AckState parse_ack_reply(std::string_view body, std::string_view station_id) {
  constexpr std::string_view what = "collector ack reply";
  try {
    auto v = parse_reply(body, what);
    const auto& o = json::as_object(v, what);
    check_station(o, station_id, what);
    AckState a;
    a.acked_seq = get_seq(o, "acked_seq", what);
    if (o.contains("highest_seq")) a.highest_seq = get_seq(o, "highest_seq", what);
    if (o.contains("missing")) {
      const auto& arr = json::get_array(o, "missing", what);
      for (std::size_t i = 0; i < arr.size(); ++i) {
        const auto* r = arr[i].if_array();
        if (!r || r->size() != 2 || !(*r)[0].is_int64() || !(*r)[1].is_int64())
          throw UplinkError(std::string(what) + ": missing[" + std::to_string(i) +
                            "]: expected [first, last]");
        a.missing.emplace_back((*r)[0].as_int64(), (*r)[1].as_int64());
      }
    }
    return a;
  } catch (const InputError& e) {
    throw UplinkError(e.what());
  }
}

RecordsReply parse_records_reply(std::string_view body, std::string_view station_id) {
  constexpr std::string_view what = "collector records reply";
  try {
    auto v = parse_reply(body, what);
    const auto& o = json::as_object(v, what);
    check_station(o, station_id, what);
    RecordsReply r;
    r.acked_seq = get_seq(o, "acked_seq", what);
    const auto& arr = json::get_array(o, "results", what);
    for (std::size_t i = 0; i < arr.size(); ++i) {
      const std::string ctx = std::string(what) + ".results[" + std::to_string(i) + "]";
      const auto& e = json::as_object(arr[i], ctx);
      RecordResult rr;
      rr.seq = get_seq(e, "seq", ctx);
      rr.status = json::get_string(e, "status", ctx);
      rr.problem = json::get_string(e, "problem", ctx, "");
      rr.detail = json::get_string(e, "detail", ctx, "");
      if (rr.status != "stored" && rr.status != "duplicate" && rr.status != "conflict" &&
          rr.status != "rejected")
        throw UplinkError(ctx + ".status: unknown status '" + rr.status + "'");
      r.results.push_back(std::move(rr));
    }
    return r;
  } catch (const InputError& e) {
    throw UplinkError(e.what());
  }
}

void apply_records_reply(const RecordsReply& reply, const std::vector<OutboxRecord>& sent,
                         Outbox& outbox, DrainResult& result) {
  std::map<std::uint64_t, const OutboxRecord*> by_seq;
  for (const auto& r : sent) by_seq[r.seq] = &r;
  std::vector<std::uint64_t> acked;
  for (const auto& r : reply.results) {
    if (!by_seq.count(r.seq)) {
      log::warning("uplink", "collector answered for seq " + std::to_string(r.seq) +
                                 " which was not in the batch; ignored");
      continue;
    }
    if (r.status == "stored" || r.status == "duplicate") {
      acked.push_back(r.seq);
    } else if (r.status == "conflict") {
      outbox.mark_conflict(r.seq, "collector: conflict (" + r.problem + "): " + r.detail);
      ++result.conflicts;
    } else {
      outbox.mark_conflict(r.seq, "collector: rejected (" + r.problem + "): " + r.detail);
      log::error("uplink", "collector rejected seq " + std::to_string(r.seq) + " (" + r.problem +
                               "): " + r.detail);
      ++result.rejected;
    }
  }
  // acked_seq covers records the collector stored earlier (a lost answer): remove those
  // of this batch at or below it as well.
  for (const auto& r : sent)
    if (r.seq <= reply.acked_seq && std::find(acked.begin(), acked.end(), r.seq) == acked.end())
      acked.push_back(r.seq);
  outbox.acknowledge(acked);
  result.acknowledged += acked.size();
  result.acked_seq = reply.acked_seq;
}

std::string make_batch(const std::vector<OutboxRecord>& records) {
  std::vector<std::string_view> tars;
  tars.reserve(records.size());
  for (const auto& r : records) tars.push_back(r.packet);
  return merge_tars(tars);
}

}  // namespace wim::edge
