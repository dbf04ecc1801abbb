// SPDX-License-Identifier: Apache-2.0
// The real Modbus driver against the simulated amplifier's fault modes (issue 20), on a
// WarpClock shared by both: backoff and freezes of seconds run in milliseconds.
#include <sys/wait.h>
#include <atomic>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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

// The driver's response timeout, real time: far above loopback latency. Under qemu-user
// (the aarch64 cross test) the simulated amplifier is 5-10 times slower, and after a
// warp-clock jump of seconds it first synthesises the samples of that time; at 100 ms
// it missed its answers, each miss added a backoff step of warp time and so more
// samples to synthesise, and the link never came back (CI of stop 24).
#ifdef WIM_TEST_EMULATED
constexpr int kResponseTimeoutMs = 2000;
#else
constexpr int kResponseTimeoutMs = 100;
#endif

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
  mo.response_timeout_ms = kResponseTimeoutMs;
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

TEST_CASE("modbus faults: a FIFO that overflows on while its backlog is read loses, not restarts",
          "[hw][modbus][faults]") {
  // After a freeze the FIFO is full and the device samples on while the driver drains
  // it: when reads come slower than the samples, the newest overwrite the oldest and the
  // backlog read spans more samples than the FIFO holds. Each read's counter jump is
  // bounded by the capacity at its own reply, not at the drained one's (CI of stop 25:
  // under qemu the drain was slow, a 1-sample overwrite was taken for a restart). Here
  // the test paces the driver: read() calls of 1 ms (a few to 20 requests of 15 samples),
  // and after the link is back the clock jumps 500 ms after each of 10 calls (500 samples
  // made, at most 300 read).
  // 1 kHz and a 2 000-sample FIFO keep it short, also under qemu.
  sim::SimOptions o;
  o.site.sample_rate_hz = 1000;
  sim::ServerOptions so;
  so.fifo_capacity = 2000;
  // 8 s: several response timeouts (2 s each under qemu) make it an outage.
  so.faults.freeze_window = {2.0, 10.0};
  WarpAmp amp(o, so);
  std::ifstream in(kMap);
  REQUIRE(in);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto j = boost::json::parse(text);
  j.at("sample_rate_hz") = 1000;
  j.at("fifo").at("capacity_samples") = 2000;
  ModbusSource src(RegisterMap::from_json(j, "1 kHz map"), amp.endpoint(), amp.names(),
                   warp_options(amp.clock));
  Run r;
  SampleBlock b;
  bool was_down = false;
  int slow_calls = 0;
  const std::int64_t end = amp.clock.mono_us() + 20'000'000;
  while (amp.clock.mono_us() < end) {
    REQUIRE(src.read(b, 1ms));
    r.events.insert(r.events.end(), b.events.begin(), b.events.end());
    for (const auto& l : b.lost) r.lost += l.count;
    const bool down = src.condition().find("device_outage") == 0;
    was_down = was_down || down;
    const bool slow = was_down && !down && slow_calls < 10;
    slow_calls += slow;
    amp.clock.advance_us(slow ? 500'000 : 0);
  }
  const auto st = amp.server.stats();
  INFO(src.status());
  CHECK(slow_calls == 10);
  CHECK(st.samples_overflowed > 6000 + 10 * 100);  // the freeze's, then >= 200 per slow call
  CHECK(of_kind(r, "device_outage").size() == 2);
  CHECK(of_kind(r, "device_restart").empty());
  CHECK(src.counters().counter_resets == 0);
  CHECK(r.lost == st.samples_overflowed);  // every overwritten sample, nothing else
  CHECK(src.condition().empty());
}

TEST_CASE("modbus faults: an ADC that stalls under a live Modbus task is device_frozen",
          "[hw][modbus][faults]") {
  sim::SimOptions o;
  sim::ServerOptions so;
  so.faults.stall_window = {2.0, 6.0};  // 4 s of answers without a new sample
  WarpAmp amp(o, so);
  ModbusSource src(RegisterMap::load(kMap), amp.endpoint(), amp.names(), warp_options(amp.clock));
  Run r = run_for(src, amp.clock, 4);
  CHECK(src.condition().find("device_frozen since") == 0);  // what `wim-edge status` shows
  const Run r2 = run_for(src, amp.clock, 6);
  r.events.insert(r.events.end(), r2.events.begin(), r2.events.end());
  r.lost += r2.lost;
  INFO(src.status());
  const auto ev = of_kind(r, "device_frozen");
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].phase == "began");
  CHECK(ev[1].phase == "ended");
  const double span_s = static_cast<double>(ev[1].to_unix_us - ev[1].from_unix_us) * 1e-6;
  CHECK(span_s >= 3.9);
  CHECK(span_s <= 4.0 + 1.0);                   // the driver polls on: back within a poll or two
  CHECK(of_kind(r, "device_outage").empty());   // it answered all along
  CHECK(of_kind(r, "device_restart").empty());  // and did not restart
  CHECK(r.lost == 0);                           // the ADC made nothing to lose
  CHECK(src.counters().freezes == 1);
  CHECK(src.condition().empty());
}

