// SPDX-License-Identifier: Apache-2.0
// Workbench users, sessions and the login throttle (issue 18, docs/workbench-api.md).
// Users live in <data>/users.db with an Argon2id hash of the password (Debian's libargon2,
// RFC 9106; the encoded "$argon2id$v=19$m=..,t=..,p=..$salt$hash" form, so the cost can
// be raised later without a migration). No user exists until `wim-collector add-user`
// creates one: there is no default password. Sessions are held by the collector only
// (a random 256-bit token in an HttpOnly cookie, a CSRF token per session), expire after
// an absolute TTL and after idle time, and are lost on restart (everyone logs in again).
// Everything here is thread-safe and takes its clock from outside (tests control it).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "wim/collector/review.hpp"
#include "wim/common/sqlite.hpp"

namespace wim::collector {

/// Argon2id cost. Defaults: RFC 9106's second recommended option (t=3, 64 MiB, p=1
/// would be p=4 there; one lane keeps a login on one of the collector's cores).
struct PasswordCost {
  std::uint32_t t_cost = 3;              ///< passes
  std::uint32_t m_cost_kib = 64 * 1024;  ///< [KiB] memory
  std::uint32_t parallelism = 1;         ///< lanes
};

/// Encoded Argon2id hash of `password` with a fresh 16-byte random salt.
std::string hash_password(const std::string& password, const PasswordCost& cost);
/// True when `password` matches an encoded Argon2id hash (false for a malformed hash).
bool verify_password(const std::string& encoded, const std::string& password);
/// 2*n hex digits from n bytes of OpenSSL's CSPRNG.
std::string random_hex(std::size_t n_bytes);

struct UserRow {
  std::string user;
  Role role = Role::supervisor;
  bool disabled = false;
};

class Users {
 public:
  explicit Users(const std::filesystem::path& db_path, PasswordCost cost = {});
  ~Users();
  /// InputError naming the problem: user name not [a-z0-9._-]{1,32}, password shorter than
  /// 12 bytes or longer than 1024, a user of that name already exists.
  void add(const std::string& user, Role role, const std::string& password);
  /// The user's role when the password matches and the user is not disabled. An unknown
  /// user costs the same Argon2id work as a known one (no timing oracle).
  std::optional<Role> check(const std::string& user, const std::string& password);
  std::vector<UserRow> list();
  std::size_t count();

 private:
  std::mutex mutex_;
  std::unique_ptr<sqlite::Db> db_;
  PasswordCost cost_;
  std::string dummy_hash_;  ///< verified against for unknown users
};

struct Session {
  std::string token;  ///< 64 hex digits (cookie wim_session)
  std::string csrf;   ///< 32 hex digits (header X-CSRF-Token)
  std::string user;
  Role role = Role::supervisor;
  std::int64_t created_unix_us = 0, last_unix_us = 0;
  std::int64_t expires_unix_us = 0;  ///< [us] absolute end (created + ttl)
};

class Sessions {
 public:
  using Clock = std::function<std::int64_t()>;  ///< [us] UTC now
  Sessions(std::int64_t ttl_s, std::int64_t idle_s, Clock clock);
  Session create(const std::string& user, Role role);
  /// The live session of `token` (its idle time restarts), or nullopt when unknown,
  /// past its TTL or idle too long (then it is dropped).
  std::optional<Session> find(const std::string& token);
  void remove(const std::string& token);
  std::size_t size();

 private:
  std::mutex mutex_;
  std::int64_t ttl_us_, idle_us_;
  Clock clock_;
  std::map<std::string, Session> sessions_;
};

/// Slows password guessing: after `free_tries` failures of one user name or from one client
/// address within `window_s`, every further attempt of that key must wait, the wait
/// doubling from 1 s per failure up to `max_wait_s`. A success clears the user's and the
/// address's count.
class LoginThrottle {
 public:
  using Clock = std::function<std::int64_t()>;
  explicit LoginThrottle(Clock clock, int free_tries = 5, std::int64_t window_s = 900,
                         std::int64_t max_wait_s = 900);
  /// [s] to wait before an attempt for (user, address) is heard (0: go ahead).
  std::int64_t wait_s(const std::string& user, const std::string& address);
  void failed(const std::string& user, const std::string& address);
  void succeeded(const std::string& user, const std::string& address);

 private:
  struct Count {
    int failures = 0;
    std::int64_t first_unix_us = 0, locked_until_unix_us = 0;
  };
  void bump(Count& c, std::int64_t now);
  std::int64_t wait_of(const std::string& key, std::int64_t now);
  std::mutex mutex_;
  Clock clock_;
  int free_tries_;
  std::int64_t window_us_, max_wait_s_;
  std::map<std::string, Count> counts_;
};

}  // namespace wim::collector
