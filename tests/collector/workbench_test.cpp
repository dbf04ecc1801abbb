// SPDX-License-Identifier: Apache-2.0
// The workbench over loopback HTTPS (issue 18): every /api route x every role (and no
// session) against docs/workbench-api.md, CSRF and content type refused, the session
// cookie's flags, the login throttle, sessions ending, plates never shown to operator/admin.
#include "wim/collector/workbench.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "../common/record_samples.hpp"
#include "https_client.hpp"
#include "test_util.hpp"
#include "wim/collector/ingest.hpp"
#include "wim/collector/monitor.hpp"
#include "wim/collector/retention.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/json.hpp"
#include "wim/common/sqlite.hpp"

using namespace wim;
using namespace wim::collector;
using namespace wim::collector::test;

namespace {

const std::string kPassword = "correct horse battery";
const char* const kPlate = "京A12345";  // violation_record's plate

/// A collector with a workbench on loopback HTTPS, one station G001 whose violation
/// records (odd seq >= 3) are stored and made cases, and one user per role.
struct Bench {
  std::filesystem::path pki = test_pki();
  std::filesystem::path dir = temp_dir("workbench");
  std::atomic<std::int64_t> now{time::parse_utc("2026-12-07T02:00:00Z")};
  crypto::SigningKey station_key = crypto::SigningKey::generate();
  chain::ChainWriter writer{"G001", station_key, 0, ""};
  std::shared_ptr<RegistryHolder> registry;
  std::unique_ptr<MetadataStore> store = open_sqlite_store(dir / "meta.db");
  FileBlobStore blobs{dir / "blobs"};
  std::unique_ptr<Ingest> ingest;
  std::unique_ptr<Monitor> monitor;
  std::unique_ptr<Api> api;
  std::unique_ptr<Review> review;
  std::unique_ptr<Users> users;
  std::unique_ptr<Workbench> workbench;
  boost::asio::io_context ioc;
  boost::asio::ssl::context tls =
      make_browser_tls(pki / "collector.cert.pem", pki / "collector.key.pem");
  std::unique_ptr<Server> server;
  std::thread thread;
  std::vector<std::string> case_ids;

