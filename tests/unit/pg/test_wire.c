/*
 * Unit tests for engine/proto/pg/wire: framing (typed and startup phase), every reader on
 * hand-written bytes, builder -> reader round trips, and hostile inputs (bad lengths,
 * unterminated strings, trailing bytes, oversize). Each truncation test copies the prefix
 * into an exact-size heap buffer so AddressSanitizer sees any read past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire.h"

#define FE rg_pg_limits_default(RG_PG_FE)
#define BE rg_pg_limits_default(RG_PG_BE)

/* A buffer with the given bytes (length may include NULs). */
#define BYTES(...) ((const uint8_t[]){__VA_ARGS__})

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	assert_non_null(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

/* Frame a whole message from an exact-size copy; fails the test unless it is complete. */
static void frame_ok(const uint8_t *p, size_t n, const struct rg_pg_limits *lim,
		     struct rg_pg_msg *m)
{
	assert_int_equal(rg_pg_frame(p, n, lim, m), (ssize_t)n);
	assert_int_equal(m->total, n);
}

/* Every strict prefix of a valid message must be "need more", never an error. */
static void assert_prefixes_need_more(const uint8_t *p, size_t n, const struct rg_pg_limits *lim)
{
	for (size_t k = 0; k < n; k++) {
		uint8_t *q = dup_bytes(p, k);
		struct rg_pg_msg m;

		assert_int_equal(rg_pg_frame(q, k, lim, &m), 0);
		assert_true(m.need >= 1);
		assert_true(k + m.need <= n);
		if (k >= 5) {
			assert_int_equal(m.total, n);
			assert_int_equal(k + m.need, n);
		}
		free(q);
	}
}

static void assert_startup_prefixes_need_more(const uint8_t *p, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		uint8_t *q = dup_bytes(p, k);
		struct rg_pg_startup s;

		assert_int_equal(rg_pg_frame_startup(q, k, &s), 0);
		assert_true(s.msg.need >= 1);
		if (k >= 4)
			assert_int_equal(k + s.msg.need, n);
		free(q);
	}
}

/*
 * Walk a DataRow with rg_pg_row_stream in pieces of `chunk` bytes (each piece copied to its
 * own exact-size heap buffer) and check it reports the same fields as rg_pg_read_datarow,
 * or fails when it fails. Returns the stream's result (0 or <0).
 */
static int stream_datarow(const struct rg_pg_msg *m, size_t chunk)
{
	static struct rg_pg_field want[64];
	struct rg_pg_row_stream rs;
	struct rg_pg_row_event ev;
	uint16_t count = 0;
	int expect = rg_pg_read_datarow(m, want, 64, &count);
	size_t pos = 0, got = 0, seen = 0;
	int32_t cur_len = 0;
	bool ended = false;

	assert_true(expect != RG_PG_E_TOO_MANY);
	rg_pg_row_stream_init(&rs, m->body_len);
	while (!ended) {
		size_t n = m->body_len - pos < chunk ? m->body_len - pos : chunk;
		uint8_t *piece = dup_bytes(m->body + pos, n);
		size_t used = 0;

		for (;;) {
			ssize_t r = rg_pg_row_stream_next(&rs, piece + used, n - used, &ev);

			if (r < 0) {
				free(piece);
				assert_true(expect < 0);
				return (int)r;
			}
			used += (size_t)r;
			if (ev.kind == RG_PG_ROW_END) {
				ended = true;
				break;
			}
			if (ev.kind == RG_PG_ROW_MORE) {
				assert_int_equal(used, n);
				break;
			}
			if (ev.kind == RG_PG_ROW_FIELD) {
				assert_int_equal(ev.index, got);
				assert_int_equal(ev.len, want[got].len);
				assert_int_equal(ev.off + 5, want[got].off);
				cur_len = ev.len;
				seen = 0;
				if (ev.len <= 0)
					got++;
			} else {
				assert_int_equal(ev.index, got);
				assert_memory_equal(ev.data, want[got].data + seen, ev.n);
				assert_int_equal(ev.off + 5, want[got].off + seen);
				seen += ev.n;
				if (seen == (size_t)cur_len)
					got++;
			}
		}
		free(piece);
		pos += n;
	}
	assert_int_equal(expect, 0);
	assert_int_equal(got, count);
	return 0;
}

/* ---- Framing ------------------------------------------------------------------------- */

static void test_frame_needs_more_on_empty_input(void **state)
{
	struct rg_pg_msg m;

	(void)state;
	assert_int_equal(rg_pg_frame(NULL, 0, FE, &m), RG_PG_NEED_MORE);
	assert_int_equal(m.need, 5);
}

static void test_frame_needs_more_on_partial_header(void **state)
{
	const uint8_t *q = BYTES('Q', 0, 0, 0, 9, 'S', 'E', 'L', '\0');
	struct rg_pg_msg m;

	(void)state;
	for (size_t k = 1; k < 5; k++) {
		assert_int_equal(rg_pg_frame(q, k, FE, &m), RG_PG_NEED_MORE);
		assert_int_equal(m.need, 5 - k);
		assert_int_equal(m.total, 0);
		assert_int_equal(m.type, 'Q');
	}
}

static void test_frame_reports_total_once_header_known(void **state)
{
	const uint8_t *q = BYTES('Q', 0, 0, 0, 9, 'S', 'E', 'L', '\0');
	struct rg_pg_msg m;

	(void)state;
	assert_int_equal(rg_pg_frame(q, 6, FE, &m), RG_PG_NEED_MORE);
	assert_int_equal(m.total, 10);
	assert_int_equal(m.need, 4);
	assert_int_equal(m.len, 9);
	assert_int_equal(m.body_len, 5);
}

static void test_frame_streams_large_datarow_header(void **state)
{
	/* DataRow with one 64 MiB field: only the first bytes are present. */
	uint32_t flen = 64u << 20, len = 4 + 2 + 4 + flen;
	const uint8_t hdr[] = {'D',
			       (uint8_t)(len >> 24),
			       (uint8_t)(len >> 16),
			       (uint8_t)(len >> 8),
			       (uint8_t)len,
			       0,
			       1,
			       (uint8_t)(flen >> 24),
			       (uint8_t)(flen >> 16),
			       (uint8_t)(flen >> 8),
			       (uint8_t)flen,
			       'x'};
	struct rg_pg_msg m;

	(void)state;
	assert_int_equal(rg_pg_frame(hdr, sizeof(hdr), BE, &m), RG_PG_NEED_MORE);
	assert_int_equal(m.type, 'D');
	assert_int_equal(m.total, (uint64_t)len + 1);
	assert_int_equal(m.need, (uint64_t)len + 1 - sizeof(hdr));
}

static void test_frame_consumes_exactly_one_message(void **state)
{
	const uint8_t *two = BYTES('S', 0, 0, 0, 4, 'H', 0, 0, 0, 4);
	struct rg_pg_msg m;

	(void)state;
	assert_int_equal(rg_pg_frame(two, 10, FE, &m), 5);
	assert_int_equal(m.type, 'S');
	assert_int_equal(rg_pg_validate(RG_PG_FE, &m), 0);
	assert_int_equal(rg_pg_frame(two + 5, 5, FE, &m), 5);
	assert_int_equal(m.type, 'H');
}

static void test_length_below_four_is_error(void **state)
{
	struct rg_pg_msg m;

	(void)state;
	for (uint8_t l = 0; l < 4; l++) {
		const uint8_t q[] = {'Q', 0, 0, 0, l};

		assert_int_equal(rg_pg_frame(q, 5, FE, &m), RG_PG_E_LENGTH);
	}
}

static void test_negative_length_is_error(void **state)
{
	struct rg_pg_msg m;
	struct rg_pg_limits l;

	(void)state;
	rg_pg_limits_init(&l, RG_PG_BE, UINT32_MAX, 0);
	assert_int_equal(l.max['D'], RG_PG_LEN_MAX);
	assert_int_equal(rg_pg_frame(BYTES('D', 0x80, 0, 0, 0), 5, &l, &m), RG_PG_E_LENGTH);
	assert_int_equal(rg_pg_frame(BYTES('D', 0xff, 0xff, 0xff, 0xff), 5, &l, &m),
			 RG_PG_E_LENGTH);
}

static void test_frame_rejects_oversized_for_type(void **state)
{
	struct rg_pg_msg m;
	struct rg_pg_limits l;

	(void)state;
	/* Sync has no body: length 8 is over its fixed limit. */
	assert_int_equal(rg_pg_frame(BYTES('S', 0, 0, 0, 8), 5, FE, &m), RG_PG_E_TOO_LONG);
	/* ReadyForQuery is exactly 5. */
	assert_int_equal(rg_pg_frame(BYTES('Z', 0, 0, 0, 6), 5, BE, &m), RG_PG_E_TOO_LONG);
	/* Default data limit is 1 GiB; control (Describe) 10000 on the frontend side. */
	assert_int_equal(rg_pg_frame(BYTES('Q', 0x40, 0, 0, 1), 5, FE, &m), RG_PG_E_TOO_LONG);
	assert_int_equal(rg_pg_frame(BYTES('Q', 0x40, 0, 0, 0), 5, FE, &m), RG_PG_NEED_MORE);
	assert_int_equal(rg_pg_frame(BYTES('D', 0, 0, 0x27, 0x11), 5, FE, &m), RG_PG_E_TOO_LONG);
	/* Configured limits. */
	rg_pg_limits_init(&l, RG_PG_FE, 100, 20);
	assert_int_equal(rg_pg_frame(BYTES('Q', 0, 0, 0, 101), 5, &l, &m), RG_PG_E_TOO_LONG);
	assert_int_equal(rg_pg_frame(BYTES('Q', 0, 0, 0, 100), 5, &l, &m), RG_PG_NEED_MORE);
	assert_int_equal(rg_pg_frame(BYTES('E', 0, 0, 0, 21), 5, &l, &m), RG_PG_E_TOO_LONG);
	assert_int_equal(l.max['S'], 4);
}

