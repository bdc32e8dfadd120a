/*
 * harness.c: see harness.h. Peers are plain blocking threads on purpose: they must not
 * share any code path with the engine under test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

void h_skip_without_uring(void)
{
	int ret = rg_core_probe();

	if (ret) {
		fprintf(stderr, "SKIP: io_uring with buffer rings unavailable: %s\n",
			strerror(-ret));
		exit(77);
	}
}

uint64_t h_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

long h_rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static int listen_any(unsigned short *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 1024) ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl)) {
		perror("listen");
		exit(1);
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static __thread char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		ssize_t off = 0;

		while (off < n) {
			ssize_t m = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);

			if (m <= 0)
				goto out;
			off += m;
		}
	}
	shutdown(fd, SHUT_WR);
out:
	close(fd);
	return NULL;
}

static void *firehose_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t *buf = malloc(65536);
	uint64_t pos = 0;

	for (;;) {
		ssize_t m;
		size_t i;

		for (i = 0; i < 65536; i++)
			buf[i] = h_pat(7, pos + i);
		m = send(fd, buf, 65536, MSG_NOSIGNAL); /* peer gone: EPIPE, not SIGPIPE */
		if (m <= 0)
			break;
		/* a short write restarts the pattern at the right position */
		pos += (uint64_t)m;
	}
	free(buf);
	close(fd);
	return NULL;
}

struct srv {
	int lfd;
	void *(*conn)(void *);
};

static void *acceptor(void *arg)
{
	struct srv *s = arg;

	for (;;) {
		pthread_t t;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			continue;
		if (pthread_create(&t, NULL, s->conn, (void *)(intptr_t)fd)) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

static unsigned short start_srv(void *(*conn)(void *))
{
	struct srv *s = malloc(sizeof(*s));
	unsigned short port;
	pthread_t t;

	s->lfd = listen_any(&port);
	s->conn = conn;
	pthread_create(&t, NULL, acceptor, s);
	pthread_detach(t);
	return port;
}

unsigned short h_echo_server(void)
{
	return start_srv(echo_conn);
}

unsigned short h_firehose_server(void)
{
	return start_srv(firehose_conn);
}

int h_connect(unsigned short port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

int h_xfer(int fd, uint64_t total, uint64_t seed, uint64_t reset_after)
{
	uint8_t *out = malloc(65536), *in = malloc(65536);
	uint64_t sent = 0, got = 0, last = h_ms();
	bool wr_shut = false;
	int ret = 0;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (sent < total)
			p.events |= POLLOUT;
		if (poll(&p, 1, 1000) < 0) {
			ret = -errno;
			break;
		}
		if (h_ms() - last > 20000) {
			ret = -ETIMEDOUT;
			break;
		}
		if (sent < total && (p.revents & POLLOUT)) {
			size_t n = total - sent < 65536 ? (size_t)(total - sent) : 65536, i;
			ssize_t m;

			for (i = 0; i < n; i++)
				out[i] = h_pat(seed, sent + i);
			m = send(fd, out, n, MSG_NOSIGNAL);
			if (m > 0) {
				sent += (uint64_t)m;
				last = h_ms();
			} else if (m < 0 && errno != EAGAIN) {
				ret = -errno;
				break;
			}
			if (reset_after && sent >= reset_after) {
				struct linger lg = { .l_onoff = 1, .l_linger = 0 };

				setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				break;
			}
		}
		if (sent == total && !wr_shut) {
			shutdown(fd, SHUT_WR);
			wr_shut = true;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t m = read(fd, in, 65536), i;

			if (m == 0) {
				if (got != total)
					ret = -EPIPE;
				break;
			}
			if (m < 0) {
				if (errno == EAGAIN)
					continue;
				ret = -errno;
				break;
			}
			for (i = 0; i < m; i++) {
				if (in[i] != h_pat(seed, got + (uint64_t)i)) {
					ret = -EILSEQ;
					goto out;
				}
			}
			got += (uint64_t)m;
			last = h_ms();
		}
	}
out:
	free(out);
	free(in);
	close(fd);
	return ret;
}

struct rg_core *h_start_fwd(const struct rg_core_config *cfg, struct fwd_ctx *ctx,
			    unsigned short up_port, unsigned short *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct rg_core *c;
	int err;

	fwd_ctx_init(ctx, "127.0.0.1", up_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = rg_core_new(cfg, &err);
	if (!c)
		return NULL;
	if (rg_core_listen(c, (struct sockaddr *)&sin, sizeof(sin), &fwd_ops, ctx, port) ||
	    rg_core_start(c)) {
		rg_core_free(c);
		return NULL;
	}
	return c;
}

int h_wait_idle(struct rg_core *c, unsigned ms)
{
	uint64_t end = h_ms() + ms;
	struct rg_stats st;

	do {
		rg_core_stats(c, -1, &st);
		if (!st.active)
			return 0;
		usleep(10000);
	} while (h_ms() < end);
	return -ETIMEDOUT;
}
