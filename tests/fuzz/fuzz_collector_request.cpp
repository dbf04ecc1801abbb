// SPDX-License-Identifier: Apache-2.0
// Raw bytes as an HTTP request from station G001 into the collector's station API: the
// Beast parser with the server's limits, then /v1/records (tar, verification, storage),
// /v1/heartbeat (JSON) or /ack. Any input must end in an HTTP error or a result, never
// in a crash or a sanitizer report.
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "wim/collector/api.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/json.hpp"

using namespace wim::collector;

namespace {

struct World {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("wim-fuzz-collector-" + std::to_string(::getpid()));
  std::shared_ptr<RegistryHolder> registry;
  std::unique_ptr<MetadataStore> store;
  std::unique_ptr<FileBlobStore> blobs;
  std::unique_ptr<Ingest> ingest;
  std::unique_ptr<Monitor> monitor;
  std::unique_ptr<Api> api;
  World() {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto pem = wim::crypto::SigningKey::generate().public_key().to_pem();
    registry = std::make_shared<RegistryHolder>(
        Registry::parse(boost::json::serialize(boost::json::object{
                            {"stations", boost::json::array{boost::json::object{
                                             {"id", "G001"},
                                             {"location", {{"lat", 1.0}, {"lon", 1.0}}},
                                             {"lanes", 1},
                                             {"tls_cert_sha256", std::string(64, 'a')},
                                             {"signing_key_pem", pem}}}}}),
                        "fuzz", "."),
        "unused");
    store = open_sqlite_store(dir / "meta.db");
    blobs = std::make_unique<FileBlobStore>(dir / "blobs");
    ingest = std::make_unique<Ingest>(*store, *blobs, registry);
    monitor = std::make_unique<Monitor>(*store, MonitorOptions{});
    api = std::make_unique<Api>(*ingest, *store, *monitor, registry);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  http::request_parser<http::string_body> parser;
  parser.body_limit(1u << 20);
  parser.header_limit(16 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;
  Peer peer{"G001", std::string(64, 'a'), "fuzz"};
  (void)world.api->station(parser.get(), peer);
  return 0;
}