static void test_frame_rejects_unknown_type_on_first_byte(void **state)
{
	struct rg_pg_msg m;

	(void)state;
	assert_int_equal(rg_pg_frame(BYTES('z'), 1, FE, &m), RG_PG_E_TYPE);
	assert_int_equal(rg_pg_frame(BYTES(0), 1, FE, &m), RG_PG_E_TYPE);
	/* Backend-only types are not allowed from the frontend and vice versa. */
	assert_int_equal(rg_pg_frame(BYTES('T'), 1, FE, &m), RG_PG_E_TYPE);
	assert_int_equal(rg_pg_frame(BYTES('Q'), 1, BE, &m), RG_PG_E_TYPE);
	assert_int_equal(rg_pg_frame(BYTES('T'), 1, BE, &m), RG_PG_NEED_MORE);
}

static void test_limits_default_matches_init(void **state)
{
	struct rg_pg_limits l;

	(void)state;
	rg_pg_limits_init(&l, RG_PG_FE, 0, 0);
	assert_memory_equal(&l, FE, sizeof(l));
	rg_pg_limits_init(&l, RG_PG_BE, 0, 0);
	assert_memory_equal(&l, BE, sizeof(l));
}

static void test_msg_view_requires_exact_length(void **state)
{
	struct rg_pg_msg m;
	struct rg_pg_query q;

	(void)state;
	assert_int_equal(rg_pg_msg_view(BYTES('Q', 0, 0, 0, 6, 'x', 0), 7, &m), 0);
	assert_int_equal(rg_pg_read_query(&m, &q), 0);
	assert_string_equal(q.sql, "x");
	assert_int_equal(rg_pg_msg_view(BYTES('Q', 0, 0, 0, 6, 'x', 0), 6, &m), RG_PG_E_LENGTH);
	assert_int_equal(rg_pg_msg_view(BYTES('Q', 0, 0), 3, &m), RG_PG_E_TRUNCATED);
}

static void test_strerror_names_every_error(void **state)
{
	(void)state;
	for (int e = RG_PG_E_ARG; e < 0; e++)
		assert_string_not_equal(rg_pg_strerror(e), "unknown error");
	assert_string_equal(rg_pg_type_name(RG_PG_BE, 'D'), "DataRow");
	assert_string_equal(rg_pg_type_name(RG_PG_FE, 'D'), "Describe");
	assert_string_equal(rg_pg_type_name(RG_PG_FE, '!'), "?");
}

/* ---- Startup phase ------------------------------------------------------------------- */

static size_t build_startup(uint8_t *buf, size_t cap, uint32_t version)
{
	const char *kv[] = {"user",
			    "alice",
			    "database",
			    "app",
			    "application_name",
			    "psql",
			    "options",
			    "-c search_path=x",
			    "_pq_.opt",
			    "1",
			    "client_encoding",
			    "UTF8"};
	ssize_t n = rg_pg_write_startup(buf, cap, version, kv, 6);

	assert_true(n > 0 && (size_t)n <= cap);
	return (size_t)n;
}

static void test_startup_parses_params(void **state)
{
	uint8_t buf[256];
	size_t n = build_startup(buf, sizeof(buf), RG_PG_PROTO_30);
	struct rg_pg_startup s;
	struct rg_pg_kv_iter it;
	const char *k, *v;
	int i = 0;

	(void)state;
	assert_int_equal(rg_pg_frame_startup(buf, n, &s), (ssize_t)n);
	assert_int_equal(s.kind, RG_PG_STARTUP_MESSAGE);
	assert_int_equal(s.code, 196608);
	assert_int_equal(s.major, 3);
	assert_int_equal(s.minor, 0);
	assert_string_equal(s.user, "alice");
	assert_string_equal(s.database, "app");
	assert_string_equal(s.application_name, "psql");
	assert_string_equal(s.options, "-c search_path=x");
	assert_null(s.replication);
	assert_int_equal(s.nparams, 6);
	assert_int_equal(s.npq_options, 1);
	rg_pg_kv_begin(&s, &it);
	while (rg_pg_kv_next(&it, &k, &v)) {
		if (i == 5) {
			assert_string_equal(k, "client_encoding");
			assert_string_equal(v, "UTF8");
		}
		i++;
	}
	assert_int_equal(i, 6);
	assert_startup_prefixes_need_more(buf, n);
}

static void test_startup_accepts_empty_parameter_list(void **state)
{
	const uint8_t *p = BYTES(0, 0, 0, 9, 0, 3, 0, 0, 0);
	struct rg_pg_startup s;

	(void)state;
	assert_int_equal(rg_pg_frame_startup(p, 9, &s), 9);
	assert_int_equal(s.nparams, 0);
	assert_null(s.user);
}

static void test_startup_reports_minor_version_for_negotiation(void **state)
{
	uint8_t buf[256];
	size_t n = build_startup(buf, sizeof(buf), RG_PG_PROTO_32);
	struct rg_pg_startup s;

	(void)state;
	assert_int_equal(rg_pg_frame_startup(buf, n, &s), (ssize_t)n);
	assert_int_equal(s.major, 3);
	assert_int_equal(s.minor, 2);
	assert_int_equal(s.npq_options, 1);
}

static void test_startup_rejects_oversized_packet(void **state)
{
	struct rg_pg_startup s;
	uint8_t *big = calloc(1, 10005);

	(void)state;
	/* length 10005 (payload 10001) is over PG's limit, detected from the header alone */
	assert_int_equal(rg_pg_frame_startup(BYTES(0, 0, 0x27, 0x15), 4, &s), RG_PG_E_TOO_LONG);
	assert_int_equal(rg_pg_frame_startup(BYTES(0, 0, 0x27, 0x14), 4, &s), RG_PG_NEED_MORE);
	assert_int_equal(rg_pg_frame_startup(BYTES(1), 1, &s), RG_PG_E_TOO_LONG);
	/* exactly 10004: one long parameter value */
	big[2] = 0x27, big[3] = 0x14, big[5] = 3;
	memcpy(big + 8, "user", 5);
	memset(big + 13, 'a', 10004 - 13 - 2);
	assert_int_equal(rg_pg_frame_startup(big, 10004, &s), 10004);
	assert_int_equal(strlen(s.user), 10004 - 13 - 2);
	free(big);
}

static void test_startup_rejects_short_length(void **state)
{
	struct rg_pg_startup s;

	(void)state;
	for (uint8_t l = 0; l < 8; l++)
		assert_int_equal(rg_pg_frame_startup(BYTES(0, 0, 0, l), 4, &s), RG_PG_E_LENGTH);
	/* version 3.0 with no room for the terminator */
	assert_int_equal(rg_pg_frame_startup(BYTES(0, 0, 0, 8, 0, 3, 0, 0), 8, &s), RG_PG_E_LENGTH);
}

static void test_ssl_and_gssenc_requests(void **state)
{
	uint8_t buf[16];
	struct rg_pg_startup s;

	(void)state;
	assert_int_equal(rg_pg_write_ssl_request(buf, sizeof(buf)), 8);
	assert_memory_equal(buf, BYTES(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f), 8);
	assert_int_equal(rg_pg_frame_startup(buf, 8, &s), 8);
	assert_int_equal(s.kind, RG_PG_SSL_REQUEST);
	assert_int_equal(s.code, 80877103);
	assert_startup_prefixes_need_more(buf, 8);

	assert_int_equal(rg_pg_write_gssenc_request(buf, sizeof(buf)), 8);
	assert_int_equal(rg_pg_frame_startup(buf, 8, &s), 8);
	assert_int_equal(s.kind, RG_PG_GSSENC_REQUEST);
	assert_int_equal(s.code, 80877104);
	/* with bytes after it: only the request is consumed (caller refuses the rest) */
	memcpy(buf + 8, "\x16\x03\x01", 3);
	assert_int_equal(rg_pg_frame_startup(buf, 11, &s), 8);
}

static void test_ssl_request_with_wrong_length_is_error(void **state)
{
	struct rg_pg_startup s;

	(void)state;
	assert_int_equal(rg_pg_frame_startup(BYTES(0, 0, 0, 12, 0x04, 0xd2, 0x16, 0x2f), 8, &s),
			 RG_PG_E_LENGTH);
}

