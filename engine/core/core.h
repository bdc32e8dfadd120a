/*
 * rg_core: the protocol-agnostic, thread-per-core io_uring engine.
 *
 * One worker thread per core, each owning its io_uring, its SO_REUSEPORT listening sockets,
 * its provided-buffer ring, its sessions, its timers and its counters. Nothing on the data
 * path is shared between workers and nothing takes a lock; work crosses threads only through
 * rg_core_post() (a bounded MPSC queue per worker, woken through an eventfd).
 *
 * A protocol plugs in through one ops table (struct rg_proto_ops) and drives its session only
 * through the rg_sess_* calls below. The core never parses bytes and protocols never touch
 * io_uring. Every callback runs on the session's worker thread; every rg_sess_* call must be
 * made from that thread (from a callback or from an rg_core_post() handler on that worker).
 *
 * Buffer ownership (the one rule to remember):
 *   - on_fe_data/on_be_data receive a struct rg_buf that the core owns. It is valid only
 *     during the callback unless the protocol takes a reference with rg_buf_get() (and later
 *     drops it with rg_buf_put()).
 *   - rg_sess_send_ref() forwards a byte range of a received buffer without copying: the send
 *     queue holds its own reference, and the provided buffer goes back to the kernel's ring
 *     once the send completed and every reference is gone.
 *   - rg_sess_send() copies the given bytes into core-owned chunks (coalescing small writes)
 *     and returns; the caller keeps its memory.
 *   - Partial messages: keep unconsumed bytes in a per-session struct rg_acc (copy only the
 *     tail of a buffer when a message is split), or hold a bounded number of buffers by
 *     reference. Never hold references without a bound: provided buffers are a per-worker pool
 *     shared by every session of that worker.
 */
#ifndef RG_CORE_H
#define RG_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct rg_core;
struct rg_worker;
struct rg_sess;

/* The two sockets of a session: the agent (frontend) and the target (backend). */
enum rg_side {
	RG_FE = 0,
	RG_BE = 1,
};

/* Why a session ended; passed to on_close. */
enum rg_close_reason {
	RG_CLOSE_PROTO = 0,	/* the protocol called rg_sess_close() or rg_sess_abort() */
	RG_CLOSE_EOF,		/* both sides finished cleanly, all queued bytes delivered */
	RG_CLOSE_FE_ERROR,	/* frontend socket error (reset, broken pipe) */
	RG_CLOSE_BE_ERROR,	/* backend socket error, or connect failed with no handler */
	RG_CLOSE_IDLE,		/* idle timeout expired */
	RG_CLOSE_LINGER,	/* rg_sess_close() could not flush before linger_ms */
	RG_CLOSE_SHUTDOWN,	/* engine drain deadline passed */
	RG_CLOSE_NOMEM,		/* allocation failed in the core */
};

/*
 * A received (or core-built) chunk of bytes. data/len are public and may be modified in
 * place by the protocol (same-length rewrites, e.g. masking). The rest is core-private.
 */
struct rg_buf {
	uint8_t *data;
	uint32_t len;
	/* core-private */
	uint32_t refs;
	int32_t bid;		/* provided-buffer id, or -1 for a heap chunk */
	uint32_t cap;
	struct rg_worker *w;
	struct rg_buf *next;	/* free list */
	bool wipe;		/* heap chunk: zero its bytes when released (rg_sess_send_secret) */
};

/*
 * The protocol ops table. Every callback is optional except on_accept. Return values: 0 ok,
 * negative errno to make the core abort the session (on_close then runs with
 * RG_CLOSE_PROTO).
 */
