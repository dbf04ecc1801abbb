// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/station_cert.hpp"

#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "wim/collector/registry.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/error.hpp"
#include "wim/common/fs_sync.hpp"
#include "wim/common/json.hpp"
#include "wim/common/time.hpp"

namespace wim::collector {
namespace {

namespace bj = boost::json;
namespace fs = std::filesystem;

/// Replaces `p` by `text` atomically (temp file beside it, same mode and owner, fsync,
/// rename, fsync of the folder).
void replace_file(const fs::path& p, std::string_view text) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) throw_errno(p.string() + ": stat");
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::string templ = (dir / ("." + p.filename().string() + ".XXXXXX")).string();
  UniqueFd f{::mkstemp(templ.data())};
  if (f.fd < 0) throw_errno(dir.string() + ": cannot create a temporary file");
  const fs::path tmp = templ;
  try {
    write_all(f.fd, text, tmp);
    if (::fchmod(f.fd, st.st_mode & 07777) != 0) throw_errno(tmp.string() + ": chmod");
    if (::fchown(f.fd, st.st_uid, st.st_gid) != 0 && errno != EPERM)
      throw_errno(tmp.string() + ": chown");
    if (::fsync(f.fd) != 0) throw_errno(tmp.string() + ": fsync");
    if (::rename(tmp.c_str(), p.c_str()) != 0)
      throw_errno("rename " + tmp.string() + " -> " + p.string());
    fsync_dir(dir);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

void append_line(const fs::path& p, const std::string& line) {
  UniqueFd f{::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)};
  if (f.fd < 0) throw_errno(p.string() + ": cannot open the change log");
  write_all(f.fd, line + "\n", p);
  if (::fsync(f.fd) != 0) throw_errno(p.string() + ": fsync");
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw InputError(p.string() + ": cannot read");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The registry as the operator reads it: each station on its own line.
std::string registry_text(const bj::object& root) {
  std::string out = "{";
  bool first = true;
  for (const auto& kv : root) {
    out += first ? "" : ",\n ";
    first = false;
    out += bj::serialize(bj::string(kv.key())) + ":";
    if (kv.key() == "stations" && kv.value().is_array()) {
      out += "[";
      const auto& a = kv.value().get_array();
      for (std::size_t i = 0; i < a.size(); ++i)
        out += std::string(i ? ",\n  " : "\n  ") + bj::serialize(a[i]);
      out += a.empty() ? "]" : "\n]";
    } else {
      out += bj::serialize(kv.value());
    }
  }
  return out + "}\n";
}

std::string short_fp(const std::string& fp) {
  return fp.substr(0, 16) + "…";
}

}  // namespace

std::string cert_pem_file_sha256(const fs::path& pem) {
  const std::string text = read_text(pem);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, &X509_free);
  if (!cert) throw InputError(pem.string() + ": no PEM certificate in it");
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert.get(), &der);
  if (n <= 0) throw InputError(pem.string() + ": the certificate cannot be DER-encoded");
  const std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return crypto::sha256_hex(bytes);
}

std::string parse_cert_fingerprint(std::string_view arg) {
  std::string hex;
  for (std::size_t i = 0; i < arg.size(); ++i) {
    const char c = arg[i];
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      throw InputError("fingerprint '" + std::string(arg) + "': character " +
                       std::to_string(i + 1) + " '" + std::string(1, c) +
                       "' is not a hex digit (expected the SHA-256 of the DER certificate, "
                       "64 hex digits, colons allowed)");
    hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 64)
    throw InputError("fingerprint '" + std::string(arg) + "': " + std::to_string(hex.size()) +
                     " hex digits, expected 64 (the SHA-256 of the DER certificate; a SHA-1 "
                     "fingerprint has 40)");
  return hex;
}

fs::path registry_change_log(const fs::path& registry_file) {
  return (registry_file.has_parent_path() ? registry_file.parent_path() : fs::path(".")) /
         "registry-changes.jsonl";
}

CertChange change_station_cert(const fs::path& registry_file, const std::string& station_id,
                               CertChangeAction action, const std::string& fingerprint,
                               const std::string& actor, std::int64_t now_unix_us) {
  const std::string fp = parse_cert_fingerprint(fingerprint);
  // A registry with a mistake is not edited: the operator fixes it first (check-config).
  const Registry before = Registry::load_file(registry_file);
  const StationEntry* station = before.by_id(station_id);
  if (!station) throw InputError(registry_file.string() + ": no station '" + station_id + "'");
  std::vector<std::string> accepted = station->tls_certs_sha256;
  const bool has = std::find(accepted.begin(), accepted.end(), fp) != accepted.end();
  const std::string what = station_id + " certificate " + short_fp(fp);
  if (action == CertChangeAction::add) {
    if (has) throw InputError(what + ": already accepted for the station; nothing changed");
    if (const StationEntry* other = before.by_cert_sha256(fp))
      throw InputError(what + ": is station " + other->id +
                       "'s certificate (expected one certificate per station)");
    if (accepted.size() >= kMaxStationCerts)
      throw InputError(what + ": the station has " + std::to_string(accepted.size()) +
                       " certificates accepted already; retire one first");
    accepted.push_back(fp);
  } else {
    if (!has)
      throw InputError(what + ": not accepted for the station (it has " + [&] {
        std::string s;
        for (const auto& a : accepted) s += (s.empty() ? "" : ", ") + short_fp(a);
        return s;
      }() + "); nothing changed");
    if (accepted.size() == 1)
      throw InputError(what +
                       ": the station's only certificate; add its new one first, or "
                       "revoke the station (\"revoked\": true)");
    accepted.erase(std::find(accepted.begin(), accepted.end(), fp));
  }

  auto root = json::parse(read_text(registry_file), registry_file.string());
  for (auto& v : root.as_object().at("stations").as_array()) {
    auto& o = v.as_object();
    if (o.at("id").as_string() != station_id) continue;
    o.erase("tls_cert_sha256_file");
    if (accepted.size() == 1) {
      o["tls_cert_sha256"] = accepted.front();
    } else {
      bj::array a;
      for (const auto& x : accepted) a.emplace_back(x);
      o["tls_cert_sha256"] = std::move(a);
    }
  }
  const std::string text = registry_text(root.as_object());
  Registry::parse(text, registry_file.string() + " (as rewritten)", registry_file.parent_path());
  replace_file(registry_file, text);

  CertChange c{station_id, action, fp, accepted, registry_change_log(registry_file)};
  bj::array acc;
  for (const auto& x : accepted) acc.emplace_back(x);
  append_line(c.log_file,
              bj::serialize(bj::object{
                  {"time_utc", time::format_utc_ms(now_unix_us)},
                  {"clock_sync", std::string(time::to_string(time::query_clock().sync))},
                  {"by", actor},
                  {"station", station_id},
                  {"action", action == CertChangeAction::add ? "tls_cert_add" : "tls_cert_retire"},
                  {"tls_cert_sha256", fp},
                  {"accepted_after", std::move(acc)}}));
  return c;
}

}  // namespace wim::collector
