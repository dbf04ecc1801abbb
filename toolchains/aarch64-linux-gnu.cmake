# SPDX-License-Identifier: Apache-2.0
# Cross toolchain for the reference station box (64-bit ARM, e.g. Cortex-A53), Debian 12.
#   sudo toolchains/cross-test.sh aarch64        # installs, builds, tests under qemu
#   cmake -S . -B build-aarch64 -G Ninja -DWIM_EDGE_ONLY=ON \
#         -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake
set(WIM_TARGET_TRIPLE aarch64-linux-gnu)
set(WIM_TARGET_PROCESSOR aarch64)
set(WIM_TARGET_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
