// SPDX-License-Identifier: Apache-2.0
// The real Modbus driver against the simulated amplifier (ArduPilot style: fake the
// device at the bus, run the real driver), over TCP and RTU on a pseudo-terminal.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>

#include "modbus_server.hpp"
#include "record.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/hw/modbus_source.hpp"
#include "wim/hw/register_map.hpp"

using namespace wim;
using namespace wim::hw;
using namespace std::chrono_literals;

namespace {

const std::string kMap = std::string(WIM_SOURCE_DIR) + "/hw/maps/wim-sim-amplifier.json";

/// A simulated amplifier served from a thread for the duration of a test.
struct SimAmp {
  sim::SimOptions sim;
  sim::AmplifierServer server;
  std::atomic<bool> stop{false};
  std::thread thread;
  int port = 0;
  std::string pty;

  SimAmp(const sim::SimOptions& o, const sim::ServerOptions& so, bool rtu = false)
      : sim(o), server(sim::make_synth(o), so) {
    if (rtu)
      pty = server.open_rtu_pty("");
    else
      port = server.listen_tcp("127.0.0.1", 0);
    thread = std::thread([this] { server.run(stop); });
  }
  ~SimAmp() {
    stop = true;
    thread.join();
  }
  std::vector<std::string> names() const {
    std::vector<std::string> n;
    for (const auto& c : sim.site.channels(sim.seed)) n.push_back(c.name);
    return n;
  }
  ModbusEndpoint endpoint() const {
    return pty.empty() ? ModbusEndpoint::parse("tcp:127.0.0.1:" + std::to_string(port))
                       : ModbusEndpoint::parse("rtu:" + pty + ":115200:8N1");
  }
};

/// Reads until `samples` (per channel) were delivered or reported lost, checking that
/// every block continues where the previous one ended.
struct Collected {
  std::vector<std::vector<std::int32_t>> counts;
  std::uint64_t lost = 0, first_index = 0;
  std::vector<LostSpan> spans;
  bool contiguous = true;
};
Collected collect(ModbusSource& src, std::uint64_t samples, std::chrono::seconds limit) {
  Collected out;
  out.counts.resize(src.channels().size());
  SampleBlock b;
  std::uint64_t next = 0;
  bool first = true;
  const auto end = std::chrono::steady_clock::now() + limit;
  while (out.counts[0].size() + out.lost < samples && std::chrono::steady_clock::now() < end) {
    REQUIRE(src.read(b, 100ms));
    if (b.size() == 0 && b.lost.empty()) continue;
    for (const auto& l : b.lost) {
      if (!first && l.first_index != next) out.contiguous = false;
      next = l.first_index + l.count;
      out.lost += l.count;
      out.spans.push_back(l);
    }
    if (b.size() == 0) continue;
    if (first) out.first_index = b.first_index;
    if (!first && b.first_index != next) out.contiguous = false;
    first = false;
    next = b.first_index + b.size();
    for (std::size_t i = 1; i < b.size(); ++i)
      if (b.t_unix_us[i] <= b.t_unix_us[i - 1]) out.contiguous = false;
    for (std::size_t c = 0; c < b.counts.size(); ++c)
      out.counts[c].insert(out.counts[c].end(), b.counts[c].begin(), b.counts[c].end());
  }
  return out;
}

/// What the amplifier must have sent: the same synth, sample by sample.
std::vector<std::vector<std::int32_t>> reference(const sim::SimOptions& o, std::uint64_t from,
                                                 std::size_t n) {
  auto synth = sim::make_synth(o);
  std::vector<std::int32_t> row(synth->channels().size());
  std::vector<std::vector<std::int32_t>> out(row.size());
  for (std::uint64_t i = 0; i < from + n; ++i) {
    synth->next(row);
    if (i >= from)
      for (std::size_t c = 0; c < row.size(); ++c) out[c].push_back(row[c]);
  }
  return out;
}

}  // namespace

