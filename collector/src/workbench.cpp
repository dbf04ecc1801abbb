// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/workbench.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "wim/collector/chain_export.hpp"
#include "wim/collector/csv.hpp"
#include "wim/collector/forward.hpp"
#include "wim/common/case_archive.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/error.hpp"
#include "wim/common/log.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/retention_list.hpp"
#include "wim/common/time.hpp"

namespace wim::collector {

namespace bj = boost::json;

namespace {

using Roles = std::set<Role>;
const Roles kReviewers = {Role::transport_reviewer, Role::police_reviewer, Role::supervisor};
const std::vector<std::string> kTransportStates = {"awaiting_transport_review",
                                                   "returned_to_transport"};
const std::vector<std::string> kPoliceStates = {"awaiting_police_review", "penalty_decided",
                                                "closed"};
const std::vector<std::string> kAllStates = {"awaiting_transport_review",
                                             "returned_to_transport",
                                             "awaiting_police_review",
                                             "penalty_decided",
                                             "closed",
                                             "rejected"};

std::string path_of(const Request& req) {
  std::string t(req.target());
  return t.substr(0, t.find('?'));
}

std::string cookie_value(const Request& req, std::string_view name) {
  std::string c(req[http::field::cookie]);
  std::size_t pos = 0;
  while (pos < c.size()) {
    while (pos < c.size() && (c[pos] == ' ' || c[pos] == ';')) ++pos;
    auto end = c.find(';', pos);
    if (end == std::string::npos) end = c.size();
    auto part = c.substr(pos, end - pos);
    auto eq = part.find('=');
    if (eq == name.size() && part.compare(0, eq, name) == 0) return part.substr(eq + 1);
    pos = end + 1;
  }
  return "";
}

Response ok(const Request& req, const bj::value& v) {
  return json_response(req, http::status::ok, bj::serialize(v));
}

/// "a or b or c": the roles a refused request would need.
std::string roles_text(const Roles& roles) {
  std::string out;
  for (auto r : roles) out += (out.empty() ? "" : " or ") + std::string(to_string(r));
  return out;
}

/// 403 forbidden; the detail names the role asking and the roles that may.
Response forbidden(const Request& req, Role role, const std::string& what, const Roles& need) {
  return json_error(
      req, http::status::forbidden, "forbidden",
      std::string(to_string(role)) + " may not " + what + " (needs " + roles_text(need) + ")");
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

/// May this role read this case? (docs/workbench-api.md "Cases")
std::optional<std::string> refuse_case_read(Role role, const ReviewCase& c) {
  if (role == Role::supervisor) return std::nullopt;
  if (role == Role::transport_reviewer) {
    if (contains(kTransportStates, c.state)) return std::nullopt;
    return "transport_reviewer may not read case " + c.case_id + ": it is " + c.state +
           ", not a transport stage (needs police_reviewer or supervisor)";
  }
  if (role == Role::police_reviewer) {
    if (contains(kPoliceStates, c.state)) return std::nullopt;
    return "police_reviewer may not read case " + c.case_id + ": it is " + c.state +
           ", not a police stage (needs transport_reviewer or supervisor)";
  }
  return std::string(to_string(role)) + " may not read cases (needs " + roles_text(kReviewers) +
         ")";
}

http::status status_of(const std::string& code) {
  if (code == "forbidden") return http::status::forbidden;
  if (code == "wrong_state") return http::status::conflict;
  if (code == "not_found") return http::status::not_found;
  return http::status::bad_request;
}

std::string content_type_of(const std::string& path) {
  auto dot = path.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "json") return "application/json";
  return "";
}

}  // namespace

std::optional<record::Plate> stored_plate(const MetadataStore& store, const BlobStore& blobs,
                                          const std::string& case_id) {
  std::string station;
  std::uint64_t seq = 0;
  if (!packet::parse_dir_name(case_id, station, seq)) return std::nullopt;
  auto p = load_stored_packet(store, blobs, station, static_cast<std::int64_t>(seq));
  if (!p) return std::nullopt;
  auto m = p->manifest();
  if (!m.measurement || !m.measurement->plate) return std::nullopt;
  return m.measurement->plate;
}

Workbench::Workbench(Review& review, Users& users, Api& api, const MetadataStore& store,
                     const BlobStore& blobs, std::shared_ptr<RegistryHolder> registry,
                     WorkbenchOptions options, Clock clock)
    : review_(review),
      users_(users),
      api_(api),
      store_(store),
      blobs_(blobs),
      registry_(std::move(registry)),
      options_(std::move(options)),
      clock_(clock),
      sessions_(options_.session_ttl_s, options_.session_idle_s, clock),
      throttle_(clock) {}

Response Workbench::handle(const Request& req, const Peer& peer) {
  Response res;
  try {
    res = route(req, peer);
  } catch (const ReviewError& e) {
    res = json_error(req, status_of(e.code()), e.code(), e.what());
  } catch (const InputError& e) {
    res = json_error(req, http::status::bad_request, "bad_field", e.what());
  }
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Content-Security-Policy",
          "default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'");
  res.set("Referrer-Policy", "no-referrer");
  if (path_of(req).rfind("/api/", 0) == 0) res.set(http::field::cache_control, "no-store");
  return res;
}

