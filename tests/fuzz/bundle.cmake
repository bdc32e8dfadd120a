# fuzz_bundle: the policy bundle loader (engine/policy/bundle.c) on arbitrary bytes.
# Seeds are real bundles: regenerate with tests/fuzz/gen-bundle-seeds.sh after a format change.
rg_fuzz_target(fuzz_bundle SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_bundle.c
	LIBS rg_policy CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/bundle)