TEST_CASE("modbus: the shipped register map loads and fits one Modbus read", "[hw][modbus]") {
  const RegisterMap m = RegisterMap::load(kMap);
  CHECK(m.channel_count == 8);
  CHECK(m.sample_rate_hz == 4000);
  CHECK(m.fifo_registers() <= 125);
  CHECK(m.fifo_address == sim::reg::fifo);
  CHECK(m.max_samples == (125 - sim::reg::fifo_header) / 8);
  const std::uint16_t be[2] = {0x0001, 0x0002}, le[2] = {0x0002, 0x0001};
  CHECK(m.decode_counter(be) == 0x00010002u);
  RegisterMap l = m;
  l.counter_word_order = WordOrder::little;
  CHECK(l.decode_counter(le) == 0x00010002u);
  l.value_type = ValueType::int32;
  l.value_word_order = WordOrder::big;
  const std::uint16_t neg[2] = {0xffff, 0xfffe};
  std::int32_t v = 0;
  CHECK((l.decode_value(neg, v) && v == -2));
  const std::uint16_t i16 = 0xfffe;
  CHECK((m.decode_value(&i16, v) && v == -2));
}

TEST_CASE("modbus: bad register maps are refused at start, naming the field", "[hw][modbus]") {
  auto base = json::load_file(kMap).as_object();
  auto refused = [&](auto edit, const std::string& field) {
    boost::json::object o = base;
    edit(o);
    CHECK_THROWS_WITH(RegisterMap::from_json(o, "amp.json"),
                      Catch::StartsWith("amp.json: ") && Catch::Contains(field));
  };
  refused([](auto& o) { o.erase("channel_count"); }, "channel_count");
  refused([](auto& o) { o["channel_count"] = 40; }, "channel_count");
  refused([](auto& o) { o["sample_rate_hz"] = -1; }, "sample_rate_hz");
  refused([](auto& o) { o["table"] = "coils"; }, "table");
  refused([](auto& o) { o["fifo"].as_object()["max_samples"] = 16; }, "fifo.max_samples");
  refused([](auto& o) { o["fifo"].as_object()["max_samples"] = 0; }, "fifo.max_samples");
  refused([](auto& o) { o["fifo"].as_object()["data_offset"] = 1; }, "fifo.data_offset");
  refused([](auto& o) { o["fifo"].as_object()["counter"].as_object()["type"] = "int32"; },
          "fifo.counter.type");
  refused([](auto& o) { o["value"].as_object()["type"] = "float"; }, "value.type");
  refused([](auto& o) { o["value"].as_object()["word_order"] = "middle"; }, "value.word_order");
  refused([](auto& o) { o["value"].as_object()["scale"] = 0; }, "value.scale");
  refused([](auto& o) { o["fifo"].as_object()["address"] = 65500; }, "fifo.address");
  refused([](auto& o) { o["fifo"] = "here"; }, "fifo");
  // Typos are refused, naming the field (and what it resembles), never defaulted.
  refused([](auto& o) { o["tabel"] = "input"; }, "tabel: unknown field (did you mean 'table'?)");
  refused([](auto& o) { o["value"].as_object()["word_ordr"] = "little"; },
          "value.word_ordr: unknown field (did you mean 'word_order'?)");
  refused([](auto& o) { o["fifo"].as_object()["counter"].as_object()["wordorder"] = "big"; },
          "fifo.counter.wordorder: unknown field");
  refused([](auto& o) { o["fifo"].as_object()["lay_out"] = "sample_major"; },
          "fifo.lay_out: unknown field (did you mean 'layout'?)");
  refused([](auto& o) { o["status"].as_object()["fault_bit_address"] = 9; },
          "status.fault_bit_address: unknown field (did you mean 'fault_bits_address'?)");
  refused([](auto& o) { o["identity"].as_object()["vaule"] = 1; }, "identity.vaule: unknown field");
  refused([](auto& o) { o["slave_id"] = 256; }, "slave_id");
  refused([](auto& o) { o["fifo"].as_object()["layout"] = "column_major"; }, "fifo.layout");
  refused(
      [](auto& o) {
        o["identity"].as_object()["values"] = boost::json::array{1, 2};
      },
      "identity: give exactly one of");
  refused(
      [](auto& o) {
        o["identity"] =
            boost::json::object{{"address", 0}, {"values", boost::json::array{1, 70000}}};
      },
      "identity.values[1]");
  refused(
      [](auto& o) {
        o["device_info"] = boost::json::object{{"rate", 1}};
      },
      "device_info.rate: unknown field");
  refused([](auto& o) { o["fifo"].as_object()["counter"].as_object()["offset"] = 3; },
          "fifo.data_offset");  // the counter now sits in the data
  refused(
      [](auto& o) {
        o["status"].as_object()["overflow"] = boost::json::object{{"address", 5}, {"bit", 16}};
      },
      "status.overflow.bit");
  refused(
      [](auto& o) {
        o["channel_count"] = 20;
        o["fifo"].as_object()["max_samples"] = 6;
      },
      "status.fault_bits_registers");
  RegisterMap tcp_id = RegisterMap::load(kMap);
  tcp_id.slave_id = 255;  // fine over TCP, not on a serial line
  CHECK_THROWS_WITH(
      ModbusSource(tcp_id, ModbusEndpoint::parse("rtu:/dev/null"), std::vector<std::string>(8, "c"))
          .status(),
      Catch::Contains("slave_id 255"));
  CHECK_THROWS_WITH(ModbusEndpoint::parse("tcp:localhost"), Catch::Contains("tcp:HOST:PORT"));
  CHECK_THROWS_WITH(ModbusEndpoint::parse("tcp:h:99999"), Catch::Contains("port"));
  CHECK_THROWS_WITH(ModbusEndpoint::parse("rtu:/dev/x:9600:8X1"), Catch::Contains("frame"));
  CHECK_THROWS_WITH(ModbusSource(RegisterMap::load(kMap), ModbusEndpoint::parse("tcp:h:1"), {"a"}),
                    Catch::Contains("1 channel names"));
}

