# CMake package file for workerpool, installed by `make -C c_examples install`
# into <libdir>/cmake/workerpool. Use:
#
#   find_package(workerpool 0.2 CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE workerpool::workerpool)         # shared
#   target_link_libraries(app PRIVATE workerpool::workerpool_static)  # static
#
# Both targets carry the include directory; the static one also carries the
# system libraries the Rust standard library inside the archive needs.
include(CMakeFindDependencyMacro)
find_dependency(Threads)
include("${CMAKE_CURRENT_LIST_DIR}/workerpoolTargets.cmake")
