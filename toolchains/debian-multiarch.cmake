# SPDX-License-Identifier: Apache-2.0
# Shared body of the Debian multiarch cross toolchain files. The including file sets
#   WIM_TARGET_TRIPLE     GNU triple, e.g. aarch64-linux-gnu (Debian's multiarch name too)
#   WIM_TARGET_PROCESSOR  CMAKE_SYSTEM_PROCESSOR, e.g. aarch64
#   WIM_TARGET_QEMU       qemu-user program that runs target binaries, e.g. qemu-aarch64
# Compilers come from crossbuild-essential-<arch>; libraries from the <pkg>:<arch>
# multiarch -dev packages under /usr/lib/<triple> and /usr/include/<triple>. No sysroot:
# Debian's cross gcc already searches those directories.
# Optional WIM_TARGET_SYSROOT (cache): an extracted Debian root of the target architecture
# (toolchains/cross-test.sh makes one with mmdebstrap) for what does not co-install as
# <pkg>:<arch>: OpenCV (its -dev packages are not Multi-Arch: same). It is used for OpenCV
# only (OpenCV_DIR), for the linker's -rpath-link, and as qemu's -L prefix (its loader,
# libc and libraries run the tests); every other library still comes from the multiarch
# packages.
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

set(WIM_TARGET_SYSROOT "" CACHE PATH "Extracted Debian root of the target (OpenCV; qemu -L)")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES WIM_TARGET_SYSROOT)
if(WIM_TARGET_SYSROOT)
  set(_wim_root_lib ${WIM_TARGET_SYSROOT}/usr/lib/${WIM_TARGET_TRIPLE})
  if(NOT EXISTS ${_wim_root_lib}/cmake/opencv4/OpenCVConfig.cmake)
    message(FATAL_ERROR "WIM_TARGET_SYSROOT=${WIM_TARGET_SYSROOT}: no "
      "usr/lib/${WIM_TARGET_TRIPLE}/cmake/opencv4/OpenCVConfig.cmake in it (libopencv-dev)")
  endif()
  set(OpenCV_DIR ${_wim_root_lib}/cmake/opencv4 CACHE PATH "OpenCV of the target root" FORCE)
  # OpenCV's own dependencies (libtbb, libgdal...) live only in the root: the linker must
  # find them to check the OpenCV libraries' symbols. Some (libgdal's) sit in /usr/lib.
  set(_wim_rpath_link
    "-Wl,-rpath-link,${_wim_root_lib}:${WIM_TARGET_SYSROOT}/lib/${WIM_TARGET_TRIPLE}:${WIM_TARGET_SYSROOT}/usr/lib")
  string(APPEND CMAKE_EXE_LINKER_FLAGS_INIT " ${_wim_rpath_link}")
  string(APPEND CMAKE_SHARED_LINKER_FLAGS_INIT " ${_wim_rpath_link}")
endif()

# Run target binaries (tests, catch_discover_tests' listing, try_run) under qemu-user.
# libc6:<arch> puts the target's dynamic loader where its binaries expect it
# (/lib/ld-linux-*.so.*), so qemu needs no -L prefix, unless there is a target root:
# then qemu -L <root> opens every absolute path in the root first (loader, libc, OpenCV
# and its libraries) and falls back to the build machine's path when the root has no such
# file (the multiarch libraries, the tests' files; the root holds no /bin/sh, so popen
# runs the build machine's shell).
find_program(WIM_QEMU_USER ${WIM_TARGET_QEMU})
if(WIM_QEMU_USER AND WIM_TARGET_SYSROOT)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${WIM_QEMU_USER} -L ${WIM_TARGET_SYSROOT})
elseif(WIM_QEMU_USER)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${WIM_QEMU_USER})
endif()