static void test_cancel_request_roundtrip(void **state)
{
	uint8_t buf[300], key[32];
	struct rg_pg_startup s;
	ssize_t n;

	(void)state;
	n = rg_pg_write_cancel(buf, sizeof(buf), 4242, BYTES(1, 2, 3, 4), 4);
	assert_int_equal(n, 16);
	assert_memory_equal(buf, BYTES(0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e), 8);
	assert_int_equal(rg_pg_frame_startup(buf, 16, &s), 16);
	assert_int_equal(s.kind, RG_PG_CANCEL_REQUEST);
	assert_int_equal(s.pid, 4242);
	assert_int_equal(s.key_len, 4);
	assert_memory_equal(s.key, BYTES(1, 2, 3, 4), 4);
	assert_startup_prefixes_need_more(buf, 16);

	/* protocol 3.2: longer keys */
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	n = rg_pg_write_cancel(buf, sizeof(buf), 7, key, sizeof(key));
	assert_int_equal(n, 12 + 32);
	assert_int_equal(rg_pg_frame_startup(buf, (size_t)n, &s), n);
	assert_int_equal(s.key_len, 32);
	assert_memory_equal(s.key, key, 32);
	assert_int_equal(rg_pg_write_cancel(buf, sizeof(buf), 7, key, 3), RG_PG_E_ARG);
}

static void test_cancel_request_with_bad_length_is_error(void **state)
{
	struct rg_pg_startup s;

	(void)state;
	assert_int_equal(rg_pg_frame_startup(BYTES(0, 0, 0, 12, 0x04, 0xd2, 0x16, 0x2e), 8, &s),
			 RG_PG_E_LENGTH);
	assert_int_equal(rg_pg_frame_startup(BYTES(0, 0, 1, 13, 0x04, 0xd2, 0x16, 0x2e), 8, &s),
			 RG_PG_E_LENGTH);
}

static void test_startup_rejects_unknown_request_code(void **state)
{
	struct rg_pg_startup s;

	(void)state;
	assert_int_equal(rg_pg_frame_startup(BYTES(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x31), 8, &s),
			 RG_PG_E_STARTUP_CODE);
	assert_int_equal(rg_pg_frame_startup(BYTES(0, 0, 0, 8, 0x04, 0xd2, 0, 0), 8, &s),
			 RG_PG_E_STARTUP_CODE);
}

static void test_startup_rejects_protocol_2_and_4(void **state)
{
	struct rg_pg_startup s;

	(void)state;
	assert_int_equal(rg_pg_frame_startup(BYTES(0, 0, 1, 40, 0, 2, 0, 0), 8, &s),
			 RG_PG_E_VERSION);
	assert_int_equal(rg_pg_frame_startup(BYTES(0, 0, 0, 9, 0, 4, 0, 0), 8, &s),
			 RG_PG_E_VERSION);
}

static void test_startup_detects_direct_tls(void **state)
{
	struct rg_pg_startup s;

	(void)state;
	assert_int_equal(rg_pg_frame_startup(BYTES(0x16, 0x03, 0x01, 0x02), 4, &s),
			 RG_PG_E_DIRECT_TLS);
	assert_int_equal(rg_pg_frame_startup(BYTES(0x16), 1, &s), RG_PG_E_DIRECT_TLS);
}

static void test_startup_rejects_bad_parameter_layout(void **state)
{
	struct rg_pg_startup s;

	(void)state;
	/* no terminator after the last value */
	assert_int_equal(rg_pg_frame_startup(
			     BYTES(0, 0, 0, 15, 0, 3, 0, 0, 'u', 0, 'v', 0, 'w', 0, 'x'), 15, &s),
			 RG_PG_E_NO_NUL);
	assert_int_equal(
	    rg_pg_frame_startup(BYTES(0, 0, 0, 12, 0, 3, 0, 0, 'u', 0, 'v', 0), 12, &s),
	    RG_PG_E_TRUNCATED);
	/* key without value */
	assert_int_equal(rg_pg_frame_startup(BYTES(0, 0, 0, 10, 0, 3, 0, 0, 'u', 0), 10, &s),
			 RG_PG_E_TRUNCATED);
	/* unterminated key */
	assert_int_equal(rg_pg_frame_startup(BYTES(0, 0, 0, 10, 0, 3, 0, 0, 'u', 'v'), 10, &s),
			 RG_PG_E_NO_NUL);
	/* bytes after the terminator */
	assert_int_equal(rg_pg_frame_startup(BYTES(0, 0, 0, 11, 0, 3, 0, 0, 0, 'x', 0), 11, &s),
			 RG_PG_E_TRAILING);
}

static void test_startup_rejects_duplicate_user(void **state)
{
	const char *kv[] = {"user", "alice", "user", "postgres"};
	const char *kv2[] = {"database", "a", "database", "b"};
	const char *kv3[] = {"x", "1", "x", "2"};
	uint8_t buf[128];
	struct rg_pg_startup s;
	ssize_t n;

	(void)state;
	n = rg_pg_write_startup(buf, sizeof(buf), RG_PG_PROTO_30, kv, 2);
	assert_int_equal(rg_pg_frame_startup(buf, (size_t)n, &s), RG_PG_E_DUPLICATE);
	n = rg_pg_write_startup(buf, sizeof(buf), RG_PG_PROTO_30, kv2, 2);
	assert_int_equal(rg_pg_frame_startup(buf, (size_t)n, &s), RG_PG_E_DUPLICATE);
	/* other (GUC) keys may repeat, as the server allows */
	n = rg_pg_write_startup(buf, sizeof(buf), RG_PG_PROTO_30, kv3, 2);
	assert_int_equal(rg_pg_frame_startup(buf, (size_t)n, &s), n);
}

static void test_startup_builder_enforces_limit(void **state)
{
	static char big[10001];
	const char *kv[] = {"user", big};
	uint8_t *buf = malloc(20000);

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	assert_int_equal(rg_pg_write_startup(buf, 20000, RG_PG_PROTO_30, kv, 1), RG_PG_E_TOO_LONG);
	big[10004 - 13 - 2] = 0;
	assert_int_equal(rg_pg_write_startup(buf, 20000, RG_PG_PROTO_30, kv, 1), 10004);
	free(buf);
}

/* ---- Frontend readers ----------------------------------------------------------------- */

static void test_query_roundtrip(void **state)
{
	const char *sql = "SELECT 1; DELETE FROM t";
	uint8_t buf[64];
	struct rg_pg_msg m;
	struct rg_pg_query q;
	ssize_t n;

	(void)state;
	n = rg_pg_write_query(buf, sizeof(buf), sql, strlen(sql));
	assert_int_equal(n, 5 + strlen(sql) + 1);
	frame_ok(buf, (size_t)n, FE, &m);
	assert_int_equal(rg_pg_read_query(&m, &q), 0);
	assert_int_equal(q.len, strlen(sql));
	assert_string_equal(q.sql, sql);
	assert_prefixes_need_more(buf, (size_t)n, FE);
}

static void test_query_rejects_missing_nul_and_trailing_bytes(void **state)
{
	struct rg_pg_msg m;
	struct rg_pg_query q;

	(void)state;
	frame_ok(BYTES('Q', 0, 0, 0, 6, 'a', 'b'), 7, FE, &m);
	assert_int_equal(rg_pg_read_query(&m, &q), RG_PG_E_NO_NUL);
	frame_ok(BYTES('Q', 0, 0, 0, 7, 'a', 0, 'b'), 8, FE, &m);
	assert_int_equal(rg_pg_read_query(&m, &q), RG_PG_E_TRAILING);
	frame_ok(BYTES('Q', 0, 0, 0, 4), 5, FE, &m);
	assert_int_equal(rg_pg_read_query(&m, &q), RG_PG_E_TRUNCATED);
	/* wrong reader */
	frame_ok(BYTES('S', 0, 0, 0, 4), 5, FE, &m);
	assert_int_equal(rg_pg_read_query(&m, &q), RG_PG_E_WRONG_TYPE);
}

static void test_query_builder_rejects_embedded_nul(void **state)
{
	uint8_t buf[32];

	(void)state;
	assert_int_equal(rg_pg_write_query(buf, sizeof(buf), "a\0b", 3), RG_PG_E_ARG);
}

static void test_builder_returns_needed_size_without_overflow(void **state)
{
	uint8_t buf[16];
	const char *sql = "SELECT * FROM very_long_table_name";

	(void)state;
	memset(buf, 0xAA, sizeof(buf));
	assert_int_equal(rg_pg_write_query(buf, 8, sql, strlen(sql)), 5 + strlen(sql) + 1);
	for (size_t i = 8; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xAA);
	assert_int_equal(rg_pg_write_query(NULL, 0, sql, strlen(sql)), 5 + strlen(sql) + 1);
	assert_int_equal(rg_pg_write_error(NULL, 0, "ERROR", "42501", "denied", NULL, NULL),
			 1 + 4 + 7 + 7 + 7 + 8 + 1);
}

