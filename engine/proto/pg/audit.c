/*
 * audit.c: what a PostgreSQL session leaves in the audit trail (docs/audit.md).
 *
 * Workers produce, the trail's writer formats. A worker builds a compact record (a type and
 * key/value items: integers, strings, ready-made JSON) in its scratch buffer and copies it
 * into its own journal (engine/evidence): no JSON, no lock, no system call per statement.
 * The writer thread turns each record into one JSON object: statement texts have their
 * literals replaced by $n there (PostgreSQL's scanner, rg_sql_normalize) unless the config
 * keeps literals, and get the statement's fingerprint (the same as approvals', cached by the
 * normalized text), so literals reach neither the trail nor any disk (journals are in a
 * tmpfs).
 *
 * A statement is two records: `stmt` when it goes to the target (or is denied, or held), with
 * who, where, what, the verdict and its rule; `stmt_end` when its result is complete, with
 * rows, bytes returned to the agent, masked rows, the server's time and its error. Each
 * session numbers its statements (n) and keeps the ones in flight in order with the sync
 * point whose ReadyForQuery ends them, so pipelines attribute exactly: a CommandComplete,
 * EmptyQueryResponse, PortalSuspended or ErrorResponse ends the oldest Execute of the
 * current sync point; a simple Query or FunctionCall ends at its ReadyForQuery, summing what
 * came before; Executes an error made the server skip end there as skipped.
 */
#include <xxhash.h>

#include "sess-int.h"

#include "evidence.h"

/* ---- records: what a worker writes (the encoding: evidence.h, events.c) ---------------- */

/* A session's side, from its verified token on. */
struct pg_ev_fly {
	uint8_t *params; /* audit.literals: keep: the Bind's parameters (params_blob) */
	uint32_t plen;
	uint64_t seq;	 /* the sync point whose ReadyForQuery ends it */
	uint64_t t0_us;	 /* CLOCK_MONOTONIC when it went to the target */
	uint32_t n;	 /* the statement's number in the session */
	uint8_t kind;	 /* 'Q' query, 'X' execute, 'F' function call, 'S' silent (denied) */
};
struct pg_ev_name {
	uint64_t key;
	uint32_t n;
};
struct pg_ev {
	struct pg_ev_name *names;
	uint32_t names_n, names_cap;
	char *ident; /* {"iss":..,"sub":..,"groups":[..]} */
	size_t ident_len;
	uint32_t next_n;
	uint32_t bind_n; /* the statement number of the last Bind (its Execute's) */
	uint8_t *bind_params; /* audit.literals: keep: the last Bind's, for its Execute */
	uint32_t bind_plen;
	uint64_t rows, bytes, masked; /* since the last statement ended */
	uint32_t det_hit;	      /* detectors that masked since then (bits), */
	uint32_t det_n[32];	      /* and how many rows each */
	char sqlstate[6];	      /* the first error since then */
	char tag[24];		      /* the last CommandComplete's first word */
	uint64_t tag_rows;	      /* rows its tags counted (-1 none) */
	bool tag_seen;
	uint64_t stmts, denials, bytes_in, bytes_out;
	struct pg_ev_fly *fly; /* ring of in-flight statements */
	uint32_t fly_head, fly_n, fly_cap;
};

/*
 * Statement names to the number of the Parse that made them, so an Execute's record names the
 * statement it ran: open addressing by the name's hash (the unnamed statement too), grown to
 * at most NAMES_MAX; a name Parsed again takes its new number.
 */
#define NAMES_MAX 65536u
static uint64_t name_key(const char *name, size_t len)
{
	return XXH3_64bits(name ? name : "", name ? len : 0) | 1;
}

