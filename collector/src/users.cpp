// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/users.hpp"

#include <argon2.h>
#include <openssl/rand.h>

#include <algorithm>

#include "wim/common/error.hpp"

namespace wim::collector {

namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;

bool valid_user_name(const std::string& u) {
  if (u.empty() || u.size() > 32) return false;
  return std::all_of(u.begin(), u.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

std::string random_hex(std::size_t n) {
  std::string raw(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(n)) != 1)
    throw SystemError("RAND_bytes failed");
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string hash_password(const std::string& password, const PasswordCost& cost) {
  unsigned char salt[kSaltBytes];
  if (RAND_bytes(salt, sizeof salt) != 1) throw SystemError("RAND_bytes failed");
  const std::size_t len = argon2_encodedlen(cost.t_cost, cost.m_cost_kib, cost.parallelism,
                                            kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(len, '\0');
  const int rc = argon2id_hash_encoded(cost.t_cost, cost.m_cost_kib, cost.parallelism,
                                       password.data(), password.size(), salt, sizeof salt,
                                       kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) throw SystemError(std::string("argon2id: ") + argon2_error_message(rc));
  encoded.resize(encoded.find('\0'));
  return encoded;
}

bool verify_password(const std::string& encoded, const std::string& password) {
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

Users::Users(const std::filesystem::path& db_path, PasswordCost cost)
    : db_(std::make_unique<sqlite::Db>(db_path)), cost_(cost) {
  db_->exec(
      "CREATE TABLE IF NOT EXISTS users(user TEXT PRIMARY KEY, role TEXT NOT NULL, "
      "hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, created_unix_us INTEGER NOT NULL) "
      "WITHOUT ROWID");
  dummy_hash_ = hash_password(random_hex(16), cost_);
}

Users::~Users() = default;

void Users::add(const std::string& user, Role role, const std::string& password) {
  if (!valid_user_name(user))
    throw InputError("user: expected 1..32 of a-z 0-9 . _ - (got '" + user + "')");
  if (password.size() < 12) throw InputError("password: at least 12 bytes");
  if (password.size() > 1024) throw InputError("password: at most 1024 bytes");
  const auto hash = hash_password(password, cost_);
  std::lock_guard lock(mutex_);
  sqlite::Stmt exists(*db_, "SELECT 1 FROM users WHERE user=?");
  exists.bind(1, user);
  if (exists.step()) throw InputError("user: '" + user + "' exists already");
  sqlite::Stmt st(*db_, "INSERT INTO users(user, role, hash, created_unix_us) VALUES(?,?,?,?)");
  st.bind(1, user).bind(2, to_string(role)).bind(3, hash);
  st.bind(4, static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count()));
  st.step();
}

std::optional<Role> Users::check(const std::string& user, const std::string& password) {
  std::string hash, role;
  bool disabled = true;
  {
    std::lock_guard lock(mutex_);
    sqlite::Stmt st(*db_, "SELECT hash, role, disabled FROM users WHERE user=?");
    st.bind(1, user);
    if (st.step()) {
      hash = st.col_text(0);
      role = st.col_text(1);
      disabled = st.col_int(2) != 0;
    }
  }
  if (hash.empty()) {
    (void)verify_password(dummy_hash_, password);  // the same work as for a real user
    return std::nullopt;
  }
  if (!verify_password(hash, password) || disabled) return std::nullopt;
  return role_from_string(role);
}

std::vector<UserRow> Users::list() {
  std::lock_guard lock(mutex_);
  std::vector<UserRow> out;
  sqlite::Stmt st(*db_, "SELECT user, role, disabled FROM users ORDER BY user");
  while (st.step())
    out.push_back({st.col_text(0), role_from_string(st.col_text(1)), st.col_int(2) != 0});
  return out;
}

std::size_t Users::count() {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(db_->query_int("SELECT count(*) FROM users"));
}

Sessions::Sessions(std::int64_t ttl_s, std::int64_t idle_s, Clock clock)
    : ttl_us_(ttl_s * 1'000'000), idle_us_(idle_s * 1'000'000), clock_(std::move(clock)) {}

Session Sessions::create(const std::string& user, Role role) {
  Session s;
  s.token = random_hex(32);
  s.csrf = random_hex(16);
  s.user = user;
  s.role = role;
  s.created_unix_us = s.last_unix_us = clock_();
  s.expires_unix_us = s.created_unix_us + ttl_us_;
  std::lock_guard lock(mutex_);
  // Expired sessions of anyone are dropped here too, so the map stays small.
  for (auto it = sessions_.begin(); it != sessions_.end();)
    if (s.created_unix_us >= it->second.expires_unix_us ||
        s.created_unix_us - it->second.last_unix_us > idle_us_)
      it = sessions_.erase(it);
    else
      ++it;
  sessions_[s.token] = s;
  return s;
}

std::optional<Session> Sessions::find(const std::string& token) {
  const auto now = clock_();
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return std::nullopt;
  if (now >= it->second.expires_unix_us || now - it->second.last_unix_us > idle_us_) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_unix_us = now;
  return it->second;
}

void Sessions::remove(const std::string& token) {
  std::lock_guard lock(mutex_);
  sessions_.erase(token);
}

std::size_t Sessions::size() {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

LoginThrottle::LoginThrottle(Clock clock, int free_tries, std::int64_t window_s,
                             std::int64_t max_wait_s)
    : clock_(std::move(clock)),
      free_tries_(free_tries),
      window_us_(window_s * 1'000'000),
      max_wait_s_(max_wait_s) {}

std::int64_t LoginThrottle::wait_of(const std::string& key, std::int64_t now) {
  auto it = counts_.find(key);
  if (it == counts_.end()) return 0;
  if (now - it->second.first_unix_us > window_us_ && now >= it->second.locked_until_unix_us) {
    counts_.erase(it);
    return 0;
  }
  const auto left = it->second.locked_until_unix_us - now;
  return left > 0 ? (left + 999'999) / 1'000'000 : 0;
}

std::int64_t LoginThrottle::wait_s(const std::string& user, const std::string& address) {
  const auto now = clock_();
  std::lock_guard lock(mutex_);
  return std::max(wait_of("u:" + user, now), wait_of("a:" + address, now));
}

void LoginThrottle::bump(Count& c, std::int64_t now) {
  if (c.failures == 0) c.first_unix_us = now;
  ++c.failures;
  if (c.failures >= free_tries_) {
    std::int64_t wait = 1;
    for (int i = free_tries_; i < c.failures && wait < max_wait_s_; ++i) wait *= 2;
    c.locked_until_unix_us = now + std::min(wait, max_wait_s_) * 1'000'000;
  }
}

void LoginThrottle::failed(const std::string& user, const std::string& address) {
  const auto now = clock_();
  std::lock_guard lock(mutex_);
  wait_of("u:" + user, now);  // forgets counts older than the window
  wait_of("a:" + address, now);
  bump(counts_["u:" + user], now);
  bump(counts_["a:" + address], now);
}

void LoginThrottle::succeeded(const std::string& user, const std::string& address) {
  std::lock_guard lock(mutex_);
  counts_.erase("u:" + user);
  counts_.erase("a:" + address);
}

}  // namespace wim::collector