Response Workbench::route(const Request& req, const Peer& peer) {
  const auto path = path_of(req);
  if (path.rfind("/api/", 0) != 0) {
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return json_error(req, http::status::method_not_allowed, "method", "pages: use GET");
    return static_file(req, path);
  }
  const bool post = req.method() == http::verb::post;
  if (!post && req.method() != http::verb::get)
    return json_error(req, http::status::method_not_allowed, "method", "use GET or POST");
  if (path == "/api/login") {
    if (!post) return json_error(req, http::status::method_not_allowed, "method", "use POST");
    return login(req, peer);
  }
  auto s = sessions_.find(cookie_value(req, "wim_session"));
  if (!s)
    return json_error(req, http::status::unauthorized, "unauthenticated",
                      "no session or the session expired: log in");
  if (post) {
    const auto token = std::string(req["X-CSRF-Token"]);
    if (token.empty() || token != s->csrf)
      return json_error(req, http::status::forbidden, "csrf",
                        token.empty() ? "header X-CSRF-Token missing" : "X-CSRF-Token wrong");
    const auto ct = std::string(req[http::field::content_type]);
    if (ct.rfind("application/json", 0) != 0)
      return json_error(req, http::status::unsupported_media_type, "content_type",
                        "expected application/json");
  }
  auto need_method = [&](bool want_post) -> std::optional<Response> {
    if (post == want_post) return std::nullopt;
    return json_error(req, http::status::method_not_allowed, "method",
                      want_post ? "use POST" : "use GET");
  };
  auto need_role = [&](const Roles& roles, const std::string& what) -> std::optional<Response> {
    if (roles.count(s->role)) return std::nullopt;
    return forbidden(req, s->role, what, roles);
  };
  const bj::object me{{"user", s->user},
                      {"role", to_string(s->role)},
                      {"csrf", s->csrf},
                      {"expires_unix_s", s->expires_unix_us / 1'000'000}};
  if (path == "/api/me") {
    if (auto r = need_method(false)) return *r;
    return ok(req, me);
  }
  if (path == "/api/logout") {
    if (auto r = need_method(true)) return *r;
    sessions_.remove(s->token);
    auto res = ok(req, bj::object{});
    res.set(http::field::set_cookie,
            "wim_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0");
    return res;
  }
  if (path == "/api/cases" || path.rfind("/api/cases/", 0) == 0) return cases_route(req, *s, path);
  if (path == "/api/overdue") {
    if (auto r = need_method(false)) return *r;
    if (auto r = need_role({Role::supervisor}, "read the overdue list")) return *r;
    bj::object deps{{"transport", bj::array{}}, {"police", bj::array{}}};
    for (const auto& [dep, c] : review_.overdue()) deps[dep].as_array().push_back(c.to_json(true));
    return ok(req, bj::object{{"departments", std::move(deps)}});
  }
  if (path == "/api/audit") {
    if (auto r = need_method(false)) return *r;
    if (auto r = need_role({Role::supervisor}, "read the audit log")) return *r;
    const auto case_id = query_param(req.target(), "case");
    std::size_t limit = 1000;
    if (auto l = query_param(req.target(), "limit"); !l.empty()) {
      if (l.size() > 6 || l.find_first_not_of("0123456789") != std::string::npos || l == "0")
        throw InputError("limit: expected 1..999999");
      limit = std::stoul(l);
    }
    bj::array out;
    for (const auto& e : review_.audit(case_id, limit)) out.push_back(e.to_json());
    return ok(req, bj::object{{"entries", std::move(out)}});
  }
  if (path == "/api/stats" || path == "/api/stats.csv") {
    if (auto r = need_method(false)) return *r;
    if (auto r = need_role({Role::supervisor, Role::operator_}, "read statistics")) return *r;
    return stats(req, path == "/api/stats.csv");
  }
  // The operators' read-only status (/v1/...): stations, alerts, the case and transition
  // deliveries (counts and errors, no case data), the image retention purge.
  if (path == "/api/stations" || path.rfind("/api/stations/", 0) == 0 || path == "/api/alerts" ||
      path == "/api/deliveries" || path == "/api/retention") {
    if (auto r = need_method(false)) return *r;
    if (auto r = need_role({Role::supervisor, Role::operator_},
                           path == "/api/deliveries"  ? "read the delivery status"
                           : path == "/api/retention" ? "read the retention status"
                                                      : "read stations"))
      return *r;
    Request inner{http::verb::get, "/v1" + std::string(req.target()).substr(4), req.version()};
    inner.keep_alive(req.keep_alive());
    return api_.operators(inner, Peer{});
  }
  if (path == "/api/users") {
    if (auto r = need_role({Role::admin}, "manage users")) return *r;
    return users_route(req);
  }
  if (path.rfind("/api/export/", 0) == 0) {
    if (auto r = need_role({Role::supervisor, Role::police_reviewer}, "export")) return *r;
    return json_error(req, http::status::not_found, "not_implemented",
                      "export is not served yet (issue 18, docs/workbench-api.md)");
  }
  return json_error(req, http::status::not_found, "not_found", path);
}

