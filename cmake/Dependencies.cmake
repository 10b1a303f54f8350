# Every dependency is found once, here. A missing one stops the configure step with the
# Debian package that provides it, so `scripts/setup` and this list never drift apart.
include(FindPkgConfig)

function(bb_require_package found debian_package what)
    if(NOT ${found})
        message(FATAL_ERROR "${what} not found: install the Debian package '${debian_package}' "
                            "(scripts/setup installs every missing one)")
    endif()
endfunction()

find_package(PkgConfig)
bb_require_package(PkgConfig_FOUND pkg-config "pkg-config")

# nats.c's CMake package refers to a static library Debian does not ship: use pkg-config.
pkg_check_modules(NATS IMPORTED_TARGET libnats)
bb_require_package(NATS_FOUND libnats-dev "nats.c (libnats)")

find_package(yaml-cpp CONFIG QUIET)
bb_require_package(yaml-cpp_FOUND libyaml-cpp-dev "yaml-cpp")

find_package(msgpack CONFIG QUIET NAMES msgpack msgpackc-cxx)
bb_require_package(msgpack_FOUND libmsgpack-cxx-dev "msgpack-cxx")

find_package(nlohmann_json CONFIG QUIET)
bb_require_package(nlohmann_json_FOUND nlohmann-json3-dev "nlohmann-json")

find_package(prometheus-cpp CONFIG QUIET)
bb_require_package(prometheus-cpp_FOUND prometheus-cpp-dev "prometheus-cpp")

find_package(civetweb CONFIG QUIET)
bb_require_package(civetweb_FOUND libcivetweb-dev "civetweb")

find_package(CLI11 CONFIG QUIET)
bb_require_package(CLI11_FOUND libcli11-dev "CLI11")

find_package(fmt CONFIG QUIET)
bb_require_package(fmt_FOUND libfmt-dev "fmt")

find_package(SQLite3 QUIET)
bb_require_package(SQLite3_FOUND libsqlite3-dev "SQLite 3")

find_package(OpenSSL QUIET)
bb_require_package(OPENSSL_FOUND libssl-dev "OpenSSL")

# The edge: libwebsockets through pkg-config (links -lwebsockets -lcap); libjwt mints
# development tokens and serves tests as an independent token library.
pkg_check_modules(LWS IMPORTED_TARGET libwebsockets)
bb_require_package(LWS_FOUND libwebsockets-dev "libwebsockets")
# The edge runs lws on libev (epoll) through lws's libev plugin (libwebsockets-evlib-ev).
find_library(BB_LIBEV ev)
bb_require_package(BB_LIBEV libev-dev "libev")
pkg_check_modules(JWT IMPORTED_TARGET libjwt)
bb_require_package(JWT_FOUND libjwt-dev "libjwt")
# The analytics plugin's PostgreSQL sink (libpq, the C client). GLOBAL: tests query it too.
pkg_check_modules(LIBPQ IMPORTED_TARGET GLOBAL libpq)
bb_require_package(LIBPQ_FOUND libpq-dev "libpq")

# The push plugin sends with it; the admin server tests talk real HTTP to it.
find_package(CURL QUIET)
bb_require_package(CURL_FOUND libcurl4-openssl-dev "libcurl")

find_package(Threads REQUIRED)

if(BB_BUILD_TESTS)
    find_package(Boost 1.74 CONFIG QUIET COMPONENTS unit_test_framework)
    bb_require_package(Boost_FOUND libboost-test-dev "Boost.Test")
    find_program(BB_NATS_SERVER nats-server PATHS /usr/sbin /usr/bin)
    if(NOT BB_NATS_SERVER)
        message(FATAL_ERROR "nats-server not found: install the Debian package 'nats-server'")
    endif()
    # The PostgreSQL sink's tests start a real server from Debian's postgresql package.
    find_program(BB_PG_INITDB initdb PATHS /usr/lib/postgresql/15/bin NO_DEFAULT_PATH)
    if(NOT BB_PG_INITDB)
        message(FATAL_ERROR "PostgreSQL 15 not found in /usr/lib/postgresql/15/bin: "
                            "install the Debian package 'postgresql'")
    endif()
    get_filename_component(BB_PG_BIN_DIR "${BB_PG_INITDB}" DIRECTORY)
endif()