  explicit Bench(int violations, std::filesystem::path web_dir = {}) {
    boost::json::array st;
    st.push_back({{"id", "G001"},
                  {"name", "Ring road N"},
                  {"location", {{"lat", 31.1}, {"lon", 121.2}}},
                  {"lanes", 2},
                  {"tls_cert_sha256", std::string(64, 'a')},
                  {"signing_key_pem", station_key.public_key().to_pem()}});
    registry = std::make_shared<RegistryHolder>(
        Registry::parse(boost::json::serialize(boost::json::object{{"stations", st}}), "t", "."),
        "unused");
    ingest = std::make_unique<Ingest>(*store, blobs, registry);
    monitor = std::make_unique<Monitor>(*store, MonitorOptions{});
    ingest->add_observer(monitor.get());
    api = std::make_unique<Api>(*ingest, *store, *monitor, registry);
    auto clock = [this] { return now.load(); };
    review = std::make_unique<Review>(
        dir / "cases.db", crypto::SigningKey::generate(), ReviewOptions{}, clock,
        [this](const std::string& id) { return stored_plate(*store, blobs, id); });
    users = std::make_unique<Users>(dir / "users.db", PasswordCost{1, 1024, 1});
    for (auto r : {Role::transport_reviewer, Role::police_reviewer, Role::supervisor,
                   Role::operator_, Role::admin})
      users->add(user_of(r), r, kPassword);
    add_cases(violations);
    WorkbenchOptions wo;
    wo.session_idle_s = 600;
    wo.web_dir = std::move(web_dir);
    workbench =
        std::make_unique<Workbench>(*review, *users, *api, *store, blobs, registry, wo, clock);
    server = std::make_unique<Server>(
        ioc, ServerOptions{},
        [this](const Request& r, const Peer& p) { return workbench->handle(r, p); }, &tls);
    thread = std::thread([this] { ioc.run(); });
  }
  ~Bench() {
    ingest->stop();
    ioc.stop();
    thread.join();
    std::filesystem::remove_all(dir);
  }
  static std::string user_of(Role r) {
    auto s = std::string(to_string(r));
    return s.substr(0, s.find('_'));  // transport, police, supervisor, operator, admin
  }
  /// Records seq 1 (start event), then pass / violation in turn; each violation is a case
  /// as the Forwarder writes it (cases + review_queue).
  void add_cases(int violations) {
    std::vector<packet::Packet> ps;
    for (int n = 1; static_cast<int>(case_ids.size()) < violations; ++n) {
      const std::int64_t t = now.load() - 3600ll * 1'000'000 + n * 1'000'000;
      record::Manifest m = n == 1       ? wim::test::event_record("station_start", t)
                           : n % 2 == 0 ? wim::test::pass_record(t)
                                        : wim::test::violation_record(t);
      m.station_id = "G001";
      ps.push_back(writer.append(m, m.kind == record::Kind::violation
                                        ? wim::test::violation_attachments()
                                        : std::map<std::string, std::string>{}));
      if (m.kind == record::Kind::violation) case_ids.push_back(packet::dir_name("G001", n));
    }
    auto reply = ingest->ingest("G001", ps);
    REQUIRE(reply.chain.acked_seq == static_cast<std::int64_t>(ps.size()));
    sqlite::Db db(dir / "cases.db");
    for (const auto& id : case_ids) {
      std::string station;
      std::uint64_t seq = 0;
      packet::parse_dir_name(id, station, seq);
      const auto& p = ps[seq - 1];
      sqlite::Stmt c(db,
                     "INSERT INTO cases VALUES(?, 'G001', ?, ?, 1, ?, ?, 46230.5, 43000, "
                     "3230.5, 'gross')");
      c.bind(1, id).bind(2, static_cast<std::int64_t>(seq));
      c.bind(3, crypto::sha256_hex(p.manifest_json)).bind(4, now.load()).bind(5, now.load());
      c.step();
      sqlite::Stmt q(db, "INSERT INTO review_queue VALUES(?, 'awaiting_transport_review', ?, ?)");
      q.bind(1, id).bind(2, now.load() + 72ll * 3600 * 1'000'000).bind(3, now.load());
      q.step();
    }
  }
  Client client() { return Client(server->port(), pki / "ca.cert.pem", "", ""); }
};

/// A logged-in browser: its cookie and CSRF token.
struct Login {
  std::string cookie, csrf;
  Reply reply;
};

Login login(Client& c, const std::string& user, const std::string& password = kPassword) {
  Login l;
  l.reply = c.request(
      bhttp::verb::post, "/api/login",
      boost::json::serialize(boost::json::object{{"user", user}, {"password", password}}));
  if (l.reply.status == 200) {
    const auto& set = l.reply.headers["Set-Cookie"];
    l.cookie = set.substr(0, set.find(';'));
    l.csrf = std::string(wim::json::parse(l.reply.body, "login").at("csrf").as_string());
  }
  return l;
}

boost::json::object body_of(const Reply& r) {
  return wim::json::parse(r.body, "reply").as_object();
}

std::string error_of(const Reply& r) {
  auto o = body_of(r);
  return o.contains("error") ? std::string(o.at("error").as_string()) : "";
}

/// The role name of a Bench user ("transport" -> "transport_reviewer").
std::string role_name(const std::string& user) {
  if (user == "transport" || user == "police") return user + "_reviewer";
  return user;
}

std::string state_of(Bench& b, const std::string& id) {
  return b.review->get(id).state;
}

}  // namespace