Response Workbench::login(const Request& req, const Peer& peer) {
  if (std::string(req[http::field::content_type]).rfind("application/json", 0) != 0)
    return json_error(req, http::status::unsupported_media_type, "content_type",
                      "expected application/json");
  std::string user, password;
  try {
    auto v = bj::parse(req.body());
    const auto* o = v.if_object();
    if (!o) return json_error(req, http::status::bad_request, "bad_json", "expected an object");
    const auto* u = o->if_contains("user");
    const auto* p = o->if_contains("password");
    if (!u || !u->is_string())
      return json_error(req, http::status::bad_request, "bad_field", "user: expected a string");
    if (!p || !p->is_string())
      return json_error(req, http::status::bad_request, "bad_field", "password: expected a string");
    user = std::string(u->as_string());
    password = std::string(p->as_string());
  } catch (const std::exception& e) {
    return json_error(req, http::status::bad_request, "bad_json", e.what());
  }
  const auto address = peer.remote.substr(0, peer.remote.rfind(':'));
  if (auto wait = throttle_.wait_s(user, address); wait > 0) {
    auto res = json_error(req, http::status::too_many_requests, "too_many_attempts",
                          "too many failed logins: wait " + std::to_string(wait) + " s");
    res.set(http::field::retry_after, std::to_string(wait));
    return res;
  }
  auto role = users_.check(user, password);
  if (!role) {
    throttle_.failed(user, address);
    log::warning("workbench", "failed login for '" + user.substr(0, 64) + "' from " + address);
    return json_error(req, http::status::unauthorized, "unauthenticated", "wrong user or password");
  }
  throttle_.succeeded(user, address);
  auto s = sessions_.create(user, *role);
  auto res = ok(req, bj::object{{"user", s.user},
                                {"role", to_string(s.role)},
                                {"csrf", s.csrf},
                                {"expires_unix_s", s.expires_unix_us / 1'000'000}});
  res.set(http::field::set_cookie, "wim_session=" + s.token +
                                       "; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=" +
                                       std::to_string(options_.session_ttl_s));
  log::notice("workbench", "login " + user + " (" + std::string(to_string(*role)) + ")");
  return res;
}

