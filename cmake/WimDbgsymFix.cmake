# SPDX-License-Identifier: Apache-2.0
# CPACK_POST_BUILD_SCRIPTS step (cmake/WimPackaging.cmake): makes CPack's -dbgsym .ddeb
# what dpkg and lintian expect. CMake 3.25's DEB generator writes the ddeb's md5sums with
# the build machine's absolute paths and the .debug files 0755; Debian's dbgsym packages
# list relative paths, ship .debug files 0644 and point usr/share/doc/<pkg>-dbgsym at the
# main package's doc folder (copyright, changelog; allowed: it depends on that version).
foreach(_ddeb IN LISTS CPACK_PACKAGE_FILES)
  if(NOT _ddeb MATCHES "-dbgsym_.*\\.ddeb$")
    continue()
  endif()
  set(_root ${_ddeb}.root)
  file(REMOVE_RECURSE ${_root})
  execute_process(COMMAND dpkg-deb -R ${_ddeb} ${_root} RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "WimDbgsymFix: dpkg-deb -R ${_ddeb} failed")
  endif()
  file(GLOB_RECURSE _debug RELATIVE ${_root} ${_root}/usr/*)
  list(SORT _debug)
  set(_md5 "")
  foreach(_f IN LISTS _debug)
    file(CHMOD ${_root}/${_f} PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    file(MD5 ${_root}/${_f} _sum)
    string(APPEND _md5 "${_sum}  ${_f}\n")
  endforeach()
  file(WRITE ${_root}/DEBIAN/md5sums "${_md5}")
  file(MAKE_DIRECTORY ${_root}/usr/share/doc)
  file(CREATE_LINK ${CPACK_PACKAGE_NAME} ${_root}/usr/share/doc/${CPACK_PACKAGE_NAME}-dbgsym SYMBOLIC)
  execute_process(COMMAND dpkg-deb --root-owner-group -b ${_root} ${_ddeb}
    OUTPUT_QUIET RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "WimDbgsymFix: dpkg-deb -b ${_root} failed")
  endif()
  file(REMOVE_RECURSE ${_root})
endforeach()