TEST_CASE("workbench: every /api route x every role gets its answer or a 403 naming the role") {
  Bench b(8);
  const std::string c0 = b.case_ids[0];  // read routes: stays in awaiting_transport_review
  // Action routes: one case each, put in the state the action needs.
  const Actor tr{"transport", Role::transport_reviewer}, po{"police", Role::police_reviewer};
  const std::string c_plate = b.case_ids[1], c_confirm = b.case_ids[2], c_reject = b.case_ids[3];
  const std::string c_return = b.case_ids[4], c_decide = b.case_ids[5], c_close = b.case_ids[6];
  const std::string c_police = b.case_ids[7];  // police-stage read
  for (const auto& id : {c_return, c_decide, c_close, c_police}) b.review->confirm(tr, id, "");
  b.review->decide(po, c_close, "fine", "");

  const std::vector<std::string> kRoles = {"transport", "police", "supervisor",
                                           "operator",  "admin",  ""};
  struct Route {
    bhttp::verb verb;
    std::string target, body;
    std::set<std::string> allowed;  ///< users (= roles) that get 200
    std::string case_id = {};       ///< POST actions: the case whose state must not change
    std::string after = {};         ///< ... and its state after the allowed call
  };
  const auto G = bhttp::verb::get, P = bhttp::verb::post;
  const std::set<std::string> kReaders = {"transport", "police", "supervisor"};
  std::vector<Route> routes = {
      {G, "/api/me", "", {"transport", "police", "supervisor", "operator", "admin"}},
      {G, "/api/cases?queue=transport", "", {"transport", "supervisor"}},
      {G, "/api/cases?queue=police", "", {"police", "supervisor"}},
      {G, "/api/cases?state=closed&limit=5", "", {"supervisor"}},
      {G, "/api/cases/" + c0, "", {"transport", "supervisor"}},
      {G, "/api/cases/" + c0 + "/files/plate.jpg", "", {"transport", "supervisor"}},
      {G, "/api/cases/" + c0 + "/files/waveform.csv", "", {"transport", "supervisor"}},
      {G, "/api/cases/" + c_police, "", {"police", "supervisor"}},
      {G, "/api/overdue", "", {"supervisor"}},
      {G, "/api/audit?limit=10", "", {"supervisor"}},
      {G, "/api/stats", "", {"supervisor", "operator"}},
      {G, "/api/stats.csv?from=2026-12-07&to=2026-12-07", "", {"supervisor", "operator"}},
      {G, "/api/stations", "", {"supervisor", "operator"}},
      {G, "/api/stations/G001", "", {"supervisor", "operator"}},
      {G, "/api/alerts", "", {"supervisor", "operator"}},
      {G, "/api/deliveries", "", {"supervisor", "operator"}},
      {G, "/api/retention", "", {"supervisor", "operator"}},
      {G, "/api/users", "", {"admin"}},
      {P,
       "/api/users",
       R"({"user":"newbie","role":"supervisor","password":"a long password 1"})",
       {"admin"}},
      {P,
       "/api/cases/" + c_plate + "/plate",
       R"({"plate":"京B67890"})",
       {"transport"},
       c_plate,
       "awaiting_transport_review"},
      {P,
       "/api/cases/" + c_confirm + "/confirm",
       R"({"reason":"clear photo"})",
       {"transport"},
       c_confirm,
       "awaiting_police_review"},
      {P,
       "/api/cases/" + c_reject + "/reject",
       R"({"reason":"plate unreadable"})",
       {"transport"},
       c_reject,
       "rejected"},
      {P,
       "/api/cases/" + c_return + "/return",
       R"({"reason":"check axle 2"})",
       {"police"},
       c_return,
       "returned_to_transport"},
      {P,
       "/api/cases/" + c_decide + "/decide",
       R"({"kind":"fine"})",
       {"police"},
       c_decide,
       "penalty_decided"},
      {P, "/api/cases/" + c_close + "/close", "{}", {"police"}, c_close, "closed"},
  };
  std::map<std::string, Login> logins;
  std::map<std::string, std::unique_ptr<Client>> clients;
  for (const auto& u : kRoles) {
    clients[u] = std::make_unique<Client>(b.server->port(), b.pki / "ca.cert.pem", "", "");
    if (!u.empty()) {
      logins[u] = login(*clients[u], u);
      REQUIRE(logins[u].reply.status == 200);
    }
  }
  int checked = 0;
  for (const auto& r : routes) {
    // Allowed users last, so a forbidden call is seen to leave the case as it was.
    std::vector<std::string> order;
    for (const auto& u : kRoles)
      if (!r.allowed.count(u)) order.push_back(u);
    for (const auto& u : kRoles)
      if (r.allowed.count(u)) order.push_back(u);
    for (const auto& u : order) {
      INFO(bhttp::to_string(r.verb) << " " << r.target << " as '" << u << "'");
      const auto before = r.case_id.empty() ? "" : state_of(b, r.case_id);
      const auto audit_before = b.review->audit().size();
      std::map<std::string, std::string> h;
      if (!u.empty()) h = {{"Cookie", logins[u].cookie}, {"X-CSRF-Token", logins[u].csrf}};
      auto reply = clients[u]->request(r.verb, r.target, r.body, "application/json", h);
      REQUIRE(reply.ok);
      CHECK(reply.headers["X-Content-Type-Options"] == "nosniff");
      CHECK(reply.headers["Cache-Control"] == "no-store");
      ++checked;
      if (u.empty()) {
        CHECK(reply.status == 401);
        CHECK(error_of(reply) == "unauthenticated");
      } else if (!r.allowed.count(u)) {
        CHECK(reply.status == 403);
        CHECK(error_of(reply) == "forbidden");
        const std::string detail(body_of(reply).at("detail").as_string());
        CHECK(detail.find(role_name(u) + " may not") != std::string::npos);
        // It names the roles that may (each allowed one, by its full name).
        const auto needs = detail.substr(std::min(detail.find("needs "), detail.size()));
        for (const auto& a : r.allowed) CHECK(needs.find(role_name(a)) != std::string::npos);
      } else {
        CHECK(reply.status == 200);
      }
      if (!r.case_id.empty()) {
        if (r.allowed.count(u)) {
          CHECK(state_of(b, r.case_id) == r.after);
          CHECK(b.review->audit().size() == audit_before + 1);
        } else {
          CHECK(state_of(b, r.case_id) == before);
          CHECK(b.review->audit().size() == audit_before);
        }
      }
      // No plate to a role that may not see plates, on any route.
      if (u == "operator" || u == "admin") CHECK(reply.body.find(kPlate) == std::string::npos);
    }
  }
  CHECK(checked == static_cast<int>(routes.size() * kRoles.size()));

  SECTION("the allowed answers carry what the contract says") {
    auto& t = *clients["transport"];
    const auto& tl = logins["transport"];
    const std::map<std::string, std::string> h = {{"Cookie", tl.cookie}};
    auto q = body_of(t.request(G, "/api/cases?queue=transport", "", "", h));
    const auto& cases = q.at("cases").as_array();
    CHECK(cases.size() == 3);  // c0, c_plate, c_return (returned_to_transport)
    std::string last;
    for (const auto& c : cases) {
      const std::string d(c.at("stage_deadline_utc").as_string());
      CHECK(d >= last);  // sorted by deadline
      last = d;
    }
    auto d = body_of(t.request(G, "/api/cases/" + c0, "", "", h));
    CHECK(d.at("case").at("plate").as_string() == kPlate);
    CHECK(d.at("verification").at("signature").as_string() == "ok");
    CHECK(d.at("verification").at("chain").as_string() == "ok");
    CHECK(d.at("verification").at("matches_case").as_bool());
    CHECK(d.at("attachments").as_array().size() == 2);
    auto f = t.request(G, "/api/cases/" + c0 + "/files/waveform.csv", "", "", h);
    CHECK(f.body == wim::test::violation_attachments().at("waveform.csv"));
    auto pl = body_of(t.request(G, "/api/cases/" + c_plate, "", "", h));
    CHECK(pl.at("case").at("plate").as_string() == "京B67890");
    auto& s = *clients["supervisor"];
    const std::map<std::string, std::string> sh = {{"Cookie", logins["supervisor"].cookie}};
    auto closed = body_of(s.request(G, "/api/cases?state=closed", "", "", sh));
    REQUIRE(closed.at("cases").as_array().size() == 1);
    const auto& dec = closed.at("cases").as_array()[0].at("decision");
    CHECK(dec.at("kind").as_string() == "fine");
    CHECK(dec.at("amount_yuan").as_int64() == 1500);  // 3 full 1 000 kg of 3 230.5 kg
    auto stats = body_of(s.request(G, "/api/stats", "", "", sh));
    CHECK(stats.at("cases_by_state").at("closed").as_int64() == 1);
    CHECK(stats.at("cases_by_state").at("rejected").as_int64() == 1);
    const auto& city = stats.at("days").as_array()[0].at("city");
    CHECK(city.at("overloads").as_int64() == 8);
    auto audit = body_of(s.request(G, "/api/audit?case=" + c_close, "", "", sh));
    CHECK(audit.at("entries").as_array().size() == 3);  // confirm, decide, close
    auto csv = s.request(G, "/api/stats.csv?from=2026-12-07&to=2026-12-07", "", "", sh);
    CHECK(csv.headers["Content-Type"].rfind("text/csv", 0) == 0);
    CHECK(csv.body.find("2026-12-07,G001,") != std::string::npos);
    auto users = body_of(
        clients["admin"]->request(G, "/api/users", "", "", {{"Cookie", logins["admin"].cookie}}));
    CHECK(users.at("users").as_array().size() == 6);  // five + newbie
  }
}

