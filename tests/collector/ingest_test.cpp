// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/ingest.hpp"

#include <catch2/catch.hpp>
#include <future>
#include <mutex>

#include "../common/record_samples.hpp"
#include "test_station.hpp"
#include "test_util.hpp"
#include "wim/collector/chain_export.hpp"
#include "wim/collector/monitor.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/error.hpp"
#include "wim/common/json.hpp"

using namespace wim;
using namespace wim::collector;
using wim::collector::test::temp_dir;

namespace {

using wim::collector::test::TestStation;

/// Observers are called on the ingest's pool threads, two requests at once: locked.
/// Read the vectors only once every answer has arrived.
struct Recorder : IngestObserver {
  std::mutex mutex;
  std::vector<std::int64_t> stored, conflicts, breaks;
  void on_stored(const StoredRecord& r, const record::Manifest&) override {
    std::lock_guard lock(mutex);
    stored.push_back(r.seq);
  }
  void on_conflict(const std::string&, std::int64_t seq, const std::string&) override {
    std::lock_guard lock(mutex);
    conflicts.push_back(seq);
  }
  void on_chain_break(const std::string&, std::int64_t seq, const std::string&) override {
    std::lock_guard lock(mutex);
    breaks.push_back(seq);
  }
};

struct Fixture {
  std::filesystem::path dir = temp_dir("ingest");
  TestStation g1{"G001"}, g2{"G002"};
  std::unique_ptr<MetadataStore> store = open_sqlite_store(dir / "meta.db");
  FileBlobStore blobs{dir / "blobs"};
  std::shared_ptr<RegistryHolder> registry;
  std::unique_ptr<Ingest> ingest;
  Recorder rec;

  Fixture() {
    boost::json::array st;
    int n = 0;
    for (auto* s : {&g1, &g2})
      st.push_back({{"id", s->id},
                    {"location", {{"lat", 31.0}, {"lon", 121.0}}},
                    {"lanes", 2},
                    {"tls_cert_sha256", std::string(64, static_cast<char>('a' + n++))},
                    {"signing_key_pem", s->key.public_key().to_pem()}});
    registry = std::make_shared<RegistryHolder>(
        Registry::parse(boost::json::serialize(boost::json::object{{"stations", st}}), "t", "."),
        "unused");
    IngestOptions opt;
    opt.future_seq_window = 1000;
    ingest = std::make_unique<Ingest>(*store, blobs, registry, opt);
    ingest->add_observer(&rec);
  }
  ~Fixture() { std::filesystem::remove_all(dir); }

  IngestReply send(const std::string& station, const std::vector<packet::Packet>& ps) {
    return ingest->ingest_tar(station, packet::to_tar(ps));
  }
};

std::vector<std::string> statuses(const IngestReply& r) {
  std::vector<std::string> out;
  for (const auto& x : r.results) out.push_back(x.status);
  return out;
}

}  // namespace

