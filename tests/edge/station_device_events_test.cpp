// SPDX-License-Identifier: Apache-2.0
// The station's weigher on the real Modbus driver against the simulated amplifier's fault
// modes (issue 20): the device's outages and restarts become signed event records in the
// outbox, `wim-edge status` names the condition while it lasts, and a pass whose samples
// overlap the gap is never a case. Driver and twin share a WarpClock (backoff and
// outages of seconds run in a fraction of that); the weigher runs on its own thread as
// in `wim-edge run`.
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "modbus_server.hpp"  // wim_sim
#include "record.hpp"         // wim_sim
#include "station_test_util.hpp"
#include "traffic.hpp"  // wim_sim
#include "wim/common/json.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/station_config.hpp"
#include "wim/edge/outbox_sealer.hpp"
#include "wim/edge/station_weigher.hpp"
#include "wim/edge/status_server.hpp"
#include "wim/hw/modbus_source.hpp"
#include "wim/hw/register_map.hpp"

using namespace wim;
using namespace std::chrono_literals;

namespace {

const std::string kMap = std::string(WIM_SOURCE_DIR) + "/hw/maps/wim-sim-amplifier.json";

/// Steady goods traffic, clearly overloaded or clearly not: the pipeline's verdict on an
/// intact pass is not in doubt, so only the gap can change it.
sim::SimOptions traffic() {
  sim::SimOptions o;
  o.seed = 23;
  o.site.station_id = "G017";
  o.traffic.overload_share = 0.8;
  o.traffic.overload_min = 0.3;
  o.traffic.overload_max = 0.5;
  o.traffic.speed_sd_kmh = 4;
  o.traffic.accel_max_mps2 = 0.05;
  o.traffic.class_share = {0.2, 0.2, 0.2, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05};
  return o;
}

/// The vehicles the twin will drive over the sensors (the same traffic model and seed as
/// sim::make_synth), up to `until_s` of device time.
std::vector<sim::Vehicle> vehicles_until(const sim::SimOptions& o, double until_s) {
  sim::TrafficModel t(o.traffic, o.site.lanes, static_cast<std::int64_t>(o.lead_in_s * 1e6),
                      o.seed);
  std::vector<sim::Vehicle> out;
  for (;;) {
    auto v = t.next();
    if (static_cast<double>(v.t_us) * 1e-6 > until_s) return out;
    out.push_back(std::move(v));
  }
}

/// The first overloaded vehicle after `after_s` [s device time] (REQUIREd to exist).
sim::Vehicle overloaded_after(const sim::SimOptions& o, double after_s) {
  for (const auto& v : vehicles_until(o, after_s + 60))
    if (v.overloaded && static_cast<double>(v.t_us) * 1e-6 > after_s) return v;
  FAIL("no overloaded vehicle in the simulated traffic");
  return {};
}

struct StationRun {
  std::vector<record::Manifest> records;   ///< every sealed record, in seq order
  std::vector<std::string> status_during;  ///< `wim-edge status` text while a condition lasted
  std::string status_after;                ///< ... at the end
  std::optional<edge::DeviceLive> device;  ///< the board's device part at the end
  sim::ServerStats server;                 ///< what the twin did
  bool whole_span = false;                 ///< every sample of the span read or reported lost
  std::vector<record::Manifest> vehicles() const {
    std::vector<record::Manifest> out;
    for (const auto& m : records)
      if (m.kind != record::Kind::event) out.push_back(m);
    return out;
  }
  std::vector<record::Manifest> events(const std::string& type) const {
    std::vector<record::Manifest> out;
    for (const auto& m : records)
      if (m.event && m.event->type == type) out.push_back(m);
    return out;
  }
};

/// The status document's parts the weigher feeds, as `wim-edge status` prints them.
std::string status_text(const edge::StatusBoard& board) {
  boost::json::object d;
  if (const auto dev = board.device()) d["device"] = edge::to_json(*dev);
  boost::json::array faults;
  for (const auto& f : board.faults()) faults.push_back(boost::json::value(f));
  d["faults"] = std::move(faults);
  return edge::format_status(d);
}

/// The driver, ended after a fixed stretch of the device's data: `samples` sample periods
/// read or reported lost. Two runs then weigh the same traffic however fast this machine
/// reads it; a run cut by the clock instead ends wherever the reading has got to, and under
/// qemu that was once in the middle of a vehicle (its last row short of axles).
class DataSpan final : public hw::SampleSource {
 public:
  DataSpan(hw::SampleSource& s, std::uint64_t samples) : s_(s), left_(samples) {}
  const std::vector<std::string>& channels() const override { return s_.channels(); }
  double sample_rate_hz() const override { return s_.sample_rate_hz(); }
  hw::SourceCounters counters() const override { return s_.counters(); }
  std::string status() const override { return s_.status(); }
  bool read(hw::SampleBlock& b, std::chrono::milliseconds timeout) override {
    if (left_ == 0 || !s_.read(b, timeout)) {
      b.clear();
      return false;
    }
    for (const hw::LostSpan& l : b.lost) left_ -= std::min(left_, l.count);
    if (b.size() > left_) {
      const auto n = static_cast<std::size_t>(left_);
      for (auto& col : b.counts) col.resize(n);
      b.t_unix_us.resize(n);
      b.t_mono_us.resize(n);
    }
    left_ -= b.size();
    return true;
  }

