/*
 * catalog.c: where a result's columns come from, so column mask rules can apply.
 *
 * A RowDescription names each column's origin only by numbers (table OID, attribute number).
 * Column mask rules name columns as "schema.table.column" globs. This file keeps, per
 * target, a snapshot of the target's catalog that maps one to the other: every relation's
 * OID with its attribute count (so a table or column created since is recognised as unknown)
 * and, for the columns some column glob matches, their origin names. A session asks for the
 * origins of a result once per result shape, under one mutex, and copies them out.
 *
 * The snapshot is read by one thread (the catalog thread) with libpq, over ringgate's own
 * gateway: an internal listener on 127.0.0.1 that accepts only a random per-process secret
 * and then logs in to the target exactly as an agent's session does (TLS, SCRAM, channel
 * binding, allowed_auth, pinned settings), so no second upstream login path exists and the
 * target's credentials stay where they are. The catalog sessions are not judged or masked
 * (they run only the query below) and are logged as subject "ringgate-catalog".
 *
 * Freshness: a snapshot is read on first use; again when a session meets a table OID or an
 * attribute number it does not know (that session's results wait, held, until the read
 * ends); when an ALTER, DO or CALL committed through the gateway (a rename keeps the OID);
 * when the bundle's column globs change; and every ttl in the background. What stays unknown
 * after a read made after the session asked is a relation the catalog connection cannot see
 * (created in the agent's open transaction): no column rule applies to it, detectors do.
 * A read that fails leaves waiting sessions to fail closed (docs/pg.md).
 */
#include <errno.h>
#include <fnmatch.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "pg-int.h"
#include "policy.h"

#define CAT_CONNECT_MS 5000u
#define CAT_QUERY_MS 15000u
#define CAT_POST_TRIES 2000 /* a worker's message queue full: yield and retry this often */

/* ---- snapshot: pure data, built from the query's rows ------------------------------------ */

struct pg_cat_rel {
	uint32_t oid;
	int32_t natts;
};

struct pg_cat_col {
	uint32_t oid;
	int32_t attnum;
	uint32_t off; /* origin name in names */
};

struct pg_cat_snap {
	struct pg_cat_rel *rels;
	size_t nrels, caprels;
	struct pg_cat_col *cols; /* a proc is a col with attnum 0 */
	size_t ncols, capcols;
	struct rg_acc names;
	size_t nprocs;	  /* of cols */
	uint64_t read_ms; /* CLOCK_MONOTONIC, when it was read */
};

struct pg_cat_snap *pg_cat_snap_new(void)
{
	return calloc(1, sizeof(struct pg_cat_snap));
}