TEST_CASE("modbus: maps for other layouts: trailer, channel-major, float32/64, unit id 255",
          "[hw][modbus]") {
  GIVEN("a map with the data first and count + counter (low word first) after it") {
    const auto m = RegisterMap::from_json(json::parse(R"({
      "table": "input", "slave_id": 255, "channel_count": 2, "sample_rate_hz": 1000,
      "identity": {"table": "holding", "address": 10, "values": [87, 73, 77]},
      "device_info": {"channel_count": {"address": 20}, "boot_counter": {"address": 21},
                      "uptime_s": {"address": 22, "type": "uint32", "word_order": "little"}},
      "fifo": {"address": 0, "data_offset": 0, "max_samples": 3, "layout": "channel_major",
               "count": {"offset": 12}, "counter": {"offset": 13, "word_order": "little"},
               "capacity_samples": 4096, "ack": {"address": 200}},
      "value": {"type": "float32", "word_order": "big", "scale": 1000},
      "status": {"fault_bits_address": 30, "fault_bits_registers": 2,
                 "overflow": {"address": 31, "bit": 3}}})",
                                                      "m"),
                                          "amp.json");
    THEN("every part is where the map says") {
      CHECK(m.slave_id == 255);
      CHECK(m.table == RegTable::input);
      CHECK(m.identity->table == RegTable::holding);
      CHECK(m.identity->values == std::vector<std::uint16_t>{87, 73, 77});
      CHECK(m.fifo_registers() == 15);
      // channel-major, stride max_samples: channel 1 sample 2 = (1 x 3 + 2) x 2 registers
      CHECK(m.value_index(2, 1) == 10);
      CHECK(m.value_index(1, 0) == 2);
      const std::uint16_t ctr[2] = {0x0002, 0x0001};  // low word first
      CHECK(m.decode_counter(ctr) == 0x00010002u);
      // 1.5f = 0x3FC00000, high word first; scale 1000 -> 1500 counts
      const std::uint16_t f[2] = {0x3fc0, 0x0000};
      std::int32_t v = 0;
      CHECK((m.decode_value(f, v) && v == 1500));
      const std::uint16_t nan[2] = {0x7fc0, 0x0000};
      CHECK_FALSE(m.decode_value(nan, v));
      CHECK(*m.capacity_samples == 4096);
      CHECK(*m.ack_address == 200);
      CHECK(m.uptime_s->decode(ctr) == 0x00010002u);
      CHECK(m.overflow_flag->bit == 3);
    }
    AND_THEN("float64, low word first, decodes too") {
      RegisterMap d = m;
      d.value_type = ValueType::float64;
      d.value_word_order = WordOrder::little;
      d.scale = 1;
      // -2.25 = 0xC002000000000000: words lowest first
      const std::uint16_t r[4] = {0x0000, 0x0000, 0x0000, 0xc002};
      std::int32_t v = 0;
      CHECK((d.decode_value(r, v) && v == -2));  // rounded half away from zero: -2.25 -> -2
    }
  }
}

