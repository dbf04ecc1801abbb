// SPDX-License-Identifier: Apache-2.0
#include "wim/common/sqlite.hpp"

namespace wim::sqlite {

void throw_error(sqlite3* db, int rc, std::string_view what) {
  std::string msg(what);
  const char* file = db ? sqlite3_db_filename(db, "main") : nullptr;
  if (file && *file) msg = std::string(file) + ": " + msg;
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  if (primary == SQLITE_FULL) throw SqliteFull(msg);
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) throw SqliteCorrupt(msg);
  throw SystemError(msg);
}

Db::Db(const std::filesystem::path& path, int flags) : path_(path) {
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg =
        path.string() + ": cannot open: " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_close(db_);
    db_ = nullptr;
    throw SystemError(msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  // Another thread of ours (status, uplink) may hold the write lock briefly.
  sqlite3_busy_timeout(db_, 5000);
}

Db::~Db() {
  sqlite3_close(db_);
}

void Db::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) throw_error(db_, rc, s);
}

std::string Db::query_text(std::string_view sql) {
  Stmt st(*this, sql);
  return st.step() ? st.col_text(0) : std::string();
}

std::int64_t Db::query_int(std::string_view sql) {
  Stmt st(*this, sql);
  return st.step() ? st.col_int(0) : 0;
}

Stmt::Stmt(Db& db, std::string_view sql) : db_(db), sql_(sql) {
  int rc = sqlite3_prepare_v2(db_.handle(), sql_.c_str(), static_cast<int>(sql_.size()), &stmt_,
                              nullptr);
  if (rc != SQLITE_OK) throw_error(db_.handle(), rc, "prepare '" + sql_ + "'");
}

Stmt::~Stmt() {
  sqlite3_finalize(stmt_);
}

Stmt& Stmt::bind(int i, std::int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, i, v);
  if (rc != SQLITE_OK) throw_error(db_.handle(), rc, "bind '" + sql_ + "'");
  return *this;
}

Stmt& Stmt::bind(int i, std::string_view text) {
  int rc =
      sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) throw_error(db_.handle(), rc, "bind '" + sql_ + "'");
  return *this;
}

Stmt& Stmt::bind_double(int i, double v) {
  int rc = sqlite3_bind_double(stmt_, i, v);
  if (rc != SQLITE_OK) throw_error(db_.handle(), rc, "bind '" + sql_ + "'");
  return *this;
}

Stmt& Stmt::bind_blob(int i, std::string_view bytes) {
  int rc = sqlite3_bind_blob64(stmt_, i, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) throw_error(db_.handle(), rc, "bind '" + sql_ + "'");
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  throw_error(db_.handle(), rc, "'" + sql_ + "'");
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Stmt::col_int(int i) const {
  return sqlite3_column_int64(stmt_, i);
}

double Stmt::col_double(int i) const {
  return sqlite3_column_double(stmt_, i);
}

std::string Stmt::col_text(int i) const {
  const unsigned char* p = sqlite3_column_text(stmt_, i);
  int n = sqlite3_column_bytes(stmt_, i);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
           : std::string();
}

std::string Stmt::col_blob(int i) const {
  const void* p = sqlite3_column_blob(stmt_, i);
  int n = sqlite3_column_bytes(stmt_, i);
  return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
}

bool Stmt::col_null(int i) const {
  return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
}

Transaction::Transaction(Db& db) : db_(db) {
  db_.exec("BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
  if (!done_) {
    // After SQLITE_FULL SQLite may already have rolled back; a failing ROLLBACK is harmless.
    sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace wim::sqlite
