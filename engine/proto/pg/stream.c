/*
 * stream.c: one direction's byte stream -> whole messages or pass-through pieces.
 *
 * Invariants: a message that fits in the chunk it arrived in is reported in place (the
 * caller forwards it by reference); only a split message is copied, into the accumulator,
 * and only up to its own end (never bytes of the next message). A message whose header says
 * it is at least stream_min bytes and whose type is streamable is never held whole: its
 * bytes are reported as pieces as they arrive. Errors from the framer are final.
 */
#include <string.h>

#include "pg-int.h"

void rg_pg_stream_init(struct rg_pg_stream *st, const struct rg_pg_limits *lim, uint32_t stream_min,
		       const bool *streamable)
{
	memset(st, 0, sizeof(*st));
	st->lim = lim;
	st->stream_min = stream_min;
	st->streamable = streamable;
}

void rg_pg_stream_free(struct rg_pg_stream *st)
{
	rg_acc_free(&st->acc);
}

void rg_pg_stream_set_limits(struct rg_pg_stream *st, const struct rg_pg_limits *lim,
			     const bool *streamable)
{
	st->lim = lim;
	st->streamable = streamable;
}

void rg_pg_password_limits(struct rg_pg_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->max[RG_PG_FE_PASSWORD] = RG_PG_PASSWORD_MAX;
}

static bool want_stream(const struct rg_pg_stream *st, const struct rg_pg_msg *m)
{
	return st->streamable && st->streamable[m->type] && m->total >= st->stream_min;
}

static void piece(struct rg_pg_sevent *ev, const uint8_t *p, size_t n, bool in_acc, bool first,
		  bool last, uint8_t type, uint64_t total)
{
	ev->kind = RG_PG_SEV_PIECE;
	ev->in_acc = in_acc;
	ev->data = p;
	ev->n = n;
	ev->first = first;
	ev->last = last;
	ev->type = type;
	ev->total = total;
}

ssize_t rg_pg_stream_next(struct rg_pg_stream *st, const uint8_t *p, size_t n,
			  struct rg_pg_sevent *ev)
{
	struct rg_pg_msg m;
	ssize_t r;
	size_t take;

	if (st->acc_release) {
		st->acc.len = 0;
		st->acc_release = false;
	}
	ev->kind = RG_PG_SEV_MORE;
	ev->in_acc = false;
	if (!n)
		return 0;
	if (st->pass_left) {
		take = n < st->pass_left ? n : (size_t)st->pass_left;
		st->pass_left -= take;
		piece(ev, p, take, false, false, st->pass_left == 0, st->pass_type, st->pass_total);
		return (ssize_t)take;
	}
	if (!st->acc.len) {
		r = rg_pg_frame(p, n, st->lim, &m);
		if (r > 0) {
			ev->kind = RG_PG_SEV_MSG;
			ev->msg = m;
			return r;
		}
		if (r < 0)
			return r;
		if (m.total && want_stream(st, &m)) {
			st->pass_left = m.total - n;
			st->pass_type = m.type;
			st->pass_total = m.total;
			piece(ev, p, n, false, true, false, m.type, m.total);
			return (ssize_t)n;
		}
		/* Split: all n bytes belong to this message (the framer bounded its total by
		 * the type's limit); keep them until the rest arrives. */
		if (rg_acc_append(&st->acc, p, n))
			return RG_PG_E_NOMEM;
		return (ssize_t)n;
	}
	/* Completing a split message: first the 5-byte header, then exactly its body. */
	if (st->acc.len < 5) {
		take = 5 - st->acc.len;
		if (take > n)
			take = n;
		if (rg_acc_append(&st->acc, p, take))
			return RG_PG_E_NOMEM;
		r = rg_pg_frame(st->acc.p, st->acc.len, st->lim, &m);
		if (r < 0)
			return r;
		if (st->acc.len < 5)
			return (ssize_t)take;
		if (r > 0) { /* a 5-byte message (Sync, Flush, ...) */
			ev->kind = RG_PG_SEV_MSG;
			ev->in_acc = true;
			ev->msg = m;
			st->acc_release = true;
			return (ssize_t)take;
		}
		if (want_stream(st, &m)) {
			st->pass_left = m.total - st->acc.len;
			st->pass_type = m.type;
			st->pass_total = m.total;
			piece(ev, st->acc.p, st->acc.len, true, true, false, m.type, m.total);
			st->acc_release = true;
			return (ssize_t)take;
		}
		return (ssize_t)take;
	}
	r = rg_pg_frame(st->acc.p, st->acc.len, st->lim, &m);
	if (r != 0)
		return r < 0 ? r : RG_PG_E_LENGTH; /* a whole message never stays in acc */
	take = m.total - st->acc.len;
	if (take > n)
		take = n;
	if (rg_acc_append(&st->acc, p, take))
		return RG_PG_E_NOMEM;
	if (st->acc.len == m.total) {
		r = rg_pg_frame(st->acc.p, st->acc.len, st->lim, &m);
		if (r <= 0)
			return r < 0 ? r : RG_PG_E_LENGTH;
		ev->kind = RG_PG_SEV_MSG;
		ev->in_acc = true;
		ev->msg = m;
		st->acc_release = true;
	}
	return (ssize_t)take;
}

ssize_t rg_pg_stream_startup(struct rg_pg_stream *st, const uint8_t *p, size_t n,
			     struct rg_pg_startup *out, int *done)
{
	ssize_t r;
	size_t take, used;

	if (st->acc_release) {
		st->acc.len = 0;
		st->acc_release = false;
	}
	*done = 0;
	if (!n)
		return 0;
	if (!st->acc.len) {
		r = rg_pg_frame_startup(p, n, out);
		if (r > 0) {
			*done = 1;
			return r;
		}
		if (r < 0)
			return r;
		/* need more: bounded by the startup limit, checked once the length is in */
		if (rg_acc_append(&st->acc, p, n))
			return RG_PG_E_NOMEM;
		return (ssize_t)n;
	}
	/* Append at most what the packet still needs (need is >= 1 while incomplete): the
	 * header first, then the body, never bytes of what follows. */
	used = 0;
	while (used < n) {
		r = rg_pg_frame_startup(st->acc.p, st->acc.len, out);
		if (r < 0)
			return r;
		take = out->msg.need < n - used ? (size_t)out->msg.need : n - used;
		if (rg_acc_append(&st->acc, p + used, take))
			return RG_PG_E_NOMEM;
		used += take;
		r = rg_pg_frame_startup(st->acc.p, st->acc.len, out);
		if (r < 0)
			return r;
		if (r > 0) {
			*done = 1;
			st->acc_release = true;
			break;
		}
	}
	return (ssize_t)used;
}
