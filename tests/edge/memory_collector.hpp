// SPDX-License-Identifier: Apache-2.0
// An in-memory stand-in for the collector's HTTP side, for the fail-count tests of the
// uplink only (the end-to-end tests use the real wim-collector). It follows
// docs/uplink.md: stores a packet before answering, duplicates are success, other content
// under a stored seq is a conflict; acked_seq is the highest contiguous seq from 1.
#pragma once
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "wim/edge/batch_tar.hpp"

namespace wim::test {

struct MemoryCollector {
  std::string station_id = "G017";
  std::map<std::uint64_t, std::string> stored;  ///< seq -> manifest.json bytes
  /// Batches holding one of these seqs are refused whole: 400 {"error":"broken_tar"}, as
  /// the collector answers a tar it cannot read (nothing stored).
  std::set<std::uint64_t> unreadable;
  unsigned status = 200;    ///< HTTP status of the last answer
  std::size_t refused = 0;  ///< [-] requests answered 400

  std::uint64_t acked_seq() const {
    std::uint64_t s = 0;
    while (stored.count(s + 1)) ++s;
    return s;
  }

  std::string handle(const std::string& method, const std::string& target,
                     const std::string& body) {
    namespace bj = boost::json;
    status = 200;
    if (method == "GET" && target == "/v1/stations/" + station_id + "/ack") {
      bj::object o{{"station_id", station_id}, {"acked_seq", acked_seq()}};
      o["highest_seq"] = stored.empty() ? 0 : stored.rbegin()->first;
      return bj::serialize(o);
    }
    if (method == "POST" && target == "/v1/heartbeat") {
      return bj::serialize(bj::object{{"ok", true}, {"acked_seq", acked_seq()}});
    }
    if (method == "POST" && target == "/v1/records") {
      std::map<std::uint64_t, std::string> manifests;
      for (auto& e : edge::read_tar(body)) {
        auto slash = e.name.find('/');
        if (e.name.substr(slash + 1) != "manifest.json") continue;
        auto dash = e.name.find('-');
        manifests[std::stoull(e.name.substr(dash + 1, slash - dash - 1))] = e.data;
      }
      for (const auto& [seq, m] : manifests)
        if (unreadable.count(seq)) {
          status = 400;
          ++refused;
          return R"({"error":"broken_tar","detail":"tar: truncated entry"})";
        }
      bj::array results;
      for (auto& [seq, m] : manifests) {
        auto it = stored.find(seq);
        std::string status = "stored";
        if (it == stored.end())
          stored[seq] = m;  // durable before the answer
        else
          status = it->second == m ? "duplicate" : "conflict";
        results.push_back(bj::object{{"seq", seq}, {"status", status}});
      }
      return bj::serialize(
          bj::object{{"station_id", station_id}, {"results", results}, {"acked_seq", acked_seq()}});
    }
    return "";
  }
};

/// One connection of the in-memory collector: the Beast session pattern on a test stream.
class MemoryPeer : public std::enable_shared_from_this<MemoryPeer> {
 public:
  MemoryPeer(boost::beast::test::stream stream, MemoryCollector& c)
      : stream_(std::move(stream)), collector_(c) {}
  void start() { do_read(); }
  boost::beast::test::stream& stream() { return stream_; }

 private:
  void do_read() {
    req_ = {};
    boost::beast::http::async_read(stream_, buffer_, req_,
                                   [self = shared_from_this()](boost::beast::error_code ec,
                                                               std::size_t) { self->on_read(ec); });
  }
  void on_read(boost::beast::error_code ec) {
    if (ec) return stream_.close();
    namespace http = boost::beast::http;
    std::string body = collector_.handle(std::string(req_.method_string()),
                                         std::string(req_.target()), req_.body());
    res_ = {};
    res_.version(11);
    res_.result(body.empty() ? http::status::not_found
                             : static_cast<http::status>(collector_.status));
    res_.set(http::field::content_type, "application/json");
    res_.body() = body.empty() ? R"({"error":"not_found"})" : body;
    res_.keep_alive(true);
    res_.prepare_payload();
    http::async_write(stream_, res_,
                      [self = shared_from_this()](boost::beast::error_code e, std::size_t) {
                        if (e) return self->stream_.close();
                        self->do_read();
                      });
  }
  boost::beast::test::stream stream_;
  MemoryCollector& collector_;
  boost::beast::flat_buffer buffer_;
  boost::beast::http::request<boost::beast::http::string_body> req_;
  boost::beast::http::response<boost::beast::http::string_body> res_;
};

}  // namespace wim::test