Response Workbench::static_file(const Request& req, const std::string& path_in) {
  std::string path = path_in == "/" ? "/index.html" : path_in;
  auto not_found = [&] { return json_error(req, http::status::not_found, "not_found", path); };
  if (options_.web_dir.empty() || path.size() > 200) return not_found();
  // Only [A-Za-z0-9._-/] names, no segment starting with '.', a known extension.
  for (char c : path)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != '/')
      return not_found();
  if (path.find("/.") != std::string::npos || path.find("//") != std::string::npos)
    return not_found();
  const auto type = content_type_of(path);
  if (type.empty()) return not_found();
  std::ifstream in(options_.web_dir / path.substr(1), std::ios::binary);
  if (!in) return not_found();
  std::ostringstream ss;
  ss << in.rdbuf();
  Response res{http::status::ok, req.version()};
  res.set(http::field::content_type, type);
  res.set(http::field::cache_control, "no-cache");
  res.body() = ss.str();
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

Response Workbench::cases_route(const Request& req, const Session& s, const std::string& path) {
  const bool post = req.method() == http::verb::post;
  if (path == "/api/cases") {
    if (post) return json_error(req, http::status::method_not_allowed, "method", "use GET");
    const auto queue = query_param(req.target(), "queue");
    const auto state = query_param(req.target(), "state");
    std::size_t limit = 1000;
    if (auto l = query_param(req.target(), "limit"); !l.empty()) {
      if (l.size() > 5 || l.find_first_not_of("0123456789") != std::string::npos || l == "0")
        throw InputError("limit: expected 1..99999");
      limit = std::stoul(l);
    }
    std::vector<ReviewCase> cases;
    if (queue == "transport") {
      if (s.role != Role::transport_reviewer && s.role != Role::supervisor)
        return forbidden(req, s.role, "read the transport queue",
                         {Role::transport_reviewer, Role::supervisor});
      cases = review_.queue("transport", limit);
    } else if (queue == "police") {
      if (s.role != Role::police_reviewer && s.role != Role::supervisor)
        return forbidden(req, s.role, "read the police queue",
                         {Role::police_reviewer, Role::supervisor});
      cases = review_.queue("police", limit);
    } else if (!queue.empty()) {
      throw InputError("queue: expected transport or police");
    } else if (!state.empty()) {
      if (s.role != Role::supervisor)
        return forbidden(req, s.role, "list cases by state", {Role::supervisor});
      if (!contains(kAllStates, state)) throw InputError("state: unknown '" + state + "'");
      cases = review_.by_state(state, limit);
    } else {
      if (!kReviewers.count(s.role)) return forbidden(req, s.role, "read cases", kReviewers);
      throw InputError("queue or state: one is required");
    }
    bj::array out;
    for (const auto& c : cases) out.push_back(c.to_json(true));
    return ok(req, bj::object{{"cases", std::move(out)}});
  }
  // /api/cases/<id>[/files/<name> | /<action>]
  const std::string rest = path.substr(std::string("/api/cases/").size());
  const auto slash = rest.find('/');
  const std::string id = rest.substr(0, slash);
  const std::string tail = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (!kReviewers.count(s.role)) return forbidden(req, s.role, "read or work cases", kReviewers);
  if (post) {
    if (tail.empty() || tail.find('/') != std::string::npos)
      return json_error(req, http::status::method_not_allowed, "method", "use GET");
    return case_action(req, s, id, tail);
  }
  auto c = review_.get(id);  // ReviewError not_found
  if (auto why = refuse_case_read(s.role, c))
    return json_error(req, http::status::forbidden, "forbidden", *why);
  if (tail.empty()) return case_detail(req, s, c);
  if (tail.rfind("files/", 0) == 0) return case_file(req, c, tail.substr(6));
  return json_error(req, http::status::not_found, "not_found", path);
}