struct rg_proto_ops {
	const char *name;
	size_t sess_size;	/* bytes of protocol state, see rg_sess_priv() */
	/* A client connected; typically calls rg_sess_connect_be(). <0 rejects the client. */
	int (*on_accept)(struct rg_sess *s);
	/* Bytes from the frontend; b == NULL means the frontend sent EOF (half-close). */
	int (*on_fe_data)(struct rg_sess *s, struct rg_buf *b);
	/* Bytes from the backend; b == NULL means the backend sent EOF. */
	int (*on_be_data)(struct rg_sess *s, struct rg_buf *b);
	/*
	 * Backend connect finished: err 0, or negative errno (-ETIMEDOUT after connect_ms).
	 * Bytes queued towards the backend stay queued, so the protocol may retry another
	 * address. Without this callback a failed connect aborts with RG_CLOSE_BE_ERROR.
	 */
	void (*on_be_connected)(struct rg_sess *s, int err);
	/* Everything queued towards side has been written to the socket. */
	void (*on_send_done)(struct rg_sess *s, enum rg_side side);
	/* The timer armed with rg_sess_timer() expired. */
	void (*on_timer)(struct rg_sess *s);
	/* The engine started draining (SIGTERM): finish soon, e.g. at a transaction boundary. */
	void (*on_drain)(struct rg_sess *s);
	/* Last call for this session: release references and protocol state. No sends. */
	void (*on_close)(struct rg_sess *s, enum rg_close_reason reason);
};

/* Engine configuration; zero fields take the default in brackets. */
struct rg_core_config {
	unsigned workers;	/* worker threads [online CPUs] */
	unsigned ring_entries;	/* SQ entries per worker [1024] */
	unsigned buf_size;	/* provided-buffer size [16384] */
	unsigned buf_count;	/* provided buffers per worker, power of two [1024] */
	size_t sendq_hiwat;	/* pause the peer's recv above this many queued bytes [128 KiB] */
	size_t sendq_lowat;	/* resume it below this [hiwat / 4] */
	unsigned idle_ms;	/* default per-session idle timeout [0 = none] */
	unsigned connect_ms;	/* backend connect timeout [0 = none] */
	unsigned linger_ms;	/* rg_sess_close(): flush deadline, then again wait for EOF [2000] */
	size_t linger_bytes;	/* rg_sess_close(): bytes read and dropped, then close hard [1 MiB] */
	int pin_cpus;		/* pin worker i to CPU i % ncpu */
	int no_defer_taskrun;	/* do not try SINGLE_ISSUER|DEFER_TASKRUN (tests, A/B runs) */
};

/*
 * Per-worker counters. The worker is the only writer (plain relaxed stores, no locked
 * instructions); any thread may read a snapshot with rg_core_stats().
 */
#define RG_STATS_FIELDS(X)                                                                 \
	X(accepted)	/* sessions accepted */                                            \
	X(active)	/* sessions alive now */                                           \
	X(closed)	/* sessions finished */                                            \
	X(fe_bytes_in) X(fe_bytes_out) X(be_bytes_in) X(be_bytes_out)                      \
	X(recv_ops)	/* recv completions carrying data */                               \
	X(send_ops)	/* send/sendmsg SQEs issued */                                     \
	X(submits)	/* io_uring_enter calls of the loop */                             \
	X(cqes)		/* completions reaped */                                           \
	X(bp_pauses)	/* recv paused because the peer's send queue was over hiwat */    \
	X(buf_starved)	/* recv stopped for lack of provided buffers (-ENOBUFS) */         \
	X(bufs_in_use)	/* provided buffers currently held (queues, protocol refs) */      \
	X(connect_fail)	/* backend connects that failed or timed out */                   \
	X(msgs)		/* cross-thread messages run */                                   \
	X(accept_backoff) /* accept paused 100 ms: out of fds or memory (EMFILE, ENFILE) */ \
	X(linger_bytes)	/* bytes read and dropped by sessions closing (rg_sess_close) */  \
	X(linger_cut)	/* closes that ended before the peer's EOF (linger bytes or time) */ \
	X(defer_taskrun) /* 1 if the ring runs with SINGLE_ISSUER|DEFER_TASKRUN */

