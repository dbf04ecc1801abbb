// SPDX-License-Identifier: Apache-2.0
// The real Modbus driver against the simulated amplifier's fault modes (issue 20), on a
// WarpClock shared by both: backoff and freezes of seconds run in milliseconds.
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "modbus_server.hpp"
#include "record.hpp"
#include "wim/common/log.hpp"
#include "wim/hw/device_timebase.hpp"
#include "wim/hw/modbus_source.hpp"
#include "wim/hw/register_map.hpp"

using namespace wim;
using namespace wim::hw;
using namespace std::chrono_literals;

namespace {

const std::string kMap = std::string(WIM_SOURCE_DIR) + "/hw/maps/wim-sim-amplifier.json";

struct WarpAmp {
  WarpClock clock;
  sim::SimOptions sopt;
  sim::AmplifierServer server;
  std::atomic<bool> stop{false};
  std::thread thread;
  int port = 0;
  static sim::ServerOptions with_clock(sim::ServerOptions so, WarpClock& c) {
    so.clock = &c;
    return so;
  }
  WarpAmp(const sim::SimOptions& o, const sim::ServerOptions& so)
      : sopt(o), server(sim::make_synth(o), with_clock(so, clock)) {
    port = server.listen_tcp("127.0.0.1", 0);
    thread = std::thread([this] { server.run(stop); });
  }
  ~WarpAmp() {
    stop = true;
    thread.join();
  }
  std::vector<std::string> names() const {
    std::vector<std::string> n;
    for (const auto& c : sopt.site.channels(sopt.seed)) n.push_back(c.name);
    return n;
  }
  ModbusEndpoint endpoint() const {
    return ModbusEndpoint::parse("tcp:127.0.0.1:" + std::to_string(port));
  }
};

struct Run {
  std::vector<DeviceEvent> events;
  std::uint64_t samples = 0, lost = 0;
  std::int64_t max_late_us = 0, max_early_us = 0;  // stamp - clock at hand-over, newest sample
};

/// Reads for `device_s` seconds of the warp clock.
Run run_for(ModbusSource& src, WarpClock& clock, double seconds) {
  Run r;
  SampleBlock b;
  const std::int64_t end = clock.mono_us() + static_cast<std::int64_t>(seconds * 1e6);
  while (clock.mono_us() < end) {
    REQUIRE(src.read(b, 100ms));
    r.events.insert(r.events.end(), b.events.begin(), b.events.end());
    for (const auto& l : b.lost) r.lost += l.count;
    r.samples += b.size();
  }
  return r;
}

std::vector<DeviceEvent> of_kind(const Run& r, const std::string& kind) {
  std::vector<DeviceEvent> out;
  for (const auto& e : r.events)
    if (e.kind == kind) out.push_back(e);
  return out;
}

ModbusOptions warp_options(WarpClock& c) {
  ModbusOptions mo;
  mo.clock = &c;
  mo.response_timeout_ms = 100;  // real time: far above loopback latency
  return mo;
}

}  // namespace

TEST_CASE("modbus faults: 3 s of exception 06 back off on one connection, one event, two log lines",
          "[hw][modbus][faults]") {
  sim::SimOptions o;
  sim::ServerOptions so;
  so.faults.exception_window = {2.0, 5.0};
  so.faults.exception_code = 6;
  WarpAmp amp(o, so);
  std::vector<std::string> lines;
  log::set_sink([&](log::Level, std::string_view l) {
    if (l.find("link") != std::string_view::npos) lines.emplace_back(l);
  });
  ModbusSource src(RegisterMap::load(kMap), amp.endpoint(), amp.names(), warp_options(amp.clock));
  const Run r = run_for(src, amp.clock, 10);
  log::set_sink(nullptr);
  const auto st = amp.server.stats();
  INFO(src.status());
  // Backoff 50, 100, … up to 5000 ms (the status reads' exceptions double it too): a
  // handful of requests in 3 s, not thousands.
  CHECK(st.exceptions >= 3);
  CHECK(st.exceptions <= 20);
  CHECK(st.connections == 1);
  CHECK(src.counters().reconnects == 0);
  const auto ev = of_kind(r, "device_outage");
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].phase == "began");
  CHECK(ev[1].phase == "ended");
  CHECK(ev[1].reason.find("exception 06 (server device busy)") != std::string::npos);
  const double span_s = static_cast<double>(ev[1].to_unix_us - ev[1].from_unix_us) * 1e-6;
  // The outage lasted 3 s; back within one backoff ceiling (5 s) after it ended.
  CHECK(span_s >= 2.9);
  CHECK(span_s <= 3.0 + 5.2);
  CHECK(lines.size() == 2);                 // "link lost" and "link back", nothing per retry
  CHECK(src.counters().lost_samples == 0);  // the FIFO kept the samples
  CHECK(src.condition().empty());
}

