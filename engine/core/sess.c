/*
 * sess.c: a session and its two sides: receive (multishot recv into provided buffers),
 * send queues (by-reference items coalesced into one sendmsg per side per loop), backend
 * connect, back-pressure, the graceful close (flush, FIN, drop input until EOF) and reap.
 *
 * Invariants:
 *   - at most one send in flight per socket (io_uring may otherwise reorder stream data);
 *     a multi-item one holds a per-worker send descriptor (msghdr + iovecs) until its CQE;
 *   - a session's memory lives until no SQE that names it is in flight (s->inflight == 0),
 *     then it is freed from the reap list at the end of a loop iteration, never inside a
 *     callback;
 *   - protocol callbacks run only while the session is ACTIVE; on_close runs exactly once;
 *   - rg_sess_close() never close()s a socket that may hold unread bytes unless a bound
 *     (linger_ms, linger_bytes) ran out: the kernel would answer with a RST, and a RST can
 *     destroy the reply we just sent (the client then sees a reset, not our error).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core-int.h"

#define container_of(p, T, m) ((T *)((char *)(p) - offsetof(T, m)))

static inline struct rg_sock *peer_of(struct rg_sock *sd)
{
	return &sd->s->side[sd->which ^ 1];
}

static void set_nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void side_mark(struct rg_sock *sd)
{
	struct rg_worker *w = sd->s->w;

	if (sd->on_flush)
		return;
	sd->on_flush = true;
	sd->flush_next = w->flush_head;
	w->flush_head = sd;
}

static bool sess_closing(const struct rg_sess *s)
{
	return s->state == RG_SESS_FLUSHING || s->state == RG_SESS_LINGERING;
}

static bool side_wants_recv(const struct rg_sock *sd)
{
	const struct rg_sess *s = sd->s;

	if (sd->state != RG_SIDE_OPEN || sd->rd_eof || sd->starved)
		return false;
	if (s->state == RG_SESS_ACTIVE)
		return !sd->pause_proto && !sd->pause_bp;
	/* closing: read (and drop) whatever the peer sends, up to the bound */
	return sess_closing(s) && s->dropped < s->w->c->cfg.linger_bytes;
}

/* FIN towards a side whose queue is empty (so no send is in flight either). */
static void side_fin(struct rg_sock *sd)
{
	if (sd->wr_shut_done || sd->state != RG_SIDE_OPEN)
		return;
	sd->wr_shut_done = true;
	(void)shutdown(sd->fd, SHUT_WR);
}

/* Free what is queued towards a side that will never take it. */
static void side_drop_queue(struct rg_worker *w, struct rg_sock *sd)
{
	struct rg_sendq_item *it;

	while ((it = sd->head)) {
		sd->head = it->next;
		rg_buf_put(it->b);
		rg_item_put(w, it);
	}
	sd->tail = NULL;
	sd->queued = 0;
}

