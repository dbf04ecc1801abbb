// SPDX-License-Identifier: Apache-2.0
// Where the plate reader's model (anpr_province.yml.gz, anpr_alnum.yml.gz) is when none is
// configured: `wim-edge read-plate` without --model and station.json "camera" without
// "model_dir".
#pragma once
#include <string>

namespace wim::edge {

/// 1. <prefix>/share/wim/anpr beside the running program's <prefix>/bin (the .deb installs
///    the model at /usr/share/wim/anpr and the program at /usr/bin);
/// 2. the model of the build tree the program was built in (a build or test run);
/// 3. /usr/share/wim/anpr (then the reader names the missing file).
std::string default_anpr_model_dir();

/// Where the plate reader's real-text recognizer (anpr_ocr.onnx, anpr_ocr_keys.txt) is when
/// station.json "camera" has no "ocr_dir": <prefix>/share/wim/anpr_ocr beside the running
/// program's <prefix>/bin (the .deb: /usr/share/wim/anpr_ocr), else /usr/share/wim/anpr_ocr;
/// "" (no OCR: the character classifiers only) when neither holds it. Not the build tree's
/// edge/anpr_ocr: a build or test run names it (camera.ocr_dir, read-plate --ocr).
std::string default_anpr_ocr_dir();

/// [-] `dir` holds anpr_ocr.onnx and anpr_ocr_keys.txt (regular files).
bool has_anpr_ocr(const std::string& dir);

}  // namespace wim::edge
