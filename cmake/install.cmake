# `cmake --install` (and `make install PREFIX=...`): the shared and static
# library, the header, the command, its man page, nlsq.pc and a CMake
# package, so that a user's build finds nlsq either way:
#   pkg-config --cflags --libs nlsq
#   find_package(nlsq CONFIG REQUIRED)  ->  target nlsq::nlsq (nlsq::nlsq_static)
include(CMakePackageConfigHelpers)

set(NLSQ_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/nlsq)

install(TARGETS nlsq nlsq_static EXPORT nlsqTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS nlsq_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# nlsq-mpi, the command as the ranks of an MPI job, where MPI was found
# (it alone links MPI: nlsq and libnlsq do not)
if(NLSQ_HAVE_MPI)
  install(TARGETS nlsq_mpi_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(FILES ${CMAKE_BINARY_DIR}/nlsq.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES include/nlsq.h ${CMAKE_CURRENT_BINARY_DIR}/include/nlsq_version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# libnlsq_mpi and its header, when an MPI was found. Outside the CMake
# package (whose users would then all need MPI found): link it with the
# MPI compiler wrapper, `mpicc prog.c -lnlsq_mpi -lnlsq`.
if(NLSQ_HAVE_MPI)
  install(TARGETS nlsq_mpi nlsq_mpi_static
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES include/nlsq_mpi.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()

install(EXPORT nlsqTargets NAMESPACE nlsq:: DESTINATION ${NLSQ_CMAKE_DIR})
configure_package_config_file(cmake/nlsqConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/nlsqConfig.cmake
                              INSTALL_DESTINATION ${NLSQ_CMAKE_DIR})
# 0.x: a minor release may change the ABI, so only the same minor matches.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/nlsqConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/nlsqConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/nlsqConfigVersion.cmake
        DESTINATION ${NLSQ_CMAKE_DIR})

# nlsq.pc: the static library's own needs go to Libs.private.
set(NLSQ_PC_PRIVATE_LIBS "")
foreach(lib ${NLSQ_LINK_LIBS})
  if(lib STREQUAL "Threads::Threads")
    string(APPEND NLSQ_PC_PRIVATE_LIBS " -pthread")
  else()
    string(APPEND NLSQ_PC_PRIVATE_LIBS " -l${lib}")
  endif()
endforeach()
# Relocatable: the prefix is found from the .pc file's own place, so a
# `cmake --install --prefix DIR` chosen after configuring is still right.
file(RELATIVE_PATH NLSQ_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" NLSQ_PC_TO_PREFIX "${NLSQ_PC_TO_PREFIX}")
configure_file(cmake/nlsq.pc.in ${CMAKE_CURRENT_BINARY_DIR}/nlsq.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/nlsq.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
