# SPDX-License-Identifier: Apache-2.0
# Shared body of the Debian multiarch cross toolchain files. The including file sets
#   WIM_TARGET_TRIPLE     GNU triple, e.g. aarch64-linux-gnu (Debian's multiarch name too)
#   WIM_TARGET_PROCESSOR  CMAKE_SYSTEM_PROCESSOR, e.g. aarch64
#   WIM_TARGET_QEMU       qemu-user program that runs target binaries, e.g. qemu-aarch64
# Compilers come from crossbuild-essential-<arch>; libraries from the <pkg>:<arch>
# multiarch -dev packages under /usr/lib/<triple> and /usr/include/<triple>. No sysroot:
# Debian's cross gcc already searches those directories.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${WIM_TARGET_PROCESSOR})
set(CMAKE_LIBRARY_ARCHITECTURE ${WIM_TARGET_TRIPLE})

set(CMAKE_C_COMPILER ${WIM_TARGET_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${WIM_TARGET_TRIPLE}-g++)
set(CMAKE_AR ${WIM_TARGET_TRIPLE}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${WIM_TARGET_TRIPLE}-ranlib CACHE FILEPATH "")
set(CMAKE_STRIP ${WIM_TARGET_TRIPLE}-strip CACHE FILEPATH "")

# Only the target's multiarch directories (and arch-independent ones such as
# /usr/include, /usr/share, /usr/lib/cmake) are searched: CMake's find_* look in
# <prefix>/lib/<CMAKE_LIBRARY_ARCHITECTURE> and never in the build machine's
# /usr/lib/x86_64-linux-gnu. Programs (moc, protoc...) come from the build machine.
set(CMAKE_FIND_ROOT_PATH /usr/${WIM_TARGET_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config: the target's .pc files only (and arch-independent ones).
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${WIM_TARGET_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# Run target binaries (tests, catch_discover_tests' listing, try_run) under qemu-user.
# libc6:<arch> puts the target's dynamic loader where its binaries expect it
# (/lib/ld-linux-*.so.*), so qemu needs no -L prefix.
find_program(WIM_QEMU_USER ${WIM_TARGET_QEMU})
if(WIM_QEMU_USER)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${WIM_QEMU_USER})
endif()
