// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/weigh/channel_detector.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace wim::weigh {
namespace {

constexpr std::int64_t kOngoing = std::numeric_limits<std::int64_t>::max();

/// [samples] fractional index where `v` first reaches `level` going forward from `from`.
double crossing_up(const std::vector<float>& v, float level) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] >= level) {
      if (i == 0) return 0;
      const double f = (level - v[i - 1]) / (v[i] - v[i - 1]);
      return static_cast<double>(i - 1) + f;
    }
  }
  return static_cast<double>(v.size());
}
double crossing_down(const std::vector<float>& v, float level) {
  for (std::size_t i = v.size(); i-- > 0;) {
    if (v[i] >= level) {
      if (i + 1 == v.size()) return static_cast<double>(i);
      const double f = (v[i] - level) / (v[i] - v[i + 1]);
      return static_cast<double>(i) + f;
    }
  }
  return 0;
}

}  // namespace

ChannelDetector::ChannelDetector(int channel, const config::ChannelConfig& ch,
                                 const config::WeighSettings& w, double sample_rate_hz)
    : channel_(channel),
      dt_s_(1.0 / sample_rate_hz),
      dt_us_(std::max<std::int64_t>(1, std::llround(1e6 / sample_rate_hz))),
      alpha_(std::min(1.0, 1.0 / (sample_rate_hz * w.autozero_tau_s))),
      holdoff_us_(std::llround(w.autozero_holdoff_s * 1e6)),
      max_pulse_us_(std::llround(w.max_pulse_s * 1e6)),
      saturation_(w.saturation_counts),
      stuck_samples_(static_cast<std::uint32_t>(std::max(2.0, w.stuck_s * sample_rate_hz))),
      temp_coeff_(ch.temp_coeff_counts_per_c),
      temp_ref_c_(w.reference_temperature_c),
      baseline_(ch.zero) {
  // Thresholds are wheel-load equivalents: a plate reads kg directly (gain x counts); a
  // strip reads the load per contact length, so scale by nominal contact / strip width.
  const double kg_per_count =
      ch.kind == config::SensorKind::plate ? ch.gain : ch.gain * w.contact_nominal_m / ch.length_m;
  on_ = static_cast<float>(w.detect_on_kg / kg_per_count);
  off_ = static_cast<float>(w.detect_off_kg / kg_per_count);
  buf_.reserve(1024);
}

void ChannelDetector::set_temperature_c(double t_c) {
  temp_offset_ = temp_coeff_ * (t_c - temp_ref_c_);
}

void ChannelDetector::start_pulse(std::int64_t t_us, float y, bool sat) {
  in_pulse_ = true;
  sat_in_pulse_ = sat;
  buf_.clear();
  // Pre-trigger: the rising edge below the on threshold belongs to the pulse's area.
  std::size_t back = 0;
  while (back < kRingSize - 1 && back < ring_pos_ &&
         ring_[(ring_pos_ - 1 - back) & kRingMask] > off_)
    ++back;
  for (std::size_t k = back; k > 0; --k) buf_.push_back(ring_[(ring_pos_ - k) & kRingMask]);
  buf_.push_back(y);
  start_us_ = t_us - static_cast<std::int64_t>(back) * dt_us_;
}

std::optional<Pulse> ChannelDetector::continue_pulse(std::int64_t t_us, float y, bool sat,
                                                     std::int32_t raw) {
  if (y > off_) {
    buf_.push_back(y);
    sat_in_pulse_ = sat_in_pulse_ || sat;
    if (t_us - start_us_ > max_pulse_us_) {
      // Not a wheel: a step of the zero or a stuck-high channel. Re-zero and report.
      faults_.push_back(
          {channel_, start_us_, t_us, "pulse longer than max_pulse_s (zero step or stuck high)"});
      if (faults_.size() > 256) faults_.pop_front();
      baseline_ = raw - temp_offset_;
      in_pulse_ = false;
      ring_pos_ = 0;
    }
    return std::nullopt;
  }
  in_pulse_ = false;
  holdoff_until_us_ = t_us + holdoff_us_;
  ring_pos_ = 0;  // the falling edge must not become the next pulse's pre-trigger
  ring_[ring_pos_++ & kRingMask] = y;

  Pulse p;
  p.channel = channel_;
  p.start_us = start_us_;
  p.end_us = start_us_ + static_cast<std::int64_t>(buf_.size() - 1) * dt_us_;
  p.dt_s = dt_s_;
  p.saturated = sat_in_pulse_;
  double sum = 0, tsum = 0;
  float peak = 0;
  for (std::size_t i = 0; i < buf_.size(); ++i) {
    sum += buf_[i];
    tsum += buf_[i] * static_cast<double>(i);
    peak = std::max(peak, buf_[i]);
  }
  p.area_counts_s = sum * dt_s_;
  p.peak_counts = peak;
  p.centroid_us =
      static_cast<double>(start_us_) + (sum > 0 ? tsum / sum : 0.0) * static_cast<double>(dt_us_);
  const double rise = crossing_up(buf_, 0.9f * peak) - crossing_up(buf_, 0.1f * peak);
  const double fall = crossing_down(buf_, 0.1f * peak) - crossing_down(buf_, 0.9f * peak);
  p.ramp_s = (rise + fall) / 2 / 0.8 * dt_s_;
  p.samples = buf_;
  return p;
}

void ChannelDetector::begin_fault(std::int64_t t_us, const char* what) {
  if (!faults_.empty()) {
    ChannelFault& last = faults_.back();
    if (last.to_us == kOngoing && last.what == what) return;
    if (last.what == what && last.to_us >= t_us - 1'000'000) {  // merge repeats within 1 s
      last.to_us = t_us;
      return;
    }
  }
  // Saturation is a point event; a flat signal lasts until the signal moves again.
  const bool ongoing = std::string_view(what).starts_with("flat");
  faults_.push_back({channel_, t_us, ongoing ? kOngoing : t_us, what});
  if (faults_.size() > 256) faults_.pop_front();
}

void ChannelDetector::end_fault(std::int64_t t_us) {
  for (ChannelFault& f : faults_)
    if (f.to_us == kOngoing) f.to_us = t_us;
}

std::vector<ChannelFault> ChannelDetector::faults_between(std::int64_t from_us,
                                                          std::int64_t to_us) const {
  std::vector<ChannelFault> out;
  for (const ChannelFault& f : faults_)
    if (f.from_us <= to_us && f.to_us >= from_us) out.push_back(f);
  return out;
}

void ChannelDetector::prune_faults(std::int64_t before_us) {
  while (!faults_.empty() && faults_.front().to_us < before_us) faults_.pop_front();
}

}  // namespace wim::weigh
