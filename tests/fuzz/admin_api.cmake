# Fuzz target for the admin listener's request parsers (engine/admin/api.c): a path, an
# Authorization header and a decision body from one byte string, never a crash or a leak.
rg_fuzz_target(fuzz_admin_api SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_admin_api.c
	LIBS rg_admin rg_auth CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/admin_api)