 private:
  hw::SampleSource& s_;
  std::uint64_t left_;
};

// The driver's timing in these runs. The clock jumps over the driver's sleeps, and after
// each jump the twin makes the samples of the time jumped before it answers: with the
// default 5 s backoff ceiling and a 100 ms timeout, under qemu on a busy machine, that
// took longer than the timeout, every retry timed out and the link never came back
// within the run. A 1 s ceiling keeps each catch-up short, 400 ms (real time) leaves it
// room; three timeouts in a row (the driver's default) are 1.2 s, well inside the
// freezes below.
constexpr int kResponseTimeoutMs = 400;
constexpr int kBackoffMaxMs = 1000;
/// [ms] The longest an outage can outlast its cause: a request sent just before the
/// device came back times out, the backoff sleeps its ceiling, plus 2 s for scheduling
/// under emulation.
constexpr double kOutageOverrunMs = kResponseTimeoutMs + kBackoffMaxMs + 2000;

/// How a run ends: after `seconds` of the shared clock, or after `seconds` of device data
/// (read or reported lost; the clock may then run 60 s more) where two runs are compared.
enum class RunEnd { by_clock, by_data };

/// Serves `o`'s traffic from the twin with `so`'s faults, and runs the station's weigher
/// on the real driver for `seconds`, ended as `end` says.
StationRun run_station(const sim::SimOptions& o, sim::ServerOptions so, double seconds,
                       RunEnd end = RunEnd::by_clock,
                       hw::RegisterMap map = hw::RegisterMap::load(kMap)) {
  test::TempDir dir("device-events");
  sim::record(o, 1, dir.path());  // station.json for the site (channels, rows, gains)
  auto cfg = config::parse_station_config(json::load_file(dir / "station.json"), "station.json");
  cfg.calibration_id = "SIM-CAL-1";
  std::vector<std::string> names;
  for (const auto& c : o.site.channels(o.seed)) names.push_back(c.name);

  hw::WarpClock clock;
  so.clock = &clock;
  sim::AmplifierServer server(sim::make_synth(o), so);
  const int port = server.listen_tcp("127.0.0.1", 0);
  std::atomic<bool> stop_server{false};
  std::thread serving([&] { server.run(stop_server); });

  hw::ModbusOptions mo;
  mo.clock = &clock;
  mo.response_timeout_ms = kResponseTimeoutMs;
  mo.reconnect_max_ms = kBackoffMaxMs;
  hw::ModbusSource source(std::move(map),
                          hw::ModbusEndpoint::parse("tcp:127.0.0.1:" + std::to_string(port)), names,
                          mo);
  const auto key = crypto::SigningKey::generate();
  edge::Outbox outbox(test::new_chain_outbox(dir / "outbox.db", "G017"));
  edge::OutboxSealer sealer(outbox, "G017", key, std::string(64, 'a'));
  edge::StatusBoard board;
  edge::WeigherOptions wo;
  wo.board = &board;
  DataSpan span(source,
                static_cast<std::uint64_t>(std::llround(seconds * source.sample_rate_hz())));
  edge::StationWeigher weigher(
      cfg, end == RunEnd::by_data ? static_cast<hw::SampleSource&>(span) : source, sealer, wo);

  StationRun r;
  std::exception_ptr failed;
  std::atomic<bool> done{false};
  std::thread weighing([&] {
    try {
      weigher.run();
    } catch (...) {
      failed = std::current_exception();
    }
    done = true;
  });
  const std::int64_t end_us =
      clock.mono_us() +
      static_cast<std::int64_t>((seconds + (end == RunEnd::by_data ? 60.0 : 0.0)) * 1e6);
  std::string last;
  while (clock.mono_us() < end_us && !done) {
    if (const auto dev = board.device(); dev && !dev->condition.empty()) {
      std::string text = status_text(board);
      if (text != last) r.status_during.push_back(last = std::move(text));
    }
    std::this_thread::sleep_for(1ms);
  }
  r.whole_span = end == RunEnd::by_data && done && !failed;
  if (end == RunEnd::by_clock && !done) {
    // The twin's ADC stops and the driver drains its FIFO for 1.5 s more, so a driver
    // behind the device (qemu on a busy machine) reads and reports all that was made.
    server.stop_sampling();
    const std::int64_t drain_until_us = clock.mono_us() + 1'500'000;
    while (clock.mono_us() < drain_until_us && !done) std::this_thread::sleep_for(1ms);
  }
  weigher.stop();
  weighing.join();
  stop_server = true;
  serving.join();
  if (failed) std::rethrow_exception(failed);
  r.server = server.stats();
  r.status_after = status_text(board);
  r.device = board.device();
  for (auto& p : outbox.pending(100000, 1ULL << 40))
    for (auto& pk : packet::from_tar(p.packet)) r.records.push_back(pk.manifest());
  return r;
}

bool mentions(const record::Manifest& m, const std::string& what) {
  if (!m.measurement) return false;
  for (const auto& reason : m.measurement->invalid_reasons)
    if (reason.find(what) != std::string::npos) return true;
  return false;
}

std::string detail(const record::Manifest& m, const char* key) {
  const auto* v = m.event->detail.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

SCENARIO("A device outage during a pass: signed events, the status names it, the pass is no case",
         "[edge][device][faults]") {
  const auto o = traffic();
  const sim::Vehicle target = overloaded_after(o, 6.0);
  const double t_s = static_cast<double>(target.t_us) * 1e-6;
  const double run_s = t_s + 12;
  GIVEN("the same traffic without faults: the target vehicle is a violation") {
    // Catch enters the scenario once per THEN: each run is made once (static).
    static const StationRun base = run_station(o, {}, run_s, RunEnd::by_data);
    REQUIRE(base.whole_span);
    const auto bv = base.vehicles();
    REQUIRE(!bv.empty());
    CHECK(base.events("device_outage").empty());
    CHECK(base.device);
    CHECK(base.device->condition.empty());
    CHECK_THAT(base.status_after, Catch::Contains("device    ok"));
    std::size_t base_violations = 0;
    for (const auto& m : bv) base_violations += m.kind == record::Kind::violation;
    REQUIRE(base_violations > 0);

    WHEN("the amplifier stops answering (socket open) from 0.3 s before its first axle for 2 s") {
      sim::ServerOptions so;
      so.faults.freeze_window = {t_s - 0.3, t_s + 1.7};  // the FIFO (16 s) keeps the samples
      static const StationRun r = run_station(o, so, run_s, RunEnd::by_data);
      REQUIRE(r.whole_span);
      const auto vs = r.vehicles();
      INFO(r.status_after);

      THEN("the outage is sealed as a began and an ended event with its span and reason") {
        const auto ev = r.events("device_outage");
        REQUIRE(ev.size() == 2);
        CHECK(detail(ev[0], "phase") == "began");
        CHECK(detail(ev[1], "phase") == "ended");
        CHECK(detail(ev[0], "from_utc") == detail(ev[1], "from_utc"));
        CHECK_FALSE(detail(ev[1], "to_utc").empty());
        CHECK_THAT(detail(ev[1], "reason"), Catch::Contains("timed out"));
        const auto* ms = ev[1].event->detail.if_contains("duration_ms");
        REQUIRE(ms);
        // 2 s without answers; back within a timeout and the backoff ceiling after it.
        CHECK(ms->to_number<double>() >= 1900);
        CHECK(ms->to_number<double>() <= 2000 + kOutageOverrunMs);
        CHECK(ev[0].time_unix_us < ev[1].time_unix_us);
        CHECK(r.events("lost_samples").empty());  // the device's FIFO kept every sample
      }
      THEN("while it lasted `wim-edge status` named it, and it is a fault; after it, ok") {
        REQUIRE_FALSE(r.status_during.empty());
        CHECK_THAT(r.status_during.front(), Catch::Contains("device    device_outage since 20"));
        CHECK_THAT(r.status_during.front(),
                   Catch::Contains("faults    device: device_outage since"));
        CHECK_THAT(r.status_after, Catch::Contains("device    ok"));
        CHECK_THAT(r.status_after, Catch::Contains("outages 1,"));
        CHECK_THAT(r.status_after, Catch::Contains("faults    none"));
        CHECK_THAT(r.status_after, Catch::Contains("last event: device_outage ended"));
        REQUIRE(r.device);
        CHECK(r.device->outages == 1);
        CHECK(r.device->passes_not_enforceable >= 1);
      }
      THEN(
          "the pass in the outage is not fit for enforcement and names the outage; "
          "the passes outside it are weighed as without the fault") {
        // The FIFO kept every sample: the same vehicles, in the same order.
        INFO("without the fault, status at the end:\n" << base.status_after);
        REQUIRE(vs.size() == bv.size());
        std::size_t marked = 0, violations = 0;
        for (std::size_t i = 0; i < vs.size(); ++i) {
          INFO("vehicle " << i);
          std::string why_base, why_fault;
          for (const auto& w : bv[i].measurement->invalid_reasons) why_base += w + "; ";
          for (const auto& w : vs[i].measurement->invalid_reasons) why_fault += w + "; ";
          INFO("not fit without the fault: " << why_base);
          INFO("not fit with the fault: " << why_fault);
          if (mentions(vs[i], "device_outage")) {
            ++marked;
            CHECK(vs[i].kind == record::Kind::pass);
            CHECK_FALSE(vs[i].legal);
            CHECK_FALSE(vs[i].measurement->fit_for_enforcement);
            CHECK_THAT(vs[i].measurement->invalid_reasons.back(),
                       Catch::Contains("gap in the pass window"));
          } else {
            CHECK(vs[i].kind == bv[i].kind);
            CHECK(vs[i].measurement->fit_for_enforcement == bv[i].measurement->fit_for_enforcement);
            violations += vs[i].kind == record::Kind::violation;
          }
        }
        CHECK(marked >= 1);
        CHECK(marked == r.device->passes_not_enforceable);
        // The target vehicle was a violation without the fault and is none now.
        CHECK(violations < base_violations);
      }
    }
  }
}

SCENARIO("Lost samples during a pass and a device restart: events, status counts, no case",
         "[edge][device][faults]") {
  const auto o = traffic();
  const sim::Vehicle target = overloaded_after(o, 6.0);
  const double t_s = static_cast<double>(target.t_us) * 1e-6;
  WHEN("the amplifier hangs for 3 s from just after the first axle with a 0.5 s FIFO") {
    sim::ServerOptions so;
    so.fifo_capacity = 2000;  // 0.5 s at 4 kHz: 2.5 s of samples are overwritten
    so.faults.freeze_window = {t_s + 0.05, t_s + 3.05};
    const StationRun r = run_station(o, so, t_s + 12);
    INFO(r.status_after);
    THEN("the loss is a lost_samples event inside the outage, and no pass over it is a case") {
      const auto lost = r.events("lost_samples");
      REQUIRE(lost.size() >= 1);
      const auto out = r.events("device_outage");
      REQUIRE(out.size() == 2);
      std::uint64_t count = 0;
      for (const auto& l : lost)
        count += l.event->detail.at("count_samples").to_number<std::uint64_t>();
      // What the twin overwrote in its full FIFO, exactly (> 2.5 s of 4 kHz: the 3 s hang
      // and the backoff after it, less the 0.5 s the FIFO holds).
      CHECK(r.server.samples_overflowed > 10000);
      // From the driver's first read to its last: what the twin overwrote before the
      // driver first read it (a late start on a busy machine) no driver can know of.
      CHECK(count ==
            r.server.samples_lost_before_last_reply - r.server.samples_lost_before_first_reply);
      CHECK(count <= r.server.samples_overflowed + r.server.samples_dropped);
      std::size_t marked = 0;
      for (const auto& m : r.vehicles()) {
        if (!mentions(m, "lost_samples")) continue;
        ++marked;
        CHECK(m.kind == record::Kind::pass);
        CHECK_FALSE(m.measurement->fit_for_enforcement);
      }
      CHECK(marked >= 1);
      REQUIRE(r.device);
      CHECK(r.device->lost_samples == count);
      CHECK(r.device->gaps == lost.size());
      CHECK_THAT(r.status_after, Catch::Contains("(" + std::to_string(count) + " samples lost)"));
    }
  }
  WHEN(
      "the amplifier loses power for 2 s during the pass, restarts (boot counter + 1) and "
      "reads as another device (identity register) for 2 s more") {
    sim::ServerOptions so;
    so.faults.restart = {t_s - 0.2, t_s + 1.8};
    so.faults.identity_window = {t_s + 1.8, t_s + 3.8};
    const StationRun r = run_station(o, so, t_s + 12);
    INFO(r.status_after);
    THEN("restart and identity mismatch are sealed, counted in the status, the pass is no case") {
      const auto rs = r.events("device_restart");
      REQUIRE(rs.size() >= 1);
      CHECK_THAT(detail(rs[0], "reason"), Catch::Contains("boot counter"));
      CHECK_FALSE(detail(rs[0], "to_utc").empty());
      const auto id = r.events("device_identity_mismatch");
      REQUIRE(id.size() == 1);
      CHECK_THAT(detail(id[0], "reason"), Catch::Contains("identity register"));
      const auto out = r.events("device_outage");
      REQUIRE(out.size() == 2);
      // The mismatch lies within the outage; the outage lasted the power loss and the
      // wrong identity, and ended within the backoff ceiling after it.
      CHECK(id[0].time_unix_us > out[0].time_unix_us);
      CHECK(id[0].time_unix_us < out[1].time_unix_us);
      const double ms = out[1].event->detail.at("duration_ms").to_number<double>();
      CHECK(ms >= 3900);
      CHECK(ms <= 4000 + kOutageOverrunMs);
      REQUIRE(r.device);
      CHECK(r.device->restarts == rs.size());
      CHECK(r.device->identity_mismatches == 1);
      CHECK_THAT(r.status_after, Catch::Contains("restarts " + std::to_string(rs.size())));
      CHECK_THAT(r.status_after, Catch::Contains("identity mismatches 1"));
      bool named = false;
      for (const auto& t : r.status_during)
        named = named || t.find("identity register") != std::string::npos;
      CHECK(named);
      std::size_t marked = 0;
      for (const auto& m : r.vehicles()) {
        if (!mentions(m, "device_restart") && !mentions(m, "device_outage")) continue;
        ++marked;
        CHECK(m.kind == record::Kind::pass);
        CHECK_FALSE(m.measurement->fit_for_enforcement);
      }
      CHECK(marked >= 1);
    }
  }
}

namespace {

/// A source that hands out prepared blocks (the twin has no mode that answers without new
/// samples, so device_frozen comes from here); before block `wait_at` it waits until
/// `ready()` holds, so a test can look at the station between two blocks.
class ScriptedSource final : public hw::SampleSource {
 public:
  ScriptedSource(std::vector<std::string> names, std::vector<hw::SampleBlock> blocks)
      : names_(std::move(names)), blocks_(std::move(blocks)) {}
  const std::vector<std::string>& channels() const override { return names_; }
  double sample_rate_hz() const override { return 4000; }
  bool read(hw::SampleBlock& b, std::chrono::milliseconds) override {
    if (next_ == wait_at && ready)
      for (int i = 0; i < 2000 && !ready(); ++i) std::this_thread::sleep_for(1ms);
    if (next_ >= blocks_.size()) return false;
    b = blocks_[next_++];
    return true;
  }
  hw::SourceCounters counters() const override { return {}; }
  std::string status() const override { return "scripted"; }
  std::size_t wait_at = SIZE_MAX;
  std::function<bool()> ready;

 private:
  std::vector<std::string> names_;
  std::vector<hw::SampleBlock> blocks_;
  std::size_t next_ = 0;
};

/// One second of quiet road (noise of a few counts) from sample `first`.
hw::SampleBlock quiet_block(const std::vector<std::string>& names, std::uint64_t first,
                            std::int64_t t0_unix_us) {
  hw::SampleBlock b;
  b.channels = names;
  b.counts.assign(names.size(), {});
  b.first_index = first;
  for (std::uint64_t i = first; i < first + 4000; ++i) {
    const auto t_us = static_cast<std::int64_t>(i) * 250;
    b.t_mono_us.push_back(t_us);
    b.t_unix_us.push_back(t0_unix_us + t_us);
    for (std::size_t c = 0; c < names.size(); ++c)
      b.counts[c].push_back(static_cast<std::int32_t>((i * 7 + c * 3) % 5));
  }
  return b;
}

}  // namespace

SCENARIO("A device that answers without new samples: device_frozen sealed, shown while it lasts",
         "[edge][device]") {
  test::TempDir dir("device-frozen");
  const auto o = traffic();
  sim::record(o, 1, dir.path());
  auto cfg = config::parse_station_config(json::load_file(dir / "station.json"), "station.json");
  cfg.calibration_id = "SIM-CAL-1";
  std::vector<std::string> names;
  for (const auto& c : cfg.channels) names.push_back(c.name);
  const std::int64_t t0 = o.started_unix_us;
  // 3 s of samples, 2 s frozen (an empty block with the began event), then samples again
  // with the ended event.
  std::vector<hw::SampleBlock> blocks;
  for (std::uint64_t s = 0; s < 3; ++s) blocks.push_back(quiet_block(names, s * 4000, t0));
  hw::SampleBlock began;
  began.channels = names;
  began.events.push_back(
      {"device_frozen", "began", t0 + 3000000, t0 + 3000000, "answers without new samples"});
  began.device_condition =
      "device_frozen since " + time::format_utc_ms(t0 + 3000000) + ": answers without new samples";
  blocks.push_back(began);
  for (std::uint64_t s = 5; s < 8; ++s) blocks.push_back(quiet_block(names, s * 4000, t0));
  blocks[4].events.push_back(
      {"device_frozen", "ended", t0 + 3000000, t0 + 5000000, "answers without new samples"});

  ScriptedSource src(names, blocks);
  edge::Outbox outbox(test::new_chain_outbox(dir / "outbox.db", "G017"));
  edge::OutboxSealer sealer(outbox, "G017", crypto::SigningKey::generate(), std::string(64, 'a'));
  edge::StatusBoard board;
  edge::WeigherOptions wo;
  wo.board = &board;
  edge::StationWeigher weigher(cfg, src, sealer, wo);
  std::string during;
  src.wait_at = 4;  // the block that ends the freeze waits until the status shows it
  src.ready = [&] {
    const auto d = board.device();
    if (!d || d->condition.empty()) return false;
    during = status_text(board);
    return true;
  };
  weigher.run();

  CHECK_THAT(during, Catch::Contains("device    device_frozen since 2026-11-27T08:00:03.000Z: "
                                     "answers without new samples"));
  CHECK_THAT(during, Catch::Contains("faults    device: device_frozen since"));
  const auto after = status_text(board);
  CHECK_THAT(after, Catch::Contains("device    ok"));
  CHECK_THAT(after, Catch::Contains("freezes 1,"));
  CHECK_THAT(after, Catch::Contains("faults    none"));
  std::vector<record::Manifest> frozen;
  for (auto& p : outbox.pending(1000, 1ULL << 30))
    for (auto& pk : packet::from_tar(p.packet))
      if (auto m = pk.manifest(); m.event && m.event->type == "device_frozen") frozen.push_back(m);
  REQUIRE(frozen.size() == 2);
  CHECK(detail(frozen[0], "phase") == "began");
  CHECK(frozen[0].time_unix_us == t0 + 3000000);
  CHECK_FALSE(frozen[0].event->detail.contains("to_utc"));  // not known while it lasts
  CHECK(detail(frozen[1], "phase") == "ended");
  CHECK(detail(frozen[1], "to_utc") == "2026-11-27T08:00:05.000000Z");
  CHECK(frozen[1].event->detail.at("duration_ms").to_number<double>() == 2000);
  CHECK(frozen[1].time_unix_us == t0 + 5000000);
}
