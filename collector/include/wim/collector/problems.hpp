// SPDX-License-Identifier: Apache-2.0
// Mistakes found in a config or registry file, collected so that `wim-collector
// check-config` reports all of them at once. Each names its file, where in the file (an
// RFC 6901 JSON pointer, "/stations/3/lanes"; "" for the whole document) and what was
// expected. The daemon throws them all as one InputError (ConfigProblems::throw_if_any).
#pragma once
#include <string>
#include <vector>

#include "wim/common/error.hpp"

namespace wim::collector {

struct ConfigProblem {
  std::string file;
  std::string pointer;  ///< JSON pointer; "" = the document
  std::string message;  ///< what is wrong and what is expected
  /// "<file>: <pointer>: <message>" ("<file>: <message>" for the document).
  std::string text() const {
    return file + ": " + (pointer.empty() ? "" : pointer + ": ") + message;
  }
};

class ConfigProblems {
 public:
  void add(std::string file, std::string pointer, std::string message) {
    list_.push_back({std::move(file), std::move(pointer), std::move(message)});
  }
  /// Runs `f`; an InputError it throws becomes a problem at `pointer`. The messages of the
  /// json:: helpers start with the dotted field ("monitor.tick_s: expected an integer"):
  /// that prefix is dropped, the pointer says where. Returns true when `f` did not throw.
  template <class F>
  bool check(const std::string& file, const std::string& pointer, F&& f) {
    try {
      f();
      return true;
    } catch (const InputError& e) {
      std::string m = e.what();
      const auto colon = m.find(": ");
      if (colon != std::string::npos && m.find(' ') >= colon) m = m.substr(colon + 2);
      add(file, pointer, m);
      return false;
    }
  }
  bool empty() const { return list_.empty(); }
  const std::vector<ConfigProblem>& list() const { return list_; }
  /// One problem a line.
  std::string text() const {
    std::string t;
    for (const auto& p : list_) t += (t.empty() ? "" : "\n") + p.text();
    return t;
  }
  /// Throws InputError(text()) when there is any problem.
  void throw_if_any() const {
    if (!list_.empty()) throw InputError(text());
  }

 private:
  std::vector<ConfigProblem> list_;
};

}  // namespace wim::collector