void pg_cat_snap_free(struct pg_cat_snap *s)
{
	if (!s)
		return;
	free(s->rels);
	free(s->cols);
	rg_acc_free(&s->names);
	free(s);
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	size_t nc;
	void *q;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 64;
	q = realloc(*p, nc * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = nc;
	return 0;
}

int pg_cat_snap_rel(struct pg_cat_snap *s, uint32_t oid, int32_t natts)
{
	if (s->nrels && s->rels[s->nrels - 1].oid == oid)
		return 0; /* the query's rows come grouped by relation */
	if (grow((void **)&s->rels, &s->caprels, s->nrels, sizeof(*s->rels)))
		return -ENOMEM;
	s->rels[s->nrels++] = (struct pg_cat_rel){oid, natts};
	return 0;
}

int pg_cat_snap_col(struct pg_cat_snap *s, uint32_t oid, int32_t attnum, const char *origin)
{
	size_t off = s->names.len;

	if (off > UINT32_MAX - 4096 ||
	    grow((void **)&s->cols, &s->capcols, s->ncols, sizeof(*s->cols)) ||
	    rg_acc_append(&s->names, origin, strlen(origin) + 1))
		return -ENOMEM;
	s->cols[s->ncols++] = (struct pg_cat_col){oid, attnum, (uint32_t)off};
	return 0;
}

static int rel_cmp(const void *a, const void *b)
{
	const struct pg_cat_rel *x = a, *y = b;

	return x->oid < y->oid ? -1 : x->oid > y->oid;
}

static int col_cmp(const void *a, const void *b)
{
	const struct pg_cat_col *x = a, *y = b;

	if (x->oid != y->oid)
		return x->oid < y->oid ? -1 : 1;
	return x->attnum < y->attnum ? -1 : x->attnum > y->attnum;
}

int pg_cat_snap_proc(struct pg_cat_snap *s, uint32_t oid, const char *name)
{
	int r = pg_cat_snap_col(s, oid, 0, name);

	s->nprocs += r == 0;
	return r;
}

const char *pg_cat_snap_proc_name(const struct pg_cat_snap *s, uint32_t oid)
{
	const struct pg_cat_col kc = {oid, 0, 0}, *c;

	c = s->ncols ? bsearch(&kc, s->cols, s->ncols, sizeof(*s->cols), col_cmp) : NULL;
	return c ? (const char *)s->names.p + c->off : NULL;
}

void pg_cat_snap_seal(struct pg_cat_snap *s)
{
	size_t i, k = 0;

	if (s->nrels)
		qsort(s->rels, s->nrels, sizeof(*s->rels), rel_cmp);
	for (i = 0; i < s->nrels; i++) /* a relation seen twice keeps one entry */
		if (!k || s->rels[k - 1].oid != s->rels[i].oid)
			s->rels[k++] = s->rels[i];
	s->nrels = k;
	if (s->ncols)
		qsort(s->cols, s->ncols, sizeof(*s->cols), col_cmp);
}

int pg_cat_snap_find(const struct pg_cat_snap *s, uint32_t oid, int32_t attnum,
		     const char **origin)
{
	const struct pg_cat_rel kr = {oid, 0}, *r;
	const struct pg_cat_col kc = {oid, attnum, 0}, *c;

	*origin = NULL;
	if (!s->nrels)
		return 0;
	r = bsearch(&kr, s->rels, s->nrels, sizeof(*s->rels), rel_cmp);
	if (!r || attnum < 1 || attnum > r->natts)
		return 0;
	c = s->ncols ? bsearch(&kc, s->cols, s->ncols, sizeof(*s->cols), col_cmp) : NULL;
	if (c)
		*origin = (const char *)s->names.p + c->off;
	return 1;
}

/* ---- the catalog object ------------------------------------------------------------------ */

struct pg_cat_tgt {
	struct pg_cat_snap *snap; /* mu; NULL until the first read */
	uint64_t inval, read_inval; /* mu: invalidations asked / the one the snapshot saw */
	bool want;		    /* mu: a session waits for a read */
	bool running;		    /* mu: a read is in progress */
	bool ok;		    /* mu: the last read succeeded */
	_Atomic uint64_t serial;    /* reads finished, ok or not */
	_Atomic uint64_t version;   /* changes whenever an answer could: a new snapshot, an
				     * invalidation (read lock-free by pg_catalog_version) */
	uint64_t next_ttl_ms;	    /* catalog thread only: background re-read */
	PGconn *conn;		    /* catalog thread only */
};

struct pg_catalog {
	struct rg_pg_gw *gw;
	struct rg_core *core;
	pthread_mutex_t mu;
	int wake; /* eventfd: work or stop */
	pthread_t thr;
	bool started;
	_Atomic bool stop;
	/* mu: the column globs of the bundle in force (copies) */
	char **globs;
	size_t nglobs;
	bool bundle; /* mu: a bundle is in force (FunctionCall names are read even without
		      * column globs) */
	uint64_t ttl_ms;
	uint16_t port; /* the internal listener */
	char secret[65];
	struct pg_cat_tgt *t; /* [gw->n_targets] */
	size_t nt;
	_Atomic(struct pg_cat_tgt *) pub; /* t, once published (lock-free readers) */
	struct pg_cat_waiter **waiters; /* [workers]: each worker's list, that worker only */
	struct {
		struct rg_acc names, ptrs; /* the last answer's origins, that worker only */
	} *scratch;			   /* [workers] */
};

int pg_catalog_new(struct rg_pg_gw *gw, struct pg_catalog **out)
{
	struct pg_catalog *c = calloc(1, sizeof(*c));
	uint8_t r[32];
	size_t i;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->gw = gw;
	c->wake = -1;
	c->ttl_ms = 60000;
	pthread_mutex_init(&c->mu, NULL);
	c->waiters = calloc(gw->workers ? gw->workers : 1, sizeof(*c->waiters));
	c->scratch = calloc(gw->workers ? gw->workers : 1, sizeof(*c->scratch));
	if (!c->waiters || !c->scratch || RAND_bytes(r, sizeof(r)) != 1) {
		pg_catalog_free(c);
		return -ENOMEM;
	}
	for (i = 0; i < sizeof(r); i++)
		snprintf(c->secret + 2 * i, 3, "%02x", r[i]);
	OPENSSL_cleanse(r, sizeof(r));
	*out = c;
	return 0;
}

static void globs_free(struct pg_catalog *c)
{
	for (size_t i = 0; i < c->nglobs; i++)
		free(c->globs[i]);
	free(c->globs);
	c->globs = NULL;
	c->nglobs = 0;
}

void pg_catalog_free(struct pg_catalog *c)
{
	if (!c)
		return;
	pg_catalog_stop(c);
	for (size_t i = 0; i < c->nt; i++) {
		pg_cat_snap_free(c->t[i].snap);
		if (c->t[i].conn)
			PQfinish(c->t[i].conn);
	}
	free(c->t);
	globs_free(c);
	free(c->waiters);
	for (size_t i = 0; c->scratch && i < c->gw->workers; i++) {
		rg_acc_free(&c->scratch[i].names);
		rg_acc_free(&c->scratch[i].ptrs);
	}
	free(c->scratch);
	if (c->wake >= 0)
		close(c->wake);
	OPENSSL_cleanse(c->secret, sizeof(c->secret));
	pthread_mutex_destroy(&c->mu);
	free(c);
}

const char *pg_catalog_secret(const struct pg_catalog *c)
{
	return c->secret;
}

bool pg_catalog_active(struct pg_catalog *c)
{
	bool on;

	pthread_mutex_lock(&c->mu);
	on = c->nglobs > 0;
	pthread_mutex_unlock(&c->mu);
	return on;
}

static void kick(struct pg_catalog *c)
{
	uint64_t one = 1;

	if (c->wake >= 0 && write(c->wake, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, the thread will look */
	}
}

int pg_catalog_set_globs(struct pg_catalog *c, const struct rg_policy *p)
{
	const char **v = NULL;
	char **copy = NULL;
	size_t n = p ? rg_policy_column_globs(p, NULL, 0) : 0, i;

	if (n) {
		v = calloc(n, sizeof(*v));
		copy = calloc(n, sizeof(*copy));
		if (!v || !copy)
			goto nomem;
		rg_policy_column_globs(p, v, n);
		for (i = 0; i < n; i++)
			if (!(copy[i] = strdup(v[i])))
				goto nomem;
	}
	free(v);
	pthread_mutex_lock(&c->mu);
	globs_free(c);
	c->globs = copy;
	c->nglobs = n;
	c->bundle = p != NULL;
	for (i = 0; i < c->nt; i++) {
		c->t[i].inval++; /* read again against these globs */
		atomic_fetch_add(&c->t[i].version, 1);
		c->t[i].want |= c->bundle && !c->t[i].snap;
	}
	pthread_mutex_unlock(&c->mu);
	return 0;
nomem:
	for (i = 0; copy && i < n; i++)
		free(copy[i]);
	free(copy);
	free(v);
	return -ENOMEM;
}

void pg_catalog_invalidate(struct pg_catalog *c, size_t target)
{
	pthread_mutex_lock(&c->mu);
	if (target < c->nt && c->t[target].snap) {
		c->t[target].inval++;
		atomic_fetch_add(&c->t[target].version, 1);
	}
	pthread_mutex_unlock(&c->mu);
}

/* ---- worker side: origins of a result, waiting ------------------------------------------- */

static void waiter_link(struct pg_catalog *c, unsigned w, struct pg_cat_waiter *wt)
{
	wt->prev = NULL;
	wt->next = c->waiters[w];
	if (wt->next)
		wt->next->prev = wt;
	c->waiters[w] = wt;
	wt->linked = true;
	wt->worker = w;
}

void pg_catalog_unwait(struct pg_catalog *c, struct pg_cat_waiter *wt)
{
	if (!wt->linked)
		return;
	if (wt->prev)
		wt->prev->next = wt->next;
	else
		c->waiters[wt->worker] = wt->next;
	if (wt->next)
		wt->next->prev = wt->prev;
	wt->linked = false;
	wt->prev = wt->next = NULL;
}

/* Some column of the result is not in the snapshot (or there is no snapshot to ask). */
static bool needs_read(const struct pg_cat_tgt *t, const struct rg_pg_rcol *cols, size_t n)
{
	const char *o;

	if (!t->snap || t->inval != t->read_inval)
		return true;
	for (size_t i = 0; i < n; i++)
		if (cols[i].table_oid && !pg_cat_snap_find(t->snap, cols[i].table_oid,
							   cols[i].attnum, &o))
			return true;
	return false;
}

enum pg_cat_ans pg_catalog_origins(struct pg_catalog *c, size_t target,
				   const struct rg_pg_rcol *cols, size_t n,
				   struct pg_cat_waiter *wt, unsigned worker,
				   const char *const **origins)
{
	struct pg_cat_tgt *t;
	enum pg_cat_ans a = PG_CAT_READY;
	struct rg_acc *names, *ptrs;
	const char *o;
	size_t i;
	uint64_t ser;

	*origins = NULL;
	if (worker >= c->gw->workers)
		return PG_CAT_FAILED;
	names = &c->scratch[worker].names;
	ptrs = &c->scratch[worker].ptrs;
	names->len = ptrs->len = 0;
	pthread_mutex_lock(&c->mu);
	if (!c->nglobs || target >= c->nt) {
		pthread_mutex_unlock(&c->mu);
		return PG_CAT_NONE;
	}
	t = &c->t[target];
	ser = atomic_load(&t->serial);
	if (wt && wt->waited && ser >= wt->need) {
		/* the read this session waited for is done: what it did not find stays unknown,
		 * unless the read failed and nothing trustworthy is left to answer from */
		wt->waited = false;
		if (!t->ok && needs_read(t, cols, n))
			a = PG_CAT_FAILED;
	} else if (needs_read(t, cols, n)) {
		if (!wt) { /* the caller gives a waiter and asks again */
			pthread_mutex_unlock(&c->mu);
			return PG_CAT_WAIT;
		}
		t->want = true;
		wt->need = ser + (t->running ? 2 : 1); /* a read already running may predate us */
		wt->waited = true;
		wt->target = target;
		a = PG_CAT_WAIT;
	}
	for (i = 0; i < n && a == PG_CAT_READY; i++) {
		uintptr_t no = UINTPTR_MAX;

		if (cols[i].table_oid && t->snap &&
		    pg_cat_snap_find(t->snap, cols[i].table_oid, cols[i].attnum, &o) && o) {
			no = names->len;
			if (rg_acc_append(names, o, strlen(o) + 1))
				a = PG_CAT_FAILED;
		}
		if (rg_acc_append(ptrs, &no, sizeof(no)))
			a = PG_CAT_FAILED;
	}
	pthread_mutex_unlock(&c->mu);
	if (a == PG_CAT_WAIT) {
		waiter_link(c, worker, wt);
		kick(c);
		return a;
	}
	if (a != PG_CAT_READY)
		return a;
	/* offsets -> pointers, now that names no longer moves */
	for (i = 0; i < n; i++) {
		uintptr_t no;
		const char *pp;

		memcpy(&no, ptrs->p + i * sizeof(no), sizeof(no));
		pp = no == UINTPTR_MAX ? NULL : (const char *)names->p + no;
		memcpy(ptrs->p + i * sizeof(pp), &pp, sizeof(pp));
	}
	*origins = (const char *const *)(void *)ptrs->p;
	return a;
}

int pg_catalog_proc(struct pg_catalog *c, size_t target, uint32_t oid, char *out, size_t cap)
{
	struct pg_cat_tgt *t;
	const char *name = NULL;
	int r = -1;

	out[0] = 0;
	pthread_mutex_lock(&c->mu);
	if (target < c->nt) {
		t = &c->t[target];
		if (t->snap && (name = pg_cat_snap_proc_name(t->snap, oid)))
			r = snprintf(out, cap, "%s", name) < (int)cap ? 1 : -1;
		else if (t->snap)
			r = 0;
		/* not known: read again (a function created since), at most once a second */
		if (r != 1 && !t->running && (!t->snap || pg_mono_ms() >= t->snap->read_ms + 1000))
			t->want = true;
	}
	pthread_mutex_unlock(&c->mu);
	if (r != 1)
		kick(c);
	return r;
}

uint64_t pg_catalog_version(struct pg_catalog *c, size_t target)
{
	struct pg_cat_tgt *t = atomic_load_explicit(&c->pub, memory_order_acquire);

	/* +1: never 0, which a session's plan cache takes for "not built with the catalog" */
	return t && target < c->nt ? atomic_load_explicit(&t[target].version,
							   memory_order_acquire) + 1
				   : 1;
}

/* On a worker: resume the sessions whose read is done. */
static void done_msg(struct rg_worker *w, void *arg)
{
	struct pg_catalog *c = arg;
	unsigned id = rg_worker_id(w);
	struct rg_sess *ready[64];
	struct pg_cat_waiter *wt, *nx;
	size_t n = 0, i;
	bool more;

	if (id >= c->gw->workers)
		return;
	do {
		more = false;
		n = 0;
		for (wt = c->waiters[id]; wt; wt = nx) {
			nx = wt->next;
			if (atomic_load(&c->t[wt->target].serial) < wt->need)
				continue;
			if (n == sizeof(ready) / sizeof(ready[0])) {
				more = true;
				break;
			}
			pg_catalog_unwait(c, wt);
			ready[n++] = wt->s;
		}
		/* a resumed session may wait again (linked anew) or end (unlinked): neither
		 * touches the ones collected here */
		for (i = 0; i < n; i++)
			pg_catalog_resume(ready[i]);
	} while (more);
}

/* ---- the catalog thread ------------------------------------------------------------------ */

/* Wait until fd is ready for ev or deadline; false on timeout, error or stop. */
static bool cat_wait(struct pg_catalog *c, int fd, short ev, uint64_t deadline)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = ev}, {.fd = c->wake, .events = POLLIN}};
		uint64_t now = pg_mono_ms();
		int r;

		if (atomic_load(&c->stop) || now >= deadline || fd < 0)
			return false;
		r = poll(p, 2, (int)(deadline - now));
		if (r < 0 && errno != EINTR)
			return false;
		if (r > 0 && p[0].revents)
			return true;
		/* a wake during a read: more work, seen by the loop afterwards; the counter
		 * is left set so the loop does not sleep past it */
		if (r > 0 && (p[1].revents & POLLIN)) {
			if (atomic_load(&c->stop))
				return false;
			p[1].fd = -1;
			r = poll(p, 1, (int)(deadline - now));
			if (r > 0 && p[0].revents)
				return true;
		}
	}
}

