/*
 * Unit tests for sessions and replays read back from the trails (engine/evidence/replay.c):
 * an audit trail and a recordings trail are written with rg_audit_append as the gateway
 * would (events as JSON; chunks of recording entries, zstd-compressed), then read back.
 * The list's filters (sub, target, time, denials); a replay's statements with their text and
 * verdict from the audit trail and results, errors, notices, copy data and times from the
 * agent's bytes, in the order they came (a message split across chunks included); values
 * that are not UTF-8 become U+FFFD (kept as bytes on request); max_rows; truncation, a
 * missing chunk, an unknown and an unrecorded session.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include <cmocka.h>

#include "evidence.h"

struct fx {
	char dir[64], audit[96], rec[96], key[96];
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	FILE *f;

	snprintf(x->dir, sizeof(x->dir), "/tmp/rg-replay-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->audit, sizeof(x->audit), "%s/audit", x->dir);
	snprintf(x->rec, sizeof(x->rec), "%s/recordings", x->dir);
	snprintf(x->key, sizeof(x->key), "%s/k.pem", x->dir);
	assert_non_null(k);
	f = fopen(x->key, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	EVP_PKEY_free(k);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
	assert_int_equal(system(cmd), 0);
	free(x);
	return 0;
}

static struct rg_audit *open_trail(const char *dir, const char *key)
{
	struct rg_audit_opts o = {.dir = dir, .key_file = key};
	struct rg_audit *a = NULL;
	char err[600];

	assert_int_equal(rg_audit_open(&o, &a, err, sizeof(err)), 0);
	return a;
}

static void ev(struct rg_audit *a, const char *json)
{
	assert_int_equal(rg_audit_append(a, RG_AUDIT_EVENT, json, strlen(json)), 0);
}

/* ---- recording entries, as engine/proto/pg/record.c writes them ------------------------- */

struct buf {
	uint8_t b[8192];
	size_t n;
};

static void entry(struct buf *b, char kind, uint64_t t, const void *p, uint32_t len)
{
	b->b[b->n] = (uint8_t)kind;
	memcpy(b->b + b->n + 1, &t, 8);
	memcpy(b->b + b->n + 9, &len, 4);
	memcpy(b->b + b->n + 13, p, len);
	b->n += 13 + len;
}

static void stmt_marker(struct buf *b, uint64_t t, uint32_t n)
{
	entry(b, 'S', t, &n, 4);
}

/* A backend message: type, then its body with the length in front. */
static size_t msg(uint8_t *out, char type, const void *body, uint32_t len)
{
	uint32_t l = len + 4;

	out[0] = (uint8_t)type;
	out[1] = (uint8_t)(l >> 24);
	out[2] = (uint8_t)(l >> 16);
	out[3] = (uint8_t)(l >> 8);
	out[4] = (uint8_t)l;
	memcpy(out + 5, body, len);
	return 5 + len;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* RowDescription of (name text-or-int4 ...) */
static size_t row_desc(uint8_t *out, const char *const *names, const uint32_t *oids, int n)
{
	uint8_t body[512];
	size_t o = 2;

	put16(body, (uint16_t)n);
	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]) + 1;

		memcpy(body + o, names[i], l);
		o += l;
		memset(body + o, 0, 18);
		put32(body + o + 6, oids[i]);
		o += 18;
	}
	return msg(out, 'T', body, (uint32_t)o);
}

static size_t data_row(uint8_t *out, const char *const *vals, int n)
{
	uint8_t body[512];
	size_t o = 2;

	put16(body, (uint16_t)n);
	for (int i = 0; i < n; i++) {
		if (!vals[i]) {
			put32(body + o, 0xffffffffu);
			o += 4;
			continue;
		}
		put32(body + o, (uint32_t)strlen(vals[i]));
		memcpy(body + o + 4, vals[i], strlen(vals[i]));
		o += 4 + strlen(vals[i]);
	}
	return msg(out, 'D', body, (uint32_t)o);
}

