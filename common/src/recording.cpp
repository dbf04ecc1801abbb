// SPDX-License-Identifier: Apache-2.0
#include "wim/common/recording.hpp"

#include <charconv>
#include <cmath>
#include <istream>
#include <ostream>

#include "wim/common/error.hpp"
#include "wim/common/time.hpp"

namespace wim::recording {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

template <typename T>
bool parse_int(std::string_view s, T& out) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

void Reader::fail(const std::string& what) const {
  throw InputError(source_ + ":" + std::to_string(line_) + ": " + what);
}

Reader::Reader(std::istream& in, std::string source_name)
    : in_(in), source_(std::move(source_name)) {
  bool saw_magic = false;
  while (true) {
    if (!std::getline(in_, buf_)) {
      ++line_;
      fail("no header row (expected 't_us,<channel>,...')");
    }
    ++line_;
    std::string_view l = trim(buf_);
    if (line_ == 1 && l.size() >= 3 && static_cast<unsigned char>(l[0]) == 0xEF) l.remove_prefix(3);
    if (l.empty()) continue;
    if (l.front() != '#') break;
    l.remove_prefix(1);
    l = trim(l);
    if (l.starts_with("wim-recording")) {
      int v = 0;
      if (!parse_int(l.substr(13), v)) fail("bad format line '# " + std::string(l) + "'");
      if (v != 1) fail("unsupported recording format version " + std::to_string(v));
      header_.format_version = v;
      saw_magic = true;
      continue;
    }
    auto eq = l.find('=');
    if (eq == std::string_view::npos) continue;  // a comment
    std::string key(trim(l.substr(0, eq)));
    std::string value(trim(l.substr(eq + 1)));
    header_.meta[key] = value;
    if (key == "sample_rate_hz") {
      char* end = nullptr;
      double hz = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !std::isfinite(hz) || hz <= 0)
        fail("sample_rate_hz must be a positive number, got '" + value + "'");
      header_.sample_rate_hz = hz;
    } else if (key == "station") {
      header_.station = value;
    } else if (key == "started_utc") {
      try {
        header_.started_unix_us = time::parse_utc(value);
      } catch (const InputError& e) {
        fail(std::string("started_utc: ") + e.what());
      }
    }
  }
  (void)saw_magic;  // the magic line is recommended, not required by contract 1
  if (header_.sample_rate_hz <= 0) fail("missing '# sample_rate_hz=<Hz>' before the header row");
  std::string_view hdr = trim(buf_);
  std::size_t pos = 0;
  bool first = true;
  while (pos <= hdr.size()) {
    auto comma = hdr.find(',', pos);
    std::string_view col =
        trim(hdr.substr(pos, comma == std::string_view::npos ? hdr.npos : comma - pos));
    if (first) {
      if (col != "t_us") fail("header row must start with 't_us', got '" + std::string(col) + "'");
      first = false;
    } else {
      if (col.empty()) fail("empty channel name in header row");
      for (const auto& c : header_.channels)
        if (c == col) fail("duplicate channel '" + std::string(col) + "' in header row");
      header_.channels.emplace_back(col);
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  if (header_.channels.empty()) fail("header row names no channel");
}

std::unique_ptr<Reader> Reader::open(const std::filesystem::path& path) {
  auto file = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*file) throw InputError(path.string() + ": cannot open recording");
  auto r = std::make_unique<Reader>(*file, path.string());
  r->owned_ = std::move(file);
  return r;
}

bool Reader::next(std::int64_t& t_us, std::span<std::int32_t> counts) {
  if (counts.size() != header_.channels.size())
    throw std::invalid_argument("Reader::next: span size differs from channel count");
  while (true) {
    if (!std::getline(in_, buf_)) return false;
    ++line_;
    if (!trim(buf_).empty()) break;
  }
  std::string_view l = buf_;
  std::size_t pos = 0;
  const std::size_t n = header_.channels.size();
  for (std::size_t field = 0; field <= n; ++field) {
    auto comma = l.find(',', pos);
    if (field < n && comma == std::string_view::npos)
      fail("expected " + std::to_string(n + 1) + " values, got " + std::to_string(field + 1));
    if (field == n && comma != std::string_view::npos)
      fail("more values than the " + std::to_string(n + 1) + " columns of the header");
    std::string_view v = l.substr(pos, comma == std::string_view::npos ? l.npos : comma - pos);
    if (field == 0) {
      if (!parse_int(v, t_us)) fail("t_us is not an integer: '" + std::string(trim(v)) + "'");
      if (last_t_us_ && t_us <= *last_t_us_)
        fail("t_us " + std::to_string(t_us) + " does not increase (previous " +
             std::to_string(*last_t_us_) + ")");
    } else if (trim(v).empty()) {
      fail("missing value for channel " + header_.channels[field - 1]);
    } else if (!parse_int(v, counts[field - 1])) {
      fail("value for channel " + header_.channels[field - 1] +
           " is not a signed 32-bit integer: '" + std::string(trim(v)) + "'");
    }
    pos = comma + 1;
  }
  last_t_us_ = t_us;
  return true;
}

std::size_t Reader::read_block(Block& block, std::size_t max_rows) {
  const std::size_t n = header_.channels.size();
  block.t_us.clear();
  block.counts.resize(n);
  for (auto& c : block.counts) c.clear();
  std::vector<std::int32_t> row(n);
  std::int64_t t = 0;
  while (block.t_us.size() < max_rows && next(t, row)) {
    block.t_us.push_back(t);
    for (std::size_t c = 0; c < n; ++c) block.counts[c].push_back(row[c]);
  }
  return block.t_us.size();
}

Writer::Writer(std::ostream& out, const Header& header)
    : out_(out), channels_(header.channels.size()) {
  if (header.sample_rate_hz <= 0) throw std::invalid_argument("Writer: sample_rate_hz <= 0");
  if (header.channels.empty()) throw std::invalid_argument("Writer: no channels");
  out_ << "# wim-recording 1\n";
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.10g", header.sample_rate_hz);
  out_ << "# sample_rate_hz=" << rate << "\n";
  if (!header.station.empty()) out_ << "# station=" << header.station << "\n";
  if (header.started_unix_us)
    out_ << "# started_utc=" << time::format_utc_ms(*header.started_unix_us) << "\n";
  for (const auto& [k, v] : header.meta)
    if (k != "sample_rate_hz" && k != "station" && k != "started_utc")
      out_ << "# " << k << "=" << v << "\n";
  out_ << "t_us";
  for (const auto& c : header.channels) out_ << ',' << c;
  out_ << '\n';
}

void Writer::write(std::int64_t t_us, std::span<const std::int32_t> counts) {
  if (counts.size() != channels_) throw std::invalid_argument("Writer::write: wrong channel count");
  line_.clear();
  char buf[24];
  auto put = [&](auto v) {
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    line_.append(buf, p);
  };
  put(t_us);
  for (auto c : counts) {
    line_.push_back(',');
    put(c);
  }
  line_.push_back('\n');
  out_.write(line_.data(), static_cast<std::streamsize>(line_.size()));
}

Recording read_all(const std::filesystem::path& path) {
  auto r = Reader::open(path);
  Recording rec;
  rec.header = r->header();
  Block tmp;
  rec.data.counts.resize(rec.header.channels.size());
  while (r->read_block(tmp, 65536) > 0) {
    rec.data.t_us.insert(rec.data.t_us.end(), tmp.t_us.begin(), tmp.t_us.end());
    for (std::size_t c = 0; c < tmp.counts.size(); ++c)
      rec.data.counts[c].insert(rec.data.counts[c].end(), tmp.counts[c].begin(),
                                tmp.counts[c].end());
  }
  return rec;
}

}  // namespace wim::recording
