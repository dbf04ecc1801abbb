// SPDX-License-Identifier: Apache-2.0
#include "modbus_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "wim/common/error.hpp"
#include "wim/common/log.hpp"
#include "wim/common/time.hpp"

namespace wim::sim {

AmplifierServer::AmplifierServer(std::unique_ptr<SignalSynth> synth, ServerOptions opt)
    : synth_(std::move(synth)),
      opt_(opt),
      channels_(static_cast<int>(synth_->channels().size())),
      max_samples_((MODBUS_MAX_READ_REGISTERS - reg::fifo_header) / std::max(channels_, 1)),
      rng_(opt.seed ^ 0xfa017ull),
      ring_(opt.fifo_capacity * static_cast<std::size_t>(channels_)),
      row_(static_cast<std::size_t>(channels_)),
      clock_(opt.clock ? *opt.clock : hw::system_clock()) {
  if (channels_ < 1 || channels_ > 16)
    throw InputError("amplifier: " + std::to_string(channels_) + " channels, the map holds 1..16");
  if (opt_.time_scale <= 0) throw InputError("amplifier: time_scale must be > 0");
  map_ = modbus_mapping_new(0, 0, reg::fifo + MODBUS_MAX_READ_REGISTERS, 0);
  if (opt_.time_scale <= 0) throw InputError("amplifier: time_scale must be > 0");
  if (!map_) throw SystemError("modbus_mapping_new failed");
  auto* r = map_->tab_registers;
  r[reg::magic] = reg::magic_value;
  r[reg::map_version] = 1;
  r[reg::channel_count] = static_cast<std::uint16_t>(channels_);
  r[reg::sample_rate_hz] = static_cast<std::uint16_t>(
      std::lround(1e6 / static_cast<double>(synth_->t_us_of(1000000) - synth_->t_us_of(999999))));
  r[reg::fifo_max_samples] = static_cast<std::uint16_t>(max_samples_);
}

AmplifierServer::~AmplifierServer() {
  if (tcp_) modbus_free(tcp_);
  if (rtu_) modbus_free(rtu_);  // never connected: the pty fds are ours to close
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (pty_master_ >= 0) ::close(pty_master_);
  if (pty_slave_ >= 0) ::close(pty_slave_);
  if (!link_.empty()) std::filesystem::remove(link_);
  if (map_) modbus_mapping_free(map_);
}

int AmplifierServer::listen_tcp(const std::string& host, int port) {
  tcp_ = modbus_new_tcp(host.c_str(), port);
  if (!tcp_) throw SystemError("modbus_new_tcp: " + std::string(modbus_strerror(errno)));
  listen_fd_ = modbus_tcp_listen(tcp_, 8);
  if (listen_fd_ < 0)
    throw SystemError("listen on " + host + ":" + std::to_string(port) + ": " +
                      modbus_strerror(errno));
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

std::string AmplifierServer::open_rtu_pty(const std::string& link) {
  pty_master_ = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (pty_master_ < 0 || ::grantpt(pty_master_) != 0 || ::unlockpt(pty_master_) != 0)
    throw SystemError("pseudo-terminal: " + std::string(std::strerror(errno)));
  const std::string slave = ::ptsname(pty_master_);
  // Keep the slave open (raw) so the master never sees EIO between masters' sessions.
  pty_slave_ = ::open(slave.c_str(), O_RDWR | O_NOCTTY);
  if (pty_slave_ < 0) throw SystemError("open " + slave + ": " + std::strerror(errno));
  termios tio{};
  ::tcgetattr(pty_slave_, &tio);
  ::cfmakeraw(&tio);
  ::tcsetattr(pty_slave_, TCSANOW, &tio);
  rtu_ = modbus_new_rtu(slave.c_str(), 115200, 'N', 8, 1);
  if (!rtu_) throw SystemError("modbus_new_rtu: " + std::string(modbus_strerror(errno)));
  modbus_set_slave(rtu_, 1);
  modbus_set_socket(rtu_, pty_master_);
  if (!link.empty()) {
    std::filesystem::remove(link);
    std::filesystem::create_symlink(slave, link);
    link_ = link;
  }
  return slave;
}

ServerStats AmplifierServer::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

double AmplifierServer::device_s() const {
  return static_cast<double>(clock_.mono_us() - start_mono_us_) * 1e-6 * opt_.time_scale;
}

void AmplifierServer::produce() {
  if (sampling_stopped_.load()) return;
  const double now_s = device_s();
  const auto& f = opt_.faults;
  // A freeze that stops the ADC, or a stalled ADC under a live Modbus task: the sample
  // clock pauses, the counter with it.
  const bool paused = (f.freeze_stops_sampling && f.freeze_window.contains(now_s)) ||
                      (faults_on_.load() && f.stall_window.contains(now_s));
  if (paused && pause_from_s_ < 0) pause_from_s_ = now_s;
  if (!paused && pause_from_s_ >= 0) {
    paused_s_ += now_s - pause_from_s_;
    pause_from_s_ = -1;
  }
  if (paused) return;
  const double sampling_s = now_s - paused_s_;
  // The synth's own clock: sample k is at t_us_of(k); a drifting crystal makes the
  // device take (1 + ppm) samples per nominal period of true time.
  const auto target = static_cast<std::uint64_t>(sampling_s * (1 + f.drift_ppm * 1e-6) * 1e6);
  const auto cap = opt_.fifo_capacity;
  const auto c = static_cast<std::size_t>(channels_);
  std::uint64_t made = 0, overflow = 0;
  while (static_cast<std::uint64_t>(synth_->t_us_of(produced_)) <= target) {
    synth_->next(row_);
    const std::size_t slot = (head_ + fill_) % cap;
    for (std::size_t i = 0; i < c; ++i)
      ring_[slot * c + i] = static_cast<std::int16_t>(std::clamp(row_[i], -32768, 32767));
    if (fill_ == cap) {
      head_ = (head_ + 1) % cap;  // overwrite the oldest: the master sees a counter gap
      ++overflow;
      overflowed_ = true;
    } else {
      ++fill_;
    }
    ++produced_;
    ++made;
  }
  // Power loss and restart: what the FIFO held is gone, the counter starts afresh.
  if (f.restart.to_s > 0 && !restarted_ && now_s >= f.restart.to_s) {
    restarted_ = true;
    fill_ = 0;
    overflowed_ = false;
    counter_offset_ =
        static_cast<std::int64_t>(f.restart_counter) - static_cast<std::int64_t>(produced_);
    booted_s_ = now_s;
    ++boot_count_;
    std::lock_guard lock(stats_mu_);
    ++stats_.restarts;
  }
  if (made) {
    std::lock_guard lock(stats_mu_);
    stats_.samples_produced = produced_;
    stats_.samples_overflowed += overflow;
  }
}

void AmplifierServer::refresh_registers() {
  auto* r = map_->tab_registers;
  std::uint16_t fault = 0, sat = 0;
  for (int i = 0; i < channels_; ++i) {
    if (synth_->dead()[static_cast<std::size_t>(i)]) fault |= static_cast<std::uint16_t>(1u << i);
    if (synth_->saturated()[static_cast<std::size_t>(i)])
      sat |= static_cast<std::uint16_t>(1u << i);
  }
  r[reg::status] =
      static_cast<std::uint16_t>(1 | (fault ? 2 : 0) | (sat ? 4 : 0) | (overflowed_ ? 8 : 0));
  const auto counter =
      static_cast<std::uint32_t>(static_cast<std::int64_t>(produced_) + counter_offset_);
  const double now_s = device_s();
  r[reg::magic] = opt_.faults.identity_window.contains(now_s) ? 0x4242 : reg::magic_value;
  r[reg::boot_counter] = boot_count_;
  const auto uptime = static_cast<std::uint32_t>(std::max(0.0, now_s - booted_s_));
  r[reg::uptime_hi] = static_cast<std::uint16_t>(uptime >> 16);
  r[reg::uptime_lo] = static_cast<std::uint16_t>(uptime & 0xffff);
  r[reg::counter_hi] = static_cast<std::uint16_t>(counter >> 16);
  r[reg::counter_lo] = static_cast<std::uint16_t>(counter & 0xffff);
  r[reg::fifo_fill] = static_cast<std::uint16_t>(std::min<std::size_t>(fill_, 65535));
  r[reg::fault_bits] = fault;
  r[reg::saturation_bits] = sat;
  if (produced_ > 0) {
    const std::size_t last = (head_ + fill_ + opt_.fifo_capacity - 1) % opt_.fifo_capacity;
    for (int i = 0; i < channels_; ++i)
      r[reg::latest + i] = static_cast<std::uint16_t>(
          ring_[last * static_cast<std::size_t>(channels_) + static_cast<std::size_t>(i)]);
  }
}

bool AmplifierServer::handle(modbus_t* ctx, const std::uint8_t* q, int len) {
  produce();
  refresh_registers();
  const int hl = modbus_get_header_length(ctx);
  const int fc = q[hl];
  const int addr = (q[hl + 1] << 8) | q[hl + 2];
  const int nb = (q[hl + 3] << 8) | q[hl + 4];
  std::uint64_t requests;
  {
    std::lock_guard lock(stats_mu_);
    requests = ++stats_.requests;
  }
  const bool faults = faults_on_.load();
  const double now_s = device_s();
  const auto& f = opt_.faults;
  const bool down = faults && f.restart.contains(now_s);
  if (faults && (down || f.freeze_window.contains(now_s))) {
    std::lock_guard lock(stats_mu_);
    ++stats_.swallowed;
    return !down;  // a hung process keeps its socket; a dead device loses it
  }
  if (faults && f.exception_window.contains(now_s)) {
    modbus_reply_exception(ctx, q, static_cast<unsigned>(f.exception_code));
    std::lock_guard lock(stats_mu_);
    ++stats_.exceptions;
    return true;
  }
  if (opt_.ack_fifo && fc == MODBUS_FC_WRITE_SINGLE_REGISTER && addr == reg::fifo_ack) {
    // Acknowledged FIFO: the value written (FC 06 carries it where a read has its
    // quantity) is how many of the oldest samples the master has.
    const std::size_t n = std::min(fill_, static_cast<std::size_t>(nb));
    head_ = (head_ + n) % opt_.fifo_capacity;
    fill_ -= n;
    {
      std::lock_guard lock(stats_mu_);
      ++stats_.acks;
      stats_.samples_delivered += n;
    }
    modbus_reply(ctx, q, len, map_);
    return true;
  }
  bool corrupt = false;
  if (fc == MODBUS_FC_READ_HOLDING_REGISTERS && addr == reg::fifo) {
    const auto c = static_cast<std::size_t>(channels_);
    const std::size_t room =
        nb > reg::fifo_header ? static_cast<std::size_t>(nb - reg::fifo_header) / c : 0;
    const std::size_t n = std::min({fill_, static_cast<std::size_t>(max_samples_), room});
    const auto first =
        static_cast<std::uint32_t>(static_cast<std::int64_t>(produced_ - fill_) + counter_offset_);
    auto* r = map_->tab_registers + reg::fifo;
    r[0] = static_cast<std::uint16_t>(first >> 16);
    r[1] = static_cast<std::uint16_t>(first & 0xffff);
    r[2] = static_cast<std::uint16_t>(n);
    for (std::size_t s = 0; s < n; ++s) {
      const std::size_t slot = (head_ + s) % opt_.fifo_capacity;
      for (std::size_t i = 0; i < c; ++i)
        r[reg::fifo_header + s * c + i] = static_cast<std::uint16_t>(ring_[slot * c + i]);
    }
    if (!opt_.ack_fifo) {
      head_ = (head_ + n) % opt_.fifo_capacity;
      fill_ -= n;
    }
    const bool drop = faults && opt_.faults.drop_prob > 0 && rng_.chance(opt_.faults.drop_prob);
    const bool late =
        faults && !drop && opt_.faults.late_prob > 0 && rng_.chance(opt_.faults.late_prob);
    corrupt = faults && !drop && rtu_ && ctx == rtu_ && opt_.faults.corrupt_prob > 0 &&
              rng_.chance(opt_.faults.corrupt_prob);
    {
      std::lock_guard lock(stats_mu_);
      ++stats_.fifo_reads;
      // In ack mode nothing is popped by a read: a lost answer loses nothing.
      if (drop || corrupt) {
        ++(drop ? stats_.dropped : stats_.corrupted);
        stats_.dropped_with_samples += n > 0;
        if (!opt_.ack_fifo) stats_.samples_dropped += n;
      } else {
        if (!opt_.ack_fifo) stats_.samples_delivered += n;
        if (late) ++stats_.late;
        stats_.samples_lost_before_last_reply = stats_.samples_overflowed + stats_.samples_dropped;
        if (stats_.fifo_replies_sent++ == 0)
          stats_.samples_lost_before_first_reply = stats_.samples_lost_before_last_reply;
      }
    }
    if (drop) return true;
    if (late) std::this_thread::sleep_for(std::chrono::milliseconds(opt_.faults.late_ms));
  }
  if (fc == MODBUS_FC_READ_HOLDING_REGISTERS && addr <= reg::status && addr + nb > reg::status)
    overflowed_ = false;  // the overflow bit clears when the status register is read
  reply(ctx, q, len, corrupt);
  if (faults && opt_.faults.disconnect_every > 0 &&
      requests % static_cast<std::uint64_t>(opt_.faults.disconnect_every) == 0) {
    std::lock_guard lock(stats_mu_);
    ++stats_.disconnects;
    return false;
  }
  return true;
}

void AmplifierServer::reply(modbus_t* ctx, const std::uint8_t* q, int len, bool corrupt) {
  if (!corrupt) {
    modbus_reply(ctx, q, len, map_);
    return;
  }
  // The same answer with one bit flipped in its CRC: libmodbus writes it into a socket
  // pair, we pass it on damaged (RTU: CRC-16 of Modbus over Serial Line V1.02 §2.5.1.2).
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return;
  const int fd = modbus_get_socket(ctx);
  modbus_set_socket(ctx, sv[0]);
  modbus_reply(ctx, q, len, map_);
  modbus_set_socket(ctx, fd);
  std::uint8_t buf[MODBUS_RTU_MAX_ADU_LENGTH];
  const ssize_t n = ::recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
  ::close(sv[0]);
  ::close(sv[1]);
  if (n < 3) return;
  buf[n - 1] ^= 0x01;
  [[maybe_unused]] const ssize_t w = ::write(fd, buf, static_cast<std::size_t>(n));
}

void AmplifierServer::run(const std::atomic<bool>& stop) {
  if (start_mono_us_ < 0) start_mono_us_ = clock_.mono_us();
  std::vector<int> clients;
  std::uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH > MODBUS_RTU_MAX_ADU_LENGTH
                         ? MODBUS_TCP_MAX_ADU_LENGTH
                         : MODBUS_RTU_MAX_ADU_LENGTH];
  while (!stop.load()) {
    fd_set rd;
    FD_ZERO(&rd);
    int maxfd = -1;
    auto add = [&](int fd) {
      if (fd < 0) return;
      FD_SET(fd, &rd);
      maxfd = std::max(maxfd, fd);
    };
    add(listen_fd_);
    add(pty_master_);
    for (int fd : clients) add(fd);
    timeval tv{0, 20000};
    const int n = ::select(maxfd + 1, &rd, nullptr, nullptr, &tv);
    produce();
    if (n <= 0) continue;
    if (listen_fd_ >= 0 && FD_ISSET(listen_fd_, &rd)) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd >= 0) {
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        clients.push_back(fd);
        std::lock_guard lock(stats_mu_);
        ++stats_.connections;
      }
    }
    for (auto it = clients.begin(); it != clients.end();) {
      bool keep = true;
      if (FD_ISSET(*it, &rd)) {
        modbus_set_socket(tcp_, *it);
        const int len = modbus_receive(tcp_, query);
        if (len < 0)
          keep = false;
        else if (len > 0)
          keep = handle(tcp_, query, len);
      }
      if (keep) {
        ++it;
      } else {
        ::close(*it);
        it = clients.erase(it);
      }
    }
    if (pty_master_ >= 0 && FD_ISSET(pty_master_, &rd)) {
      const int len = modbus_receive(rtu_, query);
      if (len > 0)
        handle(rtu_, query, len);  // an RTU line is never "closed"
      else if (len < 0)
        modbus_flush(rtu_);  // a garbled frame: start afresh on the next one
    }
  }
  for (int fd : clients) ::close(fd);
}

}  // namespace wim::sim
