# Installation and the package config, so that find_package(stkit) gives stkit::stkit.
include(CMakePackageConfigHelpers)
get_property(stkit_components GLOBAL PROPERTY STKIT_COMPONENTS)
install(TARGETS stkit ${stkit_components} EXPORT stkitTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/stkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT stkitTargets NAMESPACE stkit:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/stkit)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/stkitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/stkitConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/stkit)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/stkitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/stkitConfig.cmake ${PROJECT_BINARY_DIR}/stkitConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/stkit)
if(TARGET stkit_cli)
  install(TARGETS stkit_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
