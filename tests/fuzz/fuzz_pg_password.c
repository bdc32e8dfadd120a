/*
 * fuzz_pg_password: arbitrary bytes as what an agent sends after the gateway asked for its
 * password, framed the way the session frames them before login: the message stream
 * (stream.c) with the password phase's limits (rg_pg_password_limits), nothing streamable,
 * fed in chunks whose size byte 0 picks. Invariants checked with abort():
 *   - only PasswordMessages ('p', at most RG_PG_PASSWORD_MAX) come out, never a piece;
 *   - a message of any other type, or announcing more, fails at its header: no more than
 *     the 4 bytes before a complete header were ever kept for it, and the accumulator never
 *     holds more than one whole allowed message;
 *   - chunked framing reports the same messages, and the same error, as framing the whole
 *     input at once (rg_pg_frame with the same limits);
 *   - a message's password reader stays inside the message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pg-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct whole {
	size_t nmsg;   /* complete messages before the end or the error */
	bool error;    /* framing the whole input failed */
	size_t err_at; /* offset of the message that failed */
};

static struct whole frame_whole(const uint8_t *p, size_t n, const struct rg_pg_limits *lim)
{
	struct whole w = {0};
	size_t off = 0;

	while (off < n) {
		struct rg_pg_msg m;
		ssize_t r = rg_pg_frame(p + off, n - off, lim, &m);

		if (r < 0) {
			w.error = true;
			w.err_at = off;
			break;
		}
		if (r == 0)
			break;
		w.nmsg++;
		off += (size_t)r;
	}
	return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rg_pg_limits lim;
	struct rg_pg_stream st;
	struct rg_pg_sevent ev;
	struct whole w;
	size_t chunk, off = 0, nmsg = 0, msg_start = 0;
	bool error = false;

	if (size < 1)
		return 0;
	rg_pg_password_limits(&lim);
	chunk = (size_t)data[0] % 67 + 1;
	data++, size--;
	w = frame_whole(data, size, &lim);
	rg_pg_stream_init(&st, &lim, 256 * 1024, NULL);
	while (off < size && !error) {
		size_t n = size - off < chunk ? size - off : chunk, used = 0;

		while (used < n) {
			ssize_t r = rg_pg_stream_next(&st, data + off + used, n - used, &ev);

			if (r < 0) {
				/* at the header: at most 4 bytes of this message were taken */
				if (off + used - msg_start > 4 || r == RG_PG_E_NOMEM)
					abort();
				error = true;
				break;
			}
			used += (size_t)r;
			if (st.acc.len > (size_t)RG_PG_PASSWORD_MAX + 1)
				abort();
			if (ev.kind == RG_PG_SEV_PIECE)
				abort();
			if (ev.kind == RG_PG_SEV_MSG) {
				struct rg_pg_query pw;

				if (ev.msg.type != RG_PG_FE_PASSWORD ||
				    ev.msg.total > (uint64_t)RG_PG_PASSWORD_MAX + 1)
					abort();
				if (rg_pg_read_password(&ev.msg, &pw) == 0 &&
				    (pw.len + 1 > ev.msg.body_len ||
				     (const uint8_t *)pw.sql != ev.msg.body))
					abort();
				nmsg++;
				msg_start = off + used;
			}
		}
		off += used;
	}
	if (nmsg != w.nmsg || error != w.error || (error && msg_start != w.err_at))
		abort();
	rg_pg_stream_free(&st);
	return 0;
}
