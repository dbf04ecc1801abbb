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
