/*
 * journal.c: the data path's way into the audit trail (see evidence.h, "journals").
 *
 * One journal per producer thread (a data-path worker): a single-producer, single-consumer
 * ring of records in a shared file mapping, so that a record is out of the process the moment
 * the producer has copied it (a kill -9 cannot take it back: the page stays in the page cache
 * and the next start drains it into the trail). The producer never makes a system call to
 * append; the writer thread polls the rings, turns each record into exactly one trail record
 * through the formatter, writes them, and only then moves the ring's tail.
 *
 * Crash window: between the writer's write(2) of a batch and its tail store a kill -9 would
 * leave records both in the trail and in the ring. The writer therefore notes, before it
 * writes, the trail sequence number the batch starts at (pend_seq); at the next start the
 * trail's next sequence number tells how many of the batch's records made it, and exactly
 * those are skipped (one trail record per journal record makes this a count).
 *
 * File: a 4096-byte header (magic, ring size, head, tail, pend_seq, pend_end), then the ring.
 * Record: u32 len | u16 type | u16 0 | i64 time_us | body[len], padded to 8 bytes; a len of
 * JR_WRAP means "continue at the ring's start". Journals hold raw statement texts: they live
 * in a tmpfs (/dev/shm by default) so literals never reach a disk, and are mode 0600.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "evidence-int.h"

#define JR_MAGIC "RGJRNL01"
#define JR_HDR 4096u
#define JR_REC_HEAD 16u
#define JR_WRAP 0xffffffffu

struct jr_hdr {
	char magic[8];
	uint64_t size;
	uint64_t id;
	uint8_t pad0[40];
	_Atomic uint64_t head; /* producer: bytes appended since the file was made */
	uint8_t pad1[56];
	_Atomic uint64_t tail; /* writer: bytes whose trail records are written */
	uint64_t pend_seq;     /* writer: first trail seq of the batch being written, 0: none */
	uint64_t pend_end;     /* writer: the head that batch ends at */
};

static inline size_t pad8(size_t n)
{
	return (n + 7u) & ~(size_t)7u;
}

