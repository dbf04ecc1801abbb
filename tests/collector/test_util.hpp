// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the collector tests: temporary folders and a test PKI.
#pragma once
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace wim::collector::test {

inline std::filesystem::path temp_dir(const std::string& name) {
  static std::atomic<int> n{0};
  auto dir = std::filesystem::temp_directory_path() /
             ("wim-coll-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << text;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A PKI made once per test run by scripts/make-ca.sh (CA, collector, stations G001-G003).
inline std::filesystem::path test_pki() {
  static const std::filesystem::path dir = [] {
    auto d =
        std::filesystem::temp_directory_path() / ("wim-coll-pki-" + std::to_string(::getpid()));
    std::string cmd = std::string(WIM_SOURCE_DIR) + "/scripts/make-ca.sh " + d.string() +
                      " G001 G002 G003 >/dev/null";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("make-ca.sh failed");
    return d;
  }();
  return dir;
}

/// Waits (up to 10 s) for a condition that another thread makes true; returns it.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace wim::collector::test
