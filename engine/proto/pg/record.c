/*
 * record.c: session recording (docs/audit.md, "Session recordings").
 *
 * What the agent saw, as it saw it: every byte ringgate sends to the agent once the session
 * is logged in (so masked values only: unmasked data never reaches a recording), with the
 * time it was sent and a marker where each statement went to the target (its number in the
 * audit trail, whose stmt record holds the text: literals stay out of recordings as they
 * stay out of the trail). Replay (`ringgatectl replay`) frames the bytes again and shows
 * the session as psql would have.
 *
 * A worker appends entries to the session's buffer, with no system call, and hands a full
 * chunk (64 KiB) to its recording journal, or a smaller one as soon as a ReadyForQuery has
 * gone out, so what the agent was told is out of the process before it can act on it. The
 * recordings trail's writer compresses each chunk (zstd) and chains and seals it like the
 * audit trail. Past audit.record_max_bytes a session's recording stops with a truncation
 * entry, never silently.
 *
 * Chunk (a journal record, then the trail record's payload once compressed):
 *   u64 session | u32 chunk number | u32 raw length | zstd frame of the entries
 * Entry: u8 kind | u64 µs since the session's start | u32 length | bytes
 *   'B' bytes sent to the agent     'S' a statement went to the target (u32 n)
 *   'T' truncated here (u64 limit)  'E' the session ended (its reason, text)
 */
#include <zstd.h>

#include "sess-int.h"

#include "evidence.h"

#define REC_CHUNK (64u << 10)
#define REC_HEAD 13u /* kind, time, length */
#define EV_REC_CHUNK 1

struct pg_rec_w {
	struct rg_audit_jr *jr;
} __attribute__((aligned(64)));

struct pg_rec {
	uint8_t *buf;
	size_t len, cap;
	uint64_t t0_us;
	uint64_t total; /* bytes of 'B' entries so far */
	uint32_t chunk;
	bool want_flush; /* a ReadyForQuery is among what is buffered or about to be */
	bool truncated;
};

static bool rec_room(struct pg_rec *r, size_t n)
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

static void rec_put(struct pg_rec *r, uint8_t kind, const void *p, uint32_t n)
{
	uint64_t t = pg_mono_us() - r->t0_us;

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
static void rec_flush(struct pg_sess *ps)
{
	struct pg_rec *r = ps->rec;
	struct rg_audit_jr *jr = ps->gw->recw[ps->cnt - ps->gw->cnt].jr;
	uint8_t *dst;
	size_t len = 12 + r->len;

	r->want_flush = false;
	if (!r->len)
		return;
	if (len > (1u << 20)) { /* cannot happen: chunks go at 64 KiB; robust anyway */
		ps->cnt->audit_lost++;
		r->len = 0;
		return;
	}
	if (!(dst = rg_audit_jr_begin(jr, EV_REC_CHUNK, (uint32_t)len))) {
		ps->cnt->audit_lost++;
		r->len = 0;
		return;
	}
	memcpy(dst, &ps->id, 8);
	memcpy(dst + 8, &r->chunk, 4);
	memcpy(dst + 12, r->buf, r->len);
	rg_audit_jr_commit(jr);
	r->chunk++;
	r->len = 0;
	if (r->cap > 4 * REC_CHUNK) { /* a huge message went by: give the memory back */
		free(r->buf);
		r->buf = NULL;
		r->cap = 0;
	}
}

void pg_rec_start(struct pg_sess *ps)
{
	if (!ps->gw->rec || ps->internal || ps->rec)
		return;
	if (!(ps->rec = calloc(1, sizeof(*ps->rec))))
		return;
	ps->rec->t0_us = pg_mono_us();
}

void pg_rec_out(struct pg_sess *ps, const uint8_t *p, size_t n)
{
	struct pg_rec *r = ps->rec;

	if (r->truncated || !n)
		return;
	if (r->total + n > ps->gw->rec_max) {
		uint64_t lim = ps->gw->rec_max;

		rec_put(r, 'T', &lim, 8);
		r->truncated = true;
		rec_flush(ps);
		return;
	}
	while (n) { /* a large send in entries of at most a chunk */
		uint32_t k = n > REC_CHUNK ? REC_CHUNK : (uint32_t)n;

		rec_put(r, 'B', p, k);
		r->total += k;
		p += k;
		n -= k;
		if (r->len >= REC_CHUNK)
			rec_flush(ps);
	}
	if (r->want_flush)
		rec_flush(ps);
}

void pg_rec_stmt(struct pg_sess *ps, uint32_t n)
{
	if (!ps->rec->truncated)
		rec_put(ps->rec, 'S', &n, 4);
}

void pg_rec_ready(struct pg_sess *ps)
{
	ps->rec->want_flush = true;
}

void pg_rec_end(struct pg_sess *ps, const char *reason)
{
	struct pg_rec *r = ps->rec;

	if (!r)
		return;
	rec_put(r, 'E', reason, (uint32_t)strlen(reason));
	rec_flush(ps);
	free(r->buf);
	free(r);
	ps->rec = NULL;
}

/* ---- the writer's side --------------------------------------------------------------------- */

struct pg_rec_fmt {
	ZSTD_CCtx *cc;
};

/* One chunk into its trail payload: the head as it came, the entries compressed. */
static void rec_fmt(void *arg, uint16_t type, int64_t t, const uint8_t *b, size_t len,
		    struct rg_audit_buf *out)
{
	struct pg_rec_fmt *f = arg;
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

int rg_pg_gw_set_recording(struct rg_pg_gw *gw, struct rg_audit *a,
			   const struct rg_config_audit *ac, char *err, size_t errlen)
{
	struct pg_rec_fmt *f = calloc(1, sizeof(*f));
	struct rg_audit_jr_opts o = {.count = gw->workers, .dir = ac->journal_dir,
				     .bytes = 16u << 20, .fmt = rec_fmt};
	int r;

	if (!f || !(gw->recw = aligned_alloc(64, gw->workers * sizeof(*gw->recw)))) {
		free(f);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memset(gw->recw, 0, gw->workers * sizeof(*gw->recw));
	o.fmt_arg = f;
	if ((r = rg_audit_journals(a, &o, err, errlen))) {
		free(f);
		free(gw->recw);
		gw->recw = NULL;
		return r;
	}
	for (unsigned i = 0; i < gw->workers; i++)
		gw->recw[i].jr = rg_audit_journal(a, i);
	gw->rec = a;
	gw->rec_fmt = f;
	gw->rec_max = ac->record_max_bytes;
	return 0;
}

void rg_pg_gw_recording_free(struct rg_pg_gw *gw)
{
	struct pg_rec_fmt *f = gw->rec_fmt;

	free(gw->recw);
	gw->recw = NULL;
	if (f) {
		ZSTD_freeCCtx(f->cc);
		free(f);
	}
	gw->rec_fmt = NULL;
	gw->rec = NULL;
}
