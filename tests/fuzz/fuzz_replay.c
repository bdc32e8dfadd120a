/*
 * fuzz_replay: session recordings read back (engine/evidence/replay.c, rg_replay_entries).
 * The input is a recording's entries (kind, time, length, bytes): the bytes are what a target
 * answered, as recorded, so the reading must hold against anything. The first byte chooses
 * what goes in front: nothing (the input's own entries; an old PostgreSQL recording), or a
 * protocol entry naming MySQL with capabilities from the second byte (DEPRECATE_EOF,
 * SESSION_TRACK), so both protocols' readers see every input. Every option set is read; the
 * result must be a JSON object that serializes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;
	size_t n = 0;
	json_t *out = NULL;

	if (size < 2)
		return 0;
	if (!(buf = malloc(size + 32)))
		return 0;
	if (data[0] & 1) {
		uint64_t caps = (data[1] & 1 ? 1ull << 24 : 0) | (data[1] & 2 ? 1ull << 23 : 0);
		uint64_t t = 0;
		uint32_t l = 9;

		buf[n++] = 'P';
		memcpy(buf + n, &t, 8), n += 8;
		memcpy(buf + n, &l, 4), n += 4;
		buf[n++] = RG_EV_MYSQL;
		memcpy(buf + n, &caps, 8), n += 8;
	}
	memcpy(buf + n, data + 2, size - 2);
	n += size - 2;
	for (int i = 0; i < 2; i++) {
		struct rg_replay_opts o = {.detail = i, .raw_bytes = false, .max_rows = i ? 2 : 0};

		if (rg_replay_entries(buf, n, &o, &out) == 0) {
			char *j = json_dumps(out, JSON_COMPACT);

			if (!j)
				abort();
			free(j);
			json_decref(out);
		}
	}
	free(buf);
	return 0;
}
