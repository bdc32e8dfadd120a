/*
 * Unit tests for engine/proto/pg/stream.c (the per-direction message stream), cancel.c (the
 * cancel key registry) and the startup parameter allowlist: a byte stream cut at every
 * possible point yields the same messages as the whole stream; whole messages are reported
 * in place, split ones from the accumulator; large streamable messages come out as pieces
 * that add up to the message; framing errors are reported; cancel keys are random, found
 * only with the right key, and gone after unregister.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "pg-int.h"
#include "pg.h"

/* A little backend stream: RowDescription-less rows, CommandComplete, ReadyForQuery. */
static size_t build_stream(uint8_t *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	struct rg_pg_field f[2] = {{(const uint8_t *)"hello", 5, 0}, {NULL, -1, 0}};
	int i;

	for (i = 0; i < 5; i++) {
		r = rg_pg_write_datarow(buf + n, cap - n, f, 2);
		assert_true(r > 0);
		n += (size_t)r;
	}
	r = rg_pg_write_command_complete(buf + n, cap - n, "SELECT 5");
	n += (size_t)r;
	r = rg_pg_write_ready(buf + n, cap - n, 'I');
	n += (size_t)r;
	return n;
}

struct collected {
	uint8_t types[64];
	size_t ntypes;
	uint8_t bytes[4096];
	size_t nbytes;
	unsigned in_place, from_acc, pieces;
};

static void feed(struct rg_pg_stream *st, const uint8_t *p, size_t n, struct collected *c)
{
	size_t off = 0;

	while (off < n) {
		struct rg_pg_sevent ev;
		ssize_t r = rg_pg_stream_next(st, p + off, n - off, &ev);

		assert_true(r >= 0);
		if (ev.kind == RG_PG_SEV_MSG) {
			c->types[c->ntypes++] = ev.msg.type;
			memcpy(c->bytes + c->nbytes, ev.msg.start, ev.msg.total);
			c->nbytes += ev.msg.total;
			if (ev.in_acc)
				c->from_acc++;
			else
				c->in_place++;
		} else if (ev.kind == RG_PG_SEV_PIECE) {
			memcpy(c->bytes + c->nbytes, ev.data, ev.n);
			c->nbytes += ev.n;
			c->pieces++;
		}
		off += (size_t)r;
	}
}

static void test_stream_every_split_point_gives_the_same_messages(void **state)
{
	uint8_t buf[1024];
	size_t n = build_stream(buf, sizeof(buf)), cut, cut2;

	(void)state;
	for (cut = 0; cut <= n; cut++) {
		for (cut2 = cut; cut2 <= n; cut2 += 3) {
			struct rg_pg_stream st;
			struct collected c = {0};

			rg_pg_stream_init(&st, rg_pg_limits_default(RG_PG_BE), 1u << 20, NULL);
			feed(&st, buf, cut, &c);
			feed(&st, buf + cut, cut2 - cut, &c);
			feed(&st, buf + cut2, n - cut2, &c);
			assert_int_equal(c.ntypes, 7);
			assert_int_equal(c.types[0], 'D');
			assert_int_equal(c.types[5], 'C');
			assert_int_equal(c.types[6], 'Z');
			assert_int_equal(c.nbytes, n);
			assert_memory_equal(c.bytes, buf, n);
			assert_false(rg_pg_stream_mid(&st));
			rg_pg_stream_free(&st);
		}
	}
}

static void test_stream_whole_messages_are_reported_in_place(void **state)
{
	uint8_t buf[1024];
	size_t n = build_stream(buf, sizeof(buf));
	struct rg_pg_stream st;
	struct collected c = {0};

	(void)state;
	rg_pg_stream_init(&st, rg_pg_limits_default(RG_PG_BE), 1u << 20, NULL);
	feed(&st, buf, n, &c);
	assert_int_equal(c.in_place, 7);
	assert_int_equal(c.from_acc, 0);
	assert_null(st.acc.p); /* never allocated */
	rg_pg_stream_free(&st);
}

