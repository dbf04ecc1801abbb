// SPDX-License-Identifier: Apache-2.0
#include "wim/hw/modbus_source.hpp"

#include <modbus/modbus.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <sstream>
#include <thread>

#include "wim/common/error.hpp"
#include "wim/common/log.hpp"

namespace wim::hw {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto p = s.find(sep, start);
    out.push_back(s.substr(start, p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}

int to_int(const std::string& s, const std::string& what) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    throw InputError("modbus endpoint: " + what + ": '" + s + "' is not a number");
  return v;
}

bool connection_lost(int err) {
  return err == ECONNRESET || err == EPIPE || err == EBADF || err == ENOTCONN ||
         err == ECONNREFUSED || err == ESHUTDOWN;
}

}  // namespace

ModbusEndpoint ModbusEndpoint::parse(const std::string& text) {
  ModbusEndpoint e;
  const auto parts = split(text, ':');
  if (parts[0] == "tcp" && parts.size() == 3) {
    e.host = parts[1];
    e.port = to_int(parts[2], "port");
    if (e.port < 1 || e.port > 65535) throw InputError("modbus endpoint: port: must be 1..65535");
  } else if (parts[0] == "rtu" && parts.size() >= 2 && parts.size() <= 4) {
    e.rtu = true;
    e.device = parts[1];
    if (parts.size() >= 3) e.baud = to_int(parts[2], "baud");
    if (parts.size() == 4) {
      const std::string& f = parts[3];
      if (f.size() != 3 || !std::isdigit(f[0]) || !std::strchr("NEO", f[1]) || !std::isdigit(f[2]))
        throw InputError("modbus endpoint: frame: '" + f + "' is not like 8N1");
      e.data_bits = f[0] - '0';
      e.parity = f[1];
      e.stop_bits = f[2] - '0';
    }
  } else {
    throw InputError("modbus endpoint: '" + text +
                     "' is not tcp:HOST:PORT or rtu:DEVICE[:BAUD[:8N1]]");
  }
  return e;
}

std::string ModbusEndpoint::to_string() const {
  if (!rtu) return "tcp:" + host + ":" + std::to_string(port);
  return "rtu:" + device + ":" + std::to_string(baud) + ":" + std::to_string(data_bits) + parity +
         std::to_string(stop_bits);
}

ModbusSource::ModbusSource(RegisterMap map, ModbusEndpoint endpoint,
                           std::vector<std::string> channel_names, ModbusOptions options)
    : map_(std::move(map)),
      ep_(std::move(endpoint)),
      names_(std::move(channel_names)),
      opt_(options),
      regs_(static_cast<std::size_t>(map_.fifo_registers())),
      backlog_cap_samples_(std::max<std::size_t>(
          std::size_t{1} << 17, static_cast<std::size_t>(map_.sample_rate_hz * 60))),
      period_us_(1e6 / map_.sample_rate_hz),
      monitor_(names_.size(), static_cast<std::size_t>(
                                  std::max(1.0, options.stuck_window_s * map_.sample_rate_hz))) {
  if (static_cast<int>(names_.size()) != map_.channel_count)
    throw InputError("modbus source: " + std::to_string(names_.size()) +
                     " channel names for a map of " + std::to_string(map_.channel_count) +
                     " channels");
  if (opt_.response_timeout_ms < 1)
    throw InputError("modbus source: response_timeout_ms must be >= 1");
}

ModbusSource::~ModbusSource() {
  disconnect();
}

void ModbusSource::disconnect() {
  if (!ctx_) return;
  modbus_close(ctx_);
  modbus_free(ctx_);
  ctx_ = nullptr;
}

