/*
 * loop.c: one worker thread: ring setup, the event loop, accept, the cross-thread queue and
 * graceful drain.
 *
 * One loop iteration = queue the sends of every side that got bytes this round, publish
 * recycled buffers, ONE io_uring_submit_and_wait_timeout() (which also sleeps until the
 * next timer), then reap all completions, run timers and messages, free closed sessions.
 * Under load many sessions' completions and sends share one kernel entry. Nothing here
 * blocks except that one call; nothing here takes a lock.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core-int.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct io_uring_sqe *rg_get_sqe(struct rg_worker *w)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(&w->ring))) {
		io_uring_submit(&w->ring);
		RG_CNT_ADD(w, submits, 1);
	}
	return sqe;
}

static int ring_init(struct rg_worker *w)
{
	const struct rg_core_config *cfg = &w->c->cfg;
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		0,
	};
	unsigned i;
	int ret = -EINVAL;

	for (i = cfg->no_defer_taskrun ? 1 : 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = tries[i] | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
		p.cq_entries = cfg->ring_entries * 4;
		ret = io_uring_queue_init_params(cfg->ring_entries, &w->ring, &p);
		if (!ret) {
			w->ring_ok = true;
			RG_CNT_ADD(w, defer_taskrun, i == 0 ? 1 : 0);
			return 0;
		}
		if (ret != -EINVAL)
			break;
	}
	return ret;
}

static void arm_accept(struct rg_lsock *ls)
{
	struct io_uring_sqe *sqe = rg_get_sqe(ls->w);

	io_uring_prep_multishot_accept(sqe, ls->fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, rg_ud(ls, RG_OP_ACCEPT));
	ls->armed = true;
}

/*
 * The accept failed for lack of resources (out of fds, EMFILE/ENFILE, or memory). The
 * multishot accept has ended, and re-arming it now would fail again at once for as long as
 * a connection waits in the backlog: a spin at 100 % CPU. Wait RG_ACCEPT_BACKOFF_MS in the
 * ring instead (sessions closing meanwhile give fds back), then re-arm.
 */
static void accept_backoff(struct rg_lsock *ls)
{
	struct io_uring_sqe *sqe = rg_get_sqe(ls->w);

	ls->backoff_ts.tv_sec = RG_ACCEPT_BACKOFF_MS / 1000;
	ls->backoff_ts.tv_nsec = (long long)(RG_ACCEPT_BACKOFF_MS % 1000) * 1000000;
	io_uring_prep_timeout(sqe, &ls->backoff_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, rg_ud(ls, RG_OP_ACCEPT_RETRY));
	ls->backoff = true;
	RG_CNT_ADD(ls->w, accept_backoff, 1);
}

static bool accept_resource_error(int res)
{
	return res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM;
}

static void arm_wake(struct rg_worker *w)
{
	struct io_uring_sqe *sqe = rg_get_sqe(w);

	io_uring_prep_read(sqe, w->efd, &w->efd_val, sizeof(w->efd_val), 0);
	io_uring_sqe_set_data64(sqe, rg_ud(w, RG_OP_WAKE));
}

