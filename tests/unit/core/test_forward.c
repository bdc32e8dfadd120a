/*
 * test_forward.c: the engine relays bytes exactly: a small round trip, many concurrent
 * clients, a 64 MiB transfer checked byte by byte, a client reset mid-transfer, an
 * unreachable upstream, and the idle timeout. All through the forward protocol against a
 * loopback echo server.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static unsigned short echo_port;

struct env {
	struct rg_core *c;
	struct fwd_ctx ctx;
	unsigned short port;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct rg_core_config cfg = { .workers = 2 };

	e->c = h_start_fwd(&cfg, &e->ctx, echo_port, &e->port);
	assert_non_null(e->c);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	rg_core_shutdown(e->c, 1000);
	assert_int_equal(rg_core_join(e->c), 0);
	rg_core_free(e->c);
	free(e);
	return 0;
}

static void test_small_round_trip_then_eof_closes_session(void **state)
{
	struct env *e = *state;
	struct rg_stats st;
	int fd = h_connect(e->port);

	assert_true(fd >= 0);
	assert_int_equal(h_xfer(fd, 5, 1, 0), 0);
	assert_int_equal(h_wait_idle(e->c, 3000), 0);
	rg_core_stats(e->c, -1, &st);
	assert_int_equal(st.accepted, 1);
	assert_int_equal(st.closed, 1);
	assert_int_equal(st.fe_bytes_in, 5);
	assert_int_equal(st.be_bytes_out, 5);
	assert_int_equal(atomic_load(&e->ctx.closes[RG_CLOSE_EOF]), 1);
	assert_int_equal(st.bufs_in_use, 0);
}

struct client {
	unsigned short port;
	uint64_t bytes;
	uint64_t seed;
	int ret;
};

static void *client_main(void *arg)
{
	struct client *cl = arg;
	int fd = h_connect(cl->port);

	cl->ret = fd < 0 ? fd : h_xfer(fd, cl->bytes, cl->seed, 0);
	return NULL;
}

static void test_many_concurrent_clients_get_exact_bytes(void **state)
{
	enum { N = 64 };
	struct env *e = *state;
	struct client cl[N];
	pthread_t t[N];
	struct rg_stats st;
	unsigned i;

	for (i = 0; i < N; i++) {
		cl[i] = (struct client){ .port = e->port, .bytes = 256 * 1024 + i * 777,
					 .seed = i + 100 };
		assert_int_equal(pthread_create(&t[i], NULL, client_main, &cl[i]), 0);
	}
	for (i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(cl[i].ret, 0);
	}
	assert_int_equal(h_wait_idle(e->c, 5000), 0);
	rg_core_stats(e->c, -1, &st);
	assert_int_equal(st.accepted, N);
	assert_int_equal(atomic_load(&e->ctx.closes[RG_CLOSE_EOF]), N);
	/* both workers took connections (SO_REUSEPORT spreads by 4-tuple hash) */
	rg_core_stats(e->c, 0, &st);
	assert_true(st.accepted > 0 && st.accepted < N);
}

static void test_64mib_transfer_is_byte_exact(void **state)
{
	struct env *e = *state;
	const uint64_t total = 64ull << 20;
	struct rg_stats st;
	int fd = h_connect(e->port);

	assert_true(fd >= 0);
	assert_int_equal(h_xfer(fd, total, 42, 0), 0);
	assert_int_equal(h_wait_idle(e->c, 3000), 0);
	rg_core_stats(e->c, -1, &st);
	assert_int_equal(st.fe_bytes_in, total);
	assert_int_equal(st.fe_bytes_out, total);
	assert_int_equal(st.bufs_in_use, 0);
	/* batching: more than one completion per kernel entry on average */
	assert_true(st.cqes > st.submits);
}

static void test_client_reset_mid_transfer_frees_session(void **state)
{
	struct env *e = *state;
	struct rg_stats st;
	int fd = h_connect(e->port);

	assert_true(fd >= 0);
	assert_int_equal(h_xfer(fd, 32ull << 20, 3, 4ull << 20), 0);
	assert_int_equal(h_wait_idle(e->c, 5000), 0);
	rg_core_stats(e->c, -1, &st);
	assert_int_equal(st.closed, 1);
	assert_int_equal(st.bufs_in_use, 0);
	assert_int_equal(atomic_load(&e->ctx.closes[RG_CLOSE_FE_ERROR]) +
				 atomic_load(&e->ctx.closes[RG_CLOSE_BE_ERROR]),
			 1);
	/* the engine still serves */
	fd = h_connect(e->port);
	assert_int_equal(h_xfer(fd, 1 << 20, 4, 0), 0);
}

static void test_unreachable_upstream_closes_client(void **state)
{
	struct fwd_ctx ctx;
	struct rg_core_config cfg = { .workers = 1, .connect_ms = 1000 };
	unsigned short port;
	struct rg_core *c;
	int fd;
	char b;

	(void)state;
	/* nothing listens on port 1 of loopback: connect is refused */
	assert_true(h_connect(1) < 0);
	c = h_start_fwd(&cfg, &ctx, 1, &port);
	assert_non_null(c);
	fd = h_connect(port);
	assert_true(fd >= 0);
	assert_true(read(fd, &b, 1) <= 0);
	close(fd);
	assert_int_equal(h_wait_idle(c, 3000), 0);
	assert_int_equal(atomic_load(&ctx.connect_errs), 1);
	rg_core_shutdown(c, 0);
	assert_int_equal(rg_core_join(c), 0);
	rg_core_free(c);
}

static void test_idle_session_times_out(void **state)
{
	struct fwd_ctx ctx;
	struct rg_core_config cfg = { .workers = 1, .idle_ms = 200 };
	unsigned short port;
	struct rg_core *c;
	uint64_t t0;
	int fd;
	char b;

	(void)state;
	c = h_start_fwd(&cfg, &ctx, echo_port, &port);
	assert_non_null(c);
	fd = h_connect(port);
	assert_true(fd >= 0);
	t0 = h_ms();
	assert_true(read(fd, &b, 1) <= 0);
	assert_true(h_ms() - t0 >= 150);
	assert_true(h_ms() - t0 < 2000);
	close(fd);
	assert_int_equal(h_wait_idle(c, 3000), 0);
	assert_int_equal(atomic_load(&ctx.closes[RG_CLOSE_IDLE]), 1);
	rg_core_shutdown(c, 0);
	assert_int_equal(rg_core_join(c), 0);
	rg_core_free(c);
}

static void test_without_defer_taskrun_still_relays(void **state)
{
	struct fwd_ctx ctx;
	struct rg_core_config cfg = { .workers = 1, .no_defer_taskrun = 1 };
	unsigned short port;
	struct rg_core *c;
	struct rg_stats st;

	(void)state;
	c = h_start_fwd(&cfg, &ctx, echo_port, &port);
	assert_non_null(c);
	rg_core_stats(c, -1, &st);
	assert_int_equal(st.defer_taskrun, 0);
	assert_int_equal(h_xfer(h_connect(port), 8 << 20, 9, 0), 0);
	rg_core_shutdown(c, 0);
	assert_int_equal(rg_core_join(c), 0);
	rg_core_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_small_round_trip_then_eof_closes_session,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_concurrent_clients_get_exact_bytes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_64mib_transfer_is_byte_exact, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_client_reset_mid_transfer_frees_session,
						setup, teardown),
		cmocka_unit_test(test_unreachable_upstream_closes_client),
		cmocka_unit_test(test_idle_session_times_out),
		cmocka_unit_test(test_without_defer_taskrun_still_relays),
	};

	h_skip_without_uring();
	echo_port = h_echo_server();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