static int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int rg_jr_map(const char *path, unsigned id, size_t size, bool create, struct rg_audit_jr **out,
	      char *err, size_t errlen)
{
	struct rg_audit_jr *j = calloc(1, sizeof(*j));
	struct stat st;
	int fd = -1, r;

	*out = NULL;
	if (!j)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (fd < 0 || fstat(fd, &st)) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (st.st_size == 0) {
		if (!create) {
			r = -ENOENT;
			snprintf(err, errlen, "%s: empty journal", path);
			goto fail;
		}
		if (ftruncate(fd, (off_t)(JR_HDR + size))) {
			r = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		st.st_size = (off_t)(JR_HDR + size);
	} else if ((size_t)st.st_size < JR_HDR + 4096) {
		r = -EBADMSG;
		snprintf(err, errlen, "%s: not a ringgate journal (size)", path);
		goto fail;
	}
	j->map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (j->map == MAP_FAILED) {
		j->map = NULL;
		r = -errno;
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		goto fail;
	}
	j->maplen = (size_t)st.st_size;
	j->h = (struct jr_hdr *)j->map;
	j->ring = j->map + JR_HDR;
	if (!memcmp(j->h->magic, "\0\0\0\0\0\0\0\0", 8)) {
		j->h->size = j->maplen - JR_HDR;
		j->h->id = id;
		memcpy(j->h->magic, JR_MAGIC, 8);
	} else if (memcmp(j->h->magic, JR_MAGIC, 8) || j->h->size != j->maplen - JR_HDR ||
		   (j->h->size & 7u)) {
		r = -EBADMSG;
		snprintf(err, errlen, "%s: not a ringgate journal", path);
		goto fail;
	}
	j->size = j->h->size;
	j->id = id;
	snprintf(j->path, sizeof(j->path), "%s", path);
	close(fd);
	{
		uint64_t head = atomic_load(&j->h->head), tail = atomic_load(&j->h->tail);

		if (tail > head || head - tail > j->size) {
			snprintf(err, errlen, "%s: journal positions out of range", path);
			rg_jr_unmap(j);
			return -EBADMSG;
		}
		j->head = head;
	}
	*out = j;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(j);
	return r;
}

void rg_jr_unmap(struct rg_audit_jr *j)
{
	if (!j)
		return;
	if (j->map)
		munmap(j->map, j->maplen);
	free(j);
}

/* ---- the producer (one thread per journal) -------------------------------------------------- */

void *rg_audit_jr_begin(struct rg_audit_jr *j, uint16_t type, uint32_t len)
{
	size_t need = JR_REC_HEAD + pad8(len);
	uint64_t head = j->head;
	size_t off = (size_t)(head % j->size), room_to_end = j->size - off;
	size_t take = need <= room_to_end ? need : room_to_end + need;
	uint8_t *p;

	if (need > j->size / 4) /* a record this large would starve the ring: never written */
		return NULL;
	for (unsigned spins = 0;; spins++) {
		uint64_t tail = atomic_load_explicit(&j->h->tail, memory_order_acquire);

		if (head + take - tail <= j->size)
			break;
		/* full: the writer is behind. Wait for it (back-pressure), unless the trail
		 * cannot be written: then the record is lost, and counted. */
		if (rg_audit_error(j->a)) {
			atomic_fetch_add_explicit(&j->lost, 1, memory_order_relaxed);
			return NULL;
		}
		if (spins == 0)
			atomic_fetch_add_explicit(&j->waits, 1, memory_order_relaxed);
		rg_audit_kick(j->a);
		nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
	}
	if (need > room_to_end) {
		/* no room before the end: a wrap marker (always fits: records are 8-aligned and
		 * the ring size too, so at least 8 bytes remain) */
		uint32_t w = JR_WRAP;

		memcpy(j->ring + off, &w, 4);
		head += room_to_end;
		off = 0;
	}
	p = j->ring + off;
	memcpy(p, &len, 4);
	memcpy(p + 4, &type, 2);
	memset(p + 6, 0, 2);
	{
		int64_t t = wall_us();

		memcpy(p + 8, &t, 8);
	}
	j->pend = head + need;
	return p + JR_REC_HEAD;
}

void rg_audit_jr_commit(struct rg_audit_jr *j)
{
	j->head = j->pend;
	atomic_store_explicit(&j->h->head, j->head, memory_order_release);
}

uint64_t rg_audit_jr_lost(const struct rg_audit_jr *j)
{
	return atomic_load_explicit(&j->lost, memory_order_relaxed);
}

uint64_t rg_audit_jr_waits(const struct rg_audit_jr *j)
{
	return atomic_load_explicit(&j->waits, memory_order_relaxed);
}

/* ---- the writer's side ------------------------------------------------------------------- */

bool rg_jr_empty(const struct rg_audit_jr *j)
{
	return atomic_load_explicit(&j->h->head, memory_order_acquire) ==
	       atomic_load_explicit(&j->h->tail, memory_order_relaxed);
}

int rg_jr_read(struct rg_audit_jr *j, uint64_t *pos, uint64_t end, struct rg_jr_rec *r)
{
	while (*pos < end) {
		size_t off = (size_t)(*pos % j->size);
		uint32_t len;

		if (j->size - off < JR_REC_HEAD) {
			*pos += j->size - off; /* cannot happen with 8-aligned records: robust */
			continue;
		}
		memcpy(&len, j->ring + off, 4);
		if (len == JR_WRAP) {
			*pos += j->size - off;
			continue;
		}
		if (JR_REC_HEAD + pad8(len) > j->size - off ||
		    *pos + JR_REC_HEAD + pad8(len) > end)
			return -EBADMSG; /* a torn or corrupt journal: the caller stops here */
		memcpy(&r->type, j->ring + off + 4, 2);
		memcpy(&r->time_us, j->ring + off + 8, 8);
		r->body = j->ring + off + JR_REC_HEAD;
		r->len = len;
		*pos += JR_REC_HEAD + pad8(len);
		return 1;
	}
	return 0;
}

uint64_t rg_jr_head(const struct rg_audit_jr *j)
{
	return atomic_load_explicit(&j->h->head, memory_order_acquire);
}

uint64_t rg_jr_tail(const struct rg_audit_jr *j)
{
	return atomic_load_explicit(&j->h->tail, memory_order_relaxed);
}

void rg_jr_pending(struct rg_audit_jr *j, uint64_t first_seq, uint64_t end)
{
	j->h->pend_end = end;
	atomic_thread_fence(memory_order_release);
	j->h->pend_seq = first_seq;
}

void rg_jr_consumed(struct rg_audit_jr *j, uint64_t end)
{
	atomic_store_explicit(&j->h->tail, end, memory_order_release);
	j->h->pend_seq = 0;
}

void rg_jr_abandon_pending(struct rg_audit_jr *j)
{
	j->h->pend_seq = 0;
}

int rg_jr_recover(struct rg_audit_jr *j, uint64_t next_seq, uint64_t *skipped)
{
	uint64_t first = j->h->pend_seq, end = j->h->pend_end, pos, n;
	struct rg_jr_rec r;

	*skipped = 0;
	if (!first)
		return 0;
	if (next_seq <= first) { /* nothing of that batch reached the trail */
		j->h->pend_seq = 0;
		return 0;
	}
	n = next_seq - first;
	pos = rg_jr_tail(j);
	if (end < pos || end > rg_jr_head(j))
		return -EBADMSG;
	while (*skipped < n) {
		int rc = rg_jr_read(j, &pos, end, &r);

		if (rc <= 0)
			break;
		(*skipped)++;
	}
	rg_jr_consumed(j, pos);
	return 0;
}
