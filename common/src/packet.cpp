// SPDX-License-Identifier: Apache-2.0
#include "wim/common/packet.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>

#include "wim/common/error.hpp"
#include "wim/common/fs_sync.hpp"

namespace wim::packet {
namespace fs = std::filesystem;

namespace {

void write_file_synced(const fs::path& p, std::string_view data) {
  UniqueFd f{::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)};
  if (f.fd < 0) throw_errno(p.string() + ": create");
  write_all(f.fd, data, p);
  if (::fsync(f.fd) != 0) throw_errno(p.string() + ": fsync");
}

std::string read_file_bounded(const fs::path& p, std::uint64_t max_bytes) {
  UniqueFd f{::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (f.fd < 0) {
    if (errno == ENOENT) throw InputError(p.string() + ": missing");
    if (errno == ELOOP) throw InputError(p.string() + ": a symbolic link, not a file");
    throw_errno(p.string() + ": open");
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw_errno(p.string() + ": stat");
  if (!S_ISREG(st.st_mode)) throw InputError(p.string() + ": not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    throw InputError(p.string() + ": " + std::to_string(st.st_size) + " bytes, more than the " +
                     std::to_string(max_bytes) + " allowed");
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(f.fd, out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(p.string() + ": read");
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

struct ArchiveWriteDeleter {
  void operator()(archive* a) const noexcept { archive_write_free(a); }
};
struct ArchiveReadDeleter {
  void operator()(archive* a) const noexcept { archive_read_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const noexcept { archive_entry_free(e); }
};

la_ssize_t append_to_string(archive*, void* client, const void* buf, size_t n) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

[[noreturn]] void archive_fail(archive* a, const std::string& what) {
  const char* msg = archive_error_string(a);
  throw InputError(what + ": " + (msg ? msg : "libarchive error"));
}

std::int64_t record_time_s(const Packet& p) {
  try {
    return p.manifest().time_unix_us / 1000000;
  } catch (const InputError&) {
    return 0;  // a malformed manifest still travels (the verifier reports it)
  }
}

void write_entry(archive* a, const std::string& path, std::string_view data, std::int64_t mtime,
                 bool is_dir) {
  std::unique_ptr<archive_entry, EntryDeleter> e(archive_entry_new());
  archive_entry_set_pathname(e.get(), path.c_str());
  archive_entry_set_filetype(e.get(), is_dir ? AE_IFDIR : AE_IFREG);
  archive_entry_set_perm(e.get(), is_dir ? 0755 : 0644);
  archive_entry_set_size(e.get(), is_dir ? 0 : static_cast<la_int64_t>(data.size()));
  archive_entry_set_mtime(e.get(), mtime, 0);
  archive_entry_set_uid(e.get(), 0);
  archive_entry_set_gid(e.get(), 0);
  if (archive_write_header(a, e.get()) != ARCHIVE_OK) archive_fail(a, "tar: " + path);
  if (!is_dir && !data.empty() &&
      archive_write_data(a, data.data(), data.size()) != static_cast<la_ssize_t>(data.size()))
    archive_fail(a, "tar: " + path);
}

}  // namespace

record::Manifest Packet::manifest() const {
  return record::parse_manifest(manifest_json);
}

std::string Packet::dir_name() const {
  auto m = manifest();
  return packet::dir_name(m.station_id, m.seq);
}

std::string dir_name(std::string_view station_id, std::uint64_t seq) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%010llu", static_cast<unsigned long long>(seq));
  return std::string(station_id) + "-" + digits;
}

bool parse_dir_name(std::string_view name, std::string& station_id, std::uint64_t& seq) {
  auto dash = name.rfind('-');
  if (dash == std::string_view::npos || name.size() - dash != 11) return false;
  std::uint64_t value = 0;
  for (char c : name.substr(dash + 1)) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (!record::is_valid_station_id(name.substr(0, dash))) return false;
  station_id = std::string(name.substr(0, dash));
  seq = value;
  return true;
}

std::string media_type_for(std::string_view name) {
  auto dot = name.rfind('.');
  std::string ext = dot == std::string_view::npos ? "" : std::string(name.substr(dot + 1));
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "png") return "image/png";
  if (ext == "mp4") return "video/mp4";
  if (ext == "csv") return "text/csv";
  if (ext == "json") return "application/json";
  if (ext == "txt") return "text/plain";
  return "application/octet-stream";
}

Packet seal(record::Manifest m, std::map<std::string, std::string> attachments,
            const crypto::SigningKey& key) {
  std::vector<record::Attachment> listed;
  for (const auto& [name, bytes] : attachments) {
    if (!record::is_valid_attachment_name(name))
      throw InputError("attachment \"" + name + "\": not a safe file name");
    record::Attachment a{name, "", crypto::sha256_hex(bytes), bytes.size()};
    for (const auto& given : m.attachments)
      if (given.name == name) a.media_type = given.media_type;
    if (a.media_type.empty()) a.media_type = media_type_for(name);
    listed.push_back(std::move(a));
  }
  for (const auto& given : m.attachments)
    if (!attachments.contains(given.name))
      throw InputError("manifest.attachments: \"" + given.name + "\" listed but not given");
  m.attachments = std::move(listed);
  Packet p;
  p.manifest_json = record::serialize(m);  // validates, privacy rule included
  p.signature = key.sign(p.manifest_json);
  p.attachments = std::move(attachments);
  return p;
}

void write_dir(const Packet& p, const fs::path& parent) {
  const std::string name = p.dir_name();
  const fs::path final_dir = parent / name;
  std::error_code ec;
  if (fs::exists(final_dir, ec)) {
    Packet existing = read_dir(final_dir);
    if (existing == p) return;  // idempotent: the same evidence is already there
    throw InputError(final_dir.string() + ": exists with different content; not overwritten");
  }
  std::string templ = (parent / (".tmp-" + name + "-XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) throw_errno(parent.string() + ": mkdtemp");
  const fs::path tmp = templ;
  try {
    write_file_synced(tmp / kManifestName, p.manifest_json);
    write_file_synced(tmp / kSignatureName, p.signature);
    for (const auto& [aname, bytes] : p.attachments) {
      if (!record::is_valid_attachment_name(aname))
        throw InputError("attachment \"" + aname + "\": not a safe file name");
      write_file_synced(tmp / aname, bytes);
    }
    fsync_dir(tmp);
    if (::rename(tmp.c_str(), final_dir.c_str()) != 0)
      throw_errno("rename " + tmp.string() + " -> " + final_dir.string());
    fsync_dir(parent);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

Packet read_dir(const fs::path& dir, const Limits& limits) {
  std::error_code ec;
  auto st = fs::symlink_status(dir, ec);
  if (ec || !fs::is_directory(st)) throw InputError(dir.string() + ": not a packet directory");
  Packet p;
  p.origin = dir.filename().string();
  std::uint64_t total = 0;
  std::size_t count = 0;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) files.push_back(e.path());
  if (ec) throw SystemError(dir.string() + ": " + ec.message());
  for (const auto& f : files) {
    auto name = f.filename().string();
    if (++count > limits.max_entries_per_packet)
      throw InputError(dir.string() + ": more than " +
                       std::to_string(limits.max_entries_per_packet) + " files");
    if (name == kManifestName) {
      p.manifest_json = read_file_bounded(f, limits.max_manifest_bytes);
      total += p.manifest_json.size();
    } else if (name == kSignatureName) {
      p.signature = read_file_bounded(f, 4096);
      total += p.signature.size();
    } else {
      if (!record::is_valid_attachment_name(name))
        throw InputError(f.string() + ": not a valid attachment name");
      auto bytes = read_file_bounded(f, limits.max_entry_bytes);
      total += bytes.size();
      p.attachments.emplace(name, std::move(bytes));
    }
    if (total > limits.max_total_bytes)
      throw InputError(dir.string() + ": more than " + std::to_string(limits.max_total_bytes) +
                       " bytes");
  }
  if (!fs::exists(dir / kManifestName))
    throw InputError((dir / kManifestName).string() + ": missing");
  if (!fs::exists(dir / kSignatureName))
    throw InputError((dir / kSignatureName).string() + ": missing");
  return p;
}

namespace {

std::unique_ptr<archive, ArchiveWriteDeleter> open_tar_writer(std::string& out, TarEnd end) {
  std::unique_ptr<archive, ArchiveWriteDeleter> a(archive_write_new());
  if (!a) throw SystemError("tar: archive_write_new failed");
  // libarchive writes in blocks of bytes_per_block and pads the last one to
  // bytes_in_last_block: 1 = no padding, the block size = a whole record.
  const int last_block = end == TarEnd::full_records ? static_cast<int>(kTarRecordBytes) : 1;
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(a.get(), static_cast<int>(kTarRecordBytes)) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), last_block) != ARCHIVE_OK ||
      archive_write_open(a.get(), &out, nullptr, append_to_string, nullptr) != ARCHIVE_OK)
    archive_fail(a.get(), "tar");
  return a;
}

}  // namespace

std::string files_to_tar(const std::vector<std::pair<std::string, std::string>>& files,
                         std::int64_t mtime_unix_s, TarEnd end) {
  std::string out;
  auto a = open_tar_writer(out, end);
  for (const auto& [path, bytes] : files) {
    const bool is_dir = !path.empty() && path.back() == '/';
    write_entry(a.get(), path, bytes, mtime_unix_s, is_dir);
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) archive_fail(a.get(), "tar: close");
  return out;
}

std::string to_tar(const std::vector<Packet>& packets, TarEnd end) {
  std::string out;
  auto a = open_tar_writer(out, end);
  for (const auto& p : packets) {
    const std::string dir = p.dir_name();
    const auto mtime = record_time_s(p);
    write_entry(a.get(), dir + "/", {}, mtime, true);
    write_entry(a.get(), dir + "/" + std::string(kManifestName), p.manifest_json, mtime, false);
    write_entry(a.get(), dir + "/" + std::string(kSignatureName), p.signature, mtime, false);
    for (const auto& [name, bytes] : p.attachments)
      write_entry(a.get(), dir + "/" + name, bytes, mtime, false);
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) archive_fail(a.get(), "tar: close");
  return out;
}

namespace {

/// Reads the current entry's data, at most `max` bytes (and `total` within the limit).
std::string read_entry_data(archive* a, const std::string& where, std::uint64_t max,
                            std::uint64_t& total, const Limits& limits) {
  std::string data;
  char buf[16384];
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n < 0) archive_fail(a, where);
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    total += static_cast<std::uint64_t>(n);
    if (data.size() > max)
      throw InputError(where + ": more than " + std::to_string(max) + " bytes");
    if (total > limits.max_total_bytes)
      throw InputError(where + ": tar holds more than " + std::to_string(limits.max_total_bytes) +
                       " bytes");
  }
  return data;
}

std::unique_ptr<archive, ArchiveReadDeleter> open_tar_reader(std::string_view tar) {
  std::unique_ptr<archive, ArchiveReadDeleter> a(archive_read_new());
  if (!a) throw SystemError("tar: archive_read_new failed");
  archive_read_support_format_tar(a.get());
  if (archive_read_open_memory(a.get(), tar.data(), tar.size()) != ARCHIVE_OK)
    archive_fail(a.get(), "tar");
  return a;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> files_from_tar(std::string_view tar,
                                                                const Limits& limits) {
  auto a = open_tar_reader(tar);
  std::vector<std::pair<std::string, std::string>> files;
  std::set<std::string> seen;
  std::uint64_t total = 0;
  for (std::size_t n = 1;; ++n) {
    archive_entry* e = nullptr;
    const int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) archive_fail(a.get(), "tar entry " + std::to_string(n));
    const char* raw = archive_entry_pathname(e);
    std::string path = raw ? raw : "";
    const std::string where = "tar entry \"" + path + "\"";
    if (path.starts_with("./")) path.erase(0, 2);
    const auto type = archive_entry_filetype(e);
    if (type == AE_IFDIR) continue;
    if (type != AE_IFREG) throw InputError(where + ": not a regular file or directory");
    if (path.empty() || path.front() == '/' || path.back() == '/' ||
        ("/" + path + "/").find("/../") != std::string::npos ||
        ("/" + path + "/").find("//") != std::string::npos)
      throw InputError(where + ": not a plain relative path");
    if (!seen.insert(path).second) throw InputError(where + ": appears twice");
    if (files.size() >= limits.max_packets)
      throw InputError(where + ": more than " + std::to_string(limits.max_packets) + " files");
    auto data = read_entry_data(a.get(), where, limits.max_entry_bytes, total, limits);
    files.emplace_back(std::move(path), std::move(data));
  }
  return files;
}

std::vector<Packet> from_tar(std::string_view tar, const Limits& limits) {
  auto a = open_tar_reader(tar);
  std::vector<Packet> packets;
  std::map<std::string, std::size_t> index;  // dir name -> packets[i]
  std::set<std::string> seen;
  std::uint64_t total = 0;
  std::map<std::string, std::size_t> files_in;
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) archive_fail(a.get(), "tar entry " + std::to_string(seen.size() + 1));
    const char* raw = archive_entry_pathname(e);
    std::string path = raw ? raw : "";
    const std::string where = "tar entry \"" + path + "\"";
    if (path.starts_with("./")) path.erase(0, 2);
    const auto type = archive_entry_filetype(e);
    bool is_dir = type == AE_IFDIR;
    if (is_dir && path.ends_with('/')) path.pop_back();
    if (!is_dir && type != AE_IFREG) throw InputError(where + ": not a regular file or directory");
    auto slash = path.find('/');
    std::string dir = path.substr(0, slash);
    std::string file = slash == std::string::npos ? "" : path.substr(slash + 1);
    // A packet dir name is "<station>-<10 digits>": station-id characters only.
    if (!record::is_valid_station_id(dir) || dir.size() < 12)
      throw InputError(where + ": not inside a \"<station>-<seq>/\" packet directory");
    if (is_dir ? !file.empty() : file.empty())
      throw InputError(where + ": packets hold files only, one level deep");
    if (!seen.insert(path + (is_dir ? "/" : "")).second)
      throw InputError(where + ": appears twice");
    if (!index.contains(dir)) {
      if (packets.size() >= limits.max_packets)
        throw InputError(where + ": more than " + std::to_string(limits.max_packets) + " packets");
      index[dir] = packets.size();
      packets.emplace_back();
      packets.back().origin = dir;
    }
    if (is_dir) continue;
    if (file != kManifestName && file != kSignatureName && !record::is_valid_attachment_name(file))
      throw InputError(where + ": not a valid attachment name");
    if (++files_in[dir] > limits.max_entries_per_packet)
      throw InputError(where + ": more than " + std::to_string(limits.max_entries_per_packet) +
                       " files in one packet");
    const std::uint64_t max = file == kManifestName    ? limits.max_manifest_bytes
                              : file == kSignatureName ? 4096
                                                       : limits.max_entry_bytes;
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
        static_cast<std::uint64_t>(archive_entry_size(e)) > max)
      throw InputError(where + ": " + std::to_string(archive_entry_size(e)) +
                       " bytes, more than the " + std::to_string(max) + " allowed");
    std::string data = read_entry_data(a.get(), where, max, total, limits);
    Packet& p = packets[index[dir]];
    if (file == kManifestName)
      p.manifest_json = std::move(data);
    else if (file == kSignatureName)
      p.signature = std::move(data);
    else
      p.attachments.emplace(file, std::move(data));
  }
  for (const auto& p : packets) {
    if (p.manifest_json.empty() && !seen.contains(p.origin + "/" + std::string(kManifestName)))
      throw InputError("tar: packet \"" + p.origin + "\": manifest.json missing");
    if (!seen.contains(p.origin + "/" + std::string(kSignatureName)))
      throw InputError("tar: packet \"" + p.origin + "\": manifest.sig missing");
  }
  return packets;
}

}  // namespace wim::packet
