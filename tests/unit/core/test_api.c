/*
 * test_api.c: the smaller pieces of the protocol API: the rg_acc accumulator for split
 * messages, the transform seam (an XOR "cipher" on the frontend stands in for TLS: the
 * client speaks XOR, the upstream sees plain bytes), copied sends built by a protocol, and
 * secret sends whose copy the core wipes once sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core-int.h" /* the secret-send test inspects the worker's free chunks */
#include "harness.h"

static unsigned short echo_port;

static void test_acc_keeps_split_message_tail(void **state)
{
	struct rg_acc a = { 0 };
	char big[1000];

	(void)state;
	assert_int_equal(rg_acc_append(&a, "hello", 5), 0);
	assert_int_equal(rg_acc_append(&a, " world", 6), 0);
	assert_int_equal(a.len, 11);
	rg_acc_consume(&a, 6);
	assert_memory_equal(a.p, "world", 5);
	memset(big, 'x', sizeof(big));
	assert_int_equal(rg_acc_append(&a, big, sizeof(big)), 0);
	assert_int_equal(a.len, 1005);
	assert_true(a.cap >= 1005);
	rg_acc_consume(&a, 5000);
	assert_int_equal(a.len, 0);
	rg_acc_free(&a);
	assert_null(a.p);
}

static int xor_rx(void *ctx, const uint8_t *wire, size_t n, struct rg_acc *plain,
		  struct rg_acc *reply)
{
	size_t i;
	int ret = 0;

	(void)ctx;
	(void)reply;
	for (i = 0; i < n && !ret; i++) {
		uint8_t c = wire[i] ^ 0x5a;

		ret = rg_acc_append(plain, &c, 1);
	}
	return ret;
}

static int xor_tx(void *ctx, const uint8_t *plain, size_t n, struct rg_acc *wire)
{
	return xor_rx(ctx, plain, n, wire, NULL);
}

static const struct rg_xform_ops xor_ops = { .rx = xor_rx, .tx = xor_tx };

static int xor_accept(struct rg_sess *s)
{
	int ret = rg_sess_set_xform(s, RG_FE, &xor_ops, NULL);

	return ret ? ret : fwd_ops.on_accept(s);
}

static void test_frontend_transform_sees_every_byte_both_ways(void **state)
{
	struct rg_proto_ops ops = fwd_ops;
	struct rg_core_config cfg = { .workers = 1 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct fwd_ctx ctx;
	struct rg_core *c;
	unsigned short port;
	uint8_t out[4096], in[4096];
	size_t i, got = 0;
	int err, fd;

	(void)state;
	ops.on_accept = xor_accept;
	fwd_ctx_init(&ctx, "127.0.0.1", echo_port);
	sin.sin_addr.s_addr = htonl(0x7f000001);
	c = rg_core_new(&cfg, &err);
	assert_non_null(c);
	assert_int_equal(rg_core_listen(c, (struct sockaddr *)&sin, sizeof(sin), &ops, &ctx,
					&port), 0);
	assert_int_equal(rg_core_start(c), 0);
	fd = h_connect(port);
	for (i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)i;
	assert_int_equal(write(fd, out, sizeof(out)), sizeof(out));
	while (got < sizeof(in)) {
		ssize_t m = read(fd, in + got, sizeof(in) - got);

		assert_true(m > 0);
		got += (size_t)m;
	}
	/* decoded on the way in, encoded on the way out: the client gets its bytes back */
	assert_memory_equal(in, out, sizeof(out));
	close(fd);
	assert_int_equal(h_wait_idle(c, 3000), 0);
	rg_core_shutdown(c, 0);
	assert_int_equal(rg_core_join(c), 0);
	rg_core_free(c);
}

/* A protocol that answers by itself: uppercases what it receives, with copied sends. */
static int upper_accept(struct rg_sess *s)
{
	(void)s;
	return 0;
}

static int upper_fe(struct rg_sess *s, struct rg_buf *b)
{
	char tmp[64];
	uint32_t i;

	if (!b) {
		rg_sess_close(s);
		return 0;
	}
	for (i = 0; i < b->len; i++) {
		char ch = (char)b->data[i];

		tmp[0] = ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
		if (rg_sess_send_fe(s, tmp, 1)) /* one byte at a time: coalesced by the core */
			return -EIO;
	}
	return 0;
}

static void test_copied_sends_are_coalesced_and_flushed_before_close(void **state)
{
	static const struct rg_proto_ops ops = { .name = "upper", .on_accept = upper_accept,
						 .on_fe_data = upper_fe };
	struct rg_core_config cfg = { .workers = 1 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct rg_core *c;
	struct rg_stats st;
	unsigned short port;
	char buf[64];
	ssize_t n, got = 0;
	int err, fd;

	(void)state;
	sin.sin_addr.s_addr = htonl(0x7f000001);
	c = rg_core_new(&cfg, &err);
	assert_int_equal(rg_core_listen(c, (struct sockaddr *)&sin, sizeof(sin), &ops, NULL,
					&port), 0);
	assert_int_equal(rg_core_start(c), 0);
	fd = h_connect(port);
	assert_int_equal(write(fd, "hello, ringgate", 15), 15);
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf + got, sizeof(buf) - (size_t)got)) > 0)
		got += n;
	assert_int_equal(got, 15);
	assert_memory_equal(buf, "HELLO, RINGGATE", 15);
	close(fd);
	assert_int_equal(h_wait_idle(c, 3000), 0);
	rg_core_stats(c, -1, &st);
	assert_true(st.send_ops <= 2);
	rg_core_shutdown(c, 0);
	assert_int_equal(rg_core_join(c), 0);
	rg_core_free(c);
}