/* Arm or cancel the side's multishot recv so that it matches side_wants_recv(). */
void rg_side_update_recv(struct rg_sock *sd)
{
	struct rg_sess *s = sd->s;
	struct rg_worker *w = s->w;
	struct io_uring_sqe *sqe;

	if (side_wants_recv(sd)) {
		if (sd->recv_armed)
			return;
		sqe = rg_get_sqe(w);
		io_uring_prep_recv_multishot(sqe, sd->fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = w->bgid;
		io_uring_sqe_set_data64(sqe, rg_ud(sd, RG_OP_RECV));
		sd->recv_armed = true;
		s->inflight++;
		return;
	}
	if (sd->recv_armed && !sd->recv_cancel && !sd->starved) {
		sqe = rg_get_sqe(w);
		io_uring_prep_cancel64(sqe, rg_ud(sd, RG_OP_RECV), 0);
		io_uring_sqe_set_data64(sqe, RG_OP_IGNORE);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		sd->recv_cancel = true;
	}
}

/*
 * The two steps of rg_sess_close(). FLUSHING: every side whose queue is empty gets its FIN;
 * once both are empty, LINGERING: wait until every open side has seen its peer's EOF, so
 * that close() finds nothing unread. Input is dropped meanwhile (side_wants_recv); each
 * step has linger_ms, and once linger_bytes were dropped the sockets are closed anyway.
 * A backend still connecting with nothing queued is no reason to wait: the abort cancels it.
 */
static void close_progress(struct rg_sess *s)
{
	struct rg_worker *w = s->w;
	unsigned i;

	if (s->state == RG_SESS_FLUSHING) {
		for (i = 0; i < 2; i++) {
			if (!s->side[i].head)
				side_fin(&s->side[i]);
		}
		if (s->side[RG_FE].head || s->side[RG_BE].head)
			return;
		s->state = RG_SESS_LINGERING;
		rg_timer_arm(w, &s->idle, w->now + w->c->cfg.linger_ms);
	}
	if (s->dropped < w->c->cfg.linger_bytes) {
		for (i = 0; i < 2; i++) {
			if (s->side[i].state == RG_SIDE_OPEN && !s->side[i].rd_eof)
				return;
		}
	} else {
		RG_CNT_ADD(w, linger_cut, 1);
	}
	rg_sess_abort_reason(s, s->reason);
}

/* Session done when both directions finished and everything queued was written. */
static void check_finish(struct rg_sess *s)
{
	struct rg_sock *fe = &s->side[RG_FE], *be = &s->side[RG_BE];
	bool be_done;

	if (sess_closing(s)) {
		close_progress(s);
		return;
	}
	if (s->state != RG_SESS_ACTIVE || !fe->rd_eof || fe->head)
		return;
	if (be->state == RG_SIDE_NONE)
		be_done = true;
	else if (be->state == RG_SIDE_CONNECTING)
		be_done = false;
	else
		be_done = be->rd_eof && !be->head;
	if (be_done)
		rg_sess_abort_reason(s, RG_CLOSE_EOF);
}

/* Queue accounting changed: apply back-pressure to the side that feeds this one. */
static void side_queued_up(struct rg_sock *sd)
{
	struct rg_sess *s = sd->s;
	struct rg_sock *p = peer_of(sd);

	side_mark(sd);
	if (sd->queued > s->w->c->cfg.sendq_hiwat && !p->pause_bp) {
		p->pause_bp = true;
		RG_CNT_ADD(s->w, bp_pauses, 1);
		rg_side_update_recv(p);
	}
}

static int side_enqueue(struct rg_sock *sd, struct rg_buf *b, size_t off, size_t len)
{
	struct rg_sendq_item *it = rg_item_get(sd->s->w);

	if (!it)
		return -ENOMEM;
	b->refs++;
	it->b = b;
	it->off = (uint32_t)off;
	it->len = (uint32_t)len;
	it->next = NULL;
	if (sd->tail)
		sd->tail->next = it;
	else
		sd->head = it;
	sd->tail = it;
	sd->queued += len;
	return 0;
}

/* Copy bytes into heap chunks at the tail of the queue, filling the last chunk first. With
 * wipe, every chunk that receives some of them is zeroed when released (buf.c). */
static int side_copy(struct rg_sock *sd, const uint8_t *p, size_t len, bool wipe)
{
	struct rg_worker *w = sd->s->w;

	while (len) {
		struct rg_sendq_item *t = sd->tail;
		struct rg_buf *b;
		size_t n;
		int ret;

		/*
		 * Appending to a chunk is safe even if a send of its earlier bytes is in flight:
		 * completions are accounted in bytes, the new bytes simply go out next time.
		 */
		if (t && t->b->bid < 0 && t->b->refs == 1 && t->off + t->len == t->b->len &&
		    t->b->len < t->b->cap) {
			b = t->b;
			n = b->cap - b->len;
			if (n > len)
				n = len;
			memcpy(b->data + b->len, p, n);
			b->wipe |= wipe;
			b->len += (uint32_t)n;
			t->len += (uint32_t)n;
			sd->queued += n;
		} else {
			b = rg_chunk_get(w);
			if (!b)
				return -ENOMEM;
			n = b->cap < len ? b->cap : len;
			memcpy(b->data, p, n);
			b->wipe = wipe;
			b->len = (uint32_t)n;
			ret = side_enqueue(sd, b, 0, n);
			rg_buf_put(b);
			if (ret)
				return ret;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* Run bytes for the wire through the side's transform, then queue the result. */
static int side_xform_tx(struct rg_sock *sd, const uint8_t *p, size_t len)
{
	struct rg_xf *xf = sd->xf;
	int ret = xf->ops->tx(xf->ctx, p, len, &xf->out);

	if (ret)
		return ret;
	ret = side_copy(sd, xf->out.p, xf->out.len, false);
	xf->out.len = 0;
	return ret;
}

int rg_sess_send_ref(struct rg_sess *s, enum rg_side to, struct rg_buf *b, size_t off,
		     size_t len)
{
	struct rg_sock *sd = &s->side[to];
	int ret;

	if (s->state != RG_SESS_ACTIVE)
		return -ESHUTDOWN;
	if (off > b->len || len > b->len - off)
		return -EINVAL;
	if (!len)
		return 0;
	if (sd->xf)
		ret = side_xform_tx(sd, b->data + off, len);
	else
		ret = side_enqueue(sd, b, off, len);
	if (!ret)
		side_queued_up(sd);
	return ret;
}

static int sess_send(struct rg_sess *s, enum rg_side to, const void *p, size_t len, bool wipe)
{
	struct rg_sock *sd = &s->side[to];
	int ret;

	if (s->state != RG_SESS_ACTIVE)
		return -ESHUTDOWN;
	if (!len)
		return 0;
	if (sd->xf)
		ret = side_xform_tx(sd, p, len);
	else
		ret = side_copy(sd, p, len, wipe);
	side_queued_up(sd);
	return ret;
}

int rg_sess_send(struct rg_sess *s, enum rg_side to, const void *p, size_t len)
{
	return sess_send(s, to, p, len, false);
}

int rg_sess_send_secret(struct rg_sess *s, enum rg_side to, const void *p, size_t len)
{
	return sess_send(s, to, p, len, true);
}

size_t rg_sess_queued(const struct rg_sess *s, enum rg_side side)
{
	return s->side[side].queued;
}

/* Issue one send (or sendmsg over up to RG_IOV_MAX items) for everything queued. */
void rg_side_flush(struct rg_sock *sd)
{
	struct rg_sess *s = sd->s;
	struct io_uring_sqe *sqe;
	struct rg_sendq_item *it;
	struct rg_send_desc *d;
	unsigned n = 0;

	if (s->state == RG_SESS_CLOSING || sd->send_inflight || sd->state != RG_SIDE_OPEN)
		return;
	if (!sd->head) {
		if (sd->wr_shut_req)
			side_fin(sd);
		return;
	}
	it = sd->head;
	sqe = rg_get_sqe(s->w);
	/* One item (the common case for request/response traffic), or no descriptor to be had
	 * (RG_SDESC_MAX multi-item sends in flight on this worker): a plain send of it. */
	if (!it->next || !(d = rg_sdesc_get(s->w))) {
		io_uring_prep_send(sqe, sd->fd, it->b->data + it->off, it->len, MSG_NOSIGNAL);
	} else {
		for (; it && n < RG_IOV_MAX; it = it->next, n++) {
			d->iov[n].iov_base = it->b->data + it->off;
			d->iov[n].iov_len = it->len;
		}
		memset(&d->msg, 0, sizeof(d->msg));
		d->msg.msg_iov = d->iov;
		d->msg.msg_iovlen = n;
		sd->sdesc = d;
		io_uring_prep_sendmsg(sqe, sd->fd, &d->msg, MSG_NOSIGNAL);
	}
	io_uring_sqe_set_data64(sqe, rg_ud(sd, RG_OP_SEND));
	sd->send_inflight = true;
	s->inflight++;
	RG_CNT_ADD(s->w, send_ops, 1);
}

void rg_handle_send(struct rg_worker *w, struct rg_sock *sd, int res)
{
	struct rg_sess *s = sd->s;
	struct rg_sock *p = peer_of(sd);
	size_t left;

	s->inflight--;
	sd->send_inflight = false;
	if (sd->sdesc) {
		rg_sdesc_put(w, sd->sdesc);
		sd->sdesc = NULL;
	}
	if (s->state == RG_SESS_CLOSING)
		return;
	if (res <= 0) {
		rg_sess_abort_reason(s, sd->which == RG_FE ? RG_CLOSE_FE_ERROR : RG_CLOSE_BE_ERROR);
		return;
	}
	s->last_io = w->now;
	if (sd->which == RG_FE)
		RG_CNT_ADD(w, fe_bytes_out, (uint64_t)res);
	else
		RG_CNT_ADD(w, be_bytes_out, (uint64_t)res);
	left = (size_t)res;
	sd->queued -= left;
	while (left) {
		struct rg_sendq_item *it = sd->head;

		if (it->len > left) {
			it->off += (uint32_t)left;
			it->len -= (uint32_t)left;
			break;
		}
		left -= it->len;
		sd->head = it->next;
		if (!sd->head)
			sd->tail = NULL;
		rg_buf_put(it->b);
		rg_item_put(w, it);
	}
	if (sd->head || sd->wr_shut_req)
		side_mark(sd);
	if (p->pause_bp && sd->queued <= w->c->cfg.sendq_lowat) {
		p->pause_bp = false;
		rg_side_update_recv(p);
	}
	if (sd->head)
		return;
	if (s->state == RG_SESS_ACTIVE && s->ops->on_send_done)
		s->ops->on_send_done(s, (enum rg_side)sd->which);
	check_finish(s);
}

/* Give a chunk of plain bytes to the protocol. */
static int proto_data(struct rg_sess *s, unsigned which, struct rg_buf *b)
{
	int (*fn)(struct rg_sess *, struct rg_buf *) =
		which == RG_FE ? s->ops->on_fe_data : s->ops->on_be_data;

	if (!fn || s->state != RG_SESS_ACTIVE)
		return 0;
	return fn(s, b);
}

/* Received wire bytes: through the transform if any, then to the protocol. */
static int deliver(struct rg_sock *sd, struct rg_buf *b)
{
	struct rg_sess *s = sd->s;
	struct rg_xf *xf = sd->xf;
	size_t off = 0;
	int ret;

	if (!xf)
		return proto_data(s, sd->which, b);
	ret = xf->ops->rx(xf->ctx, b->data, b->len, &xf->in, &xf->out);
	if (ret)
		return ret;
	if (xf->out.len) {
		ret = side_copy(sd, xf->out.p, xf->out.len, false);
		xf->out.len = 0;
		if (ret)
			return ret;
		side_queued_up(sd);
	}
	while (off < xf->in.len && s->state == RG_SESS_ACTIVE) {
		struct rg_buf *c = rg_chunk_get(s->w);
		size_t n = xf->in.len - off;

		if (!c)
			return -ENOMEM;
		if (n > c->cap)
			n = c->cap;
		memcpy(c->data, xf->in.p + off, n);
		c->len = (uint32_t)n;
		off += n;
		ret = proto_data(s, sd->which, c);
		rg_buf_put(c);
		if (ret)
			return ret;
	}
	xf->in.len = 0;
	return 0;
}

/*
 * A closing session got n more bytes on sd: they were dropped (the buffer is already back).
 * Past linger_bytes stop reading: the peer is not going to stop by itself.
 */
static void close_dropped(struct rg_sock *sd, unsigned n)
{
	struct rg_sess *s = sd->s;

	s->dropped += n;
	RG_CNT_ADD(s->w, linger_bytes, n);
	if (s->dropped < s->w->c->cfg.linger_bytes)
		return;
	rg_side_update_recv(&s->side[RG_FE]);
	rg_side_update_recv(&s->side[RG_BE]);
	close_progress(s);
}

void rg_handle_recv(struct rg_worker *w, struct rg_sock *sd, struct io_uring_cqe *cqe)
{
	struct rg_sess *s = sd->s;
	bool more = cqe->flags & IORING_CQE_F_MORE;
	int res = cqe->res;
	int ret;

	if (!more) {
		sd->recv_armed = false;
		sd->recv_cancel = false;
		s->inflight--;
	}
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		struct rg_buf *b = &w->bufs[bid];

		w->bufs_free--;
		w->br_in--;
		RG_CNT_ADD(w, bufs_in_use, 1);
		b->data = w->buf_mem + (size_t)bid * b->cap;
		b->len = res > 0 ? (uint32_t)res : 0;
		b->refs = 1;
		if (res > 0 && s->state == RG_SESS_ACTIVE) {
			s->last_io = w->now;
			RG_CNT_ADD(w, recv_ops, 1);
			if (sd->which == RG_FE)
				RG_CNT_ADD(w, fe_bytes_in, (uint64_t)res);
			else
				RG_CNT_ADD(w, be_bytes_in, (uint64_t)res);
			ret = deliver(sd, b);
			rg_buf_put(b);
			if (ret < 0)
				rg_sess_abort_reason(s, RG_CLOSE_PROTO);
		} else {
			rg_buf_put(b); /* back to the ring at once: a closing peer may send a lot */
			if (res > 0 && sess_closing(s))
				close_dropped(sd, (unsigned)res);
		}
	} else if (res == 0) {
		if (s->state == RG_SESS_ACTIVE && !sd->rd_eof) {
			sd->rd_eof = true;
			ret = proto_data(s, sd->which, NULL);
			if (ret < 0)
				rg_sess_abort_reason(s, RG_CLOSE_PROTO);
			else
				check_finish(s);
		} else if (sess_closing(s) && !sd->rd_eof) {
			sd->rd_eof = true;
			close_progress(s);
		}
	} else if (res == -ENOBUFS) {
		rg_bufs_starved(w);
		if (!sd->starved && s->state != RG_SESS_CLOSING) {
			sd->starved = true;
			sd->starve_next = w->starve_head;
			w->starve_head = sd;
			RG_CNT_ADD(w, buf_starved, 1);
		}
	} else if (res != -ECANCELED && s->state == RG_SESS_ACTIVE) {
		rg_sess_abort_reason(s, sd->which == RG_FE ? RG_CLOSE_FE_ERROR : RG_CLOSE_BE_ERROR);
	} else if (res != -ECANCELED && sess_closing(s) && !sd->rd_eof) {
		/* nothing more to read; a send still queued fails on its own (FE/BE_ERROR) */
		sd->rd_eof = true;
		close_progress(s);
	}
	if (!more && s->state != RG_SESS_CLOSING)
		rg_side_update_recv(sd);
}

int rg_sess_connect_be(struct rg_sess *s, const struct sockaddr *addr, socklen_t len)
{
	struct rg_sock *be = &s->side[RG_BE];
	struct rg_worker *w = s->w;
	struct io_uring_sqe *sqe;
	int fd;

	if (s->state != RG_SESS_ACTIVE)
		return -ESHUTDOWN;
	if (be->fd >= 0 || s->conn)
		return -EALREADY;
	if (len > sizeof(s->conn->addr))
		return -EINVAL;
	s->conn = malloc(sizeof(*s->conn));
	if (!s->conn)
		return -ENOMEM;
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		free(s->conn);
		s->conn = NULL;
		return -errno;
	}
	if (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)
		set_nodelay(fd);
	memcpy(&s->conn->addr, addr, len);
	/* connect + its link timeout must land in the same submission */
	if (io_uring_sq_space_left(&w->ring) < 2) {
		io_uring_submit(&w->ring);
		RG_CNT_ADD(w, submits, 1);
	}
	sqe = rg_get_sqe(w);
	io_uring_prep_connect(sqe, fd, (struct sockaddr *)&s->conn->addr, len);
	io_uring_sqe_set_data64(sqe, rg_ud(be, RG_OP_CONNECT));
	if (w->c->cfg.connect_ms) {
		sqe->flags |= IOSQE_IO_LINK;
		s->conn->ts.tv_sec = w->c->cfg.connect_ms / 1000;
		s->conn->ts.tv_nsec = (long long)(w->c->cfg.connect_ms % 1000) * 1000000;
		sqe = rg_get_sqe(w);
		io_uring_prep_link_timeout(sqe, &s->conn->ts, 0);
		io_uring_sqe_set_data64(sqe, RG_OP_IGNORE);
	}
	be->fd = fd;
	be->state = RG_SIDE_CONNECTING;
	be->rd_eof = false;
	be->wr_shut_done = false;
	s->inflight++;
	return 0;
}

void rg_handle_connect(struct rg_worker *w, struct rg_sock *be, int res)
{
	struct rg_sess *s = be->s;

	s->inflight--;
	/* the kernel is done with the address (and the link timeout copied its timespec) */
	free(s->conn);
	s->conn = NULL;
	if (s->state == RG_SESS_CLOSING)
		return;
	if (res == -ECANCELED && w->c->cfg.connect_ms)
		res = -ETIMEDOUT;
	if (res < 0)
		RG_CNT_ADD(w, connect_fail, 1);
	/* closing with nothing to deliver: the new connection has no use, close it unread */
	if (res < 0 || (s->state != RG_SESS_ACTIVE && !be->head)) {
		close(be->fd);
		be->fd = -1;
		be->state = RG_SIDE_NONE;
		if (s->state == RG_SESS_ACTIVE && s->ops->on_be_connected)
			s->ops->on_be_connected(s, res);
		else if (s->state == RG_SESS_ACTIVE)
			rg_sess_abort_reason(s, RG_CLOSE_BE_ERROR);
		else /* closing: what was queued for the backend cannot be delivered */
			side_drop_queue(w, be);
		check_finish(s);
		return;
	}
	be->state = RG_SIDE_OPEN;
	s->last_io = w->now;
	if (be->head || be->wr_shut_req)
		side_mark(be);
	rg_side_update_recv(be);
	if (s->state == RG_SESS_ACTIVE && s->ops->on_be_connected)
		s->ops->on_be_connected(s, 0);
}

void rg_sess_new(struct rg_worker *w, struct rg_listener *l, int fd)
{
	struct rg_sess *s = calloc(1, sizeof(*s) + l->ops->sess_size);
	unsigned i;

	if (!s) {
		close(fd);
		return;
	}
	s->w = w;
	s->ops = l->ops;
	s->proto_ctx = l->proto_ctx;
	for (i = 0; i < 2; i++) {
		s->side[i].s = s;
		s->side[i].which = (uint8_t)i;
		s->side[i].fd = -1;
	}
	s->side[RG_FE].fd = fd;
	s->side[RG_FE].state = RG_SIDE_OPEN;
	s->idle.idx = s->ptimer.idx = -1;
	s->idle.kind = RG_TIMER_IDLE;
	s->ptimer.kind = RG_TIMER_PROTO;
	s->last_io = w->now;
	s->idle_ms = w->c->cfg.idle_ms;
	set_nodelay(fd);
	s->next = w->sessions;
	if (w->sessions)
		w->sessions->prev = s;
	w->sessions = s;
	w->nsess++;
	RG_CNT_ADD(w, accepted, 1);
	RG_CNT_ADD(w, active, 1);
	if (s->ops->on_accept(s) < 0) {
		rg_sess_abort_reason(s, RG_CLOSE_PROTO);
		return;
	}
	if (s->state != RG_SESS_ACTIVE)
		return;
	if (s->idle_ms)
		rg_timer_arm(w, &s->idle, w->now + s->idle_ms);
	rg_side_update_recv(&s->side[RG_FE]);
}

void rg_sess_abort_reason(struct rg_sess *s, enum rg_close_reason reason)
{
	struct rg_worker *w = s->w;
	unsigned i;

	if (s->state == RG_SESS_CLOSING)
		return;
	/* lingering, everything was delivered: ending early changes nothing the protocol asked */
	if (s->state != RG_SESS_LINGERING)
		s->reason = (uint8_t)reason;
	s->state = RG_SESS_CLOSING;
	rg_timer_disarm(w, &s->idle);
	rg_timer_disarm(w, &s->ptimer);
	for (i = 0; i < 2; i++) {
		struct rg_sock *sd = &s->side[i];
		struct io_uring_sqe *sqe;

		if (sd->fd < 0 || !s->inflight)
			continue;
		sqe = rg_get_sqe(w);
		io_uring_prep_cancel_fd(sqe, sd->fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, RG_OP_IGNORE);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	}
	if (!s->on_reap) {
		s->on_reap = true;
		s->reap_next = w->reap_head;
		w->reap_head = s;
	}
}

/* Unlink a dying side from the worker's flush and -ENOBUFS lists (both short). */
static void side_unlist(struct rg_worker *w, struct rg_sock *sd)
{
	struct rg_sock **pp;

	if (sd->on_flush) {
		for (pp = &w->flush_head; *pp; pp = &(*pp)->flush_next) {
			if (*pp == sd) {
				*pp = sd->flush_next;
				break;
			}
		}
		sd->on_flush = false;
	}
	if (sd->starved) {
		for (pp = &w->starve_head; *pp; pp = &(*pp)->starve_next) {
			if (*pp == sd) {
				*pp = sd->starve_next;
				break;
			}
		}
		sd->starved = false;
	}
}

static void sess_free(struct rg_worker *w, struct rg_sess *s)
{
	unsigned i;

	if (s->ops->on_close)
		s->ops->on_close(s, (enum rg_close_reason)s->reason);
	for (i = 0; i < 2; i++) {
		struct rg_sock *sd = &s->side[i];

		side_unlist(w, sd);
		side_drop_queue(w, sd);
		if (sd->fd >= 0)
			close(sd->fd);
		if (sd->sdesc) /* not reached: freed only with no send in flight */
			rg_sdesc_put(w, sd->sdesc);
		if (sd->xf) {
			if (sd->xf->ops->free)
				sd->xf->ops->free(sd->xf->ctx);
			rg_acc_free(&sd->xf->in);
			rg_acc_free(&sd->xf->out);
			free(sd->xf);
		}
	}
	free(s->conn);
	if (s->prev)
		s->prev->next = s->next;
	else
		w->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	w->nsess--;
	RG_CNT_ADD(w, active, -1);
	RG_CNT_ADD(w, closed, 1);
	free(s);
}

/* Free closed sessions whose SQEs have all completed. End of loop iteration only. */
void rg_reap(struct rg_worker *w)
{
	struct rg_sess **pp = &w->reap_head, *s;

	while ((s = *pp)) {
		if (s->inflight) {
			pp = &s->reap_next;
			continue;
		}
		*pp = s->reap_next;
		sess_free(w, s);
	}
}

void rg_sess_timer_fired(struct rg_worker *w, struct rg_timer *t)
{
	struct rg_sess *s;

	if (t->kind == RG_TIMER_PROTO) {
		s = container_of(t, struct rg_sess, ptimer);
		if (s->state == RG_SESS_ACTIVE && s->ops->on_timer)
			s->ops->on_timer(s);
		return;
	}
	s = container_of(t, struct rg_sess, idle);
	if (s->state == RG_SESS_FLUSHING) {
		rg_sess_abort_reason(s, RG_CLOSE_LINGER);
	} else if (s->state == RG_SESS_LINGERING) {
		RG_CNT_ADD(w, linger_cut, 1);
		rg_sess_abort_reason(s, s->reason);
	} else if (s->state == RG_SESS_ACTIVE && s->idle_ms) {
		if (w->now - s->last_io >= s->idle_ms)
			rg_sess_abort_reason(s, RG_CLOSE_IDLE);
		else
			rg_timer_arm(w, &s->idle, s->last_io + s->idle_ms);
	}
}

/* ---- the rest of the public session API ---- */

void *rg_sess_priv(struct rg_sess *s)
{
	return s->priv;
}

void *rg_sess_proto_ctx(struct rg_sess *s)
{
	return s->proto_ctx;
}

struct rg_worker *rg_sess_worker(struct rg_sess *s)
{
	return s->w;
}

int rg_sess_fd(const struct rg_sess *s, enum rg_side side)
{
	return s->side[side].fd;
}

void rg_sess_pause(struct rg_sess *s, enum rg_side side)
{
	s->side[side].pause_proto = true;
	if (s->state == RG_SESS_ACTIVE)
		rg_side_update_recv(&s->side[side]);
}

void rg_sess_resume(struct rg_sess *s, enum rg_side side)
{
	s->side[side].pause_proto = false;
	if (s->state == RG_SESS_ACTIVE)
		rg_side_update_recv(&s->side[side]);
}

void rg_sess_shutdown(struct rg_sess *s, enum rg_side side)
{
	struct rg_sock *sd = &s->side[side];

	if (s->state != RG_SESS_ACTIVE || sd->wr_shut_req)
		return;
	sd->wr_shut_req = true;
	side_mark(sd);
}

void rg_sess_close(struct rg_sess *s)
{
	struct rg_worker *w = s->w;

	if (s->state != RG_SESS_ACTIVE)
		return;
	s->state = RG_SESS_FLUSHING;
	s->reason = RG_CLOSE_PROTO;
	rg_timer_disarm(w, &s->ptimer);
	/* from now on received bytes are dropped, paused or not (see close_progress) */
	rg_side_update_recv(&s->side[RG_FE]);
	rg_side_update_recv(&s->side[RG_BE]);
	rg_timer_arm(w, &s->idle, w->now + w->c->cfg.linger_ms);
	close_progress(s);
}

void rg_sess_abort(struct rg_sess *s)
{
	rg_sess_abort_reason(s, RG_CLOSE_PROTO);
}

void rg_sess_timer(struct rg_sess *s, unsigned ms)
{
	if (s->state != RG_SESS_ACTIVE)
		return;
	if (ms)
		rg_timer_arm(s->w, &s->ptimer, s->w->now + ms);
	else
		rg_timer_disarm(s->w, &s->ptimer);
}

void rg_sess_set_idle(struct rg_sess *s, unsigned ms)
{
	if (s->state != RG_SESS_ACTIVE)
		return;
	s->idle_ms = ms;
	if (ms)
		rg_timer_arm(s->w, &s->idle, s->last_io + ms);
	else
		rg_timer_disarm(s->w, &s->idle);
}

int rg_sess_set_xform(struct rg_sess *s, enum rg_side side, const struct rg_xform_ops *ops,
		      void *ctx)
{
	struct rg_sock *sd = &s->side[side];

	if (s->state != RG_SESS_ACTIVE)
		return -ESHUTDOWN;
	if (sd->xf)
		return -EALREADY;
	sd->xf = calloc(1, sizeof(*sd->xf));
	if (!sd->xf)
		return -ENOMEM;
	sd->xf->ops = ops;
	sd->xf->ctx = ctx;
	return 0;
}
