// SPDX-License-Identifier: Apache-2.0
// A simulated station's chain for collector tests, and a registry naming such stations.
#pragma once
#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "../common/record_samples.hpp"
#include "wim/collector/registry.hpp"
#include "wim/common/chain.hpp"

namespace wim::collector::test {

struct TestStation {
  std::string id;
  crypto::SigningKey key = crypto::SigningKey::generate();  ///< the registered (first) key
  chain::ChainWriter writer{id, key, 0, ""};
  explicit TestStation(std::string station_id) : id(std::move(station_id)) {}

  /// Record i (1-based): a station_start event, then pass and violation records in turn;
  /// each violation's waveform differs, so every violation adds its own blob.
  packet::Packet next() {
    const auto n = static_cast<std::int64_t>(writer.last_seq()) + 1;
    const std::int64_t t = wim::test::kT0_us + n * 1'000'000;
    record::Manifest m = n == 1       ? wim::test::event_record("station_start", t)
                         : n % 2 == 0 ? wim::test::pass_record(t)
                                      : wim::test::violation_record(t);
    m.station_id = id;
    std::map<std::string, std::string> att;
    if (m.kind == record::Kind::violation) {
      att = wim::test::violation_attachments();
      att["waveform.csv"] += std::to_string(n) + ",0\n";
    }
    return writer.append(m, att);
  }
  std::vector<packet::Packet> next(int count) {
    std::vector<packet::Packet> out;
    for (int i = 0; i < count; ++i) out.push_back(next());
    return out;
  }
  /// The key_change event, signed with the current key; later records use `new_key`.
  packet::Packet rotate(crypto::SigningKey new_key) {
    const auto n = static_cast<std::int64_t>(writer.last_seq()) + 1;
    auto m = wim::test::event_record("key_change", wim::test::kT0_us + n * 1'000'000);
    m.station_id = id;
    return writer.rotate_key(std::move(new_key), std::move(m));
  }
};

/// A registry holding each station's first key.
inline std::shared_ptr<RegistryHolder> registry_of(const std::vector<TestStation*>& stations) {
  boost::json::array st;
  int n = 0;
  for (auto* s : stations)
    st.push_back({{"id", s->id},
                  {"location", {{"lat", 31.0}, {"lon", 121.0}}},
                  {"lanes", 2},
                  {"tls_cert_sha256", std::string(64, static_cast<char>('a' + n++))},
                  {"signing_key_pem", s->key.public_key().to_pem()}});
  return std::make_shared<RegistryHolder>(
      Registry::parse(boost::json::serialize(boost::json::object{{"stations", st}}), "t", "."),
      "unused");
}

}  // namespace wim::collector::test
