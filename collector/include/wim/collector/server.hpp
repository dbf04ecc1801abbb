// SPDX-License-Identifier: Apache-2.0
// HTTP(S) server on Boost.Beast: one session per connection (enable_shared_from_this,
// a strand per connection), a timeout on every read, write and handshake, bounded
// header and body sizes. The HTTPS listener requires a client certificate from the
// deployment CA and refuses, inside the TLS handshake, any certificate whose SHA-256
// fingerprint is not in the station registry or belongs to a revoked station.
// The plain-HTTP listener is for operators' read-only endpoints and binds 127.0.0.1.
#pragma once
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "wim/collector/registry.hpp"

namespace wim::collector {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

/// Who is on the other end: set from the verified client certificate (HTTPS) or empty
/// (operators' plain-HTTP port).
struct Peer {
  std::string station_id;
  std::string cert_sha256;
  std::string remote;  ///< "ip:port", for logs
};

/// Produces the response to one request. Called on a server thread; must be thread-safe.
using Handler = std::function<Response(const Request&, const Peer&)>;
/// Hands a response back to its session. Call it exactly once, from any thread: the
/// response is posted to the session's strand and written there.
using Respond = std::function<void(Response&&)>;
/// Produces the response later (e.g. after a durable commit on another thread): the
/// session reads nothing more until `respond` is called, and the io thread is free
/// meanwhile. Called on a server thread; must be thread-safe. An exception thrown from
/// the call itself is answered with 500.
using AsyncHandler = std::function<void(Request&&, const Peer&, Respond)>;

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  ///< 0: the OS picks one (see Server::port())
  std::uint64_t body_limit_bytes = 64ull << 20;
  std::chrono::milliseconds timeout{30'000};  ///< per handshake/read/write
};

/// Counters of refused traffic, for /metrics. Thread-safe.
struct ServerCounters {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> tls_refused{0};     ///< handshake failed (unknown/revoked cert...)
  std::atomic<std::uint64_t> malformed_http{0};  ///< 400 before reaching a handler
  std::atomic<std::uint64_t> oversized{0};       ///< 413
  std::atomic<std::uint64_t> timeouts{0};
  std::atomic<std::uint64_t> requests{0};
};

/// TLS server context: our certificate and key, the CA that issued station certificates,
/// TLS 1.2 minimum, client certificate required.
boost::asio::ssl::context make_server_tls(const std::filesystem::path& cert_pem,
                                          const std::filesystem::path& key_pem,
                                          const std::filesystem::path& ca_pem);

/// TLS server context for browsers (the workbench): our certificate and key, TLS 1.2
/// minimum, no client certificate asked.
/// `field` prefixes errors naming the file ("workbench_tls_" -> "workbench_tls_cert ...").
boost::asio::ssl::context make_browser_tls(const std::filesystem::path& cert_pem,
                                           const std::filesystem::path& key_pem,
                                           std::string_view field = "workbench_tls_");

/// SHA-256 (hex) of a DER certificate, as make-ca.sh writes it.
std::string cert_sha256_hex(const std::string& der);

class Server {
 public:
  /// HTTPS with mutual TLS when `tls` and `registry` are given, HTTPS with a server
  /// certificate only when `tls` alone is given (make_browser_tls), else plain HTTP. Listens at
  /// once (throws SystemError when the address cannot be bound); serves once the io_context runs.
  Server(boost::asio::io_context& ioc, ServerOptions options, Handler handler,
         boost::asio::ssl::context* tls = nullptr,
         std::shared_ptr<RegistryHolder> registry = nullptr);
  /// Same, with a handler that answers asynchronously.
  Server(boost::asio::io_context& ioc, ServerOptions options, AsyncHandler handler,
         boost::asio::ssl::context* tls = nullptr,
         std::shared_ptr<RegistryHolder> registry = nullptr);
  ~Server();
  std::uint16_t port() const;
  void stop();
  const ServerCounters& counters() const { return *counters_; }

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::shared_ptr<ServerCounters> counters_;
};

/// Value of `key` in the query of a request target "/p?a=1&b=2" ("" when absent); taken
/// as it is (no percent-decoding).
std::string query_param(std::string_view target, std::string_view key);

/// {"error": code, "detail": detail} with the given status.
Response json_error(const Request& req, http::status status, std::string_view code,
                    std::string_view detail);
Response json_response(const Request& req, http::status status, std::string body);

}  // namespace wim::collector
