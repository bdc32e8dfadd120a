# Helpers shared by module CMakeLists.

# rg_unit_test(NAME SOURCES a.c b.c LIBS x y): a cmocka test registered with ctest.
function(rg_unit_test name)
	cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
	add_executable(${name} ${T_SOURCES})
	target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
	add_test(NAME ${name} COMMAND ${name})
	set_tests_properties(${name} PROPERTIES LABELS unit SKIP_RETURN_CODE 77
		ENVIRONMENT "RG_SRC=${PROJECT_SOURCE_DIR};RG_BUILD=${PROJECT_BINARY_DIR}")
endfunction()

# rg_fuzz_target(NAME SOURCES a.c LIBS x CORPUS dir): with RG_FUZZ a libFuzzer binary;
# otherwise the same entry point linked with a driver that replays the seed corpus,
# so every build runs each fuzz target over its corpus as a regression test.
function(rg_fuzz_target name)
	cmake_parse_arguments(T "" "CORPUS" "SOURCES;LIBS" ${ARGN})
	if(RG_FUZZ)
		add_executable(${name} ${T_SOURCES})
		target_link_options(${name} PRIVATE -fsanitize=fuzzer)
	else()
		add_executable(${name} ${T_SOURCES} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay.c)
	endif()
	target_link_libraries(${name} PRIVATE ${T_LIBS})
	add_test(NAME ${name}_corpus COMMAND ${name} ${T_CORPUS})
	set_tests_properties(${name}_corpus PROPERTIES LABELS fuzz)
endfunction()

# Add every subdirectory of DIR that has a CMakeLists.txt (modules register themselves).
function(rg_add_subdirs)
	foreach(d ${ARGN})
		if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${d}/CMakeLists.txt)
			add_subdirectory(${d})
		endif()
	endforeach()
endfunction()
