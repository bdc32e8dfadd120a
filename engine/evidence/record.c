/*
 * record.c: session recordings, the writing side (docs/audit.md, "Session recordings"), for
 * every protocol module (PostgreSQL, MySQL) alike.
 *
 * What the agent saw, as it saw it: every byte ringgate sends to the agent once the session
 * is logged in (so masked values only: the protocol module hands over what it sends, after
 * masking; unmasked data never reaches a recording), with the time it was sent, markers the
 * protocol module places (where each statement went to the target, by its number in the
 * audit trail, whose stmt record holds the text: literals stay out of recordings as they
 * stay out of the trail) and, first, which protocol the bytes are in. Replay (replay.c)
 * frames the bytes again.
 *
 * A worker appends entries to the session's buffer, with no system call, and hands a full
 * chunk (64 KiB) to its recording journal, or a smaller one as soon as the protocol module
 * says the agent was just told the end of an answer (rg_rec_ready), so what the agent was
 * told is out of the process before it can act on it. The recordings trail's writer
 * compresses each chunk (zstd) and chains and seals it like the audit trail. Past
 * audit.record_max_bytes a session's recording stops with a truncation entry, never silently.
 *
 * Chunk (a journal record, then the trail record's payload once compressed):
 *   u64 session | u32 chunk number | u32 raw length | zstd frame of the entries
 * Entry: u8 kind | u64 µs since the session's start | u32 length | bytes
 *   'P' the protocol (u8 enum rg_ev_proto, then the protocol's own header: MySQL u64
 *       capabilities); first, absent in recordings older than it (PostgreSQL)
 *   'B' bytes sent to the agent     'S' a statement went to the target (u32 n)
 *   'C' a MySQL command went to the target or was refused (u8 command, u8 flags, u32 n)
 *   'T' truncated here (u64 limit)  'E' the session ended (its reason, text)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "evidence.h"

#define REC_CHUNK (64u << 10)
#define REC_HEAD 13u /* kind, time, length */
#define EV_REC_CHUNK 1

struct rg_rec_fmt {
	ZSTD_CCtx *cc;
};

struct rg_rec {
	struct rg_audit_jr **jr; /* [workers] */
	unsigned workers;
	uint64_t max;
	struct rg_rec_fmt fmt;
};

struct rg_rec_sess {
	struct rg_audit_jr *jr;
	uint64_t *lost; /* the worker's counter of records not kept */
	uint64_t session;
	uint64_t max;
	uint8_t *buf;
	size_t len, cap;
	uint64_t t0_us;
	uint64_t total; /* bytes of 'B' entries so far */
	uint32_t chunk;
	bool want_flush; /* the end of an answer is among what is buffered or about to be */
	bool truncated;
};

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static bool rec_room(struct rg_rec_sess *r, size_t n)
{
	if (r->cap - r->len >= n)
		return true;
	size_t cap = r->cap ? r->cap : 4096;
	uint8_t *nb;

	while (cap - r->len < n)
		cap *= 2;
	if (!(nb = realloc(r->buf, cap)))
		return false;
	r->buf = nb;
	r->cap = cap;
	return true;
}

static void rec_put(struct rg_rec_sess *r, uint8_t kind, const void *p, uint32_t n)
{
	uint64_t t = mono_us() - r->t0_us;

	if (!rec_room(r, REC_HEAD + (size_t)n))
		return; /* out of memory: counted by the chunk that comes short (rare) */
	r->buf[r->len] = kind;
	memcpy(r->buf + r->len + 1, &t, 8);
	memcpy(r->buf + r->len + 9, &n, 4);
	if (n)
		memcpy(r->buf + r->len + REC_HEAD, p, n);
	r->len += REC_HEAD + (size_t)n;
}

/* Hand what is buffered to the worker's recording journal as one chunk. */
static void rec_flush(struct rg_rec_sess *r)
{
	uint8_t *dst;
	size_t len = 12 + r->len;

	r->want_flush = false;
	if (!r->len)
		return;
	if (len > (1u << 20)) { /* cannot happen: chunks go at 64 KiB; robust anyway */
		(*r->lost)++;
		r->len = 0;
		return;
	}
	if (!(dst = rg_audit_jr_begin(r->jr, EV_REC_CHUNK, (uint32_t)len))) {
		(*r->lost)++;
		r->len = 0;
		return;
	}
	memcpy(dst, &r->session, 8);
	memcpy(dst + 8, &r->chunk, 4);
	memcpy(dst + 12, r->buf, r->len);
	rg_audit_jr_commit(r->jr);
	r->chunk++;
	r->len = 0;
	if (r->cap > 4 * REC_CHUNK) { /* a huge message went by: give the memory back */
		free(r->buf);
		r->buf = NULL;
		r->cap = 0;
	}
}