static size_t notice(uint8_t *out, char type, const char *sev, const char *code, const char *m)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "S%s%cC%s%cM%s%c", sev, 0, code, 0, m, 0);

	body[n] = 0; /* the terminating field type */
	return msg(out, type, body, (uint32_t)n + 1);
}

static void chunk(struct rg_audit *a, uint64_t sess, uint32_t no, const struct buf *b)
{
	size_t cap = ZSTD_compressBound(b->n);
	uint8_t *p = malloc(16 + cap);
	uint32_t raw = (uint32_t)b->n;
	size_t z;

	assert_non_null(p);
	memcpy(p, &sess, 8);
	memcpy(p + 8, &no, 4);
	memcpy(p + 12, &raw, 4);
	z = ZSTD_compress(p + 16, cap, b->b, b->n, 1);
	assert_false(ZSTD_isError(z));
	assert_int_equal(rg_audit_append(a, RG_AUDIT_EVENT, p, 16 + z), 0);
	free(p);
}

#define S1 1001
#define S2 1002
#define S3 1003 /* not recorded */
#define S4 1004 /* a chunk missing, truncated */

static void write_trails(struct fx *x)
{
	struct rg_audit *a = open_trail(x->audit, x->key), *r = open_trail(x->rec, x->key);
	static const char *const cols[] = {"id", "card"};
	static const uint32_t oids[] = {23, 25};
	static const char *const r1[] = {"7", NULL}, *const r2[] = {"4242", "************1111"};
	static const char *const r3[] = {"1", "caf\xe9"}; /* LATIN1 bytes */
	struct buf b = {0};
	uint8_t m[1024];
	size_t n;

	ev(a, "{\"event\":\"gateway_start\"}");
	ev(a, "{\"event\":\"auth_ok\",\"session\":1001,\"identity\":{\"iss\":\"https://i/\","
	      "\"sub\":\"agent-1\",\"groups\":[\"ci\"]},\"client\":\"127.0.0.1:5000\","
	      "\"target\":\"appdb\"}");
	ev(a, "{\"event\":\"session_start\",\"session\":1001,\"identity\":{\"iss\":\"https://i/\","
	      "\"sub\":\"agent-1\",\"groups\":[\"ci\"]},\"client\":\"127.0.0.1:5000\","
	      "\"target\":\"appdb\",\"role\":\"app\",\"recorded\":true}");
	ev(a, "{\"event\":\"auth_ok\",\"session\":1002,\"identity\":{\"iss\":\"https://i/\","
	      "\"sub\":\"agent-2\"},\"client\":\"127.0.0.1:5001\",\"target\":\"other\"}");
	ev(a, "{\"event\":\"stmt\",\"session\":1001,\"n\":1,\"kind\":\"query\","
	      "\"sql\":\"SELECT id, card FROM customers WHERE id > $1\",\"verdict\":\"allow\"}");
	ev(a, "{\"event\":\"stmt\",\"session\":1001,\"n\":2,\"kind\":\"query\","
	      "\"sql\":\"DROP TABLE customers\",\"verdict\":\"deny\",\"rule\":\"b.no-drop\"}");
	ev(a, "{\"event\":\"stmt\",\"session\":1002,\"n\":1,\"kind\":\"query\","
	      "\"sql\":\"SELECT $1\",\"verdict\":\"allow\"}");
	ev(a, "{\"event\":\"session_end\",\"session\":1001,\"reason\":\"terminate\","
	      "\"statements\":3,\"denials\":1,\"bytes_out\":100}");
	ev(a, "{\"event\":\"auth_ok\",\"session\":1003,\"identity\":{\"sub\":\"agent-3\"},"
	      "\"target\":\"appdb\"}");
	ev(a, "{\"event\":\"session_end\",\"session\":1003,\"reason\":\"eof\","
	      "\"statements\":0,\"denials\":0}");
	ev(a, "{\"event\":\"auth_ok\",\"session\":1004,\"identity\":{\"sub\":\"agent-4\"},"
	      "\"target\":\"appdb\"}");

	/* session 1001: a notice at login (before any statement), a masked SELECT whose
	 * DataRow is split across two chunks, the denied DROP, COPY data, a third statement
	 * not in the audit trail with a value that is not UTF-8 */
	n = notice(m, 'N', "NOTICE", "00000", "welcome");
	entry(&b, 'B', 5, m, (uint32_t)n);
	stmt_marker(&b, 1000, 1);
	n = row_desc(m, cols, oids, 2);
	n += data_row(m + n, r1, 2);
	n += data_row(m + n, r2, 2);
	entry(&b, 'B', 1500, m, (uint32_t)n - 10); /* the second row's end in the next chunk */
	chunk(r, S1, 0, &b);
	b.n = 0;
	{
		uint8_t rest[256];
		size_t k = 0;

		memcpy(rest, m + n - 10, 10);
		k = 10;
		k += msg(rest + k, 'C', "SELECT 2", 9);
		k += msg(rest + k, 'Z', "I", 1);
		entry(&b, 'B', 3500, rest, (uint32_t)k);
	}
	stmt_marker(&b, 5000, 2);
	n = notice(m, 'E', "ERROR", "42501", "denied by policy rule b.no-drop");
	n += msg(m + n, 'Z', "I", 1);
	entry(&b, 'B', 5200, m, (uint32_t)n);
	stmt_marker(&b, 8000, 3);
	n = msg(m, 'H', "\0\0\0", 3);
	n += msg(m + n, 'd', "1\tx\n", 4);
	n += msg(m + n, 'd', "2\ty\n", 4);
	n += msg(m + n, 'c', "", 0);
	n += msg(m + n, 'C', "COPY 2", 7);
	n += row_desc(m + n, cols, oids, 2);
	n += data_row(m + n, r3, 2);
	n += msg(m + n, 'C', "SELECT 1", 9);
	n += msg(m + n, 'Z', "I", 1);
	entry(&b, 'B', 9000, m, (uint32_t)n);
	entry(&b, 'E', 9500, "terminate", 9);
	chunk(r, S1, 1, &b);

	/* session 1002: one statement, still open */
	b.n = 0;
	stmt_marker(&b, 10, 1);
	{
		static const char *const c1[] = {"?column?"};
		static const uint32_t o1[] = {25};
		static const char *const v1[] = {"x"};

		n = row_desc(m, c1, o1, 1);
		n += data_row(m + n, v1, 1);
		n += msg(m + n, 'C', "SELECT 1", 9);
		n += msg(m + n, 'Z', "I", 1);
	}
	entry(&b, 'B', 300, m, (uint32_t)n);
	chunk(r, S2, 0, &b);

	/* session 1004: chunk 0 lost, chunk 1 ends with a truncation */
	b.n = 0;
	{
		uint64_t lim = 4096;

		entry(&b, 'T', 50, &lim, 8);
	}
	chunk(r, S4, 1, &b);

	rg_audit_close(a);
	rg_audit_close(r);
}

