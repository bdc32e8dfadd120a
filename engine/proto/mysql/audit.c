/*
 * audit.c: what a MySQL session leaves in the audit trail (docs/audit.md, docs/mysql.md).
 *
 * The same session events as PostgreSQL's (engine/evidence/events.c): the worker builds a
 * compact record in its own journal, the trail's writer formats it. Statement texts carry the
 * session's lexing state (RG_EVK_MYLEX) before their SQL item, so the writer normalizes them
 * with the MySQL classifier as the target lexes them: literals reach neither the trail nor
 * any disk unless audit.literals is keep.
 *
 * A statement is two records: `stmt` when it goes to the target or is refused (kind query,
 * prepare or execute, who, where, verdict, rule) and `stmt_end` when its answer is complete
 * (rows, bytes to the agent, server time, the ERR's number and SQLSTATE, masked rows by
 * detector, an EXECUTE's parameters under literals: keep). MySQL answers commands in order:
 * the relay's ring is the FIFO, so whatever arrives belongs to its head command and its end
 * is the ring's pop (my_ev_cmd_end). A multi-statement COM_QUERY is one statement whose rows
 * sum its result sets.
 * Never: a token, a target secret, or (without keep) a literal or parameter in a record.
 */
#include "my-int.h"

#include "evidence.h"

/* A session's side of the trail, from its verified token on. */
struct my_ev {
	char *ident; /* {"iss":..,"sub":..,"groups":[..]} */
	size_t ident_len;
	uint32_t next_n;
	uint64_t stmts, denials, bytes_in, bytes_out;
	/* the head command's answer so far (reset at each pop) */
	uint64_t rows, affected, bytes, masked;
	uint32_t det_hit;   /* detectors that masked (bits), */
	uint32_t det_n[32]; /* and how many rows each */
	uint16_t err_code;
	char sqlstate[6];
	bool result; /* a result set came (rows counts its rows, else affected rows) */
};

static inline struct rg_ev_w *ev_w(struct my_sess *ms)
{
	return ms->m->events ? rg_events_w(ms->m->events, ms->worker) : NULL;
}

static bool w_commit(struct my_sess *ms, struct rg_ev_w *w, enum rg_ev_type t)
{
	if (!rg_ev_commit(w, RG_EV_MYSQL, t)) {
		ms->cnt->audit_lost++;
		return false;
	}
	return true;
}

/* who and where, the head of most records */
static void w_who(struct my_sess *ms, struct rg_ev_w *w)
{
	rg_ev_who(w, ms->id, ms->ev ? ms->ev->ident : NULL, ms->ev ? ms->ev->ident_len : 0,
		  ms->peer, ms->tgt ? ms->tgt->cfg->name : NULL);
}

/* ---- the session's events ------------------------------------------------------------- */

void my_ev_auth_ok(struct my_sess *ms)
{
	struct rg_ev_w *w = ev_w(ms);
	char *ident;
	size_t ilen = 0;
	const char *const *g;
	size_t ng = 0;

	if (!w)
		return;
	if (!ms->ev && !(ms->ev = calloc(1, sizeof(*ms->ev)))) {
		ms->cnt->audit_lost++;
		return;
	}
	g = rg_auth_principal_groups(ms->ident, &ng);
	ident = rg_ev_identity(rg_auth_principal_iss(ms->ident), rg_auth_principal_sub(ms->ident),
			       g, ng, &ilen);
	if (!ident) {
		ms->cnt->audit_lost++;
		return;
	}
	free(ms->ev->ident);
	ms->ev->ident = ident;
	ms->ev->ident_len = ilen;
	rg_ev_begin(w);
	w_who(ms, w);
	rg_ev_str(w, RG_EVK_USER, ms->login ? ms->login->user : NULL);
	w_commit(ms, w, RG_EV_AUTH_OK);
}

void my_ev_auth_fail(struct my_sess *ms, const char *reason, const char *detail)
{
	struct rg_ev_w *w = ev_w(ms);

	if (!w)
		return;
	rg_ev_begin(w);
	w_who(ms, w);
	rg_ev_auth_fail_body(w, ms->login ? ms->login->user : NULL, reason, detail);
	w_commit(ms, w, RG_EV_AUTH_FAIL);
}

void my_ev_session_start(struct my_sess *ms, const char *user, bool tls, const char *method)
{
	struct rg_ev_w *w = ev_w(ms);

	if (!w || !ms->ev)
		return;
	rg_ev_begin(w);
	w_who(ms, w);
	rg_ev_session_start_body(w, user, tls, method, ms->m->rec != NULL);
	w_commit(ms, w, RG_EV_SESSION_START);
}

