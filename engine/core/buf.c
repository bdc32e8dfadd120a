/*
 * buf.c: the worker's memory for bytes in flight: the provided-buffer ring the kernel
 * receives into, heap chunks for bytes the protocol builds, send-queue items, and the
 * rg_acc accumulator for messages split across buffers.
 *
 * Invariant: a provided buffer is in the kernel's ring, on the worker's hot stack, or has
 * refs > 0; the last rg_buf_put() pushes it on the stack, and rg_bufs_publish() (once per
 * loop iteration) moves buffers from the top of the stack to the ring until the ring holds
 * ring_target of them.
 *
 * Why a stack in front of the ring: the ring is first in, first out, so with all 1024 buffers
 * in it every receive lands in the buffer used least recently, 16 MiB of receives ago: cold
 * in every cache, for the kernel's copy and again for the protocol's parse. With only
 * ring_target buffers in the ring (64: 1 MiB) and the rest behind a LIFO stack, the kernel
 * receives into buffers freed a moment ago. A burst that empties the ring (-ENOBUFS) doubles
 * ring_target, up to every buffer; a second without one halves it back. A heap chunk
 * marked wipe (rg_sess_send_secret) is zeroed by that last put, before it is reused. Nothing here
 * allocates per message once the free lists are warm.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core-int.h"

#define RG_RING_MIN 64u	/* buffers kept in the kernel's ring when calm */

/* liburing 2.3 has no io_uring_setup_buf_ring(): map and register the ring ourselves. */
struct io_uring_buf_ring *rg_buf_ring_setup(struct io_uring *ring, unsigned n, uint16_t bgid,
					    int *err)
{
	struct io_uring_buf_reg reg;
	size_t sz = n * sizeof(struct io_uring_buf);
	void *p;
	int ret;

	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)p;
	reg.ring_entries = n;
	reg.bgid = bgid;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret) {
		munmap(p, sz);
		*err = ret;
		return NULL;
	}
	io_uring_buf_ring_init(p);
	*err = 0;
	return p;
}

void rg_buf_ring_free(struct io_uring *ring, struct io_uring_buf_ring *br, unsigned n,
		      uint16_t bgid)
{
	io_uring_unregister_buf_ring(ring, bgid);
	munmap(br, n * sizeof(struct io_uring_buf));
}

int rg_bufs_init(struct rg_worker *w)
{
	const struct rg_core_config *cfg = &w->c->cfg;
	unsigned i;
	int ret = 0;

	if (posix_memalign((void **)&w->buf_mem, 4096, (size_t)cfg->buf_size * cfg->buf_count))
		return -ENOMEM;
	w->bufs = calloc(cfg->buf_count, sizeof(*w->bufs));
	if (!w->bufs)
		return -ENOMEM;
	w->hot = malloc(cfg->buf_count * sizeof(*w->hot));
	if (!w->hot)
		return -ENOMEM;
	w->bgid = 1;
	w->br = rg_buf_ring_setup(&w->ring, cfg->buf_count, w->bgid, &ret);
	if (!w->br)
		return ret ? ret : -ENOMEM;
	w->buf_mask = io_uring_buf_ring_mask(cfg->buf_count);
	w->ring_target = cfg->buf_count < RG_RING_MIN ? cfg->buf_count : RG_RING_MIN;
	for (i = 0; i < cfg->buf_count; i++) {
		struct rg_buf *b = &w->bufs[i];

		b->data = w->buf_mem + (size_t)i * cfg->buf_size;
		b->cap = cfg->buf_size;
		b->bid = (int32_t)i;
		b->w = w;
	}
	/* the stack's top is id 0: the lowest ids go to the ring first */
	for (i = 0; i < cfg->buf_count; i++)
		w->hot[i] = (uint16_t)(cfg->buf_count - 1 - i);
	w->hot_n = cfg->buf_count;
	w->br_in = 0;
	w->br_pending = 0;
	w->starve_at = 0;
	w->bufs_free = cfg->buf_count;
	rg_bufs_publish(w);
	return 0;
}

void rg_bufs_fini(struct rg_worker *w)
{
	struct rg_buf *b;
	struct rg_sendq_item *it;
	struct rg_send_desc *d;

	if (w->br)
		rg_buf_ring_free(&w->ring, w->br, w->c->cfg.buf_count, w->bgid);
	w->br = NULL;
	free(w->buf_mem);
	free(w->bufs);
	free(w->hot);
	w->hot = NULL;
	while ((b = w->chunk_free)) {
		w->chunk_free = b->next;
		free(b);
	}
	while ((it = w->item_free)) {
		w->item_free = it->next;
		free(it);
	}
	while ((d = w->sdesc_free)) {
		w->sdesc_free = d->next;
		free(d);
	}
}

