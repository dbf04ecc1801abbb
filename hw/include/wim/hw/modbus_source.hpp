// SPDX-License-Identifier: Apache-2.0
// The Modbus amplifier driver (libmodbus, RTU or TCP): polls the device's FIFO block as
// described by a RegisterMap, turns its sample counter into a continuity index, reports
// every missed sample as a LostSpan, and never blocks longer than asked.
//
// Timing: at connect the FIFO may hold a backlog (seconds of samples). Full FIFO reads are
// held back until a read returns less than a full block (the FIFO is drained): that read's
// last sample anchors UTC and monotonic time (= now), and every sample, the backlog
// included, is placed at anchor + (index - anchor index) / sample_rate_hz: times stay
// evenly spaced, a gap keeps its true span, and a time errs late by at most the anchoring
// read's round trip + one period (SourceCounters::anchor_uncertainty_us), never early. A device
// restart (counter going back) re-anchors the same way. Not thread-safe: one thread calls read().
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "wim/hw/channel_monitor.hpp"
#include "wim/hw/register_map.hpp"
#include "wim/hw/sample_source.hpp"

typedef struct _modbus modbus_t;

namespace wim::hw {

struct ModbusEndpoint {
  bool rtu = false;
  std::string host = "127.0.0.1";  ///< TCP
  int port = 502;                  ///< TCP
  std::string device;              ///< RTU serial device, e.g. /dev/ttyUSB0
  int baud = 115200;
  char parity = 'N';
  int data_bits = 8, stop_bits = 1;
  /// "tcp:HOST:PORT" or "rtu:DEVICE[:BAUD[:8N1]]"; throws InputError naming the part.
  static ModbusEndpoint parse(const std::string& text);
  std::string to_string() const;
};

struct ModbusOptions {
  int response_timeout_ms = 500;         ///< [ms] per request
  int reconnect_min_ms = 50;             ///< [ms] first retry delay after a failed connect
  int reconnect_max_ms = 5000;           ///< [ms] backoff ceiling (doubles per failure)
  int errors_before_reconnect = 3;       ///< [-] consecutive timeouts/errors before reconnecting
  double stuck_window_s = 1.0;           ///< [s] unchanged values before a channel is stuck/dead
  int status_period_ms = 1000;           ///< [ms] how often fault bits are read
  std::size_t max_block_samples = 4000;  ///< [samples] per read() at most
};

class ModbusSource final : public SampleSource {
 public:
  /// channel_names: one per map channel (station config names). Throws InputError when
  /// the count does not match the map.
  ModbusSource(RegisterMap map, ModbusEndpoint endpoint, std::vector<std::string> channel_names,
               ModbusOptions options = {});
  ~ModbusSource() override;
  ModbusSource(const ModbusSource&) = delete;
  ModbusSource& operator=(const ModbusSource&) = delete;

  const std::vector<std::string>& channels() const override { return names_; }
  double sample_rate_hz() const override { return map_.sample_rate_hz; }
  bool read(SampleBlock& block, std::chrono::milliseconds timeout) override;
  SourceCounters counters() const override { return counters_; }
  std::string status() const override;
  bool connected() const { return ctx_ != nullptr; }

 private:
  bool connect();
  void disconnect();
  int read_regs(int addr, int n, std::uint16_t* dst);
  void failed_request(int err);
  void poll_status();
  /// Takes the pending response into the block; false when it must wait for the next
  /// block (a gap after samples already in this block).
  bool take_pending(SampleBlock& block);
  /// Sets the time anchor from the held-back FIFO reads (backlog_): the newest sample
  /// read is "now" and every older one is timed backwards by the counter. `drained`:
  /// the last read returned less than a full block, so the FIFO held nothing newer.
  void anchor_backlog(bool drained);
  /// Moves the oldest held-back read into the pending response.
  void load_backlog();

  RegisterMap map_;
  ModbusEndpoint ep_;
  std::vector<std::string> names_;
  ModbusOptions opt_;
  modbus_t* ctx_ = nullptr;
  bool ever_connected_ = false;
  int backoff_ms_ = 0;
  std::int64_t next_connect_mono_us_ = 0;
  std::int64_t next_status_mono_us_ = 0;
  std::int64_t next_poll_mono_us_ = 0;  // earliest useful FIFO poll
  int consecutive_errors_ = 0;
  // The last successful request: when its reply arrived and how long it took.
  std::int64_t last_reply_mono_us_ = 0, last_reply_unix_us_ = 0, last_rtt_us_ = 0;
  std::vector<std::uint16_t> regs_;
  bool pending_ = false;
  std::uint32_t pending_counter_ = 0;
  int pending_n_ = 0;
  bool anchored_ = false;
  // FIFO reads held back until the FIFO is drained: at connect (or after a device
  // restart) the amplifier may hold seconds of backlog, and only the read that empties
  // the FIFO tells which sample is "now". Raw FIFO blocks, oldest first.
  std::deque<std::vector<std::uint16_t>> backlog_;
  std::size_t backlog_samples_ = 0;  // [samples] per channel, in backlog_
  bool backlog_drained_ = false;     // the newest read in backlog_ emptied the FIFO
  std::size_t backlog_cap_samples_;  // [samples] anchor anyway (with a warning) beyond this
  std::uint64_t next_index_ = 0;     // continuity index expected next
  std::uint64_t anchor_index_ = 0;
  std::int64_t anchor_unix_us_ = 0, anchor_mono_us_ = 0;
  double period_us_;
  time::ClockSync sync_ = time::ClockSync::unknown;
  std::string last_error_;
  SourceCounters counters_;
  ChannelMonitor monitor_;
};

}  // namespace wim::hw