static int open_lsock(struct rg_worker *w, struct rg_listener *l)
{
	int one = 1, fd;

	if (w->id == 0 && l->fd0 >= 0) {
		fd = l->fd0;
		l->fd0 = -1; /* worker 0 owns it from now on */
		return fd;
	}
	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&l->addr, l->addrlen) || listen(fd, 4096)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static int worker_init(struct rg_worker *w)
{
	struct rg_core *c = w->c;
	unsigned i;
	int ret;

	if (c->cfg.pin_cpus) {
		cpu_set_t set;
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		CPU_ZERO(&set);
		CPU_SET(w->id % (unsigned)(n > 0 ? n : 1), &set);
		(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	ret = ring_init(w);
	if (ret)
		return ret;
	ret = rg_bufs_init(w);
	if (ret)
		return ret;
	w->now = now_ms();
	arm_wake(w);
	for (i = 0; i < c->nlis; i++) {
		struct rg_lsock *ls = &w->ls[i];

		ls->w = w;
		ls->l = &c->lis[i];
		ls->fd = open_lsock(w, ls->l);
		if (ls->fd < 0)
			return ls->fd;
		w->nls++;
		arm_accept(ls);
	}
	ret = io_uring_submit(&w->ring);
	return ret < 0 ? ret : 0;
}

void rg_mq_drain(struct rg_worker *w)
{
	for (;;) {
		struct rg_mq_cell *cell = &w->mq[w->mq_head & (RG_MQ_SIZE - 1)];
		size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
		rg_msg_fn fn;
		void *arg;

		if (seq != w->mq_head + 1)
			return;
		fn = cell->fn;
		arg = cell->arg;
		atomic_store_explicit(&cell->seq, w->mq_head + RG_MQ_SIZE, memory_order_release);
		w->mq_head++;
		RG_CNT_ADD(w, msgs, 1);
		fn(w, arg);
	}
}

static void start_drain(struct rg_worker *w)
{
	struct rg_sess *s;
	unsigned i;

	w->state = RG_W_DRAIN;
	w->drain_deadline = w->now + atomic_load(&w->c->drain_ms);
	for (i = 0; i < w->nls; i++) {
		struct rg_lsock *ls = &w->ls[i];
		struct io_uring_sqe *sqe;

		if (ls->fd < 0)
			continue;
		if (!ls->armed) { /* also while backing off: the timeout finds fd -1 */
			close(ls->fd);
			ls->fd = -1;
			continue;
		}
		sqe = rg_get_sqe(w);
		io_uring_prep_cancel64(sqe, rg_ud(ls, RG_OP_ACCEPT), 0);
		io_uring_sqe_set_data64(sqe, RG_OP_IGNORE);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	}
	for (s = w->sessions; s; s = s->next) {
		if (s->state == RG_SESS_ACTIVE && !s->drained && s->ops->on_drain) {
			s->drained = true;
			s->ops->on_drain(s);
		}
	}
}

static void handle_accept(struct rg_worker *w, struct rg_lsock *ls, struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;

	if (!more)
		ls->armed = false;
	if (cqe->res >= 0) {
		if (w->state == RG_W_RUN)
			rg_sess_new(w, ls->l, cqe->res);
		else
			close(cqe->res);
	}
	if (more)
		return;
	if (w->state == RG_W_RUN) {
		if (accept_resource_error(cqe->res))
			accept_backoff(ls);
		else
			arm_accept(ls);
	} else if (ls->fd >= 0) {
		close(ls->fd);
		ls->fd = -1;
	}
}

static void handle_cqe(struct rg_worker *w, struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	void *p = (void *)(uintptr_t)(ud & ~RG_OP_MASK);

	switch ((enum rg_op)(ud & RG_OP_MASK)) {
	case RG_OP_RECV:
		rg_handle_recv(w, p, cqe);
		break;
	case RG_OP_SEND:
		rg_handle_send(w, p, cqe->res);
		break;
	case RG_OP_CONNECT:
		rg_handle_connect(w, p, cqe->res);
		break;
	case RG_OP_ACCEPT:
		handle_accept(w, p, cqe);
		break;
	case RG_OP_ACCEPT_RETRY: {
		struct rg_lsock *ls = p;

		ls->backoff = false;
		if (w->state == RG_W_RUN && ls->fd >= 0)
			arm_accept(ls);
		break;
	}
	case RG_OP_WAKE:
		/* reset before draining: a producer that finds 0 writes the eventfd again */
		atomic_store(&w->mq_wake, 0);
		rg_mq_drain(w);
		if (w->state != RG_W_DONE)
			arm_wake(w);
		break;
	case RG_OP_IGNORE:
	default:
		break;
	}
}

/* Sides that hit -ENOBUFS get their recv back once enough buffers were recycled. */
static void unstarve(struct rg_worker *w)
{
	unsigned need = w->c->cfg.buf_count / 16;
	struct rg_sock *sd;

	if (need > 32)
		need = 32;
	if (!need)
		need = 1;
	if (w->bufs_free < need)
		return;
	while ((sd = w->starve_head)) {
		w->starve_head = sd->starve_next;
		sd->starved = false;
		if (sd->s->state != RG_SESS_CLOSING)
			rg_side_update_recv(sd);
	}
}

static void flush_sends(struct rg_worker *w)
{
	struct rg_sock *sd;

	while ((sd = w->flush_head)) {
		w->flush_head = sd->flush_next;
		sd->on_flush = false;
		rg_side_flush(sd);
	}
}

static void run_timers(struct rg_worker *w)
{
	struct rg_timer *t;

	while ((t = rg_timer_first(w)) && t->when <= w->now) {
		rg_timer_disarm(w, t);
		rg_sess_timer_fired(w, t);
	}
}

static void worker_loop(struct rg_worker *w)
{
	struct rg_core *c = w->c;
	bool aborted_all = false;

	while (w->state != RG_W_DONE) {
		struct __kernel_timespec ts, *tsp = NULL;
		struct io_uring_cqe *cqe;
		struct rg_timer *t;
		uint64_t next = UINT64_MAX;
		unsigned head, n = 0;

		if (atomic_load_explicit(&c->stopping, memory_order_acquire) &&
		    w->state == RG_W_RUN)
			start_drain(w);
		flush_sends(w);
		rg_bufs_publish(w);
		if ((t = rg_timer_first(w)))
			next = t->when;
		if (w->state == RG_W_DRAIN && !aborted_all && w->drain_deadline < next)
			next = w->drain_deadline;
		if (next != UINT64_MAX) {
			uint64_t d = next > w->now ? next - w->now : 0;

			ts.tv_sec = (long long)(d / 1000);
			ts.tv_nsec = (long long)(d % 1000) * 1000000;
			tsp = &ts;
		}
		io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, tsp, NULL);
		RG_CNT_ADD(w, submits, 1);
		w->now = now_ms();

		io_uring_for_each_cqe(&w->ring, head, cqe) {
			if (cqe->user_data != LIBURING_UDATA_TIMEOUT)
				handle_cqe(w, cqe);
			n++;
		}
		io_uring_cq_advance(&w->ring, n);
		RG_CNT_ADD(w, cqes, n);

		run_timers(w);
		rg_mq_drain(w);
		if (w->starve_head)
			unstarve(w);
		if (w->state == RG_W_DRAIN && !aborted_all && w->now >= w->drain_deadline) {
			struct rg_sess *s;

			aborted_all = true;
			for (s = w->sessions; s; s = s->next)
				rg_sess_abort_reason(s, RG_CLOSE_SHUTDOWN);
		}
		rg_reap(w);
		if (w->state == RG_W_DRAIN && !w->nsess) {
			unsigned i;
			bool open = false;

			for (i = 0; i < w->nls; i++)
				open |= w->ls[i].fd >= 0;
			if (!open)
				w->state = RG_W_DONE;
		}
	}
}

static void worker_fini(struct rg_worker *w)
{
	unsigned i;

	for (i = 0; i < w->nls; i++) {
		if (w->ls[i].fd >= 0)
			close(w->ls[i].fd);
		w->ls[i].fd = -1;
	}
	if (w->ring_ok) {
		rg_bufs_fini(w);
		io_uring_queue_exit(&w->ring);
		w->ring_ok = false;
	} else {
		free(w->buf_mem);
		free(w->bufs);
	}
	free(w->heap);
	w->heap = NULL;
}

void *rg_worker_main(void *arg)
{
	struct rg_worker *w = arg;
	struct rg_core *c = w->c;
	int ret = worker_init(w);

	pthread_mutex_lock(&c->init_mu);
	c->init_done++;
	if (ret && !c->init_err)
		c->init_err = ret;
	pthread_cond_broadcast(&c->init_cv);
	pthread_mutex_unlock(&c->init_mu);
	if (!ret) {
		/* wait until every worker is up: a failed sibling means stop right away */
		pthread_mutex_lock(&c->init_mu);
		while (c->init_done < c->nw)
			pthread_cond_wait(&c->init_cv, &c->init_mu);
		pthread_mutex_unlock(&c->init_mu);
		worker_loop(w);
	}
	w->err = ret;
	atomic_store(&w->exited, 1);
	worker_fini(w);
	return NULL;
}
