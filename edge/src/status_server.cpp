// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/status_server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <thread>

#include "wim/common/log.hpp"
#include "wim/common/time.hpp"

namespace wim::edge {

namespace net = boost::asio;
using local = net::local::stream_protocol;

// ---- StatusBoard ----

void StatusBoard::set_channels(std::vector<ChannelLive> channels) {
  std::lock_guard lock(mu_);
  channels_ = std::move(channels);
}

void StatusBoard::update_channels(const std::vector<std::int32_t>& last_counts,
                                  const std::vector<std::string>& health, std::uint64_t errors,
                                  std::uint64_t lost_samples) {
  std::lock_guard lock(mu_);
  for (std::size_t c = 0; c < channels_.size(); ++c) {
    if (c < last_counts.size()) channels_[c].last_counts = last_counts[c];
    if (c < health.size()) channels_[c].health = health[c];
    channels_[c].errors = errors;
    channels_[c].lost_samples = lost_samples;
  }
}

void StatusBoard::count_fault(std::size_t channel) {
  std::lock_guard lock(mu_);
  if (channel < channels_.size()) ++channels_[channel].faults;
}

void StatusBoard::add_vehicle(VehicleLine v) {
  std::lock_guard lock(mu_);
  vehicles_.push_front(std::move(v));
  while (vehicles_.size() > max_vehicles_) vehicles_.pop_back();
}

void StatusBoard::set_fault(const std::string& key, bool active) {
  std::lock_guard lock(mu_);
  if (active)
    faults_[key] = true;
  else
    faults_.erase(key);
}

void StatusBoard::set_device(DeviceLive d) {
  std::lock_guard lock(mu_);
  device_ = std::move(d);
}

std::optional<DeviceLive> StatusBoard::device() const {
  std::lock_guard lock(mu_);
  return device_;
}

std::vector<ChannelLive> StatusBoard::channels() const {
  std::lock_guard lock(mu_);
  return channels_;
}

std::vector<VehicleLine> StatusBoard::vehicles() const {
  std::lock_guard lock(mu_);
  return {vehicles_.begin(), vehicles_.end()};
}

std::vector<std::string> StatusBoard::faults() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, v] : faults_) out.push_back(k);
  return out;
}

boost::json::object to_json(const VehicleLine& v) {
  boost::json::object o{{"seq", v.seq},
                        {"kind", v.kind},
                        {"time_utc", time::format_utc_ms(v.time_unix_us)},
                        {"clock_sync", v.clock_sync},
                        {"lane", v.lane},
                        {"axles", v.axles},
                        {"gross_kg", v.gross_kg},
                        {"verdict", v.verdict}};
  o["limit_kg"] = v.limit_kg ? boost::json::value(*v.limit_kg) : boost::json::value(nullptr);
  o["overload_ratio"] = v.ratio ? boost::json::value(*v.ratio) : boost::json::value(nullptr);
  return o;
}

boost::json::object to_json(const ChannelLive& c) {
  return {{"name", c.name},     {"last_counts", c.last_counts}, {"health", c.health},
          {"faults", c.faults}, {"errors", c.errors},           {"lost_samples", c.lost_samples}};
}

boost::json::object to_json(const DeviceLive& d) {
  return {{"condition", d.condition.empty() ? std::string("ok") : d.condition},
          {"outages", d.outages},
          {"freezes", d.freezes},
          {"restarts", d.restarts},
          {"identity_mismatches", d.identity_mismatches},
          {"fifo_overflows", d.fifo_overflows},
          {"gaps", d.gaps},
          {"lost_samples", d.lost_samples},
          {"passes_not_enforceable", d.passes_not_enforceable},
          {"last_event", d.last_event}};
}

// ---- StatusServer ----

namespace {

/// Is someone accepting on this socket path? (A stale file from a crash: no.)
bool socket_answers(const std::filesystem::path& p) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, p.c_str(), sizeof(a.sun_path) - 1);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

struct StatusServer::Impl {
  StatusServerOptions opt;
  std::function<std::string()> document;
  StatusServer* owner = nullptr;
  net::io_context ioc;
  local::acceptor acceptor{ioc};
  std::thread thread;
  bool stopped = false;