TEST_CASE("modbus: TCP, 8 channels x 4 kHz, 30 simulated seconds without loss", "[hw][modbus]") {
  GIVEN("the simulated amplifier running 4x faster than real time") {
    sim::SimOptions o;
    o.seed = 21;
    o.traffic.flow_veh_per_h = 2000;
    sim::ServerOptions so;
    so.time_scale = 4;
    SimAmp amp(o, so);
    ModbusSource src(RegisterMap::load(kMap), amp.endpoint(), amp.names());
    WHEN("the driver reads 30 simulated seconds (5 minutes: tests/bench/modbus_bench)") {
      const std::uint64_t n = 30 * 4000;
      const Collected got = collect(src, n, 60s);
      INFO(src.status());
      THEN("every sample arrives, in order, bit-exact, and nothing is reported lost") {
        REQUIRE(got.counts[0].size() >= n);
        CHECK(got.lost == 0);
        CHECK(got.contiguous);
        CHECK(src.counters().timeouts == 0);
        CHECK(src.counters().gaps == 0);
        const auto ref = reference(o, got.first_index, got.counts[0].size());
        for (std::size_t c = 0; c < ref.size(); ++c) CHECK(got.counts[c] == ref[c]);
        CHECK(src.status().find("lost_samples: 0\n") != std::string::npos);
      }
    }
  }
}

TEST_CASE("modbus: RTU over a pseudo-terminal delivers the same samples", "[hw][modbus]") {
  sim::SimOptions o;
  o.seed = 5;
  sim::ServerOptions so;
  SimAmp amp(o, so, /*rtu=*/true);
  ModbusSource src(RegisterMap::load(kMap), amp.endpoint(), amp.names());
  const Collected got = collect(src, 2 * 4000, 20s);
  REQUIRE(got.counts[0].size() >= 2 * 4000);
  CHECK(got.lost == 0);
  CHECK(got.contiguous);
  const auto ref = reference(o, got.first_index, got.counts[0].size());
  for (std::size_t c = 0; c < ref.size(); ++c) CHECK(got.counts[c] == ref[c]);
}

