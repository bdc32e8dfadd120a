/*
 * test_close.c: rg_sess_close() is a graceful close. A protocol answers and closes while
 * its peer still sends bytes it will never read (a client pipelining after a protocol
 * violation); closing a socket with unread bytes makes the kernel send a RST, which can
 * destroy the answer before the peer reads it. So: the peer must read the whole answer
 * and then EOF, never a reset, on the frontend and on the backend side, over many rounds
 * (the race depends on timing). A peer that never stops sending, or never closes, is cut
 * off by linger_bytes / linger_ms and the session still ends.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define REPLY_LEN 3000		/* the "ErrorResponse": a few segments, pattern seed 3 */
#define EXTRA_LEN (256 * 1024)	/* what the peer sends behind the trigger, never read */

/* ---- the test protocol: answer the first bytes from the frontend, then close ---- */

struct close_ctx {
	struct sockaddr_in be;	/* backend for the backend-side test, else port 0 */
	_Atomic unsigned long closes[RG_CLOSE_NOMEM + 1];
};

static int rc_accept(struct rg_sess *s)
{
	struct close_ctx *ctx = rg_sess_proto_ctx(s);

	if (!ctx->be.sin_port)
		return 0;
	/* the backend's bytes stay unread in its socket: nobody asks for them */
	rg_sess_pause(s, RG_BE);
	return rg_sess_connect_be(s, (struct sockaddr *)&ctx->be, sizeof(ctx->be));
}

static int rc_fe_data(struct rg_sess *s, struct rg_buf *b)
{
	struct close_ctx *ctx = rg_sess_proto_ctx(s);
	uint8_t reply[REPLY_LEN];
	size_t i;
	int ret;

	if (!b) {
		rg_sess_close(s);
		return 0;
	}
	for (i = 0; i < sizeof(reply); i++)
		reply[i] = h_pat(3, i);
	/* the rest of b (and everything after it) is never looked at */
	ret = rg_sess_send(s, ctx->be.sin_port ? RG_BE : RG_FE, reply, sizeof(reply));
	rg_sess_close(s);
	return ret;
}

static void rc_close(struct rg_sess *s, enum rg_close_reason reason)
{
	struct close_ctx *ctx = rg_sess_proto_ctx(s);

	atomic_fetch_add(&ctx->closes[reason], 1);
}

static const struct rg_proto_ops rc_ops = {
	.name = "reply-close",
	.on_accept = rc_accept,
	.on_fe_data = rc_fe_data,
	.on_close = rc_close,
};

static struct rg_core *start(struct rg_core_config *cfg, struct close_ctx *ctx,
			     unsigned short *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct rg_core *c;
	int err;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = rg_core_new(cfg, &err);
	assert_non_null(c);
	assert_int_equal(rg_core_listen(c, (struct sockaddr *)&sin, sizeof(sin), &rc_ops, ctx,
					port), 0);
	assert_int_equal(rg_core_start(c), 0);
	return c;
}

static void stop(struct rg_core *c)
{
	rg_core_shutdown(c, 1000);
	assert_int_equal(rg_core_join(c), 0);
	rg_core_free(c);
}

/* ---- the peer ---- */

/*
 * The peer's side of one round on fd: send `extra` bytes (after `first`, if any) while
 * reading; the answer must be REPLY_LEN pattern bytes, then EOF. extra == 0 sends forever
 * (a hostile peer): sending ends at the first send error then, which is expected.
 * Returns 0, or -ECONNRESET / -EPIPE when the gateway reset the connection, -EILSEQ on a
 * wrong byte, -ETIMEDOUT after 10 s. Does not close fd.
 */
