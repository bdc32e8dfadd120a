# Fuzz target for the config parser (engine/config): any byte string must give a config or
# errors, never a crash, leak or hang.
rg_fuzz_target(fuzz_config SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_config.c LIBS rg_config
	CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/config)