  void accept() {
    auto sock = std::make_shared<local::socket>(ioc);
    acceptor.async_accept(*sock, [this, sock](boost::system::error_code ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) serve(sock);
      accept();
    });
  }

  void serve(const std::shared_ptr<local::socket>& sock) {
    std::string doc;
    try {
      doc = document() + "\n";
    } catch (const std::exception& e) {
      doc = boost::json::serialize(boost::json::object{{"error", e.what()}}) + "\n";
    }
    auto body = std::make_shared<std::string>(std::move(doc));
    auto timer = std::make_shared<net::steady_timer>(ioc);
    timer->expires_after(opt.timeout);
    timer->async_wait([this, sock](boost::system::error_code ec) {
      if (ec) return;  // cancelled: the write finished
      boost::system::error_code ignored;
      sock->close(ignored);  // the client does not read: cut it off
      ++owner->timed_out_;
    });
    net::async_write(*sock, net::buffer(*body),
                     [this, sock, body, timer](boost::system::error_code ec, std::size_t) {
                       timer->cancel();
                       if (!ec) ++owner->served_;
                       boost::system::error_code ignored;
                       sock->shutdown(local::socket::shutdown_both, ignored);
                       sock->close(ignored);
                     });
  }
};

StatusServer::StatusServer(StatusServerOptions options, std::function<std::string()> document)
    : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  impl_->document = std::move(document);
  impl_->owner = this;
  const auto& path = impl_->opt.socket;
  const std::string p = path.string();
  if (p.size() >= sizeof(sockaddr_un::sun_path))
    throw StatusError("status socket " + p + ": path longer than " +
                      std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " characters");
  std::error_code fec;
  const auto st = std::filesystem::symlink_status(path, fec);
  if (!fec && std::filesystem::exists(st)) {
    if (st.type() != std::filesystem::file_type::socket)
      throw StatusError("status socket " + p + ": exists and is not a socket; not replacing it");
    if (socket_answers(path))
      throw StatusError("status socket " + p + ": another daemon answers on it");
    std::filesystem::remove(path, fec);  // stale, left by a crash
    log::notice("status", "replaced stale socket " + p);
  }
  const mode_t old = ::umask(0117);  // the socket file is created 0660
  boost::system::error_code ec;
  impl_->acceptor.open(local(), ec);
  if (!ec) impl_->acceptor.bind(local::endpoint(p), ec);
  ::umask(old);
  if (!ec) impl_->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw StatusError("status socket " + p + ": " + ec.message());
  ::chmod(p.c_str(), 0660);
  impl_->accept();
  impl_->thread = std::thread([this, station = log::current_station()] {
    log::StationScope scope(station);
    for (;;) {
      try {
        impl_->ioc.run();
        break;
      } catch (const std::exception& e) {
        log::error("status", e.what());
      }
    }
  });
}

StatusServer::~StatusServer() {
  stop();
}

void StatusServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  net::post(impl_->ioc, [this] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  std::error_code ec;
  std::filesystem::remove(impl_->opt.socket, ec);
}

// ---- client ----

std::string query_status(const std::filesystem::path& socket, std::chrono::milliseconds timeout) {
  const std::string p = socket.string();
  std::error_code fec;
  if (!std::filesystem::exists(socket, fec))
    throw StatusError("status socket " + p +
                      " does not exist: is wim-edge running? (systemctl status wim-edge)");
  if (p.size() >= sizeof(sockaddr_un::sun_path))
    throw StatusError("status socket " + p + ": path too long");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw StatusError(std::string("socket(): ") + std::strerror(errno));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, p.c_str(), sizeof(a.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    const int e = errno;
    ::close(fd);
    if (e == EACCES || e == EPERM)
      throw StatusError("status socket " + p +
                        ": permission denied (run as root or as a member of the socket's group)");
    if (e == ECONNREFUSED)
      throw StatusError("status socket " + p +
                        ": nobody answers: wim-edge is not running (stale socket from a crash)");
    if (e == ENOENT)
      throw StatusError("status socket " + p + " does not exist: is wim-edge running?");
    throw StatusError("status socket " + p + ": " + std::strerror(e));
  }
  std::string out;
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::close(fd);
      throw StatusError("status socket " + p + ": no complete answer within " +
                        std::to_string(timeout.count()) + " ms");
    }
    pollfd pfd{fd, POLLIN, 0};
    const int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;  // the deadline check above ends it
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      throw StatusError("status socket " + p + ": read: " + std::strerror(e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > (16u << 20)) {
      ::close(fd);
      throw StatusError("status socket " + p + ": answer larger than 16 MiB");
    }
  }
  ::close(fd);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  if (out.empty()) throw StatusError("status socket " + p + ": empty answer");
  return out;
}

namespace {

std::string num(const boost::json::value& v, int decimals = 0) {
  if (v.is_null()) return "-";
  std::ostringstream s;
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  if (v.is_double()) {
    s << std::fixed << std::setprecision(decimals) << v.as_double();
    return s.str();
  }
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_bool()) return v.as_bool() ? "yes" : "no";
  return boost::json::serialize(v);
}

const boost::json::value& at(const boost::json::object& o, std::string_view k) {
  static const boost::json::value null;
  const auto* v = o.if_contains(k);
  return v ? *v : null;
}

