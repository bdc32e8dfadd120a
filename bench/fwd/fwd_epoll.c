/*
 * fwd_epoll.c: the floor reference. A minimal TCP byte forwarder: epoll, read, write, no
 * parsing, no buffering (a short write waits for the peer with poll). Whatever ringgate
 * costs above this per query is ringgate's own work.
 *   rg_fwd_epoll LISTEN_PORT UPSTREAM_IP UPSTREAM_PORT [THREADS]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

static struct sockaddr_in lis = { .sin_family = AF_INET }, up = { .sin_family = AF_INET };

static int write_all(int fd, const char *p, ssize_t n)
{
	while (n > 0) {
		ssize_t m = write(fd, p, (size_t)n);
		struct pollfd pf = { .fd = fd, .events = POLLOUT };

		if (m > 0) {
			p += m;
			n -= m;
		} else if (m < 0 && errno == EAGAIN) {
			poll(&pf, 1, -1);
		} else {
			return -1;
		}
	}
	return 0;
}

static void *run(void *arg)
{
	int one = 1, ep = epoll_create1(0), lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ~0ull }, evs[64];
	static __thread char buf[65536];

	(void)arg;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&lis, sizeof(lis)) || listen(lfd, 1024)) {
		perror("listen");
		exit(1);
	}
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1), i;

		for (i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;
			int fd = (int)(d & 0xffffffff), peer = (int)(d >> 32);
			ssize_t m;

			if (d == ~0ull) {
				int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
				int u = socket(AF_INET, SOCK_STREAM, 0);

				if (c < 0 || connect(u, (struct sockaddr *)&up, sizeof(up))) {
					close(c);
					close(u);
					continue;
				}
				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				ev.data.u64 = (uint64_t)(uint32_t)c | (uint64_t)u << 32;
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				ev.data.u64 = (uint64_t)(uint32_t)u | (uint64_t)c << 32;
				epoll_ctl(ep, EPOLL_CTL_ADD, u, &ev);
				continue;
			}
			m = read(fd, buf, sizeof(buf));
			if (m < 0 && errno == EAGAIN)
				continue;
			if (m <= 0 || write_all(peer, buf, m)) {
				close(fd); /* closing removes both from the epoll set */
				close(peer);
			}
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int i, n = argc > 4 ? atoi(argv[4]) : 1;
	pthread_t t;

	if (argc < 4) {
		fprintf(stderr, "usage: %s LISTEN_PORT UPSTREAM_IP UPSTREAM_PORT [THREADS]\n",
			argv[0]);
		return 2;
	}
	lis.sin_port = htons((uint16_t)atoi(argv[1]));
	lis.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	up.sin_port = htons((uint16_t)atoi(argv[3]));
	inet_pton(AF_INET, argv[2], &up.sin_addr);
	for (i = 1; i < n; i++)
		pthread_create(&t, NULL, run, NULL);
	run(NULL);
	return 0;
}