static int peer_round(int fd, const void *first, size_t first_len, size_t extra,
		      bool *got_eof)
{
	static __thread uint8_t junk[65536], in[65536];
	size_t sent = 0, got = 0;
	bool eof = false, forever = !extra;
	uint64_t end = h_ms() + 10000;

	memset(junk, 'j', sizeof(junk));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (first_len && send(fd, first, first_len, MSG_NOSIGNAL) != (ssize_t)first_len)
		return -errno;
	while (!eof || forever || sent < extra) {
		struct pollfd p = { .fd = fd, .events = eof ? 0 : POLLIN };

		if (forever || sent < extra)
			p.events |= POLLOUT;
		if (h_ms() > end)
			return -ETIMEDOUT;
		if (poll(&p, 1, 100) < 0)
			return -errno;
		if (p.revents & POLLOUT) {
			size_t n = sizeof(junk);
			ssize_t m;

			if (!forever && extra - sent < n)
				n = extra - sent;
			m = send(fd, junk, n, MSG_NOSIGNAL);
			if (m < 0 && errno != EAGAIN && !forever)
				return -errno;
			if (m < 0 && errno != EAGAIN) {
				/* cut off, as expected of a hostile peer: the reply + EOF came first */
				forever = false;
				extra = sent;
			}
			if (m > 0)
				sent += (size_t)m;
		}
		if (!eof && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t m = recv(fd, in, sizeof(in), 0), i;

			if (m < 0 && errno == EAGAIN)
				continue;
			if (m < 0)
				return -errno;
			if (m == 0) {
				if (got != REPLY_LEN)
					return -EPIPE;
				eof = true;
				continue;
			}
			for (i = 0; i < m; i++) {
				if (got + (size_t)i >= REPLY_LEN || in[i] != h_pat(3, got + (size_t)i))
					return -EILSEQ;
			}
			got += (size_t)m;
		}
	}
	*got_eof = eof;
	return 0;
}

static void wait_closes(struct close_ctx *ctx, unsigned long n)
{
	uint64_t end = h_ms() + 5000;
	unsigned long sum;
	unsigned i;

	do {
		for (sum = 0, i = 0; i <= RG_CLOSE_NOMEM; i++)
			sum += atomic_load(&ctx->closes[i]);
		if (sum >= n)
			return;
		usleep(5000);
	} while (h_ms() < end);
	fail_msg("%lu of %lu sessions closed", sum, n);
}

/* ---- frontend ---- */

static void test_client_reads_reply_then_eof_despite_unread_pipelined_bytes(void **state)
{
	struct rg_core_config cfg = { .workers = 2 };
	struct close_ctx ctx = { 0 };
	struct rg_stats st;
	unsigned short port;
	struct rg_core *c = start(&cfg, &ctx, &port);
	int i, resets = 0, other = 0;

	(void)state;
	for (i = 0; i < 200; i++) {
		int fd = h_connect(port), ret;
		bool eof = false;

		assert_true(fd >= 0);
		ret = peer_round(fd, "trigger!", 8, EXTRA_LEN, &eof);
		if (ret == -ECONNRESET || ret == -EPIPE)
			resets++;
		else if (ret)
			other++;
		close(fd);
	}
	if (resets || other)
		fail_msg("%d of 200 clients saw a reset instead of reply + EOF, %d other errors",
			 resets, other);
	wait_closes(&ctx, 200);
	assert_int_equal(h_wait_idle(c, 3000), 0);
	assert_int_equal(atomic_load(&ctx.closes[RG_CLOSE_PROTO]), 200);
	rg_core_stats(c, -1, &st);
	assert_int_equal(st.linger_cut, 0);
	assert_true(st.linger_bytes > 0);
	/* every dropped buffer went straight back to the ring */
	assert_int_equal(st.bufs_in_use, 0);
	stop(c);
}

static void test_peer_that_never_stops_sending_is_cut_at_linger_bytes(void **state)
{
	/* linger_ms is long: only the byte bound can end this session soon */
	struct rg_core_config cfg = { .workers = 1, .linger_ms = 20000,
				      .linger_bytes = 512 * 1024 };
	struct close_ctx ctx = { 0 };
	struct rg_stats st;
	unsigned short port;
	struct rg_core *c = start(&cfg, &ctx, &port);
	uint64_t t0 = h_ms();
	bool eof = false;
	int fd = h_connect(port);

	(void)state;
	assert_true(fd >= 0);
	/* the reply and the FIN arrive first; the hard close then fails a send */
	assert_int_equal(peer_round(fd, "trigger!", 8, 0, &eof), 0);
	assert_true(eof);
	close(fd);
	assert_int_equal(h_wait_idle(c, 5000), 0);
	assert_true(h_ms() - t0 < 5000);
	assert_int_equal(atomic_load(&ctx.closes[RG_CLOSE_PROTO]), 1);
	rg_core_stats(c, -1, &st);
	assert_int_equal(st.linger_cut, 1);
	assert_true(st.linger_bytes >= 512 * 1024);
	assert_int_equal(st.bufs_in_use, 0);
	stop(c);
}

