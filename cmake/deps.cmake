# Third-party libraries, all from Debian 12 packages (tools/deps installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
pkg_check_modules(HS REQUIRED IMPORTED_TARGET libhs)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET openssl)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
# The admin listener's HTTP/1.1 server (engine/admin); Debian builds it with GnuTLS.
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
# MariaDB's client_ed25519 signs with a SHA-512 expansion of the whole password, which no
# seed-based Ed25519 API takes: engine/proto/mysql uses libsodium's scalar/point primitives.
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
# libbpf: looked for by bpf/CMakeLists.txt (RG_BPF=AUTO builds without it)

# libpg_query (Debian libpg-query-dev) ships no .pc file. The static archive is preferred:
# the parser keeps its state (memory contexts, error stack) in thread-local variables, which
# a shared library reaches through __tls_get_addr on every access; linked into the
# executable they are plain offsets (dpath_bench: the uncached pgbench -S verdict 545 ->
# 480 ns). Its bundled xxhash (same XXH3) then also serves our own XXH3 calls.
find_path(PG_QUERY_INCLUDE_DIR pg_query.h REQUIRED)
find_library(PG_QUERY_LIBRARY NAMES libpg_query.a pg_query REQUIRED)
add_library(pg_query::pg_query UNKNOWN IMPORTED)
set_target_properties(pg_query::pg_query PROPERTIES
	IMPORTED_LOCATION "${PG_QUERY_LIBRARY}"
	INTERFACE_INCLUDE_DIRECTORIES "${PG_QUERY_INCLUDE_DIR}")
