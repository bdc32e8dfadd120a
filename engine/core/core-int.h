/*
 * core-int.h: rg_core's private types, shared by the files of engine/core only.
 *
 * Ownership: a worker owns everything reachable from it (ring, buffer ring, sessions,
 * timers). The only fields another thread may touch are the MPSC queue, the wake flag, the
 * eventfd and the counters (read-only, relaxed). io_uring user_data is a tagged pointer:
 * the low 3 bits say which op completed, the rest point at the object it belongs to.
 */
#ifndef RG_CORE_INT_H
#define RG_CORE_INT_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/uio.h>

#include "core.h"

#define RG_IOV_MAX 32		/* iovecs per sendmsg: coalescing limit per side */
#define RG_SDESC_MAX 1024	/* send descriptors per worker; beyond, sends go one item each */
#define RG_ACCEPT_BACKOFF_MS 100 /* accept paused this long after EMFILE/ENFILE/ENOBUFS/ENOMEM */
#define RG_CHUNK_SIZE 16384	/* heap chunk for copied sends */
#define RG_MQ_SIZE 1024		/* cross-thread queue slots per worker */
#define RG_MAX_LISTENERS 16

/* user_data tags (low 3 bits) */
enum rg_op {
	RG_OP_IGNORE = 0,	/* cancels, link timeouts, closes: nothing to do */
	RG_OP_ACCEPT = 1,	/* ptr: struct rg_lsock */
	RG_OP_RECV = 2,		/* ptr: struct rg_sock */
	RG_OP_SEND = 3,		/* ptr: struct rg_sock */
	RG_OP_CONNECT = 4,	/* ptr: struct rg_sock (backend) */
	RG_OP_WAKE = 5,		/* ptr: struct rg_worker (eventfd read) */
	RG_OP_ACCEPT_RETRY = 6,	/* ptr: struct rg_lsock (accept back-off timeout) */
};
#define RG_OP_MASK 7ULL

/* Counters: single writer, so a relaxed load + store compiles to a plain add. */
struct rg_astats {
#define RG_ASTATS_DECL(f) _Atomic uint64_t f;
	RG_STATS_FIELDS(RG_ASTATS_DECL)
#undef RG_ASTATS_DECL
};

#define RG_CNT_ADD(w, f, n)                                                                  \
	atomic_store_explicit(&(w)->st.f,                                                    \
			      atomic_load_explicit(&(w)->st.f, memory_order_relaxed) + (n),  \
			      memory_order_relaxed)

/* What a timer belongs to (the heap holds pointers to timers embedded in sessions). */
enum rg_timer_kind {
	RG_TIMER_IDLE = 0,	/* struct rg_sess.idle: idle timeout or closing deadline */
	RG_TIMER_PROTO,		/* struct rg_sess.ptimer: rg_sess_timer() */
};

struct rg_timer {
	uint64_t when;		/* CLOCK_MONOTONIC ms */
	int32_t idx;		/* heap slot, -1 when not armed */
	uint8_t kind;		/* enum rg_timer_kind */
};

struct rg_sendq_item {
	struct rg_sendq_item *next;
	struct rg_buf *b;
	uint32_t off;
	uint32_t len;
};

/*
 * The msghdr and iovecs of one sendmsg: the kernel reads them until the SQE completes, so
 * they must outlive the submission, but only sockets with a multi-item send in flight need
 * one. Per-worker free list (w->sdesc_free), taken in rg_side_flush, returned when the
 * send completes: an idle session carries none of these 528 bytes.
 */
struct rg_send_desc {
	struct rg_send_desc *next;	/* free list */
	struct msghdr msg;
	struct iovec iov[RG_IOV_MAX];
};

/* A side's transform (TLS) and its scratch: allocated by rg_sess_set_xform only. */
struct rg_xf {
	const struct rg_xform_ops *ops;
	void *ctx;
	struct rg_acc in, out;
};

/* Only while the backend connect is in flight (the kernel may read the address late). */
struct rg_connect {
	struct __kernel_timespec ts;	/* link timeout */
	struct sockaddr_storage addr;
};

/*
 * A side's socket, from the core's point of view. Two per session for the session's whole
 * life, so what only a send in flight, a transform or a connect needs lives elsewhere.
 */
