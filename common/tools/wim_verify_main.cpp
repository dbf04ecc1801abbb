// SPDX-License-Identifier: Apache-2.0
// wim-verify: checks evidence packets (a packet dir, a .tar, or a directory holding a
// station's chain as dirs and/or tars) against a station's public key or a registry.
// Exit status: 0 all is well, 1 problems found, 2 usage or I/O error.
#include <algorithm>
#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "wim/common/audit.hpp"
#include "wim/common/case_archive.hpp"
#include "wim/common/chain.hpp"
#include "wim/common/error.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/retention_list.hpp"

namespace fs = std::filesystem;
namespace po = boost::program_options;
using namespace wim;

namespace {

constexpr int kOk = 0, kProblems = 1, kUsage = 2;

struct Loaded {
  std::vector<packet::Packet> packets;
  std::vector<chain::Finding> unreadable;  // packets that could not even be read
  std::vector<fs::path> retention_lists;   // <station>-retention.jsonl beside the tars
};

// wim-collector export --station writes the signed retention_purge entries of images it
// left out under this name (common/retention_list.hpp).
bool is_retention_list(const fs::path& p) {
  return p.filename().string().ends_with("-retention.jsonl");
}

std::string read_whole(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw SystemError(p.string() + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void unreadable(Loaded& out, const fs::path& p, const std::string& why) {
  chain::Finding f{"", 0, chain::Problem::malformed, why};
  packet::parse_dir_name(p.filename().string(), f.station_id, f.seq);
  out.unreadable.push_back(std::move(f));
}

void load_tar(Loaded& out, const fs::path& p) {
  try {
    auto ps = packet::from_tar(read_whole(p));
    out.packets.insert(out.packets.end(), ps.begin(), ps.end());
  } catch (const InputError& e) {
    unreadable(out, p, p.string() + ": " + e.what());
  }
}

void load_dir(Loaded& out, const fs::path& p) {
  try {
    out.packets.push_back(packet::read_dir(p));
  } catch (const InputError& e) {
    unreadable(out, p, e.what());
  }
}

bool is_packet_dir(const fs::path& p) {
  std::string station;
  std::uint64_t seq = 0;
  return fs::exists(p / packet::kManifestName) || fs::exists(p / packet::kSignatureName) ||
         packet::parse_dir_name(p.filename().string(), station, seq);
}

void load_path(Loaded& out, const fs::path& p) {
  std::error_code ec;
  auto st = fs::status(p, ec);
  if (ec || !fs::exists(st)) throw SystemError(p.string() + ": no such file or directory");
  if (fs::is_regular_file(st) && is_retention_list(p)) return out.retention_lists.push_back(p);
  if (fs::is_regular_file(st)) return load_tar(out, p);
  if (!fs::is_directory(st)) throw SystemError(p.string() + ": not a file or directory");
  if (is_packet_dir(p)) return load_dir(out, p);
  // A station's chain: packet dirs and tars, in name order (= seq order for our names).
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(p)) entries.push_back(e.path());
  std::sort(entries.begin(), entries.end());
  for (const auto& e : entries) {
    auto name = e.filename().string();
    if (name.starts_with(".")) continue;  // e.g. a temp dir left by an interrupted write
    if (fs::is_directory(e))
      load_dir(out, e);
    else if (name.ends_with(".tar"))
      load_tar(out, e);
    else if (is_retention_list(e))
      out.retention_lists.push_back(e);
  }
}

std::string seq_text(std::uint64_t seq) {
  return seq ? std::to_string(seq) : "?";
}

/// wim-verify --audit FILE --key collector.pub.pem: the review audit log (JSON lines, as
/// `wim-collector export-audit` writes it). Names the first entry found wrong.
int verify_audit(const std::string& file, const std::string& key_file, audit::Span span,
                 bool as_json) {
  audit::Result r;
  try {
    const auto key = crypto::VerifyKey::load_pem_file(key_file);
    r = audit::verify_jsonl(read_whole(file), key, span);
  } catch (const std::exception& e) {
    std::cerr << "wim-verify: " << e.what() << "\n";
    return kUsage;
  }
  if (as_json) {
    boost::json::object o{{"ok", r.ok},
                          {"entries", r.entries},
                          {"first_seq", r.first_seq},
                          {"last_seq", r.last_seq},
                          {"last_entry_sha256", r.last_sha256}};
    if (!r.ok)
      o["bad"] =
          boost::json::object{{"entry", r.entries + 1}, {"seq", r.bad_seq}, {"problem", r.problem}};
    std::cout << boost::json::serialize(o) << "\n";
  } else if (r.ok) {
    std::cout << "OK: audit log, " << r.entries << " entries, seq " << r.first_seq << ".."
              << r.last_seq << ", last entry_sha256 " << r.last_sha256 << "\n";
  } else {
    std::cout << file << ": entry " << r.entries + 1 << " (line of JSON " << r.entries + 1
              << ", seq " << (r.bad_seq < 0 ? std::string("?") : std::to_string(r.bad_seq))
              << "): " << r.problem << "\n";
  }
  return r.ok ? kOk : kProblems;
}

/// wim-verify --case CASE.tar [--key STATION.pub.pem] [--audit-key COLLECTOR.pub.pem]: a
/// case archive of `wim-collector export-case`. One line per problem, naming the member.
int verify_case(const std::string& file, const std::string& station_key_file,
                const std::string& collector_key_file, bool as_json) {
  case_archive::Report r;
  try {
    std::optional<crypto::VerifyKey> sk, ck;
    if (!station_key_file.empty()) sk = crypto::VerifyKey::load_pem_file(station_key_file);
    if (!collector_key_file.empty()) ck = crypto::VerifyKey::load_pem_file(collector_key_file);
    r = case_archive::verify(read_whole(file), sk ? &*sk : nullptr, ck ? &*ck : nullptr);
  } catch (const std::exception& e) {
    std::cerr << "wim-verify: " << e.what() << "\n";
    return kUsage;
  }
  if (as_json) {
    boost::json::array problems;
    for (const auto& p : r.problems)
      problems.push_back(boost::json::object{{"member", p.member}, {"problem", p.problem}});
    std::cout << boost::json::serialize(
                     boost::json::object{{"ok", r.ok()},
                                         {"case_id", r.case_id},
                                         {"files", r.files},
                                         {"packets", r.packets},
                                         {"attachments", r.attachments},
                                         {"removed_images", r.removed_images},
                                         {"audit_entries", r.audit_entries},
                                         {"chain_first_seq", r.chain_first_seq},
                                         {"chain_last_seq", r.chain_last_seq},
                                         {"keys_from_archive", r.keys_from_archive},
                                         {"problems", std::move(problems)}})
              << "\n";
  } else if (r.ok()) {
    std::cout << "OK: case " << r.case_id << ": " << r.files << " files match SHA256SUMS (signed), "
              << r.packets << " packet(s) with " << r.attachments << " attachment(s) signed, "
              << r.audit_entries << " review action(s) signed";
    if (r.removed_images)
      std::cout << ", " << r.removed_images
                << " image(s) removed by retention (named with their SHA-256 in a signed "
                   "retention_purge entry)";
    if (r.chain_first_seq)
      std::cout << ", audit chain linked seq " << r.chain_first_seq << ".." << r.chain_last_seq;
    std::cout << (r.keys_from_archive ? " (keys: the archive's own; give --key/--audit-key to "
                                        "check against keys you trust)"
                                      : "")
              << "\n";
  } else {
    for (const auto& p : r.problems)
      std::cout << file << ": " << r.case_id << "/" << p.member << ": " << p.problem << "\n";
  }
  return r.ok() ? kOk : kProblems;
}

struct Accepted {
  std::size_t attachments = 0, entries = 0;
  bool own_key = false;  // the list was checked with the collector.pub.pem beside it
};

/// The retention lists found among the PATHs: each is checked with --audit-key (or the
/// collector.pub.pem in its folder); the attachment_missing findings their verified
/// entries explain are dropped. A list that does not verify is a finding of its own, and
/// then explains nothing.
Accepted accept_retention_lists(const std::vector<fs::path>& lists, const po::variables_map& vm,
                                const std::vector<packet::Packet>& packets,
                                const std::string& station, std::vector<chain::Finding>& findings) {
  Accepted out;
  retention_list::Removed removed;
  for (const auto& list : lists) {
    const auto problem = [&](const std::string& what) {
      findings.push_back({station, 0, chain::Problem::malformed, list.string() + ": " + what});
    };
    fs::path key_file;
    if (vm.count("audit-key")) {
      key_file = vm["audit-key"].as<std::string>();
    } else if (fs::exists(list.parent_path() / "collector.pub.pem")) {
      key_file = list.parent_path() / "collector.pub.pem";
      out.own_key = true;
    } else {
      problem("no collector key to check it (give --audit-key COLLECTOR.pub.pem)");
      continue;
    }
    try {
      const auto l =
          retention_list::read(read_whole(list), crypto::VerifyKey::load_pem_file(key_file));
      if (!l.ok()) {
        problem(l.problem + " (with key " + key_file.string() + ")");
        continue;
      }
      out.entries += l.entries;
      for (const auto& [m, hashes] : l.removed) removed[m].insert(hashes.begin(), hashes.end());
    } catch (const std::exception& e) {
      problem(e.what());
    }
  }
  out.attachments = retention_list::accept_removed(findings, packets, removed);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description opts(
      "Usage: wim-verify (--key STATION.pub.pem | --keys DIR) [--json] [--from-one]\n"
      "         [--audit-key COLLECTOR.pub.pem] PATH...\n"
      "       wim-verify --audit audit.jsonl --key COLLECTOR.pub.pem [--from-one|--excerpt]\n"
      "       wim-verify --case CASE.tar [--key STATION.pub.pem] [--audit-key COLLECTOR.pub.pem]\n"
      "PATH: a packet directory, a .tar of packets, or a directory holding a station's\n"
      "chain (packet directories and/or .tar files). An attachment left out because the\n"
      "collector's retention removed it is accepted only when a <station>-retention.jsonl\n"
      "among the PATHs (or in the folder) holds a retention_purge entry, signed by the\n"
      "collector key (--audit-key, else the folder's collector.pub.pem), naming its SHA-256\n"
      "for that record. Exit 0: all is well; 1: problems found (one line each, with the\n"
      "seq); 2: usage or I/O error.\nOptions");
  opts.add_options()("help,h", "show this help")("key", po::value<std::string>(),
                                                 "the station's Ed25519 public key (SPKI PEM)")(
      "keys", po::value<std::string>(), "directory of <station>.pub.pem files")(
      "json", "print one JSON object instead of text")(
      "from-one", "the chain must start at seq 1 (report a gap before the first seq)")(
      "audit", po::value<std::string>(),
      "check a review audit log (JSON lines) with --key = the collector's audit key")(
      "excerpt", "with --audit: some entries of the log (a case's trail), links not checked")(
      "case", po::value<std::string>(), "check a case archive of wim-collector export-case")(
      "audit-key", po::value<std::string>(),
      "with --case, or a chain with a retention list: the collector's audit key to trust");
  po::options_description hidden;
  hidden.add_options()("path", po::value<std::vector<std::string>>(), "");
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("path", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "wim-verify: " << e.what() << "\n" << opts;
    return kUsage;
  }
  if (vm.count("help")) {
    std::cout << opts;
    return kOk;
  }
  if (vm.count("case")) {
    if (vm.count("keys") || vm.count("path") || vm.count("audit")) {
      std::cerr << "wim-verify: --case FILE takes only --key, --audit-key and --json\n" << opts;
      return kUsage;
    }
    const auto opt = [&](const char* k) {
      return vm.count(k) ? vm[k].as<std::string>() : std::string();
    };
    return verify_case(vm["case"].as<std::string>(), opt("key"), opt("audit-key"),
                       vm.count("json") > 0);
  }
  if (vm.count("audit")) {
    if (!vm.count("key") || vm.count("keys") || vm.count("path")) {
      std::cerr << "wim-verify: --audit FILE takes --key COLLECTOR.pub.pem and no PATH\n" << opts;
      return kUsage;
    }
    const auto span = vm.count("excerpt")    ? audit::Span::excerpt
                      : vm.count("from-one") ? audit::Span::from_one
                                             : audit::Span::tail;
    return verify_audit(vm["audit"].as<std::string>(), vm["key"].as<std::string>(), span,
                        vm.count("json") > 0);
  }
  if (!vm.count("path") || (vm.count("key") + vm.count("keys")) != 1) {
    std::cerr << "wim-verify: give one or more PATHs and exactly one of --key or --keys\n" << opts;
    return kUsage;
  }
  const bool as_json = vm.count("json") > 0;

  chain::KeyRegistry keys;
  Loaded loaded;
  try {
    if (vm.count("key"))
      keys.set_default(crypto::VerifyKey::load_pem_file(vm["key"].as<std::string>()));
    else
      keys = chain::KeyRegistry::load_dir(vm["keys"].as<std::string>());
    for (const auto& p : vm["path"].as<std::vector<std::string>>()) load_path(loaded, p);
  } catch (const std::exception& e) {
    std::cerr << "wim-verify: " << e.what() << "\n";
    return kUsage;
  }
  if (loaded.packets.empty() && loaded.unreadable.empty()) {
    std::cerr << "wim-verify: no packets found\n";
    return kUsage;
  }

  chain::ChainSummary sum;
  auto findings = chain::verify_chain(loaded.packets, keys, vm.count("from-one") > 0, &sum);
  findings.insert(findings.end(), loaded.unreadable.begin(), loaded.unreadable.end());
  const auto removed =
      accept_retention_lists(loaded.retention_lists, vm, loaded.packets, sum.station_id, findings);
  std::stable_sort(findings.begin(), findings.end(),
                   [](const auto& a, const auto& b) { return a.seq < b.seq; });

  if (as_json) {
    boost::json::array fa;
    for (const auto& f : findings)
      fa.push_back(boost::json::object{{"station_id", f.station_id},
                                       {"seq", f.seq},
                                       {"problem", chain::to_string(f.problem)},
                                       {"detail", f.detail}});
    boost::json::object o{{"ok", findings.empty()},   {"station_id", sum.station_id},
                          {"records", sum.records},   {"first_seq", sum.first_seq},
                          {"last_seq", sum.last_seq}, {"removed_by_retention", removed.attachments},
                          {"findings", std::move(fa)}};
    std::cout << boost::json::serialize(o) << "\n";
  } else if (findings.empty()) {
    std::cout << "OK: " << sum.records << " records, seq " << sum.first_seq << ".." << sum.last_seq
              << " (station " << sum.station_id << ")";
    if (removed.attachments)
      std::cout << ", " << removed.attachments
                << " attachment(s) removed by retention (named with their SHA-256 in "
                << removed.entries << " signed retention_purge entr"
                << (removed.entries == 1 ? "y" : "ies")
                << (removed.own_key ? "; collector key: the folder's own collector.pub.pem, give "
                                      "--audit-key to check against a key you trust)"
                                    : ")");
    std::cout << "\n";
  } else {
    for (const auto& f : findings)
      std::cout << (f.station_id.empty() ? "?" : f.station_id) << " seq " << seq_text(f.seq) << ": "
                << chain::to_string(f.problem) << ": " << f.detail << "\n";
  }
  return findings.empty() ? kOk : kProblems;
}
