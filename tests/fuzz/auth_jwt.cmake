# auth: JWKS, JWT, claims and SCRAM server-message parsers (one target, first byte selects).
rg_fuzz_target(fuzz_jwt SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_jwt.c LIBS rg_auth
	CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/jwt)