static PGconn *cat_connect(struct pg_catalog *c, const struct pg_target *tg, char *err,
			   size_t errlen)
{
	char port[8];
	const char *keys[] = {"host",	  "port",	     "dbname",	 "user",
			      "password", "sslmode",	     "gssencmode", "application_name",
			      NULL};
	const char *vals[] = {"127.0.0.1", port, tg->cfg->name, tg->cfg->user, c->secret,
			      "disable",   "disable", "ringgate-catalog", NULL};
	uint64_t deadline = pg_mono_ms() + CAT_CONNECT_MS;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn *pc;

	snprintf(port, sizeof(port), "%u", c->port);
	pc = PQconnectStartParams(keys, vals, 0);
	if (!pc || PQstatus(pc) == CONNECTION_BAD)
		goto fail;
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED ||
		    !cat_wait(c, PQsocket(pc), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
			      deadline))
			goto fail;
		st = PQconnectPoll(pc);
	}
	return pc;
fail:
	snprintf(err, errlen, "%s", pc && PQerrorMessage(pc)[0] ? PQerrorMessage(pc) : "timeout");
	if (pc)
		PQfinish(pc);
	return NULL;
}

/* One statement with text parameters; the last result, or NULL (err set). */
static PGresult *cat_exec(struct pg_catalog *c, PGconn *pc, const char *sql, int np,
			  const char *const *vals, char *err, size_t errlen)
{
	uint64_t deadline = pg_mono_ms() + CAT_QUERY_MS;
	PGresult *res = NULL, *r;

	if (!PQsendQueryParams(pc, sql, np, NULL, vals, NULL, NULL, 0))
		goto fail;
	for (;;) {
		while (!PQisBusy(pc)) {
			r = PQgetResult(pc);
			if (!r)
				return res;
			PQclear(res);
			res = r;
		}
		if (!cat_wait(c, PQsocket(pc), POLLIN, deadline) || !PQconsumeInput(pc))
			goto fail;
	}
fail:
	snprintf(err, errlen, "%s", PQerrorMessage(pc)[0] ? PQerrorMessage(pc) : "timeout");
	PQclear(res);
	return NULL;
}

