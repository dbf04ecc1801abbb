// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/uplink_client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl.hpp>
#include <random>

#include "wim/common/log.hpp"
#include "wim/common/time.hpp"

namespace wim::edge {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;

UplinkClient::UplinkClient(UplinkConfig cfg, Outbox& outbox,
                           std::function<std::string()> heartbeat_json)
    : cfg_(std::move(cfg)), outbox_(outbox), heartbeat_json_(std::move(heartbeat_json)) {}

void UplinkClient::set_state(const std::string& s) {
  std::lock_guard lock(mu_);
  status_.state = s;
}

UplinkStatus UplinkClient::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void UplinkClient::stop() {
  std::lock_guard lock(mu_);
  stop_ = true;
  cv_.notify_all();
}

void UplinkClient::notify() {
  std::lock_guard lock(mu_);
  wake_ = true;
  cv_.notify_all();
}

DrainResult UplinkClient::run_once() {
  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  ctx.load_verify_file(cfg_.ca_file, ec);
  if (ec) throw UplinkError("uplink: ca_file " + cfg_.ca_file + ": " + ec.message());
  ctx.use_certificate_chain_file(cfg_.cert_file, ec);
  if (ec) throw UplinkError("uplink: cert_file " + cfg_.cert_file + ": " + ec.message());
  ctx.use_private_key_file(cfg_.key_file, ssl::context::pem, ec);
  if (ec) throw UplinkError("uplink: key_file " + cfg_.key_file + ": " + ec.message());
  ctx.set_verify_mode(ssl::verify_peer);

  ssl::stream<boost::beast::tcp_stream> stream(ioc, ctx);
  stream.set_verify_callback(ssl::host_name_verification(cfg_.host));
  if (!SSL_set_tlsext_host_name(stream.native_handle(), cfg_.host.c_str()))
    throw UplinkError("uplink: cannot set TLS server name " + cfg_.host);
  UplinkSession<ssl::stream<boost::beast::tcp_stream>> session(ioc, stream, cfg_);

  net::ip::tcp::resolver resolver(ioc);
  net::ip::tcp::resolver::results_type endpoints;
  session.run_with_deadline("resolve " + cfg_.host, [&](auto handler) {
    resolver.async_resolve(
        cfg_.host, cfg_.port,
        [&endpoints, h = std::move(handler)](boost::beast::error_code e,
                                             net::ip::tcp::resolver::results_type r) mutable {
          endpoints = r;
          h(e);
        });
  });
  session.run_with_deadline("connect " + cfg_.host + ":" + cfg_.port, [&](auto handler) {
    boost::beast::get_lowest_layer(stream).async_connect(endpoints, std::move(handler));
  });
  session.run_with_deadline("TLS handshake", [&](auto handler) {
    stream.async_handshake(ssl::stream_base::client, std::move(handler));
  });
  set_state("connected");
  if (batch_limit_ == 0) batch_limit_ = cfg_.batch_max_records;
  DrainResult r = drain_outbox(session, outbox_, cfg_, &batch_limit_);
  const auto now = time::monotonic_us();
  if (heartbeat_json_ && now >= next_heartbeat_us_) {
    std::string hb = heartbeat_json_();
    if (!hb.empty()) session.post_heartbeat(std::move(hb));
    next_heartbeat_us_ = now + cfg_.heartbeat_period.count() * 1000;
  }
  boost::beast::error_code ignored;
  boost::beast::get_lowest_layer(stream).socket().shutdown(net::ip::tcp::socket::shutdown_both,
                                                           ignored);
  return r;
}

void UplinkClient::run() {
  Backoff backoff(cfg_.backoff_initial, cfg_.backoff_max, std::random_device{}());
  const auto poll = std::min(cfg_.heartbeat_period, std::chrono::milliseconds(5000));
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
    }
    std::chrono::milliseconds wait = poll;
    try {
      auto r = run_once();
      backoff.reset();
      std::lock_guard lock(mu_);
      status_.state = "idle";
      status_.last_error.clear();
      status_.acked_seq = r.acked_seq;
      status_.last_success_unix_us = time::now_unix_us();
      status_.consecutive_failures = 0;
      status_.records_sent += r.acknowledged;
      if (r.acknowledged > 0)
        log::info("uplink", "sent " + std::to_string(r.acknowledged) + " records in " +
                                std::to_string(r.batches) + " batches; collector acked seq " +
                                std::to_string(r.acked_seq));
    } catch (const std::exception& e) {
      wait = backoff.next();
      std::lock_guard lock(mu_);
      status_.state = "backoff";
      status_.last_error = e.what();
      ++status_.consecutive_failures;
      log::warning("uplink", std::string(e.what()) + "; retry in " + std::to_string(wait.count()) +
                                 " ms (attempt " + std::to_string(status_.consecutive_failures) +
                                 ")");
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return stop_ || (wake_ && status_.state == "idle"); });
    wake_ = false;
  }
  set_state("stopped");
}

}  // namespace wim::edge