TEST_CASE("modbus: dropped responses and disconnects are reported exactly", "[hw][modbus]") {
  GIVEN("an amplifier that drops 1 % of FIFO answers and hangs up every 300 requests") {
    sim::SimOptions o;
    o.seed = 8;
    sim::ServerOptions so;
    so.faults.drop_prob = 0.01;
    so.faults.disconnect_every = 300;
    SimAmp amp(o, so);
    ModbusOptions mo;
    mo.response_timeout_ms = 150;       // far above loopback latency, even on a busy machine
    mo.errors_before_reconnect = 1000;  // count timeouts, don't reconnect on them
    ModbusSource src(RegisterMap::load(kMap), amp.endpoint(), amp.names(), mo);
    WHEN("the driver reads 6 simulated seconds") {
      Collected got = collect(src, 6 * 4000, 40s);
      // A drop after the driver's last read shows as a gap only with the next data.
      amp.server.set_faults_enabled(false);
      const Collected tail = collect(src, 4000, 10s);
      got.lost += tail.lost;
      got.spans.insert(got.spans.end(), tail.spans.begin(), tail.spans.end());
      const sim::ServerStats st = amp.server.stats();
      const SourceCounters k = src.counters();
      THEN("every drop is a timeout, every dropped sample a lost one, every hang-up a reconnect") {
        CHECK(st.dropped > 0);
        CHECK(st.disconnects > 0);
        CHECK(k.timeouts == st.dropped);
        CHECK(k.lost_samples == st.samples_dropped);
        CHECK(got.lost == st.samples_dropped);
        // Back-to-back drops make one gap.
        CHECK(k.gaps <= st.dropped_with_samples);
        CHECK(k.gaps >= 1);
        CHECK(k.reconnects == st.disconnects);
        CHECK(k.errors == st.disconnects);
        CHECK(got.contiguous);
        AND_THEN("each lost span has the time span of its samples") {
          for (const auto& s : got.spans)
            CHECK(s.to_unix_us - s.from_unix_us == std::llround((s.count - 1) * 250.0));
        }
        AND_THEN("the samples that did arrive are the amplifier's") {
          const auto ref = reference(o, got.first_index, got.counts[0].size() + got.lost);
          std::size_t i = 0, r = 0;
          std::size_t span = 0;
          std::uint64_t idx = got.first_index;
          bool same = true;
          while (i < got.counts[0].size()) {
            if (span < got.spans.size() && got.spans[span].first_index == idx) {
              r += got.spans[span].count;
              idx += got.spans[span].count;
              ++span;
              continue;
            }
            same = same && got.counts[3][i] == ref[3][r];
            ++i, ++r, ++idx;
          }
          CHECK(same);
        }
      }
    }
  }
}

namespace {

/// Reads for `wall` and checks each block's times against two facts that hold on any
/// machine, however loaded: a sample is never stamped later than the moment read()
/// handed it over plus the anchor's uncertainty (the round trip of the read that anchored
/// the times), and never earlier than the amplifier could have taken it
/// (`earliest_mono_us` + index × period: the server started after that instant).
struct TimingCheck {
  std::uint64_t samples = 0, stamped_late = 0, stamped_early = 0;
  std::int64_t first_stamp_mono_us = -1;
};
void check_timing(ModbusSource& src, std::chrono::milliseconds wall, std::int64_t earliest_mono_us,
                  std::uint64_t index_base, TimingCheck& out) {
  const double period_us = 1e6 / src.sample_rate_hz();
  SampleBlock b;
  const auto end = std::chrono::steady_clock::now() + wall;
  while (std::chrono::steady_clock::now() < end) {
    REQUIRE(src.read(b, 100ms));
    const auto slack_us = static_cast<std::int64_t>(src.counters().anchor_uncertainty_us);
    const std::int64_t handed_mono_us = time::monotonic_us() + slack_us;
    const std::int64_t handed_unix_us = time::now_unix_us() + slack_us;
    for (std::size_t i = 0; i < b.size(); ++i) {
      const std::uint64_t idx = b.first_index + i;
      if (idx < index_base) continue;  // before a device restart: checked by the caller
      if (out.first_stamp_mono_us < 0) out.first_stamp_mono_us = b.t_mono_us[i];
      ++out.samples;
      if (b.t_mono_us[i] > handed_mono_us || b.t_unix_us[i] > handed_unix_us) ++out.stamped_late;
      const auto produced_no_earlier_than =
          earliest_mono_us + std::llround(static_cast<double>(idx - index_base) * period_us);
      if (b.t_mono_us[i] < produced_no_earlier_than - 1) ++out.stamped_early;
    }
  }
}

}  // namespace

TEST_CASE("modbus: a FIFO backlog at connect is timed back from the read that drains it",
          "[hw][modbus]") {
  GIVEN("an amplifier whose FIFO has gathered 3 s of samples before the driver connects") {
    sim::SimOptions o;
    o.seed = 31;
    sim::ServerOptions so;  // real time: the amplifier samples at 4 kHz of wall clock
    const std::int64_t before_start_mono_us = time::monotonic_us();
    SimAmp amp(o, so);
    std::this_thread::sleep_for(3s);
    ModbusSource src(RegisterMap::load(kMap), amp.endpoint(), amp.names());
    WHEN("the driver reads for 2 s") {
      TimingCheck t;
      check_timing(src, 2000ms, before_start_mono_us, 0, t);
      INFO(src.status());
      THEN(
          "the whole backlog arrives, and no sample is stamped after it was received or "
          "before it was taken") {
        CHECK(t.samples >= 3 * 4000);
        CHECK(src.counters().lost_samples == 0);
        CHECK(t.stamped_late == 0);
        CHECK(t.stamped_early == 0);
        AND_THEN("the first sample is stamped seconds before the driver connected") {
          // It was taken at the server's start; stamps err late by the drain latency only.
          CHECK(t.first_stamp_mono_us < before_start_mono_us + 2'000'000);
        }
      }
    }
  }
}