TEST_CASE("workbench: a POST without the session's CSRF token or as non-JSON changes nothing") {
  Bench b(1);
  const auto id = b.case_ids[0];
  auto c = b.client();
  auto l = login(c, "transport");
  REQUIRE(l.reply.status == 200);
  const std::string target = "/api/cases/" + id + "/confirm";
  auto other = b.client();
  auto l2 = login(other, "transport");  // a second session of the same user: another token
  REQUIRE(l2.csrf != l.csrf);
  struct Bad {
    std::string what;
    std::map<std::string, std::string> headers;
    std::string type = "application/json";
    int status;
    std::string error;
  };
  for (const auto& bad : std::vector<Bad>{
           {"no token", {{"Cookie", l.cookie}}, "application/json", 403, "csrf"},
           {"empty token",
            {{"Cookie", l.cookie}, {"X-CSRF-Token", ""}},
            "application/json",
            403,
            "csrf"},
           {"wrong token",
            {{"Cookie", l.cookie}, {"X-CSRF-Token", std::string(32, '0')}},
            "application/json",
            403,
            "csrf"},
           {"another session's token",
            {{"Cookie", l.cookie}, {"X-CSRF-Token", l2.csrf}},
            "application/json",
            403,
            "csrf"},
           {"form post",
            {{"Cookie", l.cookie}, {"X-CSRF-Token", l.csrf}},
            "application/x-www-form-urlencoded",
            415,
            "content_type"},
           {"no cookie", {{"X-CSRF-Token", l.csrf}}, "application/json", 401, "unauthenticated"},
           {"forged cookie",
            {{"Cookie", "wim_session=" + std::string(64, 'f')}, {"X-CSRF-Token", l.csrf}},
            "application/json",
            401,
            "unauthenticated"},
       }) {
    INFO(bad.what);
    auto r = c.request(bhttp::verb::post, target, "{}", bad.type, bad.headers);
    CHECK(r.status == bad.status);
    CHECK(error_of(r) == bad.error);
    CHECK(state_of(b, id) == "awaiting_transport_review");
    CHECK(b.review->audit().empty());
  }
  auto good = c.request(bhttp::verb::post, target, "{}", "application/json",
                        {{"Cookie", l.cookie}, {"X-CSRF-Token", l.csrf}});
  CHECK(good.status == 200);
  CHECK(state_of(b, id) == "awaiting_police_review");
  SECTION("hostile bodies get a clear error and change nothing") {
    auto pc = b.client();
    auto pl = login(pc, "police");
    const std::map<std::string, std::string> h = {{"Cookie", pl.cookie}, {"X-CSRF-Token", pl.csrf}};
    for (const auto& [body, code] : std::vector<std::pair<std::string, std::string>>{
             {"{not json", "bad_json"},
             {"[1,2]", "bad_json"},
             {R"({"kind":7})", "bad_field"},
             {R"({"kind":"guillotine"})", "bad_field"},
             {R"({"kind":"warning"})", "bad_field"},  // excess 3 230.5 kg > 1 000 kg
             {R"({"kind":"no_penalty"})", "bad_field"}}) {
      INFO(body);
      auto r = pc.request(bhttp::verb::post, "/api/cases/" + id + "/decide", body,
                          "application/json", h);
      CHECK(r.status == 400);
      CHECK(error_of(r) == code);
      CHECK(state_of(b, id) == "awaiting_police_review");
    }
    auto r = pc.request(bhttp::verb::post, "/api/cases/G001-0000009999/decide",
                        R"({"kind":"fine"})", "application/json", h);
    CHECK(r.status == 404);
    CHECK(error_of(r) == "not_found");
  }
}

