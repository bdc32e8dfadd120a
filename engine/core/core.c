/*
 * core.c: the engine's lifecycle (config defaults, listeners, starting and joining
 * workers, drain), the cross-thread post, the counters snapshot and the feature probe.
 *
 * Everything here runs on the control thread (main, admin) except rg_core_post() and
 * rg_core_shutdown(), which any thread may call: they only touch the target worker's
 * lock-free queue, atomics and eventfd. rg_core_shutdown() is async-signal-safe.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core-int.h"

int rg_core_probe(void)
{
	struct io_uring ring;
	struct io_uring_probe *probe;
	struct io_uring_buf_ring *br;
	static const int ops[] = { IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SEND,
				   IORING_OP_SENDMSG, IORING_OP_CONNECT, IORING_OP_ASYNC_CANCEL,
				   IORING_OP_LINK_TIMEOUT, IORING_OP_READ };
	unsigned i;
	int ret;

	ret = io_uring_queue_init(8, &ring, 0);
	if (ret)
		return ret;
	probe = io_uring_get_probe_ring(&ring);
	if (!probe) {
		ret = -ENOSYS;
		goto out_ring;
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (!io_uring_opcode_supported(probe, ops[i]))
			ret = -ENOSYS;
	}
	io_uring_free_probe(probe);
	if (ret)
		goto out_ring;
	/* buffer rings arrived in 5.19, multishot recv in 6.0: the former is probeable */
	br = rg_buf_ring_setup(&ring, 8, 1, &ret);
	if (!br)
		goto out_ring;
	rg_buf_ring_free(&ring, br, 8, 1);
	ret = 0;
out_ring:
	io_uring_queue_exit(&ring);
	return ret;
}

struct rg_core *rg_core_new(const struct rg_core_config *cfg, int *err)
{
	struct rg_core *c = calloc(1, sizeof(*c));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (!c) {
		*err = -ENOMEM;
		return NULL;
	}
	if (cfg)
		c->cfg = *cfg;
	if (!c->cfg.workers)
		c->cfg.workers = ncpu > 0 ? (unsigned)ncpu : 1;
	if (!c->cfg.ring_entries)
		c->cfg.ring_entries = 1024;
	if (!c->cfg.buf_size)
		c->cfg.buf_size = 16384;
	if (!c->cfg.buf_count)
		c->cfg.buf_count = 1024;
	if (!c->cfg.sendq_hiwat)
		c->cfg.sendq_hiwat = 128 * 1024;
	if (!c->cfg.sendq_lowat || c->cfg.sendq_lowat > c->cfg.sendq_hiwat)
		c->cfg.sendq_lowat = c->cfg.sendq_hiwat / 4;
	if (!c->cfg.linger_ms)
		c->cfg.linger_ms = 2000;
	if (!c->cfg.linger_bytes)
		c->cfg.linger_bytes = 1024 * 1024;
	if (c->cfg.buf_count & (c->cfg.buf_count - 1) || c->cfg.buf_count > 32768 ||
	    c->cfg.buf_size > (1u << 30)) {
		free(c);
		*err = -EINVAL;
		return NULL;
	}
	pthread_mutex_init(&c->init_mu, NULL);
	pthread_cond_init(&c->init_cv, NULL);
	*err = 0;
	return c;
}

int rg_core_listen(struct rg_core *c, const struct sockaddr *addr, socklen_t len,
		   const struct rg_proto_ops *ops, void *proto_ctx, uint16_t *bound_port)
{
	struct rg_listener *l;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1, fd, ret;

	if (c->started || c->nlis == RG_MAX_LISTENERS || !ops || !ops->on_accept ||
	    len > sizeof(l->addr))
		return -EINVAL;
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, addr, len) || listen(fd, 4096) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	l = &c->lis[c->nlis++];
	/* workers bind to the resolved address so that port 0 means one port for all */
	memcpy(&l->addr, &ss, sl);
	l->addrlen = sl;
	l->ops = ops;
	l->proto_ctx = proto_ctx;
	l->fd0 = fd;
	if (bound_port) {
		if (ss.ss_family == AF_INET)
			*bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			*bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		else
			*bound_port = 0;
	}
	return 0;
}

