// SPDX-License-Identifier: Apache-2.0
// Template code of wim/edge/uplink.hpp.
#pragma once
#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

#include "wim/common/log.hpp"

namespace wim::edge {

template <class Stream>
UplinkSession<Stream>::UplinkSession(boost::asio::io_context& ioc, Stream& stream,
                                     const UplinkConfig& cfg)
    : ioc_(ioc), stream_(stream), cfg_(cfg) {}

template <class Stream>
template <class Initiate>
void UplinkSession<Stream>::run_with_deadline(std::string_view what, Initiate&& init) {
  bool done = false;
  bool timer_done = false;
  bool timed_out = false;
  boost::beast::error_code result;
  boost::asio::steady_timer timer(ioc_);
  timer.expires_after(cfg_.op_timeout);
  timer.async_wait([&](boost::beast::error_code ec) {
    timer_done = true;
    if (!ec && !done) {
      timed_out = true;
      boost::beast::error_code ignored;
      boost::beast::get_lowest_layer(stream_).close();
    }
  });
  init([&](boost::beast::error_code ec, auto&&...) {
    done = true;
    result = ec;
  });
  while (!done || !timer_done) {
    if (done) timer.cancel();
    if (ioc_.run_one() == 0) ioc_.restart();
  }
  if (timed_out)
    throw UplinkError("uplink: " + std::string(what) + ": no answer within " +
                      std::to_string(cfg_.op_timeout.count()) + " ms");
  if (result) throw UplinkError("uplink: " + std::string(what) + ": " + result.message());
}

template <class Stream>
http::response<http::string_body> UplinkSession<Stream>::exchange(
    http::request<http::string_body>& req) {
  req.set(http::field::host, cfg_.host);
  req.set(http::field::user_agent, "wim-edge");
  req.keep_alive(true);
  req.prepare_payload();
  const std::string what = std::string(req.method_string()) + " " + std::string(req.target());
  run_with_deadline(what + " (send)",
                    [&](auto handler) { http::async_write(stream_, req, std::move(handler)); });
  http::response_parser<http::string_body> parser;
  parser.body_limit(4u << 20);
  run_with_deadline(what + " (answer)", [&](auto handler) {
    http::async_read(stream_, buffer_, parser, std::move(handler));
  });
  auto res = parser.release();
  if (res.result() != http::status::ok)
    throw UplinkHttpError("uplink: " + what + ": HTTP " + std::to_string(res.result_int()) + ": " +
                              res.body().substr(0, 200),
                          res.result_int(), res.body().substr(0, 4096));
  return res;
}

template <class Stream>
AckState UplinkSession<Stream>::get_ack() {
  http::request<http::string_body> req{http::verb::get, "/v1/stations/" + cfg_.station_id + "/ack",
                                       11};
  auto res = exchange(req);
  return parse_ack_reply(res.body(), cfg_.station_id);
}

template <class Stream>
RecordsReply UplinkSession<Stream>::post_records(std::string tar) {
  http::request<http::string_body> req{http::verb::post, "/v1/records", 11};
  req.set(http::field::content_type, "application/x-tar");
  req.body() = std::move(tar);
  auto res = exchange(req);
  return parse_records_reply(res.body(), cfg_.station_id);
}

template <class Stream>
std::uint64_t UplinkSession<Stream>::post_heartbeat(std::string json) {
  http::request<http::string_body> req{http::verb::post, "/v1/heartbeat", 11};
  req.set(http::field::content_type, "application/json");
  req.body() = std::move(json);
  auto res = exchange(req);
  return parse_ack_reply(res.body(), "").acked_seq;
}

template <class Stream>
DrainResult drain_outbox(UplinkSession<Stream>& session, Outbox& outbox, const UplinkConfig& cfg,
                         std::size_t* batch_limit) {
  std::size_t local_limit = cfg.batch_max_records;
  std::size_t& limit = batch_limit ? *batch_limit : local_limit;
  limit = std::clamp<std::size_t>(limit, 1, std::max<std::size_t>(cfg.batch_max_records, 1));
  DrainResult result;
  // Resume: whatever the collector holds contiguously from seq 1 is safe to remove,
  // whichever side restarted since the last answer.
  const AckState ack = session.get_ack();
  outbox.acknowledge_upto(ack.acked_seq);
  result.acked_seq = ack.acked_seq;
  for (;;) {
    auto batch = outbox.pending(limit, cfg.batch_max_bytes);
    if (batch.empty()) break;
    RecordsReply reply;
    try {
      reply = session.post_records(make_batch(batch));
    } catch (const UplinkHttpError& e) {
      if (!e.batch_refused()) throw;
      ++result.batches;
      if (batch.size() > 1) {
        limit = std::max<std::size_t>(1, batch.size() / 2);
        log::warning("uplink", "collector refused a batch of " + std::to_string(batch.size()) +
                                   " records (seq " + std::to_string(batch.front().seq) + ".." +
                                   std::to_string(batch.back().seq) + ", HTTP " +
                                   std::to_string(e.status()) + " " + e.code() +
                                   "); retrying in batches of " + std::to_string(limit));
        continue;
      }
      // One record alone is refused: it is the bad one. Keep it, flag it, go on.
      outbox.mark_conflict(batch.front().seq, "collector: rejected (HTTP " +
                                                  std::to_string(e.status()) + " " + e.code() +
                                                  "): " + e.body().substr(0, 300));
      log::error("uplink", "collector refuses record seq " + std::to_string(batch.front().seq) +
                               " on its own (HTTP " + std::to_string(e.status()) + " " + e.code() +
                               "); kept in the outbox as rejected for an operator");
      ++result.rejected;
      limit = cfg.batch_max_records;
      continue;
    }
    if (limit < cfg.batch_max_records) limit = std::min(cfg.batch_max_records, limit * 2);
    // Every record of the batch leaves the pending set (acknowledged, or held as conflict
    // or rejected for an operator); an answer that settles none would loop forever.
    ++result.batches;
    const std::size_t before = result.acknowledged + result.conflicts + result.rejected;
    apply_records_reply(reply, batch, outbox, result);
    if (result.acknowledged + result.conflicts + result.rejected == before)
      throw UplinkError("uplink: collector acknowledged none of " + std::to_string(batch.size()) +
                        " records (seq " + std::to_string(batch.front().seq) + ".." +
                        std::to_string(batch.back().seq) + ")");
  }
  return result;
}

}  // namespace wim::edge
