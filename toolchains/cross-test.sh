#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cross-builds the station targets (common, hw, edge and their tests: -DWIM_EDGE_ONLY=ON)
# for ARM with Debian's cross compiler and multiarch -dev packages, then runs every
# ctest test under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR, set by the toolchain file).
#
#   toolchains/cross-test.sh [aarch64|armhf]     (default aarch64; run as root or via sudo)
#
# Environment:
#   WIM_JOBS=2             parallel build/test jobs (the machine's 2 cores are shared)
#   WIM_CROSS_INSTALL=0    skip the package step (packages already there, or no root)
#   WIM_CROSS_BUILD_DIR=…  build folder (default build-<arch>)
#
# Exit status: 0 passed; 75 the target's packages could not be installed (apt sources,
# mirror); anything else: a build or test failure.
#
# Installing <pkg>:<arch> next to the amd64 packages can make apt REMOVE amd64 packages
# that are not Multi-Arch: same. The script simulates every install first and refuses
# one that would remove anything. Not cross-installed on purpose (see docs/cross-build.md):
#   libopencv-dev:arm64  would remove 32 amd64 packages -> OpenCV parts are left out
#                        of the cross-build (-DWIM_WITH_CAMERA=OFF)
#   catch2:arm64         header-only and not Multi-Arch: same; the build machine's copy
#                        (/usr/include/catch2, /usr/lib/cmake/Catch2) serves the target
set -euo pipefail
cd "$(dirname "$0")/.."

arch="${1:-aarch64}"
case "$arch" in
  aarch64 | arm64)
    arch=aarch64 deb_arch=arm64 triple=aarch64-linux-gnu qemu=qemu-aarch64 ;;
  armhf | arm)
    arch=armhf deb_arch=armhf triple=arm-linux-gnueabihf qemu=qemu-arm ;;
  *)
    echo "cross-test: unknown target '$arch' (use aarch64 or armhf)" >&2
    exit 2 ;;
esac
jobs="${WIM_JOBS:-2}"
build_dir="${WIM_CROSS_BUILD_DIR:-build-$arch}"
toolchain="toolchains/$triple.cmake"

host_packages=("crossbuild-essential-$deb_arch" qemu-user cmake ninja-build pkg-config catch2)
target_packages=(libssl-dev libboost1.81-dev libboost-json1.81-dev
  libboost-program-options1.81-dev libsqlite3-dev libmodbus-dev libarchive-dev)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

apt_install() {  # apt_install <pkg>... : simulate, refuse removals, then install
  local sim
  sim="$($SUDO apt-get -o DPkg::Lock::Timeout=600 install -s --no-install-recommends "$@" 2>&1)" || {
    echo "$sim" | grep -E "^E:|unmet|Depends:" >&2
    echo "cross-test: apt cannot install: $*" >&2
    return 1
  }
  if grep -q '^Remv' <<<"$sim"; then
    echo "cross-test: refusing to install $*: apt would remove:" >&2
    grep '^Remv' <<<"$sim" >&2
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "$@"
}

install_packages() {
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  local missing=() p added=0
  for p in "${host_packages[@]}"; do installed "$p" || missing+=("$p"); done
  for p in "${target_packages[@]}"; do installed "$p:$deb_arch" || missing+=("$p:$deb_arch"); done
  if ((${#missing[@]} == 0)); then
    echo "cross-test: all packages present for $deb_arch"
    return 0
  fi
  if ! dpkg --print-foreign-architectures | grep -qx "$deb_arch"; then
    echo "cross-test: dpkg --add-architecture $deb_arch"
    $SUDO dpkg --add-architecture "$deb_arch"
    added=1
  fi
  echo "cross-test: installing ${missing[*]}"
  # A failed index download (e.g. a mirror mid-sync for this architecture) would make
  # every later `apt-get update` on this machine fail: take the architecture back out.
  # One retry after 30 s: a mirror caught mid-sync (index size mismatch) is often whole again.
  if ! { $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq && apt_install "${missing[@]}"; } &&
    ! { echo "cross-test: apt failed; retrying once in 30 s" >&2 && sleep 30 &&
      $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq && apt_install "${missing[@]}"; }; then
    if ((added)); then
      echo "cross-test: removing architecture $deb_arch again" >&2
      if $SUDO dpkg --remove-architecture "$deb_arch"; then $SUDO apt-get update -qq || true; fi
    fi
    echo "cross-test: the $deb_arch libraries cannot be installed here (see docs/cross-build.md)" >&2
    exit 75  # EX_TEMPFAIL: the machine's package sources, not our code (scripts/test.sh)
  fi
}

[ "${WIM_CROSS_INSTALL:-1}" = 0 ] || install_packages

echo "=== configure $build_dir ($toolchain)"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWIM_EDGE_ONLY=ON -DWIM_BENCH=OFF \
  -DWIM_WITH_CAMERA=OFF >/dev/null
echo "=== build $build_dir"
cmake --build "$build_dir" -j "$jobs"
echo "=== test $build_dir under $qemu"
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"
echo "=== cross-test $arch passed"
