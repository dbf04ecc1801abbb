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
// read's round trip + one period (SourceCounters::anchor_uncertainty_us). After that a
// DeviceTimebase keeps the times on the device's counter, corrected for its clock drift by
// the reads that drain the FIFO. A device restart (boot counter, uptime, counter going back,
// or a counter jump that the elapsed time cannot explain) re-anchors the same way; a 16-bit
// counter is unwrapped by the elapsed time. Outages, freezes, restarts, identity mismatches
// and FIFO overflows become DeviceEvents in the blocks; the link's state changes are logged
// once each. Not thread-safe: one thread calls read().
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "wim/hw/channel_monitor.hpp"
#include "wim/hw/clock.hpp"
#include "wim/hw/device_timebase.hpp"
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
  int reconnect_min_ms = 50;             ///< [ms] first retry delay after a failure
  int reconnect_max_ms = 5000;           ///< [ms] backoff ceiling (doubles per failure)
  int errors_before_reconnect = 3;       ///< [-] consecutive timeouts/errors before reconnecting
  double stuck_window_s = 1.0;           ///< [s] unchanged values before a channel is stuck/dead
  int status_period_ms = 1000;           ///< [ms] how often fault bits / boot counter are read
  std::size_t max_block_samples = 4000;  ///< [samples] per read() at most
  int freeze_after_ms = 500;             ///< [ms] answers without a new sample: device_frozen
  double drift_window_s = 10;            ///< [s] DeviceTimebase window
  Clock* clock = nullptr;                ///< nullptr: system_clock()
};

class ModbusSource final : public SampleSource {
 public:
  /// channel_names: one per map channel (station config names). Throws InputError when
  /// the count does not match the map, or an RTU unit id is not 1..247.
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
  /// [ppm] the device clock's estimated drift against the host's.
  double drift_ppm() const { return tb_.drift_ppm(); }
  /// "" when the device answers with samples, else what is wrong and since when.
  std::string condition() const;

 private:
  enum class Link { never, up, down };
  bool connect();
  bool check_device(modbus_t* ctx);  // identity and device-reported facts
  void disconnect();
  int read_regs(int addr, int n, std::uint16_t* dst, RegTable table);
  int read_table(modbus_t* ctx, RegTable table, int addr, int n, std::uint16_t* dst);
  void failed_request(int err);
  void link_down(const std::string& kind, const std::string& reason);
  void link_up();
  void grow_backoff();
  void poll_status();
  void note_restart(const std::string& reason);
  /// Takes the pending response into the block; false when it must wait for the next
  /// block (a gap after samples already in this block).
  bool take_pending(SampleBlock& block);
  /// The counter jump `diff` (mod the counter's modulus) of a read with n samples, unwrapped
  /// by the elapsed time: the true jump, or nullopt when no jump fits the time (a restart).
  /// [samples] how far the device timeline may be off after `elapsed_samples`.
  double line_slack_samples(double elapsed_samples) const;
  std::optional<std::uint64_t> unwrap_jump(std::uint64_t diff, std::size_t n, bool drained,
                                           std::string& why) const;
  void restart_backlog(std::size_t n);
  /// Sets the time anchor from the held-back FIFO reads (backlog_): the newest sample
  /// read is "now" and every older one is timed backwards by the counter. `drained`:
  /// the last read returned less than a full block, so the FIFO held nothing newer.
  void anchor_backlog(bool drained);
  /// Moves the oldest held-back read into the pending response.
  void load_backlog();
  void check_freeze(std::size_t n);