TEST_CASE("workbench: the session cookie is HttpOnly, Secure, SameSite=Strict, sessions end") {
  Bench b(1);
  auto c = b.client();
  auto l = login(c, "supervisor");
  REQUIRE(l.reply.status == 200);
  const auto set = l.reply.headers["Set-Cookie"];
  CHECK(set.rfind("wim_session=", 0) == 0);
  CHECK(l.cookie.size() == std::string("wim_session=").size() + 64);
  CHECK(set.find("; HttpOnly") != std::string::npos);
  CHECK(set.find("; Secure") != std::string::npos);
  CHECK(set.find("; SameSite=Strict") != std::string::npos);
  CHECK(set.find("; Path=/") != std::string::npos);
  CHECK(l.reply.headers["Cache-Control"] == "no-store");
  CHECK(l.reply.headers["Content-Security-Policy"].find("default-src 'self'") != std::string::npos);
  const std::map<std::string, std::string> h = {{"Cookie", l.cookie}};
  CHECK(c.request(bhttp::verb::get, "/api/me", "", "", h).status == 200);
  SECTION("idle too long") {
    b.now += 601ll * 1'000'000;  // session_idle_s = 600
    auto r = c.request(bhttp::verb::get, "/api/me", "", "", h);
    CHECK(r.status == 401);
    CHECK(error_of(r) == "unauthenticated");
  }
  SECTION("logout clears the cookie and ends the session") {
    auto r = c.request(bhttp::verb::post, "/api/logout", "{}", "application/json",
                       {{"Cookie", l.cookie}, {"X-CSRF-Token", l.csrf}});
    CHECK(r.status == 200);
    CHECK(r.headers["Set-Cookie"].find("Max-Age=0") != std::string::npos);
    CHECK(c.request(bhttp::verb::get, "/api/me", "", "", h).status == 401);
  }
}