void my_ev_session_end(struct my_sess *ms, const char *reason)
{
	struct rg_ev_w *w = ev_w(ms);
	struct my_ev *e = ms->ev;

	if (!w || !e)
		return;
	rg_ev_begin(w);
	w_who(ms, w);
	rg_ev_session_end_body(w, reason,
			       &(struct rg_ev_totals){(int64_t)(my_mono_ms() - ms->accepted_ms), e->stmts,
						      e->denials, e->bytes_in, e->bytes_out});
	w_commit(ms, w, RG_EV_SESSION_END);
}

void my_ev_free(struct my_sess *ms)
{
	if (!ms->ev)
		return;
	free(ms->ev->ident);
	free(ms->ev);
	ms->ev = NULL;
}

void my_ev_violation(struct my_sess *ms, const char *side, const char *what, const char *err)
{
	struct rg_ev_w *w = ev_w(ms);

	if (!w)
		return;
	rg_ev_begin(w);
	w_who(ms, w);
	rg_ev_str(w, RG_EVK_SIDE, side);
	rg_ev_str(w, RG_EVK_WHAT, what);
	rg_ev_str(w, RG_EVK_DETAIL, err);
	w_commit(ms, w, RG_EV_VIOLATION);
}

/* ---- statements -------------------------------------------------------------------------- */

bool my_ev_refuse(struct my_sess *ms, struct my_deny *d)
{
	if (!ms->ev || ms->m->audit_fail_open || !rg_audit_error(ms->m->audit))
		return false;
	d->code = 1290; /* ER_OPTION_PREVENTS_STATEMENT */
	snprintf(d->sqlstate, sizeof(d->sqlstate), "HY000");
	snprintf(d->msg, sizeof(d->msg),
		 "ringgate: the audit trail cannot be written; statement refused");
	ms->cnt->audit_refused++;
	return true;
}

static const char *verdict_name(const struct my_judgement *j)
{
	if (j->guard)
		return "deny";
	switch (j->v) {
	case RG_GW_VERDICT_PASS:
		return "pass";
	case RG_GW_VERDICT_ALLOW:
		return "allow";
	case RG_GW_VERDICT_LOG:
		return "log";
	case RG_GW_VERDICT_DENY:
		return "deny";
	case RG_GW_VERDICT_HOLD: /* held for a reviewer: the approval record says how it ended */
		return "hold";
	}
	return "?";
}

uint32_t my_ev_stmt(struct my_sess *ms, char kind, const uint8_t *sql, size_t len,
		    uint32_t prepared, const struct my_judgement *j, const struct my_deny *d,
		    const char *approval)
{
	struct rg_ev_w *w = ev_w(ms);
	struct my_ev *e = ms->ev;
	const char *vn = verdict_name(j);
	uint32_t n;

	if (!w || !e)
		return 0;
	n = ++e->next_n;
	e->stmts++;
	if (vn[0] == 'd')
		e->denials++;
	rg_ev_begin(w);
	w_who(ms, w);
	rg_ev_int(w, RG_EVK_N, n);
	rg_ev_str(w, RG_EVK_KIND, kind == 'Q' ? "query" : kind == 'P' ? "prepare" : "execute");
	if (prepared)
		rg_ev_int(w, RG_EVK_PREPARED, prepared);
	if (sql) {
		rg_ev_int(w, RG_EVK_MYLEX,
			  rg_ev_mysql_lexing(ms->lex.server_version, (unsigned)ms->lex.dialect,
					     ms->lex.modes));
		rg_ev_bytes(w, RG_EVK_SQL, RG_EVI_SQL, sql, len);
	}
	rg_ev_str(w, RG_EVK_VERDICT, vn);
	if (j->rule)
		rg_ev_str(w, RG_EVK_RULE, j->rule);
	if (j->shadow)
		rg_ev_str(w, RG_EVK_SHADOW, j->shadow);
	if (j->guard)
		rg_ev_str(w, RG_EVK_DETAIL, j->guard);
	if (vn[0] == 'd' && d) {
		rg_ev_int(w, RG_EVK_ERROR_CODE, d->code);
		rg_ev_str(w, RG_EVK_SQLSTATE, d->sqlstate);
	}
	if (approval)
		rg_ev_str(w, RG_EVK_APPROVAL, approval);
	w_commit(ms, w, RG_EV_STMT);
	return n;
}