TEST_CASE("ingest: valid packets are stored, resends are duplicates") {
  Fixture f;
  auto ps = f.g1.next(5);
  auto r = f.send("G001", ps);
  CHECK(statuses(r) == std::vector<std::string>(5, "stored"));
  CHECK(r.chain.acked_seq == 5);
  CHECK(r.chain.missing.empty());
  CHECK(f.rec.stored == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  THEN("the violation's attachments are in the blob store and the record keeps its bytes") {
    auto stored = f.store->get_record("G001", 3);
    REQUIRE(stored);
    CHECK(stored->manifest == ps[2].manifest_json);
    CHECK(stored->signature == ps[2].signature);
    CHECK(stored->verdict == "overload");
    REQUIRE(stored->attachments.size() == 2);
    for (const auto& a : stored->attachments)
      CHECK(*f.blobs.get(a.sha256) == ps[2].attachments.at(a.name));
  }
  WHEN("the same packets are sent again") {
    auto again = f.send("G001", ps);
    THEN("each is a duplicate and nothing changes") {
      CHECK(statuses(again) == std::vector<std::string>(5, "duplicate"));
      CHECK(f.store->chain("G001").record_count == 5);
      CHECK(f.rec.stored.size() == 5);
    }
  }
  auto json = boost::json::serialize(r.to_json());
  CHECK_THAT(json, Catch::Contains("\"acked_seq\":5") && Catch::Contains("\"status\":\"stored\""));
}

TEST_CASE("ingest: gaps are tracked and filled by resends") {
  Fixture f;
  auto ps = f.g1.next(6);
  auto r = f.send("G001", {ps[0], ps[1], ps[4], ps[5]});
  CHECK(r.chain.acked_seq == 2);
  CHECK(r.chain.highest_seq == 6);
  CHECK(r.chain.missing == SeqRanges{{3, 4}});
  auto filled = f.send("G001", {ps[2], ps[3]});
  CHECK(statuses(filled) == std::vector<std::string>{"stored", "stored"});
  CHECK(filled.chain.acked_seq == 6);
  CHECK(filled.chain.missing.empty());
}

TEST_CASE("ingest: bad packets are rejected with a precise reason and nothing is stored") {
  Fixture f;
  auto good = f.g1.next(2);
  REQUIRE(f.send("G001", good).chain.acked_seq == 2);
  const auto blobs_before =
      std::distance(std::filesystem::recursive_directory_iterator(f.dir / "blobs"),
                    std::filesystem::recursive_directory_iterator());
  auto p = f.g1.next();  // seq 3: a violation with attachments

  auto expect_rejected = [&](const packet::Packet& bad, const std::string& problem,
                             const std::string& detail_part) {
    auto r = f.send("G001", {bad});
    REQUIRE(r.results.size() == 1);
    CHECK(r.results[0].status == "rejected");
    CHECK(r.results[0].problem == problem);
    CHECK_THAT(r.results[0].detail, Catch::Contains(detail_part));
    CHECK(f.store->chain("G001").highest_seq == 2);
    CHECK_FALSE(f.store->get_record("G001", 3));
  };
  SECTION("wrong signature") {
    auto bad = p;
    bad.signature[10] ^= 0x01;
    expect_rejected(bad, "bad_signature", "");
  }
  SECTION("record signed by another station's key") {
    TestStation impostor("G001");
    impostor.key = f.g2.key;
    impostor.writer = chain::ChainWriter("G001", f.g2.key, 2, f.store->link("G001", 2)->first);
    expect_rejected(impostor.next(), "bad_signature", "");
  }
  SECTION("attachment does not match its hash") {
    auto bad = p;
    bad.attachments.at("plate.jpg")[3] ^= 0x20;
    expect_rejected(bad, "attachment_hash_mismatch", "plate.jpg");
    auto blobs_after = std::distance(std::filesystem::recursive_directory_iterator(f.dir / "blobs"),
                                     std::filesystem::recursive_directory_iterator());
    CHECK(blobs_after == blobs_before);
  }
  SECTION("another station's valid record sent with G001's certificate") {
    auto r = f.send("G001", {f.g2.next()});
    CHECK(r.results[0].status == "rejected");
    CHECK(r.results[0].problem == "station_mismatch");
    CHECK_THAT(r.results[0].detail, Catch::Contains("station G002") && Catch::Contains("G001"));
    CHECK(f.store->chain("G002").highest_seq == 0);
  }
  SECTION("seq far in the future") {
    chain::ChainWriter far("G001", f.g1.key, 5000, std::string(64, '1'));
    auto m = wim::test::pass_record();
    m.station_id = "G001";
    expect_rejected(far.append(m, {}), "seq_out_of_window", "more than 1000 beyond");
  }
  SECTION("a link to a previous record that is not the stored one") {
    chain::ChainWriter forked("G001", f.g1.key, 2, std::string(64, '7'));
    auto m = wim::test::pass_record();
    m.station_id = "G001";
    expect_rejected(forked.append(m, {}), "broken_link", "is not the stored seq 2");
    CHECK(f.rec.breaks == std::vector<std::int64_t>{3});
  }
  SECTION("a broken tar rejects the whole request") {
    auto tar = packet::to_tar({p});
    tar.resize(tar.size() / 2);
    tar[0] = '\x01';
    CHECK_THROWS_AS(f.ingest->ingest_tar("G001", tar), InputError);
    CHECK(f.ingest->counters().broken_tar.load() == 1);
    CHECK_FALSE(f.store->get_record("G001", 3));
  }
  SECTION("a bad packet among good ones: the good ones are stored") {
    auto bad = p;
    bad.signature[0] ^= 0x01;
    auto p4 = f.g1.next();
    auto r = f.send("G001", {bad, p4});
    CHECK(statuses(r) == std::vector<std::string>{"rejected", "stored"});
    CHECK(r.chain.missing == SeqRanges{{3, 3}});
  }
}

TEST_CASE("ingest: a replay of an old seq with other content is kept as a conflict") {
  Fixture f;
  auto ps = f.g1.next(3);
  f.send("G001", ps);
  // The station's own key signs a different seq 2 (e.g. a station restored from an old
  // backup that re-issued seqs): authentic, but not the stored record.
  chain::ChainWriter replay("G001", f.g1.key, 1, f.store->link("G001", 1)->first);
  auto m = wim::test::pass_record(wim::test::kT0_us + 99'000'000);
  m.station_id = "G001";
  auto other = replay.append(m, {});
  auto r = f.send("G001", {other});
  REQUIRE(r.results.size() == 1);
  CHECK(r.results[0].status == "conflict");
  CHECK(r.results[0].seq == 2);
  CHECK(f.store->get_record("G001", 2)->manifest == ps[1].manifest_json);
  auto cs = f.store->conflicts("G001");
  REQUIRE(cs.size() == 1);
  CHECK(cs[0].incoming_sha256 == crypto::sha256_hex(other.manifest_json));
  CHECK(f.rec.conflicts == std::vector<std::int64_t>{2});
  AND_THEN("a monitor raises a conflict alert") {
    Monitor mon(*f.store, {});
    mon.on_conflict("G001", 2, r.results[0].detail);
    REQUIRE(mon.alerts(true).size() == 1);
    CHECK(mon.alerts(true)[0].kind == "conflict");
  }
}

TEST_CASE("ingest: a restarted collector keeps everything and answers resends as duplicates") {
  Fixture f;
  auto ps = f.g1.next(4);
  f.send("G001", {ps[0], ps[1], ps[3]});
  f.ingest.reset();
  f.store = open_sqlite_store(f.dir / "meta.db");
  f.ingest = std::make_unique<Ingest>(*f.store, f.blobs, f.registry);
  auto r = f.send("G001", ps);
  CHECK(statuses(r) == std::vector<std::string>{"duplicate", "duplicate", "stored", "duplicate"});
  CHECK(r.chain.acked_seq == 4);
  CHECK(f.store->chain("G001").record_count == 4);
}

namespace {

/// Submits every (station, packets) request at once and waits for all answers.
std::vector<IngestReply> submit_all(Ingest& ingest,
                                    const std::vector<std::vector<packet::Packet>>& requests,
                                    const std::string& station = "G001") {
  std::vector<std::promise<IngestReply>> answers(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i)
    ingest.submit(station, packet::to_tar(requests[i]),
                  [&p = answers[i]](std::exception_ptr e, IngestReply&& r) {
                    if (e)
                      p.set_exception(e);
                    else
                      p.set_value(std::move(r));
                  });
  std::vector<IngestReply> out;
  for (auto& a : answers) out.push_back(a.get_future().get());
  return out;
}

/// A fork of G001 after its stored seq `after`: seqs after+1.. signed by the station's key
/// with other content (a station restored from an old backup).
std::vector<packet::Packet> fork_after(Fixture& f, std::int64_t after, int count) {
  chain::ChainWriter w("G001", f.g1.key, static_cast<std::uint64_t>(after),
                       f.store->link("G001", after)->first);
  std::vector<packet::Packet> out;
  for (int i = 1; i <= count; ++i) {
    auto m = wim::test::pass_record(wim::test::kT0_us + (500 + after + i) * 1'000'000);
    m.station_id = "G001";
    out.push_back(w.append(m, {}));
  }
  return out;
}

}  // namespace

TEST_CASE("ingest: two requests of one station in flight never both link to one predecessor") {
  // GIVEN seq 1..3 stored; WHEN the true seq 4..5 and a fork 4'..5' arrive at once (the
  // verify pool finishes them in any order) THEN one branch is stored and the other is
  // kept as two conflicts, whichever came first; the stored chain links up.
  for (int round = 0; round < 20; ++round) {
    Fixture f;
    f.send("G001", f.g1.next(3));
    auto fork = fork_after(f, 3, 2);
    auto good = f.g1.next(2);
    auto replies = submit_all(*f.ingest, {good, fork});
    REQUIRE(replies.size() == 2);
    int stored_branches = 0;
    for (const auto& r : replies) {
      REQUIRE(r.results.size() == 2);
      if (statuses(r) == std::vector<std::string>{"stored", "stored"}) {
        ++stored_branches;
      } else {
        CHECK(statuses(r) == std::vector<std::string>{"conflict", "conflict"});
      }
    }
    CHECK(stored_branches == 1);
    CHECK(f.store->chain("G001").acked_seq == 5);
    CHECK(f.store->link("G001", 5)->second == f.store->link("G001", 4)->first);
    CHECK(f.store->link("G001", 4)->second == f.store->link("G001", 3)->first);
    CHECK(f.store->conflicts("G001").size() == 2);
  }
}

TEST_CASE("ingest: consecutive requests of one station submitted at once are all stored") {
  // GIVEN 4 requests of 5 records each, submitted together (verified in any order, grouped
  // by the commit thread as they come) THEN all 20 are stored, no gap, no break, in 1 to 4
  // commit groups.
  Fixture f;
  std::vector<std::vector<packet::Packet>> requests;
  for (int i = 0; i < 4; ++i) requests.push_back(f.g1.next(5));
  for (const auto& r : submit_all(*f.ingest, requests))
    CHECK(statuses(r) == std::vector<std::string>(5, "stored"));
  CHECK(f.store->chain("G001").acked_seq == 20);
  CHECK(f.store->chain("G001").missing.empty());
  CHECK(f.rec.breaks.empty());
  CHECK(f.ingest->counters().commit_groups >= 1);
  CHECK(f.ingest->counters().commit_groups <= 4);
}

namespace {

/// Blob storage that fails every write (a full or broken disk).
struct FailingBlobs : BlobStore {
  void put(std::string_view, std::string_view) override { throw SystemError("disk full"); }
  void put_many(const std::vector<std::pair<std::string, std::string_view>>&, HashCheck) override {
    throw SystemError("disk full");
  }
  std::optional<std::string> get(std::string_view) const override { return std::nullopt; }
  bool contains(std::string_view) const override { return false; }
};

}  // namespace

TEST_CASE("ingest: a failed commit fails every request of its group, nothing acknowledged") {
  Fixture f;
  FailingBlobs broken;
  Ingest ingest(*f.store, broken, f.registry);
  std::vector<std::promise<IngestReply>> answers(6);
  for (int i = 0; i < 6; ++i) {
    auto& st = i % 2 ? f.g2 : f.g1;
    ingest.submit(st.id, packet::to_tar(st.next(3)),
                  [&p = answers[i]](std::exception_ptr e, IngestReply&& r) {
                    if (e)
                      p.set_exception(e);
                    else
                      p.set_value(std::move(r));
                  });
  }
  for (auto& a : answers) CHECK_THROWS_WITH(a.get_future().get(), Catch::Contains("disk full"));
  CHECK(f.store->chain("G001").record_count == 0);
  CHECK(f.store->chain("G002").record_count == 0);
  CHECK(ingest.counters().stored == 0);
  AND_THEN("after stop() a request is refused at once, not lost silently") {
    ingest.stop();
    CHECK_THROWS_WITH(ingest.ingest_tar("G001", packet::to_tar(f.g1.next(1))),
                      Catch::Contains("stopping"));
  }
}

TEST_CASE(
    "ingest: a late vehicle record marked sealed_after_utc is stored and its chain verifies") {
  // The station's time-order rule (docs/records.md "Time order"): a vehicle older than the
  // chain head keeps its measured time and names the head's time in sealed_after_utc. The
  // collector stores by seq and link; the time order is judged by verify_chain over the
  // chain it stored, which accepts exactly that mark.
  Fixture f;
  auto& w = f.g1.writer;
  const std::int64_t head = wim::test::kT0_us + 10'000'000;
  auto with_id = [&](record::Manifest m) {
    m.station_id = "G001";
    return m;
  };
  std::vector<packet::Packet> ps;
  ps.push_back(w.append(with_id(wim::test::event_record("station_start", head)), {}));
  auto late = with_id(wim::test::pass_record(wim::test::kT0_us));
  late.sealed_after_unix_us = head;
  ps.push_back(w.append(late, {}));
  ps.push_back(w.append(with_id(wim::test::pass_record(head + 1000)), {}));
  auto r = f.send("G001", ps);
  CHECK(statuses(r) == std::vector<std::string>(3, "stored"));

  auto stored_chain = [&](std::int64_t last) {
    std::vector<packet::Packet> out;
    for (std::int64_t seq = 1; seq <= last; ++seq) {
      auto p = load_stored_packet(*f.store, f.blobs, "G001", seq);
      REQUIRE(p);
      out.push_back(std::move(*p));
    }
    return out;
  };
  chain::KeyRegistry keys;
  keys.add("G001", f.g1.key.public_key());
  auto back = stored_chain(3);
  CHECK(back[1].manifest_json == ps[1].manifest_json);
  CHECK(record::parse_manifest(back[1].manifest_json).sealed_after_unix_us == head);
  auto findings = chain::verify_chain(back, keys, true, nullptr);
  for (const auto& x : findings) UNSCOPED_INFO("seq " << x.seq << ": " << x.detail);
  CHECK(findings.empty());

  WHEN("a record older than its predecessor comes without the mark") {
    auto r2 = f.send("G001", {w.append(with_id(wim::test::pass_record(head)), {})});
    CHECK(statuses(r2) == std::vector<std::string>{"stored"});
    THEN("the collector keeps it (signed evidence) and its chain names time_out_of_order") {
      auto fs2 = chain::verify_chain(stored_chain(4), keys, true, nullptr);
      REQUIRE(fs2.size() == 1);
      CHECK(fs2[0].seq == 4);
      CHECK(fs2[0].problem == chain::Problem::time_out_of_order);
    }
  }
}
