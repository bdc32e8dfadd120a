/*
 * timer.c: the worker's timers, a binary min-heap of deadlines in ms.
 *
 * The loop sleeps in io_uring_submit_and_wait_timeout() until the earliest deadline, so the
 * kernel wakes us: no timerfd, no SQE per timer. Timers are embedded in their owner
 * (sessions), so arming never allocates except when the heap array grows. Idle timeouts are
 * lazy: traffic only stamps last_io, and the timer re-arms itself when it fires early.
 */
#include <stdlib.h>

#include "core-int.h"

static void heap_set(struct rg_worker *w, unsigned i, struct rg_timer *t)
{
	w->heap[i] = t;
	t->idx = (int32_t)i;
}

static void sift_up(struct rg_worker *w, unsigned i)
{
	struct rg_timer *t = w->heap[i];

	while (i) {
		unsigned p = (i - 1) / 2;

		if (w->heap[p]->when <= t->when)
			break;
		heap_set(w, i, w->heap[p]);
		i = p;
	}
	heap_set(w, i, t);
}

static void sift_down(struct rg_worker *w, unsigned i)
{
	struct rg_timer *t = w->heap[i];

	for (;;) {
		unsigned l = 2 * i + 1, m = i;
		uint64_t mw = t->when;

		if (l < w->heap_len && w->heap[l]->when < mw) {
			m = l;
			mw = w->heap[l]->when;
		}
		if (l + 1 < w->heap_len && w->heap[l + 1]->when < mw)
			m = l + 1;
		if (m == i)
			break;
		heap_set(w, i, w->heap[m]);
		i = m;
	}
	heap_set(w, i, t);
}

void rg_timer_disarm(struct rg_worker *w, struct rg_timer *t)
{
	unsigned i;
	struct rg_timer *last;

	if (t->idx < 0)
		return;
	i = (unsigned)t->idx;
	t->idx = -1;
	last = w->heap[--w->heap_len];
	if (i == w->heap_len)
		return;
	heap_set(w, i, last);
	sift_down(w, i);
	sift_up(w, (unsigned)last->idx);
}

void rg_timer_arm(struct rg_worker *w, struct rg_timer *t, uint64_t when)
{
	if (t->idx >= 0) {
		uint64_t old = t->when;

		t->when = when;
		if (when < old)
			sift_up(w, (unsigned)t->idx);
		else
			sift_down(w, (unsigned)t->idx);
		return;
	}
	if (w->heap_len == w->heap_cap) {
		unsigned cap = w->heap_cap ? w->heap_cap * 2 : 256;
		struct rg_timer **nh = realloc(w->heap, cap * sizeof(*nh));

		if (!nh)
			abort(); /* timers are how sessions end: no way to continue safely */
		w->heap = nh;
		w->heap_cap = cap;
	}
	t->when = when;
	heap_set(w, w->heap_len++, t);
	sift_up(w, (unsigned)t->idx);
}

struct rg_timer *rg_timer_first(struct rg_worker *w)
{
	return w->heap_len ? w->heap[0] : NULL;
}
