# MySQL wire codec (engine/proto/mysql): every reader over a stream of packets, builders
# round-tripped. Seeds are realistic exchanges written by gen-mysql-seeds.py.
if(TARGET rg_proto_mysql)
	rg_fuzz_target(fuzz_mysql_wire SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_mysql_wire.c
		LIBS rg_proto_mysql CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/mysql_wire)
endif()