static void test_parse_reads_statement_query_and_types(void **state)
{
	/* length 4 + "s1\0" + "SEL $1\0" + int16 2 + two OIDs = 24 */
	const uint8_t *p = BYTES('P', 0, 0, 0, 24, 's', '1', 0, 'S', 'E', 'L', ' ', '$', '1', 0, 0,
				 2, 0, 0, 0, 23, 0, 0, 0, 0);
	struct rg_pg_msg m;
	struct rg_pg_parse ps;
	uint8_t q[25];

	(void)state;
	frame_ok(p, 25, FE, &m);
	assert_int_equal(rg_pg_read_parse(&m, &ps), 0);
	assert_string_equal(ps.stmt, "s1");
	assert_int_equal(ps.stmt_len, 2);
	assert_string_equal(ps.query, "SEL $1");
	assert_int_equal(ps.query_len, 6);
	assert_int_equal(ps.nparams, 2);
	assert_int_equal(rg_pg_parse_param_type(&ps, 0), 23);
	assert_int_equal(rg_pg_parse_param_type(&ps, 1), 0);
	assert_int_equal(rg_pg_parse_param_type(&ps, 2), 0);
	assert_prefixes_need_more(p, 25, FE);
	/* three declared types but room for two */
	memcpy(q, p, sizeof(q));
	q[16] = 3;
	frame_ok(q, 25, FE, &m);
	assert_int_equal(rg_pg_read_parse(&m, &ps), RG_PG_E_TRUNCATED);
	/* query string not terminated */
	frame_ok(BYTES('P', 0, 0, 0, 7, 0, 'S', 'E'), 8, FE, &m);
	assert_int_equal(rg_pg_read_parse(&m, &ps), RG_PG_E_NO_NUL);
}

/* Bind "" "s1", formats [1], params ["42", NULL, ""], result formats [0, 1]. */
/* clang-format off */
static const uint8_t bind_msg[] = {
	'B', 0, 0, 0, 34,
	0,			/* portal "" */
	's', '1', 0,		/* statement */
	0, 1, 0, 1,		/* one format: binary for all */
	0, 3,			/* three params */
	0, 0, 0, 2, '4', '2',
	0xff, 0xff, 0xff, 0xff,
	0, 0, 0, 0,
	0, 2, 0, 0, 0, 1,	/* result formats */
};
/* clang-format on */

static void test_bind_reads_params_as_offsets(void **state)
{
	struct rg_pg_msg m;
	struct rg_pg_bind b;
	struct rg_pg_iter it;
	struct rg_pg_field f;

	(void)state;
	assert_int_equal(sizeof(bind_msg), 35);
	frame_ok(bind_msg, sizeof(bind_msg), FE, &m);
	assert_int_equal(rg_pg_read_bind(&m, &b), 0);
	assert_string_equal(b.portal, "");
	assert_string_equal(b.stmt, "s1");
	assert_int_equal(b.nparams, 3);
	assert_int_equal(rg_pg_bind_param_format(&b, 2), 1);
	assert_int_equal(b.nresult_formats, 2);
	assert_int_equal(rg_pg_bind_result_format(&b, 0), 0);
	assert_int_equal(rg_pg_bind_result_format(&b, 1), 1);
	rg_pg_bind_params(&m, &b, &it);
	assert_int_equal(rg_pg_field_next(&it, &f), 1);
	assert_int_equal(f.len, 2);
	assert_int_equal(f.off, 19);
	assert_ptr_equal(f.data, bind_msg + 19);
	assert_memory_equal(f.data, "42", 2);
	assert_int_equal(rg_pg_field_next(&it, &f), 1);
	assert_int_equal(f.len, -1);
	assert_null(f.data);
	assert_int_equal(rg_pg_field_next(&it, &f), 1);
	assert_int_equal(f.len, 0);
	assert_int_equal(rg_pg_field_next(&it, &f), 0);
	assert_prefixes_need_more(bind_msg, sizeof(bind_msg), FE);
}

static void test_bind_rejects_bad_formats_and_lengths(void **state)
{
	uint8_t q[sizeof(bind_msg)];
	struct rg_pg_msg m;
	struct rg_pg_bind b;

	(void)state;
	/* format code 2 */
	memcpy(q, bind_msg, sizeof(q));
	q[12] = 2;
	frame_ok(q, sizeof(q), FE, &m);
	assert_int_equal(rg_pg_read_bind(&m, &b), RG_PG_E_VALUE);
	/* two formats for three params: shift would misalign, so just patch the count */
	memcpy(q, bind_msg, sizeof(q));
	q[10] = 2;
	frame_ok(q, sizeof(q), FE, &m);
	assert_true(rg_pg_read_bind(&m, &b) < 0);
	/* parameter length -2 */
	memcpy(q, bind_msg, sizeof(q));
	q[24] = 0xfe;
	frame_ok(q, sizeof(q), FE, &m);
	assert_int_equal(rg_pg_read_bind(&m, &b), RG_PG_E_VALUE);
	/* parameter length running past the message */
	memcpy(q, bind_msg, sizeof(q));
	q[17] = 0x7f;
	frame_ok(q, sizeof(q), FE, &m);
	assert_int_equal(rg_pg_read_bind(&m, &b), RG_PG_E_TRUNCATED);
	/* format count 2 with 3 params, layout otherwise valid */
	{
		const uint8_t *x =
		    BYTES('B', 0, 0, 0, 18, 0, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0);

		frame_ok(x, 19, FE, &m);
		assert_int_equal(rg_pg_read_bind(&m, &b), RG_PG_E_VALUE);
	}
}

static void test_describe_close_execute(void **state)
{
	struct rg_pg_msg m;
	struct rg_pg_target t;
	struct rg_pg_execute e;

	(void)state;
	frame_ok(BYTES('D', 0, 0, 0, 8, 'S', 's', '1', 0), 9, FE, &m);
	assert_int_equal(rg_pg_read_describe(&m, &t), 0);
	assert_int_equal(t.kind, 'S');
	assert_string_equal(t.name, "s1");
	frame_ok(BYTES('C', 0, 0, 0, 6, 'P', 0), 7, FE, &m);
	assert_int_equal(rg_pg_read_close(&m, &t), 0);
	assert_int_equal(t.kind, 'P');
	assert_int_equal(t.name_len, 0);
	frame_ok(BYTES('D', 0, 0, 0, 6, 'X', 0), 7, FE, &m);
	assert_int_equal(rg_pg_read_describe(&m, &t), RG_PG_E_VALUE);
	frame_ok(BYTES('E', 0, 0, 0, 9, 0, 0, 0, 0, 10), 10, FE, &m);
	assert_int_equal(rg_pg_read_execute(&m, &e), 0);
	assert_string_equal(e.portal, "");
	assert_int_equal(e.max_rows, 10);
	frame_ok(BYTES('E', 0, 0, 0, 8, 0, 0, 0, 0), 9, FE, &m);
	assert_int_equal(rg_pg_read_execute(&m, &e), RG_PG_E_TRUNCATED);
}

static void test_empty_messages_have_no_body(void **state)
{
	uint8_t buf[8];
	struct rg_pg_msg m;
	struct rg_pg_limits l;

	(void)state;
	assert_int_equal(rg_pg_write_terminate(buf, sizeof(buf)), 5);
	frame_ok(buf, 5, FE, &m);
	assert_int_equal(m.type, 'X');
	assert_int_equal(rg_pg_read_empty(&m), 0);
	/* with a larger limit, a body on Sync is caught by the reader */
	rg_pg_limits_init(&l, RG_PG_FE, 0, 0);
	l.max['S'] = 100;
	frame_ok(BYTES('S', 0, 0, 0, 5, 0), 6, &l, &m);
	assert_int_equal(rg_pg_read_empty(&m), RG_PG_E_TRAILING);
	assert_int_equal(rg_pg_validate(RG_PG_FE, &m), RG_PG_E_TRAILING);
}

static void test_password_and_sasl_roundtrip(void **state)
{
	uint8_t buf[128];
	struct rg_pg_msg m;
	struct rg_pg_query pw;
	struct rg_pg_sasl_initial si;
	const char *first = "n,,n=,r=rOprNGfwEbeRWgbNEkqO";
	ssize_t n;

	(void)state;
	n = rg_pg_write_password(buf, sizeof(buf), "md5abcdef");
	frame_ok(buf, (size_t)n, FE, &m);
	assert_int_equal(rg_pg_read_password(&m, &pw), 0);
	assert_string_equal(pw.sql, "md5abcdef");

	n = rg_pg_write_sasl_initial(buf, sizeof(buf), "SCRAM-SHA-256", (const uint8_t *)first,
				     strlen(first));
	frame_ok(buf, (size_t)n, FE, &m);
	assert_int_equal(rg_pg_read_sasl_initial(&m, &si), 0);
	assert_string_equal(si.mechanism, "SCRAM-SHA-256");
	assert_int_equal(si.data_len, strlen(first));
	assert_memory_equal(si.data, first, strlen(first));
	assert_prefixes_need_more(buf, (size_t)n, FE);

	n = rg_pg_write_sasl_initial(buf, sizeof(buf), "SCRAM-SHA-256", NULL, 0);
	frame_ok(buf, (size_t)n, FE, &m);
	assert_int_equal(rg_pg_read_sasl_initial(&m, &si), 0);
	assert_int_equal(si.data_len, -1);
	assert_null(si.data);

	n = rg_pg_write_sasl_response(buf, sizeof(buf), (const uint8_t *)"c=biws,r=x,p=y", 14);
	frame_ok(buf, (size_t)n, FE, &m);
	assert_int_equal(m.type, 'p');
	assert_int_equal(m.body_len, 14);
	assert_memory_equal(m.body, "c=biws,r=x,p=y", 14);
}

