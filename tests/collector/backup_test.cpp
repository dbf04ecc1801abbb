// SPDX-License-Identifier: Apache-2.0
// Online backup while the ingest stores records, restore on a fresh data folder with every
// chain verified, and restore refusing tampered, incomplete or truncated backups.
#include "wim/collector/backup.hpp"

#include <sqlite3.h>

#include <atomic>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <thread>

#include "test_station.hpp"
#include "test_util.hpp"
#include "wim/collector/chain_export.hpp"
#include "wim/collector/ingest.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/json.hpp"
#include "wim/common/sqlite.hpp"

namespace fs = std::filesystem;
using namespace wim;
using namespace wim::collector;
using wim::collector::test::read_file;
using wim::collector::test::temp_dir;
using wim::collector::test::TestStation;
using wim::collector::test::write_file;

namespace {

struct Collector {
  fs::path data;
  std::unique_ptr<MetadataStore> store;
  std::unique_ptr<FileBlobStore> blobs;
  std::unique_ptr<Ingest> ingest;
  Collector(fs::path dir, std::shared_ptr<RegistryHolder> registry) : data(std::move(dir)) {
    fs::create_directories(data);
    store = open_sqlite_store(data / "meta.db");
    blobs = std::make_unique<FileBlobStore>(data / "blobs");
    IngestOptions opt;
    opt.future_seq_window = 100000;
    ingest = std::make_unique<Ingest>(*store, *blobs, std::move(registry), opt);
  }
  ~Collector() {
    if (ingest) ingest->stop();
  }
  std::size_t send(const std::string& station, const std::vector<packet::Packet>& ps) {
    auto r = ingest->ingest(station, ps);
    std::size_t stored = 0;
    for (const auto& x : r.results) stored += x.status == "stored";
    return stored;
  }
};

struct Fixture {
  fs::path dir = temp_dir("backup");
  TestStation g1{"G001"}, g2{"G002"};
  std::shared_ptr<RegistryHolder> registry = wim::collector::test::registry_of({&g1, &g2});
  std::unique_ptr<Collector> live = std::make_unique<Collector>(dir / "data", registry);
  fs::path bk = dir / "bk";
  chain::KeyRegistry keys;
  Fixture() {
    keys.add(g1.id, g1.key.public_key());
    keys.add(g2.id, g2.key.public_key());
  }
  ~Fixture() {
    live.reset();
    fs::remove_all(dir);
  }
  // Rewrites backup.json's hashes and sizes after a file was changed, as a forger would.
  void reseal(const std::function<void(boost::json::object&)>& edit = {}) {
    auto doc = json::parse(read_file(bk / kBackupManifest), "backup.json");
    auto& o = doc.as_object();
    for (auto& v : o["files"].as_array()) {
      auto& f = v.as_object();
      const auto p = bk / std::string(f["path"].as_string());
      if (!fs::exists(p)) continue;
      f["sha256"] = crypto::sha256_file_hex(p);
      f["size_bytes"] = static_cast<std::int64_t>(fs::file_size(p));
    }
    if (edit) edit(o);
    const auto text = boost::json::serialize(o) + "\n";
    write_file(bk / kBackupManifest, text);
    write_file(bk / kBackupManifestHash, crypto::sha256_hex(text) + "  backup.json\n");
  }
  std::string some_blob_rel() const {
    for (auto it = fs::recursive_directory_iterator(bk / "blobs");
         it != fs::recursive_directory_iterator(); ++it)
      if (it->is_regular_file()) return fs::relative(it->path(), bk).generic_string();
    return "";
  }
  std::string refusal(const fs::path& target) {
    try {
      restore_data_dir(bk, target, keys);
    } catch (const RestoreRefused& e) {
      return e.what();
    }
    return "(restored)";
  }
};

void exec_sql(const fs::path& db, const std::string& sql) {
  sqlite::Db d(db);
  d.exec(sql);
}

}  // namespace

