// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "../common/record_samples.hpp"
#include "station_test_util.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/packet.hpp"
#include "wim/edge/outbox_sealer.hpp"

using namespace wim;
using namespace wim::edge;

namespace {

OutboxOptions opts(const std::filesystem::path& p, bool create, std::uint64_t quota = 0) {
  OutboxOptions o;
  o.path = p;
  o.station_id = "G017";
  o.create_new_chain = create;
  o.quota_bytes = quota;
  return o;
}

std::vector<packet::Packet> packets_of(const Outbox& box) {
  std::vector<packet::Packet> out;
  for (auto& r : box.pending(100000, 1ULL << 40)) {
    auto ps = packet::from_tar(r.packet);
    REQUIRE(ps.size() == 1);
    out.push_back(std::move(ps[0]));
  }
  return out;
}

std::vector<chain::Finding> verify(std::vector<packet::Packet> ps, const crypto::SigningKey& key) {
  chain::KeyRegistry keys;
  keys.add("G017", key.public_key());
  return chain::verify_chain(std::move(ps), keys, true, nullptr);
}

std::string describe(const std::vector<chain::Finding>& fs) {
  std::string s;
  for (const auto& f : fs)
    s += std::to_string(f.seq) + " " + std::string(chain::to_string(f.problem)) + " " + f.detail +
         "; ";
  return s;
}

}  // namespace

SCENARIO("Sealed records are committed to the outbox and continue the chain after a restart") {
  test::TempDir dir("sealer");
  const auto key = crypto::SigningKey::generate();
  GIVEN("a station that sealed a start event, a pass and a violation, then restarted") {
    {
      Outbox box(opts(dir / "o.db", true));
      OutboxSealer sealer(box, "G017", key, test::kSoftwareSha);
      CHECK(sealer.commit_event("station_start", {{"reason", "boot"}}) == 1);
      CHECK(sealer.commit(test::pass_record(0)) == 2);
      CHECK(sealer.commit(test::violation_record(0), test::violation_attachments()) == 3);
    }
    Outbox box(opts(dir / "o.db", false));
    OutboxSealer sealer(box, "G017", key, test::kSoftwareSha);
    WHEN("it seals the next record") {
      CHECK(sealer.commit(test::pass_record(0)) == 4);
      THEN("the outbox holds seq 1..4, signed, linked, with the violation's attachments") {
        auto ps = packets_of(box);
        REQUIRE(ps.size() == 4);
        CHECK(ps[2].attachments.count("plate.jpg") == 1);
        CHECK(ps[2].manifest().kind == record::Kind::violation);
        CHECK(ps[0].manifest().event->type == "station_start");
        auto findings = verify(ps, key);
        INFO(describe(findings));
        CHECK(findings.empty());
      }
    }
  }
}

SCENARIO("A full disk refuses the record and leaves the chain unbroken") {
  test::TempDir dir("sealer");
  const auto key = crypto::SigningKey::generate();
  { Outbox create(opts(dir / "o.db", true)); }
  auto o = opts(dir / "o.db", false);
  o.max_page_count = 30;
  Outbox box(o);
  OutboxSealer sealer(box, "G017", key, test::kSoftwareSha);
  std::uint64_t committed = 0;
  bool full = false;
  for (int i = 0; i < 1000 && !full; ++i) {
    try {
      committed = sealer.commit(test::violation_record(0), test::violation_attachments());
    } catch (const OutboxFull&) {
      full = true;
    }
  }
  REQUIRE(full);
  CHECK(sealer.last_seq() == committed);
  CHECK(box.head().seq == committed);
  WHEN("the collector acknowledges and space is free again") {
    box.acknowledge_upto(committed / 2);
    const auto next = sealer.commit(test::pass_record(0));
    THEN("the next record takes the next seq and links to the last stored one") {
      CHECK(next == committed + 1);
      auto ps = packets_of(box);
      REQUIRE(ps.back().manifest().seq == next);
      CHECK(ps.back().manifest().prev_sha256 ==
            crypto::sha256_hex(ps[ps.size() - 2].manifest_json));
    }
  }
}

SCENARIO("Quota thinning removes unsent passes and records which ones in the chain") {
  test::TempDir dir("sealer");
  const auto key = crypto::SigningKey::generate();
  Outbox box(opts(dir / "o.db", true, 40000));
  OutboxSealer sealer(box, "G017", key, test::kSoftwareSha);
  std::vector<std::uint64_t> violations;
  for (int i = 0; i < 60; ++i) {
    if (i % 5 == 4)
      violations.push_back(sealer.commit(test::violation_record(0), test::violation_attachments()));
    else
      sealer.commit(test::pass_record(0));
  }
  auto ps = packets_of(box);
  std::map<std::uint64_t, const packet::Packet*> by_seq;
  for (const auto& p : ps) by_seq[p.manifest().seq] = &p;
  THEN("every violation is still there") {
    for (auto v : violations) CHECK(by_seq.count(v) == 1);
  }
  THEN("each missing seq is a pass named, with its manifest hash, by a thinning event") {
    std::map<std::uint64_t, std::string> named;
    for (const auto& p : ps) {
      auto m = p.manifest();
      if (m.kind == record::Kind::event && m.event->type == "thinning")
        for (const auto& t : m.event->detail.at("thinned").as_array())
          named[t.at("seq").to_number<std::uint64_t>()] =
              std::string(t.at("manifest_sha256").as_string());
    }
    REQUIRE_FALSE(named.empty());
    for (std::uint64_t s = 1; s <= sealer.last_seq(); ++s) {
      if (by_seq.count(s)) continue;
      INFO("seq " << s);
      REQUIRE(named.count(s) == 1);
      // the record after the gap links to exactly the thinned manifest
      if (by_seq.count(s + 1)) CHECK(by_seq[s + 1]->manifest().prev_sha256 == named[s]);
    }
    CHECK(box.unreported_thinned().empty());
    for (const auto& f : verify(ps, key))
      CHECK((f.problem == chain::Problem::gap || f.problem == chain::Problem::broken_link));
  }
}

