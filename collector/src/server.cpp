// SPDX-License-Identifier: Apache-2.0
// Session pattern after Boost.Beast's examples (advanced_server_flex): CRTP base for the
// HTTP exchange, one derived session for plain TCP and one for TLS.
#include "wim/collector/server.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/log.hpp"

namespace wim::collector {

namespace beast = boost::beast;
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr std::uint32_t kHeaderLimitBytes = 16 * 1024;

struct Shared {
  ServerOptions opt;
  AsyncHandler handler;
  std::shared_ptr<RegistryHolder> registry;
  std::shared_ptr<ServerCounters> counters;
};

std::string remote_of(const tcp::socket& s) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  return ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
}

Response bare_error(http::status status, std::string_view code, std::string_view detail) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = boost::json::serialize(boost::json::object{{"error", code}, {"detail", detail}});
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

template <class Derived>
class HttpSession {
 public:
  explicit HttpSession(std::shared_ptr<Shared> sh) : sh_(std::move(sh)) {}

 protected:
  Derived& derived() { return static_cast<Derived&>(*this); }

  void do_read() {
    parser_.emplace();
    parser_->body_limit(sh_->opt.body_limit_bytes);
    parser_->header_limit(kHeaderLimitBytes);
    beast::get_lowest_layer(derived().stream()).expires_after(sh_->opt.timeout);
    http::async_read(
        derived().stream(), buffer_, *parser_,
        beast::bind_front_handler(&HttpSession::on_read, derived().shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return derived().do_eof();
    if (ec == beast::error::timeout) {
      ++sh_->counters->timeouts;
      return;
    }
    if (ec == http::error::body_limit) {
      ++sh_->counters->oversized;
      log::warning("server", peer_.remote + " " + peer_.station_id + ": body over " +
                                 std::to_string(sh_->opt.body_limit_bytes) + " bytes refused");
      return send(bare_error(http::status::payload_too_large, "body_too_large",
                             "request body exceeds " + std::to_string(sh_->opt.body_limit_bytes) +
                                 " bytes"),
                  true);
    }
    if (ec && ec.category() == http::make_error_code(http::error::body_limit).category()) {
      // Only when something arrived: a connection closed early is not malformed HTTP.
      ++sh_->counters->malformed_http;
      log::warning("server",
                   peer_.remote + " " + peer_.station_id + ": malformed HTTP: " + ec.message());
      return send(bare_error(http::status::bad_request, "malformed_http", ec.message()), true);
    }
    if (ec) return;
    ++sh_->counters->requests;
    Request req = parser_->release();
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    auto self = derived().shared_from_this();
    // The session reads nothing until the handler answers, so one response is pending
    // at a time; the answer may come from any thread and is written on our strand.
    Respond respond = [self, keep_alive](Response&& res) {
      auto r = std::make_shared<Response>(std::move(res));
      asio::post(self->stream().get_executor(), [self, r, keep_alive] {
        const bool close = !keep_alive || r->need_eof();
        r->keep_alive(!close);
        self->send(std::move(*r), close);
      });
    };
    try {
      sh_->handler(std::move(req), peer_, respond);
    } catch (const std::exception& ex) {
      log::error("server", std::string("handler failed: ") + ex.what());
      Request head;
      head.version(version);
      head.keep_alive(keep_alive);
      respond(json_error(head, http::status::internal_server_error, "internal", ex.what()));
    }
  }

  void send(Response&& res, bool close) {
    res_ = std::make_shared<Response>(std::move(res));
    beast::get_lowest_layer(derived().stream()).expires_after(sh_->opt.timeout);
    http::async_write(
        derived().stream(), *res_,
        beast::bind_front_handler(&HttpSession::on_write, derived().shared_from_this(), close));
  }

  void on_write(bool close, beast::error_code ec, std::size_t) {
    if (ec) return;
    res_.reset();
    if (close) return derived().do_eof();
    do_read();
  }

  std::shared_ptr<Shared> sh_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Response> res_;
  Peer peer_;
};

class PlainSession : public HttpSession<PlainSession>,
                     public std::enable_shared_from_this<PlainSession> {
 public:
  PlainSession(tcp::socket&& s, std::shared_ptr<Shared> sh)
      : HttpSession(std::move(sh)), stream_(std::move(s)) {
    peer_.remote = remote_of(stream_.socket());
  }
  beast::tcp_stream& stream() { return stream_; }
  void run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&PlainSession::do_read, shared_from_this()));
  }
  void do_eof() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

 private:
  beast::tcp_stream stream_;
};