static json_t *list(struct fx *x, const struct rg_sessions_filter *f)
{
	json_t *out = NULL;

	assert_int_equal(rg_sessions_list(x->audit, f, &out), 0);
	assert_true(json_is_array(out));
	return out;
}

static long long id_at(json_t *l, size_t i)
{
	return (long long)json_integer_value(json_object_get(json_array_get(l, i), "id"));
}

static void test_list_and_filters(void **state)
{
	struct fx *x = *state;
	struct rg_sessions_filter f = {.since_us = -1, .until_us = -1};
	struct timespec ts;
	int64_t now;
	json_t *l, *s;

	write_trails(x);
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;

	l = list(x, NULL);
	assert_int_equal(json_array_size(l), 4);
	assert_int_equal(id_at(l, 0), S1);
	assert_int_equal(id_at(l, 3), S4);
	s = json_array_get(l, 0);
	assert_string_equal(json_string_value(json_object_get(s, "sub")), "agent-1");
	assert_string_equal(json_string_value(json_object_get(s, "role")), "app");
	assert_string_equal(json_string_value(json_object_get(s, "reason")), "terminate");
	assert_true(json_is_true(json_object_get(s, "recorded")));
	assert_int_equal(json_integer_value(json_object_get(s, "denials")), 1);
	assert_null(json_object_get(s, "\x01")); /* no bookkeeping leaks out */
	assert_null(json_object_get(json_array_get(l, 1), "end"));
	json_decref(l);

	f.sub = "agent-2";
	l = list(x, &f);
	assert_int_equal(json_array_size(l), 1);
	assert_int_equal(id_at(l, 0), S2);
	json_decref(l);

	f.sub = NULL;
	f.target = "appdb";
	f.denied = true;
	l = list(x, &f);
	assert_int_equal(json_array_size(l), 1);
	assert_int_equal(id_at(l, 0), S1);
	json_decref(l);

	/* time: nothing started before the epoch's first day; an hour from now only the
	 * sessions still open overlap */
	f = (struct rg_sessions_filter){.since_us = -1, .until_us = 86400LL * 1000000};
	l = list(x, &f);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	f = (struct rg_sessions_filter){.since_us = now + 3600LL * 1000000, .until_us = -1};
	l = list(x, &f);
	assert_int_equal(json_array_size(l), 2);
	assert_int_equal(id_at(l, 0), S2);
	assert_int_equal(id_at(l, 1), S4);
	json_decref(l);
	f = (struct rg_sessions_filter){.since_us = now - 3600LL * 1000000, .until_us = now + 1};
	l = list(x, &f);
	assert_int_equal(json_array_size(l), 4);
	json_decref(l);

	assert_int_equal(rg_sessions_list("/nonexistent/trail", NULL, &l), -EIO);
	assert_null(l);
}

