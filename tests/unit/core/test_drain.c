/*
 * test_drain.c: graceful shutdown. On rg_core_shutdown (as a SIGTERM handler calls it) the
 * engine stops accepting, tells sessions (on_drain), lets live sessions keep relaying and
 * exits as soon as they end; sessions still open at the deadline are closed with
 * RG_CLOSE_SHUTDOWN.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static unsigned short echo_port;
static struct rg_core *sig_core;

static void on_sigterm(int sig)
{
	(void)sig;
	rg_core_shutdown(sig_core, 5000);
}

static int echo_once(int fd, const char *msg)
{
	char buf[64];
	size_t n = strlen(msg);

	if (write(fd, msg, n) != (ssize_t)n)
		return -EIO;
	if (read(fd, buf, sizeof(buf)) != (ssize_t)n || memcmp(buf, msg, n))
		return -EILSEQ;
	return 0;
}

struct joiner {
	struct rg_core *c;
	int ret;
	volatile int done;
};

static void *join_main(void *arg)
{
	struct joiner *j = arg;

	j->ret = rg_core_join(j->c);
	j->done = 1;
	return NULL;
}

static void test_sigterm_stops_accepting_and_waits_for_live_sessions(void **state)
{
	struct rg_core_config cfg = { .workers = 2 };
	struct fwd_ctx ctx;
	struct joiner j = { 0 };
	unsigned short port;
	pthread_t t;
	uint64_t t0;
	int fd;

	(void)state;
	sig_core = h_start_fwd(&cfg, &ctx, echo_port, &port);
	assert_non_null(sig_core);
	fd = h_connect(port);
	assert_true(fd >= 0);
	assert_int_equal(echo_once(fd, "before"), 0);

	signal(SIGTERM, on_sigterm);
	raise(SIGTERM);
	j.c = sig_core;
	pthread_create(&t, NULL, join_main, &j);
	usleep(100000);
	assert_int_equal(atomic_load(&ctx.drains), 1);
	/* no listener any more */
	assert_true(h_connect(port) < 0);
	/* the live session still relays */
	assert_int_equal(echo_once(fd, "during drain"), 0);
	assert_false(j.done);
	/* and the engine exits as soon as it ends, long before the 5 s deadline */
	t0 = h_ms();
	close(fd);
	pthread_join(t, NULL);
	assert_int_equal(j.ret, 0);
	assert_true(h_ms() - t0 < 2000);
	assert_int_equal(atomic_load(&ctx.closes[RG_CLOSE_EOF]), 1);
	assert_int_equal(rg_core_post(sig_core, 0, NULL, NULL), -ESHUTDOWN);
	rg_core_free(sig_core);
	signal(SIGTERM, SIG_DFL);
}

static void test_drain_deadline_closes_remaining_sessions(void **state)
{
	struct rg_core_config cfg = { .workers = 2 };
	struct fwd_ctx ctx;
	unsigned short port;
	struct rg_core *c;
	uint64_t t0;
	int fd[4], i;
	char b;

	(void)state;
	c = h_start_fwd(&cfg, &ctx, echo_port, &port);
	assert_non_null(c);
	for (i = 0; i < 4; i++) {
		fd[i] = h_connect(port);
		assert_int_equal(echo_once(fd[i], "x"), 0);
	}
	t0 = h_ms();
	rg_core_shutdown(c, 300);
	assert_int_equal(rg_core_join(c), 0);
	assert_true(h_ms() - t0 >= 250);
	assert_true(h_ms() - t0 < 3000);
	assert_int_equal(atomic_load(&ctx.closes[RG_CLOSE_SHUTDOWN]), 4);
	for (i = 0; i < 4; i++) {
		assert_true(read(fd[i], &b, 1) <= 0);
		close(fd[i]);
	}
	rg_core_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigterm_stops_accepting_and_waits_for_live_sessions),
		cmocka_unit_test(test_drain_deadline_closes_remaining_sessions),
	};

	h_skip_without_uring();
	echo_port = h_echo_server();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
