// SPDX-License-Identifier: Apache-2.0
// The collector accepts records signed with a station's new key only after the
// key_change event signed with its old key, also after a restart (read from meta.db).
#include <catch2/catch.hpp>

#include "test_station.hpp"
#include "test_util.hpp"
#include "wim/collector/ingest.hpp"

namespace fs = std::filesystem;
using namespace wim;
using namespace wim::collector;
using wim::collector::test::TestStation;

namespace {

std::vector<std::string> statuses(const IngestReply& r) {
  std::vector<std::string> out;
  for (const auto& x : r.results)
    out.push_back(x.status + (x.problem.empty() ? "" : ":" + x.problem));
  return out;
}

struct Fixture {
  fs::path dir = wim::collector::test::temp_dir("rotation");
  TestStation g1{"G001"};
  std::shared_ptr<RegistryHolder> registry = wim::collector::test::registry_of({&g1});
  std::unique_ptr<MetadataStore> store = open_sqlite_store(dir / "meta.db");
  FileBlobStore blobs{dir / "blobs"};
  std::unique_ptr<Ingest> ingest;
  Fixture() { start(); }
  ~Fixture() {
    ingest.reset();
    fs::remove_all(dir);
  }
  void start() {
    IngestOptions opt;
    opt.future_seq_window = 1000;
    ingest.reset();
    ingest = std::make_unique<Ingest>(*store, blobs, registry, opt);
  }
  IngestReply send(const std::vector<packet::Packet>& ps) { return ingest->ingest("G001", ps); }
};

}  // namespace

TEST_CASE("ingest: a station's new key is accepted only after its key_change event") {
  Fixture f;
  REQUIRE(statuses(f.send(f.g1.next(4))) == std::vector<std::string>(4, "stored"));
  const auto first_key = f.g1.key;
  const auto change = f.g1.rotate(crypto::SigningKey::generate());  // seq 5, old key
  const auto after = f.g1.next(3);                                  // seq 6..8, new key

  // Before the event is stored, the new key's records are not authentic.
  CHECK(statuses(f.send(after)) == std::vector<std::string>(3, "rejected:bad_signature"));
  CHECK(statuses(f.send({change})) == std::vector<std::string>{"stored"});
  CHECK(statuses(f.send(after)) == std::vector<std::string>(3, "stored"));

  // The old key can no longer continue the chain.
  chain::ChainWriter stolen("G001", first_key, 8, f.store->link("G001", 8).value().first);
  auto m = wim::test::pass_record(wim::test::kT0_us + 9'000'000);
  m.station_id = "G001";
  CHECK(statuses(f.send({stolen.append(m, {})})) ==
        std::vector<std::string>{"rejected:bad_signature"});

  THEN("a restarted collector reads the key change from its store") {
    f.start();
    CHECK(statuses(f.send(f.g1.next(2))) == std::vector<std::string>(2, "stored"));
    CHECK(f.store->chain("G001").acked_seq == 10);
  }
}

TEST_CASE("ingest: a key change and the records it covers in one request, a gap filled later") {
  Fixture f;
  auto ps = f.g1.next(3);                                     // seq 1..3, old key
  ps.push_back(f.g1.rotate(crypto::SigningKey::generate()));  // seq 4, old key
  for (auto& p : f.g1.next(3)) ps.push_back(std::move(p));    // seq 5..7, new key
  auto gap = ps[2];
  ps.erase(ps.begin() + 2);
  CHECK(statuses(f.send(ps)) == std::vector<std::string>(6, "stored"));
  CHECK(f.store->chain("G001").missing == SeqRanges{{3, 3}});
  // seq 3 lies before the change: the old key's signature is the valid one.
  CHECK(statuses(f.send({gap})) == std::vector<std::string>{"stored"});
  CHECK(f.store->chain("G001").acked_seq == 7);
}
