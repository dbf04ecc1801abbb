// SPDX-License-Identifier: Apache-2.0
// The simulated amplifier: a libmodbus server (TCP, or RTU over a pseudo-terminal) that
// exposes the register map of hw/maps/wim-sim-amplifier.json (docs/register-map.md),
// fed by a SignalSynth, with fault modes by configuration: dropped, late, corrupted (RTU
// CRC) and disconnected responses, exception bursts, a freeze with the socket open, a
// power loss and restart, identity changes, device clock drift, an acknowledged FIFO.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "physics.hpp"
#include "rng.hpp"
#include "wim/hw/clock.hpp"

typedef struct _modbus modbus_t;
typedef struct _modbus_mapping_t modbus_mapping_t;

namespace wim::sim {

/// Register addresses (0-based protocol addresses, holding registers, FC 03).
namespace reg {
inline constexpr int magic = 0;             ///< 0x5749 ("WI")
inline constexpr int map_version = 1;       ///< 1
inline constexpr int channel_count = 2;     ///< channels
inline constexpr int sample_rate_hz = 3;    ///< [Hz]
inline constexpr int fifo_max_samples = 4;  ///< samples per FIFO read
inline constexpr int status =
    5;  ///< bit0 running, bit1 channel fault, bit2 saturated, bit3 FIFO overflowed
inline constexpr int counter_hi = 6;  ///< sample counter (uint32, high word first)
inline constexpr int counter_lo = 7;
inline constexpr int fifo_fill = 8;         ///< samples waiting in the FIFO (capped at 65535)
inline constexpr int fault_bits = 9;        ///< bit c: channel c open circuit (dead)
inline constexpr int saturation_bits = 10;  ///< bit c: channel c clamped at the last sample
inline constexpr int boot_counter = 11;     ///< +1 at every (simulated) restart
inline constexpr int uptime_hi = 12;        ///< [s] since the last start, uint32 high word first
inline constexpr int uptime_lo = 13;
inline constexpr int fifo_ack = 99;  ///< ack mode: write n to drop the n oldest samples (FC 06)
inline constexpr int latest = 16;    ///< latest value per channel (int16), 16..16+C-1
inline constexpr int fifo = 100;     ///< FIFO block: counter hi, lo, n, then n × C int16
inline constexpr int fifo_header = 3;
inline constexpr std::uint16_t magic_value = 0x5749;
}  // namespace reg

/// A span of device time [s since the server started, on its clock × time_scale].
struct FaultWindow {
  double from_s = 0, to_s = 0;
  bool contains(double t_s) const { return t_s >= from_s && t_s < to_s; }
};

struct ServerFaults {
  double drop_prob = 0;      ///< [-] FIFO reads answered with nothing (samples lost)
  double late_prob = 0;      ///< [-] FIFO reads answered after late_ms
  int late_ms = 0;           ///< [ms]
  int disconnect_every = 0;  ///< close the connection after every N-th request (0: never)
  double corrupt_prob = 0;   ///< [-] RTU: FIFO answers sent with a wrong CRC (samples lost)
  /// Every request in the window answered with this Modbus exception code (Modbus
  /// Application Protocol V1.1b3 §7; 06 = server device busy, the firmware's "later").
  FaultWindow exception_window;
  int exception_code = 6;
  /// No answer at all in the window, connection kept open (a hung process: SIGSTOP).
  FaultWindow freeze_window;
  bool freeze_stops_sampling = false;  ///< the ADC stops too (else the FIFO keeps filling)
  /// The ADC stops in the window while the Modbus task answers on: every FIFO read holds
  /// no new sample and the counter stands (a stopped converter or data-ready interrupt
  /// under a live communication stack; the driver calls it device_frozen).
  FaultWindow stall_window;
  /// The identity register (magic) reads another value in the window (device swapped).
  FaultWindow identity_window;
  /// Power loss: no answer, connections dropped, from restart.from_s; at restart.to_s the
  /// device starts again: FIFO empty, counter at restart_counter, boot counter + 1, uptime 0.
  FaultWindow restart;
  std::uint32_t restart_counter = 0;
  double drift_ppm = 0;  ///< [ppm] the device's sample clock runs fast (+) or slow (-)
};

struct ServerOptions {
  double time_scale = 1.0;            ///< simulated seconds per wall-clock second
  std::size_t fifo_capacity = 65536;  ///< [samples] older samples are overwritten
  bool ack_fifo = false;  ///< FIFO reads pop nothing; a write of n to reg::fifo_ack pops n
  ServerFaults faults;
  std::uint64_t seed = 1;
  hw::Clock* clock = nullptr;  ///< nullptr: hw::system_clock()
};

/// What the server did (for tests to compare with the driver's counters).
struct ServerStats {
  std::uint64_t requests = 0, fifo_reads = 0, dropped = 0, late = 0, disconnects = 0;
  std::uint64_t fifo_replies_sent = 0;     ///< FIFO reads answered (not dropped or corrupted)
  std::uint64_t dropped_with_samples = 0;  ///< dropped FIFO reads that held samples
  std::uint64_t samples_produced = 0;      ///< [samples] per channel
  std::uint64_t samples_delivered = 0;     ///< in FIFO replies actually sent
  std::uint64_t samples_dropped = 0;       ///< popped for a reply that was never sent
  std::uint64_t samples_overflowed = 0;    ///< overwritten in a full FIFO
  /// overflowed + dropped when the last FIFO reply was sent: the losses a master can have
  /// seen (what is overwritten after its last read it never learns of)
  std::uint64_t samples_lost_before_last_reply = 0;
  /// ... when the first FIFO reply was sent: lost before any master was there to see it
  std::uint64_t samples_lost_before_first_reply = 0;
  std::uint64_t connections = 0;
  std::uint64_t exceptions = 0;  ///< exception replies sent
  std::uint64_t swallowed = 0;   ///< requests never answered (freeze, power loss)
  std::uint64_t corrupted = 0;   ///< FIFO answers sent with a bad CRC
  std::uint64_t acks = 0;        ///< FIFO acknowledgements received
  std::uint64_t restarts = 0;
};

class AmplifierServer {
 public:
  AmplifierServer(std::unique_ptr<SignalSynth> synth, ServerOptions opt);
  ~AmplifierServer();
  AmplifierServer(const AmplifierServer&) = delete;
  AmplifierServer& operator=(const AmplifierServer&) = delete;

