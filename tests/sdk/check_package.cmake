# Installs the build into a temporary prefix and checks what an app developer gets:
#  - find_package(souk) + souk::souk builds and runs a program against the installed lib;
#  - pkg-config libsouk gives working flags;
#  - the library exports only the public API (souk_*, never souk__* or souk_wire_*),
#    has its SONAME, and needs no SQLite other than SQLCipher.
# Variables: BUILD_DIR, WORK_DIR, CC, SAN_FLAGS (the build's sanitizer flags, if any).
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}\n${err}")
  endif()
  set(last_out "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --component sdk)
file(GLOB_RECURSE libs ${prefix}/*/libsouk.so.0)
list(LENGTH libs n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one installed libsouk.so.0, found: ${libs}")
endif()
get_filename_component(libdir ${libs} DIRECTORY)

# exports
run(nm -D --defined-only ${libs})
string(REGEX MATCHALL "[^\n]+" lines "${last_out}")
set(count 0)
foreach(line ${lines})
  string(REGEX REPLACE "^.* " "" sym "${line}")
  string(REGEX REPLACE "@.*$" "" sym "${sym}")
  if(sym STREQUAL "SOUK_0")
    continue()
  endif()
  if(NOT sym MATCHES "^souk_[a-z]" OR sym MATCHES "^souk__" OR sym MATCHES "^souk_wire")
    message(FATAL_ERROR "libsouk exports a non-API symbol: ${sym}")
  endif()
  math(EXPR count "${count} + 1")
endforeach()
if(count LESS 60)
  message(FATAL_ERROR "libsouk exports only ${count} symbols")
endif()
run(objdump -p ${libs})
if(NOT last_out MATCHES "SONAME +libsouk\\.so\\.0")
  message(FATAL_ERROR "libsouk has no SONAME libsouk.so.0")
endif()
if(last_out MATCHES "NEEDED +libsqlite3")
  message(FATAL_ERROR "libsouk links plain SQLite")
endif()
if(NOT last_out MATCHES "NEEDED +libsqlcipher")
  message(FATAL_ERROR "libsouk does not link SQLCipher")
endif()

# a consumer with find_package
file(WRITE ${WORK_DIR}/consumer/main.c [=[
#include <souk/souk.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	souk_client_options o;
	if (souk_client_options_init(&o, SOUK_CLIENT_OPTIONS_VERSION) != SOUK_OK)
		return 1;
	if (strcmp(souk_version(), SOUK_VERSION_STRING) != 0)
		return 2;
	souk_client *c = NULL;
	if (souk_client_create(&c, &o) != SOUK_EINVAL || c)
		return 3;
	printf("libsouk %s ok\n", souk_version());
	return 0;
}
]=])
file(WRITE ${WORK_DIR}/consumer/CMakeLists.txt [=[
cmake_minimum_required(VERSION 3.20)
project(consumer C)
find_package(souk 0.1 REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE souk::souk)
]=])
run(${CMAKE_COMMAND} -S ${WORK_DIR}/consumer -B ${WORK_DIR}/consumer/build
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_C_COMPILER=${CC} "-DCMAKE_C_FLAGS=${SAN_FLAGS}"
    "-DCMAKE_EXE_LINKER_FLAGS=${SAN_FLAGS}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer/build)
run(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir} ${WORK_DIR}/consumer/build/consumer)
if(NOT last_out MATCHES "ok")
  message(FATAL_ERROR "the find_package consumer did not run")
endif()

# the same with pkg-config
run(${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${libdir}/pkgconfig pkg-config --cflags --libs libsouk)
string(STRIP "${last_out}" pcflags)
separate_arguments(pcflags UNIX_COMMAND "${pcflags}")
separate_arguments(san UNIX_COMMAND "${SAN_FLAGS}")
run(${CC} ${san} -std=c11 ${WORK_DIR}/consumer/main.c ${pcflags} -o ${WORK_DIR}/pc-consumer)
run(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir} ${WORK_DIR}/pc-consumer)
message(STATUS "installed libsouk: ${count} exported symbols; find_package and pkg-config work")
file(REMOVE_RECURSE ${WORK_DIR})
