// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/batch_tar.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "wim/common/error.hpp"

namespace wim::edge {
namespace {

struct ReadDeleter {
  void operator()(archive* a) const noexcept { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(archive* a) const noexcept { archive_write_free(a); }
};

la_ssize_t append_cb(archive*, void* client, const void* buf, size_t n) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

}  // namespace

std::vector<TarEntry> read_tar(std::string_view tar, std::size_t max_entry_bytes) {
  std::unique_ptr<archive, ReadDeleter> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_memory(a.get(), tar.data(), tar.size()) != ARCHIVE_OK)
    throw InputError(std::string("batch tar: ") + archive_error_string(a.get()));
  std::vector<TarEntry> out;
  archive_entry* e = nullptr;
  for (;;) {
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK)
      throw InputError("batch tar: after entry " + std::to_string(out.size()) + ": " +
                       archive_error_string(a.get()));
    const char* name = archive_entry_pathname(e);
    const std::string n = name ? name : "";
    if (archive_entry_filetype(e) == AE_IFDIR) continue;
    if (archive_entry_filetype(e) != AE_IFREG)
      throw InputError("batch tar: entry '" + n + "' is not a regular file");
    const la_int64_t size = archive_entry_size(e);
    if (size < 0 || static_cast<std::uint64_t>(size) > max_entry_bytes)
      throw InputError("batch tar: entry '" + n + "' size " + std::to_string(size) +
                       " exceeds the limit");
    TarEntry t{n, std::string(static_cast<std::size_t>(size), '\0')};
    if (size > 0 && archive_read_data(a.get(), t.data.data(), t.data.size()) != size)
      throw InputError("batch tar: entry '" + n + "' truncated");
    out.push_back(std::move(t));
  }
  return out;
}

std::string write_tar(const std::vector<TarEntry>& entries) {
  std::string out;
  std::unique_ptr<archive, WriteDeleter> a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  archive_write_set_bytes_in_last_block(a.get(), 1);
  if (archive_write_open(a.get(), &out, nullptr, append_cb, nullptr) != ARCHIVE_OK)
    throw SystemError(std::string("tar: ") + archive_error_string(a.get()));
  for (const auto& t : entries) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(),
                                                                    &archive_entry_free);
    archive_entry_set_pathname(e.get(), t.name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(t.data.size()));
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK ||
        (!t.data.empty() && archive_write_data(a.get(), t.data.data(), t.data.size()) !=
                                static_cast<la_ssize_t>(t.data.size())))
      throw SystemError("tar: entry '" + t.name + "': " + archive_error_string(a.get()));
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK)
    throw SystemError(std::string("tar: ") + archive_error_string(a.get()));
  return out;
}

std::string merge_tars(const std::vector<std::string_view>& tars) {
  std::vector<TarEntry> all;
  for (auto t : tars) {
    auto e = read_tar(t);
    all.insert(all.end(), std::make_move_iterator(e.begin()), std::make_move_iterator(e.end()));
  }
  return write_tar(all);
}

}  // namespace wim::edge
