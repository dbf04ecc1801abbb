# SPDX-License-Identifier: Apache-2.0
# Cross toolchain for 32-bit ARM boxes (ARMv7-A hard-float, Debian's armhf), Debian 12.
# See docs/cross-build.md for which -dev packages co-install on the build machine.
set(WIM_TARGET_TRIPLE arm-linux-gnueabihf)
set(WIM_TARGET_PROCESSOR armv7l)
set(WIM_TARGET_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