TEST_CASE("wim-sim serve: the fault modes are command-line options, bad values named",
          "[hw][modbus][faults]") {
  const std::string sim_bin = WIM_TEST_EMULATOR + std::string(WIM_BINARY_DIR) + "/hw/wim-sim";
  auto run = [&](const std::string& args) {
    FILE* p = ::popen((sim_bin + " serve --modbus-tcp 127.0.0.1:0 " + args + " 2>&1").c_str(), "r");
    REQUIRE(p);
    std::string out;
    char line[512];
    while (std::fgets(line, sizeof line, p)) out += line;
    const int st = ::pclose(p);
    return std::pair{WEXITSTATUS(st), out};
  };
  for (const auto& [args, what] : std::vector<std::pair<std::string, std::string>>{
           {"--freeze 5,2", "--freeze: '5,2': FROM must be >= 0 and TO after FROM"},
           {"--exception 1,x", "--exception: 'x' in '1,x' is not a number"},
           {"--exception 1,2,300", "the exception code is not 1..255"},
           {"--stall 1", "--stall: '1' is not FROM,TO"},
           {"--restart 1,2,3", "--restart: '1,2,3' is not FROM,TO"}}) {
    const auto [rc, out] = run(args);
    INFO(args << " -> " << out);
    CHECK(rc == 1);
    CHECK(out.find(what) != std::string::npos);
  }
  // A served exception window reaches the wire: the real driver sees exception 04.
  FILE* p = ::popen(
      (sim_bin + " serve --modbus-tcp 127.0.0.1:0 --exception 0,3600,4 --duration 3").c_str(), "r");
  REQUIRE(p);
  char line[256] = {};
  REQUIRE(std::fgets(line, sizeof line, p));
  int port = 0;
  REQUIRE(std::sscanf(std::strstr(line, "127.0.0.1:"), "127.0.0.1:%d", &port) == 1);
  sim::SimOptions o;
  std::vector<std::string> names;
  for (const auto& c : o.site.channels(o.seed)) names.push_back(c.name);
  ModbusOptions mo;
  mo.response_timeout_ms = kResponseTimeoutMs;
  ModbusSource src(RegisterMap::load(kMap),
                   ModbusEndpoint::parse("tcp:127.0.0.1:" + std::to_string(port)), names, mo);
  SampleBlock b;
  for (int i = 0; i < 10 && src.counters().exceptions == 0; ++i) src.read(b, 100ms);
  INFO(src.status());
  CHECK(src.counters().exceptions > 0);
  CHECK(src.status().find("exception 04") != std::string::npos);
  CHECK(b.size() == 0);
  ::pclose(p);
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
  // One restart, told by the elapsed time; the 5 000-sample jump of its counter is not
  // reported as lost samples (issue 20 item 3: it was, 19 573 of them, before).
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].reason.find("elapsed time") != std::string::npos);
  CHECK(r.lost == 0);
  CHECK(src.counters().lost_samples == 0);
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
    // Newest sample of the last block against the clock around the read that returned
    // it: within a few ms. It was taken during that read (a drained reply), so it is
    // bounded by the clock after the read from above and before it from below; a test
    // thread descheduled between the two (qemu under load) widens neither bound.
    SampleBlock b;
    std::int64_t late_us = 0, early_us = 0;
    for (int i = 0; i < 50; ++i) {
      const std::int64_t before = amp.clock.mono_us();
      src.read(b, 100ms);
      const std::int64_t after = amp.clock.mono_us();
      if (b.size() == 0) continue;
      late_us = b.t_mono_us.back() - after;
      early_us = before - b.t_mono_us.back();
    }
    INFO("ppm " << ppm << " estimated " << src.drift_ppm() << " late " << late_us << " us, early "
                << early_us << " us");
    CHECK(std::abs(src.drift_ppm() - ppm) < 50);
    // A sample is stamped no later than it was handed over (+ the anchor's slack) and
    // no more than 5 ms before the read began: uncorrected it would be 40 ms off.
    CHECK(late_us <= static_cast<std::int64_t>(src.counters().anchor_uncertainty_us) + 1000);
    CHECK(early_us < 5000);
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