  RegisterMap map_;
  ModbusEndpoint ep_;
  std::vector<std::string> names_;
  ModbusOptions opt_;
  Clock& clock_;
  modbus_t* ctx_ = nullptr;
  bool ever_connected_ = false;
  // Backoff holds across connect and exception cycles: it is reset only after the link
  // has delivered samples for a while (see link_up / read()).
  int backoff_ms_ = 0;
  std::int64_t next_connect_mono_us_ = 0;
  std::int64_t next_status_mono_us_ = 0;
  std::int64_t next_poll_mono_us_ = 0;  // earliest useful FIFO poll
  int consecutive_errors_ = 0;
  // Link state: one log line per change, one event per outage.
  Link link_ = Link::never;
  std::string down_kind_, down_reason_;
  std::int64_t down_since_unix_us_ = 0, down_since_mono_us_ = 0, up_since_mono_us_ = 0;
  std::uint64_t down_attempts_ = 0, down_exceptions_ = 0;
  bool identity_noted_ = false;
  // Freeze: answers without new samples.
  bool frozen_ = false;
  std::int64_t last_sample_reply_mono_us_ = 0, last_sample_reply_unix_us_ = 0;
  // [us] how long the last freeze lasted, until the first drained read after it (0: none).
  std::int64_t unfrozen_after_us_ = 0;
  // Restart signs read with the status registers.
  std::optional<std::uint64_t> boot_counter_, uptime_s_;
  std::int64_t uptime_read_mono_us_ = 0;
  std::string restart_reason_;  // a restart seen outside the FIFO, handled at the next read
  // The first FIFO read after the link came back whose counter jumped ahead of what we
  // had, with more samples waiting: samples lost in the outage, or a device that restarted
  // with a counter above the old one? Only the drained FIFO tells (its newest sample is
  // "now"): the reads are held back as at connect and the jump decided at the anchor.
  struct DeferredGap {
    std::uint64_t from_index = 0, jump = 0;  // [samples]
    DeviceTimebase line;                     // the line before the outage
  };
  bool after_outage_ = false;
  std::optional<DeferredGap> deferred_gap_;
  std::optional<LostSpan> deferred_lost_;  // decided a loss: reported with the next samples
  void resolve_deferred_gap();
  std::vector<DeviceEvent> events_;
  // The last successful request: when it was sent, when its reply arrived.
  std::int64_t last_request_mono_us_ = 0;
  std::int64_t last_reply_mono_us_ = 0, last_reply_unix_us_ = 0, last_rtt_us_ = 0;
  std::vector<std::uint16_t> regs_;
  bool pending_ = false;
  // When the pending read's reply arrived: "now" for that read's samples. A read held
  // back in backlog_ is taken after newer ones; the bounds of a counter jump (the FIFO's
  // capacity, the time passed) hold at its own reply, not at the newest.
  std::int64_t pending_reply_mono_us_ = 0;
  std::uint32_t pending_counter_ = 0;
  int pending_n_ = 0;
  bool pending_drained_ = false;
  bool anchored_ = false;
  // FIFO reads held back until the FIFO is drained: at connect (or after a device
  // restart) the amplifier may hold seconds of backlog, and only the read that empties
  // the FIFO tells which sample is "now". Raw FIFO blocks, oldest first, with the
  // monotonic time [us] of their reply.
  struct HeldRead {
    std::vector<std::uint16_t> regs;
    std::int64_t reply_mono_us = 0;
  };
  std::deque<HeldRead> backlog_;
  std::size_t backlog_samples_ = 0;  // [samples] per channel, in backlog_
  bool backlog_drained_ = false;     // the newest read in backlog_ emptied the FIFO
  std::size_t backlog_cap_samples_;  // [samples] anchor anyway (with a warning) beyond this
  std::uint64_t next_index_ = 0;     // continuity index expected next
  std::int64_t last_stamp_mono_us_ = INT64_MIN;
  std::int64_t last_stamp_unix_us_ = INT64_MIN;  ///< UTC of the last sample stamped (us)
  DeviceTimebase tb_;
  double period_us_;
  time::ClockSync sync_ = time::ClockSync::unknown;
  std::string last_error_;
  SourceCounters counters_;
  ChannelMonitor monitor_;
};

}  // namespace wim::hw
