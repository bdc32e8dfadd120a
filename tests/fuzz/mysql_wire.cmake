# MySQL wire codec (engine/proto/mysql): every reader over a stream of packets, builders
# round-tripped. Seeds are realistic exchanges written by gen-mysql-seeds.py.
if(TARGET rg_proto_mysql)
	rg_fuzz_target(fuzz_mysql_wire SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_mysql_wire.c
		LIBS rg_proto_mysql CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/mysql_wire)
endif()
# Masking of result rows (mask.c my_rows_*) and the relay's run path (rows.c rg_my_rowrun_*)
# with a policy compiled in the target: runs give byte for byte the row-by-row output.
if(TARGET rg_proto_mysql AND TARGET rulec_core)
	rg_fuzz_target(fuzz_mysql_rows SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_mysql_rows.c
		LIBS rg_proto_mysql rulec_core CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/mysql_rows)
endif()
