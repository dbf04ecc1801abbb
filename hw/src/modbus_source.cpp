// SPDX-License-Identifier: Apache-2.0
#include "wim/hw/modbus_source.hpp"

#include <modbus/modbus.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
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

// Modbus exception replies (Modbus Application Protocol V1.1b3 §7): the device answered,
// the connection is fine; it refuses for now (05 acknowledge, 06 server device busy) or
// for good (01-03: the map asks for what this device does not have).
bool is_exception(int err) {
  return err > MODBUS_ENOBASE && err <= EMBXGTAR;
}

std::string exception_name(int err) {
  static const char* const names[] = {"",
                                      "illegal function",
                                      "illegal data address",
                                      "illegal data value",
                                      "server device failure",
                                      "acknowledge",
                                      "server device busy",
                                      "negative acknowledge",
                                      "memory parity error",
                                      "",
                                      "gateway path unavailable",
                                      "gateway target device failed to respond"};
  const int code = err - MODBUS_ENOBASE;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02X", code);
  return std::string("exception ") + buf + " (" + names[code] + ")";
}

std::string error_text(int err) {
  return is_exception(err) ? exception_name(err) : std::string(modbus_strerror(err));
}

std::string seconds(std::int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", static_cast<double>(us) * 1e-6);
  return buf;
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
      clock_(options.clock ? *options.clock : system_clock()),
      regs_(static_cast<std::size_t>(map_.fifo_registers())),
      backlog_cap_samples_(std::max<std::size_t>(
          std::size_t{1} << 17, static_cast<std::size_t>(map_.sample_rate_hz * 60))),
      tb_(map_.sample_rate_hz, options.drift_window_s),
      period_us_(1e6 / map_.sample_rate_hz),
      monitor_(names_.size(), static_cast<std::size_t>(
                                  std::max(1.0, options.stuck_window_s * map_.sample_rate_hz))) {
  if (static_cast<int>(names_.size()) != map_.channel_count)
    throw InputError("modbus source: " + std::to_string(names_.size()) +
                     " channel names for a map of " + std::to_string(map_.channel_count) +
                     " channels");
  if (opt_.response_timeout_ms < 1)
    throw InputError("modbus source: response_timeout_ms must be >= 1");
  // Modbus over Serial Line V1.02 §2.2: 0 is broadcast (no reply), 248-255 reserved.
  if (ep_.rtu && (map_.slave_id < 1 || map_.slave_id > 247))
    throw InputError("modbus source: slave_id " + std::to_string(map_.slave_id) +
                     ": an RTU device answers only as 1..247");
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

void ModbusSource::grow_backoff() {
  backoff_ms_ =
      backoff_ms_ == 0 ? opt_.reconnect_min_ms : std::min(backoff_ms_ * 2, opt_.reconnect_max_ms);
}

void ModbusSource::link_down(const std::string& kind, const std::string& reason) {
  down_reason_ = reason;
  if (link_ == Link::down) {
    if (kind == "device_identity_mismatch" && down_kind_ != kind && !identity_noted_) {
      // The device answered, but as another one: worth its own event within the outage.
      identity_noted_ = true;
      const std::int64_t now = clock_.unix_us();
      events_.push_back({kind, "", now, now, reason});
      log::warning("hw.modbus", ep_.to_string() + ": " + reason);
    }
    return;
  }
  const bool first = link_ == Link::never;
  down_kind_ = kind;
  identity_noted_ = kind == "device_identity_mismatch";
  down_since_unix_us_ = first ? clock_.unix_us() : last_reply_unix_us_;
  down_since_mono_us_ = first ? clock_.mono_us() : last_reply_mono_us_;
  ++counters_.outages;
  events_.push_back({down_kind_, "began", down_since_unix_us_, down_since_unix_us_, reason});
  log::warning("hw.modbus",
               ep_.to_string() + (first ? ": cannot reach the device: " : ": link lost: ") +
                   reason + "; retrying with backoff up to " +
                   std::to_string(opt_.reconnect_max_ms) + " ms, logged again when it is back");
  link_ = Link::down;
}

void ModbusSource::link_up() {
  const std::int64_t now_mono = clock_.mono_us();
  if (link_ == Link::down) {
    const std::int64_t now_unix = clock_.unix_us();
    events_.push_back({down_kind_, "ended", down_since_unix_us_, now_unix,
                       down_reason_ + "; " + std::to_string(down_attempts_) + " failed attempts, " +
                           std::to_string(down_exceptions_) + " exception replies"});
    log::info("hw.modbus", ep_.to_string() + ": link back after " +
                               seconds(now_mono - down_since_mono_us_) + " (" +
                               std::to_string(down_attempts_) + " failed attempts, " +
                               std::to_string(down_exceptions_) +
                               " exception replies; last: " + down_reason_ + ")");
  } else {
    log::info("hw.modbus", ep_.to_string() + ": connected");
  }
  if (link_ == Link::down) after_outage_ = true;
  link_ = Link::up;
  up_since_mono_us_ = now_mono;
  down_attempts_ = down_exceptions_ = 0;
  down_kind_.clear();
}

int ModbusSource::read_table(modbus_t* ctx, RegTable table, int addr, int n, std::uint16_t* dst) {
  ++counters_.requests;
  return table == RegTable::holding ? modbus_read_registers(ctx, addr, n, dst)
                                    : modbus_read_input_registers(ctx, addr, n, dst);
}

bool ModbusSource::check_device(modbus_t* ctx) {
  if (map_.identity) {
    const auto& id = *map_.identity;
    std::vector<std::uint16_t> got(id.values.size());
    const int n = static_cast<int>(got.size());
    if (read_table(ctx, id.table, id.address, n, got.data()) != n) {
      const int err = errno;
      if (is_exception(err)) ++counters_.exceptions, ++down_exceptions_;
      last_error_ = "identity read: " + error_text(err);
      link_down("device_outage", last_error_);
      return false;
    }
    if (got != id.values) {
      std::string g, w;
      for (std::size_t i = 0; i < got.size(); ++i) {
        g += (i ? " " : "") + std::to_string(got[i]);
        w += (i ? " " : "") + std::to_string(id.values[i]);
      }
      last_error_ =
          "identity register " + std::to_string(id.address) + " reads " + g + ", map expects " + w;
      link_down("device_identity_mismatch", last_error_);
      return false;
    }
  }
  auto check = [&](const std::optional<DeviceRegister>& r, double want, const char* field) {
    if (!r) return true;
    std::uint16_t v[4] = {};
    if (read_table(ctx, r->table, r->address, r->words(), v) != r->words()) {
      last_error_ = std::string("device_info.") + field + " read: " + error_text(errno);
      link_down("device_outage", last_error_);
      return false;
    }
    const auto got = r->decode(v);
    if (static_cast<double>(got) != want) {
      last_error_ = std::string("device_info.") + field + ": the device reports " +
                    std::to_string(got) + ", the map says " + std::to_string(want);
      link_down("device_identity_mismatch", last_error_);
      return false;
    }
    return true;
  };
  return check(map_.reported_channel_count, map_.channel_count, "channel_count") &&
         check(map_.reported_sample_rate_hz, std::round(map_.sample_rate_hz), "sample_rate_hz");
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
  if (!ok) {
    last_error_ = std::string("connect: ") + modbus_strerror(errno);
    link_down("device_outage", last_error_);
  }
  if (ok && !check_device(ctx)) {
    ok = false;
    modbus_close(ctx);
  }
  if (!ok) {
    modbus_free(ctx);
    ++counters_.connect_failures;
    ++down_attempts_;
    grow_backoff();
    next_connect_mono_us_ = clock_.mono_us() + backoff_ms_ * 1000LL;
    return false;
  }
  if (ever_connected_) ++counters_.reconnects;
  ever_connected_ = true;
  consecutive_errors_ = 0;
  ctx_ = ctx;
  return true;
}

int ModbusSource::read_regs(int addr, int n, std::uint16_t* dst, RegTable table) {
  const std::int64_t t0 = clock_.mono_us();
  const int rc = read_table(ctx_, table, addr, n, dst);
  if (rc >= 0) {
    last_request_mono_us_ = t0;
    last_reply_mono_us_ = clock_.mono_us();
    last_reply_unix_us_ = clock_.unix_us();
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
  last_error_ = error_text(err);
  if (is_exception(err)) {
    // The device is there but refuses: poll again after the backoff, on the same
    // connection (reconnecting would only add connects to the requests).
    ++counters_.errors;
    ++counters_.exceptions;
    ++down_exceptions_;
    link_down("device_outage", last_error_);
    grow_backoff();
    next_poll_mono_us_ = clock_.mono_us() + backoff_ms_ * 1000LL;
    return;
  }
  if (err == ETIMEDOUT)
    ++counters_.timeouts;
  else
    ++counters_.errors;
  ++consecutive_errors_;
  if (connection_lost(err) || consecutive_errors_ >= opt_.errors_before_reconnect) {
    link_down("device_outage", last_error_);
    disconnect();
    // A first drop reconnects at once; repeated ones wait the backoff that holds across
    // connect cycles (reset only after the link has delivered for a while).
    next_connect_mono_us_ = clock_.mono_us() + backoff_ms_ * 1000LL;
    grow_backoff();
  } else {
    // A late answer must not be taken for the next one. After a mismatched answer (a
    // late one arrived), give the answer to our own request time to arrive, then drop it.
    if (err == EMBBADDATA) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    modbus_flush(ctx_);
  }
}

void ModbusSource::note_restart(const std::string& reason) {
  ++counters_.counter_resets;
  const std::int64_t now = clock_.unix_us();
  events_.push_back({"device_restart", "",
                     last_sample_reply_unix_us_ ? last_sample_reply_unix_us_ : now, now, reason});
  log::warning("hw.modbus", ep_.to_string() + ": device restart: " + reason);
}

void ModbusSource::poll_status() {
  const bool any =
      map_.fault_bits_address || map_.boot_counter || map_.uptime_s || map_.overflow_flag;
  if (!any || clock_.mono_us() < next_status_mono_us_) return;
  next_status_mono_us_ = clock_.mono_us() + opt_.status_period_ms * 1000LL;
  sync_ = time::query_clock().sync;
  if (map_.fault_bits_address) {
    std::uint16_t bits[2] = {};
    const int n = map_.fault_bits_registers;
    if (read_regs(*map_.fault_bits_address, n, bits, map_.table) == n) {
      const std::uint32_t v = n == 1 ? bits[0]
                                     : (map_.fault_bits_word_order == WordOrder::big
                                            ? (std::uint32_t{bits[0]} << 16) | bits[1]
                                            : (std::uint32_t{bits[1]} << 16) | bits[0]);
      monitor_.device_fault_bits(v);
    }
  }
  if (ctx_ && map_.overflow_flag) {
    std::uint16_t v = 0;
    if (read_regs(map_.overflow_flag->address, 1, &v, map_.overflow_flag->table) == 1 &&
        ((v >> map_.overflow_flag->bit) & 1u)) {
      ++counters_.overflows;
      const std::int64_t now = clock_.unix_us();
      events_.push_back({"device_fifo_overflow", "", now, now,
                         "the device reports its FIFO overflowed (oldest samples overwritten)"});
    }
  }
  if (ctx_ && map_.boot_counter) {
    std::uint16_t v[4] = {};
    const int w = map_.boot_counter->words();
    if (read_regs(map_.boot_counter->address, w, v, map_.boot_counter->table) == w) {
      const auto b = map_.boot_counter->decode(v);
      if (boot_counter_ && *boot_counter_ != b && restart_reason_.empty())
        restart_reason_ =
            "boot counter " + std::to_string(*boot_counter_) + " -> " + std::to_string(b);
      boot_counter_ = b;
    }
  }
  if (ctx_ && map_.uptime_s) {
    std::uint16_t v[4] = {};
    const int w = map_.uptime_s->words();
    if (read_regs(map_.uptime_s->address, w, v, map_.uptime_s->table) == w) {
      const auto u = map_.uptime_s->decode(v);
      // Uptime counts on: less than before, minus a second of rounding, is a restart.
      if (uptime_s_ && u + 1 < *uptime_s_ && restart_reason_.empty())
        restart_reason_ = "uptime went back from " + std::to_string(*uptime_s_) + " s to " +
                          std::to_string(u) + " s";
      uptime_s_ = u;
      uptime_read_mono_us_ = clock_.mono_us();
    }
  }
}

double ModbusSource::line_slack_samples(double elapsed_samples) const {
  // How far the line may be off: a block, the reply's round trip + 50 ms, 0.2 % drift.
  return map_.max_samples +
         map_.sample_rate_hz * (static_cast<double>(last_rtt_us_) * 1e-6 + 0.05) +
         0.002 * elapsed_samples;
}

std::optional<std::uint64_t> ModbusSource::unwrap_jump(std::uint64_t diff, std::size_t n,
                                                       bool drained, std::string& why) const {
  const std::uint64_t mod = map_.counter_modulus();
  const double now_idx = tb_.index_at(pending_reply_mono_us_);
  const double elapsed = std::max(0.0, now_idx - static_cast<double>(next_index_));
  const double tol = line_slack_samples(elapsed);
  std::optional<std::uint64_t> pick;
  for (std::uint64_t k = 0;; ++k) {
    const std::uint64_t jump = diff + k * mod;
    const double head = static_cast<double>(next_index_ + jump);
    const double end = head + static_cast<double>(n);
    if (end > now_idx + tol) break;  // more samples than the time allows
    bool ok = true;
    if (drained && end < now_idx - tol) ok = false;  // a drained FIFO ends at "now"
    if (map_.capacity_samples && head < now_idx - static_cast<double>(*map_.capacity_samples) - tol)
      ok = false;  // the FIFO cannot hold more than its capacity
    if (ok) {
      pick = jump;
      if (!drained && !map_.capacity_samples) break;  // no bound from below: the least
    }
    if (k > (1u << 20)) break;
  }
  if (!pick) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "the counter jumped %llu (mod %llu) where the elapsed time allows %.0f samples",
                  static_cast<unsigned long long>(diff), static_cast<unsigned long long>(mod),
                  elapsed);
    why = buf;
  }
  return pick;
}

void ModbusSource::restart_backlog(std::size_t n) {
  // Re-anchor as at connect: this read and what follows wait until the FIFO drains.
  if (backlog_.empty()) backlog_drained_ = n < static_cast<std::size_t>(map_.max_samples);
  backlog_.push_front({regs_, pending_reply_mono_us_});
  backlog_samples_ = 0;
  for (const auto& b : backlog_)
    backlog_samples_ += b.regs[static_cast<std::size_t>(map_.count_offset)];
  anchored_ = false;
  pending_ = false;
  if (backlog_drained_) anchor_backlog(true);
}

bool ModbusSource::take_pending(SampleBlock& block) {
  const std::uint64_t mod = map_.counter_modulus();
  auto n = static_cast<std::size_t>(pending_n_);
  std::size_t skip = 0;
  std::uint64_t diff = (pending_counter_ + mod - next_index_ % mod) % mod;
  if (map_.ack_address && diff != 0 && mod - diff <= static_cast<std::uint64_t>(map_.max_samples)) {
    // Acknowledged FIFO: our acknowledgement was lost, the device sends again what we
    // already have. Skip those.
    skip = std::min<std::size_t>(n, static_cast<std::size_t>(mod - diff));
    diff = 0;
  }
  if (!restart_reason_.empty() && n > 0) {
    if (block.size() > 0) return false;
    note_restart(restart_reason_);
    restart_reason_.clear();
    restart_backlog(n);
    return true;
  }
  if (deferred_lost_) {
    if (block.size() > 0) return false;  // end this block before the gap
    const LostSpan l = *deferred_lost_;
    deferred_lost_.reset();
    block.lost.push_back(l);
    log::warning("hw.modbus", ep_.to_string() + ": " + std::to_string(l.count) +
                                  " samples lost from index " + std::to_string(l.first_index) +
                                  " while the link was down");
    counters_.lost_samples += l.count;
    ++counters_.gaps;
  }
  if (diff != 0 && n == 0) {
    // An empty FIFO reports the counter of the next sample; a jump is seen with data.
  } else if (diff != 0) {
    std::string why;
    const bool back = mod > (1ull << 16) && diff >= mod / 2;
    const auto jump = back ? std::nullopt : unwrap_jump(diff, n, pending_drained_, why);
    if (!jump) {
      if (block.size() > 0) return false;
      note_restart(back ? "the sample counter went back from " + std::to_string(next_index_ % mod) +
                              " to " + std::to_string(pending_counter_)
                        : why);
      restart_backlog(n);
      return true;
    }
    if (block.size() > 0) return false;  // end this block before the gap
    if (after_outage_ && !pending_drained_ && mod > (1ull << 16)) {
      // Lost in the outage or restarted above the old counter: decided when drained.
      after_outage_ = false;
      deferred_gap_ = DeferredGap{next_index_, *jump, tb_};
      restart_backlog(n);
      return true;
    }
    const std::uint64_t lost = *jump;
    block.lost.push_back(
        {next_index_, lost, tb_.unix_at(next_index_), tb_.unix_at(next_index_ + lost - 1)});
    log::warning("hw.modbus",
                 ep_.to_string() + ": " + std::to_string(lost) + " samples lost from index " +
                     std::to_string(next_index_) +
                     (lost != diff ? " (16-bit counter unwrapped by the elapsed time)" : ""));
    next_index_ += lost;
    counters_.lost_samples += lost;
    ++counters_.gaps;
  }
  const auto c = static_cast<std::size_t>(map_.channel_count);
  if (block.size() == 0) block.first_index = next_index_;
  const std::size_t base = block.size();
  const std::int64_t base_stamp = last_stamp_mono_us_;
  const std::int64_t base_stamp_unix = last_stamp_unix_us_;
  for (std::size_t s = skip; s < n; ++s) {
    for (std::size_t ch = 0; ch < c; ++ch) {
      std::int32_t v = 0;
      if (!map_.decode_value(
              regs_.data() + map_.value_index(static_cast<int>(s), static_cast<int>(ch)), v)) {
        // Not a number (a float NaN) or beyond int32 counts: the block is refused whole,
        // its samples reported lost with the next gap.
        for (auto& col : block.counts) col.resize(base);
        block.t_unix_us.resize(base);
        block.t_mono_us.resize(base);
        last_stamp_mono_us_ = base_stamp;
        last_stamp_unix_us_ = base_stamp_unix;
        ++counters_.invalid_responses;
        last_error_ = "FIFO value of channel " + std::to_string(ch) + " is not a number of counts";
        pending_ = false;
        return true;
      }
      block.counts[ch].push_back(v);
    }
    const std::uint64_t idx = next_index_ + (s - skip);
    std::int64_t mono = tb_.mono_at(idx);
    // Drift corrections move the line by microseconds; times stay increasing.
    if (mono <= last_stamp_mono_us_) mono = last_stamp_mono_us_ + 1;
    last_stamp_mono_us_ = mono;
    block.t_mono_us.push_back(mono);
    // A re-anchor re-measures the UTC - monotonic offset; that reading jitters by the
    // time between the two clock reads, so UTC stamps are kept increasing as well.
    std::int64_t unix_us = mono + (tb_.unix_at(idx) - tb_.mono_at(idx));
    if (unix_us <= last_stamp_unix_us_) unix_us = last_stamp_unix_us_ + 1;
    last_stamp_unix_us_ = unix_us;
    block.t_unix_us.push_back(unix_us);
  }
  next_index_ += n - skip;
  counters_.samples += n - skip;
  pending_ = false;
  if (n > 0) after_outage_ = false;  // only the first read with data after an outage
  return true;
}

void ModbusSource::anchor_backlog(bool drained) {
  const std::uint64_t mod = map_.counter_modulus();
  const auto& oldest = backlog_.front().regs;
  const auto& newest = backlog_.back().regs;
  std::uint64_t first = map_.decode_counter(oldest.data() + map_.counter_offset);
  // A jump held back after an outage: the indices go on from where they were (unwrapped).
  if (deferred_gap_ && (deferred_gap_->from_index + deferred_gap_->jump) % mod == first)
    first = deferred_gap_->from_index + deferred_gap_->jump;
  // The index after the newest sample read (an empty read reports the next sample's).
  const std::uint64_t end = (map_.decode_counter(newest.data() + map_.counter_offset) +
                             newest[static_cast<std::size_t>(map_.count_offset)]) %
                            mod;
  // Samples from the oldest read's first to the newest sample (-1: nothing read yet, the
  // next sample is one period away).
  const auto span = static_cast<std::int64_t>((end + mod - first) % mod) - 1;
  // The newest sample was taken within one sample period before the device answered,
  // which was between our request and its reply: time it at the reply, so times err late
  // by at most the round trip + one period, never early.
  anchored_ = true;
  next_index_ = first;
  const std::int64_t ahead_us = span < 0 ? std::llround(period_us_) : 0;
  tb_.anchor(first + static_cast<std::uint64_t>(std::max<std::int64_t>(span, 0)),
             last_reply_mono_us_ + ahead_us, last_reply_unix_us_ + ahead_us);
  last_stamp_mono_us_ = INT64_MIN;
  last_stamp_unix_us_ = INT64_MIN;
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
  if (deferred_gap_) resolve_deferred_gap();
}

void ModbusSource::resolve_deferred_gap() {
  const DeferredGap g = std::move(*deferred_gap_);
  deferred_gap_.reset();
  // The first sample after the jump, by the line before the outage and by the new anchor
  // (its newest sample at the drained reply). A device that kept sampling puts it at the
  // same time on both, within the line's slack; one that restarted made fewer samples:
  // the new line is later.
  const double tol_samples = line_slack_samples(static_cast<double>(g.jump));
  const std::int64_t late_us = tb_.mono_at(next_index_) - g.line.mono_at(next_index_);
  if (static_cast<double>(late_us) > tol_samples * period_us_) {
    note_restart("after the link came back the counter was " + std::to_string(g.jump) +
                 " samples ahead, but the device made " + seconds(late_us) +
                 " fewer samples than the elapsed time (restarted, or stopped sampling); " +
                 "nothing reported lost");
    return;
  }
  deferred_lost_ = LostSpan{g.from_index, g.jump, g.line.unix_at(g.from_index),
                            g.line.unix_at(g.from_index + g.jump - 1)};
}

void ModbusSource::load_backlog() {
  std::copy(backlog_.front().regs.begin(), backlog_.front().regs.end(), regs_.begin());
  pending_reply_mono_us_ = backlog_.front().reply_mono_us;
  backlog_.pop_front();
  pending_ = true;
  pending_counter_ = map_.decode_counter(regs_.data() + map_.counter_offset);
  pending_n_ = regs_[static_cast<std::size_t>(map_.count_offset)];
  pending_drained_ = backlog_.empty() && backlog_drained_;
}

void ModbusSource::check_freeze(std::size_t n) {
  if (n > 0) {
    if (frozen_) {
      frozen_ = false;
      unfrozen_after_us_ = last_reply_mono_us_ - last_sample_reply_mono_us_;
      events_.push_back({"device_frozen", "ended", last_sample_reply_unix_us_, last_reply_unix_us_,
                         "answers without new samples"});
      log::info("hw.modbus", ep_.to_string() + ": samples flow again after " +
                                 seconds(last_reply_mono_us_ - last_sample_reply_mono_us_));
    }
    last_sample_reply_mono_us_ = last_reply_mono_us_;
    last_sample_reply_unix_us_ = last_reply_unix_us_;
    return;
  }
  if (!frozen_ && last_sample_reply_mono_us_ != 0 &&
      last_reply_mono_us_ - last_sample_reply_mono_us_ > opt_.freeze_after_ms * 1000LL) {
    frozen_ = true;
    ++counters_.freezes;
    events_.push_back({"device_frozen", "began", last_sample_reply_unix_us_,
                       last_sample_reply_unix_us_, "answers without new samples"});
    log::warning("hw.modbus", ep_.to_string() +
                                  ": the device answers but its FIFO holds no new "
                                  "sample for " +
                                  seconds(last_reply_mono_us_ - last_sample_reply_mono_us_));
  }
}

bool ModbusSource::read(SampleBlock& block, std::chrono::milliseconds timeout) {
  block.channels = names_;
  block.clear();
  const std::int64_t deadline = clock_.mono_us() + timeout.count() * 1000;
  const int nregs = map_.fifo_registers();
  for (;;) {
    if (!pending_ && anchored_ && !backlog_.empty()) load_backlog();
    if (pending_ && !take_pending(block)) break;
    if (block.size() >= opt_.max_block_samples) break;
    if (anchored_ && !backlog_.empty()) continue;
    const std::int64_t now = clock_.mono_us();
    if (now >= deadline) break;
    if (!ctx_) {
      if (now < next_connect_mono_us_) {
        clock_.sleep_us(std::min(next_connect_mono_us_, deadline) - now);
        continue;
      }
      if (!connect()) continue;
    }
    poll_status();
    if (!ctx_) continue;
    if (now < next_poll_mono_us_) {
      if (block.size() > 0) break;
      clock_.sleep_us(std::min(next_poll_mono_us_, deadline) - now);
      continue;
    }
    const int rc = read_regs(map_.fifo_address, nregs, regs_.data(), map_.table);
    if (rc < 0) continue;
    const int n = regs_[static_cast<std::size_t>(map_.count_offset)];
    if (rc != nregs || n > map_.max_samples) {
      ++counters_.invalid_responses;
      last_error_ = "FIFO block claims " + std::to_string(n) + " samples, map allows " +
                    std::to_string(map_.max_samples);
      continue;
    }
    if (link_ != Link::up) link_up();
    // The backoff is forgiven once the link has delivered for longer than it.
    if (backoff_ms_ > 0 && last_reply_mono_us_ - up_since_mono_us_ >
                               std::max<std::int64_t>(1000, backoff_ms_) * 1000LL)
      backoff_ms_ = 0;
    if (map_.ack_address && n > 0) {
      // Acknowledged FIFO: the device drops what we confirm (FC 06, §6.6). A lost
      // acknowledgement makes the device send the same samples again (take_pending).
      ++counters_.requests;
      if (modbus_write_register(ctx_, *map_.ack_address, static_cast<std::uint16_t>(n)) == 1)
        ++counters_.acks;
      else
        failed_request(errno);
    }
    // FIFO drained: poll again when a full FIFO read has gathered, not before (a request
    // costs more CPU than its samples); a full read means more may be waiting.
    const bool drained = n < map_.max_samples;
    next_poll_mono_us_ =
        drained ? clock_.mono_us() + static_cast<std::int64_t>(period_us_ * (map_.max_samples - n))
                : 0;
    if (!anchored_) {
      // Not yet anchored: hold this read back until the FIFO is drained (see the header).
      if (!backlog_.empty()) {
        const auto& prev = backlog_.back().regs;
        const std::uint64_t mod = map_.counter_modulus();
        const std::uint64_t expected = (map_.decode_counter(prev.data() + map_.counter_offset) +
                                        prev[static_cast<std::size_t>(map_.count_offset)]) %
                                       mod;
        const std::uint64_t counter = map_.decode_counter(regs_.data() + map_.counter_offset);
        // The device restarted while its backlog was read: time the older reads as they
        // stand; this one starts a new backlog when they have been taken (take_pending).
        if ((counter + mod - expected) % mod >= mod / 2) anchor_backlog(false);
      }
      if (!anchored_) {
        backlog_.push_back({regs_, last_reply_mono_us_});
        backlog_samples_ += static_cast<std::size_t>(n);
        backlog_drained_ = drained;
        if (drained || backlog_samples_ >= backlog_cap_samples_) anchor_backlog(drained);
        check_freeze(static_cast<std::size_t>(n));
        continue;
      }
    }
    check_freeze(static_cast<std::size_t>(n));
    pending_ = true;
    pending_counter_ = map_.decode_counter(regs_.data() + map_.counter_offset);
    pending_n_ = n;
    pending_drained_ = drained;
    pending_reply_mono_us_ = last_reply_mono_us_;
    if (drained && n > 0) {
      // The newest sample of a drained read was taken just before the reply: the line
      // must not stamp it earlier than the request (DeviceTimebase).
      const std::uint64_t mod = map_.counter_modulus();
      const std::uint64_t diff = (pending_counter_ + mod - next_index_ % mod) % mod;
      if (diff == 0 && restart_reason_.empty()) {
        const std::int64_t early =
            tb_.observe(next_index_ + static_cast<std::uint64_t>(n) - 1, last_request_mono_us_,
                        last_reply_mono_us_, last_reply_unix_us_);
        // Far early: the device made fewer samples than the time that passed (it
        // stopped sampling, or restarted with a counter that kept counting). Right after
        // a device_frozen that long, it is the freeze's: its event covers the span, the
        // status registers would have shown a restart.
        const auto slack_us = 50000 + static_cast<std::int64_t>(period_us_ * map_.max_samples);
        if (early > slack_us && unfrozen_after_us_ > 0 && early <= unfrozen_after_us_ + slack_us)
          log::info("hw.modbus", ep_.to_string() + ": the device made " + seconds(early) +
                                     " fewer samples than the elapsed time, within the " +
                                     seconds(unfrozen_after_us_) + " it was frozen");
        else if (early > slack_us)
          note_restart("the device made " + seconds(early) +
                       " fewer samples than the elapsed time (stopped sampling or restarted)");
        unfrozen_after_us_ = 0;  // the first drained read after a freeze tells
      }
    }
    if (!take_pending(block)) break;
    if (drained && block.size() > 0) break;
  }
  block.clock_sync = sync_;
  block.events = std::move(events_);
  events_.clear();
  block.device_condition = condition();
  monitor_.feed(block);
  block.health = monitor_.health();
  block.counters = counters_;
  return true;
}

std::string ModbusSource::condition() const {
  if (link_ == Link::down)
    return down_kind_ + " since " + time::format_utc_ms(down_since_unix_us_) + ": " + down_reason_;
  if (frozen_)
    return "device_frozen since " + time::format_utc_ms(last_sample_reply_unix_us_) +
           ": answers without new samples";
  return "";
}

std::string ModbusSource::status() const {
  std::ostringstream s;
  const auto& k = counters_;
  const std::string cond = condition();
  s << "source: modbus " << ep_.to_string() << " (" << map_.device << ")\n"
    << "connected: " << (ctx_ ? "yes" : "no") << "\n"
    << "device: " << (cond.empty() ? "ok" : cond) << "\n"
    << "samples: " << k.samples << "\nlost_samples: " << k.lost_samples << "\ngaps: " << k.gaps
    << "\nrequests: " << k.requests << "\ntimeouts: " << k.timeouts << "\nerrors: " << k.errors
    << "\nexceptions: " << k.exceptions << "\ninvalid_responses: " << k.invalid_responses
    << "\nreconnects: " << k.reconnects << "\nconnect_failures: " << k.connect_failures
    << "\nbackoff_ms: " << backoff_ms_ << "\noutages: " << k.outages << "\nfreezes: " << k.freezes
    << "\ncounter_resets: " << k.counter_resets << "\noverflows: " << k.overflows
    << "\nmax_response_us: " << k.max_response_us
    << "\nanchor_uncertainty_us: " << k.anchor_uncertainty_us << "\nnext_index: " << next_index_
    << "\ndevice_clock_drift_ppm: " << tb_.drift_ppm()
    << "\ntimebase_reanchors: " << tb_.reanchors() << "\nclock_sync: " << time::to_string(sync_)
    << "\n";
  if (!last_error_.empty()) s << "last_error: " << last_error_ << "\n";
  for (std::size_t c = 0; c < names_.size(); ++c)
    s << "channel " << names_[c] << ": " << to_string(monitor_.health()[c]) << "\n";
  return s.str();
}

}  // namespace wim::hw