class TlsSession : public HttpSession<TlsSession>, public std::enable_shared_from_this<TlsSession> {
 public:
  TlsSession(tcp::socket&& s, ssl::context& ctx, std::shared_ptr<Shared> sh)
      : HttpSession(std::move(sh)), stream_(std::move(s), ctx) {
    peer_.remote = remote_of(beast::get_lowest_layer(stream_).socket());
    if (!sh_->registry) return;  // server certificate only (the workbench): no client cert
    // The registry decides, inside the handshake, which leaf certificates are welcome.
    stream_.set_verify_callback(
        [reg = sh_->registry, remote = peer_.remote](bool preverified, ssl::verify_context& vc) {
          X509_STORE_CTX* st = vc.native_handle();
          if (!preverified) {
            log::warning("tls", remote + ": certificate not issued by our CA: " +
                                    X509_verify_cert_error_string(X509_STORE_CTX_get_error(st)));
            return false;
          }
          if (X509_STORE_CTX_get_error_depth(st) > 0) return true;  // CA chain
          X509* cert = X509_STORE_CTX_get_current_cert(st);
          unsigned char* der = nullptr;
          int len = i2d_X509(cert, &der);
          if (len <= 0) return false;
          std::string fp = cert_sha256_hex(std::string(reinterpret_cast<char*>(der), len));
          OPENSSL_free(der);
          auto r = reg->current();
          const StationEntry* e = r->by_cert_sha256(fp);
          if (!e || e->revoked) {
            log::warning("tls", remote + ": refused " +
                                    (e ? "revoked station " + e->id : "unknown certificate " + fp));
            X509_STORE_CTX_set_error(st, X509_V_ERR_CERT_REJECTED);
            return false;
          }
          return true;
        });
  }
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }

  void run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&TlsSession::on_run, shared_from_this()));
  }
  void do_eof() {
    beast::get_lowest_layer(stream_).expires_after(sh_->opt.timeout);
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

 private:
  void on_run() {
    beast::get_lowest_layer(stream_).expires_after(sh_->opt.timeout);
    stream_.async_handshake(
        ssl::stream_base::server,
        beast::bind_front_handler(&TlsSession::on_handshake, shared_from_this()));
  }
  void on_handshake(beast::error_code ec) {
    if (ec) {
      ++sh_->counters->tls_refused;
      log::warning("tls", peer_.remote + ": handshake failed: " + ec.message());
      return;
    }
    if (!sh_->registry) return do_read();  // no client certificate asked
    X509* cert = SSL_get1_peer_certificate(stream_.native_handle());
    if (!cert) return;
    unsigned char* der = nullptr;
    int len = i2d_X509(cert, &der);
    X509_free(cert);
    if (len <= 0) return;
    peer_.cert_sha256 = cert_sha256_hex(std::string(reinterpret_cast<char*>(der), len));
    OPENSSL_free(der);
    auto r = sh_->registry->current();
    const StationEntry* e = r->by_cert_sha256(peer_.cert_sha256);
    if (!e || e->revoked) {
      ++sh_->counters->tls_refused;
      return;
    }
    peer_.station_id = e->id;
    do_read();
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& ioc, std::shared_ptr<Shared> sh, ssl::context* tls)
      : ioc(ioc), acceptor(asio::make_strand(ioc)), sh(std::move(sh)), tls(tls) {}

  void do_accept() {
    acceptor.async_accept(asio::make_strand(ioc),
                          beast::bind_front_handler(&Impl::on_accept, shared_from_this()));
  }
  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      ++sh->counters->connections;
      if (tls)
        std::make_shared<TlsSession>(std::move(socket), *tls, sh)->run();
      else
        std::make_shared<PlainSession>(std::move(socket), sh)->run();
    }
    do_accept();
  }

  asio::io_context& ioc;
  tcp::acceptor acceptor;
  std::shared_ptr<Shared> sh;
  ssl::context* tls;
  std::uint16_t port = 0;
};

