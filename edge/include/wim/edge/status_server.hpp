// SPDX-License-Identifier: Apache-2.0
// `wim-edge status`: what the technician sees of a running station.
//
// StatusBoard holds the live part (channel values and health, the last vehicles, active
// faults) that the weighing thread writes and the status server reads (one mutex, held
// only to copy a few values: weighing never waits on a client).
// StatusServer serves one JSON document per connection on a UNIX stream socket
// (Boost.Asio local::stream_protocol, its own thread and io_context): the document is built
// when a client connects, written with a deadline, then the connection is closed. A slow
// or stuck client only holds its own connection until the deadline. The socket file is
// created with mode 0660, replaced when a stale one is left from a crash (nobody
// accepts on it), refused when another daemon still answers on it, removed on stop.
// query_status() is the client side; StatusError's what() says why it failed in words a
// technician can act on (not running, socket missing, permission denied).
// Thread-safety: StatusBoard: any thread. StatusServer: construct/stop from one thread.
#pragma once
#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "wim/common/error.hpp"

namespace wim::edge {

/// One vehicle as the technician sees it (no plate: a technician's screen is not evidence).
struct VehicleLine {
  std::uint64_t seq = 0;           ///< [-] the record's seq
  std::string kind;                ///< pass, violation
  std::int64_t time_unix_us = 0;   ///< [us] UTC, first axle
  std::string clock_sync;          ///< synced, unsynced, unknown
  int lane = 0;                    ///< [-]
  int axles = 0;                   ///< [-]
  double gross_kg = 0;             ///< [kg]
  std::optional<double> limit_kg;  ///< [kg] none when not fit for enforcement
  std::optional<double> ratio;     ///< [-] overload ratio (gross - limit) / limit
  std::string verdict;             ///< within, warning, overload, not_enforceable
};

/// One channel's live state.
struct ChannelLive {
  std::string name;
  std::int32_t last_counts = 0;    ///< [counts] last raw sample
  std::string health = "ok";       ///< ok, stuck, dead (the source's judgement)
  std::uint64_t faults = 0;        ///< [-] fault starts seen (source and pipeline)
  std::uint64_t errors = 0;        ///< [-] source transfer errors (whole source)
  std::uint64_t lost_samples = 0;  ///< [samples] lost since start (whole source)
};

/// The sample source's device (the amplifier) as the technician sees it.
struct DeviceLive {
  std::string condition;       ///< "" when all is well, else e.g. "device_outage since …"
  std::uint64_t outages = 0;   ///< [-] device_outage events begun
  std::uint64_t freezes = 0;   ///< [-] device_frozen events begun
  std::uint64_t restarts = 0;  ///< [-] device_restart events
  std::uint64_t identity_mismatches = 0;     ///< [-] device_identity_mismatch events
  std::uint64_t fifo_overflows = 0;          ///< [-] device_fifo_overflow events
  std::uint64_t gaps = 0;                    ///< [-] continuity gaps (lost_samples events)
  std::uint64_t lost_samples = 0;            ///< [samples] per channel, since start
  std::uint64_t passes_not_enforceable = 0;  ///< [-] passes marked so for a gap in them
  std::string last_event;                    ///< the newest device event, one line
  bool operator==(const DeviceLive&) const = default;
};

class StatusBoard {
 public:
  explicit StatusBoard(std::size_t max_vehicles = 10) : max_vehicles_(max_vehicles) {}
  void set_channels(std::vector<ChannelLive> channels);
  /// Updates values, health and counters of the channels (same order as set_channels).
  void update_channels(const std::vector<std::int32_t>& last_counts,
                       const std::vector<std::string>& health, std::uint64_t errors,
                       std::uint64_t lost_samples);
  void count_fault(std::size_t channel);
  void add_vehicle(VehicleLine v);
  /// `key` names the fault ("L1R2L stuck", "disk pressure"); active or cleared.
  void set_fault(const std::string& key, bool active);
  void set_device(DeviceLive d);

  std::vector<ChannelLive> channels() const;
  std::vector<VehicleLine> vehicles() const;  ///< newest first
  std::vector<std::string> faults() const;
  std::optional<DeviceLive> device() const;  ///< nullopt until the weigher set it

 private:
  mutable std::mutex mu_;
  std::size_t max_vehicles_;
  std::vector<ChannelLive> channels_;
  std::deque<VehicleLine> vehicles_;
  std::map<std::string, bool> faults_;
  std::optional<DeviceLive> device_;
};

boost::json::object to_json(const VehicleLine& v);
boost::json::object to_json(const ChannelLive& c);
/// `condition` is "ok" when all is well.
boost::json::object to_json(const DeviceLive& d);

struct StatusServerOptions {
  std::filesystem::path socket;             ///< e.g. /run/wim/status.sock
  std::chrono::milliseconds timeout{2000};  ///< [ms] per connection (write and close)
};

class StatusError : public SystemError {
 public:
  using SystemError::SystemError;
};

class StatusServer {
 public:
  /// Binds and listens (StatusError naming the socket when it cannot), then serves on
  /// its own thread; `document` is called on that thread for each connection.
  StatusServer(StatusServerOptions options, std::function<std::string()> document);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;
  /// Stops serving, closes open connections, removes the socket file.
  void stop();
  std::uint64_t served() const { return served_; }        ///< [-] documents written in full
  std::uint64_t timed_out() const { return timed_out_; }  ///< [-] connections cut at the deadline

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<std::uint64_t> served_{0}, timed_out_{0};
};

/// Connects to `socket`, reads the document (deadline `timeout`). Throws StatusError.
std::string query_status(const std::filesystem::path& socket,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

/// The document in lines a technician reads on a terminal.
std::string format_status(const boost::json::object& doc);

}  // namespace wim::edge