bool ModbusSource::connect() {
  modbus_t* ctx = ep_.rtu ? modbus_new_rtu(ep_.device.c_str(), ep_.baud, ep_.parity, ep_.data_bits,
                                           ep_.stop_bits)
                          : modbus_new_tcp(ep_.host.c_str(), ep_.port);
  if (!ctx) throw InputError("modbus endpoint " + ep_.to_string() + ": " + modbus_strerror(errno));
  modbus_set_slave(ctx, map_.slave_id);
  const int to = opt_.response_timeout_ms;
  modbus_set_response_timeout(ctx, static_cast<std::uint32_t>(to / 1000),
                              static_cast<std::uint32_t>((to % 1000) * 1000));
  bool ok = modbus_connect(ctx) == 0;
  if (!ok) last_error_ = std::string("connect: ") + modbus_strerror(errno);
  if (ok && map_.identity_address) {
    std::uint16_t id = 0;
    const int rc = map_.table == RegTable::holding
                       ? modbus_read_registers(ctx, *map_.identity_address, 1, &id)
                       : modbus_read_input_registers(ctx, *map_.identity_address, 1, &id);
    ++counters_.requests;
    if (rc != 1 || id != map_.identity_value) {
      ok = false;
      last_error_ = rc != 1 ? std::string("identity read: ") + modbus_strerror(errno)
                            : "identity register " + std::to_string(*map_.identity_address) +
                                  " reads " + std::to_string(id) + ", map expects " +
                                  std::to_string(map_.identity_value);
      modbus_close(ctx);
    }
  }
  if (!ok) {
    modbus_free(ctx);
    ++counters_.connect_failures;
    backoff_ms_ =
        backoff_ms_ == 0 ? opt_.reconnect_min_ms : std::min(backoff_ms_ * 2, opt_.reconnect_max_ms);
    next_connect_mono_us_ = time::monotonic_us() + backoff_ms_ * 1000LL;
    log::warning("hw.modbus", ep_.to_string() + ": " + last_error_ + "; retry in " +
                                  std::to_string(backoff_ms_) + " ms");
    return false;
  }
  if (ever_connected_) ++counters_.reconnects;
  ever_connected_ = true;
  backoff_ms_ = 0;
  consecutive_errors_ = 0;
  ctx_ = ctx;
  return true;
}

int ModbusSource::read_regs(int addr, int n, std::uint16_t* dst) {
  ++counters_.requests;
  const std::int64_t t0 = time::monotonic_us();
  const int rc = map_.table == RegTable::holding ? modbus_read_registers(ctx_, addr, n, dst)
                                                 : modbus_read_input_registers(ctx_, addr, n, dst);
  if (rc >= 0) {
    last_reply_mono_us_ = time::monotonic_us();
    last_reply_unix_us_ = time::now_unix_us();
    last_rtt_us_ = last_reply_mono_us_ - t0;
    counters_.max_response_us = std::max<std::uint64_t>(counters_.max_response_us,
                                                        static_cast<std::uint64_t>(last_rtt_us_));
    consecutive_errors_ = 0;
  } else {
    failed_request(errno);
  }
  return rc;
}

void ModbusSource::failed_request(int err) {
  last_error_ = modbus_strerror(err);
  if (err == ETIMEDOUT)
    ++counters_.timeouts;
  else
    ++counters_.errors;
  ++consecutive_errors_;
  if (connection_lost(err) || consecutive_errors_ >= opt_.errors_before_reconnect) {
    log::warning("hw.modbus", ep_.to_string() + ": " + last_error_ + "; reconnecting");
    disconnect();
    next_connect_mono_us_ = 0;  // first retry at once, backoff from then on
  } else {
    // A late answer must not be taken for the next one. After a mismatched answer (a
    // late one arrived), give the answer to our own request time to arrive, then drop it.
    if (err == EMBBADDATA) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    modbus_flush(ctx_);
  }
}

void ModbusSource::poll_status() {
  if (!map_.fault_bits_address || time::monotonic_us() < next_status_mono_us_) return;
  next_status_mono_us_ = time::monotonic_us() + opt_.status_period_ms * 1000LL;
  sync_ = time::query_clock().sync;
  std::uint16_t bits = 0;
  if (read_regs(*map_.fault_bits_address, 1, &bits) == 1) monitor_.device_fault_bits(bits);
}