/* A receive ran out of buffers: let the ring hold more (at most one doubling per ms, as
 * every starved side of one burst reports it). */
void rg_bufs_starved(struct rg_worker *w)
{
	if (w->starve_at != w->now && w->ring_target < w->c->cfg.buf_count)
		w->ring_target *= 2;
	w->starve_at = w->now;
}

/* Refill the ring from the top of the hot stack, then make the batch visible to the kernel
 * with one release store. */
void rg_bufs_publish(struct rg_worker *w)
{
	uint32_t size = w->c->cfg.buf_size;

	if (w->ring_target > RG_RING_MIN && w->now - w->starve_at >= 1000 && !w->starve_head) {
		w->ring_target /= 2;
		w->starve_at = w->now;
	}
	while (w->br_in < w->ring_target && w->hot_n) {
		uint16_t bid = w->hot[--w->hot_n];

		io_uring_buf_ring_add(w->br, w->buf_mem + (size_t)bid * size, size, bid,
				      w->buf_mask, w->br_pending);
		w->br_pending++;
		w->br_in++;
	}
	if (w->br_pending) {
		io_uring_buf_ring_advance(w->br, w->br_pending);
		w->br_pending = 0;
	}
}

void rg_buf_put(struct rg_buf *b)
{
	struct rg_worker *w = b->w;

	if (--b->refs)
		return;
	if (b->bid >= 0) {
		w->hot[w->hot_n++] = (uint16_t)b->bid;
		w->bufs_free++;
		RG_CNT_ADD(w, bufs_in_use, -1);
	} else {
		if (b->wipe) {
			/* explicit_bzero: a store the compiler may not drop as dead */
			explicit_bzero(b->data, b->len);
			b->wipe = false;
		}
		b->next = w->chunk_free;
		w->chunk_free = b;
	}
}

/* A heap chunk with refs = 1 and len = 0. */
struct rg_buf *rg_chunk_get(struct rg_worker *w)
{
	struct rg_buf *b = w->chunk_free;

	if (b) {
		w->chunk_free = b->next;
	} else {
		b = malloc(sizeof(*b) + RG_CHUNK_SIZE);
		if (!b)
			return NULL;
		b->data = (uint8_t *)(b + 1);
		b->cap = RG_CHUNK_SIZE;
		b->bid = -1;
		b->w = w;
	}
	b->next = NULL;
	b->refs = 1;
	b->len = 0;
	b->wipe = false;
	return b;
}

struct rg_sendq_item *rg_item_get(struct rg_worker *w)
{
	struct rg_sendq_item *it = w->item_free;

	if (it) {
		w->item_free = it->next;
		return it;
	}
	return malloc(sizeof(*it));
}

void rg_item_put(struct rg_worker *w, struct rg_sendq_item *it)
{
	it->next = w->item_free;
	w->item_free = it;
}

/* A send descriptor, or NULL at the cap (or out of memory): the caller then sends one item. */
struct rg_send_desc *rg_sdesc_get(struct rg_worker *w)
{
	struct rg_send_desc *d = w->sdesc_free;

	if (d) {
		w->sdesc_free = d->next;
		return d;
	}
	if (w->sdesc_n >= RG_SDESC_MAX)
		return NULL;
	d = malloc(sizeof(*d));
	if (d)
		w->sdesc_n++;
	return d;
}

void rg_sdesc_put(struct rg_worker *w, struct rg_send_desc *d)
{
	d->next = w->sdesc_free;
	w->sdesc_free = d;
}

int rg_acc_append(struct rg_acc *a, const void *p, size_t n)
{
	if (a->len + n > a->cap) {
		size_t cap = a->cap ? a->cap : 256;
		uint8_t *np;

		while (cap < a->len + n)
			cap *= 2;
		np = realloc(a->p, cap);
		if (!np)
			return -ENOMEM;
		a->p = np;
		a->cap = cap;
	}
	memcpy(a->p + a->len, p, n);
	a->len += n;
	return 0;
}

void rg_acc_consume(struct rg_acc *a, size_t n)
{
	if (n >= a->len) {
		a->len = 0;
		return;
	}
	memmove(a->p, a->p + n, a->len - n);
	a->len -= n;
}

void rg_acc_free(struct rg_acc *a)
{
	free(a->p);
	a->p = NULL;
	a->len = a->cap = 0;
}