TEST_CASE(
    "backup: taken during ingest, restored on a fresh data folder with every chain verified") {
  Fixture f;
  REQUIRE(f.live->send("G001", f.g1.next(30)) == 30);
  REQUIRE(f.live->send("G002", f.g2.next(30)) == 30);
  // Stations keep sending while the backup runs.
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::thread writer([&] {
    while (!stop && sent < 2000) {
      f.live->send("G001", f.g1.next(10));
      f.live->send("G002", f.g2.next(10));
      sent += 20;
    }
  });
  BackupResult r;
  try {
    r = backup_data_dir(f.live->data, f.bk);
  } catch (...) {
    stop = true;
    writer.join();
    throw;
  }
  stop = true;
  writer.join();
  INFO("records sent during the backup: " << sent.load());
  REQUIRE(r.stations.size() == 2);
  CHECK(r.stations.at("G001").records >= 30);
  CHECK(r.stations.at("G001").records == r.stations.at("G001").highest_seq);
  CHECK(r.blobs >= 15);

  const auto target = f.dir / "restored";
  auto res = restore_data_dir(f.bk, target, f.keys);
  CHECK(res.moved_aside.empty());
  CHECK(res.verified.stations == r.stations);
  auto store = open_sqlite_store(target / "meta.db");
  FileBlobStore blobs(target / "blobs");
  for (const auto& [id, st] : r.stations) {
    const auto c = store->chain(id);
    CHECK(c.record_count == st.records);
    CHECK(c.acked_seq == st.highest_seq);
    CHECK(c.missing.empty());
    // Every record is the very one the live collector holds, attachments included.
    for (std::int64_t seq = 1; seq <= st.highest_seq; ++seq) {
      auto a = load_stored_packet(*store, blobs, id, seq);
      auto b = load_stored_packet(*f.live->store, *f.live->blobs, id, seq);
      REQUIRE(a);
      REQUIRE(b);
      CHECK(*a == *b);
    }
  }
  THEN("the restored folder serves a collector that continues the chains") {
    store.reset();
    Collector again(target, f.registry);
    const auto next_seq = r.stations.at("G002").highest_seq + 1;
    chain::ChainWriter w("G002", f.g2.key, static_cast<std::uint64_t>(next_seq - 1),
                         again.store->link("G002", next_seq - 1).value().first);
    auto m = wim::test::pass_record(wim::test::kT0_us + 100'000'000'000);
    m.station_id = "G002";
    CHECK(again.send("G002", {w.append(m, {})}) == 1);
  }
}

TEST_CASE("backup: never overwrites, and an interrupted backup is not restorable") {
  Fixture f;
  REQUIRE(f.live->send("G001", f.g1.next(5)) == 5);
  backup_data_dir(f.live->data, f.bk);
  const auto before = read_file(f.bk / kBackupManifest);
  CHECK_THROWS_WITH(backup_data_dir(f.live->data, f.bk), Catch::Contains("never overwrites"));
  CHECK(read_file(f.bk / kBackupManifest) == before);
  write_file(f.dir / "file", "x");
  CHECK_THROWS_WITH(backup_data_dir(f.live->data, f.dir / "file"),
                    Catch::Contains("never overwrites"));
  // The manifest is written last: without it the folder is refused as incomplete.
  fs::remove(f.bk / kBackupManifestHash);
  CHECK_THAT(f.refusal(f.dir / "t"), Catch::Contains("backup.json.sha256: missing"));
  CHECK_FALSE(fs::exists(f.dir / "t"));
  CHECK_THROWS_WITH(backup_data_dir(f.dir / "nothing", f.dir / "bk2"),
                    Catch::Contains("no collector data"));
}

TEST_CASE("restore: refuses a tampered backup, naming the file or the record") {
  Fixture f;
  REQUIRE(f.live->send("G001", f.g1.next(12)) == 12);
  REQUIRE(f.live->send("G002", f.g2.next(4)) == 4);
  backup_data_dir(f.live->data, f.bk);
  const auto target = f.dir / "target";
  CHECK(verify_backup(f.bk, f.keys).empty());

  SECTION("a changed blob byte") {
    const auto rel = f.some_blob_rel();
    auto b = read_file(f.bk / rel);
    b[3] = static_cast<char>(b[3] ^ 1);
    write_file(f.bk / rel, b);
    const auto why = f.refusal(target);
    CHECK_THAT(why, Catch::Contains(rel + ": SHA-256"));
    AND_WHEN("the forger also rewrites backup.json") {
      f.reseal();
      CHECK_THAT(f.refusal(target), Catch::Contains(rel + ": blob does not hash to its name"));
    }
  }
  SECTION("a missing blob") {
    const auto rel = f.some_blob_rel();
    fs::remove(f.bk / rel);
    CHECK_THAT(f.refusal(target), Catch::Contains(rel + ": missing"));
    AND_WHEN("its entry is also taken out of backup.json") {
      f.reseal([&](boost::json::object& o) {
        auto& files = o["files"].as_array();
        for (auto it = files.begin(); it != files.end(); ++it)
          if (it->as_object()["path"].as_string() == rel) {
            files.erase(it);
            break;
          }
      });
      CHECK_THAT(f.refusal(target), Catch::Contains("is not in the backup") &&
                                        Catch::Contains(fs::path(rel).filename().string()));
    }
  }
  SECTION("a truncated meta.db") {
    const auto db = read_file(f.bk / "meta.db");
    write_file(f.bk / "meta.db", db.substr(0, db.size() / 2));
    CHECK_THAT(f.refusal(target),
               Catch::Contains("meta.db: " + std::to_string(db.size() / 2) +
                               " bytes, backup.json says " + std::to_string(db.size())));
    AND_WHEN("backup.json is rewritten to match") {
      f.reseal();
      CHECK_THAT(f.refusal(target), Catch::Contains("meta.db: "));
    }
  }
  SECTION("a record's manifest altered in meta.db, hashes rewritten") {
    exec_sql(f.bk / "meta.db",
             "UPDATE records SET manifest=CAST(replace(CAST(manifest AS TEXT),'\"lane\":1',"
             "'\"lane\":2') AS BLOB) WHERE station='G001' AND seq=4");
    f.reseal();
    CHECK_THAT(f.refusal(target), Catch::Contains("G001 seq 4: bad_signature"));
  }
  SECTION("a record deleted from meta.db, hashes rewritten") {
    exec_sql(f.bk / "meta.db", "DELETE FROM records WHERE station='G001' AND seq=7");
    f.reseal();
    const auto why = f.refusal(target);
    CHECK_THAT(why, Catch::Contains("G001: 11 records up to seq 12, backup.json says 12"));
    CHECK_THAT(why, Catch::Contains("G001 seq 7: gap"));
  }
  SECTION("a file added to the backup folder") {
    write_file(f.bk / "blobs" / "extra", "x");
    CHECK_THAT(f.refusal(target), Catch::Contains("blobs/extra: in the backup folder but not"));
  }
  SECTION("a station whose key is not this machine's") {
    chain::KeyRegistry other;
    other.add("G001", crypto::SigningKey::generate().public_key());
    other.add("G002", f.g2.key.public_key());
    f.keys = other;
    CHECK_THAT(f.refusal(target), Catch::Contains("G001 seq 1: bad_signature"));
  }
  // Refused: nothing was created or changed at the target.
  CHECK_FALSE(fs::exists(target));
  CHECK_FALSE(fs::exists(f.dir / ".target.restoring"));
}

TEST_CASE("restore: a live data folder is replaced only when told, and then kept aside") {
  Fixture f;
  REQUIRE(f.live->send("G001", f.g1.next(6)) == 6);
  backup_data_dir(f.live->data, f.bk);
  const auto target = f.dir / "target";
  fs::create_directories(target);
  write_file(target / "meta.db", "the live database");
  CHECK_THAT(f.refusal(target), Catch::Contains("holds data (meta.db)"));
  CHECK(read_file(target / "meta.db") == "the live database");
  RestoreOptions ro;
  ro.replace_existing = true;
  auto res = restore_data_dir(f.bk, target, f.keys, ro);
  REQUIRE_FALSE(res.moved_aside.empty());
  CHECK(read_file(res.moved_aside / "meta.db") == "the live database");
  CHECK(open_sqlite_store(target / "meta.db")->chain("G001").record_count == 6);
}

TEST_CASE("backup: a chain with a station key rotation restores and verifies") {
  Fixture f;
  auto ps = f.g1.next(5);
  ps.push_back(f.g1.rotate(crypto::SigningKey::generate()));
  for (auto& p : f.g1.next(5)) ps.push_back(std::move(p));
  REQUIRE(f.live->send("G001", ps) == 11);
  backup_data_dir(f.live->data, f.bk);
  BackupResult r;
  // Batches of 3: the key in force and the links carry across batch boundaries.
  CHECK(verify_backup(f.bk, f.keys, &r, 3).empty());
  CHECK(r.stations.at("G001").records == 11);
  CHECK_NOTHROW(restore_data_dir(f.bk, f.dir / "target", f.keys));
}