static void names_put(struct pg_ev *e, const char *name, size_t len, uint32_t n)
{
	uint64_t k = name_key(name, len);
	uint32_t i;

	if (e->names_n * 2 >= e->names_cap) {
		uint32_t cap = e->names_cap ? 2 * e->names_cap : 16;
		struct pg_ev_name *nt;

		if (cap > 2 * NAMES_MAX || !(nt = calloc(cap, sizeof(*nt))))
			return; /* not recorded: its executions name statement 0 */
		for (uint32_t j = 0; j < e->names_cap; j++) {
			if (!e->names[j].key)
				continue;
			for (i = (uint32_t)e->names[j].key & (cap - 1); nt[i].key; i = (i + 1) & (cap - 1))
				;
			nt[i] = e->names[j];
		}
		free(e->names);
		e->names = nt;
		e->names_cap = cap;
	}
	for (i = (uint32_t)k & (e->names_cap - 1); e->names[i].key && e->names[i].key != k;
	     i = (i + 1) & (e->names_cap - 1))
		;
	if (!e->names[i].key)
		e->names_n++;
	e->names[i].key = k;
	e->names[i].n = n;
}

static uint32_t names_get(const struct pg_ev *e, const char *name, size_t len)
{
	uint64_t k = name_key(name, len);

	if (!e->names_cap)
		return 0;
	for (uint32_t i = (uint32_t)k & (e->names_cap - 1); e->names[i].key;
	     i = (i + 1) & (e->names_cap - 1))
		if (e->names[i].key == k)
			return e->names[i].n;
	return 0;
}

static inline struct rg_ev_w *ev_w(struct pg_sess *ps)
{
	return rg_events_w(ps->gw->events, (unsigned)(ps->cnt - ps->gw->cnt));
}

/* Copy the record into the journal. Returns false when it could not be kept. */
static bool w_commit(struct pg_sess *ps, struct rg_ev_w *w, enum rg_ev_type t)
{
	if (!rg_ev_commit(w, RG_EV_POSTGRES, t)) {
		ps->cnt->audit_lost++;
		return false;
	}
	return true;
}

/* who and where, the head of most records */
static void w_who(struct pg_sess *ps, struct rg_ev_w *w)
{
	rg_ev_who(w, ps->id, ps->ev ? ps->ev->ident : NULL, ps->ev ? ps->ev->ident_len : 0,
		  ps->peer, ps->tgt ? ps->tgt->cfg->name : NULL);
}

/* ---- the session's events ------------------------------------------------------------- */

void pg_ev_auth_ok(struct pg_sess *ps)
{
	struct rg_ev_w *w = ev_w(ps);
	char *ident;
	size_t ilen = 0;
	size_t ng = 0;
	const char *const *g;

	if (!w || ps->internal)
		return;
	if (!ps->ev && !(ps->ev = calloc(1, sizeof(*ps->ev)))) {
		ps->cnt->audit_lost++;
		return;
	}
	g = rg_auth_principal_groups(ps->ident, &ng);
	ident = rg_ev_identity(rg_auth_principal_iss(ps->ident), rg_auth_principal_sub(ps->ident),
			       g, ng, &ilen);
	if (!ident) {
		ps->cnt->audit_lost++;
		return;
	}
	ps->ev->ident = ident;
	ps->ev->ident_len = ilen;
	rg_ev_begin(w);
	w_who(ps, w);
	rg_ev_str(w, RG_EVK_USER, ps->login ? ps->login->user : NULL);
	w_commit(ps, w, RG_EV_AUTH_OK);
}

void pg_ev_auth_fail(struct pg_sess *ps, const char *reason, const char *detail)
{
	struct rg_ev_w *w = ev_w(ps);

	if (!w || ps->internal)
		return;
	rg_ev_begin(w);
	w_who(ps, w);
	rg_ev_auth_fail_body(w, ps->login ? ps->login->user : NULL, reason, detail);
	w_commit(ps, w, RG_EV_AUTH_FAIL);
}

void pg_ev_session_start(struct pg_sess *ps, const char *role, bool tls, const char *mech)
{
	struct rg_ev_w *w = ev_w(ps);

	if (!w || !ps->ev)
		return;
	rg_ev_begin(w);
	w_who(ps, w);
	rg_ev_session_start_body(w, role, tls, mech, ps->gw->rec != NULL);
	w_commit(ps, w, RG_EV_SESSION_START);
}

void pg_ev_session_end(struct pg_sess *ps, const char *reason)
{
	struct rg_ev_w *w = ev_w(ps);
	struct pg_ev *e = ps->ev;

	if (!w || !e)
		return;
	rg_ev_begin(w);
	w_who(ps, w);
	rg_ev_session_end_body(w, reason,
			       &(struct rg_ev_totals){(int64_t)(pg_mono_ms() - ps->accepted_ms), e->stmts,
						      e->denials, e->bytes_in, e->bytes_out});
	w_commit(ps, w, RG_EV_SESSION_END);
}