enum rg_side_state {
	RG_SIDE_NONE = 0,	/* no socket (backend not connected yet, or connect failed) */
	RG_SIDE_CONNECTING,	/* connect SQE in flight; sends queue up */
	RG_SIDE_OPEN,		/* connected: recv armed unless paused, sends flow */
};

struct rg_sock {
	struct rg_sess *s;
	struct rg_sendq_item *head, *tail;
	size_t queued;			/* bytes in the queue (in flight included) */
	struct rg_sock *flush_next;
	struct rg_sock *starve_next;
	struct rg_send_desc *sdesc;	/* msghdr + iovecs of the sendmsg in flight, or NULL */
	struct rg_xf *xf;		/* transform, or NULL */
	int fd;
	uint8_t which;			/* enum rg_side */
	uint8_t state;			/* enum rg_side_state */
	bool recv_armed;		/* a multishot recv is outstanding */
	bool recv_cancel;		/* a cancel for it is in flight */
	bool pause_proto;		/* rg_sess_pause() */
	bool pause_bp;			/* peer's send queue over hiwat */
	bool starved;			/* on the worker's -ENOBUFS list */
	bool rd_eof;			/* peer sent FIN (closing: or reading failed) */
	bool wr_shut_req;		/* rg_sess_shutdown(): FIN after flush */
	bool wr_shut_done;
	bool send_inflight;
	bool on_flush;			/* on the worker's flush list */
};

/* Session lifecycle. */
enum rg_sess_state {
	RG_SESS_ACTIVE = 0,	/* relaying; protocol callbacks run */
	RG_SESS_FLUSHING,	/* rg_sess_close(): queues draining, a FIN after each; rx dropped */
	RG_SESS_LINGERING,	/* queues empty, FINs sent: dropping rx until each peer's EOF */
	RG_SESS_CLOSING,	/* cancels issued; freed once no op is in flight */
};

struct rg_lsock;

struct rg_sess {
	struct rg_worker *w;
	const struct rg_proto_ops *ops;
	void *proto_ctx;
	uint8_t state;			/* enum rg_sess_state */
	uint8_t reason;			/* enum rg_close_reason, valid once closing */
	bool drained;			/* on_drain already called */
	unsigned inflight;		/* SQEs whose CQE may still reference this session */
	struct rg_sock side[2];
	struct rg_timer idle;		/* idle timeout, or the deadline of a closing step */
	struct rg_timer ptimer;		/* protocol timer */
	uint64_t last_io;
	unsigned idle_ms;
	size_t dropped;			/* bytes read and dropped since rg_sess_close() */
	struct rg_sess *prev, *next;	/* worker's session list */
	struct rg_sess *reap_next;
	bool on_reap;
	struct rg_connect *conn;	/* while the backend connect is in flight */
	_Alignas(16) uint8_t priv[];
};

struct rg_listener {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const struct rg_proto_ops *ops;
	void *proto_ctx;
	int fd0;			/* bound by rg_core_listen; worker 0 uses it */
};

/* One worker's socket for a listener. */
struct rg_lsock {
	struct rg_worker *w;
	struct rg_listener *l;
	int fd;
	bool armed;			/* a multishot accept is outstanding */
	bool backoff;			/* an accept back-off timeout is outstanding */
	struct __kernel_timespec backoff_ts;
};

struct rg_mq_cell {
	_Atomic size_t seq;
	rg_msg_fn fn;
	void *arg;
};

/* Worker run state. */
enum rg_worker_state {
	RG_W_RUN = 0,		/* accepting and relaying */
	RG_W_DRAIN,		/* accept cancelled; sessions finishing until the deadline */
	RG_W_DONE,		/* loop exited */
};

struct rg_worker {
	struct rg_core *c;
	unsigned id;
	pthread_t thr;
	int err;
	uint8_t state;			/* enum rg_worker_state */
	struct io_uring ring;
	bool ring_ok;
	uint64_t now;			/* ms, refreshed once per loop iteration */
	uint64_t drain_deadline;

