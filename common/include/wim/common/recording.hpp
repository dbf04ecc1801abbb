// SPDX-License-Identifier: Apache-2.0
// Contract 1: raw sensor recordings (CSV, UTF-8) that technicians record in the field
// and replay; tests and benchmarks use the same format.
//
//   # wim-recording 1
//   # sample_rate_hz=4000
//   # station=G017
//   # started_utc=2026-11-27T08:00:00.000Z
//   t_us,L1R1L,L1R1R
//   0,12,-3
//   250,14,-1
//
// Errors are InputError "<source>:<line>: <what>", so a technician can open the file at
// the line. Thread-safety: one Reader/Writer per thread.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace wim::recording {

struct Header {
  int format_version = 1;
  double sample_rate_hz = 0;                    ///< [Hz] required, > 0
  std::string station;                          ///< optional "station=" metadata
  std::optional<std::int64_t> started_unix_us;  ///< [us] UTC, from "started_utc="
  std::map<std::string, std::string> meta;      ///< every `key=value` line, as written
  std::vector<std::string> channels;            ///< column names after t_us
};

/// A block of rows: t_us[i] and, per channel c, counts[c][i].
struct Block {
  std::vector<std::int64_t> t_us;                 ///< [us] since started_utc
  std::vector<std::vector<std::int32_t>> counts;  ///< [counts] raw amplifier values
  std::size_t rows() const { return t_us.size(); }
};

class Reader {
 public:
  /// Reads the metadata and header row; throws InputError on a malformed start.
  Reader(std::istream& in, std::string source_name);
  static std::unique_ptr<Reader> open(const std::filesystem::path& path);

  const Header& header() const { return header_; }
  /// Reads the next row. Returns false at end of input. Values must be one signed
  /// integer per channel; t_us strictly increasing.
  bool next(std::int64_t& t_us, std::span<std::int32_t> counts);
  /// Reads up to max_rows rows into `block` (cleared first). Returns rows read.
  std::size_t read_block(Block& block, std::size_t max_rows);
  std::size_t line() const { return line_; }

 private:
  [[noreturn]] void fail(const std::string& what) const;
  std::unique_ptr<std::ifstream> owned_;
  std::istream& in_;
  std::string source_;
  Header header_;
  std::size_t line_ = 0;
  std::optional<std::int64_t> last_t_us_;
  std::string buf_;
};

class Writer {
 public:
  /// Writes the metadata and header row at once. sample_rate_hz and channels required.
  Writer(std::ostream& out, const Header& header);
  void write(std::int64_t t_us, std::span<const std::int32_t> counts);

 private:
  std::ostream& out_;
  std::size_t channels_;
  std::string line_;
};

/// Reads a whole recording into memory (tests, small files).
struct Recording {
  Header header;
  Block data;
};
Recording read_all(const std::filesystem::path& path);

}  // namespace wim::recording