static void test_stream_large_streamable_message_comes_in_pieces(void **state)
{
	static bool streamable[256];
	size_t body = 3000, total = 5 + body, i;
	uint8_t *msg = calloc(1, total + 6);
	struct rg_pg_stream st;
	struct collected *c = calloc(1, sizeof(*c) + 8192);
	uint8_t *all = malloc(total + 6);
	size_t got = 0;

	(void)state;
	streamable['d'] = true;
	msg[0] = 'd';
	msg[1] = 0, msg[2] = 0, msg[3] = (uint8_t)((body + 4) >> 8), msg[4] = (uint8_t)(body + 4);
	for (i = 0; i < body; i++)
		msg[5 + i] = (uint8_t)i;
	memcpy(msg + total, "Z\0\0\0\5I", 6);
	rg_pg_stream_init(&st, rg_pg_limits_default(RG_PG_BE), 1024, streamable);
	/* feed 700 bytes at a time: the header arrives split from nothing, then pieces */
	for (i = 0; i < total + 6; i += 700) {
		size_t k = total + 6 - i < 700 ? total + 6 - i : 700, off = 0;

		while (off < k) {
			struct rg_pg_sevent ev;
			ssize_t r = rg_pg_stream_next(&st, msg + i + off, k - off, &ev);

			assert_true(r >= 0);
			if (ev.kind == RG_PG_SEV_PIECE) {
				assert_int_equal(ev.type, 'd');
				assert_int_equal(ev.total, total);
				memcpy(all + got, ev.data, ev.n);
				got += ev.n;
				c->pieces++;
			} else if (ev.kind == RG_PG_SEV_MSG) {
				assert_int_equal(ev.msg.type, 'Z');
				memcpy(all + got, ev.msg.start, ev.msg.total);
				got += ev.msg.total;
			}
			off += (size_t)r;
		}
	}
	assert_int_equal(got, total + 6);
	assert_memory_equal(all, msg, total + 6);
	assert_true(c->pieces >= 5);
	assert_true(st.acc.cap < total); /* never held whole */
	rg_pg_stream_free(&st);
	free(msg);
	free(all);
	free(c);
}

static void test_stream_reports_framing_errors(void **state)
{
	struct rg_pg_stream st;
	struct rg_pg_sevent ev;

	(void)state;
	rg_pg_stream_init(&st, rg_pg_limits_default(RG_PG_FE), 1u << 20, NULL);
	assert_true(rg_pg_stream_next(&st, (const uint8_t *)"\x01", 1, &ev) < 0);
	rg_pg_stream_free(&st);
	rg_pg_stream_init(&st, rg_pg_limits_default(RG_PG_FE), 1u << 20, NULL);
	/* a split header whose length is too large for Sync */
	assert_int_equal(rg_pg_stream_next(&st, (const uint8_t *)"S\0", 2, &ev), 2);
	assert_true(rg_pg_stream_next(&st, (const uint8_t *)"\x10\0\0", 3, &ev) < 0);
	rg_pg_stream_free(&st);
}

static void test_stream_startup_split_and_then_typed(void **state)
{
	uint8_t buf[256];
	const char *kv[] = {"user", "u", "database", "appdb"};
	ssize_t n = rg_pg_write_startup(buf, sizeof(buf), RG_PG_PROTO_30, kv, 2);
	struct rg_pg_stream st;
	struct rg_pg_startup su;
	struct rg_pg_sevent ev;
	int done;

	(void)state;
	assert_true(n > 0);
	memcpy(buf + n, "p\0\0\0\6x\0", 7);
	rg_pg_stream_init(&st, rg_pg_limits_default(RG_PG_FE), 1u << 20, NULL);
	assert_int_equal(rg_pg_stream_startup(&st, buf, 3, &su, &done), 3);
	assert_int_equal(done, 0);
	/* the rest of the packet plus a PasswordMessage: only the packet is taken */
	assert_int_equal(rg_pg_stream_startup(&st, buf + 3, (size_t)n + 4, &su, &done), n - 3);
	assert_int_equal(done, 1);
	assert_string_equal(su.database, "appdb");
	assert_int_equal(rg_pg_stream_next(&st, buf + n, 7, &ev), 7);
	assert_int_equal(ev.kind, RG_PG_SEV_MSG);
	assert_int_equal(ev.msg.type, 'p');
	rg_pg_stream_free(&st);
}

/* The issued pid is the target's real one (issue #9 item 16); the key is ringgate's own,
 * and two sessions of different targets with the same pid get different keys and are told
 * apart by them. */