void my_ev_approval(struct my_sess *ms, uint32_t n, const char *id, const char *outcome,
		    const char *by, const char *reason)
{
	struct rg_ev_w *w = ev_w(ms);

	if (!w || !ms->ev)
		return;
	rg_ev_begin(w);
	w_who(ms, w);
	rg_ev_int(w, RG_EVK_N, n);
	rg_ev_str(w, RG_EVK_APPROVAL, id);
	rg_ev_str(w, RG_EVK_OUTCOME, outcome);
	if (by && by[0])
		rg_ev_str(w, RG_EVK_REVIEWER, by);
	if (reason && reason[0])
		rg_ev_str(w, RG_EVK_REASON, reason);
	w_commit(ms, w, RG_EV_APPROVAL);
}

void my_ev_limit(struct my_sess *ms, const char *limit, const char *value, uint64_t count,
		 const char *id)
{
	struct rg_ev_w *w = ev_w(ms);

	if (!w || !ms->ev)
		return;
	rg_ev_begin(w);
	w_who(ms, w);
	rg_ev_str(w, RG_EVK_LIMIT, limit);
	rg_ev_str(w, RG_EVK_VALUE, value);
	rg_ev_int(w, RG_EVK_COUNT, (int64_t)count);
	rg_ev_str(w, RG_EVK_RULE, id);
	w_commit(ms, w, RG_EV_LIMIT);
}

/* One binary-protocol parameter as text (numbers and temporal values; MySQL's own text
 * forms). Returns its length, or -1 when the type is a string one (its bytes are the text). */
static int param_text(const struct rg_my_param *pr, const uint8_t *v, char *out, size_t cap)
{
	uint64_t u = 0;

	switch (pr->type) {
	case RG_MY_TYPE_TINY:
	case RG_MY_TYPE_SHORT:
	case RG_MY_TYPE_YEAR:
	case RG_MY_TYPE_LONG:
	case RG_MY_TYPE_INT24:
	case RG_MY_TYPE_LONGLONG: {
		size_t w = pr->len < 8 ? (size_t)pr->len : 8;

		for (size_t i = 0; i < w; i++)
			u |= (uint64_t)v[i] << (8 * i);
		if (pr->is_unsigned || w == 0)
			return snprintf(out, cap, "%llu", (unsigned long long)u);
		if (w < 8 && (u >> (8 * w - 1)) & 1)
			u |= ~0ull << (8 * w); /* sign-extend */
		return snprintf(out, cap, "%lld", (long long)(int64_t)u);
	}
	case RG_MY_TYPE_FLOAT: {
		float f;

		if (pr->len != 4)
			return snprintf(out, cap, "?");
		memcpy(&f, v, 4);
		return snprintf(out, cap, "%.9g", (double)f);
	}
	case RG_MY_TYPE_DOUBLE: {
		double f;

		if (pr->len != 8)
			return snprintf(out, cap, "?");
		memcpy(&f, v, 8);
		return snprintf(out, cap, "%.17g", f);
	}
	case RG_MY_TYPE_DATE:
	case RG_MY_TYPE_DATETIME:
	case RG_MY_TYPE_TIMESTAMP: {
		unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, us = 0;

		if (pr->len >= 4)
			y = v[0] | (unsigned)v[1] << 8, mo = v[2], d = v[3];
		if (pr->len >= 7)
			h = v[4], mi = v[5], s = v[6];
		if (pr->len >= 11)
			us = v[7] | (unsigned)v[8] << 8 | (unsigned)v[9] << 16 |
			     (unsigned)v[10] << 24;
		if (pr->type == RG_MY_TYPE_DATE)
			return snprintf(out, cap, "%04u-%02u-%02u", y, mo, d);
		if (pr->len >= 11)
			return snprintf(out, cap, "%04u-%02u-%02u %02u:%02u:%02u.%06u", y, mo, d, h,
					mi, s, us);
		return snprintf(out, cap, "%04u-%02u-%02u %02u:%02u:%02u", y, mo, d, h, mi, s);
	}
	case RG_MY_TYPE_TIME: {
		unsigned neg = 0, days = 0, h = 0, mi = 0, s = 0, us = 0;

		if (pr->len >= 8) {
			neg = v[0];
			days = v[1] | (unsigned)v[2] << 8 | (unsigned)v[3] << 16 |
			       (unsigned)v[4] << 24;
			h = v[5], mi = v[6], s = v[7];
		}
		if (pr->len >= 12)
			us = v[8] | (unsigned)v[9] << 8 | (unsigned)v[10] << 16 |
			     (unsigned)v[11] << 24;
		if (us)
			return snprintf(out, cap, "%s%u:%02u:%02u.%06u", neg ? "-" : "",
					days * 24 + h, mi, s, us);
		return snprintf(out, cap, "%s%u:%02u:%02u", neg ? "-" : "", days * 24 + h, mi, s);
	}
	default:
		return -1;
	}
}