bool ModbusSource::take_pending(SampleBlock& block) {
  const std::uint64_t mod = map_.counter_modulus();
  const auto n = static_cast<std::size_t>(pending_n_);
  const std::uint64_t diff = (pending_counter_ + mod - next_index_ % mod) % mod;
  if (diff != 0 && n == 0) {
    // An empty FIFO reports the counter of the next sample; a jump is seen with data.
  } else if (diff != 0 && diff < mod / 2) {
    if (block.size() > 0) return false;  // end this block before the gap
    const auto t = [&](std::uint64_t idx) {
      return anchor_unix_us_ + std::llround(static_cast<double>(idx - anchor_index_) * period_us_);
    };
    block.lost.push_back({next_index_, diff, t(next_index_), t(next_index_ + diff - 1)});
    log::warning("hw.modbus", ep_.to_string() + ": " + std::to_string(diff) +
                                  " samples lost from index " + std::to_string(next_index_));
    next_index_ += diff;
    counters_.lost_samples += diff;
    ++counters_.gaps;
  } else if (diff != 0) {
    // The counter went back: the device restarted. Re-anchor; nothing to report as lost.
    if (block.size() > 0) return false;
    ++counters_.counter_resets;
    log::warning("hw.modbus", ep_.to_string() + ": sample counter went back (device restart?)");
    // Re-anchor as at connect: this read and what follows wait until the FIFO drains.
    if (backlog_.empty()) backlog_drained_ = n < static_cast<std::size_t>(map_.max_samples);
    backlog_.emplace_front(regs_.begin(), regs_.end());
    backlog_samples_ = 0;
    for (const auto& b : backlog_)
      backlog_samples_ += b[static_cast<std::size_t>(map_.count_offset)];
    anchored_ = false;
    pending_ = false;
    if (backlog_drained_) anchor_backlog(true);
    return true;
  }
  const auto c = static_cast<std::size_t>(map_.channel_count);
  const auto w = static_cast<std::size_t>(map_.value_words());
  if (block.size() == 0) block.first_index = next_index_;
  for (std::size_t s = 0; s < n; ++s) {
    const std::uint64_t idx = next_index_ + s;
    const double off_us = static_cast<double>(idx - anchor_index_) * period_us_;
    block.t_unix_us.push_back(anchor_unix_us_ + std::llround(off_us));
    block.t_mono_us.push_back(anchor_mono_us_ + std::llround(off_us));
    const std::uint16_t* row = regs_.data() + map_.data_offset + s * c * w;
    for (std::size_t ch = 0; ch < c; ++ch)
      block.counts[ch].push_back(map_.decode_value(row + ch * w));
  }
  next_index_ += n;
  counters_.samples += n;
  pending_ = false;
  return true;
}

void ModbusSource::anchor_backlog(bool drained) {
  const std::uint64_t mod = map_.counter_modulus();
  const auto& oldest = backlog_.front();
  const auto& newest = backlog_.back();
  const std::uint64_t first = map_.decode_counter(oldest.data() + map_.counter_offset);
  // The index after the newest sample read (an empty read reports the next sample's).
  const std::uint64_t end = (map_.decode_counter(newest.data() + map_.counter_offset) +
                             newest[static_cast<std::size_t>(map_.count_offset)]) %
                            mod;
  // Samples from the oldest read's first to the newest sample (-1: nothing read yet, the
  // next sample is one period away).
  const auto span = static_cast<std::int64_t>((end + mod - first) % mod) - 1;
  const auto back_us = std::llround(period_us_ * static_cast<double>(span));
  // The newest sample was taken within one sample period before the device answered,
  // which was between our request and its reply: time it at the reply, so times err late
  // by at most the round trip + one period, never early.
  anchored_ = true;
  next_index_ = anchor_index_ = first;
  anchor_unix_us_ = last_reply_unix_us_ - back_us;
  anchor_mono_us_ = last_reply_mono_us_ - back_us;
  counters_.anchor_uncertainty_us = static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, last_rtt_us_) + std::llround(std::ceil(period_us_)));
  sync_ = time::query_clock().sync;
  if (!drained) {
    last_error_ = "FIFO not drained after " + std::to_string(backlog_samples_) +
                  " samples: times anchored at the newest sample read, may be late";
    log::warning("hw.modbus", ep_.to_string() + ": " + last_error_);
  } else if (span > 0) {
    log::info("hw.modbus", ep_.to_string() + ": " + std::to_string(span + 1) +
                               " samples of FIFO backlog at connect, timed back from the newest");
  }
  backlog_samples_ = 0;
}

void ModbusSource::load_backlog() {
  std::copy(backlog_.front().begin(), backlog_.front().end(), regs_.begin());
  backlog_.pop_front();
  pending_ = true;
  pending_counter_ = map_.decode_counter(regs_.data() + map_.counter_offset);
  pending_n_ = regs_[static_cast<std::size_t>(map_.count_offset)];
}