static void test_peer_that_never_closes_is_cut_at_linger_ms(void **state)
{
	struct rg_core_config cfg = { .workers = 1, .linger_ms = 300 };
	struct close_ctx ctx = { 0 };
	struct rg_stats st;
	unsigned short port;
	struct rg_core *c = start(&cfg, &ctx, &port);
	uint64_t t0;
	bool eof = false;
	int fd = h_connect(port), i;

	(void)state;
	assert_true(fd >= 0);
	/* reads the reply and the EOF, then trickles a byte now and then, never closing */
	assert_int_equal(peer_round(fd, "trigger!", 8, 1, &eof), 0);
	assert_true(eof);
	t0 = h_ms();
	for (i = 0; i < 100 && h_wait_idle(c, 0); i++) {
		(void)send(fd, "x", 1, MSG_NOSIGNAL);
		usleep(20000);
	}
	assert_int_equal(h_wait_idle(c, 3000), 0);
	assert_true(h_ms() - t0 < 1500);
	/* the reply was delivered: the reason is the protocol's, not RG_CLOSE_LINGER */
	assert_int_equal(atomic_load(&ctx.closes[RG_CLOSE_PROTO]), 1);
	rg_core_stats(c, -1, &st);
	assert_int_equal(st.linger_cut, 1);
	close(fd);
	stop(c);
}

/* ---- backend ---- */

struct be_peer {
	int lfd;
	int rounds;
	int bad;		/* rounds where the backend saw a reset or a wrong message */
	int firsterr;
};

/*
 * The backend: for each connection, stream EXTRA_LEN bytes the gateway never reads, and
 * expect the protocol's message (REPLY_LEN pattern bytes) followed by EOF.
 */
static void *be_main(void *arg)
{
	struct be_peer *b = arg;
	int i;

	for (i = 0; i < b->rounds; i++) {
		int fd = accept4(b->lfd, NULL, NULL, SOCK_CLOEXEC), ret;
		bool eof = false;

		if (fd < 0) {
			b->bad++;
			continue;
		}
		ret = peer_round(fd, NULL, 0, EXTRA_LEN, &eof);
		if (ret) {
			b->bad++;
			if (!b->firsterr)
				b->firsterr = ret;
		}
		close(fd);
	}
	return NULL;
}

static void test_backend_reads_message_then_eof_despite_unread_bytes(void **state)
{
	struct rg_core_config cfg = { .workers = 1 };
	struct close_ctx ctx = { 0 };
	struct be_peer bp = { .rounds = 50 };
	socklen_t sl = sizeof(ctx.be);
	unsigned short port;
	struct rg_core *c;
	pthread_t t;
	int i;

	(void)state;
	ctx.be.sin_family = AF_INET;
	ctx.be.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bp.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(bp.lfd, (struct sockaddr *)&ctx.be, sizeof(ctx.be)), 0);
	assert_int_equal(listen(bp.lfd, 64), 0);
	assert_int_equal(getsockname(bp.lfd, (struct sockaddr *)&ctx.be, &sl), 0);
	c = start(&cfg, &ctx, &port);
	pthread_create(&t, NULL, be_main, &bp);
	for (i = 0; i < bp.rounds; i++) {
		int fd = h_connect(port);
		char ch;

		assert_true(fd >= 0);
		usleep(2000); /* let the backend's bytes pile up unread */
		assert_int_equal(write(fd, "go", 2), 2);
		/* the frontend gets no reply: EOF once the session closed */
		assert_int_equal(read(fd, &ch, 1), 0);
		close(fd);
	}
	pthread_join(t, NULL);
	close(bp.lfd);
	if (bp.bad)
		fail_msg("%d of %d backends saw no clean message + EOF (first: %s)", bp.bad,
			 bp.rounds, strerror(-bp.firsterr));
	assert_int_equal(h_wait_idle(c, 3000), 0);
	assert_int_equal(atomic_load(&ctx.closes[RG_CLOSE_PROTO]), bp.rounds);
	stop(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_reads_reply_then_eof_despite_unread_pipelined_bytes),
		cmocka_unit_test(test_peer_that_never_stops_sending_is_cut_at_linger_bytes),
		cmocka_unit_test(test_peer_that_never_closes_is_cut_at_linger_ms),
		cmocka_unit_test(test_backend_reads_message_then_eof_despite_unread_bytes),
	};

	h_skip_without_uring();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