TEST_CASE("modbus faults: a 20 s freeze with the socket open: outage event, lost = overflowed",
          "[hw][modbus][faults]") {
  sim::SimOptions o;
  sim::ServerOptions so;
  so.faults.freeze_window = {2.0, 22.0};
  WarpAmp amp(o, so);
  ModbusSource src(RegisterMap::load(kMap), amp.endpoint(), amp.names(), warp_options(amp.clock));
  Run r = run_for(src, amp.clock, 12);
  CHECK(src.condition().find("device_outage since") == 0);  // what `wim-edge status` shows
  const Run r2 = run_for(src, amp.clock, 28);
  r.events.insert(r.events.end(), r2.events.begin(), r2.events.end());
  r.lost += r2.lost;
  const auto st = amp.server.stats();
  INFO(src.status());
  const auto ev = of_kind(r, "device_outage");
  REQUIRE(ev.size() == 2);
  const double span_s = static_cast<double>(ev[1].to_unix_us - ev[1].from_unix_us) * 1e-6;
  CHECK(span_s >= 19.9);
  CHECK(span_s <= 20 + 5.2);  // recovery within one backoff ceiling
  // 20 s x 4 kHz = 80 000 samples into a 65 536-sample FIFO: the overwritten ones are
  // reported lost, exactly.
  CHECK(st.samples_overflowed > 0);
  CHECK(r.lost == st.samples_overflowed + st.samples_dropped);
  CHECK(src.condition().empty());
}

TEST_CASE("modbus faults: a restart whose counter comes back above the old one is a restart",
          "[hw][modbus][faults]") {
  sim::SimOptions o;
  sim::ServerOptions so;
  so.faults.restart = {3.0, 8.0};               // 5 s without power
  so.faults.restart_counter = 3 * 4000 + 5000;  // above the old, below the elapsed time
  WarpAmp amp(o, so);
  auto map = RegisterMap::load(kMap);
  map.boot_counter.reset();  // the counter and the clock alone must tell
  map.uptime_s.reset();
  ModbusSource src(map, amp.endpoint(), amp.names(), warp_options(amp.clock));
  const Run r = run_for(src, amp.clock, 16);
  INFO(src.status());
  const auto rs = of_kind(r, "device_restart");
  for (const auto& e : rs) UNSCOPED_INFO(e.reason);
  // Known defect (docs/notes/issue-20.md): the jump and the timebase both report it.
  REQUIRE(rs.size() >= 1);
  CHECK(rs.size() <= 2);
  CHECK(rs[0].reason.find("elapsed time") != std::string::npos);
  // Known defect (docs/notes/issue-20.md): the 5 000-sample jump is still also reported
  // as lost samples before the timebase calls it a restart; not asserted here.
  CHECK(of_kind(r, "device_outage").size() == 2);
  AND_THEN("with the boot counter in the map it is named as such") {
    WarpAmp amp2(o, so);
    ModbusSource src2(RegisterMap::load(kMap), amp2.endpoint(), amp2.names(),
                      warp_options(amp2.clock));
    const Run r2 = run_for(src2, amp2.clock, 16);
    const auto rs2 = of_kind(r2, "device_restart");
    REQUIRE(rs2.size() >= 1);
    CHECK(rs2[0].reason.find("boot counter") != std::string::npos);
  }
}

TEST_CASE("modbus faults: a 16-bit counter is unwrapped by the elapsed time",
          "[hw][modbus][faults]") {
  sim::SimOptions o;
  sim::ServerOptions so;
  so.fifo_capacity = 4096;
  so.faults.freeze_window = {2.0, 28.0};  // 26 s: 104 000 samples, the FIFO keeps 4 096
  WarpAmp amp(o, so);
  auto map = RegisterMap::load(kMap);
  map.counter_type = ValueType::uint16;  // the low word of the simulator's counter
  map.counter_offset = 1;
  map.capacity_samples = 4096;
  ModbusSource src(map, amp.endpoint(), amp.names(), warp_options(amp.clock));
  const Run r = run_for(src, amp.clock, 36);
  const auto st = amp.server.stats();
  INFO(src.status());
  CHECK(st.samples_overflowed > 65536);  // more than the counter can tell alone
  CHECK(r.lost == st.samples_overflowed + st.samples_dropped);
  CHECK(of_kind(r, "device_restart").empty());
}