const boost::json::object& obj(const boost::json::object& o, std::string_view k) {
  static const boost::json::object empty;
  const auto* v = o.if_contains(k);
  return v && v->is_object() ? v->as_object() : empty;
}

}  // namespace

std::string format_status(const boost::json::object& d) {
  std::ostringstream s;
  s << "station " << num(at(d, "station_id")) << "   up " << num(at(d, "uptime_s")) << " s   "
    << num(at(d, "now_utc")) << "\n";
  const auto& sw = obj(d, "software");
  s << "software  legal sha256 " << num(at(sw, "legal_sha256")) << "\n          program sha256 "
    << num(at(sw, "program_sha256")) << "\n";
  s << "calibration " << num(at(d, "calibration_id")) << "\n";
  const auto& ck = obj(d, "clock");
  s << "clock     " << num(at(ck, "sync")) << ", offset " << num(at(ck, "offset_ms"), 1)
    << " ms, max error " << num(at(ck, "max_error_ms"), 1) << " ms\n";
  const auto& ob = obj(d, "outbox");
  s << "outbox    depth " << num(at(ob, "depth")) << " records (" << num(at(ob, "violations"))
    << " violations), oldest unsent " << num(at(ob, "oldest_unsent_age_s")) << " s, "
    << num(at(ob, "stored_bytes")) << " B of quota " << num(at(ob, "quota_bytes"))
    << " B, chain head seq " << num(at(ob, "head_seq")) << ", conflicts "
    << num(at(ob, "conflicts")) << ", thinned " << num(at(ob, "thinned_total")) << "\n";
  const auto& up = obj(d, "uplink");
  s << "uplink    " << num(at(up, "state")) << ", collector acked seq " << num(at(up, "acked_seq"))
    << ", last success " << num(at(up, "last_success_utc")) << ", failures in a row "
    << num(at(up, "consecutive_failures")) << "\n";
  if (!at(up, "last_error").is_null() && !num(at(up, "last_error")).empty())
    s << "          last error: " << num(at(up, "last_error")) << "\n";
  if (const auto* dv = d.if_contains("device"); dv && dv->is_object()) {
    const auto& o = dv->as_object();
    s << "device    " << num(at(o, "condition")) << "\n          outages " << num(at(o, "outages"))
      << ", freezes " << num(at(o, "freezes")) << ", restarts " << num(at(o, "restarts"))
      << ", identity mismatches " << num(at(o, "identity_mismatches")) << ", FIFO overflows "
      << num(at(o, "fifo_overflows")) << ", gaps " << num(at(o, "gaps")) << " ("
      << num(at(o, "lost_samples")) << " samples lost), passes not enforceable "
      << num(at(o, "passes_not_enforceable")) << "\n";
    if (const auto* e = o.if_contains("last_event"); e && e->is_string() && !e->as_string().empty())
      s << "          last event: " << std::string(e->as_string()) << "\n";
  }
  s << "channels  name       last_counts  health  faults  errors  lost_samples\n";
  if (const auto* ch = d.if_contains("channels"); ch && ch->is_array())
    for (const auto& c : ch->as_array()) {
      const auto& o = c.as_object();
      s << "          " << std::left << std::setw(10) << num(at(o, "name")) << " " << std::right
        << std::setw(11) << num(at(o, "last_counts")) << "  " << std::left << std::setw(6)
        << num(at(o, "health")) << std::right << std::setw(8) << num(at(o, "faults"))
        << std::setw(8) << num(at(o, "errors")) << std::setw(14) << num(at(o, "lost_samples"))
        << "\n";
    }
  s << "vehicles  (newest first)\n";
  if (const auto* vs = d.if_contains("vehicles"); vs && vs->is_array()) {
    if (vs->as_array().empty()) s << "          none yet\n";
    for (const auto& v : vs->as_array()) {
      const auto& o = v.as_object();
      s << "          seq " << num(at(o, "seq")) << "  " << num(at(o, "time_utc")) << "  lane "
        << num(at(o, "lane")) << "  " << num(at(o, "axles")) << " axles  "
        << num(at(o, "gross_kg"), 0) << " kg  limit " << num(at(o, "limit_kg"), 0) << " kg  ratio "
        << num(at(o, "overload_ratio"), 3) << "  " << num(at(o, "verdict")) << "\n";
    }
  }
  s << "faults    ";
  const auto* fs = d.if_contains("faults");
  if (!fs || !fs->is_array() || fs->as_array().empty())
    s << "none";
  else
    for (std::size_t i = 0; i < fs->as_array().size(); ++i)
      s << (i ? "; " : "") << num(fs->as_array()[i]);
  s << "\n";
  return s.str();
}

}  // namespace wim::edge