void pg_ev_free(struct pg_sess *ps)
{
	if (!ps->ev)
		return;
	free(ps->ev->ident);
	for (uint32_t i = 0; i < ps->ev->fly_n; i++)
		free(ps->ev->fly[(ps->ev->fly_head + i) % ps->ev->fly_cap].params);
	free(ps->ev->fly);
	free(ps->ev->names);
	free(ps->ev->bind_params);
	free(ps->ev);
	ps->ev = NULL;
}

void pg_ev_limit(struct pg_sess *ps, const char *limit, const char *value, uint64_t count,
		 const char *id)
{
	struct rg_ev_w *w = ev_w(ps);

	if (!w || !ps->ev)
		return;
	rg_ev_begin(w);
	w_who(ps, w);
	rg_ev_str(w, RG_EVK_LIMIT, limit);
	rg_ev_str(w, RG_EVK_VALUE, value);
	rg_ev_int(w, RG_EVK_COUNT, (int64_t)count);
	rg_ev_str(w, RG_EVK_RULE, id);
	w_commit(ps, w, RG_EV_LIMIT);
}

void pg_ev_violation(struct pg_sess *ps, const char *side, const char *what, const char *err)
{
	struct rg_ev_w *w = ev_w(ps);

	if (!w || ps->internal)
		return;
	rg_ev_begin(w);
	w_who(ps, w);
	rg_ev_str(w, RG_EVK_SIDE, side);
	rg_ev_str(w, RG_EVK_WHAT, what);
	rg_ev_str(w, RG_EVK_DETAIL, err);
	w_commit(ps, w, RG_EV_VIOLATION);
}

/* ---- statements -------------------------------------------------------------------------- */

static const char *verdict_name(enum pg_verdict v)
{
	switch (v) {
	case PG_VERDICT_PASS:
		return "pass";
	case PG_VERDICT_ALLOW:
		return "allow";
	case PG_VERDICT_LOG:
		return "log";
	case PG_VERDICT_DENY:
		return "deny";
	case PG_VERDICT_HOLD:
		return "hold";
	}
	return "?";
}

bool pg_ev_refuse(struct pg_sess *ps, struct rg_pg_deny *d)
{
	if (!ps->ev || ps->gw->audit_fail_open || !rg_audit_error(ps->gw->audit))
		return false;
	snprintf(d->sqlstate, sizeof(d->sqlstate), "58030");
	snprintf(d->message, sizeof(d->message),
		 "ringgate: the audit trail cannot be written; statement refused");
	return true;
}

static bool fly_push(struct pg_ev *e, uint8_t kind, uint32_t n, uint64_t seq)
{
	struct pg_ev_fly *f;

	if (e->fly_n == e->fly_cap) {
		uint32_t cap = e->fly_cap ? 2 * e->fly_cap : 8;
		struct pg_ev_fly *nf;

		if (cap > 65536 || !(nf = malloc(cap * sizeof(*nf))))
			return false;
		for (uint32_t i = 0; i < e->fly_n; i++)
			nf[i] = e->fly[(e->fly_head + i) % e->fly_cap];
		free(e->fly);
		e->fly = nf;
		e->fly_cap = cap;
		e->fly_head = 0;
	}
	f = &e->fly[(e->fly_head + e->fly_n++) % e->fly_cap];
	f->params = NULL;
	f->plen = 0;
	f->seq = seq;
	f->t0_us = pg_mono_us();
	f->n = n;
	f->kind = kind;
	return true;
}

