/*
 * stmt: which description applies to each DataRow of a PostgreSQL session.
 *
 * Owns, per session, a model of the target's prepared statements and portals and a FIFO
 * of the requests forwarded to it, each waiting for its response. Effects are applied when
 * the target's response confirms them (ParseComplete installs a statement, BindComplete
 * creates a portal, CloseComplete removes, RowDescription / NoData answer a Describe), so
 * a request the target refused never changes the model. The server's rules followed here
 * (postgres.c, portalmem.c): after an error in an extended-protocol message the target
 * skips every message up to Sync (Query and FunctionCall included) and answers none of
 * them; Parse "" drops the unnamed statement even when it then fails; Bind "" replaces the
 * unnamed portal; a simple Query drops both; portals die when a transaction ends
 * (ReadyForQuery 'I'); names are keyed on their first 63 bytes (NAMEDATALEN - 1). SQL-level
 * PREPARE / DEALLOCATE / DISCARD ALL share the named statements' namespace (prepare.c): the
 * session hands their effects over with the Query or Parse (rg_pg_stmt_fe_sql) and they
 * apply at the CommandComplete whose tag confirms them; ROLLBACK undoes none of them.
 *
 * Invariants: the model only ever loses information the target still has, never holds
 * information the target does not (a portal it cannot name is reported undescribed, and
 * the caller fails closed); every allocation is bounded by struct rg_pg_stmt_limits.
 * Never: I/O, or allocation for a session that only sends simple Queries (beyond the
 * columns of the result being read) or per message in steady state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pg-int.h"

#define NAME_MAX_KEY 63 /* NAMEDATALEN - 1: the server compares names on this many bytes */

enum pend_kind {
	P_PARSE = 1,
	P_BIND,
	P_DESC_S,
	P_DESC_P,
	P_EXEC,
	P_CLOSE_S,
	P_CLOSE_P,
	P_SYNC,
	P_QUERY,
	P_FCALL,
};

enum { F_GOT_T = 1, F_STARTED = 2 };

enum desc_state {
	D_UNKNOWN = 0, /* never described */
	D_NODATA,      /* NoData: returns no rows */
	D_ROWS,	       /* cols[0..ncols) */
};

struct desc {
	struct rg_pg_rcol *cols;
	uint32_t cap;
	uint16_t ncols;
	uint8_t state;
};

struct hent {
	void *next; /* chain in a struct rg_pg_htab */
	uint32_t hash;
	uint8_t name_len;
	char name[NAME_MAX_KEY + 1];
};

struct rg_pg_stmt_obj {
	struct hent h;
	uint64_t sid; /* unique per session: a portal knows whether its statement was replaced */
	uint64_t gen; /* bundle generation that last judged sql */
	char *sql;    /* named only */
	uint32_t sql_len;
	bool live;    /* the unnamed one: exists on the target */
	struct desc d;
	struct rg_pg_fxl *fx; /* what executing it does to prepared statements (SQL PREPARE...) */
};

/* One effect of a text on the prepared statements (see rg_pg_stmt_fe_sql). */
struct fxe {
	uint64_t gen;	  /* PREPARE: the generation that last judged its text */
	uint32_t sql_off; /* PREPARE: its text, in the list's text bytes */
	uint32_t sql_len;
	uint8_t kind;	  /* enum rg_pg_sqlfx_kind */
	uint8_t name_len;
	char name[NAME_MAX_KEY + 1];
};

/* The effects of one Query or Parse text, shared by reference: a pending Query, or a
 * statement and the portals bound from it. Rare (only texts that PREPARE, DEALLOCATE or
 * DISCARD ALL), so it is allocated per text; its text bytes count against max_sql_bytes. */
struct rg_pg_fxl {
	struct rg_pg_fxl *next, *prev; /* t->fx_live */
	uint32_t refs, n, bytes;
	struct fxe e[]; /* then the PREPAREs' text bytes */
};

struct rg_pg_portal_obj {
	struct hent h;
	struct desc d;	    /* from Describe 'P', or copied from the statement */
	bool live;	    /* the unnamed one: exists on the target */
	bool from_bind;	    /* created by Bind: formats below; else adopted by Describe 'P' */
	uint8_t stmt_len;   /* its statement, to pick up a description that came later */
	char stmt[NAME_MAX_KEY + 1];
	uint64_t stmt_sid;  /* 0: the statement did not exist in the model at Bind */
	struct rg_pg_fxl *fx; /* its statement's effects, as bound */
	uint16_t nfmt;	    /* Bind result-format codes: 0 all text, 1 all, n per column */
	uint32_t fmt_cap;
	int16_t *fmt;
};

static const struct rg_pg_stmt_limits defaults = {
	.max_statements = 1024,
	.max_sql_bytes = 4u << 20,
	.max_portals = 256,
	.max_desc_cols = 65536,
	.max_pending = 65536,
	.max_pending_bytes = 8u << 20,
	.pause_pending = 1024,
	.pause_bytes = 1u << 20,
};

const struct rg_pg_stmt_limits *rg_pg_stmt_limits_default(void)
{
	return &defaults;
}

const char *rg_pg_stmt_strerror(int err)
{
	switch (err) {
	case RG_PG_STMT_OK:
		return "ok";
	case RG_PG_STMT_E_LIMIT:
		return "too many prepared statements, portals or requests in flight";
	case RG_PG_STMT_E_NOMEM:
		return "out of memory";
	case RG_PG_STMT_E_PROTO:
		return "backend message without a matching request";
	case RG_PG_STMT_E_MSG:
		return "malformed message";
	default:
		return "?";
	}
}

/* ---- names and tables ---------------------------------------------------------------- */

static uint8_t key_len(size_t len)
{
	return (uint8_t)(len > NAME_MAX_KEY ? NAME_MAX_KEY : len);
}

