// SPDX-License-Identifier: Apache-2.0
// A thin RAII layer over the SQLite C API (library wim_sqlite), used by the station's
// outbox and the collector's stores. Errors throw wim::SystemError naming the file, the
// statement and SQLite's message; SQLITE_FULL throws SqliteFull so callers can tell a
// full disk from other failures.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "wim/common/error.hpp"

namespace wim::sqlite {

/// The database (or the disk under it) is full: SQLITE_FULL.
class SqliteFull : public SystemError {
 public:
  using SystemError::SystemError;
};
/// The file is not a database or is malformed: SQLITE_CORRUPT / SQLITE_NOTADB.
class SqliteCorrupt : public SystemError {
 public:
  using SystemError::SystemError;
};

[[noreturn]] void throw_error(sqlite3* db, int rc, std::string_view what);

class Stmt;

/// One connection. Not thread-safe: the owner serialises access.
class Db {
 public:
  /// flags: SQLITE_OPEN_* (FULLMUTEX is always added).
  explicit Db(const std::filesystem::path& path,
              int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(std::string_view sql);
  /// First column of the first row as text ("" when no row).
  std::string query_text(std::string_view sql);
  std::int64_t query_int(std::string_view sql);
  sqlite3* handle() const { return db_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

/// A prepared statement; bind indices start at 1, column indices at 0.
class Stmt {
 public:
  Stmt(Db& db, std::string_view sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, std::string_view text);
  Stmt& bind_double(int i, double v);
  Stmt& bind_blob(int i, std::string_view bytes);
  /// true when a row is available, false when done.
  bool step();
  void reset();

  std::int64_t col_int(int i) const;
  double col_double(int i) const;
  std::string col_text(int i) const;
  std::string col_blob(int i) const;
  bool col_null(int i) const;

 private:
  Db& db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

/// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed without commit().
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace wim::sqlite
