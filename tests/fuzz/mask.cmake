# fuzz_mask: detectors, validators and row rewriting in engine/policy/mask.c + detect.c.
rg_fuzz_target(fuzz_mask SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_mask.c LIBS rg_policy
	CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/mask)