Response Workbench::case_detail(const Request& req, const Session&, const ReviewCase& c) {
  bj::object out{{"case", c.to_json(true)}};
  std::string station;
  std::uint64_t seq = 0;
  bj::array history;
  for (const auto& e : review_.audit(c.case_id)) {
    auto h = e.to_json();
    // How late, in the working time the deadline was counted in (today's calendar; whole
    // seconds, rounded up so that a late action is never "0 s" late).
    if (e.deadline == "overdue")
      h["overdue_working_s"] =
          (review_.calendar().working_us_between(e.stage_deadline_unix_us, e.time_unix_us) +
           999'999) /
          1'000'000;
    history.push_back(std::move(h));
  }
  out["history"] = std::move(history);
  std::optional<packet::Packet> p;
  std::vector<std::string> absent;
  if (packet::parse_dir_name(c.case_id, station, seq))
    p = load_stored_packet(store_, blobs_, station, static_cast<std::int64_t>(seq), &absent);
  if (!p) {
    out["manifest"] = nullptr;
    out["verification"] = {{"signature", "unknown"},
                           {"chain", "unknown"},
                           {"attachments", bj::array{}},
                           {"detail", "the record of this case is not stored"}};
    out["attachments"] = bj::array{};
    return ok(req, out);
  }
  out["manifest"] = bj::parse(p->manifest_json);
  // Signature and attachments: chain::verify_packet with the registry's key.
  chain::KeyRegistry keys;
  const auto* entry = registry_->current()->by_id(station);
  if (entry && entry->signing_key) keys.add(station, *entry->signing_key);
  chain::PacketFacts facts;
  const auto findings = chain::verify_packet(*p, keys, facts);
  const auto removed = removed_by_retention(c.case_id, *p, absent);
  std::string signature = "ok";
  bj::array problems;
  for (const auto& f : findings) {
    if (f.problem == chain::Problem::attachment_missing &&
        removed.contains(f.detail.substr(0, f.detail.find(" is listed"))))
      continue;  // named by the case's retention_purge audit entry
    problems.push_back({{"problem", chain::to_string(f.problem)}, {"detail", f.detail}});
    if (f.problem == chain::Problem::bad_signature || f.problem == chain::Problem::malformed)
      signature = "bad";
    else if (f.problem == chain::Problem::unknown_key && signature == "ok")
      signature = "unknown_key";
  }
  // Chain link: prev_sha256 against the stored manifest of seq - 1.
  std::string chain_state = "unknown";
  std::string prev;
  record::Manifest m;
  bool parsed = false;
  try {
    m = p->manifest();
    parsed = true;
  } catch (const InputError&) {
  }
  if (parsed) {
    if (seq == 1) {
      chain_state = m.prev_sha256 == std::string(64, '0') ? "ok" : "broken";
    } else if (auto l = store_.link(station, static_cast<std::int64_t>(seq) - 1)) {
      chain_state = l->first == m.prev_sha256 ? "ok" : "broken";
    } else {
      chain_state = "gap";
    }
  }
  bj::array atts, att_list;
  if (parsed)
    for (const auto& a : m.attachments) {
      auto it = p->attachments.find(a.name);
      const bool good = it != p->attachments.end() && crypto::sha256_hex(it->second) == a.sha256 &&
                        it->second.size() == a.size_bytes;
      const bool gone = removed.contains(a.name);
      atts.push_back(
          {{"name", a.name}, {"sha256", a.sha256}, {"ok", good}, {"removed_by_retention", gone}});
      bj::value url = nullptr;
      if (!gone) url = "/api/cases/" + c.case_id + "/files/" + a.name;
      att_list.push_back({{"name", a.name},
                          {"type", a.media_type},
                          {"size_bytes", a.size_bytes},
                          {"url", std::move(url)},
                          {"removed_by_retention", gone}});
    }
  out["verification"] = {{"signature", signature},
                         {"chain", chain_state},
                         {"attachments", std::move(atts)},
                         {"findings", std::move(problems)},
                         {"manifest_sha256", facts.manifest_sha256},
                         {"matches_case", facts.manifest_sha256 == c.manifest_sha256}};
  out["attachments"] = std::move(att_list);
  return ok(req, out);
}

std::set<std::string> Workbench::removed_by_retention(const std::string& case_id,
                                                      const packet::Packet& p,
                                                      const std::vector<std::string>& absent) {
  std::set<std::string> out;
  if (absent.empty()) return out;
  std::set<std::string> purged;
  for (const auto& e : review_.audit(case_id))
    if (e.action == retention_list::kAction)
      purged.merge(retention_list::hashes_in_reason(e.reason));
  try {
    for (const auto& a : p.manifest().attachments)
      if (purged.contains(a.sha256) &&
          std::find(absent.begin(), absent.end(), a.name) != absent.end())
        out.insert(a.name);
  } catch (const InputError&) {  // a malformed manifest: verify_packet names it
  }
  return out;
}

Response Workbench::case_file(const Request& req, const ReviewCase& c, const std::string& name) {
  std::string station;
  std::uint64_t seq = 0;
  if (!record::is_valid_attachment_name(name) || !packet::parse_dir_name(c.case_id, station, seq))
    return json_error(req, http::status::not_found, "not_found", name);
  std::vector<std::string> absent;
  auto p = load_stored_packet(store_, blobs_, station, static_cast<std::int64_t>(seq), &absent);
  if (!p) return json_error(req, http::status::not_found, "not_found", "record not stored");
  if (std::find(absent.begin(), absent.end(), name) != absent.end()) {
    if (removed_by_retention(c.case_id, *p, absent).contains(name))
      return json_error(req, http::status::gone, "removed_by_retention",
                        name +
                            ": removed by the retention rule (the case's retention_purge "
                            "audit entry names it; the signed manifest stays)");
    throw SystemError("attachment " + name + " of " + c.case_id +
                      " is missing from the blob store");
  }
  auto it = p->attachments.find(name);
  if (it == p->attachments.end())
    return json_error(req, http::status::not_found, "not_found", name);
  std::string type = packet::media_type_for(name);
  for (const auto& a : p->manifest().attachments)
    if (a.name == name && !a.media_type.empty()) type = a.media_type;
  Response res{http::status::ok, req.version()};
  res.set(http::field::content_type, type);
  res.set(http::field::content_disposition, "inline; filename=\"" + name + "\"");
  res.body() = it->second;
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

Response Workbench::case_action(const Request& req, const Session& s, const std::string& id,
                                const std::string& action) {
  static const std::map<std::string, Role> kWho = {
      {"plate", Role::transport_reviewer},  {"confirm", Role::transport_reviewer},
      {"reject", Role::transport_reviewer}, {"return", Role::police_reviewer},
      {"decide", Role::police_reviewer},    {"close", Role::police_reviewer}};
  auto who = kWho.find(action);
  if (who == kWho.end()) return json_error(req, http::status::not_found, "not_found", action);
  if (s.role != who->second) return forbidden(req, s.role, action + " a case", {who->second});
  bj::value v;
  try {
    v = bj::parse(req.body().empty() ? std::string("{}") : req.body());
  } catch (const std::exception& e) {
    return json_error(req, http::status::bad_request, "bad_json", e.what());
  }
  if (!v.is_object())
    return json_error(req, http::status::bad_request, "bad_json", "expected an object");
  const auto& o = v.as_object();
  auto field = [&](const char* k) -> std::string {
    const auto* f = o.if_contains(k);
    if (!f || f->is_null()) return "";
    if (!f->is_string()) throw ReviewError("bad_field", std::string(k) + ": expected a string");
    return std::string(f->as_string());
  };
  const Actor a{s.user, s.role};
  const auto reason = field("reason");
  ReviewCase c;
  if (action == "plate")
    c = review_.read_plate(a, id, field("plate"));
  else if (action == "confirm")
    c = review_.confirm(a, id, reason);
  else if (action == "reject")
    c = review_.reject(a, id, reason);
  else if (action == "return")
    c = review_.return_to_transport(a, id, reason);
  else if (action == "decide")
    c = review_.decide(a, id, field("kind"), reason);
  else
    c = review_.close(a, id, reason);
  log::notice("workbench", s.user + " " + action + " " + id + " -> " + c.state);
  return ok(req, bj::object{{"case", c.to_json(true)}});
}

Response Workbench::stats(const Request& req, bool csv) {
  const auto now = clock_();
  const std::int64_t kDayUs = 86400ll * 1'000'000;
  auto from = query_param(req.target(), "from");
  auto to = query_param(req.target(), "to");
  const std::string today = time::format_utc_ms(now).substr(0, 10);
  if (from.empty()) from = today;
  if (to.empty()) to = from;
  std::int64_t from_us = 0, to_us = 0;
  try {
    from_us = parse_day(from);
  } catch (const InputError& e) {
    throw InputError(std::string("from: ") + e.what());
  }
  try {
    to_us = parse_day(to);
  } catch (const InputError& e) {
    throw InputError(std::string("to: ") + e.what());
  }
  if (to_us < from_us) throw InputError("to: before from");
  if ((to_us - from_us) / kDayUs + 1 > options_.max_stats_days)
    throw InputError("to: at most " + std::to_string(options_.max_stats_days) + " days");
  const auto reg = registry_->current();
  bj::array days;
  std::string text = "day,station_id,vehicles,overloads,overload_rate\n";
  for (std::int64_t d = from_us; d <= to_us; d += kDayUs) {
    const auto day = time::format_utc_ms(d).substr(0, 10);
    bj::array per;
    std::int64_t vehicles = 0, overloads = 0;
    for (const auto& st : reg->stations()) {
      auto o = day_stats(store_, st.id, d, day);
      const auto v = o.at("vehicles").as_int64(), n = o.at("overloads").as_int64();
      vehicles += v;
      overloads += n;
      const double rate = v ? static_cast<double>(n) / static_cast<double>(v) : 0.0;
      per.push_back({{"station_id", st.id},
                     {"name", st.name},
                     {"vehicles", v},
                     {"overloads", n},
                     {"overload_rate", rate}});
      text += csv::text(day) + "," + csv::text(st.id) + "," + csv::number(v) + "," +
              csv::number(n) + "," + csv::number(rate, 6) + "\n";
    }
    const double rate =
        vehicles ? static_cast<double>(overloads) / static_cast<double>(vehicles) : 0.0;
    text += csv::text(day) + ",city," + csv::number(vehicles) + "," + csv::number(overloads) + "," +
            csv::number(rate, 6) + "\n";
    days.push_back(
        {{"day", day},
         {"stations", std::move(per)},
         {"city", {{"vehicles", vehicles}, {"overloads", overloads}, {"overload_rate", rate}}}});
  }
  if (csv) {
    Response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/csv; charset=utf-8");
    res.set(http::field::content_disposition,
            "attachment; filename=\"wim-stats-" + from + "-" + to + ".csv\"");
    res.body() = std::move(text);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
  }
  // Cases by state over all cases; the shares are over cases, at this moment (see docs).
  bj::object by_state;
  std::int64_t total = 0, overdue = 0, finished = 0;
  for (const auto& st : kAllStates) {
    const auto cs = review_.by_state(st, 1'000'000);
    by_state[st] = static_cast<std::int64_t>(cs.size());
    total += static_cast<std::int64_t>(cs.size());
    for (const auto& c : cs) overdue += c.overdue ? 1 : 0;
    if (st == "closed" || st == "rejected") finished += static_cast<std::int64_t>(cs.size());
  }
  const double within =
      total ? 1.0 - static_cast<double>(overdue) / static_cast<double>(total) : 1.0;
  const double closure = total ? static_cast<double>(finished) / static_cast<double>(total) : 0.0;
  return ok(req, bj::object{{"from", from},
                            {"to", to},
                            {"days", std::move(days)},
                            {"cases_by_state", std::move(by_state)},
                            {"cases_total", total},
                            {"cases_overdue", overdue},
                            {"within_deadline_share", within},
                            {"closure_rate", closure}});
}

Response Workbench::users_route(const Request& req) {
  if (req.method() == http::verb::get) {
    bj::array out;
    for (const auto& u : users_.list())
      out.push_back({{"user", u.user}, {"role", to_string(u.role)}, {"disabled", u.disabled}});
    return ok(req, bj::object{{"users", std::move(out)}});
  }
  bj::value v;
  try {
    v = bj::parse(req.body());
  } catch (const std::exception& e) {
    return json_error(req, http::status::bad_request, "bad_json", e.what());
  }
  if (!v.is_object())
    return json_error(req, http::status::bad_request, "bad_json", "expected an object");
  const auto& o = v.as_object();
  for (const char* k : {"user", "role", "password"})
    if (!o.contains(k) || !o.at(k).is_string())
      throw InputError(std::string(k) + ": expected a string");
  const std::string user(o.at("user").as_string());
  const auto role = role_from_string(std::string(o.at("role").as_string()));
  users_.add(user, role, std::string(o.at("password").as_string()));
  return ok(req, bj::object{{"user", user}, {"role", to_string(role)}});
}

}  // namespace wim::collector