TEST_CASE("modbus faults: an acknowledged FIFO loses nothing when answers are dropped",
          "[hw][modbus][faults]") {
  sim::SimOptions o;
  sim::ServerOptions so;
  so.ack_fifo = true;
  so.faults.drop_prob = 0.02;
  WarpAmp amp(o, so);
  auto map = RegisterMap::load(kMap);
  map.ack_address = sim::reg::fifo_ack;
  auto mo = warp_options(amp.clock);
  mo.response_timeout_ms = 30;
  mo.errors_before_reconnect = 1000;
  ModbusSource src(map, amp.endpoint(), amp.names(), mo);
  const Run r = run_for(src, amp.clock, 6);
  const auto st = amp.server.stats();
  INFO(src.status());
  CHECK(st.dropped > 0);
  CHECK(src.counters().timeouts == st.dropped);
  CHECK(r.lost == 0);
  CHECK(src.counters().acks > 0);
}

TEST_CASE("modbus faults: device clock drift of +-1000 ppm is corrected", "[hw][modbus][faults]") {
  for (double ppm : {-1000.0, 1000.0}) {
    sim::SimOptions o;
    sim::ServerOptions so;
    so.faults.drift_ppm = ppm;
    WarpAmp amp(o, so);
    ModbusSource src(RegisterMap::load(kMap), amp.endpoint(), amp.names(), warp_options(amp.clock));
    run_for(src, amp.clock, 40);
    // Newest sample of the last block against the clock now: within a few ms.
    SampleBlock b;
    std::int64_t err_us = 0;
    for (int i = 0; i < 50; ++i) {
      src.read(b, 100ms);
      if (b.size() > 0) err_us = b.t_mono_us.back() - amp.clock.mono_us();
    }
    INFO("ppm " << ppm << " estimated " << src.drift_ppm() << " error " << err_us << " us");
    CHECK(std::abs(src.drift_ppm() - ppm) < 50);
    // A sample is stamped no later than it was handed over (+ the anchor's slack) and
    // no more than 5 ms before: uncorrected it would be 40 ms off.
    CHECK(err_us <= static_cast<std::int64_t>(src.counters().anchor_uncertainty_us) + 1000);
    CHECK(err_us > -5000);
  }
}

TEST_CASE("timebase: an hour at +-100 ppm with jittery round trips stays within the bound",
          "[hw][modbus][timebase]") {
  for (double ppm : {-100.0, 100.0}) {
    // GIVEN a device at 4 kHz whose crystal is off by ppm, read every 3.75 ms with a
    // round trip of 200..1200 us (deterministic jitter)
    DeviceTimebase tb(4000);
    const double true_period_us = 250.0 / (1 + ppm * 1e-6);
    std::uint64_t idx = 14;
    std::int64_t req = 0;
    tb.anchor(idx, 1000, 1000);  // first read: newest sample 14 taken at ~1000 us
    std::int64_t max_late = 0, max_early = 0;
    std::uint32_t lcg = 1;
    for (int i = 0; i < 960000; ++i) {  // 3600 s
      req += 3750;
      lcg = lcg * 1664525u + 1013904223u;
      const std::int64_t rtt = 200 + (lcg >> 8) % 1000;
      const std::int64_t answer = req + rtt / 2;
      // newest sample taken before the device answered
      idx = static_cast<std::uint64_t>(std::floor((static_cast<double>(answer)) / true_period_us));
      const std::int64_t taken = std::llround(static_cast<double>(idx) * true_period_us);
      tb.observe(idx, req, req + rtt, req + rtt);
      if (i > 8000) {  // after the first windows
        const std::int64_t err = tb.mono_at(idx) - taken;
        max_late = std::max(max_late, err);
        max_early = std::min(max_early, err);
      }
    }
    INFO("ppm " << ppm << ": estimated " << tb.drift_ppm() << ", late up to " << max_late
                << " us, early up to " << -max_early << " us");
    CHECK(std::abs(tb.drift_ppm() - ppm) < 2);
    CHECK(max_late < 1500);  // best round trip + one period + estimation error
    CHECK(max_early > -100);
  }
}