static uint32_t name_hash(const char *p, uint8_t n)
{
	uint32_t h = 2166136261u;
	for (uint8_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

static void hent_set(struct hent *e, const char *name, size_t len)
{
	e->name_len = key_len(len);
	memcpy(e->name, name, e->name_len);
	e->name[e->name_len] = '\0';
	e->hash = name_hash(e->name, e->name_len);
}

static void *htab_find(const struct rg_pg_htab *h, const char *name, uint8_t len)
{
	if (!h->n)
		return NULL;
	uint32_t hash = name_hash(name, len);
	for (struct hent *e = h->b[hash & (h->nb - 1)]; e; e = e->next)
		if (e->hash == hash && e->name_len == len && !memcmp(e->name, name, len))
			return e;
	return NULL;
}

static int htab_add(struct rg_pg_htab *h, struct hent *e)
{
	if (h->n >= h->nb) {
		uint32_t nb = h->nb ? h->nb * 2 : 8;
		void **b = calloc(nb, sizeof(*b));
		if (!b)
			return RG_PG_STMT_E_NOMEM;
		for (uint32_t i = 0; i < h->nb; i++) {
			struct hent *x = h->b[i], *next;
			for (; x; x = next) {
				next = x->next;
				x->next = b[x->hash & (nb - 1)];
				b[x->hash & (nb - 1)] = x;
			}
		}
		free(h->b);
		h->b = b;
		h->nb = nb;
	}
	e->next = h->b[e->hash & (h->nb - 1)];
	h->b[e->hash & (h->nb - 1)] = e;
	h->n++;
	return 0;
}

static void htab_del(struct rg_pg_htab *h, struct hent *e)
{
	void **pp = &h->b[e->hash & (h->nb - 1)];
	while (*pp && *pp != e)
		pp = &((struct hent *)*pp)->next;
	if (*pp) {
		*pp = e->next;
		h->n--;
	}
}

/* ---- descriptions -------------------------------------------------------------------- */

static void desc_clear(struct rg_pg_stmt *t, struct desc *d)
{
	if (d->state == D_ROWS)
		t->desc_cols -= d->ncols;
	d->state = D_UNKNOWN;
	d->ncols = 0;
}

static void desc_free(struct rg_pg_stmt *t, struct desc *d)
{
	desc_clear(t, d);
	free(d->cols);
	d->cols = NULL;
	d->cap = 0;
}

/* Room for n columns in d, counted against max_desc_cols; d becomes D_ROWS. */
static int desc_reserve(struct rg_pg_stmt *t, struct desc *d, uint16_t n)
{
	desc_clear(t, d);
	if (t->desc_cols + (uint32_t)n > t->lim->max_desc_cols)
		return RG_PG_STMT_E_LIMIT;
	if (n > d->cap) {
		struct rg_pg_rcol *c = realloc(d->cols, n * sizeof(*c));
		if (!c)
			return RG_PG_STMT_E_NOMEM;
		d->cols = c;
		d->cap = n;
	}
	t->desc_cols += n;
	d->ncols = n;
	d->state = D_ROWS;
	return 0;
}

static int desc_from_rowdesc(struct rg_pg_stmt *t, struct desc *d, const struct rg_pg_msg *m)
{
	struct rg_pg_iter it;
	struct rg_pg_column c;
	uint16_t n;
	int r;

	if (rg_pg_rowdesc_begin(m, &it, &n))
		return RG_PG_STMT_E_MSG;
	if ((r = desc_reserve(t, d, n)))
		return r;
	for (uint16_t i = 0; i < n; i++) {
		if (rg_pg_rowdesc_next(&it, &c) != 1) {
			desc_clear(t, d);
			return RG_PG_STMT_E_MSG;
		}
		d->cols[i] = (struct rg_pg_rcol){c.type_oid, c.table_oid, c.attnum, c.format};
	}
	if (rg_pg_rowdesc_next(&it, &c) != 0) {
		desc_clear(t, d);
		return RG_PG_STMT_E_MSG;
	}
	return 0;
}

static int desc_copy(struct rg_pg_stmt *t, struct desc *to, const struct desc *from)
{
	int r;

	if (from->state != D_ROWS) {
		desc_clear(t, to);
		to->state = from->state;
		return 0;
	}
	if ((r = desc_reserve(t, to, from->ncols)))
		return r;
	memcpy(to->cols, from->cols, from->ncols * sizeof(*to->cols));
	return 0;
}

/* ---- effect lists ---------------------------------------------------------------------- */

static void floor_lower(struct rg_pg_stmt *t, uint64_t gen)
{
	if (gen < t->gen_floor)
		t->gen_floor = gen;
}

static const char *fx_sql(const struct rg_pg_fxl *l, const struct fxe *e)
{
	return (const char *)&l->e[l->n] + e->sql_off;
}

static struct rg_pg_fxl *fxl_ref(struct rg_pg_fxl *l)
{
	if (l)
		l->refs++;
	return l;
}

static void fxl_put(struct rg_pg_stmt *t, struct rg_pg_fxl *l)
{
	if (!l || --l->refs)
		return;
	if (l->prev)
		l->prev->next = l->next;
	else
		t->fx_live = l->next;
	if (l->next)
		l->next->prev = l->prev;
	t->sql_bytes -= l->bytes;
	t->floor_exact = false;
	free(l);
}

static int fxl_new(struct rg_pg_stmt *t, const struct rg_pg_sqlfx *fx, uint32_t nfx, uint64_t gen,
		   struct rg_pg_fxl **out)
{
	struct rg_pg_fxl *l;
	uint64_t bytes = 0;
	char *txt;

	*out = NULL;
	if (!nfx)
		return 0;
	for (uint32_t i = 0; i < nfx; i++)
		if (fx[i].kind == RG_PG_FX_PREPARE)
			bytes += fx[i].sql_len;
	if (nfx > UINT16_MAX || t->sql_bytes + bytes > t->lim->max_sql_bytes)
		return RG_PG_STMT_E_LIMIT;
	if (!(l = malloc(sizeof(*l) + nfx * sizeof(l->e[0]) + bytes)))
		return RG_PG_STMT_E_NOMEM;
	*l = (struct rg_pg_fxl){.refs = 1, .n = nfx, .bytes = (uint32_t)bytes};
	txt = (char *)&l->e[nfx];
	bytes = 0;
	for (uint32_t i = 0; i < nfx; i++) {
		struct fxe *e = &l->e[i];
		*e = (struct fxe){.kind = fx[i].kind, .gen = gen};
		if (fx[i].name) {
			e->name_len = key_len(fx[i].name_len);
			memcpy(e->name, fx[i].name, e->name_len);
		}
		if (fx[i].kind == RG_PG_FX_PREPARE) {
			e->sql_off = (uint32_t)bytes;
			e->sql_len = fx[i].sql_len;
			memcpy(txt + bytes, fx[i].sql, fx[i].sql_len);
			bytes += fx[i].sql_len;
		}
	}
	l->next = t->fx_live;
	if (l->next)
		l->next->prev = l;
	t->fx_live = l;
	t->sql_bytes += l->bytes;
	floor_lower(t, gen);
	*out = l;
	return 0;
}

/* ---- statements and portals ------------------------------------------------------------ */

static void stmt_obj_free(struct rg_pg_stmt *t, struct rg_pg_stmt_obj *s)
{
	if (!s)
		return;
	fxl_put(t, s->fx);
	t->floor_exact = false;
	desc_free(t, &s->d);
	if (s->sql) {
		t->sql_bytes -= s->sql_len;
		t->nstmts--;
	}
	free(s->sql);
	free(s);
}

static void portal_free(struct rg_pg_stmt *t, struct rg_pg_portal_obj *p)
{
	if (!p)
		return;
	desc_free(t, &p->d);
	fxl_put(t, p->fx);
	free(p->fmt);
	free(p);
}

static void portals_drop_all(struct rg_pg_stmt *t)
{
	for (uint32_t i = 0; i < t->portals.nb && t->portals.n; i++) {
		struct hent *e = t->portals.b[i], *next;
		for (; e; e = next) {
			next = e->next;
			portal_free(t, (struct rg_pg_portal_obj *)e);
			t->portals.n--;
		}
		t->portals.b[i] = NULL;
	}
	if (t->unp) {
		t->unp->live = false;
		desc_clear(t, &t->unp->d);
		fxl_put(t, t->unp->fx);
		t->unp->fx = NULL;
	}
}

static void unnamed_stmt_drop(struct rg_pg_stmt *t)
{
	if (t->uns) {
		t->uns->live = false;
		desc_clear(t, &t->uns->d);
		fxl_put(t, t->uns->fx);
		t->uns->fx = NULL;
	}
}

static void unnamed_portal_drop(struct rg_pg_stmt *t)
{
	if (t->unp) {
		t->unp->live = false;
		desc_clear(t, &t->unp->d);
		fxl_put(t, t->unp->fx);
		t->unp->fx = NULL;
	}
}

static struct rg_pg_stmt_obj *stmt_get(const struct rg_pg_stmt *t, const char *name, uint8_t len)
{
	if (!len)
		return t->uns && t->uns->live ? t->uns : NULL;
	return htab_find(&t->stmts, name, len);
}

static struct rg_pg_portal_obj *portal_get(const struct rg_pg_stmt *t, const char *name,
					   uint8_t len)
{
	if (!len)
		return t->unp && t->unp->live ? t->unp : NULL;
	return htab_find(&t->portals, name, len);
}

static void portal_del(struct rg_pg_stmt *t, const char *name, uint8_t len)
{
	struct rg_pg_portal_obj *p;

	if (!len) {
		unnamed_portal_drop(t);
		return;
	}
	if ((p = htab_find(&t->portals, name, len))) {
		htab_del(&t->portals, &p->h);
		portal_free(t, p);
	}
}

/* A portal to (re)fill: the unnamed one (kept for the session's life), or a named one,
 * created if the model has none (Bind, or Describe of a cursor declared in SQL). */
static int portal_make(struct rg_pg_stmt *t, const char *name, uint8_t len,
		       struct rg_pg_portal_obj **out)
{
	struct rg_pg_portal_obj *p;

	if (!len) {
		if (!t->unp && !(t->unp = calloc(1, sizeof(*t->unp))))
			return RG_PG_STMT_E_NOMEM;
		p = t->unp;
	} else if (!(p = htab_find(&t->portals, name, len))) {
		if (t->portals.n >= t->lim->max_portals)
			return RG_PG_STMT_E_LIMIT;
		if (!(p = calloc(1, sizeof(*p))))
			return RG_PG_STMT_E_NOMEM;
		hent_set(&p->h, name, len);
		if (htab_add(&t->portals, &p->h)) {
			free(p);
			return RG_PG_STMT_E_NOMEM;
		}
	}
	p->live = true;
	p->from_bind = false;
	p->stmt_len = 0;
	p->stmt_sid = 0;
	p->nfmt = 0;
	fxl_put(t, p->fx);
	p->fx = NULL;
	desc_clear(t, &p->d);
	*out = p;
	return 0;
}

/* ---- the request FIFO and its argument bytes ------------------------------------------ */

static uint32_t pend_argsize(const struct rg_pg_pend *e)
{
	return (uint32_t)e->name_len + e->name2_len + 2u * e->nfmt;
}

static const uint8_t *arg_at(const struct rg_pg_stmt *t, uint64_t off)
{
	static const uint8_t none[1];
	return t->arg ? t->arg + (off - t->arg_base) : none; /* only empty names so far */
}

static int arg_push(struct rg_pg_stmt *t, const void *p, size_t n)
{
	if (!n)
		return 0;
	if (t->arg_tail - t->arg_head + n > t->lim->max_pending_bytes)
		return RG_PG_STMT_E_LIMIT;
	if (t->arg_tail - t->arg_base + n > t->arg_cap) {
		/* move the live bytes to the front, then grow if that is not enough */
		size_t live = (size_t)(t->arg_tail - t->arg_head);
		if (live && t->arg_head != t->arg_base)
			memmove(t->arg, arg_at(t, t->arg_head), live);
		t->arg_base = t->arg_head;
		if (live + n > t->arg_cap) {
			size_t cap = t->arg_cap ? t->arg_cap : 256;
			while (cap < live + n)
				cap *= 2;
			uint8_t *a = realloc(t->arg, cap);
			if (!a)
				return RG_PG_STMT_E_NOMEM;
			t->arg = a;
			t->arg_cap = (uint32_t)cap;
		}
	}
	memcpy(t->arg + (t->arg_tail - t->arg_base), p, n);
	t->arg_tail += n;
	return 0;
}

static struct rg_pg_pend *pend_at(const struct rg_pg_stmt *t, uint32_t i)
{
	return &t->q[(t->qhead + i) % t->qcap];
}

static struct rg_pg_pend *head(const struct rg_pg_stmt *t)
{
	return t->qn ? pend_at(t, 0) : NULL;
}

/* Append a request; its argument bytes must be pushed right after, in order. */
static int pend_push(struct rg_pg_stmt *t, uint8_t kind, struct rg_pg_pend **out)
{
	if (t->qn >= t->lim->max_pending)
		return RG_PG_STMT_E_LIMIT;
	if (t->qn == t->qcap) {
		uint32_t cap = t->qcap * 2;
		struct rg_pg_pend *q = malloc(cap * sizeof(*q));
		if (!q)
			return RG_PG_STMT_E_NOMEM;
		for (uint32_t i = 0; i < t->qn; i++)
			q[i] = *pend_at(t, i);
		if (t->q != t->inl)
			free(t->q);
		t->q = q;
		t->qcap = cap;
		t->qhead = 0;
	}
	struct rg_pg_pend *e = pend_at(t, t->qn);
	*e = (struct rg_pg_pend){.arg = t->arg_tail, .kind = kind};
	t->qn++;
	*out = e;
	return 0;
}

/* Remove the head; skipped: the target never processed it (no side effect applies). */
static void pend_pop(struct rg_pg_stmt *t)
{
	struct rg_pg_pend *e = head(t);

	if (e->kind == P_PARSE && e->st) {
		stmt_obj_free(t, e->st); /* not installed: refused or skipped */
		t->pend_named--;
	} else if (e->kind == P_CLOSE_S && e->name_len) {
		t->pend_named--;
	}
	fxl_put(t, e->fx); /* a Query's effects not confirmed, or a Parse refused */
	t->arg_head = e->arg + pend_argsize(e);
	t->qhead = (t->qhead + 1) % t->qcap;
	if (!--t->qn) {
		t->qhead = 0;
		t->arg_base = t->arg_head = t->arg_tail;
	}
}

/* ---- frontend ---------------------------------------------------------------------- */

void rg_pg_stmt_init(struct rg_pg_stmt *t, const struct rg_pg_stmt_limits *lim)
{
	memset(t, 0, sizeof(*t));
	t->lim = lim ? lim : &defaults;
	t->q = t->inl;
	t->qcap = RG_PG_PEND_INLINE;
	t->tx = 'I';
	t->next_sid = 1;
	t->gen_floor = UINT64_MAX;
	t->floor_exact = true;
}

void rg_pg_stmt_free(struct rg_pg_stmt *t)
{
	while (t->qn)
		pend_pop(t);
	if (t->q != t->inl)
		free(t->q);
	portals_drop_all(t);
	free(t->portals.b);
	for (uint32_t i = 0; i < t->stmts.nb; i++) {
		struct hent *e = t->stmts.b[i], *next;
		for (; e; e = next) {
			next = e->next;
			stmt_obj_free(t, (struct rg_pg_stmt_obj *)e);
		}
	}
	free(t->stmts.b);
	portal_free(t, t->unp);
	stmt_obj_free(t, t->uns);
	free(t->arg);
	free(t->shape_cols);
	memset(t, 0, sizeof(*t));
	t->q = t->inl;
	t->qcap = RG_PG_PEND_INLINE;
}

void rg_pg_stmt_trim(struct rg_pg_stmt *t)
{
	if (t->qn)
		return;
	if (t->q != t->inl) {
		free(t->q);
		t->q = t->inl;
		t->qcap = RG_PG_PEND_INLINE;
		t->qhead = 0;
	}
	if (t->arg_cap > 4096) {
		free(t->arg);
		t->arg = NULL;
		t->arg_cap = 0;
	}
	if (!t->shape_valid && t->shape_cap > 64) {
		free(t->shape_cols);
		t->shape_cols = NULL;
		t->shape_cap = 0;
	}
}

static int push_named(struct rg_pg_stmt *t, uint8_t kind, const char *name, size_t len,
		      struct rg_pg_pend **out)
{
	struct rg_pg_pend *e;
	int r;

	if ((r = pend_push(t, kind, &e)))
		return r;
	e->name_len = key_len(len);
	if ((r = arg_push(t, name, e->name_len))) {
		e->name_len = 0;
		t->qn--; /* it was the tail: undo */
		return r;
	}
	*out = e;
	return 0;
}

static int fe_parse(struct rg_pg_stmt *t, const struct rg_pg_msg *m, uint64_t gen,
		    struct rg_pg_fxl *fx)
{
	struct rg_pg_parse pa;
	struct rg_pg_stmt_obj *s = NULL;
	struct rg_pg_pend *e;
	int r;

	if (rg_pg_read_parse(m, &pa))
		return RG_PG_STMT_E_MSG;
	if (pa.stmt_len) {
		if (t->nstmts >= t->lim->max_statements ||
		    (uint64_t)t->sql_bytes + pa.query_len > t->lim->max_sql_bytes)
			return RG_PG_STMT_E_LIMIT;
		if (!(s = calloc(1, sizeof(*s))) || !(s->sql = malloc(pa.query_len + 1))) {
			free(s);
			return RG_PG_STMT_E_NOMEM;
		}
		hent_set(&s->h, pa.stmt, pa.stmt_len);
		memcpy(s->sql, pa.query, pa.query_len);
		s->sql[pa.query_len] = '\0';
		s->sql_len = pa.query_len;
		s->gen = gen;
		s->sid = t->next_sid++;
		t->nstmts++;
		t->sql_bytes += pa.query_len;
		floor_lower(t, gen);
	}
	if ((r = pend_push(t, P_PARSE, &e))) {
		stmt_obj_free(t, s);
		return r;
	}
	e->fx = fxl_ref(fx);
	if (s) {
		e->st = s; /* its name lives in s: no argument bytes */
		t->pend_named++;
	}
	return 0;
}

static int fe_bind(struct rg_pg_stmt *t, const struct rg_pg_msg *m)
{
	struct rg_pg_bind b;
	struct rg_pg_pend *e;
	uint64_t tail = t->arg_tail;
	int r;

	if (rg_pg_read_bind(m, &b))
		return RG_PG_STMT_E_MSG;
	if ((r = pend_push(t, P_BIND, &e)))
		return r;
	e->name_len = key_len(b.portal_len);
	e->name2_len = key_len(b.stmt_len);
	e->nfmt = b.nresult_formats;
	if ((r = arg_push(t, b.portal, e->name_len)) || (r = arg_push(t, b.stmt, e->name2_len)) ||
	    (r = arg_push(t, b.result_formats, 2u * b.nresult_formats))) {
		t->arg_tail = tail;
		t->qn--;
		return r;
	}
	return 0;
}

int rg_pg_stmt_fe(struct rg_pg_stmt *t, const struct rg_pg_msg *m, uint64_t gen)
{
	return rg_pg_stmt_fe_sql(t, m, gen, NULL, 0);
}

static int fe_msg(struct rg_pg_stmt *t, const struct rg_pg_msg *m, uint64_t gen,
		  struct rg_pg_fxl *fx)
{
	struct rg_pg_target tg;
	struct rg_pg_execute ex;
	struct rg_pg_pend *e;
	int r;

	if (m->type == RG_PG_FE_SYNC) {
		t->skip = false;
		return pend_push(t, P_SYNC, &e);
	}
	/* After an error the target ignores everything until Sync and answers nothing. */
	if (t->skip)
		return 0;
	switch (m->type) {
	case RG_PG_FE_PARSE:
		return fe_parse(t, m, gen, fx);
	case RG_PG_FE_BIND:
		return fe_bind(t, m);
	case RG_PG_FE_DESCRIBE:
		if (rg_pg_read_describe(m, &tg))
			return RG_PG_STMT_E_MSG;
		return push_named(t, tg.kind == 'S' ? P_DESC_S : P_DESC_P, tg.name, tg.name_len,
				  &e);
	case RG_PG_FE_EXECUTE:
		if (rg_pg_read_execute(m, &ex))
			return RG_PG_STMT_E_MSG;
		return push_named(t, P_EXEC, ex.portal, ex.portal_len, &e);
	case RG_PG_FE_CLOSE:
		if (rg_pg_read_close(m, &tg))
			return RG_PG_STMT_E_MSG;
		if ((r = push_named(t, tg.kind == 'S' ? P_CLOSE_S : P_CLOSE_P, tg.name,
				    tg.name_len, &e)))
			return r;
		if (tg.kind == 'S' && e->name_len)
			t->pend_named++;
		return 0;
	case RG_PG_FE_QUERY:
		if ((r = pend_push(t, P_QUERY, &e)))
			return r;
		e->fx = fxl_ref(fx);
		return 0;
	case RG_PG_FE_FUNCTION_CALL:
		return pend_push(t, P_FCALL, &e);
	default:
		/* Flush, CopyData/CopyDone/CopyFail (answered as part of the COPY's statement),
		 * Terminate: no response of their own */
		return 0;
	}
}

int rg_pg_stmt_fe_sql(struct rg_pg_stmt *t, const struct rg_pg_msg *m, uint64_t gen,
		      const struct rg_pg_sqlfx *fx, uint32_t nfx)
{
	struct rg_pg_fxl *l = NULL;
	int r;

	if (nfx && !t->skip && (m->type == RG_PG_FE_QUERY || m->type == RG_PG_FE_PARSE) &&
	    (r = fxl_new(t, fx, nfx, gen, &l)))
		return r;
	r = fe_msg(t, m, gen, l);
	fxl_put(t, l); /* the pending request holds its own reference */
	return r;
}

/* ---- backend ------------------------------------------------------------------------- */

static void parse_complete(struct rg_pg_stmt *t, struct rg_pg_pend *e)
{
	struct rg_pg_stmt_obj *s = e->st, *old;

	if (!s) {
		if (t->uns) {
			desc_clear(t, &t->uns->d);
		} else if (!(t->uns = calloc(1, sizeof(*t->uns)))) {
			return; /* the model forgets the unnamed statement: rows fail closed */
		}
		t->uns->live = true;
		t->uns->sid = t->next_sid++;
		fxl_put(t, t->uns->fx);
		t->uns->fx = e->fx;
		e->fx = NULL;
		return;
	}
	s->fx = e->fx;
	e->fx = NULL;
	/* a statement of that name may linger if SQL DEALLOCATE dropped it on the target */
	if ((old = htab_find(&t->stmts, s->h.name, s->h.name_len))) {
		htab_del(&t->stmts, &old->h);
		stmt_obj_free(t, old);
	}
	if (htab_add(&t->stmts, &s->h))
		return; /* left in e->st: freed by the pop, the model forgets it */
	e->st = NULL;
	t->pend_named--;
}

static int bind_complete(struct rg_pg_stmt *t, const struct rg_pg_pend *e)
{
	const uint8_t *a = arg_at(t, e->arg);
	const char *pname = (const char *)a, *sname = (const char *)a + e->name_len;
	const uint8_t *fm = a + e->name_len + e->name2_len;
	struct rg_pg_portal_obj *p;
	struct rg_pg_stmt_obj *s;
	int r;

	if ((r = portal_make(t, pname, e->name_len, &p)))
		return r;
	p->from_bind = true;
	if (e->nfmt > p->fmt_cap) {
		int16_t *f = realloc(p->fmt, e->nfmt * sizeof(*f));
		if (!f)
			return RG_PG_STMT_E_NOMEM;
		p->fmt = f;
		p->fmt_cap = e->nfmt;
	}
	for (uint16_t i = 0; i < e->nfmt; i++)
		p->fmt[i] = (int16_t)(fm[2 * i] << 8 | fm[2 * i + 1]);
	p->nfmt = e->nfmt;
	p->stmt_len = e->name2_len;
	memcpy(p->stmt, sname, e->name2_len);
	if ((s = stmt_get(t, sname, e->name2_len))) {
		p->stmt_sid = s->sid;
		p->fx = fxl_ref(s->fx);
		if ((r = desc_copy(t, &p->d, &s->d)))
			return r;
	}
	return 0;
}

static void close_complete(struct rg_pg_stmt *t, const struct rg_pg_pend *e)
{
	const char *name = (const char *)arg_at(t, e->arg);
	struct rg_pg_stmt_obj *s;

	if (e->kind == P_CLOSE_P) {
		portal_del(t, name, e->name_len);
	} else if (!e->name_len) {
		unnamed_stmt_drop(t);
	} else if ((s = htab_find(&t->stmts, name, e->name_len))) {
		htab_del(&t->stmts, &s->h);
		stmt_obj_free(t, s);
	}
}

/* RowDescription or NoData (m NULL) answering a Describe. */
static int describe_answer(struct rg_pg_stmt *t, const struct rg_pg_pend *e,
			   const struct rg_pg_msg *m)
{
	const char *name = (const char *)arg_at(t, e->arg);
	struct rg_pg_portal_obj *p;
	struct desc *d;
	int r;

	if (e->kind == P_DESC_S) {
		struct rg_pg_stmt_obj *s = stmt_get(t, name, e->name_len);
		if (!s)
			return 0; /* prepared in SQL (PREPARE): the model does not follow it */
		d = &s->d;
	} else {
		if (!(p = portal_get(t, name, e->name_len)) &&
		    (r = portal_make(t, name, e->name_len, &p)))
			return r; /* a cursor declared in SQL: adopted */
		d = &p->d;
	}
	if (!m) {
		desc_clear(t, d);
		d->state = D_NODATA;
		return 0;
	}
	if ((r = desc_from_rowdesc(t, d, m)))
		return r;
	if (e->kind == P_DESC_S)
		for (uint16_t i = 0; i < d->ncols; i++)
			d->cols[i].format = 0; /* not known before Bind */
	return 0;
}

static int shape_reserve(struct rg_pg_stmt *t, uint16_t n)
{
	if (n > t->shape_cap) {
		struct rg_pg_rcol *c = realloc(t->shape_cols, n * sizeof(*c));
		if (!c)
			return RG_PG_STMT_E_NOMEM;
		t->shape_cols = c;
		t->shape_cap = n;
	}
	t->shape.serial++;
	t->shape.cols = t->shape_cols;
	t->shape.ncols = n;
	t->shape_valid = true;
	return 0;
}

static int shape_from_rowdesc(struct rg_pg_stmt *t, const struct rg_pg_msg *m)
{
	struct rg_pg_iter it;
	struct rg_pg_column c;
	uint16_t n;
	int r;

	t->shape_valid = false;
	if (rg_pg_rowdesc_begin(m, &it, &n))
		return RG_PG_STMT_E_MSG;
	if ((r = shape_reserve(t, n)))
		return r;
	for (uint16_t i = 0; i < n; i++) {
		if (rg_pg_rowdesc_next(&it, &c) != 1)
			goto bad;
		t->shape_cols[i] = (struct rg_pg_rcol){c.type_oid, c.table_oid, c.attnum, c.format};
	}
	if (rg_pg_rowdesc_next(&it, &c) != 0)
		goto bad;
	t->shape.described = true;
	return 0;
bad:
	t->shape_valid = false;
	return RG_PG_STMT_E_MSG;
}

static int16_t bind_format(const struct rg_pg_portal_obj *p, uint16_t i)
{
	if (!p->nfmt)
		return 0;
	if (p->nfmt == 1)
		return p->fmt[0];
	return i < p->nfmt ? p->fmt[i] : -1;
}

/* The first row of an Execute: the shape of its portal, as the target bound it. */
static int shape_from_portal(struct rg_pg_stmt *t, const struct rg_pg_pend *e, uint16_t nrow)
{
	struct rg_pg_portal_obj *p = portal_get(t, (const char *)arg_at(t, e->arg), e->name_len);
	const struct desc *d = NULL;
	int r;

	if (p && p->d.state != D_ROWS && p->from_bind && p->stmt_sid) {
		/* described through its statement after the Bind */
		struct rg_pg_stmt_obj *s = stmt_get(t, p->stmt, p->stmt_len);
		if (s && s->sid == p->stmt_sid && s->d.state == D_ROWS &&
		    (r = desc_copy(t, &p->d, &s->d)))
			return r;
	}
	if (p && p->d.state == D_ROWS)
		d = &p->d;
	if (d && d->ncols != nrow)
		return RG_PG_STMT_E_PROTO;
	if ((r = shape_reserve(t, nrow)))
		return r;
	t->shape.described = d != NULL;
	for (uint16_t i = 0; i < nrow; i++) {
		struct rg_pg_rcol c = d ? d->cols[i] : (struct rg_pg_rcol){0};
		if (!p)
			c.format = -1; /* unknown portal: unknown format */
		else if (p->from_bind)
			c.format = bind_format(p, i);
		else if (!d)
			c.format = -1;
		t->shape_cols[i] = c;
	}
	return 0;
}

static void stmts_drop_all(struct rg_pg_stmt *t)
{
	for (uint32_t i = 0; i < t->stmts.nb && t->stmts.n; i++) {
		struct hent *e = t->stmts.b[i], *next;
		for (; e; e = next) {
			next = e->next;
			stmt_obj_free(t, (struct rg_pg_stmt_obj *)e);
			t->stmts.n--;
		}
		t->stmts.b[i] = NULL;
	}
}

/* The effect a CommandComplete tag confirms, or 0. */
static uint8_t tag_effect(const struct rg_pg_msg *m)
{
	struct rg_pg_command_complete cc;

	if (m->body_len < 7 || (m->body[0] != 'P' && m->body[0] != 'D') ||
	    rg_pg_read_command_complete(m, &cc))
		return 0;
	if (!strcmp(cc.tag, "PREPARE"))
		return RG_PG_FX_PREPARE;
	if (!strcmp(cc.tag, "DEALLOCATE"))
		return RG_PG_FX_DEALLOCATE;
	if (!strcmp(cc.tag, "DEALLOCATE ALL"))
		return RG_PG_FX_DEALLOCATE_ALL;
	if (!strcmp(cc.tag, "DISCARD ALL"))
		return RG_PG_FX_DISCARD_ALL;
	return 0;
}

/* Apply l's first effect of kind k from index *from on (the statement the target just
 * completed); *from moves past it. A tag nothing in the model explains changes nothing:
 * the model may lose what the target has (a PREPARE run by server-side code), never hold
 * what it does not. */
static int fx_apply(struct rg_pg_stmt *t, struct rg_pg_fxl *l, uint16_t *from, uint8_t k)
{
	struct rg_pg_stmt_obj *s, *old;
	const struct fxe *e;
	uint32_t i;

	for (i = *from; l && i < l->n && l->e[i].kind != k; i++)
		;
	if (!l || i >= l->n)
		return 0;
	*from = (uint16_t)(i + 1);
	e = &l->e[i];
	switch (k) {
	case RG_PG_FX_PREPARE:
		if ((old = htab_find(&t->stmts, e->name, e->name_len))) {
			htab_del(&t->stmts, &old->h); /* cannot be: the server refuses the name */
			stmt_obj_free(t, old);
		}
		/* the list's own copy of the text is not counted twice against the bound (it
		 * goes with its Query; sql_bytes may pass the bound by it until then) */
		if (t->nstmts >= t->lim->max_statements ||
		    (uint64_t)t->sql_bytes + e->sql_len >
			(uint64_t)t->lim->max_sql_bytes + l->bytes)
			return RG_PG_STMT_E_LIMIT;
		if (!(s = calloc(1, sizeof(*s))) || !(s->sql = malloc(e->sql_len + 1))) {
			free(s);
			return RG_PG_STMT_E_NOMEM;
		}
		hent_set(&s->h, e->name, e->name_len);
		memcpy(s->sql, fx_sql(l, e), e->sql_len);
		s->sql[e->sql_len] = '\0';
		s->sql_len = e->sql_len;
		s->gen = e->gen;
		s->sid = t->next_sid++;
		t->nstmts++;
		t->sql_bytes += e->sql_len;
		floor_lower(t, s->gen);
		if (htab_add(&t->stmts, &s->h)) {
			stmt_obj_free(t, s);
			return RG_PG_STMT_E_NOMEM;
		}
		return 0;
	case RG_PG_FX_DEALLOCATE:
		if ((s = htab_find(&t->stmts, e->name, e->name_len))) {
			htab_del(&t->stmts, &s->h);
			stmt_obj_free(t, s);
		}
		return 0;
	case RG_PG_FX_DISCARD_ALL:
		/* DISCARD ALL is also CLOSE ALL: portals go (RFQ 'I' follows anyway) */
		portals_drop_all(t);
		/* fall through */
	default:
		stmts_drop_all(t); /* the unnamed statement is not among them (postgres.c) */
		return 0;
	}
}

/* A CommandComplete answering the head request: the effect its tag confirms, if any. */
static int command_effect(struct rg_pg_stmt *t, struct rg_pg_pend *e, const struct rg_pg_msg *m)
{
	uint8_t k = tag_effect(m);
	struct rg_pg_portal_obj *p;
	uint16_t from = 0;

	if (!k)
		return 0;
	if (e->kind == P_QUERY)
		return fx_apply(t, e->fx, &e->fx_next, k);
	p = portal_get(t, (const char *)arg_at(t, e->arg), e->name_len);
	return p ? fx_apply(t, p->fx, &from, k) : 0;
}

/* An ErrorResponse for an extended-protocol request: the target skips to Sync. */
static void extended_error(struct rg_pg_stmt *t, struct rg_pg_pend *e)
{
	if (e->kind == P_PARSE && !e->st)
		unnamed_stmt_drop(t); /* dropped before parsing, failure or not */
	else if (e->kind == P_BIND && !e->name_len)
		unnamed_portal_drop(t); /* may have been replaced before the failure */
	pend_pop(t);
	while (t->qn && head(t)->kind != P_SYNC)
		pend_pop(t);
	if (!t->qn)
		t->skip = true;
}

static uint16_t row_count(const struct rg_pg_msg *m)
{
	return m->body_len >= 2 ? (uint16_t)(m->body[0] << 8 | m->body[1]) : 0;
}

const struct rg_pg_shape *rg_pg_stmt_rows(const struct rg_pg_stmt *t)
{
	const struct rg_pg_pend *e = head(t);

	if (!e || !t->shape_valid)
		return NULL;
	if (e->kind == P_QUERY || (e->kind == P_EXEC && (e->flags & F_STARTED)))
		return &t->shape;
	return NULL;
}

int rg_pg_stmt_be(struct rg_pg_stmt *t, const struct rg_pg_msg *m,
		  const struct rg_pg_shape **shape)
{
	struct rg_pg_pend *e = head(t);
	uint8_t k = e ? e->kind : 0, st;
	int r;

	*shape = NULL;
	switch (m->type) {
	case RG_PG_BE_NOTICE:
	case RG_PG_BE_NOTIFICATION:
	case RG_PG_BE_PARAM_STATUS:
		return 0; /* asynchronous */
	case RG_PG_BE_PARSE_COMPLETE:
		if (k != P_PARSE)
			return RG_PG_STMT_E_PROTO;
		parse_complete(t, e);
		pend_pop(t);
		return 0;
	case RG_PG_BE_BIND_COMPLETE:
		if (k != P_BIND)
			return RG_PG_STMT_E_PROTO;
		r = bind_complete(t, e);
		pend_pop(t);
		return r;
	case RG_PG_BE_CLOSE_COMPLETE:
		if (k != P_CLOSE_S && k != P_CLOSE_P)
			return RG_PG_STMT_E_PROTO;
		close_complete(t, e);
		pend_pop(t);
		return 0;
	case RG_PG_BE_PARAM_DESC:
		if (k != P_DESC_S || (e->flags & F_GOT_T))
			return RG_PG_STMT_E_PROTO;
		e->flags |= F_GOT_T;
		return 0;
	case RG_PG_BE_ROW_DESC:
	case RG_PG_BE_NO_DATA:
		if ((k == P_DESC_S && (e->flags & F_GOT_T)) || k == P_DESC_P) {
			r = describe_answer(t, e, m->type == RG_PG_BE_ROW_DESC ? m : NULL);
			pend_pop(t);
			return r;
		}
		if (k == P_QUERY && m->type == RG_PG_BE_ROW_DESC)
			return shape_from_rowdesc(t, m);
		return RG_PG_STMT_E_PROTO;
	case RG_PG_BE_DATA_ROW:
		if (k == P_QUERY) {
			if (!t->shape_valid || row_count(m) != t->shape.ncols)
				return RG_PG_STMT_E_PROTO;
		} else if (k == P_EXEC) {
			if (!(e->flags & F_STARTED)) {
				if ((r = shape_from_portal(t, e, row_count(m))))
					return r;
				e->flags |= F_STARTED;
			} else if (row_count(m) != t->shape.ncols) {
				return RG_PG_STMT_E_PROTO;
			}
		} else {
			return RG_PG_STMT_E_PROTO;
		}
		*shape = &t->shape;
		return 0;
	case RG_PG_BE_COMMAND_COMPLETE:
	case RG_PG_BE_EMPTY_QUERY:
	case RG_PG_BE_PORTAL_SUSPENDED:
		t->shape_valid = false;
		t->copy = RG_PG_COPY_NONE;
		r = 0;
		if (m->type == RG_PG_BE_COMMAND_COMPLETE && (k == P_QUERY || k == P_EXEC) &&
		    t->fx_live)
			r = command_effect(t, e, m);
		if (k == P_EXEC) {
			pend_pop(t);
			return r;
		}
		if (r)
			return r;
		return k == P_QUERY && m->type != RG_PG_BE_PORTAL_SUSPENDED ? 0
									   : RG_PG_STMT_E_PROTO;
	case RG_PG_BE_COPY_IN:
	case RG_PG_BE_COPY_OUT:
	case RG_PG_BE_COPY_BOTH: {
		struct rg_pg_copy_response cr;
		if (k != P_QUERY && k != P_EXEC)
			return RG_PG_STMT_E_PROTO;
		if (rg_pg_read_copy_response(m, &cr))
			return RG_PG_STMT_E_MSG;
		t->copy = m->type == RG_PG_BE_COPY_IN ? RG_PG_COPY_IN : RG_PG_COPY_OUT;
		t->copy_format = cr.format;
		return 0;
	}
	case RG_PG_BE_COPY_DATA:
	case RG_PG_BE_COPY_DONE:
		return t->copy == RG_PG_COPY_OUT ? 0 : RG_PG_STMT_E_PROTO;
	case RG_PG_BE_FUNCTION_RESULT:
		return k == P_FCALL ? 0 : RG_PG_STMT_E_PROTO;
	case RG_PG_BE_ERROR:
		t->shape_valid = false;
		t->copy = RG_PG_COPY_NONE;
		if (k && k != P_QUERY && k != P_FCALL && k != P_SYNC)
			extended_error(t, e);
		return 0; /* with nothing pending: a FATAL the session relays */
	case RG_PG_BE_READY:
		if (k != P_SYNC && k != P_QUERY && k != P_FCALL)
			return RG_PG_STMT_E_PROTO;
		if (rg_pg_read_ready(m, &st))
			return RG_PG_STMT_E_MSG;
		if (k == P_QUERY) {
			unnamed_stmt_drop(t);
			unnamed_portal_drop(t);
		}
		pend_pop(t);
		t->tx = st;
		t->shape_valid = false;
		t->copy = RG_PG_COPY_NONE;
		if (st == 'I')
			portals_drop_all(t);
		return 0;
	default:
		return 0;
	}
}

/* ---- queries -------------------------------------------------------------------------- */

bool rg_pg_stmt_pause(const struct rg_pg_stmt *t)
{
	return t->qn >= t->lim->pause_pending ||
	       t->arg_tail - t->arg_head >= t->lim->pause_bytes;
}

uint32_t rg_pg_stmt_pending(const struct rg_pg_stmt *t)
{
	return t->qn;
}

enum rg_pg_copy_state rg_pg_stmt_copy(const struct rg_pg_stmt *t, int *format)
{
	if (format)
		*format = t->copy_format;
	return (enum rg_pg_copy_state)t->copy;
}

uint8_t rg_pg_stmt_tx(const struct rg_pg_stmt *t)
{
	return t->tx;
}

/*
 * The newest pending Parse or Close of that name decides, else the installed statement.
 * A pending one in the segment still open (no Sync after it yet) is certain enough: if it
 * fails, the target skips the rest of the segment, the Bind being judged included. One
 * behind a Sync is not: it may fail (the name exists, an earlier message failed) and the
 * target then binds what it had before, so *unsettled is set.
 */
static bool fxl_names(const struct rg_pg_fxl *l, const char *name, uint8_t n)
{
	for (uint32_t i = 0; l && i < l->n; i++)
		if (l->e[i].kind == RG_PG_FX_DEALLOCATE_ALL ||
		    l->e[i].kind == RG_PG_FX_DISCARD_ALL ||
		    (l->e[i].name_len == n && !memcmp(l->e[i].name, name, n)))
			return true;
	return false;
}

/* A pending Query or Execute that may PREPARE, DEALLOCATE or DISCARD that name (an Execute:
 * if any effect list kept names it, whatever portal it runs). */
static bool pend_may_touch(const struct rg_pg_stmt *t, const struct rg_pg_pend *e, const char *name,
			   uint8_t n)
{
	if (e->kind == P_QUERY)
		return fxl_names(e->fx, name, n);
	if (e->kind != P_EXEC)
		return false;
	for (const struct rg_pg_fxl *l = t->fx_live; l; l = l->next)
		if (fxl_names(l, name, n))
			return true;
	return false;
}

static struct rg_pg_stmt_obj *lookup(const struct rg_pg_stmt *t, const char *name, size_t len,
				     bool *unsettled)
{
	uint8_t n = key_len(len);
	bool synced = false;

	*unsettled = false;
	if (!n)
		return NULL;
	for (uint32_t i = t->qn; (t->pend_named || t->fx_live) && i-- > 0;) {
		const struct rg_pg_pend *e = pend_at(t, i);
		if (e->kind == P_SYNC) {
			synced = true;
		} else if (t->fx_live && pend_may_touch(t, e, name, n)) {
			/* SQL-level effects apply only as the target confirms them */
			*unsettled = true;
			return NULL;
		} else if (e->kind == P_PARSE && e->st && e->st->h.name_len == n &&
			   !memcmp(e->st->h.name, name, n)) {
			*unsettled = synced;
			return e->st;
		} else if (e->kind == P_CLOSE_S && e->name_len == n &&
			   !memcmp(arg_at(t, e->arg), name, n)) {
			*unsettled = synced;
			return NULL;
		}
	}
	return htab_find(&t->stmts, name, n);
}

int rg_pg_stmt_lookup(const struct rg_pg_stmt *t, const char *name, size_t len, const char **sql,
		      uint32_t *sql_len, uint64_t *gen)
{
	bool unsettled;
	const struct rg_pg_stmt_obj *s = lookup(t, name, len, &unsettled);

	if (unsettled)
		return RG_PG_STMT_UNSETTLED;
	if (!s)
		return 0;
	if (sql)
		*sql = s->sql;
	if (sql_len)
		*sql_len = s->sql_len;
	if (gen)
		*gen = s->gen;
	return 1;
}

int rg_pg_stmt_judged(struct rg_pg_stmt *t, const char *name, size_t len, uint64_t gen)
{
	bool unsettled;
	struct rg_pg_stmt_obj *s = lookup(t, name, len, &unsettled);

	if (unsettled)
		return RG_PG_STMT_UNSETTLED;
	if (!s)
		return 0;
	s->gen = gen;
	t->floor_exact = false;
	return 1;
}

/* ---- SQL-level prepared statements ------------------------------------------------------ */

bool rg_pg_stmt_room(const struct rg_pg_stmt *t, uint32_t nprep, uint64_t bytes)
{
	return (uint64_t)t->nstmts + nprep <= t->lim->max_statements &&
	       t->sql_bytes + bytes <= t->lim->max_sql_bytes;
}

bool rg_pg_stmt_stale(struct rg_pg_stmt *t, uint64_t cur)
{
	uint64_t f = UINT64_MAX;

	if (t->gen_floor >= cur || t->floor_exact)
		return t->gen_floor < cur;
	/* a bound below cur: find the real minimum (once per change, bounded by the limits) */
	for (uint32_t i = 0; i < t->stmts.nb; i++)
		for (struct hent *e = t->stmts.b[i]; e; e = e->next)
			if (((struct rg_pg_stmt_obj *)e)->gen < f)
				f = ((struct rg_pg_stmt_obj *)e)->gen;
	for (uint32_t i = 0; i < t->qn && t->pend_named; i++) {
		const struct rg_pg_pend *e = pend_at(t, i);
		if (e->kind == P_PARSE && e->st && e->st->gen < f)
			f = e->st->gen;
	}
	for (const struct rg_pg_fxl *l = t->fx_live; l; l = l->next)
		for (uint32_t i = 0; i < l->n; i++)
			if (l->e[i].kind == RG_PG_FX_PREPARE && l->e[i].gen < f)
				f = l->e[i].gen;
	t->gen_floor = f;
	t->floor_exact = true;
	return f < cur;
}

bool rg_pg_stmt_rejudge(struct rg_pg_stmt *t, const char *name, size_t len, uint64_t cur,
			rg_pg_stmt_judge_fn fn, void *arg)
{
	uint8_t n = key_len(len);
	struct rg_pg_stmt_obj *s;

	if (!n || t->gen_floor >= cur)
		return true;
	if ((s = htab_find(&t->stmts, name, n)) && s->gen < cur) {
		if (!fn(arg, s->sql, s->sql_len))
			return false;
		s->gen = cur;
		t->floor_exact = false;
	}
	for (uint32_t i = 0; i < t->qn && t->pend_named; i++) {
		struct rg_pg_pend *e = pend_at(t, i);
		if (e->kind != P_PARSE || !e->st || e->st->gen >= cur || e->st->h.name_len != n ||
		    memcmp(e->st->h.name, name, n))
			continue;
		if (!fn(arg, e->st->sql, e->st->sql_len))
			return false;
		e->st->gen = cur;
		t->floor_exact = false;
	}
	for (struct rg_pg_fxl *l = t->fx_live; l; l = l->next)
		for (uint32_t i = 0; i < l->n; i++) {
			struct fxe *e = &l->e[i];
			if (e->kind != RG_PG_FX_PREPARE || e->gen >= cur || e->name_len != n ||
			    memcmp(e->name, name, n))
				continue;
			if (!fn(arg, fx_sql(l, e), e->sql_len))
				return false;
			e->gen = cur;
			t->floor_exact = false;
		}
	return true;
}
