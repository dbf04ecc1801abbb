// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/anpr_model_dir.hpp"

#include <filesystem>
#include <system_error>

// The build tree's model (edge/CMakeLists.txt: the trained or the reused WIM_ANPR_MODEL).
#ifndef WIM_ANPR_DEFAULT_MODEL_DIR
#define WIM_ANPR_DEFAULT_MODEL_DIR "/usr/share/wim/anpr"
#endif

namespace wim::edge {

std::string default_anpr_model_dir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto has_model = [&](const fs::path& dir) {
    return fs::exists(dir / "anpr_province.yml.gz", ec) &&
           fs::exists(dir / "anpr_alnum.yml.gz", ec);
  };
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share" / "wim" / "anpr";
    if (has_model(installed)) return installed.string();
  }
  if (has_model(WIM_ANPR_DEFAULT_MODEL_DIR)) return WIM_ANPR_DEFAULT_MODEL_DIR;
  return "/usr/share/wim/anpr";
}

}  // namespace wim::edge
