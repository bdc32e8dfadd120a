/*
 * test_accept_backoff.c: the listener out of file descriptors. With RLIMIT_NOFILE lowered
 * so that only two more fds can be opened, six clients connect: two sessions start, the
 * other four wait in the backlog and every accept fails with EMFILE. The multishot accept
 * must then pause (RG_ACCEPT_BACKOFF_MS, counted in accept_backoff) instead of re-arming in
 * a spin, and once fds are available again every waiting client is served.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define NCLIENTS 6

static int echo_fe(struct rg_sess *s, struct rg_buf *b)
{
	if (!b) {
		rg_sess_close(s);
		return 0;
	}
	return rg_sess_send_ref(s, RG_FE, b, 0, b->len);
}

static int echo_accept(struct rg_sess *s)
{
	(void)s;
	return 0;
}

/* The lowest fd number free now: with the limit set to it + k, k more fds can be opened. */
static int lowest_free_fd(void)
{
	int fd = dup(0);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

static int highest_open_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int hi = -1, self = dirfd(d);

	assert_non_null(d);
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] != '.' && fd != self && fd > hi)
			hi = fd;
	}
	closedir(d);
	return hi;
}

/* Send "ping" on fd and expect want bytes of pings back within ms (earlier unanswered
 * pings are answered too once the session exists). */
static int echoes(int fd, size_t want, unsigned ms)
{
	uint64_t end = h_ms() + ms;
	char buf[64];
	size_t got = 0;

	if (write(fd, "ping", 4) != 4)
		return -errno;
	while (got < want) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = h_ms();
		ssize_t n;

		if (now >= end || poll(&p, 1, (int)(end - now)) != 1)
			return -ETIMEDOUT;
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n <= 0)
			return -EIO;
		got += (size_t)n;
	}
	return got == want && !memcmp(buf, "pingpingping", want) ? 0 : -EIO;
}

static void test_emfile_pauses_accept_instead_of_spinning(void **state)
{
	static const struct rg_proto_ops ops = { .name = "echo", .on_accept = echo_accept,
						 .on_fe_data = echo_fe };
	struct rg_core_config cfg = { .workers = 1 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct rlimit old, low;
	struct rg_stats a, b;
	struct rg_core *c;
	unsigned short port;
	int fds[NCLIENTS], fill[256], nfill = 0, i, err, served = 0, base, need;
	uint64_t t0;

	(void)state;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* the client sockets exist before the limit drops; only the engine's accepts are short */
	for (i = 0; i < NCLIENTS; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fds[i] >= 0);
	}
	/* fill the holes below the highest open fd, so that fds are handed out in order */
	while (nfill < (int)(sizeof(fill) / sizeof(fill[0])) &&
	       lowest_free_fd() < highest_open_fd())
		fill[nfill++] = dup(0);
	assert_true(lowest_free_fd() > highest_open_fd());
	/*
	 * io_uring reads RLIMIT_NOFILE when the accept is prepared, so the limit must drop before
	 * the engine arms its accept: leave room for what starting an engine opens (measured
	 * here with a first engine) plus exactly two sessions.
	 */
	base = lowest_free_fd();
	c = rg_core_new(&cfg, &err);
	assert_non_null(c);
	assert_int_equal(rg_core_listen(c, (struct sockaddr *)&sin, sizeof(sin), &ops, NULL,
					&port), 0);
	assert_int_equal(rg_core_start(c), 0);
	need = highest_open_fd() + 1 - base;
	rg_core_shutdown(c, 0);
	assert_int_equal(rg_core_join(c), 0);
	rg_core_free(c);
	assert_int_equal(lowest_free_fd(), base);

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)(base + need + 2);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	c = rg_core_new(&cfg, &err);
	assert_non_null(c);
	assert_int_equal(rg_core_listen(c, (struct sockaddr *)&sin, sizeof(sin), &ops, NULL,
					&port), 0);
	assert_int_equal(rg_core_start(c), 0);
	assert_int_equal(lowest_free_fd(), base + need);
	sin.sin_port = htons(port);
	for (i = 0; i < NCLIENTS; i++)
		assert_int_equal(connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)), 0);

	/* two sessions run; the others wait while the listener backs off */
	for (i = 0; i < NCLIENTS; i++)
		served += echoes(fds[i], 4, i < 2 ? 5000 : 300) == 0;
	assert_int_equal(served, 2);
	rg_core_stats(c, -1, &a);
	assert_int_equal(a.accepted, 2);
	assert_true(a.accept_backoff >= 1);
	usleep(1000 * 1000);
	rg_core_stats(c, -1, &b);
	/* 1 s at 100 ms per pause: about ten; a spin would be tens of thousands */
	assert_true(b.accept_backoff > a.accept_backoff);
	assert_true(b.accept_backoff - a.accept_backoff <= 15);
	assert_true(b.cqes - a.cqes <= 40);
	assert_int_equal(b.accepted, 2);

	/* fds back: every waiting client gets its session within a few back-off periods */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	t0 = h_ms();
	for (i = 0; i < NCLIENTS; i++)
		assert_int_equal(echoes(fds[i], i < 2 ? 4 : 8, 5000), 0);
	assert_true(h_ms() - t0 < 5000);
	rg_core_stats(c, -1, &b);
	assert_int_equal(b.accepted, NCLIENTS);
	for (i = 0; i < NCLIENTS; i++)
		close(fds[i]);
	for (i = 0; i < nfill; i++)
		close(fill[i]);
	assert_int_equal(h_wait_idle(c, 3000), 0);
	rg_core_shutdown(c, 0);
	assert_int_equal(rg_core_join(c), 0);
	rg_core_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_emfile_pauses_accept_instead_of_spinning),
	};

	h_skip_without_uring();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