static json_t *st(json_t *rp, size_t i)
{
	return json_array_get(json_object_get(rp, "statements"), i);
}

static const char *out_key(json_t *s, size_t i)
{
	json_t *item = json_array_get(json_object_get(s, "out"), i);
	void *it = json_object_iter(item);

	return it ? json_object_iter_key(it) : "";
}

static void test_replay_statements_in_order(void **state)
{
	struct fx *x = *state;
	struct rg_replay_opts o = {.detail = true};
	json_t *rp = NULL, *s, *r, *who;
	char *dump;

	write_trails(x);
	assert_int_equal(rg_replay(x->audit, x->rec, S1, &o, &rp), 0);
	assert_true(json_is_true(json_object_get(rp, "complete")));
	assert_false(json_is_true(json_object_get(rp, "truncated")));
	assert_string_equal(json_string_value(json_object_get(rp, "end")), "terminate");
	who = json_object_get(rp, "who");
	assert_string_equal(json_string_value(json_object_get(who, "sub")), "agent-1");
	assert_string_equal(json_string_value(json_object_get(who, "role")), "app");
	assert_int_equal(json_array_size(json_object_get(rp, "statements")), 4);

	/* output before any statement: a statement 0 without a marker */
	s = st(rp, 0);
	assert_int_equal(json_integer_value(json_object_get(s, "n")), 0);
	assert_null(json_object_get(s, "t_us"));
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(s, "notices"), 0), "message")),
			    "welcome");

	/* the masked SELECT, its second row across two chunks */
	s = st(rp, 1);
	assert_string_equal(json_string_value(json_object_get(s, "sql")),
			    "SELECT id, card FROM customers WHERE id > $1");
	assert_int_equal(json_integer_value(json_object_get(s, "t_us")), 1000);
	r = json_array_get(json_object_get(s, "results"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "tag")), "SELECT 2");
	assert_int_equal(json_integer_value(json_array_get(json_object_get(r, "types"), 0)), 23);
	assert_true(json_is_null(json_array_get(json_array_get(json_object_get(r, "rows"), 0), 1)));
	assert_string_equal(
	    json_string_value(json_array_get(json_array_get(json_object_get(r, "rows"), 1), 1)),
	    "************1111");
	/* the time runs from the marker to the ReadyForQuery, which came with the 3500 µs entry */
	assert_true(json_real_value(json_object_get(s, "time_ms")) == 2.5);
	assert_string_equal(out_key(s, 0), "result");
	assert_string_equal(out_key(s, 1), "time_ms");

	s = st(rp, 2);
	assert_string_equal(json_string_value(json_object_get(s, "verdict")), "deny");
	assert_string_equal(json_string_value(json_object_get(s, "rule")), "b.no-drop");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(s, "errors"), 0), "sqlstate")),
			    "42501");
	assert_int_equal(json_array_size(json_object_get(s, "results")), 0);
	assert_string_equal(out_key(s, 0), "error");

	/* not in the audit trail: no text; copy data in one piece, before its tag; the value
	 * that is not UTF-8 is replaced */
	s = st(rp, 3);
	assert_null(json_object_get(s, "sql"));
	assert_string_equal(out_key(s, 0), "copy");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(s, "out"), 0), "copy")),
			    "1\tx\n2\ty\n");
	assert_string_equal(out_key(s, 1), "result");
	assert_string_equal(out_key(s, 2), "result");
	r = json_array_get(json_object_get(s, "results"), 1);
	assert_string_equal(
	    json_string_value(json_array_get(json_array_get(json_object_get(r, "rows"), 0), 1)),
	    "caf\xef\xbf\xbd");
	dump = json_dumps(rp, JSON_COMPACT);
	assert_non_null(dump); /* any JSON writer takes it */
	free(dump);
	json_decref(rp);

	/* without detail: the documented keys only */
	assert_int_equal(rg_replay(x->audit, x->rec, S1, NULL, &rp), 0);
	assert_null(json_object_get(rp, "who"));
	assert_null(json_object_get(st(rp, 1), "out"));
	assert_null(
	    json_object_get(json_array_get(json_object_get(st(rp, 1), "results"), 0), "types"));
	json_decref(rp);

	/* raw bytes, for printing */
	o.raw_bytes = true;
	assert_int_equal(rg_replay(x->audit, x->rec, S1, &o, &rp), 0);
	r = json_array_get(json_object_get(st(rp, 3), "results"), 1);
	assert_string_equal(
	    json_string_value(json_array_get(json_array_get(json_object_get(r, "rows"), 0), 1)),
	    "caf\xe9");
	json_decref(rp);
}

static void test_replay_limits_and_absences(void **state)
{
	struct fx *x = *state;
	struct rg_replay_opts o = {.max_rows = 1};
	json_t *rp = NULL, *r;

	write_trails(x);
	assert_int_equal(rg_replay(x->audit, x->rec, S1, &o, &rp), 0);
	r = json_array_get(json_object_get(st(rp, 1), "results"), 0);
	assert_int_equal(json_array_size(json_object_get(r, "rows")), 1);
	assert_int_equal(json_integer_value(json_object_get(r, "rows_omitted")), 1);
	json_decref(rp);

	assert_int_equal(rg_replay(x->audit, x->rec, S4, NULL, &rp), 0);
	assert_true(json_is_true(json_object_get(rp, "truncated")));
	assert_false(json_is_true(json_object_get(rp, "complete")));
	json_decref(rp);

	assert_int_equal(rg_replay(x->audit, x->rec, S3, NULL, &rp), -ENOENT);
	assert_null(rp);
	assert_int_equal(rg_replay(x->audit, x->rec, 424242, NULL, &rp), -ESRCH);
	assert_int_equal(rg_replay(x->audit, "/nonexistent/rec", S1, NULL, &rp), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_list_and_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replay_statements_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replay_limits_and_absences, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