struct rg_rec_sess *rg_rec_start(struct rg_rec *rec, unsigned worker, uint64_t session,
				 enum rg_ev_proto proto, const void *head, uint32_t head_len,
				 uint64_t *lost)
{
	struct rg_rec_sess *r;
	uint8_t p[1 + 64];

	if (!rec || worker >= rec->workers || head_len > 64 || !(r = calloc(1, sizeof(*r))))
		return NULL;
	r->jr = rec->jr[worker];
	r->lost = lost;
	r->session = session;
	r->max = rec->max;
	r->t0_us = mono_us();
	p[0] = (uint8_t)proto;
	if (head_len)
		memcpy(p + 1, head, head_len);
	rec_put(r, 'P', p, 1 + head_len);
	return r;
}

void rg_rec_out(struct rg_rec_sess *r, const void *bytes, size_t n)
{
	const uint8_t *p = bytes;

	if (r->truncated || !n)
		return;
	if (r->total + n > r->max) {
		uint64_t lim = r->max;

		rec_put(r, 'T', &lim, 8);
		r->truncated = true;
		rec_flush(r);
		return;
	}
	while (n) { /* a large send in entries of at most a chunk */
		uint32_t k = n > REC_CHUNK ? REC_CHUNK : (uint32_t)n;

		rec_put(r, 'B', p, k);
		r->total += k;
		p += k;
		n -= k;
		if (r->len >= REC_CHUNK)
			rec_flush(r);
	}
	if (r->want_flush)
		rec_flush(r);
}

void rg_rec_mark(struct rg_rec_sess *r, uint8_t kind, const void *p, uint32_t n)
{
	if (!r->truncated)
		rec_put(r, kind, p, n);
}

void rg_rec_ready(struct rg_rec_sess *r)
{
	r->want_flush = true;
}

void rg_rec_settle(struct rg_rec_sess *r)
{
	if (r->want_flush)
		rec_flush(r);
}

void rg_rec_end(struct rg_rec_sess *r, const char *reason)
{
	if (!r)
		return;
	rec_put(r, 'E', reason, (uint32_t)strlen(reason));
	rec_flush(r);
	free(r->buf);
	free(r);
}

/* ---- the writer's side --------------------------------------------------------------------- */

/* One chunk into its trail payload: the head as it came, the entries compressed. */
static void rec_fmt(void *arg, uint16_t type, int64_t t, const uint8_t *b, size_t len,
		    struct rg_audit_buf *out)
{
	struct rg_rec_fmt *f = arg;
	size_t bound, n;
	uint32_t raw;
	void *dst;

	(void)t;
	if (type != EV_REC_CHUNK || len < 12 || len - 12 > UINT32_MAX)
		return;
	raw = (uint32_t)(len - 12);
	bound = ZSTD_compressBound(raw);
	rg_audit_buf_put(out, b, 12);
	rg_audit_buf_put(out, &raw, 4);
	if (!(dst = rg_audit_buf_room(out, bound)))
		return;
	if (!f->cc && !(f->cc = ZSTD_createCCtx())) {
		out->len = 0;
		return;
	}
	n = ZSTD_compressCCtx(f->cc, dst, bound, b + 12, raw, 1);
	if (ZSTD_isError(n)) {
		out->len = 0;
		return;
	}
	out->len += n;
}

int rg_rec_new(struct rg_audit *a, unsigned workers, const char *journal_dir, uint64_t max_bytes,
	       struct rg_rec **out, char *err, size_t errlen)
{
	struct rg_rec *rec = calloc(1, sizeof(*rec));
	struct rg_audit_jr_opts o = {
	    .count = workers, .dir = journal_dir, .bytes = 16u << 20, .fmt = rec_fmt};
	int r;

	*out = NULL;
	if (!rec || !(rec->jr = calloc(workers ? workers : 1, sizeof(*rec->jr)))) {
		free(rec);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o.fmt_arg = &rec->fmt;
	if ((r = rg_audit_journals(a, &o, err, errlen))) {
		free(rec->jr);
		free(rec);
		return r;
	}
	for (unsigned i = 0; i < workers; i++)
		rec->jr[i] = rg_audit_journal(a, i);
	rec->workers = workers;
	rec->max = max_bytes;
	*out = rec;
	return 0;
}

void rg_rec_free(struct rg_rec *rec)
{
	if (!rec)
		return;
	ZSTD_freeCCtx(rec->fmt.cc);
	free(rec->jr);
	free(rec);
}