TEST_CASE("workbench: wrong passwords are throttled, per user and per address") {
  Bench b(1);
  auto c = b.client();
  // An unknown user gets the same answer as a wrong password; both count for the address.
  auto unknown = login(c, "nobody");
  CHECK(unknown.reply.status == 401);
  CHECK(error_of(unknown.reply) == "unauthenticated");
  for (int i = 0; i < 4; ++i) {
    auto l = login(c, "police", "wrong password " + std::to_string(i));
    CHECK(l.reply.status == 401);
    CHECK(error_of(l.reply) == "unauthenticated");
  }
  // Five failures from this address: now even the right password waits, for any user.
  auto locked = login(c, "police");
  CHECK(locked.reply.status == 429);
  CHECK(error_of(locked.reply) == "too_many_attempts");
  const auto wait1 = std::stoll(locked.reply.headers["Retry-After"]);
  CHECK(wait1 == 1);
  CHECK(locked.cookie.empty());
  CHECK(login(c, "supervisor").reply.status == 429);
  // After the wait a try is heard again; one more failure doubles the next wait.
  b.now += (wait1 + 1) * 1'000'000;
  CHECK(login(c, "police", "still wrong").reply.status == 401);
  auto again = login(c, "police");
  CHECK(again.reply.status == 429);
  CHECK(std::stoll(again.reply.headers["Retry-After"]) == 2 * wait1);
  b.now += 1000ll * 1'000'000;
  auto ok = login(c, "police");
  CHECK(ok.reply.status == 200);
  CHECK(!ok.cookie.empty());
}

TEST_CASE("workbench: static pages, no path escapes the web folder") {
  Bench b(1);
  auto c = b.client();
  // No web_dir in this bench: every page is a 404 JSON, never a file of the host.
  for (const auto* t : {"/", "/index.html", "/../../etc/passwd", "/.hidden.js", "/a%2e%2e/x.js"}) {
    INFO(t);
    auto r = c.request(bhttp::verb::get, t, "", "", {});
    CHECK(r.status == 404);
    CHECK(error_of(r) == "not_found");
  }
  CHECK(c.request(bhttp::verb::delete_, "/api/me", "", "", {}).status == 405);
}