static void test_cancel_registry_issues_real_pid_with_own_key(void **state)
{
	struct rg_pg_cancel_reg *r = rg_pg_cancel_reg_new();
	struct rg_pg_cancel_entry a = {0}, b = {0}, out;
	uint8_t wrong[4];
	int t1, t2;

	(void)state;
	assert_non_null(r);
	a.target = &t1;
	a.be_pid = 4242;
	memcpy(a.be_key, "\1\2\3\4", 4);
	a.be_key_len = 4;
	b.target = &t2;
	b.be_pid = 4242; /* another server, same pid */
	memcpy(b.be_key, "\1\2\3\4", 4);
	b.be_key_len = 4;
	assert_int_equal(rg_pg_cancel_register(r, &a), 0);
	assert_int_equal(rg_pg_cancel_register(r, &b), 0);
	assert_int_equal(a.pid, 4242);
	assert_int_equal(b.pid, 4242);
	assert_memory_not_equal(a.key, b.key, 4);
	assert_memory_not_equal(a.key, "\1\2\3\4", 4); /* never the target's own key */
	assert_int_equal(rg_pg_cancel_count(r), 2);
	assert_true(rg_pg_cancel_lookup(r, a.pid, a.key, 4, &out));
	assert_ptr_equal(out.target, &t1);
	assert_true(rg_pg_cancel_lookup(r, b.pid, b.key, 4, &out));
	assert_ptr_equal(out.target, &t2);
	assert_int_equal(out.be_pid, 4242);
	memcpy(wrong, a.key, 4);
	wrong[3] ^= 1;
	if (memcmp(wrong, b.key, 4))
		assert_false(rg_pg_cancel_lookup(r, a.pid, wrong, 4, &out));
	assert_false(rg_pg_cancel_lookup(r, 4243, a.key, 4, &out));
	assert_false(rg_pg_cancel_lookup(r, a.pid, a.key, 3, &out));
	rg_pg_cancel_unregister(r, a.pid, a.key);
	assert_false(rg_pg_cancel_lookup(r, a.pid, a.key, 4, &out));
	assert_true(rg_pg_cancel_lookup(r, b.pid, b.key, 4, &out));
	assert_int_equal(rg_pg_cancel_count(r), 1);
	rg_pg_cancel_reg_free(r); /* frees b's entry too */
}

/* The target's key is kept at its own length: 4 bytes (PostgreSQL 15) and the protocol's
 * 256-byte maximum both come back byte for byte, and so does the address the session
 * connected to; a longer key is refused. */
static void test_cancel_registry_keeps_target_keys_of_any_length(void **state)
{
	struct rg_pg_cancel_reg *r = rg_pg_cancel_reg_new();
	struct rg_pg_cancel_entry a = {0}, b = {0}, out;
	unsigned i;

	(void)state;
	assert_non_null(r);
	for (i = 0; i < RG_PG_CANCEL_KEY_MAX; i++)
		a.be_key[i] = (uint8_t)(i * 7 + 1);
	a.be_key_len = RG_PG_CANCEL_KEY_MAX;
	a.be_pid = 99;
	memcpy(b.be_key, "\xde\xad\xbe\xef", 4);
	b.be_key_len = 4;
	/* a's session connected to [::1]:5433 of its target: the cancel must go there */
	{
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.be_addr;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(5433);
		in6->sin6_addr = in6addr_loopback;
		a.be_addrlen = sizeof(*in6);
	}
	assert_int_equal(rg_pg_cancel_register(r, &a), 0);
	assert_int_equal(rg_pg_cancel_register(r, &b), 0);
	memset(&out, 0xff, sizeof(out));
	assert_true(rg_pg_cancel_lookup(r, a.pid, a.key, 4, &out));
	assert_int_equal(out.pid, a.pid);
	assert_int_equal(out.be_pid, 99);
	assert_int_equal(out.be_key_len, RG_PG_CANCEL_KEY_MAX);
	assert_memory_equal(out.be_key, a.be_key, RG_PG_CANCEL_KEY_MAX);
	assert_int_equal(out.be_addrlen, sizeof(struct sockaddr_in6));
	assert_memory_equal(&out.be_addr, &a.be_addr, sizeof(struct sockaddr_in6));
	assert_true(rg_pg_cancel_lookup(r, b.pid, b.key, 4, &out));
	assert_int_equal(out.be_key_len, 4);
	assert_memory_equal(out.be_key, "\xde\xad\xbe\xef", 4);
	assert_int_equal(out.be_addrlen, 0);
	b.be_key_len = RG_PG_CANCEL_KEY_MAX + 1;
	assert_int_equal(rg_pg_cancel_register(r, &b), -EINVAL);
	assert_int_equal(rg_pg_cancel_count(r), 2);
	rg_pg_cancel_reg_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stream_every_split_point_gives_the_same_messages),
	    cmocka_unit_test(test_stream_whole_messages_are_reported_in_place),
	    cmocka_unit_test(test_stream_large_streamable_message_comes_in_pieces),
	    cmocka_unit_test(test_stream_reports_framing_errors),
	    cmocka_unit_test(test_stream_startup_split_and_then_typed),
	    cmocka_unit_test(test_cancel_registry_issues_real_pid_with_own_key),
	    cmocka_unit_test(test_cancel_registry_keeps_target_keys_of_any_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
