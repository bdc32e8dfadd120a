# fuzz_sqlclass: the SQL classifier (engine/policy/sqlclass.c) on arbitrary bytes.
rg_fuzz_target(fuzz_sqlclass SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_sqlclass.c
	LIBS rg_policy CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/sqlclass)
