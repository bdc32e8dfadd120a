/*
 * Unit tests for the session recorder (engine/evidence/record.c) and the replay of MySQL
 * recordings (replay.c): sessions are recorded through rg_rec_* into a real recordings trail
 * (journals, the writer's zstd formatter), as engine/proto/mysql/record.c records them, and
 * read back with rg_replay. Covered: the protocol entry; command markers answered in order;
 * OK with its info, ERR with number and SQLSTATE, a refused command; result sets with text
 * rows (EOF packets, NULL, multi-results) and with DEPRECATE_EOF (OK-as-EOF); a packet split
 * across two sends; PREPARE_OK with its definitions and binary rows of its EXECUTE in text
 * form (signed TINY, unsigned LONGLONG, DOUBLE, DATE, DATETIME with fraction, negative TIME,
 * NULL); a cursor's FETCH; a command left unanswered; truncation past max_bytes.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "evidence.h"

#define DEPRECATE_EOF (1ull << 24)
#define SESSION_TRACK (1ull << 23)

struct fx {
	char dir[64], audit[96], rec[96], key[96], jdir[96];
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	FILE *f;

	snprintf(x->dir, sizeof(x->dir), "/tmp/rg-record-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->audit, sizeof(x->audit), "%s/audit", x->dir);
	snprintf(x->rec, sizeof(x->rec), "%s/recordings", x->dir);
	snprintf(x->key, sizeof(x->key), "%s/k.pem", x->dir);
	snprintf(x->jdir, sizeof(x->jdir), "%s/j", x->dir);
	assert_int_equal(mkdir(x->jdir, 0700), 0);
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

/* ---- MySQL packets ------------------------------------------------------------------------ */

struct pk {
	uint8_t b[4096];
	size_t n;
};

static void pkt(struct pk *o, uint8_t seq, const void *p, size_t len)
{
	o->b[o->n] = (uint8_t)len;
	o->b[o->n + 1] = (uint8_t)(len >> 8);
	o->b[o->n + 2] = (uint8_t)(len >> 16);
	o->b[o->n + 3] = seq;
	memcpy(o->b + o->n + 4, p, len);
	o->n += 4 + len;
}

static size_t lstr(uint8_t *p, const char *s)
{
	size_t l = strlen(s);

	p[0] = (uint8_t)l;
	memcpy(p + 1, s, l);
	return 1 + l;
}

static void coldef(struct pk *o, const char *name, uint8_t type, uint16_t flags, uint8_t dec)
{
	uint8_t b[256];
	size_t n = 0;

	n += lstr(b + n, "def");
	n += lstr(b + n, "db");
	n += lstr(b + n, "t");
	n += lstr(b + n, "t");
	n += lstr(b + n, name);
	n += lstr(b + n, name);
	b[n++] = 0x0c;
	b[n++] = 45, b[n++] = 0;     /* charset */
	memset(b + n, 0, 4), n += 4; /* length */
	b[n++] = type;
	b[n++] = (uint8_t)flags, b[n++] = (uint8_t)(flags >> 8);
	b[n++] = dec;
	b[n++] = 0, b[n++] = 0;
	pkt(o, 2, b, n);
}

static void eof(struct pk *o, uint16_t status)
{
	uint8_t b[5] = {0xfe, 0, 0, (uint8_t)status, (uint8_t)(status >> 8)};

	pkt(o, 3, b, 5);
}

/* OK (0x00) or OK-as-EOF (0xfe) with affected rows, status and an info (SESSION_TRACK). */
static void ok(struct pk *o, uint8_t head, uint8_t affected, uint16_t status, uint16_t warn,
	       const char *info)
{
	uint8_t b[128] = {head,
			  affected,
			  0,
			  (uint8_t)status,
			  (uint8_t)(status >> 8),
			  (uint8_t)warn,
			  (uint8_t)(warn >> 8)};
	size_t n = 7;

	if (info)
		n += lstr(b + n, info);
	pkt(o, 1, b, n);
}

static void err(struct pk *o, uint16_t code, const char *state, const char *msg)
{
	uint8_t b[256] = {0xff, (uint8_t)code, (uint8_t)(code >> 8), '#'};

	memcpy(b + 4, state, 5);
	memcpy(b + 9, msg, strlen(msg));
	pkt(o, 1, b, 9 + strlen(msg));
}

