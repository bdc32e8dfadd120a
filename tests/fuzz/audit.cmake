# fuzz_audit: the audit trail's segment reader (hostile files) and its write/read round trip.
rg_fuzz_target(fuzz_audit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_audit.c LIBS rg_evidence
	PkgConfig::OPENSSL CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/audit)
