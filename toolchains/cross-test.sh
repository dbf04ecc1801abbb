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
#   WIM_CROSS_CAMERA=1     with OpenCV (camera driver, plate reader) from a target root;
#                          default 0 (-DWIM_WITH_CAMERA=OFF) until the glare case of
#                          wim_anpr_tests passes on aarch64 (docs/notes/issue-17.md)
#   WIM_CROSS_SYSROOT_CACHE=…  tarball of the target root (default
#                          /var/tmp/wim-bookworm-<debarch>-sysroot.tar; unpacked beside it)
#   WIM_ANPR_MODEL=…       the plate reader's classifiers trained by the host build
#                          (default build/edge/anpr_model): reused, never trained under qemu
#
# Exit status: 0 passed; 75 the target's packages could not be installed or fetched (apt
# sources, mirror); anything else: a build or test failure.
#
# Installing <pkg>:<arch> next to the amd64 packages can make apt REMOVE amd64 packages
# that are not Multi-Arch: same. The script simulates every install first and refuses
# one that would remove anything. Not cross-installed on purpose (see docs/cross-build.md):
#   libopencv-dev:arm64  would remove 32 amd64 packages -> OpenCV (camera driver, plate
#                        reader) comes from an extracted arm64 Debian root instead
#                        (mmdebstrap --variant=extract, no maintainer scripts, cached
#                        as a tarball), -DWIM_TARGET_SYSROOT=<root>; tests run under
#                        qemu -L <root>
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

# The target root for OpenCV: libopencv-dev:<arch> and everything it depends on, unpacked
# (no maintainer scripts: nothing in it runs, it only provides headers, libraries and the
# loader). mmdebstrap resolves the dependencies from the machine's Debian mirror (bookworm,
# plus -updates and -security); the tarball is made once and kept in /var/tmp.
root_packages=libopencv-dev
make_root() {
  local cache="${WIM_CROSS_SYSROOT_CACHE:-/var/tmp/wim-bookworm-$deb_arch-sysroot.tar}"
  root="${cache%.tar}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if [ ! -f "$cache" ] || [ "$(cat "$cache.packages" 2>/dev/null)" != "$root_packages" ]; then
    command -v mmdebstrap >/dev/null || {
      echo "cross-test: mmdebstrap missing (scripts/install-deps.sh)" >&2
      exit 2
    }
    echo "=== $deb_arch root for OpenCV (mmdebstrap, once: $cache)"
    $SUDO rm -f "$cache" "$cache.packages"
    $SUDO mmdebstrap --quiet --variant=extract --arch="$deb_arch" \
      --include="$root_packages" bookworm "$cache" || {
      $SUDO rm -f "$cache"
      echo "cross-test: mmdebstrap could not fetch $root_packages for $deb_arch" \
        "(package sources unreachable?)" >&2
      exit 75
    }
    echo "$root_packages" | $SUDO tee "$cache.packages" >/dev/null
  fi
  if [ ! -f "$root/.wim-root" ] || [ "$cache" -nt "$root/.wim-root" ]; then
    echo "=== unpack $cache -> $root"
    $SUDO rm -rf "$root"
    $SUDO mkdir -p "$root"
    $SUDO tar -C "$root" -xf "$cache"
    # qemu -L looks for every absolute path in the root first: keep only what the target's
    # programs load (no /bin/sh, /tmp, /etc, /dev, /var that would shadow the machine's).
    $SUDO rm -rf "$root"/{bin,sbin,dev,etc,tmp,var,usr/bin,usr/sbin,usr/share/doc,usr/share/man}
    # The links update-alternatives would make in libblas3's and liblapack3's postinst.
    local l
    for l in blas/libblas.so.3 lapack/liblapack.so.3; do
      [ -e "$root/usr/lib/$triple/$l" ] && $SUDO ln -sf "$l" "$root/usr/lib/$triple/${l#*/}"
    done
    $SUDO touch "$root/.wim-root"
  fi
}

[ "${WIM_CROSS_INSTALL:-1}" = 0 ] || install_packages

camera=(-DWIM_WITH_CAMERA=OFF -DWIM_TARGET_SYSROOT=)
if [ "${WIM_CROSS_CAMERA:-0}" != 0 ]; then
  # The classifiers are trained by the host build (minutes natively, far longer under qemu).
  model="${WIM_ANPR_MODEL:-$PWD/build/edge/anpr_model}"
  if [ ! -f "$model/anpr_province.yml.gz" ] || [ ! -f "$model/anpr_alnum.yml.gz" ]; then
    echo "cross-test: no plate reader model in $model (anpr_province.yml.gz, anpr_alnum.yml.gz):" \
      "build it natively first (cmake --build build --target wim_anpr_model), set" \
      "WIM_ANPR_MODEL, or WIM_CROSS_CAMERA=0 to leave OpenCV out" >&2
    exit 2
  fi
  make_root
  camera=(-DWIM_WITH_CAMERA=ON -DWIM_TARGET_SYSROOT="$root" -DWIM_ANPR_MODEL="$model")
fi

echo "=== configure $build_dir ($toolchain ${camera[*]})"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWIM_EDGE_ONLY=ON -DWIM_BENCH=OFF \
  "${camera[@]}" >/dev/null
echo "=== build $build_dir (${SECONDS} s so far)"
cmake --build "$build_dir" -j "$jobs"
echo "=== test $build_dir under $qemu (${SECONDS} s so far)"
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"
echo "=== cross-test $arch passed (${SECONDS} s)"