int rg_core_start(struct rg_core *c)
{
	unsigned i;
	int ret = 0;

	if (c->started)
		return -EALREADY;
	c->w = calloc(c->cfg.workers, sizeof(*c->w));
	if (!c->w)
		return -ENOMEM;
	for (i = 0; i < c->cfg.workers; i++) {
		struct rg_worker *w = aligned_alloc(64, (sizeof(*w) + 63) & ~(size_t)63);
		unsigned k;

		if (!w) {
			ret = -ENOMEM;
			break;
		}
		memset(w, 0, sizeof(*w));
		w->c = c;
		w->id = i;
		for (k = 0; k < RG_MQ_SIZE; k++)
			atomic_init(&w->mq[k].seq, k);
		w->efd = eventfd(0, EFD_CLOEXEC);
		if (w->efd < 0) {
			ret = -errno;
			free(w);
			break;
		}
		c->w[i] = w;
		c->nw++;
	}
	if (ret)
		goto out_free;
	c->started = true;
	for (i = 0; i < c->nw; i++) {
		ret = -pthread_create(&c->w[i]->thr, NULL, rg_worker_main, c->w[i]);
		if (ret) {
			/* the threads already running must see everyone "done" to proceed */
			pthread_mutex_lock(&c->init_mu);
			c->init_done += c->nw - i;
			c->init_err = ret;
			pthread_cond_broadcast(&c->init_cv);
			pthread_mutex_unlock(&c->init_mu);
			c->nw = i;
			break;
		}
		{ /* top -H, perf and the benchmarks tell the workers apart */
			char name[16];

			snprintf(name, sizeof(name), "rg-worker-%u", i % 10000);
			pthread_setname_np(c->w[i]->thr, name);
		}
	}
	pthread_mutex_lock(&c->init_mu);
	while (c->init_done < c->nw)
		pthread_cond_wait(&c->init_cv, &c->init_mu);
	ret = c->init_err;
	pthread_mutex_unlock(&c->init_mu);
	if (ret) {
		rg_core_shutdown(c, 0);
		rg_core_join(c);
	}
	return ret;

out_free:
	for (i = 0; i < c->nw; i++) {
		close(c->w[i]->efd);
		free(c->w[i]);
	}
	free(c->w);
	c->w = NULL;
	c->nw = 0;
	return ret;
}

void rg_core_shutdown(struct rg_core *c, unsigned drain_ms)
{
	uint64_t one = 1;
	unsigned i;

	atomic_store(&c->drain_ms, drain_ms);
	atomic_store(&c->stopping, 1);
	for (i = 0; i < c->nw; i++) {
		if (write(c->w[i]->efd, &one, sizeof(one)) < 0) {
			/* eventfd counter overflow only: the worker is awake anyway */
		}
	}
}

int rg_core_join(struct rg_core *c)
{
	unsigned i;
	int ret = 0;

	for (i = 0; i < c->nw; i++) {
		struct rg_worker *w = c->w[i];

		if (!w->thr)
			continue;
		pthread_join(w->thr, NULL);
		w->thr = 0;
		if (w->err && !ret)
			ret = w->err;
	}
	return ret;
}

void rg_core_free(struct rg_core *c)
{
	unsigned i;

	if (!c)
		return;
	for (i = 0; i < c->nw; i++) {
		close(c->w[i]->efd);
		free(c->w[i]);
	}
	free(c->w);
	for (i = 0; i < c->nlis; i++) {
		if (c->lis[i].fd0 >= 0)
			close(c->lis[i].fd0);
	}
	pthread_mutex_destroy(&c->init_mu);
	pthread_cond_destroy(&c->init_cv);
	free(c);
}

unsigned rg_core_workers(const struct rg_core *c)
{
	return c->nw ? c->nw : c->cfg.workers;
}

void rg_core_stats(const struct rg_core *c, int worker, struct rg_stats *out)
{
	unsigned i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < c->nw; i++) {
		const struct rg_worker *w = c->w[i];

		if (worker >= 0 && (unsigned)worker != i)
			continue;
#define RG_STATS_SUM(f) out->f += atomic_load_explicit(&w->st.f, memory_order_relaxed);
		RG_STATS_FIELDS(RG_STATS_SUM)
#undef RG_STATS_SUM
	}
}

int rg_core_post(struct rg_core *c, unsigned worker, rg_msg_fn fn, void *arg)
{
	struct rg_worker *w;
	struct rg_mq_cell *cell;
	size_t pos;

	if (worker >= c->nw)
		return -EINVAL;
	w = c->w[worker];
	if (atomic_load(&w->exited))
		return -ESHUTDOWN;
	pos = atomic_load_explicit(&w->mq_tail, memory_order_relaxed);
	for (;;) {
		intptr_t diff;

		cell = &w->mq[pos & (RG_MQ_SIZE - 1)];
		diff = (intptr_t)atomic_load_explicit(&cell->seq, memory_order_acquire) -
		       (intptr_t)pos;
		if (diff == 0) {
			if (atomic_compare_exchange_weak_explicit(&w->mq_tail, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (diff < 0) {
			return -EAGAIN;
		} else {
			pos = atomic_load_explicit(&w->mq_tail, memory_order_relaxed);
		}
	}
	cell->fn = fn;
	cell->arg = arg;
	atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
	if (!atomic_exchange(&w->mq_wake, 1)) {
		uint64_t one = 1;

		if (write(w->efd, &one, sizeof(one)) < 0) {
			/* overflow only: a wake-up is pending anyway */
		}
	}
	return 0;
}

unsigned rg_worker_id(const struct rg_worker *w)
{
	return w->id;
}

struct rg_core *rg_worker_core(struct rg_worker *w)
{
	return w->c;
}
