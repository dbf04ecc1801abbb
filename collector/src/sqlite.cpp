// SPDX-License-Identifier: Apache-2.0
#include "wim/collector/sqlite.hpp"

#include "wim/common/error.hpp"

namespace wim::collector::sql {

Db::Db(const std::filesystem::path& path) {
  if (sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw SystemError("sqlite open " + path.string() + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
}

Db::~Db() {
  sqlite3_close(db_);
}

void Db::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown";
    sqlite3_free(err);
    throw SystemError(std::string("sqlite: ") + msg + " in: " + sql);
  }
}

Stmt::Stmt(const Db& db, const char* sql) : db_(db.get()), sql_(sql) {
  if (sqlite3_prepare_v2(db_, sql, -1, &st_, nullptr) != SQLITE_OK)
    throw SystemError(std::string("sqlite prepare: ") + sqlite3_errmsg(db_) + " in: " + sql);
}

Stmt::~Stmt() {
  sqlite3_finalize(st_);
}

Stmt& Stmt::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(st_, i, v);
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view t) {
  sqlite3_bind_text(st_, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind_double(int i, double v) {
  sqlite3_bind_double(st_, i, v);
  return *this;
}

Stmt& Stmt::bind_blob(int i, std::string_view b) {
  sqlite3_bind_blob(st_, i, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw SystemError(std::string("sqlite step: ") + sqlite3_errmsg(db_) + " in: " + sql_);
}

void Stmt::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

std::int64_t Stmt::i64(int c) const {
  return sqlite3_column_int64(st_, c);
}
double Stmt::f64(int c) const {
  return sqlite3_column_double(st_, c);
}
bool Stmt::is_null(int c) const {
  return sqlite3_column_type(st_, c) == SQLITE_NULL;
}
std::string Stmt::text(int c) const {
  auto p = sqlite3_column_text(st_, c);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(st_, c)))
           : std::string();
}
std::string Stmt::blob(int c) const {
  auto p = sqlite3_column_blob(st_, c);
  return p ? std::string(static_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(st_, c)))
           : std::string();
}

Transaction::Transaction(Db& db) : db_(db) {
  db_.exec("BEGIN IMMEDIATE");
}
Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
}
void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace wim::collector::sql