static void blob_put(uint8_t *b, size_t *at, uint8_t fmt, int32_t len, const void *v)
{
	b[*at] = fmt;
	memcpy(b + *at + 1, &len, 4);
	*at += 5;
	if (len > 0) {
		memcpy(b + *at, v, (size_t)len);
		*at += (size_t)len;
	}
}

/*
 * An EXECUTE's parameters as the formatter's blob (evidence.h, RG_EVI_PARAMS): numbers and
 * temporal values in MySQL's text form, strings as sent; NULL as null; a value that came
 * with SEND_LONG_DATA (not in this packet) as {"hex":""} (binary, empty). Unreadable: none.
 */
void my_ev_params(struct my_sess *ms, struct my_cmd *c, struct my_stmt *st, const uint8_t *p,
		  size_t n)
{
	struct rg_my_param *pr;
	struct rg_my_execute ex;
	size_t cap, at = 2;
	uint8_t *b;

	if (!ms->ev || !ms->m->ev_keep || !st || !st->nparams)
		goto out;
	pr = calloc(st->nparams, sizeof(*pr));
	if (!pr)
		goto out;
	if (rg_my_read_execute(p, n, st->nparams, st->ev_types, st->ev_ld, &ex, pr, st->nparams)) {
		free(pr);
		goto out;
	}
	if (ex.new_params_bound && ex.types &&
	    (st->ev_types || (st->ev_types = malloc(2 * (size_t)st->nparams))))
		memcpy(st->ev_types, ex.types, 2 * (size_t)st->nparams);
	cap = 2 + (size_t)st->nparams * (5 + 48) + n;
	b = malloc(cap);
	if (!b) {
		free(pr);
		goto out;
	}
	memcpy(b, &st->nparams, 2);
	for (uint16_t i = 0; i < st->nparams; i++) {
		char t[48];
		int tl;

		if (pr[i].long_data) {
			blob_put(b, &at, 1, 0, NULL);
			continue;
		}
		if (pr[i].is_null || pr[i].type == RG_MY_TYPE_NULL) {
			blob_put(b, &at, 0, -1, NULL);
			continue;
		}
		tl = param_text(&pr[i], p + pr[i].off, t, sizeof(t));
		if (tl >= 0)
			blob_put(b, &at, 0, tl < (int)sizeof(t) ? tl : (int)sizeof(t) - 1, t);
		else
			blob_put(b, &at, 0, (int32_t)pr[i].len, p + pr[i].off);
	}
	free(pr);
	free(c->ev_params);
	c->ev_params = b;
	c->ev_plen = (uint32_t)at;
out:
	if (st && st->ev_ld) /* the server forgets them once executed */
		memset(st->ev_ld, 0, ((size_t)st->nparams + 7) / 8);
}

void my_ev_long_data(struct my_sess *ms, const uint8_t *p, size_t n)
{
	struct rg_my_long_data ld;
	struct my_stmt *st = NULL;

	if (!ms->ev || !ms->m->ev_keep || rg_my_read_long_data(p, n, &ld))
		return;
	for (size_t i = 0; i < ms->nstmts && !st; i++)
		if (ms->stmts[i].id == ld.stmt_id)
			st = &ms->stmts[i];
	if (!st || ld.param_id >= st->nparams)
		return;
	if (!st->ev_ld && !(st->ev_ld = calloc(1, ((size_t)st->nparams + 7) / 8)))
		return;
	st->ev_ld[ld.param_id / 8] |= (uint8_t)(1u << (ld.param_id % 8));
}

void my_ev_stmt_free(struct my_stmt *st)
{
	free(st->ev_types);
	free(st->ev_ld);
	st->ev_types = st->ev_ld = NULL;
}

void my_ev_fe(struct my_sess *ms, size_t bytes)
{
	if (ms->ev)
		ms->ev->bytes_in += bytes;
}

