// SPDX-License-Identifier: Apache-2.0
// The web workbench (issue 18): the /api routes of docs/workbench-api.md and the static
// pages of collector/web/, served on their own HTTPS listener (server certificate only).
// Every /api route but login needs a live session (cookie wim_session), every POST but
// login the session's CSRF token (header X-CSRF-Token) and a JSON body, and each route
// names the roles that may call it; everything else gets the contract's JSON error.
// Thread-safe (Review, Users, Sessions and the stores are).
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "wim/collector/api.hpp"
#include "wim/collector/review.hpp"
#include "wim/collector/server.hpp"
#include "wim/collector/store.hpp"
#include "wim/collector/users.hpp"
#include "wim/common/packet.hpp"

namespace wim::collector {

struct WorkbenchOptions {
  std::filesystem::path web_dir;       ///< static pages ("" or missing: none served)
  std::int64_t session_ttl_s = 28800;  ///< [s] absolute session lifetime
  std::int64_t session_idle_s = 1800;  ///< [s] a session unused this long ends
  std::int64_t max_stats_days = 92;    ///< [days] longest /api/stats range
};

class Workbench {
 public:
  using Clock = std::function<std::int64_t()>;  ///< [us] UTC now
  Workbench(Review& review, Users& users, Api& api, const MetadataStore& store,
            const BlobStore& blobs, std::shared_ptr<RegistryHolder> registry,
            WorkbenchOptions options, Clock clock);
  Response handle(const Request& req, const Peer& peer);
  Sessions& sessions() { return sessions_; }

 private:
  Response route(const Request& req, const Peer& peer);
  Response login(const Request& req, const Peer& peer);
  Response static_file(const Request& req, const std::string& path);
  Response cases_route(const Request& req, const Session& s, const std::string& path);
  Response case_detail(const Request& req, const Session& s, const ReviewCase& c);
  Response case_file(const Request& req, const ReviewCase& c, const std::string& name);
  /// The names in `absent` (attachments of `p` without a blob) whose SHA-256 in the signed
  /// manifest a retention_purge audit entry of the case names (docs/retention.md).
  std::set<std::string> removed_by_retention(const std::string& case_id, const packet::Packet& p,
                                             const std::vector<std::string>& absent);
  Response case_action(const Request& req, const Session& s, const std::string& id,
                       const std::string& action);
  Response stats(const Request& req, bool csv);
  Response users_route(const Request& req);

  Review& review_;
  Users& users_;
  Api& api_;
  const MetadataStore& store_;
  const BlobStore& blobs_;
  std::shared_ptr<RegistryHolder> registry_;
  WorkbenchOptions options_;
  Clock clock_;
  Sessions sessions_;
  LoginThrottle throttle_;
};

/// The plate reading of a stored case's packet (for Review's PlateLookup): nullopt when
/// the case id is malformed, its record is not stored, or it has no plate.
std::optional<record::Plate> stored_plate(const MetadataStore& store, const BlobStore& blobs,
                                          const std::string& case_id);

}  // namespace wim::collector
