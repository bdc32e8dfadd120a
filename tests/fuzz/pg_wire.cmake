# PostgreSQL wire parsers (engine/proto/pg/wire): typed message streams in both directions,
# and the startup phase. Seeds are realistic sessions built with the wire builders.
if(TARGET rg_proto_pg)
	rg_fuzz_target(fuzz_pg_wire SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_pg_wire.c
		LIBS rg_proto_pg CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/pg_wire/stream)
	rg_fuzz_target(fuzz_pg_startup SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_pg_startup.c
		LIBS rg_proto_pg CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/pg_wire/startup)
endif()
# The agent before login: only a bounded PasswordMessage, refused at the header otherwise
# (the stream with the password phase's limits, fed in chunks).
if(TARGET rg_proto_pg)
	rg_fuzz_target(fuzz_pg_password SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_pg_password.c
		LIBS rg_proto_pg CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/pg_wire/password)
endif()
# The statement tracker (stmt.c) against a model server in the target: scripted sessions of
# Parse/Bind/Describe/Execute/Close/Sync/Query, every DataRow's shape compared.
if(TARGET rg_proto_pg)
	rg_fuzz_target(fuzz_pg_stmt SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_pg_stmt.c
		LIBS rg_proto_pg CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/pg_wire/stmt)
endif()
# Masking of DataRows, ErrorResponse / NoticeResponse and COPY lines (rows.c) with a policy
# compiled in the target: rewritten messages stay valid and decodable for their types.
if(TARGET rg_proto_pg AND TARGET rulec_core)
	rg_fuzz_target(fuzz_pg_rows SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_pg_rows.c
		LIBS rg_proto_pg rulec_core CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/pg_wire/rows)
endif()