uint32_t pg_ev_stmt(struct pg_sess *ps, char kind, const char *name, size_t nlen,
		    const char *sql, size_t len, enum pg_verdict v, const struct pg_judgement *j,
		    const struct rg_pg_deny *d, const char *approval, uint64_t seq)
{
	struct rg_ev_w *w = ev_w(ps);
	struct pg_ev *e = ps->ev;
	static const char *const kinds[] = {['Q'] = "query", ['P'] = "parse"};
	uint32_t n;

	if (!w || !e)
		return 0;
	n = ++e->next_n;
	e->stmts++;
	if (v == PG_VERDICT_DENY)
		e->denials++;
	rg_ev_begin(w);
	w_who(ps, w);
	rg_ev_int(w, RG_EVK_N, n);
	rg_ev_str(w, RG_EVK_KIND, kinds[(unsigned char)kind]);
	if (name && nlen)
		rg_ev_bytes(w, RG_EVK_NAME, RG_EVI_STR, name, nlen);
	if (sql)
		rg_ev_bytes(w, RG_EVK_SQL, RG_EVI_SQL, sql, len);
	rg_ev_str(w, RG_EVK_VERDICT, verdict_name(v));
	if (j && j->rule)
		rg_ev_str(w, RG_EVK_RULE, j->rule);
	if (j && j->shadow_rule)
		rg_ev_str(w, RG_EVK_SHADOW, j->shadow_rule);
	if (v == PG_VERDICT_DENY && d)
		rg_ev_str(w, RG_EVK_SQLSTATE, d->sqlstate);
	if (approval)
		rg_ev_str(w, RG_EVK_APPROVAL, approval);
	w_commit(ps, w, RG_EV_STMT);
	if (ps->rec)
		pg_rec_stmt(ps, n);
	/* what ends it: a Query at its ReadyForQuery (a denied or held one silently); a
	 * Parse's executions at their Executes' answers */
	if (kind == 'Q')
		fly_push(e, v == PG_VERDICT_DENY || v == PG_VERDICT_HOLD ? 'S' : 'Q', n, seq);
	else
		names_put(e, name, nlen, v != PG_VERDICT_DENY && v != PG_VERDICT_HOLD ? n : 0);
	return n;
}

/* A Bind's parameters as the formatter reads them: u16 count, then per parameter u8 format
 * (0 text, 1 binary), i32 length (-1 NULL), bytes. */
static uint8_t *params_blob(const struct rg_pg_msg *m, const struct rg_pg_bind *bd, uint32_t *len)
{
	struct rg_pg_iter it;
	struct rg_pg_field f;
	size_t n = 2 + (size_t)bd->nparams * 5 + (bd->params_end - bd->params_off), at = 2;
	uint8_t *b = malloc(n);
	uint16_t i = 0;

	if (!b)
		return NULL;
	memcpy(b, &bd->nparams, 2);
	rg_pg_bind_params(m, bd, &it);
	while (at + 5 <= n && rg_pg_field_next(&it, &f) == 1) {
		uint8_t fmt = bd->nformats == 0 ? 0
			      : bd->nformats == 1 ? bd->formats[1]
						  : bd->formats[2 * i + 1];
		int32_t l = f.len;

		b[at] = fmt;
		memcpy(b + at + 1, &l, 4);
		at += 5;
		if (l > 0 && at + (size_t)l <= n) {
			memcpy(b + at, f.data, (size_t)l);
			at += (size_t)l;
		}
		i++;
	}
	*len = (uint32_t)at;
	return b;
}

void pg_ev_bind(struct pg_sess *ps, const struct rg_pg_msg *m, const struct rg_pg_bind *bd)
{
	struct pg_ev *e = ps->ev;

	if (!e)
		return;
	e->bind_n = names_get(e, bd->stmt, bd->stmt_len);
	if (ps->gw->ev_fmt_keep) {
		free(e->bind_params);
		e->bind_params = params_blob(m, bd, &e->bind_plen);
	}
}

void pg_ev_function_call(struct pg_sess *ps, uint32_t oid, bool denied,
			 const struct rg_pg_deny *d, uint64_t seq)
{
	struct rg_ev_w *w = ev_w(ps);
	struct pg_ev *e = ps->ev;
	uint32_t n;

	if (!w || !e)
		return;
	n = ++e->next_n;
	e->stmts++;
	e->denials += denied;
	rg_ev_begin(w);
	w_who(ps, w);
	rg_ev_int(w, RG_EVK_N, n);
	rg_ev_str(w, RG_EVK_KIND, "function_call");
	rg_ev_int(w, RG_EVK_OID, oid);
	rg_ev_str(w, RG_EVK_VERDICT, denied ? "deny" : "allow");
	if (denied && d)
		rg_ev_str(w, RG_EVK_SQLSTATE, d->sqlstate);
	w_commit(ps, w, RG_EV_STMT);
	fly_push(e, denied ? 'S' : 'F', n, seq);
}