/*
 * rg_sess_send_secret: the core's copy of a secret is zeroed once sent. "s"/"S" ask the
 * protocol to send MARKER with rg_sess_send / rg_sess_send_secret; "C" asks it (on the
 * worker, after the client has read MARKER, so the send completed and its chunk went back
 * to the free list) whether MARKER is still in any free chunk: it answers "F" or "-".
 */
#define MARKER "pw=Tr0ub4dor&3-correct-horse"

static bool marker_in_free_chunks(struct rg_worker *w)
{
	for (struct rg_buf *b = w->chunk_free; b; b = b->next)
		if (memmem(b->data, b->cap, MARKER, strlen(MARKER)))
			return true;
	return false;
}

static int secret_fe(struct rg_sess *s, struct rg_buf *b)
{
	if (!b) {
		rg_sess_close(s);
		return 0;
	}
	for (uint32_t i = 0; i < b->len; i++) {
		int ret = 0;

		if (b->data[i] == 's')
			ret = rg_sess_send_fe(s, MARKER, strlen(MARKER));
		else if (b->data[i] == 'S')
			ret = rg_sess_send_secret(s, RG_FE, MARKER, strlen(MARKER));
		else if (b->data[i] == 'C')
			ret = rg_sess_send_fe(s, marker_in_free_chunks(s->w) ? "F" : "-", 1);
		if (ret)
			return -EIO;
	}
	return 0;
}

/* Send cmd, read exactly n bytes back into out. */
static void roundtrip(int fd, const char *cmd, char *out, size_t n)
{
	size_t got = 0;

	assert_int_equal(write(fd, cmd, 1), 1);
	while (got < n) {
		ssize_t r = read(fd, out + got, n - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
}

static void test_secret_sends_are_wiped_once_sent(void **state)
{
	static const struct rg_proto_ops ops = { .name = "secret", .on_accept = upper_accept,
						 .on_fe_data = secret_fe };
	struct rg_core_config cfg = { .workers = 1 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char buf[64];
	struct rg_core *c;
	unsigned short port;
	int err, fd;

	(void)state;
	sin.sin_addr.s_addr = htonl(0x7f000001);
	c = rg_core_new(&cfg, &err);
	assert_int_equal(rg_core_listen(c, (struct sockaddr *)&sin, sizeof(sin), &ops, NULL,
					&port), 0);
	assert_int_equal(rg_core_start(c), 0);
	fd = h_connect(port);
	/* a plain copied send leaves its bytes in the free chunk: what the test can see */
	roundtrip(fd, "s", buf, strlen(MARKER));
	assert_memory_equal(buf, MARKER, strlen(MARKER));
	roundtrip(fd, "C", buf, 1);
	assert_int_equal(buf[0], 'F');
	close(fd);
	assert_int_equal(h_wait_idle(c, 3000), 0);

	fd = h_connect(port);
	roundtrip(fd, "S", buf, strlen(MARKER));
	assert_memory_equal(buf, MARKER, strlen(MARKER)); /* the peer still gets it */
	/* the "F" answer above overwrote the first chunk: only a fresh copy could match */
	roundtrip(fd, "C", buf, 1);
	assert_int_equal(buf[0], '-');
	close(fd);
	assert_int_equal(h_wait_idle(c, 3000), 0);
	rg_core_shutdown(c, 0);
	assert_int_equal(rg_core_join(c), 0);
	rg_core_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acc_keeps_split_message_tail),
		cmocka_unit_test(test_frontend_transform_sees_every_byte_both_ways),
		cmocka_unit_test(test_copied_sends_are_coalesced_and_flushed_before_close),
		cmocka_unit_test(test_secret_sends_are_wiped_once_sent),
	};

	h_skip_without_uring();
	echo_port = h_echo_server();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