Server::Server(asio::io_context& ioc, ServerOptions options, Handler handler, ssl::context* tls,
               std::shared_ptr<RegistryHolder> registry)
    : Server(
          ioc, std::move(options),
          AsyncHandler([h = std::move(handler)](Request&& req, const Peer& peer, Respond respond) {
            Response res;
            try {
              res = h(req, peer);
            } catch (const std::exception& ex) {
              log::error("server", std::string("handler failed: ") + ex.what());
              res = json_error(req, http::status::internal_server_error, "internal", ex.what());
            }
            respond(std::move(res));
          }),
          tls, std::move(registry)) {}

Server::Server(asio::io_context& ioc, ServerOptions options, AsyncHandler handler,
               ssl::context* tls, std::shared_ptr<RegistryHolder> registry)
    : counters_(std::make_shared<ServerCounters>()) {
  if (tls && !registry && (SSL_CTX_get_verify_mode(tls->native_handle()) & SSL_VERIFY_PEER))
    throw std::invalid_argument("Server: client certificates need a station registry");
  auto sh = std::make_shared<Shared>(
      Shared{std::move(options), std::move(handler), std::move(registry), counters_});
  impl_ = std::make_shared<Impl>(ioc, sh, tls);
  beast::error_code ec;
  tcp::endpoint ep{asio::ip::make_address(sh->opt.address, ec), sh->opt.port};
  if (ec) throw InputError("listen address '" + sh->opt.address + "': " + ec.message());
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw SystemError("listen on " + sh->opt.address + ":" + std::to_string(sh->opt.port) + ": " +
                      ec.message());
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->do_accept();
}

Server::~Server() {
  stop();
}

std::uint16_t Server::port() const {
  return impl_->port;
}

void Server::stop() {
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
}

ssl::context make_browser_tls(const std::filesystem::path& cert_pem,
                              const std::filesystem::path& key_pem, std::string_view field) {
  ssl::context ctx(ssl::context::tls_server);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
  beast::error_code ec;
  ctx.use_certificate_chain_file(cert_pem.string(), ec);
  if (ec) throw InputError(std::string(field) + "cert " + cert_pem.string() + ": " + ec.message());
  ctx.use_private_key_file(key_pem.string(), ssl::context::pem, ec);
  if (ec) throw InputError(std::string(field) + "key " + key_pem.string() + ": " + ec.message());
  ctx.set_verify_mode(ssl::verify_none);
  return ctx;
}

ssl::context make_server_tls(const std::filesystem::path& cert_pem,
                             const std::filesystem::path& key_pem,
                             const std::filesystem::path& ca_pem) {
  ssl::context ctx = make_browser_tls(cert_pem, key_pem, "tls.");
  beast::error_code ec;
  ctx.load_verify_file(ca_pem.string(), ec);
  if (ec) throw InputError("tls.ca " + ca_pem.string() + ": " + ec.message());
  ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  return ctx;
}

std::string query_param(std::string_view target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return "";
  const std::string_view query = target.substr(q + 1);
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    const auto part = query.substr(pos, amp - pos);
    const auto eq = part.find('=');
    if (eq == key.size() && part.substr(0, eq) == key) return std::string(part.substr(eq + 1));
    pos = amp + 1;
  }
  return "";
}

std::string cert_sha256_hex(const std::string& der) {
  return crypto::sha256_hex(der);
}

Response json_response(const Request& req, http::status status, std::string body) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

Response json_error(const Request& req, http::status status, std::string_view code,
                    std::string_view detail) {
  return json_response(
      req, status,
      boost::json::serialize(boost::json::object{{"error", code}, {"detail", detail}}));
}

}  // namespace wim::collector
