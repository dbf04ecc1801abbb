// SPDX-License-Identifier: Apache-2.0
// The collector's HTTP API. Station endpoints (HTTPS, mutual TLS, docs/uplink.md):
//   POST /v1/records, GET /v1/stations/{id}/ack, POST /v1/heartbeat.
// Operators' read-only endpoints (plain HTTP on 127.0.0.1, docs/collector.md):
//   GET /v1/stations, /v1/stations/{id}, /v1/alerts[?active=1], /metrics,
//   /v1/cases[?station=ID], /v1/stats?day=YYYY-MM-DD[&station=ID], /v1/retention,
//   /v1/deliveries.
// Thread-safe (everything it calls is).
#pragma once
#include <memory>

#include "wim/collector/forward.hpp"
#include "wim/collector/ingest.hpp"
#include "wim/collector/monitor.hpp"
#include "wim/collector/registry.hpp"
#include "wim/collector/retention.hpp"
#include "wim/collector/server.hpp"

namespace wim::collector {

class TransitionWebhook;

class Api {
 public:
  Api(Ingest& ingest, const MetadataStore& store, Monitor& monitor,
      std::shared_ptr<RegistryHolder> registry);
  /// Station requests; `peer.station_id` comes from the verified client certificate.
  /// POST /v1/records waits here for the ingest (verification and durable commit).
  Response station(const Request& req, const Peer& peer);
  /// Same, for Server's AsyncHandler: POST /v1/records is handed to the ingest's threads
  /// and answered from there; the io thread returns at once.
  void station_async(Request&& req, const Peer& peer, Respond respond);
  /// Operators' requests.
  Response operators(const Request& req, const Peer& peer);
  /// Lets /metrics include the TLS server's refusal counters.
  void set_server_counters(const ServerCounters* c) { server_counters_ = c; }
  /// Enables GET /v1/cases.
  void set_forwarder(const Forwarder* f) { forwarder_ = f; }
  /// The image retention purge (docs/retention.md): GET /v1/retention and the
  /// wim_retention_* metrics. Without it /v1/retention says retention is off.
  void set_retention(const RetentionRunner* r) { retention_ = r; }
  /// The review transitions' webhook: in GET /v1/deliveries and the
  /// wim_transition_webhook_* metrics.
  void set_transitions(const TransitionWebhook* t) { transitions_ = t; }
  std::string metrics_text() const;

 private:
  Ingest& ingest_;
  const MetadataStore& store_;
  Monitor& monitor_;
  std::shared_ptr<RegistryHolder> registry_;
  const ServerCounters* server_counters_ = nullptr;
  const Forwarder* forwarder_ = nullptr;
  const RetentionRunner* retention_ = nullptr;
  const TransitionWebhook* transitions_ = nullptr;
};

}  // namespace wim::collector