static void text_row(struct pk *o, const char *const *v, int n)
{
	uint8_t b[512];
	size_t k = 0;

	for (int i = 0; i < n; i++)
		if (v[i])
			k += lstr(b + k, v[i]);
		else
			b[k++] = 0xfb;
	pkt(o, 4, b, k);
}

static void count(struct pk *o, uint8_t n)
{
	pkt(o, 1, &n, 1);
}

static void cmd(struct rg_rec_sess *r, uint8_t c, bool binary, uint32_t n)
{
	uint8_t b[6] = {c, binary};

	memcpy(b + 2, &n, 4);
	rg_rec_mark(r, 'C', b, 6);
}

static void out(struct rg_rec_sess *r, struct pk *o)
{
	rg_rec_out(r, o->b, o->n);
	o->n = 0;
}

#define S1 2001 /* DEPRECATE_EOF | SESSION_TRACK */
#define S2 2002 /* EOF packets; truncated */

static void record(struct fx *x)
{
	struct rg_audit *a = open_trail(x->audit, x->key), *t = open_trail(x->rec, x->key);
	struct rg_rec *rec = NULL;
	struct rg_rec_sess *r;
	uint64_t lost = 0, caps = DEPRECATE_EOF | SESSION_TRACK;
	char e[600];
	struct pk o = {0};

	ev(a, "{\"event\":\"session_start\",\"protocol\":\"mysql\",\"session\":2001,"
	      "\"identity\":{\"sub\":\"agent-my\"},\"target\":\"shop\",\"recorded\":true}");
	ev(a, "{\"event\":\"stmt\",\"protocol\":\"mysql\",\"session\":2001,\"n\":1,"
	      "\"kind\":\"query\",\"sql\":\"SELECT id, v FROM t\",\"verdict\":\"allow\"}");
	ev(a, "{\"event\":\"stmt\",\"protocol\":\"mysql\",\"session\":2001,\"n\":2,"
	      "\"kind\":\"query\",\"sql\":\"DROP TABLE t\",\"verdict\":\"deny\"}");
	ev(a, "{\"event\":\"stmt\",\"protocol\":\"mysql\",\"session\":2001,\"n\":3,"
	      "\"kind\":\"prepare\",\"sql\":\"SELECT ?\",\"verdict\":\"allow\"}");
	ev(a, "{\"event\":\"stmt\",\"protocol\":\"mysql\",\"session\":2001,\"n\":4,"
	      "\"kind\":\"execute\",\"sql\":\"SELECT ?\",\"verdict\":\"allow\"}");
	ev(a, "{\"event\":\"session_start\",\"protocol\":\"mysql\",\"session\":2002,"
	      "\"identity\":{\"sub\":\"agent-eof\"},\"target\":\"shop\",\"recorded\":true}");
	assert_int_equal(rg_rec_new(t, 1, x->jdir, 1u << 20, &rec, e, sizeof(e)), 0);
	r = rg_rec_start(rec, 0, S1, RG_EV_MYSQL, &caps, 8, &lost);
	assert_non_null(r);

	/* 1: a text result ended by OK-as-EOF, its second row split across two sends */
	cmd(r, 0x03, false, 1);
	{
		static const char *const r1[] = {"1", "alpha"}, *const r2[] = {"2", NULL};

		count(&o, 2);
		coldef(&o, "id", 3, 1, 0);
		coldef(&o, "v", 253, 0, 0);
		text_row(&o, r1, 2);
		text_row(&o, r2, 2);
		ok(&o, 0xfe, 0, 0x0002, 1, NULL);
		rg_rec_out(r, o.b, o.n - 12);
		rg_rec_out(r, o.b + o.n - 12, 12);
		o.n = 0;
	}
	/* 2: refused by ringgate */
	cmd(r, 0x03, false, 2);
	err(&o, 1142, "42000", "denied by policy");
	out(r, &o);
	/* 3: PREPARE_OK, one parameter, six columns (no EOFs) */
	cmd(r, 0x16, false, 3);
	{
		uint8_t p[12] = {0, 7, 0, 0, 0, 6, 0, 1, 0, 0, 0, 0};

		pkt(&o, 1, p, 12);
	}
	coldef(&o, "?", 253, 0, 0);
	coldef(&o, "tiny", 1, 0, 0);
	coldef(&o, "big", 8, 0x20, 0);
	coldef(&o, "dbl", 5, 0, 31);
	coldef(&o, "day", 10, 0, 0);
	coldef(&o, "at", 12, 0, 3);
	coldef(&o, "span", 11, 0, 0);
	out(r, &o);
	/* 4: its EXECUTE: binary rows */
	cmd(r, 0x17, true, 4);
	count(&o, 7);
	coldef(&o, "tiny", 1, 0, 0);
	coldef(&o, "big", 8, 0x20, 0);
	coldef(&o, "dbl", 5, 0, 31);
	coldef(&o, "day", 10, 0, 0);
	coldef(&o, "at", 12, 0, 3);
	coldef(&o, "span", 11, 0, 0);
	coldef(&o, "nothing", 253, 0, 0);
	{
		uint8_t b[128] = {0x00, 0x00, 0x01}; /* header, NULL bitmap: column 6 (bit 8) */
		size_t n = 3;
		double d = 2.5;
		uint64_t big = UINT64_MAX;

		b[n++] = 0xfe; /* -2 */
		memcpy(b + n, &big, 8), n += 8;
		memcpy(b + n, &d, 8), n += 8;
		b[n++] = 4, b[n++] = 0xea, b[n++] = 0x07, b[n++] = 12, b[n++] = 2;
		b[n++] = 11, b[n++] = 0xea, b[n++] = 0x07, b[n++] = 12, b[n++] = 2, b[n++] = 9,
		b[n++] = 30, b[n++] = 5;
		{
			uint32_t us = 123000;

			memcpy(b + n, &us, 4), n += 4;
		}
		b[n++] = 8, b[n++] = 1, b[n++] = 1, b[n++] = 0, b[n++] = 0, b[n++] = 0, b[n++] = 2,
		b[n++] = 3, b[n++] = 4; /* -1 day 02:03:04 */
		pkt(&o, 9, b, n);
	}
	ok(&o, 0xfe, 0, 0x0002, 0, NULL);
	out(r, &o);
	/* a ping (not a statement): OK */
	cmd(r, 0x0e, false, 0);
	ok(&o, 0x00, 0, 0x0002, 0, NULL);
	out(r, &o);
	/* an UPDATE's OK with its info */
	cmd(r, 0x03, false, 0);
	ok(&o, 0x00, 3, 0x0002, 0, "Rows matched: 3  Changed: 3  Warnings: 0");
	out(r, &o);
	/* a command never answered: the session ended */
	cmd(r, 0x03, false, 0);
	rg_rec_end(r, "target_error");

	/* session 2: EOF packets, two result sets in one answer, a cursor and its FETCH, then
	 * past max_bytes */
	caps = 0;
	r = rg_rec_start(rec, 0, S2, RG_EV_MYSQL, &caps, 8, &lost);
	assert_non_null(r);
	cmd(r, 0x03, false, 0);
	{
		static const char *const v1[] = {"1"}, *const v2[] = {"x"};

		count(&o, 1);
		coldef(&o, "a", 8, 1, 0);
		eof(&o, 0x0002);
		text_row(&o, v1, 1);
		eof(&o, 0x000a); /* more results */
		count(&o, 1);
		coldef(&o, "b", 253, 0, 0);
		eof(&o, 0x0002);
		text_row(&o, v2, 1);
		eof(&o, 0x0002);
		out(r, &o);
	}
	cmd(r, 0x17, true, 0); /* EXECUTE opening a cursor */
	count(&o, 1);
	coldef(&o, "n", 3, 0, 0);
	eof(&o, 0x0042);
	out(r, &o);
	cmd(r, 0x1c, true, 0); /* its FETCH */
	{
		uint8_t b[] = {0x00, 0x00, 42, 0, 0, 0};

		pkt(&o, 1, b, sizeof(b));
		eof(&o, 0x0082);
		out(r, &o);
	}
	rg_rec_ready(r);
	rg_rec_settle(r);
	{
		static uint8_t big[2u << 20];

		rg_rec_out(r, big, sizeof(big)); /* past max_bytes */
	}
	rg_rec_end(r, "quit");
	rg_audit_close(a);
	rg_audit_close(t);
	rg_rec_free(rec);
	assert_int_equal(lost, 0);
}