TEST_CASE("workbench: the pages of collector/web are served with the CSP, from local files only") {
  const std::filesystem::path web = std::filesystem::path(WIM_SOURCE_DIR) / "collector/web";
  Bench b(1, web);
  auto c = b.client();
  auto index = c.request(bhttp::verb::get, "/", "", "", {});
  CHECK(index.status == 200);
  CHECK(index.headers["Content-Type"] == "text/html; charset=utf-8");
  CHECK(index.headers["Content-Security-Policy"].find("default-src 'self'") != std::string::npos);
  CHECK(index.body.find("<script src=\"app.js\"") != std::string::npos);
  for (const auto& [file, type] : std::vector<std::pair<std::string, std::string>>{
           {"/index.html", "text/html; charset=utf-8"},
           {"/app.js", "text/javascript; charset=utf-8"},
           {"/app.css", "text/css; charset=utf-8"}}) {
    INFO(file);
    auto r = c.request(bhttp::verb::get, file, "", "", {});
    CHECK(r.status == 200);
    CHECK(r.headers["Content-Type"] == type);
    CHECK(r.body == wim::collector::test::read_file(web / file.substr(1)));
    // Nothing fetched from elsewhere (no CDN): no absolute URL, no inline script body.
    CHECK(r.body.find("http://") == std::string::npos);
    CHECK(r.body.find("https://") == std::string::npos);
    CHECK(r.body.find("<script>") == std::string::npos);
  }
  CHECK(c.request(bhttp::verb::get, "/../CMakeLists.txt", "", "", {}).status == 404);
  CHECK(c.request(bhttp::verb::get, "/missing.js", "", "", {}).status == 404);
}

TEST_CASE(
    "workbench: a case whose image retention removed shows it as removed, the file as "
    "410, the rest verified; bytes another retained case shares stay") {
  Bench b(2);  // both violations carry the same photo bytes (one blob)
  const auto c0 = b.case_ids[0], c1 = b.case_ids[1];
  const Actor tina{"transport", Role::transport_reviewer};
  constexpr std::int64_t kDay = 86400LL * 1'000'000;
  b.review->reject(tina, c0, "plate unreadable");
  const auto img = b.store->get_record("G001", 3)->attachments;
  std::string img_sha;
  for (const auto& a : img)
    if (a.name == "plate.jpg") img_sha = a.sha256;
  REQUIRE(!img_sha.empty());
  auto r = purge_images(b.dir / "meta.db", b.blobs, *b.store, *b.review, 1, b.now + 2 * kDay);
  CHECK(r.cases == std::vector<std::string>{c0});
  CHECK(r.files_removed == 0);
  CHECK(r.files_shared == 1);  // c1 is open and refers to the same bytes
  CHECK(b.blobs.contains(img_sha));
  b.review->reject(tina, c1, "duplicate");
  r = purge_images(b.dir / "meta.db", b.blobs, *b.store, *b.review, 1, b.now + 2 * kDay);
  CHECK(r.cases == std::vector<std::string>{c1});
  CHECK(r.files_removed == 1);
  CHECK_FALSE(b.blobs.contains(img_sha));

  auto c = b.client();
  const auto l = login(c, "supervisor");
  REQUIRE(l.reply.status == 200);
  const std::map<std::string, std::string> h = {{"Cookie", l.cookie}};
  const auto reply = c.request(bhttp::verb::get, "/api/cases/" + c0, "", "", h);
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  const auto d = body_of(reply);
  const auto& v = d.at("verification").as_object();
  CHECK(v.at("signature").as_string() == "ok");
  CHECK(v.at("findings").as_array().empty());
  int removed = 0;
  for (const auto& a : d.at("attachments").as_array()) {
    const auto& o = a.as_object();
    const bool gone = o.at("removed_by_retention").as_bool();
    CHECK(gone == (o.at("name").as_string() == "plate.jpg"));
    CHECK(o.at("url").is_null() == gone);
    removed += gone;
  }
  CHECK(removed == 1);
  const auto f = c.request(bhttp::verb::get, "/api/cases/" + c0 + "/files/plate.jpg", "", "", h);
  CHECK(f.status == 410);
  CHECK(error_of(f) == "removed_by_retention");
  const auto w = c.request(bhttp::verb::get, "/api/cases/" + c0 + "/files/waveform.csv", "", "", h);
  CHECK(w.status == 200);
  CHECK(w.body == wim::test::violation_attachments().at("waveform.csv"));
}

