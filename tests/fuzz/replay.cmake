# fuzz_replay: a session recording's entries (hostile bytes: a target's answers as recorded)
# read back as PostgreSQL or MySQL messages (engine/evidence/replay.c).
rg_fuzz_target(fuzz_replay SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_replay.c LIBS rg_evidence
	CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/replay)