	/* provided buffers */
	struct io_uring_buf_ring *br;
	uint8_t *buf_mem;
	struct rg_buf *bufs;
	unsigned buf_mask;
	unsigned br_pending;		/* added to the ring since the last advance */
	unsigned bufs_free;		/* not held: in the kernel's ring or on the hot stack */
	/* The ring holds only ring_target buffers; the other free ones wait on a LIFO stack,
	 * so the ones the kernel receives into next are the ones freed last (cache-hot):
	 * see buf.c. */
	uint16_t *hot;			/* free buffer ids, the most recently freed on top */
	unsigned hot_n;
	unsigned br_in;			/* buffers in the kernel's ring (incl. br_pending) */
	unsigned ring_target;		/* grows on -ENOBUFS, shrinks back when calm */
	uint64_t starve_at;		/* w->now of the last -ENOBUFS */
	uint16_t bgid;

	struct rg_buf *chunk_free;	/* heap chunks for copied sends */
	struct rg_sendq_item *item_free;
	struct rg_send_desc *sdesc_free;
	unsigned sdesc_n;		/* descriptors allocated (free or in flight) */

	struct rg_lsock ls[RG_MAX_LISTENERS];
	unsigned nls;

	struct rg_sess *sessions;
	unsigned nsess;
	struct rg_sock *flush_head;
	struct rg_sock *starve_head;
	struct rg_sess *reap_head;

	struct rg_timer **heap;
	unsigned heap_len, heap_cap;

	/* cross-thread queue: Vyukov bounded MPMC used as MPSC */
	struct rg_mq_cell mq[RG_MQ_SIZE];
	_Alignas(64) _Atomic size_t mq_tail;	/* producers */
	_Alignas(64) size_t mq_head;		/* consumer */
	_Atomic int mq_wake;			/* 1: an eventfd write is pending */
	_Atomic int exited;
	int efd;
	uint64_t efd_val;

	_Alignas(64) struct rg_astats st;
};

struct rg_core {
	struct rg_core_config cfg;
	struct rg_listener lis[RG_MAX_LISTENERS];
	unsigned nlis;
	struct rg_worker **w;
	unsigned nw;
	bool started;
	_Atomic int stopping;
	_Atomic unsigned drain_ms;
	pthread_mutex_t init_mu;
	pthread_cond_t init_cv;
	unsigned init_done;
	int init_err;
};

/* loop.c */
void *rg_worker_main(void *arg);
struct io_uring_sqe *rg_get_sqe(struct rg_worker *w);
void rg_mq_drain(struct rg_worker *w);

/* sess.c */
void rg_sess_new(struct rg_worker *w, struct rg_listener *l, int fd);
void rg_sess_abort_reason(struct rg_sess *s, enum rg_close_reason reason);
void rg_handle_recv(struct rg_worker *w, struct rg_sock *sd, struct io_uring_cqe *cqe);
void rg_handle_send(struct rg_worker *w, struct rg_sock *sd, int res);
void rg_handle_connect(struct rg_worker *w, struct rg_sock *sd, int res);
void rg_side_flush(struct rg_sock *sd);
void rg_side_update_recv(struct rg_sock *sd);
void rg_sess_timer_fired(struct rg_worker *w, struct rg_timer *t);
void rg_reap(struct rg_worker *w);

/* buf.c */
struct io_uring_buf_ring *rg_buf_ring_setup(struct io_uring *ring, unsigned n, uint16_t bgid,
					    int *err);
void rg_buf_ring_free(struct io_uring *ring, struct io_uring_buf_ring *br, unsigned n,
		      uint16_t bgid);
int rg_bufs_init(struct rg_worker *w);
void rg_bufs_fini(struct rg_worker *w);
struct rg_buf *rg_chunk_get(struct rg_worker *w);
struct rg_sendq_item *rg_item_get(struct rg_worker *w);
void rg_item_put(struct rg_worker *w, struct rg_sendq_item *it);
struct rg_send_desc *rg_sdesc_get(struct rg_worker *w);
void rg_sdesc_put(struct rg_worker *w, struct rg_send_desc *d);
void rg_bufs_publish(struct rg_worker *w);
void rg_bufs_starved(struct rg_worker *w);

/* timer.c */
void rg_timer_arm(struct rg_worker *w, struct rg_timer *t, uint64_t when);
void rg_timer_disarm(struct rg_worker *w, struct rg_timer *t);
struct rg_timer *rg_timer_first(struct rg_worker *w);

static inline uint64_t rg_ud(void *p, enum rg_op op)
{
	return (uint64_t)(uintptr_t)p | op;
}

#endif /* RG_CORE_INT_H */
