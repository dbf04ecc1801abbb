// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/weigh/channel_detector.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string_view>

namespace wim::weigh {
namespace {

constexpr std::int64_t kOngoing = std::numeric_limits<std::int64_t>::max();
constexpr const char* kFlat = "flat signal (stuck or dead)";
constexpr std::string_view kRange = "zero outside the zero-setting range";

/// [samples] fractional index where `v` first reaches `level` going forward from `from`.
double crossing_up(const std::vector<float>& v, std::size_t from, std::size_t to, float level) {
  for (std::size_t i = from; i < to; ++i) {
    if (v[i] >= level) {
      if (i == from) return static_cast<double>(from);
      const double f = (level - v[i - 1]) / (v[i] - v[i - 1]);
      return static_cast<double>(i - 1) + f;
    }
  }
  return static_cast<double>(to);
}
double crossing_down(const std::vector<float>& v, std::size_t from, std::size_t to, float level) {
  for (std::size_t i = to; i-- > from;) {
    if (v[i] >= level) {
      if (i + 1 == to) return static_cast<double>(i);
      const double f = (v[i] - level) / (v[i] - v[i + 1]);
      return static_cast<double>(i) + f;
    }
  }
  return static_cast<double>(from);
}

float median_of(std::vector<float>& v) {
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

std::size_t samples_of(double s, double rate_hz, std::size_t lo, std::size_t hi) {
  return std::clamp<std::size_t>(static_cast<std::size_t>(std::llround(s * rate_hz)), lo, hi);
}

}  // namespace

ChannelDetector::ChannelDetector(int channel, const config::ChannelConfig& ch,
                                 const config::WeighSettings& w, double sample_rate_hz)
    : channel_(channel),
      dt_s_(1.0 / sample_rate_hz),
      dt_us_(std::max<std::int64_t>(1, std::llround(1e6 / sample_rate_hz))),
      k_on_(w.noise_k_on),
      k_off_(w.noise_k_off),
      tau_s_(w.autozero_tau_s),
      range_(w.autozero_range_pct / 100 * w.saturation_counts),
      zero_cfg_(ch.zero),
      holdoff_us_(std::llround(w.autozero_holdoff_s * 1e6)),
      max_pulse_us_(std::llround(w.max_pulse_s * 1e6)),
      smooth_n_(samples_of(w.smooth_s, sample_rate_hz, 1, 64)),
      margin_n_(samples_of(w.pulse_margin_s, sample_rate_hz, 0, 128)),
      bridge_n_(samples_of(w.pulse_bridge_s, sample_rate_hz, 1, 256)),
      min_core_n_(samples_of(w.min_pulse_s, sample_rate_hz, 1, 1 << 20)),
      block_n_(std::max<std::size_t>(
          16, samples_of(w.noise_block_s, sample_rate_hz, 32, 1 << 20) / (2 * smooth_n_))),
      saturation_(w.saturation_counts),
      stuck_samples_(static_cast<std::uint32_t>(std::max(2.0, w.stuck_s * sample_rate_hz))),
      temp_coeff_(ch.temp_coeff_counts_per_c),
      temp_ref_c_(w.reference_temperature_c),
      baseline_(ch.zero) {
  // Thresholds are wheel-load equivalents: a plate reads kg directly (gain x counts); a
  // strip reads the load per contact length, so scale by nominal contact / strip width.
  const double kg_per_count =
      ch.kind == config::SensorKind::plate ? ch.gain : ch.gain * w.contact_nominal_m / ch.length_m;
  on_min_ = on_ = static_cast<float>(w.detect_on_kg / kg_per_count);
  off_min_ = off_ = static_cast<float>(w.detect_off_kg / kg_per_count);
  max_rate_ = w.autozero_rate_kg_per_s / kg_per_count;
  inv_smooth_ = 1.0 / static_cast<double>(smooth_n_);
  stride_ = 2 * smooth_n_;
  buf_.reserve(1024);
  block_.reserve(block_n_);
}

void ChannelDetector::set_temperature_c(double t_c) {
  temp_offset_ = temp_coeff_ * (t_c - temp_ref_c_);
}

void ChannelDetector::flat_begins(std::int64_t t_us) {
  begin_fault(t_us - static_cast<std::int64_t>(stuck_samples_) * dt_us_, kFlat);
}
void ChannelDetector::flat_ends(std::int64_t t_us) {
  end_fault(t_us, kFlat);
}

std::optional<Pulse> ChannelDetector::feed_slow(std::int64_t t_us, float y, float ys, bool sat) {
  switch (state_) {
    case State::warmup:
      // The first block only estimates the noise and the zero: thresholds from the
      // configured floors alone could be inside the noise and never leave a quiet sample.
      if (sat) begin_fault(t_us, "saturated outside a pulse");
      push_block(t_us, ys);
      return std::nullopt;
    case State::idle:
      if (ys > on_) {
        sat_in_pulse_ = sat;
        start_pulse(t_us);
      } else {
        if (sat) begin_fault(t_us, "saturated outside a pulse");
        idle_sample(t_us, ys);
      }
      return std::nullopt;
    case State::pulse:
      break;
  }
  buf_.push_back(y);
  sat_in_pulse_ = sat_in_pulse_ || sat;
  const std::size_t idx = buf_.size() - 1;
  if (ys > off_) last_above_ = idx;
  if (t_us - start_us_ > max_pulse_us_) {
    // Not a wheel: a step of the zero up, or a stuck-high channel. Re-zero to the recent
    // level (a mean, not one noisy sample) and report.
    const std::size_t k = std::min<std::size_t>(buf_.size(), static_cast<std::size_t>(0.1 / dt_s_));
    double mean = 0;
    for (std::size_t i = buf_.size() - k; i < buf_.size(); ++i) mean += buf_[i];
    mean /= static_cast<double>(std::max<std::size_t>(1, k));
    state_ = State::idle;
    rezero(start_us_, t_us, mean,
           "pulse longer than max_pulse_s (zero step or stuck high): re-zeroed");
    return std::nullopt;
  }
  if (idx - last_above_ >= std::max(bridge_n_, margin_n_)) return end_pulse(t_us);
  return std::nullopt;
}

void ChannelDetector::idle_sample(std::int64_t t_us, float ys) {
  if (t_us >= holdoff_until_us_) push_block(t_us, ys);
}

void ChannelDetector::end_noise_block(std::int64_t t_us) {
  std::vector<float>& v = block_;
  const float m = median_of(v);
  for (float& x : v) x = std::abs(x - m);
  const float sigma = 1.4826f * median_of(v);
  sigmas_[n_sigmas_++ % kNoiseBlocks] = sigma;
  std::array<float, kNoiseBlocks> sc = sigmas_;
  const auto n_sc = static_cast<std::ptrdiff_t>(std::min(n_sigmas_, kNoiseBlocks));
  std::nth_element(sc.begin(), sc.begin() + n_sc / 2, sc.begin() + n_sc);
  const float sig = sc[static_cast<std::size_t>(n_sc / 2)];
  on_ = std::max(on_min_, static_cast<float>(k_on_ * sig));
  off_ = std::max(off_min_, static_cast<float>(k_off_ * sig));
  noise_raw_ = sig * std::sqrt(static_cast<double>(smooth_n_));  // white-noise equivalent
  block_.clear();
  if (state_ == State::warmup) {
    baseline_ += m;  // initial zero-setting (its range is checked below like any other)
    last_block_us_ = t_us;
    state_ = State::idle;
    sum_ = 0, ring_n_ = 0;
  } else if (std::abs(m) > off_) {
    // The between-pulse level left the zero faster than tracking may follow: a step.
    const std::int64_t span = static_cast<std::int64_t>(block_n_ * stride_) * dt_us_;
    rezero(block_start_us_ - span, t_us, m, "between pulses: re-zeroed");
  } else {
    // Drift: follow the block's median, by at most the tracking rate over the time since
    // the last block (blocks only fill between pulses, so that can be longer than one).
    const double elapsed_s = static_cast<double>(t_us - last_block_us_) * 1e-6;
    const double lim = max_rate_ * elapsed_s;
    baseline_ += std::clamp(m * std::min(1.0, elapsed_s / tau_s_), -lim, lim);
  }
  last_block_us_ = t_us;
  check_range(t_us);
}

void ChannelDetector::rezero(std::int64_t from_us, std::int64_t t_us, double delta,
                             const char* how) {
  baseline_ += delta;
  sum_ = 0, ring_n_ = 0;  // the ring holds samples relative to the old zero
  ++zero_steps_;
  char what[160];
  std::snprintf(what, sizeof what, "zero step of %+.0f counts %s", delta, how);
  add_fault({channel_, from_us, t_us, what});
  check_range(t_us);
}

void ChannelDetector::check_range(std::int64_t t_us) {
  const double dev = baseline_ - zero_cfg_;
  const bool out = std::abs(dev) > range_;
  if (out && !out_of_range_) {
    char what[160];
    std::snprintf(what, sizeof what, "%s (%+.0f counts from the configured zero, limit %.0f)",
                  std::string(kRange).c_str(), dev, range_);
    add_fault({channel_, t_us, kOngoing, what});
  } else if (!out && out_of_range_) {
    end_fault(t_us, kRange);
  }
  out_of_range_ = out;
}

void ChannelDetector::start_pulse(std::int64_t t_us) {
  state_ = State::pulse;
  buf_.clear();
  // The window reaches back to where the smoothed signal first rose above the off level,
  // and a margin before the samples that went into that average.
  const std::size_t cur = pos_ - 1;
  const std::size_t avail = ring_n_ - 1;  // valid samples before the current one
  std::size_t k = 0;
  while (k < avail && ring_s_[(cur - k - 1) & kRingMask] > off_) ++k;
  const std::size_t back = std::min(avail, k + smooth_n_ + margin_n_);
  for (std::size_t j = back; j > 0; --j) buf_.push_back(ring_[(cur - j) & kRingMask]);
  buf_.push_back(ring_[cur & kRingMask]);
  first_above_ = back - k;
  last_above_ = back;
  start_us_ = t_us - static_cast<std::int64_t>(back) * dt_us_;
}

std::optional<Pulse> ChannelDetector::end_pulse(std::int64_t t_us) {
  state_ = State::idle;
  holdoff_until_us_ = t_us + holdoff_us_;
  buf_.resize(std::min(buf_.size(), last_above_ + margin_n_ + 1));
  const std::size_t core = last_above_ - first_above_ + 1;
  if (core < min_core_n_) {  // shorter than any tyre crossing the sensor: noise or a spike
    ++rejected_;
    return std::nullopt;
  }
  Pulse p;
  p.channel = channel_;
  p.start_us = start_us_;
  p.end_us = start_us_ + static_cast<std::int64_t>(buf_.size() - 1) * dt_us_;
  p.dt_s = dt_s_;
  p.saturated = sat_in_pulse_;
  // The smoothed signal crosses a level smooth_n_/2 samples after the raw one.
  const std::size_t half = smooth_n_ / 2;
  p.lead_samples = first_above_ >= half ? first_above_ - half : 0;
  p.core_samples = std::min(core, buf_.size() - p.lead_samples);
  double sum = 0, tsum = 0;
  float peak = 0, run = 0;
  for (std::size_t i = 0; i < buf_.size(); ++i) {
    sum += buf_[i];
    tsum += buf_[i] * static_cast<double>(i);
    run += buf_[i];
    if (i >= smooth_n_) run -= buf_[i - smooth_n_];
    if (i + 1 >= smooth_n_) peak = std::max(peak, run / static_cast<float>(smooth_n_));
  }
  p.area_counts_s = sum * dt_s_;
  p.peak_counts = peak;
  p.centroid_us =
      static_cast<double>(start_us_) + (sum > 0 ? tsum / sum : 0.0) * static_cast<double>(dt_us_);
  // Ramps on the raw samples, searched only around the part above the off level.
  const std::size_t from = first_above_ > smooth_n_ ? first_above_ - smooth_n_ : 0;
  const std::size_t to = std::min(buf_.size(), last_above_ + 1);
  const double rise =
      crossing_up(buf_, from, to, 0.9f * peak) - crossing_up(buf_, from, to, 0.1f * peak);
  const double fall =
      crossing_down(buf_, from, to, 0.1f * peak) - crossing_down(buf_, from, to, 0.9f * peak);
  p.ramp_s = (rise + fall) / 2 / 0.8 * dt_s_;
  p.samples = buf_;
  return p;
}

void ChannelDetector::add_fault(ChannelFault f) {
  faults_.push_back(std::move(f));
  if (faults_.size() > 256) faults_.pop_front();
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
  const bool ongoing = std::string_view(what) == kFlat;
  add_fault({channel_, t_us, ongoing ? kOngoing : t_us, what});
}

void ChannelDetector::end_fault(std::int64_t t_us, std::string_view prefix) {
  for (ChannelFault& f : faults_)
    if (f.to_us == kOngoing && std::string_view(f.what).starts_with(prefix)) f.to_us = t_us;
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