TEST_CASE("modbus: a device restart with a new backlog is re-anchored the same way",
          "[hw][modbus]") {
  sim::SimOptions o;
  o.seed = 32;
  sim::ServerOptions so;
  auto first = std::make_unique<SimAmp>(o, so);
  const int port = first->port;
  ModbusOptions mo;
  mo.reconnect_max_ms = 200;
  ModbusSource src(RegisterMap::load(kMap),
                   ModbusEndpoint::parse("tcp:127.0.0.1:" + std::to_string(port)), first->names(),
                   mo);
  TimingCheck before;
  check_timing(src, 1000ms, 0, 0, before);
  REQUIRE(before.samples > 0);
  CHECK(before.stamped_late == 0);
  first.reset();  // the amplifier loses power
  // It comes back on the same port; its counter starts at 0 and 2 s of samples gather
  // while the driver's reconnect backoff runs.
  sim::AmplifierServer second(sim::make_synth(o), so);
  REQUIRE(second.listen_tcp("127.0.0.1", port) == port);
  std::atomic<bool> stop{false};
  const std::int64_t restart_mono_us = time::monotonic_us();
  std::thread th([&] { second.run(stop); });
  std::this_thread::sleep_for(2s);
  // The driver re-anchors on the restarted device's counter: its indices start again at
  // the device's 0, taken no earlier than restart_mono_us.
  TimingCheck after;
  check_timing(src, 2000ms, restart_mono_us, 0, after);
  stop = true;
  th.join();
  INFO(src.status());
  CHECK(src.counters().counter_resets == 1);
  CHECK(after.samples >= 2 * 4000);
  CHECK(after.stamped_late == 0);
  CHECK(after.stamped_early == 0);
}

TEST_CASE("modbus: late answers within the timeout lose nothing", "[hw][modbus]") {
  sim::SimOptions o;
  sim::ServerOptions so;
  so.faults.late_prob = 0.05;
  so.faults.late_ms = 20;
  SimAmp amp(o, so);
  ModbusOptions mo;
  mo.response_timeout_ms = 200;
  ModbusSource src(RegisterMap::load(kMap), amp.endpoint(), amp.names(), mo);
  const Collected got = collect(src, 3 * 4000, 20s);
  CHECK(amp.server.stats().late > 0);
  CHECK(got.lost == 0);
  CHECK(src.counters().timeouts == 0);
  CHECK(src.counters().max_response_us >= 20000);
}

TEST_CASE("modbus: dead and stuck channels are reported as faults", "[hw][modbus]") {
  sim::SimOptions o;
  o.faults.push_back({"L1R1L", sim::ChannelFaultKind::dead, 0});
  o.faults.push_back({"L1R2R", sim::ChannelFaultKind::stuck, 0.5});
  sim::ServerOptions so;
  so.time_scale = 4;
  SimAmp amp(o, so);
  ModbusOptions mo;
  mo.stuck_window_s = 0.5;
  ModbusSource src(RegisterMap::load(kMap), amp.endpoint(), amp.names(), mo);
  collect(src, 3 * 4000, 20s);
  SampleBlock b;
  src.read(b, 10ms);
  REQUIRE(b.health.size() == 8);
  CHECK(b.health[0] == ChannelHealth::dead);
  CHECK(b.health[3] == ChannelHealth::stuck);
  for (std::size_t c : {1u, 2u, 4u, 5u, 6u, 7u}) CHECK(b.health[c] == ChannelHealth::ok);
  CHECK(src.status().find("channel L1R2R: stuck") != std::string::npos);
  CHECK(src.status().find("channel L1R1L: dead") != std::string::npos);
}