static json_t *st(json_t *rp, size_t i)
{
	return json_array_get(json_object_get(rp, "statements"), i);
}

static json_t *res(json_t *rp, size_t i, size_t j)
{
	return json_array_get(json_object_get(st(rp, i), "results"), j);
}

static const char *s_at(json_t *arr, size_t i)
{
	return json_string_value(json_array_get(arr, i));
}

static void test_mysql_session_replays(void **state)
{
	struct fx *x = *state;
	struct rg_replay_opts o = {.detail = true};
	json_t *rp = NULL, *r, *row;

	record(x);
	assert_int_equal(rg_replay(x->audit, x->rec, S1, &o, &rp), 0);
	assert_string_equal(json_string_value(json_object_get(rp, "protocol")), "mysql");
	assert_true(json_is_true(json_object_get(rp, "complete")));
	assert_false(json_is_true(json_object_get(rp, "truncated")));
	assert_string_equal(json_string_value(json_object_get(rp, "end")), "target_error");
	assert_int_equal(json_array_size(json_object_get(rp, "statements")), 7);
	/* 1 */
	assert_string_equal(json_string_value(json_object_get(st(rp, 0), "sql")),
			    "SELECT id, v FROM t");
	r = res(rp, 0, 0);
	assert_string_equal(s_at(json_object_get(r, "columns"), 1), "v");
	row = json_array_get(json_object_get(r, "rows"), 1);
	assert_string_equal(s_at(row, 0), "2");
	assert_true(json_is_null(json_array_get(row, 1)));
	assert_int_equal(json_integer_value(json_object_get(r, "warnings")), 1);
	assert_true(json_is_true(json_array_get(json_object_get(r, "not_null"), 0)));
	assert_false(json_is_true(json_array_get(json_object_get(r, "not_null"), 1)));
	/* 2 */
	r = json_array_get(json_object_get(st(rp, 1), "errors"), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "code")), 1142);
	assert_string_equal(json_string_value(json_object_get(r, "sqlstate")), "42000");
	assert_string_equal(json_string_value(json_object_get(r, "message")), "denied by policy");
	assert_string_equal(json_string_value(json_object_get(st(rp, 1), "verdict")), "deny");
	/* 3 */
	r = json_object_get(res(rp, 2, 0), "prepared");
	assert_int_equal(json_integer_value(json_object_get(r, "statement_id")), 7);
	assert_int_equal(json_integer_value(json_object_get(r, "params")), 1);
	assert_int_equal(json_integer_value(json_object_get(r, "columns")), 6);
	/* 4 */
	row = json_array_get(json_object_get(res(rp, 3, 0), "rows"), 0);
	assert_string_equal(s_at(row, 0), "-2");
	assert_string_equal(s_at(row, 1), "18446744073709551615");
	assert_string_equal(s_at(row, 2), "2.5");
	assert_string_equal(s_at(row, 3), "2026-12-02");
	assert_string_equal(s_at(row, 4), "2026-12-02 09:30:05.123");
	assert_string_equal(s_at(row, 5), "-26:03:04");
	assert_true(json_is_null(json_array_get(row, 6)));
	/* the ping, the UPDATE's OK */
	assert_string_equal(json_string_value(json_object_get(st(rp, 4), "command")), "COM_PING");
	r = res(rp, 5, 0);
	assert_int_equal(json_integer_value(json_object_get(r, "affected_rows")), 3);
	assert_string_equal(json_string_value(json_object_get(r, "info")),
			    "Rows matched: 3  Changed: 3  Warnings: 0");
	/* unanswered: there, without output */
	assert_int_equal(json_array_size(json_object_get(st(rp, 6), "results")), 0);
	assert_int_equal(json_array_size(json_object_get(st(rp, 6), "errors")), 0);
	json_decref(rp);

	assert_int_equal(rg_replay(x->audit, x->rec, S2, &o, &rp), 0);
	assert_true(json_is_true(json_object_get(rp, "truncated")));
	assert_int_equal(json_array_size(json_object_get(st(rp, 0), "results")), 2);
	assert_string_equal(s_at(json_array_get(json_object_get(res(rp, 0, 1), "rows"), 0), 0),
			    "x");
	r = res(rp, 2, 0); /* the FETCH: the cursor's columns, its binary row */
	assert_string_equal(s_at(json_object_get(r, "columns"), 0), "n");
	assert_string_equal(s_at(json_array_get(json_object_get(r, "rows"), 0), 0), "42");
	json_decref(rp);
}

static void test_sessions_list_protocol(void **state)
{
	struct fx *x = *state;
	json_t *l = NULL;

	record(x);
	assert_int_equal(rg_sessions_list(x->audit, NULL, &l), 0);
	assert_int_equal(json_array_size(l), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "protocol")),
			    "mysql");
	json_decref(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_mysql_session_replays, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sessions_list_protocol, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
