// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/registry.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/log.hpp"

namespace wim::collector {
namespace {

namespace bj = boost::json;

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

bool valid_id(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw InputError("cannot read file " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Throws the problems collected here (none are thrown when the caller collects them).
Registry& finish(Registry& r, const ConfigProblems& own, const ConfigProblems& used) {
  if (&own == &used) own.throw_if_any();
  return r;
}

/// One station; every field is checked even after a bad one. False when any was bad.
bool parse_entry(const bj::value& v, const std::string& ptr, const std::string& file,
                 const std::filesystem::path& base, ConfigProblems& p, StationEntry& e) {
  const auto before = p.list().size();
  if (!v.is_object()) {
    p.add(file, ptr, "expected an object (a station)");
    return false;
  }
  const auto& o = v.get_object();
  const std::string ctx = "station";  // json:: messages' prefix, dropped by check()
  const auto at = [&](std::string_view key) { return ptr + "/" + std::string(key); };
  p.check(file, at("id"), [&] {
    e.id = json::get_string(o, "id", ctx);
    if (!valid_id(e.id)) throw InputError("expected 1-32 letters, digits, '-' or '_'");
  });
  p.check(file, at("name"), [&] { e.name = json::get_string(o, "name", ctx, e.id); });
  p.check(file, at("location"), [&] {
    const auto& loc = json::as_object(json::require(o, "location", ctx), ctx);
    p.check(file, at("location/lat"), [&] {
      e.lat_deg = json::get_number(loc, "lat", ctx);
      if (e.lat_deg < -90 || e.lat_deg > 90) throw InputError("expected a latitude in [-90, 90]");
    });
    p.check(file, at("location/lon"), [&] {
      e.lon_deg = json::get_number(loc, "lon", ctx);
      if (e.lon_deg < -180 || e.lon_deg > 180)
        throw InputError("expected a longitude in [-180, 180]");
    });
  });
  p.check(file, at("lanes"), [&] {
    const auto lanes = json::get_int(o, "lanes", ctx);
    if (lanes < 1 || lanes > 8) throw InputError("expected 1..8 lanes");
    e.lanes = static_cast<int>(lanes);
  });
  if (o.contains("tls_cert_sha256")) {
    // One fingerprint, or several during a certificate rotation's overlap (the old and the
    // new certificate are both accepted until the old one is retired: wim-collector
    // station-cert).
    const auto& v = o.at("tls_cert_sha256");
    const auto one = [&](const bj::value& x, const std::string& where) {
      p.check(file, where, [&] {
        if (!x.is_string()) throw InputError("expected 64 hex digits (SHA-256 of the DER cert)");
        auto fp = lower(std::string(x.get_string()));
        if (!is_hex64(fp)) throw InputError("expected 64 hex digits (SHA-256 of the DER cert)");
        for (const auto& have : e.tls_certs_sha256)
          if (have == fp) throw InputError("listed twice (expected each certificate once)");
        e.tls_certs_sha256.push_back(std::move(fp));
      });
    };
    if (v.is_array()) {
      const auto& a = v.get_array();
      if (a.empty() || a.size() > kMaxStationCerts)
        p.add(file, at("tls_cert_sha256"),
              "expected 1.." + std::to_string(kMaxStationCerts) + " fingerprints");
      for (std::size_t i = 0; i < a.size() && i < kMaxStationCerts; ++i)
        one(a[i], at("tls_cert_sha256") + "/" + std::to_string(i));
    } else {
      one(v, at("tls_cert_sha256"));
    }
  } else if (o.contains("tls_cert_sha256_file")) {
    p.check(file, at("tls_cert_sha256_file"), [&] {
      auto path = base / json::get_string(o, "tls_cert_sha256_file", ctx);
      auto text = read_text(path);
      // make-ca.sh writes "<hex>\n"; sha256sum writes "<hex>  <name>"
      auto fp = lower(text.substr(0, text.find_first_of(" \t\r\n")));
      if (!is_hex64(fp))
        throw InputError("expected " + path.string() +
                         " to start with 64 hex digits (SHA-256 of the DER cert)");
      e.tls_certs_sha256.push_back(std::move(fp));
    });
  } else {
    p.add(file, at("tls_cert_sha256"),
          "missing: expected 64 hex digits (or tls_cert_sha256_file naming a file of them)");
  }
  // A key that does not load is named with the loader's own words (which PEM, what failed).
  const auto key = [&](std::string_view field, auto&& pem_of) {
    try {
      const auto pem = pem_of();
      try {
        e.signing_key = std::make_shared<const crypto::VerifyKey>(crypto::VerifyKey::from_pem(pem));
      } catch (const InputError& ex) {
        p.add(file, at(field), std::string("expected an Ed25519 public key PEM: ") + ex.what());
      }
    } catch (const InputError& ex) {
      p.check(file, at(field), [&] { throw ex; });
    }
  };
  if (o.contains("signing_key_pem"))
    key("signing_key_pem", [&] { return json::get_string(o, "signing_key_pem", ctx); });
  else if (o.contains("signing_key_file"))
    key("signing_key_file",
        [&] { return read_text(base / json::get_string(o, "signing_key_file", ctx)); });
  else
    p.add(file, at("signing_key_pem"),
          "missing: expected an Ed25519 public key PEM (or signing_key_file naming one)");
  p.check(file, at("revoked"), [&] { e.revoked = json::get_bool(o, "revoked", ctx, false); });
  return p.list().size() == before;
}

}  // namespace

Registry Registry::parse(std::string_view text, std::string_view what,
                         const std::filesystem::path& base_dir, ConfigProblems* problems) {
  ConfigProblems own;
  auto& p = problems ? *problems : own;
  const std::string file(what);
  Registry r;
  bj::value root;
  if (!p.check(file, "", [&] { root = json::parse(text, what); })) return finish(r, own, p);
  if (!root.is_object()) {
    p.add(file, "", "expected an object {\"stations\":[...]}");
    return finish(r, own, p);
  }
  const bj::array* arr = nullptr;
  p.check(file, "/stations", [&] { arr = &json::get_array(root.get_object(), "stations", ""); });
  for (std::size_t i = 0; arr && i < arr->size(); ++i) {
    const std::string ptr = "/stations/" + std::to_string(i);
    StationEntry e;
    const bool ok = parse_entry((*arr)[i], ptr, file, base_dir, p, e);
    if (!e.id.empty() && r.by_id_.count(e.id)) {
      p.add(file, ptr + "/id", "duplicate station id " + e.id + " (expected each id once)");
      continue;
    }
    bool shared = false;
    for (std::size_t k = 0; k < e.tls_certs_sha256.size() && !shared; ++k)
      if (const auto it = r.by_cert_.find(e.tls_certs_sha256[k]); it != r.by_cert_.end()) {
        p.add(file,
              ptr + "/tls_cert_sha256" +
                  (e.tls_certs_sha256.size() > 1 ? "/" + std::to_string(k) : ""),
              "same certificate as station " + r.stations_[it->second].id +
                  " (expected one certificate per station)");
        shared = true;
      }
    if (shared) continue;
    if (!ok) continue;
    r.by_id_.emplace(e.id, r.stations_.size());
    for (const auto& fp : e.tls_certs_sha256) r.by_cert_.emplace(fp, r.stations_.size());
    r.stations_.push_back(std::move(e));
  }
  return finish(r, own, p);
}

Registry Registry::load_file(const std::filesystem::path& path, ConfigProblems* problems) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ConfigProblems own;
    auto& p = problems ? *problems : own;
    p.add(path.string(), "", "cannot open registry file");
    own.throw_if_any();
    return Registry{};
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path.string(), path.parent_path(), problems);
}

const StationEntry* Registry::by_id(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &stations_[it->second];
}

const StationEntry* Registry::by_cert_sha256(std::string_view fp) const {
  auto it = by_cert_.find(fp);
  return it == by_cert_.end() ? nullptr : &stations_[it->second];
}

RegistryHolder::RegistryHolder(std::filesystem::path path)
    : path_(std::move(path)),
      current_(std::make_shared<const Registry>(Registry::load_file(path_))) {}

RegistryHolder::RegistryHolder(Registry initial, std::filesystem::path path)
    : path_(std::move(path)), current_(std::make_shared<const Registry>(std::move(initial))) {}

std::shared_ptr<const Registry> RegistryHolder::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

bool RegistryHolder::reload(std::string* error) {
  try {
    auto fresh = std::make_shared<const Registry>(Registry::load_file(path_));
    std::lock_guard lock(mutex_);
    current_ = std::move(fresh);
    log::notice("registry", "reloaded " + path_.string() + ": " +
                                std::to_string(current_->stations().size()) + " stations");
    return true;
  } catch (const std::exception& ex) {
    log::error("registry",
               std::string("reload failed, keeping the previous registry: ") + ex.what());
    if (error) *error = ex.what();
    return false;
  }
}

void RegistryHolder::replace(Registry r) {
  auto fresh = std::make_shared<const Registry>(std::move(r));
  std::lock_guard lock(mutex_);
  current_ = std::move(fresh);
}

}  // namespace wim::collector
