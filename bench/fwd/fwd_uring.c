/*
 * fwd_uring.c: rg_core running the forward protocol (tests/unit/core/fwd_ops.c), to
 * measure the engine alone against rg_fwd_epoll, pgbouncer and haproxy. On SIGTERM or
 * SIGINT it drains and prints the engine's counters (completions per kernel entry etc.).
 *   rg_fwd_uring LISTEN_PORT UPSTREAM_IP UPSTREAM_PORT [WORKERS]
 * Environment: RG_NO_DEFER=1 (no DEFER_TASKRUN), RG_BUF_SIZE, RG_BUF_COUNT (buffer ring).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "core.h"
#include "fwd_ops.h"

int main(int argc, char **argv)
{
	struct rg_core_config cfg = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct fwd_ctx ctx;
	struct rg_stats st;
	struct rg_core *c;
	sigset_t set;
	int err, sig;

	if (argc < 4) {
		fprintf(stderr, "usage: %s LISTEN_PORT UPSTREAM_IP UPSTREAM_PORT [WORKERS]\n",
			argv[0]);
		return 2;
	}
	cfg.workers = argc > 4 ? (unsigned)atoi(argv[4]) : 1;
	cfg.no_defer_taskrun = getenv("RG_NO_DEFER") != NULL;
	if (getenv("RG_BUF_SIZE"))
		cfg.buf_size = (unsigned)atoi(getenv("RG_BUF_SIZE"));
	if (getenv("RG_BUF_COUNT"))
		cfg.buf_count = (unsigned)atoi(getenv("RG_BUF_COUNT"));
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* workers inherit the mask */
	fwd_ctx_init(&ctx, argv[2], (unsigned short)atoi(argv[3]));
	sin.sin_port = htons((uint16_t)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = rg_core_new(&cfg, &err);
	if (!c || (err = rg_core_listen(c, (struct sockaddr *)&sin, sizeof(sin), &fwd_ops,
					&ctx, NULL)) ||
	    (err = rg_core_start(c))) {
		fprintf(stderr, "rg_fwd_uring: %d\n", err);
		return 1;
	}
	sigwait(&set, &sig);
	rg_core_shutdown(c, 1000);
	rg_core_join(c);
	rg_core_stats(c, -1, &st);
	fprintf(stderr,
		"rg_fwd_uring: accepted=%lu recv=%lu send=%lu submits=%lu cqes=%lu "
		"cqes/submit=%.2f bp_pauses=%lu starved=%lu defer_taskrun=%lu\n",
		(unsigned long)st.accepted, (unsigned long)st.recv_ops,
		(unsigned long)st.send_ops, (unsigned long)st.submits, (unsigned long)st.cqes,
		st.submits ? (double)st.cqes / (double)st.submits : 0.0,
		(unsigned long)st.bp_pauses, (unsigned long)st.buf_starved,
		(unsigned long)st.defer_taskrun);
	rg_core_free(c);
	return 0;
}