SCENARIO("A vehicle record older than the chain keeps its measured time and is marked") {
  test::TempDir dir("sealer");
  const auto key = crypto::SigningKey::generate();
  const std::int64_t t0 = test::kT0_us;
  GIVEN("a chain whose head is an event at t0 + 10 s, reopened as after a restart") {
    {
      Outbox box(opts(dir / "o.db", true));
      OutboxSealer sealer(box, "G017", key, test::kSoftwareSha);
      sealer.commit(test::pass_record(t0 + 1'000'000));
      sealer.commit(test::event_record("station_start", t0 + 10'000'000));
    }
    Outbox box(opts(dir / "o.db", false));
    OutboxSealer sealer(box, "G017", key, test::kSoftwareSha);
    WHEN("vehicles measured at t0 + 4 s (a sample backlog) and t0 + 12 s are sealed") {
      sealer.commit(test::pass_record(t0 + 4'000'000));
      sealer.commit(test::event_record("sensor_fault", t0 + 5'000'000));
      sealer.commit(test::pass_record(t0 + 12'000'000));
      const auto ps = packets_of(box);
      REQUIRE(ps.size() == 5);
      THEN("the old one keeps its time, names the chain time, and the chain verifies") {
        const auto late = ps[2].manifest();
        CHECK(late.time_unix_us == t0 + 4'000'000);
        REQUIRE(late.sealed_after_unix_us);
        CHECK(*late.sealed_after_unix_us == t0 + 10'000'000);
        // An event never goes back: it takes the chain time and keeps its own as detected.
        const auto ev = ps[3].manifest();
        CHECK(ev.time_unix_us == t0 + 10'000'000);
        CHECK(ev.event->detail.contains("detected_utc"));
        CHECK_FALSE(ps[4].manifest().sealed_after_unix_us);
        CHECK(box.head().time_unix_us == t0 + 12'000'000);
        CHECK(verify(ps, key).empty());
      }
    }
  }
}

SCENARIO("A thinning event names each thinned pass by seq, manifest hash, time and lane") {
  test::TempDir dir("sealer");
  const auto key = crypto::SigningKey::generate();
  Outbox box(opts(dir / "o.db", true, 20000));
  OutboxSealer sealer(box, "G017", key, test::kSoftwareSha);
  std::map<std::uint64_t, std::pair<std::int64_t, int>> made;  // seq -> (time, lane)
  for (int i = 0; i < 40; ++i) {
    auto m = test::pass_record(test::kT0_us + i * 1'000'000LL);
    m.lane = m.measurement->lane = 1 + i % 2;
    const auto t = m.time_unix_us;
    const auto lane = m.lane;
    made[sealer.commit(std::move(m))] = {t, lane};
  }
  std::size_t named = 0;
  for (const auto& p : packets_of(box)) {
    const auto m = p.manifest();
    if (!m.event || m.event->type != "thinning") continue;
    for (const auto& t : m.event->detail.at("thinned").as_array()) {
      const auto seq = t.at("seq").to_number<std::uint64_t>();
      INFO("thinned seq " << seq);
      REQUIRE(made.count(seq) == 1);
      CHECK(time::parse_utc(std::string(t.at("time_utc").as_string())) == made[seq].first);
      CHECK(t.at("lane").to_number<int>() == made[seq].second);
      ++named;
    }
  }
  CHECK(named > 0);
  CHECK(named == box.stats().thinned_total);
}

SCENARIO("An event held back for time order survives a kill and is sealed at the next start") {
  test::TempDir dir("sealer");
  const auto key = crypto::SigningKey::generate();
  const std::int64_t t0 = test::kT0_us;
  {
    Outbox box(opts(dir / "o.db", true));
    OutboxSealer sealer(box, "G017", key, test::kSoftwareSha);
    sealer.commit(test::pass_record(t0));
    sealer.hold_event(test::event_record("disk_pressure", t0 + 2'000'000));
    REQUIRE(sealer.held_events() == 1);
  }  // killed: nothing released
  Outbox box(opts(dir / "o.db", false));
  OutboxSealer sealer(box, "G017", key, test::kSoftwareSha);
  CHECK(sealer.held_events() == 1);
  sealer.commit_event("station_start", {});
  const auto ps = packets_of(box);
  REQUIRE(ps.size() == 3);
  CHECK(ps[1].manifest().event->type == "disk_pressure");
  CHECK(ps[1].manifest().time_unix_us == t0 + 2'000'000);
  CHECK(ps[1].manifest().event->detail.at("sealed_after_restart").as_bool());
  CHECK(ps[2].manifest().event->type == "station_start");
  CHECK(box.held().empty());  // removed with the record, in its transaction
  CHECK(verify(ps, key).empty());
}