TEST_CASE(
    "workbench: the case history gives each transition's stage deadline in UTC and whether "
    "it was met, or by how much working time it was overdue") {
  Bench b(2);  // created Mon 2026-12-07 10:00 local (+8 h), transport deadline + 72 h wall
  const auto a = b.case_ids[0], r = b.case_ids[1];
  const Actor tr{"transport", Role::transport_reviewer}, po{"police", Role::police_reviewer};
  b.review->confirm(tr, a, "");  // at once: met; police deadline 40 working h = Mon 14th 10:00
  b.now = time::parse_utc("2026-12-12T04:00:00Z");  // Saturday 12:00 local
  // Deadline Thu 10th 10:00 local: Thu 7 h + Fri 8 h of working time late (50 h wall).
  b.review->reject(tr, r, "plate unreadable");
  b.now = time::parse_utc("2026-12-15T03:30:00Z");  // Tuesday 11:30 local
  // Police deadline Mon 14th 10:00: Mon 7 h + Tue 2.5 h late (25.5 h wall).
  b.review->decide(po, a, "fine", "");
  b.review->close(po, a, "paid");

  auto c = b.client();
  const auto l = login(c, "supervisor");
  REQUIRE(l.reply.status == 200);
  const std::map<std::string, std::string> h = {{"Cookie", l.cookie}};
  struct Row {
    std::string action, deadline_utc, deadline;
    std::int64_t overdue_working_s;  ///< -1: the field is absent
  };
  const auto history = [&](const std::string& id) {
    const auto reply = c.request(bhttp::verb::get, "/api/cases/" + id, "", "", h);
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    std::vector<Row> out;
    const auto d = body_of(reply);
    for (const auto& e : d.at("history").as_array()) {
      const auto& o = e.as_object();
      out.push_back({std::string(o.at("action").as_string()),
                     std::string(o.at("stage_deadline_utc").as_string()),
                     std::string(o.at("deadline").as_string()),
                     o.contains("overdue_working_s") ? o.at("overdue_working_s").as_int64() : -1});
    }
    return out;
  };
  const auto ha = history(a);
  REQUIRE(ha.size() == 3);
  CHECK(ha[0].action == "confirm");
  CHECK(ha[0].deadline_utc == "2026-12-10T02:00:00.000000Z");
  CHECK(ha[0].deadline == "met");
  CHECK(ha[0].overdue_working_s == -1);
  for (const auto& row : {ha[1], ha[2]}) {
    INFO(row.action);
    CHECK(row.deadline_utc == "2026-12-14T02:00:00.000000Z");
    CHECK(row.deadline == "overdue");
    CHECK(row.overdue_working_s == 34200);  // 9.5 h
  }
  CHECK(ha[1].action == "decide:fine");
  CHECK(ha[2].action == "close");
  const auto hr = history(r);
  REQUIRE(hr.size() == 1);
  CHECK(hr[0].action == "reject");
  CHECK(hr[0].deadline_utc == "2026-12-10T02:00:00.000000Z");
  CHECK(hr[0].deadline == "overdue");
  CHECK(hr[0].overdue_working_s == 54000);  // 15 h
  // The same numbers through /api/audit (what export-audit signs) and the case: the page
  // only adds the working time, it changes no recorded field.
  const auto audit = body_of(c.request(bhttp::verb::get, "/api/audit?case=" + r, "", "", h));
  CHECK(audit.at("entries").as_array()[0].at("deadline").as_string() == "overdue");
  CHECK_FALSE(audit.at("entries").as_array()[0].as_object().contains("overdue_working_s"));
}