void pg_ev_execute(struct pg_sess *ps, uint64_t seq)
{
	struct pg_ev *e = ps->ev;

	if (!e || !e->bind_n || !fly_push(e, 'X', e->bind_n, seq))
		return;
	if (e->bind_params) { /* each Execute of the portal shows its parameters */
		struct pg_ev_fly *f = &e->fly[(e->fly_head + e->fly_n - 1) % e->fly_cap];

		if ((f->params = malloc(e->bind_plen))) {
			memcpy(f->params, e->bind_params, e->bind_plen);
			f->plen = e->bind_plen;
		}
	}
}

/* A held statement was released (approved) / failed (denied, expired, withdrawn). */
void pg_ev_approval(struct pg_sess *ps, uint32_t n, const char *id, const char *outcome,
		    const char *by, const char *reason, uint64_t seq, bool runs,
		    const char *parse_name)
{
	struct rg_ev_w *w = ev_w(ps);

	if (!w || !ps->ev)
		return;
	rg_ev_begin(w);
	w_who(ps, w);
	rg_ev_int(w, RG_EVK_N, n);
	rg_ev_str(w, RG_EVK_APPROVAL, id);
	rg_ev_str(w, RG_EVK_OUTCOME, outcome);
	if (by)
		rg_ev_str(w, RG_EVK_REVIEWER, by);
	if (reason)
		rg_ev_str(w, RG_EVK_REASON, reason);
	w_commit(ps, w, RG_EV_APPROVAL);
	if (runs && n && parse_name)
		names_put(ps->ev, parse_name, strlen(parse_name), n);
	else if (runs && n)
		fly_push(ps->ev, 'Q', n, seq);
}

static void end_one(struct pg_sess *ps, const struct pg_ev_fly *f, bool skipped)
{
	struct rg_ev_w *w = ev_w(ps);
	struct pg_ev *e = ps->ev;

	rg_ev_begin(w);
	rg_ev_int(w, RG_EVK_SESSION, (int64_t)ps->id);
	rg_ev_int(w, RG_EVK_N, f->n);
	if (skipped) {
		rg_ev_bool(w, RG_EVK_SKIPPED, true);
	} else {
		rg_ev_int(w, RG_EVK_ROWS, (int64_t)(e->tag_seen ? e->tag_rows : e->rows));
		rg_ev_int(w, RG_EVK_BYTES, (int64_t)e->bytes);
		if (e->masked) {
			uint8_t blob[32 * 5];
			size_t bl = 0;

			rg_ev_int(w, RG_EVK_MASKED, (int64_t)e->masked);
			for (uint32_t h = e->det_hit; h; h &= h - 1) {
				uint8_t d = (uint8_t)__builtin_ctz(h);

				blob[bl] = d;
				memcpy(blob + bl + 1, &e->det_n[d], 4);
				bl += 5;
			}
			rg_ev_bytes(w, RG_EVK_MASKS, RG_EVI_MASKS, blob, bl);
		}
		rg_ev_int(w, RG_EVK_SERVER_US, (int64_t)(pg_mono_us() - f->t0_us));
		if (e->tag[0])
			rg_ev_str(w, RG_EVK_TAG, e->tag);
		if (e->sqlstate[0])
			rg_ev_str(w, RG_EVK_SQLSTATE, e->sqlstate);
	}
	if (f->params)
		rg_ev_bytes(w, RG_EVK_PARAMS, RG_EVI_PARAMS, f->params, f->plen);
	w_commit(ps, w, RG_EV_STMT_END);
}

static void reset_acc(struct pg_ev *e)
{
	for (uint32_t h = e->det_hit; h; h &= h - 1)
		e->det_n[__builtin_ctz(h)] = 0;
	e->det_hit = 0;
	e->rows = e->bytes = e->masked = e->tag_rows = 0;
	e->sqlstate[0] = e->tag[0] = '\0';
	e->tag_seen = false;
}