struct rg_stats {
#define RG_STATS_DECL(f) uint64_t f;
	RG_STATS_FIELDS(RG_STATS_DECL)
#undef RG_STATS_DECL
};

/* 0 if this kernel offers what the core needs (io_uring, multishot recv, buffer rings). */
int rg_core_probe(void);

/* Create an engine (not yet running). NULL on error with *err set to a negative errno. */
struct rg_core *rg_core_new(const struct rg_core_config *cfg, int *err);

/*
 * Add a listener served by ops. Binds now (so port 0 resolves; *bound_port gets the port);
 * every worker adds its own SO_REUSEPORT socket on the same address at start.
 * proto_ctx is returned by rg_sess_proto_ctx() for sessions of this listener.
 */
int rg_core_listen(struct rg_core *c, const struct sockaddr *addr, socklen_t len,
		   const struct rg_proto_ops *ops, void *proto_ctx, uint16_t *bound_port);

/* Start the workers; returns once all rings are set up (or the first error). */
int rg_core_start(struct rg_core *c);

/*
 * Begin a graceful drain: stop accepting, call on_drain for every session, let sessions end
 * on their own until drain_ms, then abort the rest with RG_CLOSE_SHUTDOWN; workers exit once
 * they have no session left. Async-signal-safe: may be called from a SIGTERM handler.
 */
void rg_core_shutdown(struct rg_core *c, unsigned drain_ms);

/* Wait for all workers to exit (after rg_core_shutdown). Returns the first worker error. */
int rg_core_join(struct rg_core *c);

/* Free a joined (or never started) engine. */
void rg_core_free(struct rg_core *c);

unsigned rg_core_workers(const struct rg_core *c);

/* Snapshot of one worker's counters, or of their sum with worker == -1. Any thread. */
void rg_core_stats(const struct rg_core *c, int worker, struct rg_stats *out);

/*
 * Cross-thread work: run fn(w, arg) on worker `worker`'s thread soon. Callable from any
 * thread, including other workers' callbacks. Lock-free; -EAGAIN when that worker's queue
 * is full, -EINVAL for a bad worker index, -ESHUTDOWN once that worker has exited.
 */
typedef void (*rg_msg_fn)(struct rg_worker *w, void *arg);
int rg_core_post(struct rg_core *c, unsigned worker, rg_msg_fn fn, void *arg);

unsigned rg_worker_id(const struct rg_worker *w);
struct rg_core *rg_worker_core(struct rg_worker *w);

/* ---- session API: call only on the session's worker thread ---- */

/* Protocol state: sess_size bytes, zeroed at accept, 16-byte aligned. */
void *rg_sess_priv(struct rg_sess *s);
void *rg_sess_proto_ctx(struct rg_sess *s);
struct rg_worker *rg_sess_worker(struct rg_sess *s);
/* The socket of a side (for getsockopt, peer address); -1 if none. Never close it. */
int rg_sess_fd(const struct rg_sess *s, enum rg_side side);

/* Open the backend connection; completion arrives in on_be_connected. -EALREADY if open. */
int rg_sess_connect_be(struct rg_sess *s, const struct sockaddr *addr, socklen_t len);

/*
 * Queue bytes towards side. _ref forwards [off, off+len) of b by reference (zero copy);
 * plain rg_sess_send copies. Sends go out in order, coalesced into one sendmsg per side per
 * loop iteration. Return 0, -ESHUTDOWN if the session is closing, -ENOMEM.
 */
int rg_sess_send_ref(struct rg_sess *s, enum rg_side to, struct rg_buf *b, size_t off,
		     size_t len);
int rg_sess_send(struct rg_sess *s, enum rg_side to, const void *p, size_t len);
/*
 * rg_sess_send for bytes that must not outlive their send (a password, a key): the core's
 * copy is zeroed as soon as the send completed and the chunk is released, not left in the
 * worker's free list until reuse. On a side with a transform (TLS) only the transform's
 * output is queued, so nothing plain is kept; the caller still wipes its own buffer.
 */
