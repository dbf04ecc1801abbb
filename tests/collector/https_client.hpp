// SPDX-License-Identifier: Apache-2.0
// A small synchronous HTTP(S) client for the collector tests and benchmarks: presents a
// station's client certificate, or none; can send raw bytes (malformed HTTP).
#pragma once
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace wim::collector::test {

namespace beast = boost::beast;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

struct Reply {
  bool ok = false;    ///< a response arrived
  std::string error;  ///< why not
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  ///< response headers (last of each name)
};

/// One keep-alive connection to 127.0.0.1:port. Not thread-safe (one per thread).
class Client {
 public:
  /// TLS with `cert`/`key` (empty: no client certificate), trusting `ca`.
  Client(std::uint16_t port, const std::filesystem::path& ca, const std::filesystem::path& cert,
         const std::filesystem::path& key)
      : port_(port), ctx_(asio::ssl::context::tls_client) {
    ctx_.load_verify_file(ca.string());
    ctx_.set_verify_mode(asio::ssl::verify_peer);
    if (!cert.empty()) {
      ctx_.use_certificate_file(cert.string(), asio::ssl::context::pem);
      ctx_.use_private_key_file(key.string(), asio::ssl::context::pem);
    }
    tls_ = true;
  }
  /// Plain HTTP.
  explicit Client(std::uint16_t port) : port_(port), ctx_(asio::ssl::context::tls_client) {}

  Reply request(bhttp::verb verb, const std::string& target, std::string body = {},
                const std::string& content_type = "application/json",
                const std::map<std::string, std::string>& headers = {}) {
    bhttp::request<bhttp::string_body> req{verb, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.keep_alive(true);
    if (verb != bhttp::verb::get) {
      req.set(bhttp::field::content_type, content_type);
      req.body() = std::move(body);
      req.prepare_payload();
    }
    return exchange([&](auto& s) { bhttp::write(s, req); });
  }
  Reply get(const std::string& target) { return request(bhttp::verb::get, target); }
  Reply post(const std::string& target, std::string body, const std::string& ct) {
    return request(bhttp::verb::post, target, std::move(body), ct);
  }
  /// Sends `raw` bytes as they are and reads one response.
  Reply raw(const std::string& bytes) {
    return exchange([&](auto& s) { asio::write(s, asio::buffer(bytes)); });
  }
  /// Connects (TLS handshake included); false with `error` set when refused.
  bool connect(std::string* error = nullptr) {
    try {
      ensure();
      return true;
    } catch (const std::exception& e) {
      if (error) *error = e.what();
      close();
      return false;
    }
  }
  void close() {
    tls_stream_.reset();
    tcp_stream_.reset();
  }

 private:
  void ensure() {
    if (tls_stream_ || tcp_stream_) return;
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port_);
    if (tls_) {
      tls_stream_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, ctx_);
      beast::get_lowest_layer(*tls_stream_).expires_after(std::chrono::seconds(10));
      beast::get_lowest_layer(*tls_stream_).connect(ep);
      tls_stream_->handshake(asio::ssl::stream_base::client);
    } else {
      tcp_stream_ = std::make_unique<beast::tcp_stream>(ioc_);
      tcp_stream_->expires_after(std::chrono::seconds(10));
      tcp_stream_->connect(ep);
    }
  }

  template <class WriteFn>
  Reply exchange(WriteFn&& write) {
    Reply r;
    try {
      ensure();
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(256u << 20);
      if (tls_) {
        beast::get_lowest_layer(*tls_stream_).expires_after(std::chrono::seconds(30));
        write(*tls_stream_);
        bhttp::read(*tls_stream_, buffer_, parser);
      } else {
        tcp_stream_->expires_after(std::chrono::seconds(30));
        write(*tcp_stream_);
        bhttp::read(*tcp_stream_, buffer_, parser);
      }
      r.ok = true;
      r.status = static_cast<int>(parser.get().result_int());
      r.body = parser.get().body();
      for (const auto& f : parser.get()) r.headers[std::string(f.name_string())] = f.value();
      if (!parser.get().keep_alive()) close();
    } catch (const std::exception& e) {
      r.error = e.what();
      close();
    }
    return r;
  }

  std::uint16_t port_;
  asio::io_context ioc_;
  asio::ssl::context ctx_;
  bool tls_ = false;
  beast::flat_buffer buffer_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_stream_;
  std::unique_ptr<beast::tcp_stream> tcp_stream_;
};

}  // namespace wim::collector::test
