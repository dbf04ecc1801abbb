// SPDX-License-Identifier: Apache-2.0
// Sample records and temp dirs shared by the record, packet, chain and wim-verify tests.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "wim/common/record.hpp"
#include "wim/common/time.hpp"

namespace wim::test {

inline std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("wim-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline const std::string kSoftwareSha(64, 'a');
inline constexpr std::int64_t kT0_us = 1795766400000000;  // 2026-11-27T08:00:00Z

/// A pass record of a 5-axle vehicle within its limit (no plate, no images).
inline record::Manifest pass_record(std::int64_t t_us = kT0_us) {
  record::Manifest m;
  m.station_id = "G017";
  m.lane = 1;
  m.kind = record::Kind::pass;
  m.time_unix_us = t_us;
  m.clock_sync = time::ClockSync::synced;
  m.clock_offset_ms = 0.25;
  m.software_sha256 = kSoftwareSha;
  m.calibration_id = "CAL-2026-11-01";
  record::Measurement x;
  x.lane = 1;
  x.speed_kmh = 62.5;
  x.axle_loads_kg = {6500, 8200, 8100, 7900, 7800};
  x.axle_spacings_m = {3.2, 1.35, 6.1, 1.31};
  x.gross_kg = 38500;
  x.axle_config = "1-2-22";
  x.vehicle_class = "combination";
  x.fit_for_enforcement = true;
  x.plate_hash = std::string(64, 'b');
  x.camera_present = true;
  m.measurement = x;
  m.legal = record::LegalBasis{
      43000, "GB1589-2016/MOT-2016-62 art.3: 5 axles", 0.0, {}, -4500, -0.104651, "within", ""};
  return m;
}

/// A violation record: 5 axles, 46 230.5 kg against 43 000 kg, plate read.
inline record::Manifest violation_record(std::int64_t t_us = kT0_us) {
  auto m = pass_record(t_us);
  m.kind = record::Kind::violation;
  m.measurement->axle_loads_kg = {7010.5, 9800, 9900, 9760, 9760};
  m.measurement->gross_kg = 46230.5;
  m.measurement->plate = record::Plate{"京A12345", "yellow", 0.93, false};
  m.legal->excess_kg = 3230.5;
  m.legal->overload_ratio = 0.0751279;
  m.legal->verdict = "overload";
  return m;
}

inline std::map<std::string, std::string> violation_attachments() {
  return {{"plate.jpg", std::string("\xff\xd8\xff\xe0 fake jpeg \x00\x01 bytes", 24)},
          {"waveform.csv", "t_us,L1R1L\n0,12\n250,14\n"}};
}

inline record::Manifest event_record(std::string type, std::int64_t t_us = kT0_us) {
  record::Manifest m;
  m.station_id = "G017";
  m.kind = record::Kind::event;
  m.time_unix_us = t_us;
  m.clock_sync = time::ClockSync::synced;
  m.software_sha256 = kSoftwareSha;
  m.event = record::Event{std::move(type), {{"reason", "boot"}, {"uptime_s", 0}}};
  return m;
}

}  // namespace wim::test