static void test_copy_fail_and_copy_data(void **state)
{
	struct rg_pg_msg m;
	struct rg_pg_query q;

	(void)state;
	frame_ok(BYTES('f', 0, 0, 0, 7, 'n', 'o', 0), 8, FE, &m);
	assert_int_equal(rg_pg_read_copy_fail(&m, &q), 0);
	assert_string_equal(q.sql, "no");
	frame_ok(BYTES('d', 0, 0, 0, 7, 1, 0, 2), 8, FE, &m);
	assert_int_equal(rg_pg_validate(RG_PG_FE, &m), 0);
	frame_ok(BYTES('c', 0, 0, 0, 4), 5, FE, &m);
	assert_int_equal(rg_pg_validate(RG_PG_FE, &m), 0);
}

static void test_function_call_reads_args(void **state)
{
	const uint8_t *p = BYTES('F', 0, 0, 0, 25, 0, 0, 0x03, 0xe8, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1,
				 'a', 0xff, 0xff, 0xff, 0xff, 0, 1);
	struct rg_pg_msg m;
	struct rg_pg_function_call fc;
	struct rg_pg_iter it;
	struct rg_pg_field f;

	(void)state;
	frame_ok(p, 26, FE, &m);
	assert_int_equal(rg_pg_read_function_call(&m, &fc), 0);
	assert_int_equal(fc.oid, 1000);
	assert_int_equal(fc.nargs, 2);
	assert_int_equal(fc.result_format, 1);
	rg_pg_function_args(&m, &fc, &it);
	assert_int_equal(rg_pg_field_next(&it, &f), 1);
	assert_memory_equal(f.data, "a", 1);
	assert_int_equal(rg_pg_field_next(&it, &f), 1);
	assert_int_equal(f.len, -1);
	assert_int_equal(rg_pg_field_next(&it, &f), 0);
}

/* ---- Backend readers ------------------------------------------------------------------ */

