// SPDX-License-Identifier: Apache-2.0
// The record model of contract 4: one manifest per vehicle pass, violation or station
// event. serialize() gives the exact bytes that are signed (canonical JSON, UTF-8, keys
// sorted, no white space); parse_manifest() is its strict inverse. Both validate the
// manifest and throw InputError naming the field ("manifest.measurement.gross_kg: ...").
// Plain data, no global state: safe to use from any thread.
#pragma once
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wim/common/time.hpp"

namespace wim::record {

inline constexpr int kFormatVersion = 1;
/// prev_sha256 of the first record of a chain (seq 1).
inline const std::string kGenesisSha256(64, '0');

enum class Kind {
  pass,       ///< a vehicle pass; no plate text, no images (privacy rule of contract 4)
  violation,  ///< an overload case; carries plate and attachments
  event,      ///< a station event (start, fault, config or calibration change, ...)
};
std::string_view to_string(Kind k);
/// Inverse of to_string; throws InputError naming the bad value.
Kind kind_from_string(std::string_view s);

/// A file that travels with the manifest in the packet (plate.jpg, waveform.csv, ...).
struct Attachment {
  std::string name;        ///< file name inside the packet dir: [A-Za-z0-9._-], no leading '.'
  std::string media_type;  ///< e.g. "image/jpeg", "text/csv"
  std::string sha256;      ///< lower-case hex SHA-256 of the bytes
  std::uint64_t size_bytes = 0;
  bool operator==(const Attachment&) const = default;
};

/// Wheel loads of one axle, when the station records them separately.
struct AxleMeasurement {
  double left_wheel_kg = 0;   ///< [kg]
  double right_wheel_kg = 0;  ///< [kg]
  bool operator==(const AxleMeasurement&) const = default;
};

/// A plate reading; only violation records may carry one.
struct Plate {
  std::string text;                 ///< UTF-8, e.g. "京A12345"; may be empty if unread
  std::string colour;               ///< "blue", "yellow", "green", "white", "black", "unknown"
  double confidence = 0;            ///< [0..1] reader's confidence in `text`
  bool needs_human_review = false;  ///< reader unsure: a person must confirm the text
  bool operator==(const Plate&) const = default;
};

/// What the station measured for one vehicle.
struct Measurement {
  int lane = 0;                              ///< [-] 1-based lane number
  double speed_kmh = 0;                      ///< [km/h]
  std::vector<double> axle_loads_kg;         ///< [kg] per axle, front to back
  std::vector<double> axle_spacings_m;       ///< [m] axle i to i+1 (size = axles - 1)
  std::vector<AxleMeasurement> axles;        ///< optional wheel loads (empty or one per axle)
  double gross_kg = 0;                       ///< [kg] sum of the axle loads
  std::string axle_config;                   ///< axle-configuration code, e.g. "1-2-22"
  std::string vehicle_class;                 ///< e.g. "truck", "combination", "car"
  bool fit_for_enforcement = false;          ///< no invalidating condition seen
  std::vector<std::string> invalid_reasons;  ///< why not fit ("speed_change", "off_lane")
  std::optional<Plate> plate;                ///< violation records only
  std::string plate_hash;                    ///< keyed hash (hex) of the plate, or empty
  bool camera_present = false;               ///< a camera covered the lane at the pass
  /// What kept the camera from seeing this pass ("stream down", "corrupt frames", …); empty
  /// when it worked or there is no camera; serialised only when not empty.
  std::string camera_problem;
  bool operator==(const Measurement&) const = default;
};

/// The legal basis of the verdict: which limit, which rule, which tolerance.
struct LegalBasis {
  double limit_kg = 0;                  ///< [kg] gross limit that applies
  std::string rule;                     ///< e.g. "GB1589-2016/MOT-2016-62 art.3: 5 axles"
  std::optional<double> tolerance_kg;   ///< [kg] measurement tolerance deducted, if configured
  std::optional<double> tolerance_pct;  ///< [%] tolerance as a share of the limit, if configured
  double excess_kg = 0;                 ///< [kg] gross - tolerance - limit (negative when under)
  double overload_ratio = 0;            ///< [-] (gross - limit) / limit, negative when under
  std::string verdict;                  ///< "within" | "warning" | "overload"
  std::string ambiguity;                ///< why a higher limit was chosen, or empty
  bool operator==(const LegalBasis&) const = default;
};

/// A station event: "station_start", "station_stop", "sensor_fault", "sensor_recovered",
/// "lost_samples", "config_change", "calibration_change", "clock_step", "disk_pressure",
/// "thinning" (others are accepted if lower-case [a-z0-9_]).
struct Event {
  std::string type;
  boost::json::object detail;  ///< event-specific facts, units in the key names
  bool operator==(const Event&) const = default;
};
/// True for the event types listed above.
bool is_known_event_type(std::string_view type);

struct Manifest {
  int format_version = kFormatVersion;
  std::string station_id;   ///< [A-Za-z0-9_-]{1,32}, e.g. "G017"
  int lane = 0;             ///< [-] 1-based; 0 for station events
  std::uint64_t seq = 0;    ///< per station, from 1, no gaps
  std::string prev_sha256;  ///< hex SHA-256 of the previous manifest.json; 64 '0' for seq 1
  Kind kind = Kind::pass;
  std::int64_t time_unix_us = 0;  ///< [us] UTC; serialised as "2026-11-27T08:00:00.000123Z"
  /// [us] UTC, "sealed_after_utc": only on a pass/violation whose (true, measured) time is
  /// earlier than the chain head's when it was sealed (a sample backlog after a restart, a
  /// slow weigher): the head's time, i.e. the previous record's chain time. verify_chain
  /// accepts such a record out of time order only when this equals that chain time.
  std::optional<std::int64_t> sealed_after_unix_us;
  time::ClockSync clock_sync = time::ClockSync::unknown;
  double clock_offset_ms = 0;              ///< [ms] last offset applied by the time daemon
  std::string software_sha256;             ///< identity of the legally relevant software
  std::string calibration_id;              ///< calibration in force (empty only for events)
  std::optional<Measurement> measurement;  ///< pass and violation
  std::optional<LegalBasis> legal;         ///< violation (required), pass (optional)
  std::optional<Event> event;              ///< event records only
  std::vector<Attachment> attachments;
  bool operator==(const Manifest&) const = default;
};

/// Checks every rule (fields, kinds, privacy); throws InputError naming the field.
void validate(const Manifest& m);
/// Canonical JSON bytes to sign; validates first (InputError).
std::string serialize(const Manifest& m);
/// Strict parse: unknown or missing fields, bad types and rule violations are InputError.
Manifest parse_manifest(std::string_view json);

/// True for a safe packet-entry name: 1..100 chars of [A-Za-z0-9._-], not starting with
/// '.', not "manifest.json" / "manifest.sig".
bool is_valid_attachment_name(std::string_view name);
/// True for [A-Za-z0-9_-]{1,32}.
bool is_valid_station_id(std::string_view id);
/// True for 64 lower-case hex digits.
bool is_sha256_hex(std::string_view s);

}  // namespace wim::record
