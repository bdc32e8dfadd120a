# rulec front end: arbitrary bytes as a rule file must never crash, hang or leak.
if(TARGET rulec_core)
	rg_fuzz_target(fuzz_rulec_yaml SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_rulec_yaml.c
		LIBS rulec_core CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/rulec_yaml)
endif()