void my_ev_be(struct my_sess *ms, const struct my_cmd *c, const struct rg_my_msg *m,
	      enum rg_my_kind k)
{
	struct my_ev *e = ms->ev;
	const uint8_t *p = m->payload;
	size_t n = m->npackets > 1 ? RG_MY_MAX_PACKET : (size_t)m->len;

	if (!e)
		return;
	e->bytes += m->total;
	e->bytes_out += m->total;
	switch (k) {
	case RG_MY_KIND_OTHER:
		if (c->resp == R_ROWS)
			e->rows++;
		else if (c->resp == R_FIRST)
			e->result = true; /* a column count: a result set */
		break;
	case RG_MY_KIND_OK: {
		struct rg_my_ok ok;

		if (c->resp == R_FIRST && !rg_my_read_ok(p, n, ms->caps, &ok))
			e->affected += ok.affected_rows;
		break;
	}
	case RG_MY_KIND_ERR: {
		struct rg_my_err_pkt er;

		if (!e->err_code && !rg_my_read_err(p, n, &er)) {
			e->err_code = er.code;
			memcpy(e->sqlstate, er.sqlstate, sizeof(e->sqlstate));
		}
		break;
	}
	default:
		break;
	}
}

void my_ev_rows(struct my_sess *ms, uint32_t rows, size_t bytes)
{
	struct my_ev *e = ms->ev;

	if (!e)
		return;
	e->bytes += bytes;
	e->bytes_out += bytes;
	e->rows += rows;
}

void my_ev_masked(struct my_sess *ms, uint32_t hit)
{
	struct my_ev *e = ms->ev;

	if (!e)
		return;
	e->masked++;
	e->det_hit |= hit;
	for (; hit; hit &= hit - 1)
		e->det_n[__builtin_ctz(hit)]++;
}

static void reset_acc(struct my_ev *e)
{
	for (uint32_t h = e->det_hit; h; h &= h - 1)
		e->det_n[__builtin_ctz(h)] = 0;
	e->det_hit = 0;
	e->rows = e->affected = e->bytes = e->masked = 0;
	e->err_code = 0;
	e->sqlstate[0] = '\0';
	e->result = false;
}

void my_ev_cmd_end(struct my_sess *ms, struct my_cmd *c)
{
	struct my_ev *e = ms->ev;
	uint64_t now = 0;
	struct rg_ev_w *w;

	if (c->t0_us) {
		now = my_mono_us();
		rg_gw_lat_observe(&ms->cnt->stmt_lat, now - c->t0_us);
	}
	if (!e)
		goto out;
	if (c->ev_n && (w = ev_w(ms))) {
		rg_ev_begin(w);
		rg_ev_int(w, RG_EVK_SESSION, (int64_t)ms->id);
		rg_ev_int(w, RG_EVK_N, c->ev_n);
		rg_ev_int(w, RG_EVK_ROWS, (int64_t)(e->result ? e->rows : e->affected));
		rg_ev_int(w, RG_EVK_BYTES, (int64_t)e->bytes);
		/* masked rows by detector: my_row_hook reports each rewritten row with
		 * my_ev_masked (as pg_ev_masked), counted here for this statement */
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
		if (c->t0_us)
			rg_ev_int(w, RG_EVK_SERVER_US, (int64_t)(now - c->t0_us));
		if (e->err_code) {
			rg_ev_int(w, RG_EVK_ERROR_CODE, e->err_code);
			if (e->sqlstate[0])
				rg_ev_str(w, RG_EVK_SQLSTATE, e->sqlstate);
		}
		if (c->ev_params)
			rg_ev_bytes(w, RG_EVK_PARAMS, RG_EVI_PARAMS, c->ev_params, c->ev_plen);
		w_commit(ms, w, RG_EV_STMT_END);
	}
	reset_acc(e);
out:
	free(c->ev_params);
	c->ev_params = NULL;
	c->ev_plen = 0;
}

/* ---- the module's side ------------------------------------------------------------------- */

int rg_mysql_set_audit(struct rg_mysql *m, struct rg_audit *a, struct rg_events *ev,
		       const struct rg_config_audit *ac)
{
	m->audit = a;
	m->events = ev;
	m->ev_keep = ac->keep_literals;
	m->audit_fail_open = ac->fail_open;
	return 0;
}

void rg_mysql_audit_free(struct rg_mysql *m)
{
	if (!m)
		return;
	m->events = NULL;
	m->audit = NULL;
}