/*
 * The attribute names every glob's column part names literally, as a text[] literal for the
 * query's filter; NULL (no filter: every attribute is read) when some column part is itself a
 * pattern. Called with mu held.
 */
static char *name_filter(const struct pg_catalog *c)
{
	struct rg_acc a = {0};
	bool ok = true;

	ok &= rg_acc_append(&a, "{", 1) == 0;
	for (size_t i = 0; i < c->nglobs && ok; i++) {
		const char *d1 = strchr(c->globs[i], '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
		const char *col = d2 ? d2 + 1 : NULL;

		if (!col || strpbrk(col, "*?[\\"))
			ok = false;
		ok &= rg_acc_append(&a, i ? ",\"" : "\"", i ? 2 : 1) == 0;
		for (const char *p = col; ok && *p; p++) /* array element quoting */
			ok &= (*p == '"' ? rg_acc_append(&a, "\\", 1) == 0 : true) &&
			      rg_acc_append(&a, p, 1) == 0;
		ok &= rg_acc_append(&a, "\"", 1) == 0;
	}
	ok &= rg_acc_append(&a, "}", 2) == 0; /* with the NUL */
	if (!ok) {
		rg_acc_free(&a);
		return NULL;
	}
	return (char *)a.p;
}

static const char CAT_SQL[] =
    "SELECT c.oid, c.relnatts, n.nspname, c.relname, a.attnum, a.attname "
    "FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
    "AND NOT a.attisdropped AND ($1::pg_catalog.text[] IS NULL "
    "OR a.attname::pg_catalog.text = ANY ($1::pg_catalog.text[])) "
    "WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') ORDER BY c.oid";

/* "schema"."name", each part a quoted identifier (an embedded quote doubled): the form a
 * FunctionCall is judged in (names are at most 63 bytes, so it always fits). */
static void quote_pair(const char *schema, const char *name, char *out, size_t cap)
{
	size_t o = 0;
	const char *parts[2] = {schema, name};

	for (int i = 0; i < 2; i++) {
		if (i && o + 1 < cap)
			out[o++] = '.';
		if (o + 1 < cap)
			out[o++] = '"';
		for (const char *p = parts[i]; *p && o + 3 < cap; p++) {
			if (*p == '"')
				out[o++] = '"';
			out[o++] = *p;
		}
		if (o + 1 < cap)
			out[o++] = '"';
	}
	out[o] = 0;
}

/* Every function's schema-qualified name, for FunctionCall (fast-path calls by OID). */
static const char PROC_SQL[] = "SELECT p.oid, n.nspname, p.proname FROM pg_catalog.pg_proc p "
			       "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace";

/* Build a snapshot from the rows of CAT_SQL, keeping the columns a glob matches. */
static struct pg_cat_snap *snap_from(const PGresult *res, char **globs, size_t nglobs)
{
	struct pg_cat_snap *s = pg_cat_snap_new();
	char origin[3 * 64 + 8];
	int i, rows = PQntuples(res);

	if (!s || PQnfields(res) != 6)
		goto fail;
	for (i = 0; i < rows; i++) {
		uint32_t oid = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
		int32_t natts = (int32_t)strtol(PQgetvalue(res, i, 1), NULL, 10);

		if (pg_cat_snap_rel(s, oid, natts))
			goto fail;
		if (PQgetisnull(res, i, 4))
			continue;
		snprintf(origin, sizeof(origin), "%s.%s.%s", PQgetvalue(res, i, 2),
			 PQgetvalue(res, i, 3), PQgetvalue(res, i, 5));
		for (size_t g = 0; g < nglobs; g++)
			if (fnmatch(globs[g], origin, 0) == 0) {
				if (pg_cat_snap_col(s, oid, (int32_t)strtol(PQgetvalue(res, i, 4),
									     NULL, 10),
						    origin))
					goto fail;
				break;
			}
	}
	pg_cat_snap_seal(s);
	return s;
fail:
	pg_cat_snap_free(s);
	return NULL;
}

/* One read of target i's catalog (mu not held). */
static struct pg_cat_snap *cat_read(struct pg_catalog *c, size_t i, char *err, size_t errlen)
{
	struct pg_cat_tgt *t = &c->t[i];
	const struct pg_target *tg = &c->gw->targets[i];
	struct pg_cat_snap *s = NULL;
	char **globs = NULL, *filter = NULL;
	size_t n = 0, k;
	PGresult *res = NULL;
	const char *vals[1];

	pthread_mutex_lock(&c->mu); /* a private copy: a reload may swap them meanwhile */
	n = c->nglobs;
	globs = calloc(n ? n : 1, sizeof(*globs));
	for (k = 0; globs && k < n; k++)
		globs[k] = strdup(c->globs[k]);
	filter = n ? name_filter(c) : strdup("{}"); /* no column globs: no attribute */
	pthread_mutex_unlock(&c->mu);
	for (k = 0; globs && k < n; k++)
		if (!globs[k]) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	if (!globs) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (t->conn && PQstatus(t->conn) != CONNECTION_OK) {
		PQfinish(t->conn);
		t->conn = NULL;
	}
	if (!t->conn) {
		t->conn = cat_connect(c, tg, err, errlen);
		if (!t->conn)
			goto out;
		res = cat_exec(c, t->conn, "SET statement_timeout = 10000", 0, NULL, err, errlen);
		PQclear(res);
		res = NULL;
	}
	vals[0] = filter;
	res = cat_exec(c, t->conn, CAT_SQL, 1, vals, err, errlen);
	if (!res)
		goto drop;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
		goto drop;
	}
	s = snap_from(res, globs, n);
	PQclear(res);
	res = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	res = cat_exec(c, t->conn, PROC_SQL, 0, NULL, err, errlen);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 3) {
		if (res)
			snprintf(err, errlen, "%s", PQresultErrorMessage(res));
		pg_cat_snap_free(s);
		s = NULL;
		goto drop;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		char name[2 * 2 * 64 + 8];

		quote_pair(PQgetvalue(res, r, 1), PQgetvalue(res, r, 2), name, sizeof(name));
		if (pg_cat_snap_proc(s, (uint32_t)strtoul(PQgetvalue(res, r, 0), NULL, 10), name)) {
			snprintf(err, errlen, "out of memory");
			pg_cat_snap_free(s);
			s = NULL;
			goto out;
		}
	}
	pg_cat_snap_seal(s);
	s->read_ms = pg_mono_ms();
	goto out;