static void test_auth_roundtrips(void **state)
{
	uint8_t buf[128];
	struct rg_pg_msg m;
	struct rg_pg_auth a;
	const char *mechs[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
	uint32_t off = 0;
	ssize_t n;

	(void)state;
	n = rg_pg_write_auth_ok(buf, sizeof(buf));
	assert_int_equal(n, 9);
	frame_ok(buf, 9, BE, &m);
	assert_int_equal(rg_pg_read_auth(&m, &a), 0);
	assert_int_equal(a.code, RG_PG_AUTH_OK);

	n = rg_pg_write_auth_cleartext(buf, sizeof(buf));
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(rg_pg_read_auth(&m, &a), 0);
	assert_int_equal(a.code, RG_PG_AUTH_CLEARTEXT);

	n = rg_pg_write_auth_md5(buf, sizeof(buf), BYTES(9, 8, 7, 6));
	assert_int_equal(n, 13);
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(rg_pg_read_auth(&m, &a), 0);
	assert_int_equal(a.code, RG_PG_AUTH_MD5);
	assert_memory_equal(a.salt, BYTES(9, 8, 7, 6), 4);

	n = rg_pg_write_auth_sasl(buf, sizeof(buf), mechs, 2);
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(rg_pg_read_auth(&m, &a), 0);
	assert_int_equal(a.code, RG_PG_AUTH_SASL);
	assert_int_equal(a.nmechanisms, 2);
	assert_string_equal(rg_pg_auth_next_mechanism(&a, &off), "SCRAM-SHA-256-PLUS");
	assert_string_equal(rg_pg_auth_next_mechanism(&a, &off), "SCRAM-SHA-256");
	assert_null(rg_pg_auth_next_mechanism(&a, &off));
	assert_prefixes_need_more(buf, (size_t)n, BE);

	n = rg_pg_write_auth_sasl_continue(buf, sizeof(buf), (const uint8_t *)"r=abc,s=x,i=4096",
					   16);
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(rg_pg_read_auth(&m, &a), 0);
	assert_int_equal(a.code, RG_PG_AUTH_SASL_CONTINUE);
	assert_int_equal(a.data_len, 16);
	assert_memory_equal(a.data, "r=abc,s=x,i=4096", 16);

	n = rg_pg_write_auth_sasl_final(buf, sizeof(buf), (const uint8_t *)"v=xyz", 5);
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(rg_pg_read_auth(&m, &a), 0);
	assert_int_equal(a.code, RG_PG_AUTH_SASL_FINAL);
	assert_memory_equal(a.data, "v=xyz", 5);
	assert_int_equal(rg_pg_write_auth_sasl(buf, sizeof(buf), mechs, 0), RG_PG_E_ARG);
}

static void test_auth_rejects_bad_layouts(void **state)
{
	struct rg_pg_msg m;
	struct rg_pg_auth a;

	(void)state;
	frame_ok(BYTES('R', 0, 0, 0, 8, 0, 0, 0, 99), 9, BE, &m);
	assert_int_equal(rg_pg_read_auth(&m, &a), RG_PG_E_VALUE);
	frame_ok(BYTES('R', 0, 0, 0, 12, 0, 0, 0, 0, 1, 2, 3, 4), 13, BE, &m);
	assert_int_equal(rg_pg_read_auth(&m, &a), RG_PG_E_TRAILING);
	frame_ok(BYTES('R', 0, 0, 0, 10, 0, 0, 0, 5, 1, 2), 11, BE, &m);
	assert_int_equal(rg_pg_read_auth(&m, &a), RG_PG_E_TRUNCATED);
	/* SASL with an empty list, and with an unterminated list */
	frame_ok(BYTES('R', 0, 0, 0, 9, 0, 0, 0, 10, 0), 10, BE, &m);
	assert_int_equal(rg_pg_read_auth(&m, &a), RG_PG_E_VALUE);
	frame_ok(BYTES('R', 0, 0, 0, 10, 0, 0, 0, 10, 'X', 0), 11, BE, &m);
	assert_int_equal(rg_pg_read_auth(&m, &a), RG_PG_E_TRUNCATED);
	frame_ok(BYTES('R', 0, 0, 0, 6, 0, 0), 7, BE, &m);
	assert_int_equal(rg_pg_read_auth(&m, &a), RG_PG_E_TRUNCATED);
}

static void test_param_status_key_data_ready_roundtrip(void **state)
{
	uint8_t buf[300], key[32] = {1};
	struct rg_pg_msg m;
	struct rg_pg_param_status ps;
	struct rg_pg_key_data k;
	uint8_t st;
	ssize_t n;

	(void)state;
	n = rg_pg_write_param_status(buf, sizeof(buf), "server_version", "16.2");
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(rg_pg_read_param_status(&m, &ps), 0);
	assert_string_equal(ps.name, "server_version");
	assert_string_equal(ps.value, "16.2");

	n = rg_pg_write_key_data(buf, sizeof(buf), 1234, BYTES(0xde, 0xad, 0xbe, 0xef), 4);
	assert_int_equal(n, 13);
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(rg_pg_read_key_data(&m, &k), 0);
	assert_int_equal(k.pid, 1234);
	assert_int_equal(k.key_len, 4);
	assert_memory_equal(k.key, BYTES(0xde, 0xad, 0xbe, 0xef), 4);
	n = rg_pg_write_key_data(buf, sizeof(buf), 1, key, sizeof(key));
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(rg_pg_read_key_data(&m, &k), 0);
	assert_int_equal(k.key_len, 32);
	frame_ok(BYTES('K', 0, 0, 0, 11, 0, 0, 0, 1, 1, 2, 3), 12, BE, &m);
	assert_int_equal(rg_pg_read_key_data(&m, &k), RG_PG_E_LENGTH);

	for (const char *s = "ITE"; *s; s++) {
		n = rg_pg_write_ready(buf, sizeof(buf), (uint8_t)*s);
		assert_int_equal(n, 6);
		frame_ok(buf, 6, BE, &m);
		assert_int_equal(rg_pg_read_ready(&m, &st), 0);
		assert_int_equal(st, *s);
	}
	assert_int_equal(rg_pg_write_ready(buf, sizeof(buf), 'X'), RG_PG_E_ARG);
	frame_ok(BYTES('Z', 0, 0, 0, 5, 'X'), 6, BE, &m);
	assert_int_equal(rg_pg_read_ready(&m, &st), RG_PG_E_VALUE);
	frame_ok(BYTES('Z', 0, 0, 0, 4), 5, BE, &m);
	assert_int_equal(rg_pg_read_ready(&m, &st), RG_PG_E_TRUNCATED);
}

/* RowDescription: "id" from table 16384 attnum 1 int4; "?column?" computed text. */
/* clang-format off */
static const uint8_t rowdesc_msg[] = {
	'T', 0, 0, 0, 54, 0, 2,
	'i', 'd', 0, 0, 0, 0x40, 0, 0, 1, 0, 0, 0, 23, 0, 4, 0xff, 0xff, 0xff, 0xff, 0, 0,
	'?', 'c', 'o', 'l', 'u', 'm', 'n', '?', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0, 1,
};
/* clang-format on */

static void test_rowdesc_reports_column_origins(void **state)
{
	struct rg_pg_msg m;
	struct rg_pg_column cols[2];
	uint16_t count;

	(void)state;
	frame_ok(rowdesc_msg, sizeof(rowdesc_msg), BE, &m);
	assert_int_equal(rg_pg_read_rowdesc(&m, cols, 2, &count), 0);
	assert_int_equal(count, 2);
	assert_string_equal(cols[0].name, "id");
	assert_int_equal(cols[0].table_oid, 16384);
	assert_int_equal(cols[0].attnum, 1);
	assert_int_equal(cols[0].type_oid, 23);
	assert_int_equal(cols[0].typlen, 4);
	assert_int_equal(cols[0].typmod, -1);
	assert_int_equal(cols[0].format, 0);
	assert_string_equal(cols[1].name, "?column?");
	assert_int_equal(cols[1].table_oid, 0);
	assert_int_equal(cols[1].attnum, 0);
	assert_int_equal(cols[1].typlen, -1);
	assert_int_equal(cols[1].format, 1);
	assert_int_equal(rg_pg_read_rowdesc(&m, cols, 1, &count), RG_PG_E_TOO_MANY);
	assert_int_equal(count, 2);
	assert_int_equal(rg_pg_validate(RG_PG_BE, &m), 0);
	assert_prefixes_need_more(rowdesc_msg, sizeof(rowdesc_msg), BE);
}

static void test_rowdesc_rejects_truncated_and_trailing(void **state)
{
	uint8_t q[sizeof(rowdesc_msg) + 1];
	struct rg_pg_msg m;
	struct rg_pg_column cols[4];
	uint16_t count;

	(void)state;
	memcpy(q, rowdesc_msg, sizeof(rowdesc_msg));
	q[6] = 3; /* claims three columns */
	frame_ok(q, sizeof(rowdesc_msg), BE, &m);
	assert_int_equal(rg_pg_read_rowdesc(&m, cols, 4, &count), RG_PG_E_TRUNCATED);
	q[6] = 1;
	frame_ok(q, sizeof(rowdesc_msg), BE, &m);
	assert_int_equal(rg_pg_read_rowdesc(&m, cols, 4, &count), RG_PG_E_TRAILING);
	q[6] = 2;
	q[4] = 55;
	q[sizeof(rowdesc_msg)] = 0;
	frame_ok(q, sizeof(q), BE, &m);
	assert_int_equal(rg_pg_read_rowdesc(&m, cols, 4, &count), RG_PG_E_TRAILING);
}

static void test_datarow_roundtrip_with_offsets(void **state)
{
	const struct rg_pg_field in[] = {
	    {.data = (const uint8_t *)"4111111111111111", .len = 16},
	    {.data = NULL, .len = -1},
	    {.data = (const uint8_t *)"", .len = 0},
	    {.data = (const uint8_t *)"bob@example.com", .len = 15},
	};
	uint8_t buf[128];
	struct rg_pg_field out[4];
	struct rg_pg_msg m;
	uint16_t count;
	ssize_t n;

	(void)state;
	n = rg_pg_write_datarow(buf, sizeof(buf), in, 4);
	assert_int_equal(n, 7 + 4 * 4 + 16 + 15);
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(rg_pg_read_datarow(&m, out, 4, &count), 0);
	assert_int_equal(count, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(out[i].len, in[i].len);
		if (in[i].len > 0)
			assert_memory_equal(out[i].data, in[i].data, (size_t)in[i].len);
		if (out[i].data)
			assert_ptr_equal(out[i].data, buf + out[i].off);
	}
	assert_int_equal(out[0].off, 11);
	assert_int_equal(out[3].off, 11 + 16 + 4 + 4 + 4);
	assert_prefixes_need_more(buf, (size_t)n, BE);
}

static void test_datarow_null_field(void **state)
{
	struct rg_pg_msg m;
	struct rg_pg_iter it;
	struct rg_pg_field f;
	uint16_t count;

	(void)state;
	frame_ok(BYTES('D', 0, 0, 0, 10, 0, 1, 0xff, 0xff, 0xff, 0xff), 11, BE, &m);
	assert_int_equal(rg_pg_datarow_begin(&m, &it, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(rg_pg_field_next(&it, &f), 1);
	assert_int_equal(f.len, -1);
	assert_null(f.data);
	assert_int_equal(f.off, 11);
	assert_int_equal(rg_pg_field_next(&it, &f), 0);
	assert_int_equal(rg_pg_field_next(&it, &f), 0);
}

static void test_datarow_rejects_bad_field_lengths(void **state)
{
	struct rg_pg_msg m;
	struct rg_pg_field f[2];
	uint16_t count;

	(void)state;
	frame_ok(BYTES('D', 0, 0, 0, 10, 0, 1, 0xff, 0xff, 0xff, 0xfe), 11, BE, &m);
	assert_int_equal(rg_pg_read_datarow(&m, f, 2, &count), RG_PG_E_VALUE);
	frame_ok(BYTES('D', 0, 0, 0, 11, 0, 1, 0, 0, 0, 2, 'a'), 12, BE, &m);
	assert_int_equal(rg_pg_read_datarow(&m, f, 2, &count), RG_PG_E_TRUNCATED);
	frame_ok(BYTES('D', 0, 0, 0, 11, 0, 1, 0, 0, 0, 0, 'a'), 12, BE, &m);
	assert_int_equal(rg_pg_read_datarow(&m, f, 2, &count), RG_PG_E_TRAILING);
	frame_ok(BYTES('D', 0, 0, 0, 9, 0, 2, 0, 0, 0), 10, BE, &m);
	assert_int_equal(rg_pg_read_datarow(&m, f, 2, &count), RG_PG_E_TRUNCATED);
	frame_ok(BYTES('D', 0, 0, 0, 5, 0), 6, BE, &m);
	assert_int_equal(rg_pg_read_datarow(&m, f, 2, &count), RG_PG_E_TRUNCATED);
	frame_ok(BYTES('D', 0, 0, 0, 6, 0, 3), 7, BE, &m);
	assert_int_equal(rg_pg_read_datarow(&m, f, 2, &count), RG_PG_E_TOO_MANY);
	assert_int_equal(count, 3);
}

static void test_row_stream_matches_datarow_for_every_chunk_size(void **state)
{
	const struct rg_pg_field in[] = {
	    {.data = (const uint8_t *)"4111111111111111", .len = 16},
	    {.data = NULL, .len = -1},
	    {.data = (const uint8_t *)"", .len = 0},
	    {.data = (const uint8_t *)"bob@example.com", .len = 15},
	};
	uint8_t buf[128];
	struct rg_pg_msg m;
	ssize_t n;

	(void)state;
	n = rg_pg_write_datarow(buf, sizeof(buf), in, 4);
	frame_ok(buf, (size_t)n, BE, &m);
	for (size_t chunk = 1; chunk <= m.body_len; chunk++)
		assert_int_equal(stream_datarow(&m, chunk), 0);
	n = rg_pg_write_datarow(buf, sizeof(buf), in, 0);
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(stream_datarow(&m, 1), 0);
}

static void test_row_stream_rejects_what_datarow_rejects(void **state)
{
	const uint8_t *bad[] = {
	    BYTES('D', 0, 0, 0, 10, 0, 1, 0xff, 0xff, 0xff, 0xfe), /* length -2 */
	    BYTES('D', 0, 0, 0, 11, 0, 1, 0, 0, 0, 2, 'a'),	   /* field past the body */
	    BYTES('D', 0, 0, 0, 11, 0, 1, 0, 0, 0, 0, 'a'),	   /* trailing byte */
	    BYTES('D', 0, 0, 0, 9, 0, 2, 0, 0, 0),		   /* second length cut */
	    BYTES('D', 0, 0, 0, 5, 0),				   /* count cut */
	    BYTES('D', 0, 0, 0, 7, 0, 0, 'x'),			   /* no fields, trailing */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rg_pg_msg m;
		size_t total = 1 + ((size_t)bad[i][3] << 8 | bad[i][4]);

		frame_ok(bad[i], total, BE, &m);
		for (size_t chunk = 1; chunk <= m.body_len + 1; chunk++)
			assert_true(stream_datarow(&m, chunk) < 0);
	}
}

static void test_readers_refuse_incomplete_message(void **state)
{
	struct rg_pg_msg m;
	struct rg_pg_query q;

	(void)state;
	assert_int_equal(rg_pg_frame(BYTES('Q', 0, 0, 0, 9, 'a'), 6, FE, &m), 0);
	assert_int_equal(rg_pg_read_query(&m, &q), RG_PG_E_WRONG_TYPE);
	assert_int_equal(rg_pg_validate(RG_PG_FE, &m), RG_PG_E_WRONG_TYPE);
}

static void test_command_complete_roundtrip_and_rows(void **state)
{
	uint8_t buf[64];
	struct rg_pg_msg m;
	struct rg_pg_command_complete cc;
	uint64_t rows = 0;
	ssize_t n;

	(void)state;
	n = rg_pg_write_command_complete(buf, sizeof(buf), "INSERT 0 17");
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(rg_pg_read_command_complete(&m, &cc), 0);
	assert_string_equal(cc.tag, "INSERT 0 17");
	assert_true(rg_pg_command_rows(cc.tag, &rows));
	assert_int_equal(rows, 17);
	assert_true(rg_pg_command_rows("SELECT 0", &rows));
	assert_int_equal(rows, 0);
	assert_false(rg_pg_command_rows("CREATE TABLE", &rows));
	assert_false(rg_pg_command_rows("BEGIN", &rows));
	assert_false(rg_pg_command_rows("SELECT ", &rows));
	assert_false(rg_pg_command_rows("SELECT 99999999999999999999999", &rows));
}

static void test_error_response_roundtrip(void **state)
{
	uint8_t buf[256];
	struct rg_pg_msg m;
	struct rg_pg_notice e;
	ssize_t n;

	(void)state;
	n = rg_pg_write_error(buf, sizeof(buf), "ERROR", "42501", "ringgate: DROP is not allowed",
			      "rule no-drop", "ask for approval");
	assert_true(n > 0 && (size_t)n <= sizeof(buf));
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(m.type, 'E');
	assert_int_equal(rg_pg_read_notice(&m, &e), 0);
	assert_string_equal(e.severity, "ERROR");
	assert_string_equal(e.severity_nl, "ERROR");
	assert_string_equal(e.sqlstate, "42501");
	assert_string_equal(e.message, "ringgate: DROP is not allowed");
	assert_string_equal(e.detail, "rule no-drop");
	assert_string_equal(e.hint, "ask for approval");
	assert_null(e.where);
	assert_prefixes_need_more(buf, (size_t)n, BE);
	assert_int_equal(rg_pg_write_error(buf, sizeof(buf), "ERROR", "425", "x", NULL, NULL),
			 RG_PG_E_ARG);
}

static void test_notice_roundtrip_with_every_field(void **state)
{
	const struct rg_pg_notice in = {
	    .severity = "AVERTISSEMENT",
	    .severity_nl = "WARNING",
	    .sqlstate = "01000",
	    .message = "m",
	    .detail = "d",
	    .hint = "h",
	    .position = "7",
	    .internal_position = "3",
	    .internal_query = "iq",
	    .where = "w",
	    .schema = "public",
	    .table = "t",
	    .column = "c",
	    .datatype = "int4",
	    .constraint = "k",
	    .file = "elog.c",
	    .line = "42",
	    .routine = "errfinish",
	};
	uint8_t buf[512];
	struct rg_pg_msg m;
	struct rg_pg_notice out;
	ssize_t n;

	(void)state;
	n = rg_pg_write_notice(buf, sizeof(buf), 'N', &in);
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(rg_pg_read_notice(&m, &out), 0);
	for (size_t i = 0; i < sizeof(in) / sizeof(char *); i++)
		assert_string_equal(((const char *const *)&in)[i], ((const char *const *)&out)[i]);
	assert_int_equal(rg_pg_write_notice(buf, sizeof(buf), 'Q', &in), RG_PG_E_ARG);
}

static void test_notice_iterator_skips_unknown_and_rejects_garbage(void **state)
{
	struct rg_pg_msg m;
	struct rg_pg_iter it;
	struct rg_pg_notice e;
	uint8_t code;
	const char *v;

	(void)state;
	frame_ok(BYTES('N', 0, 0, 0, 11, 'Z', 'z', 0, 'M', 'x', 0, 0), 12, BE, &m);
	assert_int_equal(rg_pg_notice_begin(&m, &it), 0);
	assert_int_equal(rg_pg_notice_next(&it, &code, &v), 1);
	assert_int_equal(code, 'Z');
	assert_string_equal(v, "z");
	assert_int_equal(rg_pg_notice_next(&it, &code, &v), 1);
	assert_int_equal(rg_pg_notice_next(&it, &code, &v), 0);
	assert_int_equal(rg_pg_read_notice(&m, &e), 0);
	assert_string_equal(e.message, "x");
	/* no terminator, unterminated value, bytes after the terminator */
	frame_ok(BYTES('E', 0, 0, 0, 7, 'M', 'x', 0), 8, BE, &m);
	assert_int_equal(rg_pg_read_notice(&m, &e), RG_PG_E_TRUNCATED);
	frame_ok(BYTES('E', 0, 0, 0, 7, 'M', 'x', 'y'), 8, BE, &m);
	assert_int_equal(rg_pg_read_notice(&m, &e), RG_PG_E_NO_NUL);
	frame_ok(BYTES('E', 0, 0, 0, 6, 0, 'M'), 7, BE, &m);
	assert_int_equal(rg_pg_read_notice(&m, &e), RG_PG_E_TRAILING);
}

static void test_notification_copy_paramdesc_function_result(void **state)
{
	struct rg_pg_msg m;
	struct rg_pg_notification nf;
	struct rg_pg_copy_response cr;
	struct rg_pg_param_desc pd;
	struct rg_pg_field f;

	(void)state;
	frame_ok(BYTES('A', 0, 0, 0, 15, 0, 0, 0, 9, 'c', 'h', 0, 'p', 'a', 'y', 0), 16, BE, &m);
	assert_int_equal(rg_pg_read_notification(&m, &nf), 0);
	assert_int_equal(nf.pid, 9);
	assert_string_equal(nf.channel, "ch");
	assert_string_equal(nf.payload, "pay");

	for (const char *t = "GHW"; *t; t++) {
		const uint8_t b[] = {(uint8_t)*t, 0, 0, 0, 11, 1, 0, 2, 0, 1, 0, 0};

		frame_ok(b, sizeof(b), BE, &m);
		assert_int_equal(rg_pg_read_copy_response(&m, &cr), 0);
		assert_int_equal(cr.format, 1);
		assert_int_equal(cr.ncolumns, 2);
	}
	frame_ok(BYTES('G', 0, 0, 0, 7, 2, 0, 0), 8, BE, &m);
	assert_int_equal(rg_pg_read_copy_response(&m, &cr), RG_PG_E_VALUE);

	frame_ok(BYTES('t', 0, 0, 0, 14, 0, 2, 0, 0, 0, 23, 0, 0, 0, 25), 15, BE, &m);
	assert_int_equal(rg_pg_read_param_desc(&m, &pd), 0);
	assert_int_equal(pd.nparams, 2);
	frame_ok(BYTES('t', 0, 0, 0, 10, 0, 2, 0, 0, 0, 23), 11, BE, &m);
	assert_int_equal(rg_pg_read_param_desc(&m, &pd), RG_PG_E_TRUNCATED);

	frame_ok(BYTES('V', 0, 0, 0, 9, 0, 0, 0, 1, 'x'), 10, BE, &m);
	assert_int_equal(rg_pg_read_function_result(&m, &f), 0);
	assert_int_equal(f.len, 1);
	frame_ok(BYTES('V', 0, 0, 0, 10, 0, 0, 0, 1, 'x', 'y'), 11, BE, &m);
	assert_int_equal(rg_pg_read_function_result(&m, &f), RG_PG_E_TRAILING);
	frame_ok(BYTES('V', 0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff), 9, BE, &m);
	assert_int_equal(rg_pg_read_function_result(&m, &f), 0);
	assert_int_equal(f.len, -1);
}

static void test_negotiate_roundtrip(void **state)
{
	const char *opts[] = {"_pq_.a", "_pq_.b"};
	uint8_t buf[64];
	struct rg_pg_msg m;
	struct rg_pg_negotiate ng;
	uint32_t off = 0;
	ssize_t n;

	(void)state;
	n = rg_pg_write_negotiate(buf, sizeof(buf), RG_PG_PROTO_30, opts, 2);
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(rg_pg_read_negotiate(&m, &ng), 0);
	assert_int_equal(ng.version, 196608);
	assert_int_equal(ng.noptions, 2);
	assert_string_equal(rg_pg_negotiate_next_option(&ng, &off), "_pq_.a");
	assert_string_equal(rg_pg_negotiate_next_option(&ng, &off), "_pq_.b");
	assert_null(rg_pg_negotiate_next_option(&ng, &off));
	buf[12] = 3; /* claims three options */
	frame_ok(buf, (size_t)n, BE, &m);
	assert_int_equal(rg_pg_read_negotiate(&m, &ng), RG_PG_E_TRUNCATED);
}

static void test_empty_query_and_no_body_backend_messages(void **state)
{
	uint8_t buf[8];
	struct rg_pg_msg m;

	(void)state;
	assert_int_equal(rg_pg_write_empty_query(buf, sizeof(buf)), 5);
	frame_ok(buf, 5, BE, &m);
	assert_int_equal(m.type, 'I');
	assert_int_equal(rg_pg_validate(RG_PG_BE, &m), 0);
	for (const char *t = "123nsc"; *t; t++) {
		const uint8_t b[] = {(uint8_t)*t, 0, 0, 0, 4};

		frame_ok(b, 5, BE, &m);
		assert_int_equal(rg_pg_validate(RG_PG_BE, &m), 0);
	}
}

/*
 * Every sample message: every strict prefix is "need more"; the whole message validates;
 * shrinking its length field by k bytes never crashes a reader (errors are fine).
 */
static void test_truncation_at_every_offset_of_samples(void **state)
{
	uint8_t buf[4096];
	size_t off = 0;
	size_t starts[64], nsamples = 0;
	enum rg_pg_dir dirs[64];
	const struct rg_pg_field row[] = {{(const uint8_t *)"x", 1, 0}, {NULL, -1, 0}};
	const char *mechs[] = {"SCRAM-SHA-256"};
	const char *opts[] = {"_pq_.x"};

#define ADD(dir, call)                                                                             \
	do {                                                                                       \
		ssize_t _n = (call);                                                               \
		assert_true(_n > 0);                                                               \
		starts[nsamples] = off;                                                            \
		dirs[nsamples++] = dir;                                                            \
		off += (size_t)_n;                                                                 \
	} while (0)
#define ADD_RAW(dir, arr)                                                                          \
	do {                                                                                       \
		memcpy(buf + off, arr, sizeof(arr));                                               \
		starts[nsamples] = off;                                                            \
		dirs[nsamples++] = dir;                                                            \
		off += sizeof(arr);                                                                \
	} while (0)

	(void)state;
	ADD(RG_PG_FE, rg_pg_write_query(buf + off, sizeof(buf) - off, "SELECT 1", 8));
	ADD(RG_PG_FE, rg_pg_write_password(buf + off, sizeof(buf) - off, "pw"));
	ADD(RG_PG_FE, rg_pg_write_sasl_initial(buf + off, sizeof(buf) - off, "SCRAM-SHA-256",
					       (const uint8_t *)"n,,n=,r=x", 9));
	ADD(RG_PG_FE,
	    rg_pg_write_sasl_response(buf + off, sizeof(buf) - off, (const uint8_t *)"c=biws", 6));
	ADD(RG_PG_FE, rg_pg_write_terminate(buf + off, sizeof(buf) - off));
	ADD_RAW(RG_PG_FE, bind_msg);
	ADD(RG_PG_BE, rg_pg_write_error(buf + off, sizeof(buf) - off, "FATAL", "28P01",
					"password authentication failed", NULL, NULL));
	ADD(RG_PG_BE, rg_pg_write_auth_ok(buf + off, sizeof(buf) - off));
	ADD(RG_PG_BE, rg_pg_write_auth_md5(buf + off, sizeof(buf) - off, BYTES(1, 2, 3, 4)));
	ADD(RG_PG_BE, rg_pg_write_auth_sasl(buf + off, sizeof(buf) - off, mechs, 1));
	ADD(RG_PG_BE, rg_pg_write_auth_sasl_continue(buf + off, sizeof(buf) - off,
						     (const uint8_t *)"r=1", 3));
	ADD(RG_PG_BE,
	    rg_pg_write_auth_sasl_final(buf + off, sizeof(buf) - off, (const uint8_t *)"v=1", 3));
	ADD(RG_PG_BE, rg_pg_write_param_status(buf + off, sizeof(buf) - off, "TimeZone", "UTC"));
	ADD(RG_PG_BE, rg_pg_write_key_data(buf + off, sizeof(buf) - off, 1, BYTES(1, 2, 3, 4), 4));
	ADD(RG_PG_BE, rg_pg_write_ready(buf + off, sizeof(buf) - off, 'I'));
	ADD_RAW(RG_PG_BE, rowdesc_msg);
	ADD(RG_PG_BE, rg_pg_write_datarow(buf + off, sizeof(buf) - off, row, 2));
	ADD(RG_PG_BE, rg_pg_write_command_complete(buf + off, sizeof(buf) - off, "SELECT 1"));
	ADD(RG_PG_BE, rg_pg_write_empty_query(buf + off, sizeof(buf) - off));
	ADD(RG_PG_BE, rg_pg_write_negotiate(buf + off, sizeof(buf) - off, RG_PG_PROTO_30, opts, 1));
	starts[nsamples] = off;

	for (size_t i = 0; i < nsamples; i++) {
		const uint8_t *p = buf + starts[i];
		size_t n = starts[i + 1] - starts[i];
		const struct rg_pg_limits *lim = rg_pg_limits_default(dirs[i]);
		struct rg_pg_msg m;

		assert_prefixes_need_more(p, n, lim);
		frame_ok(p, n, lim, &m);
		assert_int_equal(rg_pg_validate(dirs[i], &m), 0);
		if (dirs[i] == RG_PG_BE && m.type == 'D')
			assert_int_equal(stream_datarow(&m, 3), 0);
		for (size_t k = 1; k <= n - 5; k++) {
			uint8_t *q = dup_bytes(p, n - k);
			uint32_t len = (uint32_t)(n - k - 1);

			q[1] = (uint8_t)(len >> 24), q[2] = (uint8_t)(len >> 16);
			q[3] = (uint8_t)(len >> 8), q[4] = (uint8_t)len;
			frame_ok(q, n - k, lim, &m);
			(void)rg_pg_validate(dirs[i], &m);
			if (dirs[i] == RG_PG_BE && m.type == 'D')
				(void)stream_datarow(&m, 2);
			free(q);
		}
	}
	/* The whole stream frames message by message. */
	for (size_t pos = 0, i = 0; pos < off; i++) {
		struct rg_pg_msg m;
		ssize_t r = rg_pg_frame(buf + pos, off - pos, rg_pg_limits_default(dirs[i]), &m);

		assert_int_equal(r, (ssize_t)(starts[i + 1] - starts[i]));
		pos += (size_t)r;
	}
#undef ADD
#undef ADD_RAW
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame_needs_more_on_empty_input),
	    cmocka_unit_test(test_frame_needs_more_on_partial_header),
	    cmocka_unit_test(test_frame_reports_total_once_header_known),
	    cmocka_unit_test(test_frame_streams_large_datarow_header),
	    cmocka_unit_test(test_frame_consumes_exactly_one_message),
	    cmocka_unit_test(test_length_below_four_is_error),
	    cmocka_unit_test(test_negative_length_is_error),
	    cmocka_unit_test(test_frame_rejects_oversized_for_type),
	    cmocka_unit_test(test_frame_rejects_unknown_type_on_first_byte),
	    cmocka_unit_test(test_limits_default_matches_init),
	    cmocka_unit_test(test_msg_view_requires_exact_length),
	    cmocka_unit_test(test_strerror_names_every_error),
	    cmocka_unit_test(test_startup_parses_params),
	    cmocka_unit_test(test_startup_accepts_empty_parameter_list),
	    cmocka_unit_test(test_startup_reports_minor_version_for_negotiation),
	    cmocka_unit_test(test_startup_rejects_oversized_packet),
	    cmocka_unit_test(test_startup_rejects_short_length),
	    cmocka_unit_test(test_ssl_and_gssenc_requests),
	    cmocka_unit_test(test_ssl_request_with_wrong_length_is_error),
	    cmocka_unit_test(test_cancel_request_roundtrip),
	    cmocka_unit_test(test_cancel_request_with_bad_length_is_error),
	    cmocka_unit_test(test_startup_rejects_unknown_request_code),
	    cmocka_unit_test(test_startup_rejects_protocol_2_and_4),
	    cmocka_unit_test(test_startup_detects_direct_tls),
	    cmocka_unit_test(test_startup_rejects_bad_parameter_layout),
	    cmocka_unit_test(test_startup_rejects_duplicate_user),
	    cmocka_unit_test(test_startup_builder_enforces_limit),
	    cmocka_unit_test(test_query_roundtrip),
	    cmocka_unit_test(test_query_rejects_missing_nul_and_trailing_bytes),
	    cmocka_unit_test(test_query_builder_rejects_embedded_nul),
	    cmocka_unit_test(test_builder_returns_needed_size_without_overflow),
	    cmocka_unit_test(test_parse_reads_statement_query_and_types),
	    cmocka_unit_test(test_bind_reads_params_as_offsets),
	    cmocka_unit_test(test_bind_rejects_bad_formats_and_lengths),
	    cmocka_unit_test(test_describe_close_execute),
	    cmocka_unit_test(test_empty_messages_have_no_body),
	    cmocka_unit_test(test_password_and_sasl_roundtrip),
	    cmocka_unit_test(test_copy_fail_and_copy_data),
	    cmocka_unit_test(test_function_call_reads_args),
	    cmocka_unit_test(test_auth_roundtrips),
	    cmocka_unit_test(test_auth_rejects_bad_layouts),
	    cmocka_unit_test(test_param_status_key_data_ready_roundtrip),
	    cmocka_unit_test(test_rowdesc_reports_column_origins),
	    cmocka_unit_test(test_rowdesc_rejects_truncated_and_trailing),
	    cmocka_unit_test(test_datarow_roundtrip_with_offsets),
	    cmocka_unit_test(test_datarow_null_field),
	    cmocka_unit_test(test_datarow_rejects_bad_field_lengths),
	    cmocka_unit_test(test_row_stream_matches_datarow_for_every_chunk_size),
	    cmocka_unit_test(test_row_stream_rejects_what_datarow_rejects),
	    cmocka_unit_test(test_readers_refuse_incomplete_message),
	    cmocka_unit_test(test_command_complete_roundtrip_and_rows),
	    cmocka_unit_test(test_error_response_roundtrip),
	    cmocka_unit_test(test_notice_roundtrip_with_every_field),
	    cmocka_unit_test(test_notice_iterator_skips_unknown_and_rejects_garbage),
	    cmocka_unit_test(test_notification_copy_paramdesc_function_result),
	    cmocka_unit_test(test_negotiate_roundtrip),
	    cmocka_unit_test(test_empty_query_and_no_body_backend_messages),
	    cmocka_unit_test(test_truncation_at_every_offset_of_samples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