  /// Listens on host:port (port 0: the OS picks); returns the bound port.
  int listen_tcp(const std::string& host, int port);
  /// Opens a pseudo-terminal pair and serves Modbus RTU (slave id 1) on it. Returns the
  /// device a master opens; `link`, when not empty, is made a symlink to it.
  std::string open_rtu_pty(const std::string& link);
  /// Serves until `stop` is set (checked every 20 ms). Call from one thread.
  void run(const std::atomic<bool>& stop);
  ServerStats stats() const;
  /// Switches the configured Modbus faults on or off (thread-safe; on at start).
  void set_faults_enabled(bool on) { faults_on_ = on; }
  /// The ADC stops for good; the FIFO keeps what it holds and Modbus answers on (thread-safe;
  /// tests end a run with it so that the master can drain what was made).
  void stop_sampling() { sampling_stopped_ = true; }
  int channels() const { return channels_; }
  int fifo_max_samples() const { return max_samples_; }

 private:
  void produce();
  double device_s() const;  ///< [s] device time since start (clock × time_scale)
  void reply(modbus_t* ctx, const std::uint8_t* query, int len, bool corrupt);
  void refresh_registers();
  bool handle(modbus_t* ctx, const std::uint8_t* query, int len);  // false: close client

  std::unique_ptr<SignalSynth> synth_;
  ServerOptions opt_;
  int channels_;
  int max_samples_;
  Rng rng_;
  modbus_mapping_t* map_ = nullptr;
  modbus_t* tcp_ = nullptr;
  int listen_fd_ = -1;
  modbus_t* rtu_ = nullptr;
  int pty_master_ = -1, pty_slave_ = -1;
  std::string link_;
  std::int64_t start_mono_us_ = -1;
  // FIFO: ring of samples × channels, and the counter of its oldest sample
  std::vector<std::int16_t> ring_;
  std::size_t head_ = 0, fill_ = 0;
  std::uint64_t produced_ = 0;
  std::int64_t counter_offset_ = 0;          // counter shown = produced_ + counter_offset_
  double paused_s_ = 0, pause_from_s_ = -1;  // sampling stopped by a freeze
  double booted_s_ = 0;                      // [s] device time of the last (re)start
  bool restarted_ = false;
  std::uint16_t boot_count_ = 1;
  bool overflowed_ = false;
  std::vector<std::int32_t> row_;
  hw::Clock& clock_;
  std::atomic<bool> faults_on_{true};
  std::atomic<bool> sampling_stopped_{false};
  mutable std::mutex stats_mu_;
  ServerStats stats_;
};

}  // namespace wim::sim