drop: /* a connection in an unknown state is not reused */
	PQfinish(t->conn);
	t->conn = NULL;
out:
	PQclear(res);
	for (k = 0; globs && k < n; k++)
		free(globs[k]);
	free(globs);
	free(filter);
	for (char *p = err; *p; p++) /* one log line */
		if (*p == '\n' || *p == '"')
			*p = ' ';
	return s;
}

static void notify_workers(struct pg_catalog *c)
{
	for (unsigned w = 0; c->core && w < c->gw->workers; w++) {
		int r, tries = 0;

		while ((r = rg_core_post(c->core, w, done_msg, c)) == -EAGAIN &&
		       tries++ < CAT_POST_TRIES)
			sched_yield();
	}
}

static void *cat_main(void *arg)
{
	struct pg_catalog *c = arg;
	char err[256];

	while (!atomic_load(&c->stop)) {
		uint64_t now = pg_mono_ms(), next = now + 60000, inval, t0;
		struct pg_cat_snap *s, *old = NULL;
		const char *why = NULL;
		size_t i, pick = SIZE_MAX;
		uint64_t v;

		pthread_mutex_lock(&c->mu);
		for (i = 0; i < c->nt && pick == SIZE_MAX; i++)
			if (c->t[i].want)
				pick = i, why = c->t[i].snap ? "miss" : "start";
		for (i = 0; i < c->nt && pick == SIZE_MAX; i++) {
			if (!c->t[i].snap || !c->bundle)
				continue;
			if (c->t[i].inval != c->t[i].read_inval)
				pick = i, why = "invalidated";
			else if (now >= c->t[i].next_ttl_ms)
				pick = i, why = "ttl";
			else if (c->t[i].next_ttl_ms < next)
				next = c->t[i].next_ttl_ms;
		}
		if (pick == SIZE_MAX) {
			struct pollfd p = {.fd = c->wake, .events = POLLIN};

			pthread_mutex_unlock(&c->mu);
			if (poll(&p, 1, (int)(next - now)) > 0 && read(c->wake, &v, sizeof(v)) < 0) {
				/* raced with another reader: nothing to do */
			}
			continue;
		}
		c->t[pick].want = false;
		c->t[pick].running = true;
		inval = c->t[pick].inval;
		pthread_mutex_unlock(&c->mu);

		t0 = pg_mono_ms();
		err[0] = 0;
		s = cat_read(c, pick, err, sizeof(err));

		pthread_mutex_lock(&c->mu);
		c->t[pick].running = false;
		c->t[pick].ok = s != NULL;
		c->t[pick].next_ttl_ms = pg_mono_ms() + c->ttl_ms;
		if (s) {
			old = c->t[pick].snap;
			c->t[pick].snap = s;
			c->t[pick].read_inval = inval;
			atomic_fetch_add(&c->t[pick].version, 1);
		}
		atomic_fetch_add(&c->t[pick].serial, 1);
		pthread_mutex_unlock(&c->mu);
		if (s)
			rg_log("event=catalog_read target=%s reason=%s relations=%zu "
			       "rule_columns=%zu functions=%zu ms=%llu",
			       c->gw->targets[pick].cfg->name, why, s->nrels, s->ncols - s->nprocs,
			       s->nprocs, (unsigned long long)(pg_mono_ms() - t0));
		else
			rg_log("event=catalog_read_failed target=%s reason=%s detail=\"%s\"",
			       c->gw->targets[pick].cfg->name, why, err);
		pg_cat_snap_free(old);
		notify_workers(c);
	}
	return NULL;
}

int pg_catalog_start(struct pg_catalog *c, struct rg_core *core, uint16_t port, uint64_t ttl_ms)
{
	struct pg_cat_tgt *t = calloc(c->gw->n_targets ? c->gw->n_targets : 1, sizeof(*t));

	c->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!t || c->wake < 0) {
		free(t);
		return -ENOMEM;
	}
	/* workers may already ask (they find no target until this is published) */
	pthread_mutex_lock(&c->mu);
	c->core = core;
	c->port = port;
	if (ttl_ms)
		c->ttl_ms = ttl_ms;
	c->t = t;
	c->nt = c->gw->n_targets;
	for (size_t i = 0; i < c->nt; i++)
		c->t[i].want = c->bundle; /* read at start: most sessions then never wait */
	atomic_store_explicit(&c->pub, t, memory_order_release);
	pthread_mutex_unlock(&c->mu);
	if (pthread_create(&c->thr, NULL, cat_main, c))
		return -EAGAIN;
	c->started = true;
	return 0;
}

void pg_catalog_stop(struct pg_catalog *c)
{
	if (!c->started)
		return;
	atomic_store(&c->stop, true);
	kick(c);
	pthread_join(c->thr, NULL);
	c->started = false;
}