TEST_CASE("modbus: no device: read() returns in time, connects are retried with backoff",
          "[hw][modbus]") {
  int port = 0;
  {
    // Find a free port, then close it again: nothing listens there.
    sim::AmplifierServer tmp(sim::make_synth(sim::SimOptions{}), {});
    port = tmp.listen_tcp("127.0.0.1", 0);
  }
  ModbusOptions mo;
  mo.reconnect_min_ms = 20;
  mo.reconnect_max_ms = 80;
  std::vector<std::string> names;
  for (int i = 0; i < 8; ++i) names.push_back("c" + std::to_string(i));
  ModbusSource src(RegisterMap::load(kMap),
                   ModbusEndpoint::parse("tcp:127.0.0.1:" + std::to_string(port)), names, mo);
  SampleBlock b;
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(src.read(b, 300ms));
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(b.size() == 0);
  CHECK(waited < 2s);
  // 20, 40, 80, 80 ms...: about 5 attempts in 300 ms, never a tight loop.
  CHECK(src.counters().connect_failures >= 2);
  CHECK(src.counters().connect_failures <= 8);
  CHECK(!src.connected());
}

TEST_CASE("modbus: mbpoll reads wim-sim serve's registers as documented", "[hw][modbus][mbpoll]") {
  const std::string sim_bin = std::string(WIM_BINARY_DIR) + "/hw/wim-sim";
  // WIM_TEST_EMULATOR: qemu-user when cross-built (docs/cross-build.md), "" natively.
  FILE* p = ::popen(
      (WIM_TEST_EMULATOR + sim_bin + " serve --modbus-tcp 127.0.0.1:0 --seed 9 --duration 4")
          .c_str(),
      "r");
  REQUIRE(p);
  char line[256] = {};
  REQUIRE(std::fgets(line, sizeof line, p));
  int port = 0;
  REQUIRE(std::sscanf(std::strstr(line, "127.0.0.1:"), "127.0.0.1:%d", &port) == 1);
  auto mbpoll = [&](const std::string& args, bool hex = false) {
    const std::string cmd =
        "mbpoll -m tcp -p " + std::to_string(port) + " -a 1 -0 -1 " + args + " 127.0.0.1";
    FILE* m = ::popen(cmd.c_str(), "r");
    std::map<int, long> regs;
    char l[256];
    while (std::fgets(l, sizeof l, m)) {
      int a = 0;
      long v = 0;
      if (std::sscanf(l, hex ? "[%d]: %lx" : "[%d]: %ld", &a, &v) == 2) regs[a] = v;
    }
    CHECK(::pclose(m) == 0);
    return regs;
  };
  auto head = mbpoll("-r 0 -c 11");
  CHECK(head[0] == 0x5749);
  CHECK(head[1] == 1);
  CHECK(head[2] == 8);
  CHECK(head[3] == 4000);
  CHECK(head[4] == 15);
  CHECK((head[5] & 1) == 1);
  // Sample counter: uint32, high word first (mbpoll -B reads it as one 32-bit value).
  const long counter = (head[6] << 16) | head[7];
  auto c32 = mbpoll("-t 4:int -B -r 6 -c 1");
  CHECK(c32[6] >= counter);
  CHECK(c32[6] < counter + 4000 * 5);
  // Latest values: int16 two's complement; on the empty road (the first 2 s) each channel
  // sits at its station.json zero, within noise.
  auto latest = mbpoll("-t 4:hex -r 16 -c 8", true);
  REQUIRE(latest.size() == 8);
  sim::SimOptions o;
  o.seed = 9;
  const auto chans = o.site.channels(o.seed);
  for (const auto& [addr, v] : latest) {
    const auto value = static_cast<std::int16_t>(static_cast<std::uint16_t>(v));
    CHECK(std::abs(value - chans[static_cast<std::size_t>(addr - 16)].zero) < 20);
  }
  ::pclose(p);
}