bool ModbusSource::read(SampleBlock& block, std::chrono::milliseconds timeout) {
  block.channels = names_;
  block.clear();
  const std::int64_t deadline = time::monotonic_us() + timeout.count() * 1000;
  const int nregs = map_.fifo_registers();
  for (;;) {
    if (!pending_ && anchored_ && !backlog_.empty()) load_backlog();
    if (pending_ && !take_pending(block)) break;
    if (block.size() >= opt_.max_block_samples) break;
    if (anchored_ && !backlog_.empty()) continue;
    const std::int64_t now = time::monotonic_us();
    if (now >= deadline) break;
    if (!ctx_) {
      if (now < next_connect_mono_us_) {
        std::this_thread::sleep_for(
            std::chrono::microseconds(std::min(next_connect_mono_us_, deadline) - now));
        continue;
      }
      if (!connect()) continue;
    }
    poll_status();
    if (!ctx_) continue;
    if (now < next_poll_mono_us_) {
      if (block.size() > 0) break;
      std::this_thread::sleep_for(
          std::chrono::microseconds(std::min(next_poll_mono_us_, deadline) - now));
      continue;
    }
    const int rc = read_regs(map_.fifo_address, nregs, regs_.data());
    if (rc < 0) continue;
    const int n = regs_[static_cast<std::size_t>(map_.count_offset)];
    if (rc != nregs || n > map_.max_samples) {
      ++counters_.invalid_responses;
      last_error_ = "FIFO block claims " + std::to_string(n) + " samples, map allows " +
                    std::to_string(map_.max_samples);
      continue;
    }
    // FIFO drained: poll again when a full FIFO read has gathered, not before (a request
    // costs more CPU than its samples); a full read means more may be waiting.
    const bool drained = n < map_.max_samples;
    next_poll_mono_us_ =
        drained
            ? time::monotonic_us() + static_cast<std::int64_t>(period_us_ * (map_.max_samples - n))
            : 0;
    if (!anchored_) {
      // Not yet anchored: hold this read back until the FIFO is drained (see the header).
      if (!backlog_.empty()) {
        const auto& prev = backlog_.back();
        const std::uint64_t mod = map_.counter_modulus();
        const std::uint64_t expected = (map_.decode_counter(prev.data() + map_.counter_offset) +
                                        prev[static_cast<std::size_t>(map_.count_offset)]) %
                                       mod;
        const std::uint64_t counter = map_.decode_counter(regs_.data() + map_.counter_offset);
        // The device restarted while its backlog was read: time the older reads as they
        // stand; this one starts a new backlog when they have been taken (take_pending).
        if ((counter + mod - expected) % mod >= mod / 2) anchor_backlog(false);
      }
      backlog_.emplace_back(regs_.begin(), regs_.end());
      backlog_samples_ += static_cast<std::size_t>(n);
      backlog_drained_ = drained;
      if (!anchored_ && (drained || backlog_samples_ >= backlog_cap_samples_))
        anchor_backlog(drained);
      continue;
    }
    pending_ = true;
    pending_counter_ = map_.decode_counter(regs_.data() + map_.counter_offset);
    pending_n_ = n;
    if (!take_pending(block)) break;
    if (drained && block.size() > 0) break;
  }
  block.clock_sync = sync_;
  monitor_.feed(block);
  block.health = monitor_.health();
  block.counters = counters_;
  return true;
}

std::string ModbusSource::status() const {
  std::ostringstream s;
  const auto& k = counters_;
  s << "source: modbus " << ep_.to_string() << " (" << map_.device << ")\n"
    << "connected: " << (ctx_ ? "yes" : "no") << "\n"
    << "samples: " << k.samples << "\nlost_samples: " << k.lost_samples << "\ngaps: " << k.gaps
    << "\nrequests: " << k.requests << "\ntimeouts: " << k.timeouts << "\nerrors: " << k.errors
    << "\ninvalid_responses: " << k.invalid_responses << "\nreconnects: " << k.reconnects
    << "\nconnect_failures: " << k.connect_failures << "\ncounter_resets: " << k.counter_resets
    << "\nmax_response_us: " << k.max_response_us
    << "\nanchor_uncertainty_us: " << k.anchor_uncertainty_us << "\nnext_index: " << next_index_
    << "\nclock_sync: " << time::to_string(sync_) << "\n";
  if (!last_error_.empty()) s << "last_error: " << last_error_ << "\n";
  for (std::size_t c = 0; c < names_.size(); ++c)
    s << "channel " << names_[c] << ": " << to_string(monitor_.health()[c]) << "\n";
  return s.str();
}

}  // namespace wim::hw
