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

std::string read_text(const std::filesystem::path& p, const std::string& field) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw InputError(field + ": cannot read file " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

StationEntry parse_entry(const bj::value& v, const std::string& ctx0,
                         const std::filesystem::path& base) {
  const auto& o = json::as_object(v, ctx0);
  StationEntry e;
  e.id = json::get_string(o, "id", ctx0);
  const std::string ctx = ctx0 + " (" + e.id + ")";
  if (!valid_id(e.id)) throw InputError(ctx + ".id: expected 1-32 letters, digits, '-' or '_'");
  e.name = json::get_string(o, "name", ctx, e.id);
  const auto& loc = json::as_object(json::require(o, "location", ctx), ctx + ".location");
  e.lat_deg = json::get_number(loc, "lat", ctx + ".location");
  e.lon_deg = json::get_number(loc, "lon", ctx + ".location");
  if (e.lat_deg < -90 || e.lat_deg > 90) throw InputError(ctx + ".location.lat: out of [-90, 90]");
  if (e.lon_deg < -180 || e.lon_deg > 180)
    throw InputError(ctx + ".location.lon: out of [-180, 180]");
  const auto lanes = json::get_int(o, "lanes", ctx);
  if (lanes < 1 || lanes > 8) throw InputError(ctx + ".lanes: expected 1..8");
  e.lanes = static_cast<int>(lanes);

  if (o.contains("tls_cert_sha256")) {
    e.tls_cert_sha256 = lower(json::get_string(o, "tls_cert_sha256", ctx));
  } else if (o.contains("tls_cert_sha256_file")) {
    auto p = base / json::get_string(o, "tls_cert_sha256_file", ctx);
    auto text = read_text(p, ctx + ".tls_cert_sha256_file");
    // make-ca.sh writes "<hex>\n"; sha256sum writes "<hex>  <name>"
    e.tls_cert_sha256 = lower(text.substr(0, text.find_first_of(" \t\r\n")));
  } else {
    throw InputError(ctx + ".tls_cert_sha256: missing (or tls_cert_sha256_file)");
  }
  if (!is_hex64(e.tls_cert_sha256))
    throw InputError(ctx + ".tls_cert_sha256: expected 64 hex digits (SHA-256 of the DER cert)");

  try {
    if (o.contains("signing_key_pem")) {
      e.signing_key = std::make_shared<const crypto::VerifyKey>(
          crypto::VerifyKey::from_pem(json::get_string(o, "signing_key_pem", ctx)));
    } else if (o.contains("signing_key_file")) {
      auto p = base / json::get_string(o, "signing_key_file", ctx);
      e.signing_key = std::make_shared<const crypto::VerifyKey>(
          crypto::VerifyKey::from_pem(read_text(p, ctx + ".signing_key_file")));
    } else {
      throw InputError(ctx + ".signing_key_pem: missing (or signing_key_file)");
    }
  } catch (const InputError& ex) {
    std::string msg = ex.what();
    if (msg.rfind(ctx, 0) == 0) throw;
    throw InputError(ctx + ".signing_key: " + msg);
  }
  e.revoked = json::get_bool(o, "revoked", ctx, false);
  return e;
}

}  // namespace

Registry Registry::parse(std::string_view text, std::string_view what,
                         const std::filesystem::path& base_dir) {
  Registry r;
  const std::string w(what);
  try {
    auto root = json::parse(text, what);
    const auto& top = json::as_object(root, "");
    const auto& arr = json::get_array(top, "stations", "");
    for (std::size_t i = 0; i < arr.size(); ++i) {
      auto e = parse_entry(arr[i], "stations[" + std::to_string(i) + "]", base_dir);
      const std::string ctx = "stations[" + std::to_string(i) + "] (" + e.id + ")";
      if (r.by_id_.count(e.id)) throw InputError(ctx + ".id: duplicate station id");
      if (r.by_cert_.count(e.tls_cert_sha256))
        throw InputError(ctx + ".tls_cert_sha256: same certificate as station " +
                         r.stations_[r.by_cert_.find(e.tls_cert_sha256)->second].id);
      r.by_id_.emplace(e.id, r.stations_.size());
      r.by_cert_.emplace(e.tls_cert_sha256, r.stations_.size());
      r.stations_.push_back(std::move(e));
    }
  } catch (const InputError& ex) {
    std::string msg = ex.what();
    if (msg.rfind(w + ":", 0) == 0) throw;
    throw InputError(w + ": " + msg);
  }
  return r;
}

Registry Registry::load_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot open registry file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path.string(), path.parent_path());
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