/* CommandComplete: its tag's first word, and the row count it ends with */
static void note_tag(struct pg_ev *e, const struct rg_pg_msg *m)
{
	const char *t = (const char *)m->body;
	size_t n = m->body_len ? strnlen(t, m->body_len) : 0, k = 0;
	uint64_t rows = 0, mul = 1;
	size_t i = n;

	while (k < n && k < sizeof(e->tag) - 1 && t[k] != ' ')
		e->tag[k] = t[k], k++;
	e->tag[k] = '\0';
	while (i > 0 && t[i - 1] >= '0' && t[i - 1] <= '9' && mul < 10000000000000000000ull) {
		rows += (uint64_t)(t[i - 1] - '0') * mul;
		mul *= 10;
		i--;
	}
	if (i < n && i > 0 && t[i - 1] == ' ') {
		e->tag_rows += rows;
		e->tag_seen = true;
	}
}

void pg_ev_be(struct pg_sess *ps, const struct rg_pg_msg *m)
{
	struct pg_ev *e = ps->ev;
	uint64_t cur = ps->rfq_recv + 1;

	e->bytes += m->total;
	e->bytes_out += m->total;
	switch (m->type) {
	case RG_PG_BE_DATA_ROW:
		e->rows++;
		return;
	case RG_PG_BE_COMMAND_COMPLETE:
		note_tag(e, m);
		break;
	case RG_PG_BE_ERROR:
		if (!e->sqlstate[0]) {
			struct rg_pg_notice nt;

			if (!rg_pg_read_notice(m, &nt) && nt.sqlstate)
				snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", nt.sqlstate);
		}
		break;
	case RG_PG_BE_EMPTY_QUERY:
	case RG_PG_BE_PORTAL_SUSPENDED:
		break;
	case RG_PG_BE_READY:
		/* everything of this sync point ends: a Query with what it summed, Executes the
		 * server skipped as skipped */
		while (e->fly_n && e->fly[e->fly_head].seq <= cur) {
			struct pg_ev_fly *f = &e->fly[e->fly_head];

			if (f->kind == 'Q' || f->kind == 'F') {
				end_one(ps, f, false);
				reset_acc(e);
			} else if (f->kind == 'X') {
				end_one(ps, f, true);
			}
			free(f->params);
			e->fly_head = (e->fly_head + 1) % e->fly_cap;
			e->fly_n--;
		}
		reset_acc(e);
		return;
	default:
		return;
	}
	/* an Execute's answer ends it */
	if (e->fly_n && e->fly[e->fly_head].kind == 'X' && e->fly[e->fly_head].seq == cur) {
		end_one(ps, &e->fly[e->fly_head], false);
		reset_acc(e);
		free(e->fly[e->fly_head].params);
		e->fly_head = (e->fly_head + 1) % e->fly_cap;
		e->fly_n--;
	}
}

void pg_ev_rows(struct pg_sess *ps, uint32_t rows, size_t bytes)
{
	ps->ev->rows += rows;
	ps->ev->bytes += bytes;
	ps->ev->bytes_out += bytes;
}

void pg_ev_fe_bytes(struct pg_sess *ps, size_t n)
{
	ps->ev->bytes_in += n;
}

void pg_ev_masked(struct pg_sess *ps, uint32_t hit)
{
	struct pg_ev *e = ps->ev;

	e->masked++;
	e->det_hit |= hit;
	for (; hit; hit &= hit - 1)
		e->det_n[__builtin_ctz(hit)]++;
}

/* ---- the gateway's side ---------------------------------------------------------------- */

int rg_pg_gw_set_audit(struct rg_pg_gw *gw, struct rg_audit *a, struct rg_events *ev,
		       const struct rg_config_audit *ac)
{
	gw->audit = a;
	gw->events = ev;
	gw->ev_fmt_keep = ac->keep_literals;
	gw->audit_fail_open = ac->fail_open;
	return 0;
}

/* Before the trail is closed and the events freed (main.c). */
void rg_pg_gw_audit_free(struct rg_pg_gw *gw)
{
	gw->events = NULL;
	gw->audit = NULL;
}
