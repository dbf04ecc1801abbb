// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/anpr_model_dir.hpp"

#include <filesystem>
#include <fstream>
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

std::string default_anpr_ocr_dir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const fs::path installed = ec ? fs::path("/usr/share/wim/anpr_ocr")
                                : exe.parent_path().parent_path() / "share" / "wim" / "anpr_ocr";
  if (has_anpr_ocr(installed.string())) return installed.string();
  if (has_anpr_ocr("/usr/share/wim/anpr_ocr")) return "/usr/share/wim/anpr_ocr";
  return {};
}

bool has_anpr_ocr(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const char* name : {"anpr_ocr.onnx", "anpr_ocr_keys.txt"}) {
    const fs::path f = fs::path(dir) / name;
    if (!fs::is_regular_file(f, ec) || !std::ifstream(f)) return false;
  }
  return true;
}

}  // namespace wim::edge