int rg_sess_send_secret(struct rg_sess *s, enum rg_side to, const void *p, size_t len);

static inline int rg_sess_send_fe(struct rg_sess *s, const void *p, size_t len)
{
	return rg_sess_send(s, RG_FE, p, len);
}

static inline int rg_sess_send_be(struct rg_sess *s, const void *p, size_t len)
{
	return rg_sess_send(s, RG_BE, p, len);
}

/* Bytes queued towards side and not yet written to its socket. */
size_t rg_sess_queued(const struct rg_sess *s, enum rg_side side);

/*
 * Stop / restart receiving from side. Independent of the core's own back-pressure (which
 * pauses a side's recv while the peer's send queue is over sendq_hiwat): receiving resumes
 * only when neither holds it. A few already-received buffers may still be delivered after
 * a pause.
 */
void rg_sess_pause(struct rg_sess *s, enum rg_side side);
void rg_sess_resume(struct rg_sess *s, enum rg_side side);

/* Half-close: send FIN on side once its queue is flushed (forwarding an EOF). */
void rg_sess_shutdown(struct rg_sess *s, enum rg_side side);

/*
 * Close gracefully; on_close follows, later. Callbacks stop at once. Each side's queued
 * bytes are flushed (bounded by linger_ms, else RG_CLOSE_LINGER), then the side gets a FIN,
 * and what its peer still sends is read and dropped until the peer's EOF: closing a socket
 * with unread bytes makes the kernel send a RST, which can destroy the reply just sent
 * before the peer read it. That wait is bounded by linger_ms again and by linger_bytes
 * (then the socket is closed anyway; the reason stays RG_CLOSE_PROTO).
 */
void rg_sess_close(struct rg_sess *s);
/* Close now, dropping queued bytes (the peer may see a RST). on_close follows, later. */
void rg_sess_abort(struct rg_sess *s);

/* One protocol timer per session: on_timer after ms milliseconds; 0 disarms. */
void rg_sess_timer(struct rg_sess *s, unsigned ms);
/* Override the idle timeout of this session (0 disables). */
void rg_sess_set_idle(struct rg_sess *s, unsigned ms);

/* Keep a received buffer beyond the callback / release it. */
static inline void rg_buf_get(struct rg_buf *b)
{
	b->refs++;
}
void rg_buf_put(struct rg_buf *b);

/*
 * Growable byte accumulator for messages split across buffers. Allocation happens only when
 * a message is actually split, and the capacity is kept for the next one.
 */
struct rg_acc {
	uint8_t *p;
	size_t len;
	size_t cap;
};

int rg_acc_append(struct rg_acc *a, const void *p, size_t n);
/* Drop n bytes from the front. */
void rg_acc_consume(struct rg_acc *a, size_t n);
void rg_acc_free(struct rg_acc *a);

/*
 * Transform seam (TLS will sit here: OpenSSL with memory BIOs). When set on a side, every
 * received chunk goes through rx before the protocol sees it, and every byte queued towards
 * the side goes through tx before it hits the socket:
 *   rx(ctx, wire, n, plain, reply): consume n wire bytes, append decoded bytes to plain and
 *       any bytes that must go back on the wire (handshake records) to reply.
 *   tx(ctx, plain, n, wire): append the encoded form of n plain bytes to wire.
 * Both return 0 or a negative errno (the session is then aborted). The protocol sees only
 * plain bytes; by-reference sends to a transformed side are encoded (so copied) by tx.
 */
struct rg_xform_ops {
	int (*rx)(void *ctx, const uint8_t *wire, size_t n, struct rg_acc *plain,
		  struct rg_acc *reply);
	int (*tx)(void *ctx, const uint8_t *plain, size_t n, struct rg_acc *wire);
	void (*free)(void *ctx);
};

int rg_sess_set_xform(struct rg_sess *s, enum rg_side side, const struct rg_xform_ops *ops,
		      void *ctx);

#endif /* RG_CORE_H */
