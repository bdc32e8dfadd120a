# fuzz_mysqlclass: the MySQL/MariaDB lexer and classifier (engine/policy/mysqlclass.c).
rg_fuzz_target(fuzz_mysqlclass SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_mysqlclass.c
	LIBS rg_policy CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/mysqlclass)
