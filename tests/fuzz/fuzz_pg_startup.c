/*
 * fuzz_pg_startup: arbitrary bytes as what a client sends first: a startup-phase packet
 * (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest), then typed frontend messages.
 * A packet that parses must rebuild byte-for-byte from what the parser reported (the
 * parameter iterator for a StartupMessage), so parser and builder agree on the layout. A
 * StartupMessage's settings then go through the forwarding allow-list (settings.c): what it
 * forwards must be name/value pairs that fit, or a refusal with a printable message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[RG_PG_STARTUP_MAX + 64];
static const char *kv[RG_PG_STARTUP_MAX];
static char settings[RG_PG_STARTUP_MAX];

static void check_settings(const struct rg_pg_startup *s)
{
	char msg[200];
	size_t n = 0, i;
	ssize_t len = rg_pg_startup_settings(s, settings, sizeof(settings), &n, msg, sizeof(msg));
	const char *p = settings;

	if (len < 0) {
		if (len != -1 || !msg[0] || strlen(msg) >= sizeof(msg))
			abort();
		for (i = 0; msg[i]; i++)
			if ((unsigned char)msg[i] < 0x20)
				abort();
		return;
	}
	if ((size_t)len > sizeof(settings) || n > RG_PG_SETTINGS_MAX)
		abort();
	for (i = 0; i < 2 * n; i++) {
		size_t l = strnlen(p, (size_t)(settings + len - p));

		if (p + l >= settings + len)
			abort();
		p += l + 1;
	}
	if (p != settings + len)
		abort();
}

static void same(const struct rg_pg_startup *s, ssize_t n)
{
	if (n < 0 || (uint64_t)n != s->msg.total || memcmp(out, s->msg.start, (size_t)n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rg_pg_startup s;
	struct rg_pg_kv_iter it;
	ssize_t r = rg_pg_frame_startup(data, size, &s);
	size_t n = 0;

	if (r <= 0) {
		if (r == 0 && (s.msg.need < 1 || (s.msg.total && s.msg.total != size + s.msg.need)))
			abort();
		return 0;
	}
	if ((size_t)r > size || (uint64_t)r != s.msg.total || s.msg.total > RG_PG_STARTUP_MAX + 4)
		abort();
	switch (s.kind) {
	case RG_PG_STARTUP_MESSAGE:
		if (s.major != 3)
			abort();
		rg_pg_kv_begin(&s, &it);
		while (rg_pg_kv_next(&it, &kv[2 * n], &kv[2 * n + 1]))
			n++;
		if (n != s.nparams)
			abort();
		same(&s, rg_pg_write_startup(out, sizeof(out), s.code, kv, n));
		check_settings(&s);
		break;
	case RG_PG_SSL_REQUEST:
		same(&s, rg_pg_write_ssl_request(out, sizeof(out)));
		break;
	case RG_PG_GSSENC_REQUEST:
		same(&s, rg_pg_write_gssenc_request(out, sizeof(out)));
		break;
	case RG_PG_CANCEL_REQUEST:
		same(&s, rg_pg_write_cancel(out, sizeof(out), s.pid, s.key, s.key_len));
		break;
	default:
		abort();
	}

	/* What follows a StartupMessage is a frontend stream. */
	data += r;
	size -= (size_t)r;
	while (size > 0) {
		struct rg_pg_msg m;
		ssize_t k = rg_pg_frame(data, size, rg_pg_limits_default(RG_PG_FE), &m);

		if (k <= 0)
			break;
		(void)rg_pg_validate(RG_PG_FE, &m);
		data += k;
		size -= (size_t)k;
	}
	return 0;
}
