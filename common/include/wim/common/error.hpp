// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <stdexcept>
#include <string>

namespace wim {

/// Bad input from outside (a file, a frame, a request): the message names what was
/// wrong and where (file, line, field), so a technician or operator can fix it.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A failure of the system underneath (OpenSSL, SQLite, the file system).
class SystemError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace wim
