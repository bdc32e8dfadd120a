/*
 * relay.c: a logged-in session's messages, both ways.
 *
 * Every message is framed (wire.h) and forwarded by reference from the receive buffer,
 * contiguous unmodified messages coalesced into one send; only split messages are copied,
 * and bulk messages too large to hold are streamed through in pieces. Each Query, Parse and
 * FunctionCall is judged first: the lexing guard (the classifier must read what the server
 * executes), then the policy bundle (policy.c). A denied message reaches the target as text
 * its parser rejects, so the server itself fails the statement and the transaction exactly
 * as for any error; its ErrorResponse is replaced by the denial (docs/pg.md, "Policy on live
 * sessions"). The target's messages are relayed, ParameterStatus checked against the pins.
 * SQL-level prepared statements are followed (stmt.c): an EXECUTE of one judged by an older
 * bundle judges its stored text again first (prep_allowed).
 */
#include "sess-int.h"

/* ---- relay ------------------------------------------------------------------------------- */

/* What a denied statement becomes on the wire to the target (see struct pg_deny_pending). */
#define DENY_SQL "ringgate_denied_statement"

static void deny_push(struct rg_sess *s, uint64_t seq, const struct rg_pg_deny *d)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_deny_pending *p;

	if (ps->deny_n == DENY_RING) {
		pg_close_fatal(s, "54000", "too many denied statements in flight");
		return;
	}
	/* Most sessions are never denied anything: the ring (2 KiB) is allocated on demand,
	 * and freed again once every pending denial was answered (deny_answer). */
	if (!ps->deny && !(ps->deny = calloc(DENY_RING, sizeof(*ps->deny)))) {
		pg_close_fatal(s, "53200", "out of memory");
		return;
	}
	p = &ps->deny[(ps->deny_head + ps->deny_n++) % DENY_RING];
	p->seq = seq;
	p->answered = false;
	p->d = *d;
	if (!p->d.sqlstate[0])
		memcpy(p->d.sqlstate, "42501", 6);
	if (!p->d.message[0])
		snprintf(p->d.message, sizeof(p->d.message), "statement denied by policy");
}

/*
 * The gateway's own guard, bundle or not (docs/security.md): the classifier must read the
 * bytes the server will execute, under the settings pinned at login (client_encoding UTF8,
 * standard_conforming_strings on). Text that is not UTF-8 is refused as the server would
 * refuse it (22021), and so is a statement that would move a pinned setting (42501): the
 * cheap prefilter passes nearly everything, the parser decides the rest. True: refused.
 */
static bool lexing_refused(struct rg_sess *s, const char *sql, size_t len, struct rg_pg_deny *d)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_sqlclass **c = &ps->gw->lex[ps->cnt - ps->gw->cnt];
	struct rg_sql_facts f;

	if (!rg_sqlclass_utf8_valid(sql, len)) {
		memcpy(d->sqlstate, "22021", 6);
		snprintf(d->message, sizeof(d->message),
			 "invalid byte sequence for encoding \"UTF8\"");
		goto refused;
	}
	if (!rg_sqlclass_lexing_candidate(sql, len))
		return false;
	if (!*c && !(*c = rg_sqlclass_new()))
		goto unchecked;
	if (rg_sqlclass_run(*c, sql, len, 0, &f))
		goto unchecked;
	if (f.status == RG_SQL_OK && !(f.ops & RG_OP_BIT(RG_OP_SET_LEXING)))
		return false;
	memcpy(d->sqlstate, "42501", 6);
	snprintf(d->message, sizeof(d->message),
		 f.status == RG_SQL_OK
		     ? "changing client_encoding or string-literal settings is not allowed "
		       "through ringgate"
		     : "ringgate could not check this statement (syntax error?)");
	goto refused;
unchecked:
	memcpy(d->sqlstate, "53200", 6);
	snprintf(d->message, sizeof(d->message), "out of memory checking the statement");
refused:
	ps->cnt->lexing_denied++;
	rg_log("event=stmt_refused sess=%llu peer=%s reason=lexing sqlstate=%s",
	       (unsigned long long)ps->id, ps->peer, d->sqlstate);
	return true;
}

/*
 * A Query, Parse or FunctionCall: the lexing guard, then the policy bundle in force (none:
 * pass-through, said at start), then the test seam. True if it may go to the target.
 */
static enum pg_verdict stmt_verdict(struct rg_sess *s, enum rg_pg_stmt_kind kind,
				    const char *name, const char *sql, size_t len,
				    struct rg_pg_deny *d, struct pg_judgement *jo)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_judgement jl, *jp = jo ? jo : &jl;
	enum pg_verdict v;
	char sub[SUB_LOG_LEN];

	memset(d, 0, sizeof(*d));
	memset(jp, 0, sizeof(*jp));
	if (lexing_refused(s, sql, len, d))
		return PG_VERDICT_DENY;
	if (ps->internal)
		return PG_VERDICT_ALLOW; /* the catalog's own query (catalog.c) */
	v = pg_policy_judge(ps->gw, (unsigned)(ps->cnt - ps->gw->cnt), &ps->req, sql, len, d, jp);
	if (jp->rule)
		rg_gw_count_rule(ps->cnt, jp->rule, (enum rg_gw_verdict)v);
	ps->cnt->stmt_passed += v == PG_VERDICT_PASS;
	ps->cnt->stmt_allowed += v == PG_VERDICT_ALLOW;
	ps->cnt->stmt_logged += v == PG_VERDICT_LOG;
	ps->cnt->stmt_held += v == PG_VERDICT_HOLD;
	if (v == PG_VERDICT_HOLD && !jo) {
		/* only a Query or a Parse can be held: elsewhere it is refused */
		v = PG_VERDICT_DENY;
		snprintf(d->message, sizeof(d->message),
			 "statement requires approval (rule %s), which this message kind cannot "
			 "wait for: send it as a query",
			 jp->rule ? jp->rule : "-");
	}
	if (v == PG_VERDICT_HOLD)
		return v;

	if (v == PG_VERDICT_DENY || v == PG_VERDICT_LOG || jp->shadow_rule) {
		pg_sanitize(rg_auth_principal_sub(ps->ident), sub, sizeof(sub));
		if (v == PG_VERDICT_DENY)
			ps->cnt->stmt_denied++;
		rg_log("event=%s sess=%llu sub=%s target=%s kind=%s rule=%s%s%s sqlstate=%s",
		       v == PG_VERDICT_DENY  ? "stmt_denied"
		       : v == PG_VERDICT_LOG ? "stmt_logged"
					     : "stmt_allowed",
		       (unsigned long long)ps->id, sub, ps->tgt->cfg->name,
		       kind == RG_PG_STMT_QUERY	  ? "query"
		       : kind == RG_PG_STMT_PARSE ? "parse"
						  : "function_call",
		       jp->rule ? jp->rule : "-", jp->shadow_rule ? " shadow_rule=" : "",
		       jp->shadow_rule ? jp->shadow_rule : "",
		       v == PG_VERDICT_DENY ? d->sqlstate : "-");
	}
	if (v == PG_VERDICT_DENY)
		return v;
	return ps->gw->stmt_hook(ps->gw->hook_arg, &ps->si, kind, name, sql, len, d) ==
		       RG_PG_HOOK_ALLOW
		   ? PG_VERDICT_ALLOW
		   : PG_VERDICT_DENY;
}

/* A Query, Parse or FunctionCall: the lexing guard, then the policy bundle in force (none:
 * pass-through, said at start), then the test seam. True if it may go to the target; a
 * statement that needs approval is refused here (only stmt_verdict's callers hold). */
static bool stmt_allowed(struct rg_sess *s, enum rg_pg_stmt_kind kind, const char *name,
			 const char *sql, size_t len, struct rg_pg_deny *d)
{
	return stmt_verdict(s, kind, name, sql, len, d, NULL) == PG_VERDICT_ALLOW;
}

/* ---- SQL-level prepared statements ------------------------------------------------------ */

/* EXECUTE of a statement whose text is EXECUTE (a Parse may hold one) ... judged this deep. */
#define PREP_DEPTH_MAX 4

static bool prep_allowed(struct rg_sess *s, enum rg_pg_stmt_kind kind, const char *sql, size_t len,
			 unsigned depth, struct rg_pg_sqlfx **fx, uint32_t *nfx,
			 struct rg_pg_deny *d);

struct rejudge {
	struct rg_sess *s;
	enum rg_pg_stmt_kind kind;
	const char *name;
	unsigned depth;
	struct rg_pg_deny *d;
};

/* A prepared statement's stored text, judged again under the bundle in force: the policy,
 * then the statements it EXECUTEs in turn (rg_pg_stmt_rejudge's callback). */
static bool rejudge_text(void *arg, const char *sql, uint32_t len)
{
	struct rejudge *rj = arg;

	if (rj->depth > PREP_DEPTH_MAX) {
		memcpy(rj->d->sqlstate, "54001", 6);
		snprintf(rj->d->message, sizeof(rj->d->message),
			 "prepared statements EXECUTE each other too deeply for ringgate to judge");
		return false;
	}
	return stmt_allowed(rj->s, rj->kind, rj->name, sql, len, rj->d) &&
	       prep_allowed(rj->s, rj->kind, sql, len, rj->depth + 1, NULL, NULL, rj->d);
}

/*
 * What sql[0..len) (a Query's or a Parse's text, already allowed itself) does with SQL-level
 * prepared statements, read from the parse tree (rg_sqlclass_prep) only when one of the
 * keywords occurs. Each EXECUTE of a statement that a bundle older than the one in force
 * judged has that statement's text judged again (rg_pg_stmt_rejudge); when a version is
 * denied, so is this message (d filled, false). A statement PREPAREd earlier in the same
 * text was judged with it. With fx, its PREPARE / DEALLOCATE / DISCARD ALL are returned for
 * the tracker (*fx on the heap, the caller frees it; names copied, texts point into sql); a
 * PREPARE past the tracker's bounds is refused (54000). Costs nothing on a text without the
 * keywords, or an EXECUTE while every statement of the session was judged by the bundle in
 * force (rg_pg_stmt_stale).
 */
static bool prep_allowed(struct rg_sess *s, enum rg_pg_stmt_kind kind, const char *sql, size_t len,
			 unsigned depth, struct rg_pg_sqlfx **fx, uint32_t *nfx,
			 struct rg_pg_deny *d)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_sqlclass **c = &ps->gw->lex[ps->cnt - ps->gw->cnt];
	uint64_t cur = rg_gw_policy_gen(ps->gw->svc), bytes = 0;
	unsigned words = rg_sqlclass_prep_words(sql, len);
	struct rejudge rj = {s, kind, NULL, depth, d};
	const struct rg_sql_prep *v;
	struct rg_pg_sqlfx *out;
	char(*names)[64];
	bool exec, ok = true;
	uint32_t nout = 0, nprep = 0;
	size_t n, i, j;
	int r;

	if (fx) {
		*fx = NULL;
		*nfx = 0;
	}
	exec = (words & RG_SQL_PREP_WORD_EXECUTE) && cur && rg_pg_stmt_stale(&ps->mask->st, cur);
	if (!exec && (!fx || !(words & ~RG_SQL_PREP_WORD_EXECUTE)))
		return true;
	if (!*c && !(*c = rg_sqlclass_new()))
		r = -ENOMEM;
	else
		r = rg_sqlclass_prep(*c, sql, len, &v, &n);
	if (r == RG_SQL_UNPARSEABLE)
		return true; /* allowed unparsed by the bundle: the server refuses it too */
	if (r) {
		memcpy(d->sqlstate, r == -ENOMEM ? "53200" : "0A000", 6);
		snprintf(d->message, sizeof(d->message),
			 r == -ENOMEM ? "out of memory following prepared statements"
				      : "ringgate cannot follow prepared statements on this build");
		return false;
	}
	if (!n)
		return true;
	/* copied out: judging again reuses the parser's context and its output */
	out = calloc(n, sizeof(*out) + sizeof(*names));
	if (!out) {
		memcpy(d->sqlstate, "53200", 6);
		snprintf(d->message, sizeof(d->message),
			 "out of memory following prepared statements");
		return false;
	}
	names = (char(*)[64])(out + n);
	for (i = 0; i < n; i++) {
		memcpy(names[i], v[i].name ? v[i].name : "", v[i].name ? v[i].name_len + 1 : 1);
		out[i] = (struct rg_pg_sqlfx){
		    .kind = v[i].kind == RG_SQL_PREP_PREPARE	      ? RG_PG_FX_PREPARE
			    : v[i].kind == RG_SQL_PREP_DEALLOCATE     ? RG_PG_FX_DEALLOCATE
			    : v[i].kind == RG_SQL_PREP_DEALLOCATE_ALL ? RG_PG_FX_DEALLOCATE_ALL
			    : v[i].kind == RG_SQL_PREP_DISCARD_ALL    ? RG_PG_FX_DISCARD_ALL
								      : 0, /* EXECUTE */
		    .name = names[i],
		    .name_len = v[i].name ? v[i].name_len : 0,
		    .sql = sql + v[i].off,
		    .sql_len = (uint32_t)v[i].len,
		};
		if (out[i].kind == RG_PG_FX_PREPARE) {
			nprep++;
			bytes += v[i].len;
		}
	}
	for (i = 0; exec && ok && i < n; i++) {
		if (out[i].kind)
			continue;
		for (j = 0; j < i; j++) /* prepared by this very text: judged with it */
			if (out[j].kind == RG_PG_FX_PREPARE && !strcmp(names[j], names[i]))
				break;
		if (j == i)
			ok = rg_pg_stmt_rejudge(&ps->mask->st, names[i], out[i].name_len, cur,
						rejudge_text, &rj);
	}
	if (ok && fx && nprep && !rg_pg_stmt_room(&ps->mask->st, nprep, bytes)) {
		const struct rg_pg_stmt_limits *lim = ps->mask->st.lim;
		memcpy(d->sqlstate, "54000", 6);
		snprintf(d->message, sizeof(d->message),
			 "ringgate follows at most %u prepared statements and %u bytes of their "
			 "text per session: DEALLOCATE some first",
			 lim->max_statements, lim->max_sql_bytes);
		ok = false;
	}
	if (ok && fx) {
		for (i = 0; i < n; i++) /* EXECUTE is not the tracker's business */
			if (out[i].kind)
				out[nout++] = out[i];
		if (nout) {
			*fx = out;
			*nfx = nout;
			return true;
		}
	}
	free(out);
	return ok;
}

/*
 * Scope limit k was exceeded (count is what it reached; 0 for the time limits): the session
 * ends with a FATAL that names the limit, its value and the entry that set it, and one log
 * line with the identity. Returns true (so callers can `return !pg_limit_exceeded(...)`).
 */
bool pg_limit_exceeded(struct rg_sess *s, enum rg_limit_kind k, uint64_t count)
{
	struct pg_sess *ps = rg_sess_priv(s);
	char v[32], why[160], msg[200], sub[SUB_LOG_LEN];

	rg_limit_format_value(k, ps->lim->value[k], v, sizeof(v));
	rg_gw_limits_reason(ps->lim, k, why, sizeof(why));
	snprintf(msg, sizeof(msg), "terminating connection: %s", why);
	pg_sanitize(rg_auth_principal_sub(ps->ident), sub, sizeof(sub));
	ps->cnt->limit_ended++;
	pg_ev_limit(ps, rg_limit_name(k), v, count, ps->lim->id[k]);
	rg_log("event=limit_exceeded sess=%llu peer=%s sub=%s target=%s limit=%s value=%s "
	       "count=%llu id=%s",
	       (unsigned long long)ps->id, ps->peer, sub, ps->tgt->cfg->name, rg_limit_name(k), v,
	       (unsigned long long)count, ps->lim->id[k]);
	pg_close_fatal(s, rg_limit_sqlstate(k), msg);
	return true;
}

/* Count add more toward limit k; true when that exceeds it: what was forwarded so far
 * (run, towards `to`) is sent first, then the session ends. */
static inline bool limit_count(struct rg_sess *s, struct pg_sess *ps, enum rg_limit_kind k,
			       uint64_t *counter, uint64_t add, enum rg_side to,
			       struct fwd_run *run, int *err)
{
	*counter += add;
	if (!ps->lim->id[k][0] || *counter <= ps->lim->value[k])
		return false;
	if (run)
		pg_run_flush(s, to, run, err);
	return pg_limit_exceeded(s, k, *counter);
}

/* ---- inline masking (rows.c) ----------------------------------------------------------- */

/*
 * At login, under a bundle: the statement tracker (stmt.c) follows the session so that its
 * results can be masked and a named statement judged by an older bundle is judged again at
 * its next Bind. Without a bundle nothing is tracked.
 */
bool pg_mask_start(struct pg_sess *ps)
{
	struct rg_policy_ctx *ctx;
	struct rg_pg_rowmask *rm;
	uint64_t gen;

	(void)pg_policy_masking(ps->gw, (unsigned)(ps->cnt - ps->gw->cnt), &ctx, &rm, &gen);
	if (!gen || !rg_gw_policy_gen(ps->gw->svc))
		return true;
	ps->mask = calloc(1, sizeof(*ps->mask));
	if (!ps->mask)
		return false;
	rg_pg_stmt_init(&ps->mask->st, NULL);
	ps->mask->plan = rg_policy_mask_plan_new();
	if (!ps->mask->plan)
		return false;
	/* rows and the messages that shape them are held whole to be masked: only beyond this
	 * are they streamed, and a masking session then refuses them (fail closed) */
	ps->fs.stream_min = ps->bs.stream_min = PG_MASK_HOLD_MAX;
	return true;
}

void pg_mask_free(struct pg_sess *ps)
{
	if (!ps->mask)
		return;
	rg_pg_stmt_free(&ps->mask->st);
	rg_policy_mask_plan_free(ps->mask->plan);
	rg_acc_free(&ps->mask->out);
	if (ps->mask->cat) {
		pg_catalog_unwait(ps->gw->catalog, &ps->mask->cat->wait);
		rg_acc_free(&ps->mask->cat->held);
		free(ps->mask->cat);
	}
	rg_acc_free(&ps->mask->plan_cols);
	free(ps->mask);
	ps->mask = NULL;
}

/* The tracker and the target disagree, or a bound was reached: masking must not guess. */
static void mask_fail(struct rg_sess *s, int err, const char *what)
{
	struct pg_sess *ps = rg_sess_priv(s);

	rg_log("event=mask_fail sess=%llu peer=%s target=%s what=%s err=%d",
	       (unsigned long long)ps->id, ps->peer, ps->tgt->cfg->name, what, err);
	if (err == RG_PG_STMT_E_LIMIT || err == RG_PG_MASK_E_TOO_LONG)
		pg_close_fatal(s, "54000", "the session exceeds what ringgate can mask");
	else if (err == RG_PG_STMT_E_NOMEM || err == RG_PG_MASK_E_NOMEM)
		pg_close_fatal(s, "53200", "out of memory");
	else if (err == RG_PG_MASK_E_UNSUPPORTED)
		pg_close_fatal(s, "0A000", "COPY data ringgate cannot read cannot be masked");
	else
		pg_close_fatal(s, "08006", "ringgate lost track of the results to mask");
}

/* A frontend message about to be forwarded: the tracker follows it; past its soft bound the
 * agent is not read until answers drain (see rg_pg_stmt_pause). */
static bool mask_fe(struct rg_sess *s, const struct rg_pg_msg *m, const struct rg_pg_sqlfx *fx,
		    uint32_t nfx)
{
	struct pg_sess *ps = rg_sess_priv(s);
	int r = rg_pg_stmt_fe_sql(&ps->mask->st, m, rg_gw_policy_gen(ps->gw->svc), fx, nfx);

	if (r) {
		mask_fail(s, r, "frontend");
		return false;
	}
	if (!ps->mask->paused && rg_pg_stmt_pause(&ps->mask->st)) {
		ps->mask->paused = true;
		rg_sess_pause(s, RG_FE);
	}
	return true;
}

bool pg_mask_fe(struct rg_sess *s, const struct rg_pg_msg *m)
{
	return mask_fe(s, m, NULL, 0);
}

/* The message at *off of a buffer of whole messages kept by the session (a catalog wait's,
 * a held statement's): 1 and *m, *off past it; 0 at the end; -1 if what is there is not a
 * whole message (it was framed when kept: a bug, failed closed by the callers). */
static int held_next(const struct rg_acc *a, size_t *off, struct rg_pg_msg *m)
{
	size_t total;

	if (*off >= a->len)
		return 0;
	if (a->len - *off < 5)
		return -1;
	total = 1 + ((size_t)a->p[*off + 1] << 24 | (size_t)a->p[*off + 2] << 16 |
		     (size_t)a->p[*off + 3] << 8 | a->p[*off + 4]);
	if (total > a->len - *off || rg_pg_msg_view(a->p + *off, total, m))
		return -1;
	*off += total;
	return 1;
}

/* ---- result column origins (catalog.c) ------------------------------------------------- */

static bool mask_be(struct rg_sess *s, const struct rg_pg_msg *m, const struct rg_pg_shape *shape,
		    struct fwd_run *run, int *err, bool *sent);

/* The (table OID, attnum) of each column of shape, as a plan cache key. */
static bool same_cols(const struct pg_mask *mk, const struct rg_pg_shape *shape)
{
	const uint8_t *k = mk->plan_cols.p;

	if (!shape || !shape->described || mk->plan_cols.len != (size_t)shape->ncols * 6)
		return false;
	for (uint16_t i = 0; i < shape->ncols; i++, k += 6) {
		uint32_t oid;
		int16_t att;

		memcpy(&oid, k, 4);
		memcpy(&att, k + 4, 2);
		if (oid != shape->cols[i].table_oid || att != shape->cols[i].attnum)
			return false;
	}
	return true;
}

static int keep_cols(struct pg_mask *mk, const struct rg_pg_shape *shape)
{
	mk->plan_cols.len = 0;
	for (uint16_t i = 0; i < shape->ncols; i++)
		if (rg_acc_append(&mk->plan_cols, &shape->cols[i].table_oid, 4) ||
		    rg_acc_append(&mk->plan_cols, &shape->cols[i].attnum, 2)) {
			mk->plan_catver = 0;
			return -ENOMEM;
		}
	return 0;
}

/* A target message while the session waits for a catalog read: kept, in order; past
 * PG_CAT_HOLD_PAUSE the target is not read until the wait ends. False: out of memory. */
static bool hold_be(struct rg_sess *s, const struct rg_pg_msg *m, int *err)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_cat_hold *ch = ps->mask->cat;

	if (rg_acc_append(&ch->held, m->start, m->total)) {
		*err = -ENOMEM;
		return false;
	}
	if (ch->held.len > PG_CAT_HOLD_PAUSE && !ch->be_paused) {
		ch->be_paused = true;
		rg_sess_pause(s, RG_BE);
	}
	return true;
}

/* The origins of shape's columns (pg_catalog_origins); a session that must wait gets its
 * waiter the first time (most never wait). */
static enum pg_cat_ans cat_origins(struct rg_sess *s, const struct rg_pg_shape *shape,
				   const char *const **origins)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_mask *mk = ps->mask;
	size_t target = (size_t)(ps->tgt - ps->gw->targets);
	unsigned w = (unsigned)(ps->cnt - ps->gw->cnt);
	enum pg_cat_ans a;

	a = pg_catalog_origins(ps->gw->catalog, target, shape->cols, shape->ncols,
			       mk->cat ? &mk->cat->wait : NULL, w, origins);
	if (a != PG_CAT_WAIT || mk->cat)
		return a;
	if (!(mk->cat = calloc(1, sizeof(*mk->cat))))
		return PG_CAT_FAILED;
	mk->cat->wait.s = s;
	return pg_catalog_origins(ps->gw->catalog, target, shape->cols, shape->ncols,
				  &mk->cat->wait, w, origins);
}

/* The catalog could not be read: a column rule might apply to this result, so it is not
 * relayed unmasked; the session ends. */
static void catalog_fail(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);

	rg_log("event=mask_fail sess=%llu peer=%s target=%s what=catalog",
	       (unsigned long long)ps->id, ps->peer, ps->tgt->cfg->name);
	pg_close_fatal(s, "58000",
		       "ringgate could not read the target's catalog to apply column masks");
}

/* An ALTER (a rename keeps the OID), DO or CALL completed: they may have changed names. */
static bool alters_names(const struct rg_pg_msg *m)
{
	const char *tag = (const char *)m->body;

	if (!m->body_len || tag[m->body_len - 1])
		return false;
	return !strncmp(tag, "ALTER ", 6) || !strcmp(tag, "DO") || !strcmp(tag, "CALL");
}

void pg_catalog_resume(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_mask *mk = ps->mask;
	struct fwd_run run = {0};
	struct rg_acc held;
	struct rg_pg_msg m;
	size_t off = 0;
	bool first = true, sent;
	int err = 0, r;

	if (!mk || !mk->cat || !mk->cat->waiting)
		return;
	held = mk->cat->held;
	memset(&mk->cat->held, 0, sizeof(mk->cat->held));
	mk->cat->waiting = false;
	while (!err && ps->fe != FE_CLOSING && (r = held_next(&held, &off, &m))) {
		if (r < 0) {
			mask_fail(s, RG_PG_STMT_E_PROTO, "held");
			break;
		}
		if (first) {
			/* the row that waited went through the tracker and the limits already */
			first = false;
			if (!mask_be(s, &m, mk->st.shape_valid ? &mk->st.shape : NULL, &run, &err,
				     &sent))
				break;
			if (!sent)
				pg_forward(s, RG_FE, &run, NULL, m.start, m.total, true, &err);
		} else if (!pg_be_relay_msg(s, &m, &run, NULL, true, &err)) {
			break;
		}
	}
	rg_acc_free(&held);
	pg_run_flush(s, RG_FE, &run, &err);
	if (err) {
		rg_sess_abort(s);
		return;
	}
	if (!mk->cat->waiting && mk->cat->be_paused) {
		mk->cat->be_paused = false;
		rg_sess_resume(s, RG_BE);
	}
}

/*
 * A backend message in a masking session: fed to the tracker, then a DataRow, an
 * ErrorResponse / NoticeResponse or a COPY TO STDOUT row is masked. *sent: the masked
 * message was sent in place of the original (forward nothing). False: the session ended.
 */
static bool mask_be(struct rg_sess *s, const struct rg_pg_msg *m, const struct rg_pg_shape *shape,
		    struct fwd_run *run, int *err, bool *sent)
{
	static const char *const none[1] = {NULL};
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_mask *mk = ps->mask;
	struct rg_policy_ctx *ctx;
	struct rg_pg_rowmask *rm;
	const struct rg_mask_plan *plan;
	uint64_t gen, serial;
	int format = 0, r;

	*sent = false;
	if (m->type != RG_PG_BE_DATA_ROW && m->type != RG_PG_BE_ERROR &&
	    m->type != RG_PG_BE_NOTICE && m->type != RG_PG_BE_FUNCTION_RESULT &&
	    !(m->type == RG_PG_BE_COPY_DATA && rg_pg_stmt_copy(&mk->st, &format) == RG_PG_COPY_OUT))
		return true;
	if (!pg_policy_masking(ps->gw, (unsigned)(ps->cnt - ps->gw->cnt), &ctx, &rm, &gen) || !ctx)
		return true; /* a reload took the mask rules away */
	/* the plan is per session: for this result's columns (origins not resolved yet:
	 * detector rules), or for no columns (notices, COPY) */
	serial = m->type == RG_PG_BE_DATA_ROW && shape ? shape->serial : UINT64_MAX;
	plan = mk->plan_serial == serial && mk->plan_gen == gen
		   ? rg_policy_mask_plan_get(mk->plan, ctx)
		   : NULL;
	/* a new result with the columns of the last one (the next Execute of a statement, the
	 * same query again): its plan holds while the bundle and the catalog's answers do */
	if (!plan && serial != UINT64_MAX && mk->plan_catver && mk->plan_gen == gen &&
	    same_cols(mk, shape) &&
	    mk->plan_catver == pg_catalog_version(ps->gw->catalog,
						  (size_t)(ps->tgt - ps->gw->targets)) &&
	    (plan = rg_policy_mask_plan_get(mk->plan, ctx)))
		mk->plan_serial = serial;
	if (!plan) {
		uint64_t catver = 0;
		const char *const *origins = none;
		size_t norigins = 0;

		if (m->type == RG_PG_BE_DATA_ROW && shape && shape->described)
			catver = pg_catalog_version(ps->gw->catalog,
						    (size_t)(ps->tgt - ps->gw->targets));
		switch (m->type == RG_PG_BE_DATA_ROW && shape && shape->described
				? cat_origins(s, shape, &origins)
				: PG_CAT_NONE) {
		case PG_CAT_NONE:
			break;
		case PG_CAT_READY:
			norigins = shape->ncols;
			break;
		case PG_CAT_WAIT:
			/* this row and what follows wait, in order, for the catalog read */
			mk->cat->waiting = true;
			*sent = true;
			return hold_be(s, m, err);
		case PG_CAT_FAILED:
			pg_run_flush(s, RG_FE, run, err);
			catalog_fail(s);
			return false;
		}
		if (rg_policy_mask_plan_build(ctx, &ps->req, origins, norigins, mk->plan, &plan) ||
		    (catver && keep_cols(mk, shape))) {
			mask_fail(s, RG_PG_MASK_E_NOMEM, "plan");
			return false;
		}
		mk->plan_serial = serial;
		mk->plan_gen = gen;
		mk->plan_catver = catver; /* read before the lookup: a change since rebuilds */
	}
	mk->out.len = 0;
	if (m->type == RG_PG_BE_DATA_ROW)
		r = rg_pg_mask_datarow(ctx, plan, shape, m, rm, &mk->out);
	else if (m->type == RG_PG_BE_COPY_DATA)
		r = rg_pg_mask_copy_data(ctx, plan, format, m, rm, &mk->out);
	else if (m->type == RG_PG_BE_FUNCTION_RESULT)
		r = rg_pg_mask_fcall_result(ctx, plan, m, rm, &mk->out);
	else
		r = rg_pg_mask_notice(ctx, plan, m, rm, &mk->out);
	if (r < 0) {
		pg_run_flush(s, RG_FE, run, err);
		mask_fail(s, r, "mask");
		return false;
	}
	if (r == RG_PG_MASK_REWRITTEN) {
		ps->cnt->rows_masked++;
		for (uint32_t hit = rm->hit; hit; hit &= hit - 1)
			ps->cnt->mask_det[__builtin_ctz(hit)]++;
		if (ps->ev)
			pg_ev_masked(ps, rm->hit);
		pg_run_flush(s, RG_FE, run, err);
		if (!*err && ps->rec)
			pg_rec_out(ps, mk->out.p, mk->out.len);
		if (!*err)
			*err = rg_sess_send(s, RG_FE, mk->out.p, mk->out.len);
		*sent = true;
	}
	return true;
}

/* ---- runs of DataRows (rows.c: rg_pg_rowrun_*) ------------------------------------------ */

/*
 * The session's plan for DataRows of shape as mask_be would use it, when mask_be has it
 * ready (this result's rows already met it): 1, *ctx and *plan set; 0: no masking applies
 * (*ctx NULL); -1: mask_be must work it out (a new result, a new bundle). Asked again after
 * every message the per-message path takes: a call into the policy may switch the worker
 * to a new bundle and free the context of the old one (engine/gateway/policy.c, worker_ctx).
 */
static int rows_plan(struct rg_sess *s, const struct rg_pg_shape *shape, struct rg_policy_ctx **ctx,
		     const struct rg_mask_plan **plan)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_mask *mk = ps->mask;
	struct rg_pg_rowmask *rm;
	uint64_t gen;

	*plan = NULL;
	if (!pg_policy_masking(ps->gw, (unsigned)(ps->cnt - ps->gw->cnt), ctx, &rm, &gen) ||
	    !*ctx) {
		*ctx = NULL;
		return 0;
	}
	if (mk->plan_serial != shape->serial || mk->plan_gen != gen ||
	    !(*plan = rg_policy_mask_plan_get(mk->plan, *ctx)))
		return -1;
	return 1;
}

/* What the run fast path needs to hold for the session now; false: the per-message path. */
static bool rows_ready(struct rg_sess *s, const struct rg_pg_shape **shape,
		       struct rg_policy_ctx **ctx, const struct rg_mask_plan **plan)
{
	struct pg_sess *ps = rg_sess_priv(s);

	*shape = NULL;
	*ctx = NULL;
	*plan = NULL;
	if (ps->gw->row_hook_set)
		return false;
	if (!ps->mask)
		return true;
	if ((ps->mask->cat && ps->mask->cat->waiting) || !(*shape = rg_pg_stmt_rows(&ps->mask->st)))
		return false;
	return rows_plan(s, *shape, ctx, plan) >= 0;
}

/*
 * Whole DataRows at b->data[off..) while relaying, between messages (be_process): framed as
 * one run, and in a masking session proven in one prefilter pass to need no masking; the
 * rows proven are forwarded by reference in one piece with the limits counted at once, what
 * the tracker would check of each (its field count) checked while framing. A row not proven
 * goes through pg_be_relay_msg as every message otherwise does, then the run goes on if
 * nothing the proof rests on changed. So each row is forwarded, masked or refused exactly as
 * the per-message path would. *used: the bytes taken (0: nothing for this path here).
 * False: stop, as pg_be_relay_msg's false.
 */
bool pg_be_rows(struct rg_sess *s, struct rg_buf *b, size_t off, struct fwd_run *run, size_t *used,
		int *err)
{
	struct pg_sess *ps = rg_sess_priv(s);
	const struct rg_pg_shape *shape, *sh2;
	const struct rg_mask_plan *plan, *pl2;
	struct rg_policy_ctx *ctx, *ctx2;
	struct rg_pg_rowrun rr;
	const uint8_t *p = b->data + off;
	size_t at = 0, framed, end;
	uint32_t rows_left, k;

	uint64_t serial;

	*used = 0;
	if (!rows_ready(s, &shape, &ctx, &plan))
		return true;
	serial = shape ? shape->serial : 0;
	framed = rg_pg_rowrun_frame(&rr, p, b->len - off, ps->bs.lim->max[RG_PG_BE_DATA_ROW],
				    shape ? shape->ncols : -1);
	rows_left = rr.rows;
	while (at < framed && !*err) {
		struct rg_pg_msg m;

		if (ctx) {
			end = rg_pg_rowrun_clear(&rr, ctx, plan, shape, at, &k);
		} else {
			end = framed;
			k = rows_left;
		}
		if (end > at && rg_gw_limits_rows_run(ps->lim, k, end - at)) {
			if (ps->ev)
				pg_ev_rows(ps, k, end - at);
			pg_forward(s, RG_FE, run, b, p + at, end - at, false, err);
			rows_left -= k;
			at = end;
			continue;
		}
		/* the row at `at`, as any message */
		if (rg_pg_msg_view(p + at,
				   1 + ((size_t)p[at + 1] << 24 | (size_t)p[at + 2] << 16 |
					(size_t)p[at + 3] << 8 | p[at + 4]),
				   &m)) {
			*err = -EINVAL; /* framed above: cannot happen */
			break;
		}
		at += m.total;
		rows_left--;
		if (!pg_be_relay_msg(s, &m, run, b, false, err)) {
			*used = at;
			return false;
		}
		if (!rows_ready(s, &sh2, &ctx2, &pl2) || sh2 != shape || ctx2 != ctx ||
		    pl2 != plan || (sh2 && sh2->serial != serial))
			break; /* the caller frames again what is left */
	}
	*used = at;
	return true;
}

/*
 * The message a denied one becomes on the wire to the target: `type`, then `name` (with its
 * NUL) when given, DENY_SQL with its NUL, then `zeros` zero bytes (the empty counts of a
 * Parse or Bind). Denials are rare: built on the heap. NULL when out of memory.
 */
static uint8_t *deny_msg(uint8_t type, const char *name, size_t nlen, size_t zeros, size_t *len)
{
	size_t nl = name ? nlen + 1 : 0;
	uint8_t *b;

	*len = 1 + 4 + nl + sizeof(DENY_SQL) + zeros;
	b = calloc(1, *len);
	if (!b)
		return NULL;
	b[0] = type;
	b[1] = (uint8_t)((*len - 1) >> 24), b[2] = (uint8_t)((*len - 1) >> 16);
	b[3] = (uint8_t)((*len - 1) >> 8), b[4] = (uint8_t)(*len - 1);
	if (name)
		memcpy(b + 5, name, nlen);
	memcpy(b + 5 + nl, DENY_SQL, sizeof(DENY_SQL));
	return b;
}

/* Send b (from deny_msg, freed here) in place of a denied message and remember the denial
 * for sync point seq; the tracker follows what the target really gets. */
static void deny_send(struct rg_sess *s, uint8_t *b, size_t len, uint64_t seq,
		      const struct rg_pg_deny *d, struct fwd_run *run, int *err)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_pg_msg m;

	pg_run_flush(s, RG_BE, run, err);
	if (!*err)
		*err = b ? rg_sess_send(s, RG_BE, b, len) : -ENOMEM;
	if (!*err) {
		deny_push(s, seq, d);
		if (ps->mask && rg_pg_msg_view(b, len, &m) == 0)
			(void)pg_mask_fe(s, &m);
	}
	free(b);
	if (ps->lim && !*err)
		(void)limit_count(s, ps, RG_LIMIT_DENIALS, &ps->lim->count[RG_LIMIT_DENIALS], 1, RG_BE, NULL, err);
}

/* Send the target DENY_SQL in place of a denied message (a Query, a FunctionCall, or a
 * Parse under the agent's statement name) and remember the denial for sync point seq. */
void pg_deny_forward(struct rg_sess *s, const char *parse_name, uint64_t seq,
		     const struct rg_pg_deny *d, struct fwd_run *run, int *err)
{
	size_t len;
	uint8_t *b = parse_name ? deny_msg(RG_PG_FE_PARSE, parse_name, strlen(parse_name), 2, &len)
				: deny_msg(RG_PG_FE_QUERY, NULL, 0, 0, &len);

	deny_send(s, b, len, seq, d, run, err);
}

/*
 * A Bind of a named statement (prepared by Parse or by SQL PREPARE) judged by an older
 * bundle than the one in force (a reload came in between): its SQL text is judged again, as
 * at Parse, and so is every other version of that name a still unanswered Parse or PREPARE
 * may leave (rg_pg_stmt_rejudge). Denied, the Bind goes to the target naming DENY_SQL as its
 * statement, which does not exist: the server fails it as any failing Bind (26000, skip to
 * Sync) and that error is replaced by the denial. False when the Bind was replaced (or the
 * session ended).
 */
static bool bind_allowed(struct rg_sess *s, const struct rg_pg_msg *m, struct fwd_run *run,
			 int *err)
{
	struct pg_sess *ps = rg_sess_priv(s);
	uint64_t cur = rg_gw_policy_gen(ps->gw->svc);
	struct rg_pg_bind bd;
	struct rg_pg_deny d;
	struct rejudge rj = {s, RG_PG_STMT_PARSE, NULL, 1, &d};
	uint8_t *b;
	size_t len;

	memset(&d, 0, sizeof(d));
	if (!cur || rg_pg_read_bind(m, &bd) || !bd.stmt_len)
		return true;
	rj.name = bd.stmt;
	if (rg_pg_stmt_rejudge(&ps->mask->st, bd.stmt, bd.stmt_len, cur, rejudge_text, &rj))
		return true;
	/* Bind: the agent's portal, DENY_SQL as the statement, no parameters, no formats */
	b = deny_msg(RG_PG_FE_BIND, bd.portal, bd.portal_len, 6, &len);
	deny_send(s, b, len, ps->syncs_sent + 1, &d, run, err);
	return false;
}

/*
 * A FunctionCall (fast-path call by OID, body starting with the OID): refused while a policy
 * bundle is in force, since rules name functions and the OID is not resolved to a name yet
 * (fail closed), and always for set_config() (the lexing guard: pg_proc.dat's fixed OID).
 * True when refused, with d filled.
 */
/* Built-in functions clients call over the fast-path protocol (libpq's lo_* API), by the
 * OIDs PostgreSQL's pg_proc.dat gives them (the same in every release since they exist). */
static const struct {
	uint32_t oid;
	const char *name;
} fastpath_fns[] = {
    {715, "lo_create"},	     {952, "lo_open"},	    {953, "lo_close"},	  {954, "loread"},
    {955, "lowrite"},	     {956, "lo_lseek"},	    {957, "lo_creat"},	  {958, "lo_tell"},
    {964, "lo_unlink"},	     {1004, "lo_truncate"}, {3170, "lo_lseek64"}, {3171, "lo_tell64"},
    {3172, "lo_truncate64"},
};

static uint32_t rd_oid(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

bool pg_function_call_refused(struct rg_sess *s, const uint8_t *body, size_t n,
			      struct rg_pg_deny *d)
{
	struct pg_sess *ps = rg_sess_priv(s);
	uint32_t oid = n >= 4 ? (uint32_t)body[0] << 24 | (uint32_t)body[1] << 16 |
				    (uint32_t)body[2] << 8 | body[3]
			      : 0;

	memset(d, 0, sizeof(*d));
	memcpy(d->sqlstate, "42501", 6);
	if (oid == PG_OID_SET_CONFIG) {
		ps->cnt->lexing_denied++;
		snprintf(d->message, sizeof(d->message),
			 "set_config() through the function-call protocol is not allowed "
			 "through ringgate");
		return true;
	}
	if (!rg_gw_policy_gen(ps->gw->svc))
		return false;
	/* A built-in function's OID is fixed by pg_proc.dat (below FirstNormalObjectId): the
	 * large-object ones libpq's lo_* call this way are judged as the SQL call they are. */
	for (size_t i = 0; i < sizeof(fastpath_fns) / sizeof(fastpath_fns[0]); i++) {
		char sql[64];

		if (fastpath_fns[i].oid != oid)
			continue;
		snprintf(sql, sizeof(sql), "SELECT pg_catalog.%s()", fastpath_fns[i].name);
		return !stmt_allowed(s, RG_PG_STMT_FUNCTION_CALL, NULL, sql, strlen(sql), d);
	}
	/* Any other: judged as the call of the function the target's catalog names (read at
	 * start and again when an OID is not in it; the call does not wait for that read). */
	{
		char name[2 * 2 * 64 + 8], sql[sizeof(name) + 16];
		int k = pg_catalog_proc(ps->gw->catalog, (size_t)(ps->tgt - ps->gw->targets), oid,
					name, sizeof(name));

		if (k == 1) {
			snprintf(sql, sizeof(sql), "SELECT %s()", name);
			return !stmt_allowed(s, RG_PG_STMT_FUNCTION_CALL, NULL, sql, strlen(sql), d);
		}
		ps->cnt->stmt_denied++;
		snprintf(d->message, sizeof(d->message),
			 "fast-path call of function OID %u: %s", oid,
			 k == 0 ? "no such function in the target's catalog as ringgate last read it "
				  "(read again now: retry)"
				: "ringgate has not read the target's catalog (yet): retry");
		rg_log("event=stmt_denied sess=%llu target=%s kind=function_call oid=%u rule=- "
		       "reason=%s sqlstate=42501",
		       (unsigned long long)ps->id, ps->tgt->cfg->name, oid,
		       k == 0 ? "unknown_oid" : "no_catalog");
		return true;
	}
}

/* ---- statements held for approval (engine/approvals) --------------------------------------- */

/* A message the agent sent after a held one: kept behind it. */
static bool appr_keep(struct rg_sess *s, const struct rg_pg_msg *m, int *err)
{
	struct pg_sess *ps = rg_sess_priv(s);

	if (ps->appr->held.len + m->total > PG_APPR_HOLD_MAX) {
		pg_close_fatal(s, "54000", "too much sent behind a statement awaiting approval");
		return false;
	}
	if (rg_acc_append(&ps->appr->held, m->start, m->total)) {
		*err = -ENOMEM;
		return false;
	}
	/* the agent is read on (a hang-up is seen at once) until this much waits */
	if (ps->appr->held.len > PG_APPR_READ_MAX && !ps->appr->paused) {
		ps->appr->paused = true;
		rg_sess_pause(s, RG_FE);
	}
	return true;
}

/* The fingerprint of what is held, as 16 hex digits: every statement's, combined. */
static void appr_fingerprint(struct rg_sess *s, const char *sql, size_t len, char out[17])
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_sqlclass **c = &ps->gw->lex[ps->cnt - ps->gw->cnt];
	struct rg_sql_facts f;
	uint64_t h = 0;

	if ((*c || (*c = rg_sqlclass_new())) &&
	    !rg_sqlclass_run(*c, sql, len, RG_SQLCLASS_FINGERPRINT, &f))
		for (size_t i = 0; i < f.nfingerprints; i++)
			h = h * 0x100000001b3ull ^ f.fingerprints[i];
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* On the worker holding the session (engine/approvals): the request of h ended. */
static void appr_released(struct rg_approvals_hold *a, enum rg_appr_status st, const char *by,
			  const char *reason)
{
	pg_appr_release(a->sess, st, by, reason);
}

/* Ask for a reviewer for the statement h holds (h->a.fp and h->a.rule set). */
static int appr_request(struct rg_sess *s, struct pg_appr_hold *h, const char *sql, size_t len,
			const struct pg_judgement *j)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_approvals_ask q = {.who = ps->ident,
				     .peer = ps->peer,
				     .target = ps->tgt->cfg->name,
				     .reviewers = j->approval_group,
				     .scope = j->approval_scope,
				     .ttl_s = j->approval_ttl_s,
				     .expire_s = j->approval_expire_s,
				     .sql = sql,
				     .len = len};

	h->a.release = appr_released;
	h->a.sess = s;
	h->a.sess_id = ps->id;
	return rg_approvals_request(ps->gw->approvals, (unsigned)(ps->cnt - ps->gw->cnt), &h->a,
				    &q);
}

/*
 * A Query or Parse needs approval: unless a fingerprint approval covers it, keep it (and
 * what follows) until the request ends, and tell the agent why it waits. True when held;
 * false: it goes on as allowed (a grant), or *err is set.
 */
static bool appr_hold(struct rg_sess *s, const struct rg_pg_msg *m, const char *sql, size_t len,
		      const char *parse_name, uint64_t seq, const struct rg_pg_deny *d,
		      const struct pg_judgement *j, struct fwd_run *run, int *err)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_appr_hold *h = calloc(1, sizeof(*h));
	struct rg_pg_notice n = {0};
	char msg[400], sub[SUB_LOG_LEN];
	uint8_t buf[600];
	const char *url = rg_approvals_url(ps->gw->approvals);
	ssize_t nb;

	if (!h) {
		*err = -ENOMEM;
		return true;
	}
	appr_fingerprint(s, sql, len, h->a.fp);
	if (rg_approvals_granted(ps->gw->approvals, rg_auth_principal_iss(ps->ident),
				 rg_auth_principal_sub(ps->ident), ps->tgt->cfg->name, h->a.fp)) {
		pg_sanitize(rg_auth_principal_sub(ps->ident), sub, sizeof(sub));
		rg_log("event=approval_grant_used sess=%llu sub=%s target=%s rule=%s fp=%s",
		       (unsigned long long)ps->id, sub, ps->tgt->cfg->name, j->rule ? j->rule : "-",
		       h->a.fp);
		free(h);
		return false;
	}
	h->parse = parse_name != NULL;
	h->seq = seq;
	h->gen = j->gen;
	h->d = *d;
	snprintf(h->a.rule, sizeof(h->a.rule), "%s", j->rule ? j->rule : "-");
	if ((parse_name && !(h->parse_name = strdup(parse_name))) ||
	    rg_acc_append(&h->held, m->start, m->total) ||
	    appr_request(s, h, sql, len, j)) {
		free(h->parse_name);
		rg_acc_free(&h->held);
		free(h);
		/* it cannot wait: refused as a denial would be */
		struct rg_pg_deny nd = *d;

		memcpy(nd.sqlstate, "53200", 6);
		snprintf(nd.message, sizeof(nd.message),
			 "statement requires approval and ringgate could not hold it (out of memory)");
		pg_deny_forward(s, parse_name, seq, &nd, run, err);
		return true;
	}
	ps->appr = h;
	/* nothing runs on the target ahead of it: a cancel is for the held statement only */
	h->held_only = ps->key_registered &&
		       (ps->mask ? !rg_pg_stmt_pending(&ps->mask->st)
				 : ps->rfq_recv + (h->parse ? 0 : 1) == ps->syncs_sent);
	if (h->held_only)
		rg_pg_cancel_set_held_only(ps->gw->cancel, ps->key_pid, ps->key_key, true);
	snprintf(msg, sizeof(msg), "waiting for approval %s (rule %s)%s%s%s", h->a.id, h->a.rule,
		 url[0] ? ": " : "", url, url[0] ? "/#/approvals/" : "");
	if (url[0])
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "%s", h->a.id);
	n.severity = n.severity_nl = "NOTICE";
	n.sqlstate = "00000";
	n.message = msg;
	nb = rg_pg_write_notice(buf, sizeof(buf), 'N', &n);
	pg_run_flush(s, RG_FE, run, err);
	if (!*err && nb > 0 && (size_t)nb <= sizeof(buf)) {
		if (ps->rec)
			pg_rec_out(ps, buf, (size_t)nb);
		*err = rg_sess_send(s, RG_FE, buf, (size_t)nb);
	}
	pg_sanitize(rg_auth_principal_sub(ps->ident), sub, sizeof(sub));
	rg_log("event=stmt_held sess=%llu sub=%s target=%s rule=%s id=%s kind=%s",
	       (unsigned long long)ps->id, sub, ps->tgt->cfg->name, h->a.rule, h->a.id,
	       parse_name ? "parse" : "query");
	return true;
}

void pg_appr_free(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_appr_hold *h = ps->appr;

	if (!h)
		return;
	ps->cnt->appr_by[RG_APPR_ABANDONED]++;
	rg_approvals_end(ps->gw->approvals, &h->a, RG_APPR_ABANDONED);
	ps->appr = NULL;
	free(h->parse_name);
	rg_acc_free(&h->held);
	free(h);
}

/* The statement text of the held message m (its Query's, or its Parse's with the name). */
static bool appr_sql(const struct pg_appr_hold *h, const struct rg_pg_msg *m, const char **name,
		     const char **sql, size_t *len)
{
	struct rg_pg_query q;
	struct rg_pg_parse pa;

	*name = NULL;
	if (!h->parse && !rg_pg_read_query(m, &q)) {
		*sql = q.sql, *len = q.len;
		return true;
	}
	if (h->parse && !rg_pg_read_parse(m, &pa)) {
		*name = pa.stmt, *sql = pa.query, *len = pa.query_len;
		return true;
	}
	return false;
}

void pg_appr_release(struct rg_sess *s, enum rg_appr_status st, const char *by,
		     const char *reason)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_appr_hold *h = ps->appr;
	struct fwd_run run = {0};
	struct pg_judgement j;
	struct rg_pg_deny d;
	struct rg_pg_msg m;
	enum rg_pg_stmt_kind kind;
	const char *name, *sql = NULL;
	size_t off = 0, len = 0;
	bool have_sql;
	int err = 0;

	if (!h || ps->fe == FE_CLOSING)
		return;
	ps->appr = NULL;
	if (h->held_only)
		rg_pg_cancel_set_held_only(ps->gw->cancel, ps->key_pid, ps->key_key, false);
	if (held_next(&h->held, &off, &m) != 1) {
		pg_close_fatal(s, "08006", "ringgate lost a held statement");
		goto out;
	}
	kind = h->parse ? RG_PG_STMT_PARSE : RG_PG_STMT_QUERY;
	have_sql = appr_sql(h, &m, &name, &sql, &len);
	d = h->d;
	/* a bundle reloaded while it waited: approved, it still must not be denied by the
	 * bundle in force (one that holds it again keeps the reviewer's approval); unreadable,
	 * it does not go */
	if (st == RG_APPR_APPROVED && h->gen != rg_gw_policy_gen(ps->gw->svc) &&
	    (!have_sql || stmt_verdict(s, kind, name, sql, len, &d, &j) == PG_VERDICT_DENY)) {
		h->d = d;
		st = RG_APPR__COUNT; /* denied by the bundle, below */
	}
	_Static_assert(RG_APPR__COUNT <= 8, "appr_by");
	ps->cnt->appr_by[st == RG_APPR__COUNT ? RG_APPR_DENIED : st]++;
	if (ps->ev)
		pg_ev_approval(ps, h->ev_n, h->a.id,
			       st == RG_APPR__COUNT ? "denied_by_reloaded_bundle"
						    : rg_appr_status_name(st),
			       by, reason, h->seq, st == RG_APPR_APPROVED,
			       h->parse ? (h->parse_name ? h->parse_name : "") : NULL);
	if (st == RG_APPR_APPROVED) {
		/* counted and judged when it was held: it goes as it came, with what it does to
		 * SQL-level prepared statements for the tracker */
		struct rg_pg_sqlfx *fx = NULL;
		uint32_t nfx = 0;
		bool ok = true;

		if (ps->mask) {
			d = h->d;
			if (have_sql)
				(void)prep_allowed(s, kind, sql, len, 0, &fx, &nfx, &d);
			ok = mask_fe(s, &m, fx, nfx);
			free(fx);
		}
		if (!ok)
			goto out;
		pg_forward(s, RG_BE, &run, NULL, m.start, m.total, true, &err);
	} else {
		d = h->d;
		if (st == RG_APPR_WITHDRAWN) {
			memcpy(d.sqlstate, "57014", 6);
			snprintf(d.message, sizeof(d.message), "canceling statement due to user request");
		} else if (st == RG_APPR__COUNT) {
			/* h->d: the reloaded bundle's denial */
		} else if (st == RG_APPR_DENIED) {
			char why[100];

			snprintf(why, sizeof(why), "%s", reason && reason[0] ? reason : "no reason given");
			snprintf(d.message, sizeof(d.message),
				 "denied by reviewer %.40s (approval %.32s, rule %.40s): %s", by, h->a.id,
				 h->a.rule, why);
		} else {
			snprintf(d.message, sizeof(d.message),
				 "approval %s (rule %.60s) %s before anyone decided", h->a.id, h->a.rule,
				 st == RG_APPR_EXPIRED ? "expired" : "ended");
		}
		pg_deny_forward(s, h->parse ? h->parse_name : NULL, h->seq, &d, &run, &err);
		if (st != RG_APPR__COUNT) /* (the verdict counted its own) */
			ps->cnt->stmt_denied++;
	}
	/* then what the agent sent behind it, as if it came now (it may be held in turn) */
	while (!err && ps->fe != FE_CLOSING && held_next(&h->held, &off, &m) == 1)
		if (!pg_fe_relay_msg(s, &m, &run, NULL, true, &err))
			break;
	pg_run_flush(s, RG_BE, &run, &err);
	if (err)
		rg_sess_abort(s);
	else if (h->paused && !ps->appr && ps->fe == FE_RELAY && !(ps->mask && ps->mask->paused))
		rg_sess_resume(s, RG_FE);
	else if (h->paused && ps->appr)
		ps->appr->paused = true; /* still not read: the next hold resumes */
out:
	free(h->parse_name);
	rg_acc_free(&h->held);
	free(h);
}

/* One whole agent message while logged in. Returns false to stop reading this chunk. */
bool pg_fe_relay_msg(struct rg_sess *s, const struct rg_pg_msg *m, struct fwd_run *run,
		     struct rg_buf *b, bool in_acc, int *err)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_pg_query q;
	struct rg_pg_parse pa;
	struct rg_pg_deny d;
	struct pg_judgement j;
	enum pg_verdict v;
	struct rg_pg_sqlfx *fx = NULL; /* a Query's or Parse's PREPARE, DEALLOCATE, DISCARD ALL */
	uint32_t nfx = 0;
	bool ok;
	int r;

	if (ps->appr) /* a statement waits for approval: what follows it waits too */
		return appr_keep(s, m, err);
	if (!ps->rt_t0_us) /* a round trip begins (see struct rg_gw_counters, stmt_lat) */
		ps->rt_t0_us = pg_mono_us();
	switch (m->type) {
	case RG_PG_FE_QUERY:
		if ((r = rg_pg_read_query(m, &q))) {
			pg_violation(s, RG_FE, "bad_query", r);
			return false;
		}
		ps->cnt->queries++;
		ps->syncs_sent++;
		if (ps->lim) {
			ps->lim->last_stmt_ms = pg_mono_ms();
			if (limit_count(s, ps, RG_LIMIT_STATEMENTS, &ps->lim->count[RG_LIMIT_STATEMENTS], 1, RG_BE,
					run, err))
				return false;
		}
		if (ps->ev && pg_ev_refuse(ps, &d)) {
			ps->cnt->audit_refused++;
			pg_deny_forward(s, NULL, ps->syncs_sent, &d, run, err);
			return true;
		}
		v = stmt_verdict(s, RG_PG_STMT_QUERY, NULL, q.sql, q.len, &d, &j);
		if (v != PG_VERDICT_DENY && ps->mask &&
		    !prep_allowed(s, RG_PG_STMT_QUERY, q.sql, q.len, 0, &fx, &nfx, &d))
			v = PG_VERDICT_DENY;
		if (v == PG_VERDICT_HOLD && appr_hold(s, m, q.sql, q.len, NULL, ps->syncs_sent, &d, &j,
						      run, err)) {
			free(fx); /* read again when it is released */
			if (ps->ev && ps->appr)
				ps->appr->ev_n = pg_ev_stmt(ps, 'Q', NULL, 0, q.sql, q.len, v, &j, &d,
							    ps->appr->a.id, ps->syncs_sent);
			return !*err;
		}
		if (ps->ev)
			pg_ev_stmt(ps, 'Q', NULL, 0, q.sql, q.len,
				   v == PG_VERDICT_HOLD ? PG_VERDICT_ALLOW : v, &j, &d, NULL,
				   ps->syncs_sent);
		if (v == PG_VERDICT_DENY) {
			pg_deny_forward(s, NULL, ps->syncs_sent, &d, run, err);
			return true;
		}
		break;
	case RG_PG_FE_PARSE:
		if ((r = rg_pg_read_parse(m, &pa))) {
			pg_violation(s, RG_FE, "bad_parse", r);
			return false;
		}
		ps->cnt->parses++;
		if (ps->lim)
			ps->lim->last_stmt_ms = pg_mono_ms();
		if (ps->ev && pg_ev_refuse(ps, &d)) {
			ps->cnt->audit_refused++;
			pg_deny_forward(s, pa.stmt, ps->syncs_sent + 1, &d, run, err);
			return true;
		}
		v = stmt_verdict(s, RG_PG_STMT_PARSE, pa.stmt, pa.query, pa.query_len, &d, &j);
		if (v != PG_VERDICT_DENY && ps->mask &&
		    !prep_allowed(s, RG_PG_STMT_PARSE, pa.query, pa.query_len, 0, &fx, &nfx, &d))
			v = PG_VERDICT_DENY;
		if (v == PG_VERDICT_HOLD && appr_hold(s, m, pa.query, pa.query_len, pa.stmt,
						      ps->syncs_sent + 1, &d, &j, run, err)) {
			free(fx);
			if (ps->ev && ps->appr)
				ps->appr->ev_n = pg_ev_stmt(ps, 'P', pa.stmt, strlen(pa.stmt),
							    pa.query, pa.query_len, v, &j, &d,
							    ps->appr->a.id, 0);
			return !*err;
		}
		if (ps->ev)
			pg_ev_stmt(ps, 'P', pa.stmt, strlen(pa.stmt), pa.query, pa.query_len,
				   v == PG_VERDICT_HOLD ? PG_VERDICT_ALLOW : v, &j, &d, NULL, 0);
		if (v == PG_VERDICT_DENY) {
			/* answered before the ReadyForQuery of the next Sync (or at a Flush) */
			pg_deny_forward(s, pa.stmt, ps->syncs_sent + 1, &d, run, err);
			return true;
		}
		break;
	case RG_PG_FE_SYNC:
		if ((r = rg_pg_read_empty(m))) {
			pg_violation(s, RG_FE, "bad_sync", r);
			return false;
		}
		ps->syncs_sent++;
		break;
	case RG_PG_FE_FUNCTION_CALL:
		if ((r = rg_pg_validate(RG_PG_FE, m))) {
			pg_violation(s, RG_FE, "bad_function_call", r);
			return false;
		}
		ps->syncs_sent++;
		if (ps->lim) {
			ps->lim->last_stmt_ms = pg_mono_ms();
			if (limit_count(s, ps, RG_LIMIT_STATEMENTS, &ps->lim->count[RG_LIMIT_STATEMENTS], 1, RG_BE,
					run, err))
				return false;
		}
		if (ps->ev && pg_ev_refuse(ps, &d)) {
			ps->cnt->audit_refused++;
			pg_deny_forward(s, NULL, ps->syncs_sent, &d, run, err);
			return true;
		}
		if (pg_function_call_refused(s, m->body, m->body_len, &d)) {
			if (ps->ev)
				pg_ev_function_call(ps, m->body_len >= 4 ? rd_oid(m->body) : 0, true,
						    &d, ps->syncs_sent);
			pg_deny_forward(s, NULL, ps->syncs_sent, &d, run, err);
			return true;
		}
		if (ps->ev)
			pg_ev_function_call(ps, m->body_len >= 4 ? rd_oid(m->body) : 0, false, NULL,
					    ps->syncs_sent);
		break;
	case RG_PG_FE_BIND:
		if ((r = rg_pg_validate(RG_PG_FE, m))) {
			pg_violation(s, RG_FE, "bad_bind", r);
			return false;
		}
		if (ps->ev) {
			struct rg_pg_bind bd;

			if (pg_ev_refuse(ps, &d)) {
				/* Bind: the agent's portal, DENY_SQL as the statement */
				uint8_t *db;
				size_t dlen;

				ps->cnt->audit_refused++;
				if (rg_pg_read_bind(m, &bd))
					bd.portal = "", bd.portal_len = 0;
				db = deny_msg(RG_PG_FE_BIND, bd.portal, bd.portal_len, 6, &dlen);
				deny_send(s, db, dlen, ps->syncs_sent + 1, &d, run, err);
				return !*err && ps->fe != FE_CLOSING;
			}
			if (!rg_pg_read_bind(m, &bd))
				pg_ev_bind(ps, m, &bd);
		}
		if (ps->mask && !bind_allowed(s, m, run, err))
			return !*err && ps->fe != FE_CLOSING;
		break;
	case RG_PG_FE_EXECUTE:
		if ((r = rg_pg_validate(RG_PG_FE, m))) {
			pg_violation(s, RG_FE, "bad_execute", r);
			return false;
		}
		if (ps->ev)
			pg_ev_execute(ps, ps->syncs_sent + 1);
		if (ps->lim) {
			ps->lim->last_stmt_ms = pg_mono_ms();
			if (limit_count(s, ps, RG_LIMIT_STATEMENTS, &ps->lim->count[RG_LIMIT_STATEMENTS], 1, RG_BE,
					run, err))
				return false;
		}
		break;
	case RG_PG_FE_TERMINATE:
		ps->terminated = true;
		pg_forward(s, RG_BE, run, b, m->start, m->total, in_acc, err);
		pg_run_flush(s, RG_BE, run, err);
		pg_fe_goto(ps, FE_CLOSING);
		rg_sess_close(s);
		return false;
	default:
		if ((r = rg_pg_validate(RG_PG_FE, m))) {
			pg_violation(s, RG_FE, rg_pg_type_name(RG_PG_FE, m->type), r);
			return false;
		}
		break;
	}
	ok = !ps->mask || mask_fe(s, m, fx, nfx);
	free(fx);
	if (ps->ev)
		pg_ev_fe_bytes(ps, m->total);
	if (!ok) {
		run->len = 0; /* the session is closing: nothing more goes to the target */
		return false;
	}
	pg_forward(s, RG_BE, run, b, m->start, m->total, in_acc, err);
	return true;
}

/*
 * A target message while denials are pending (see struct pg_deny_pending): the ErrorResponse
 * the server gave DENY_SQL is replaced by the denial (*drop: not forwarded); a
 * ReadyForQuery ends every entry of its sync point, answered or not.
 */
static void deny_answer(struct rg_sess *s, const struct rg_pg_msg *m, struct fwd_run *run, int *err,
			bool *drop)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_deny_pending *d;
	struct rg_pg_notice nt;

	*drop = false;
	if (!ps->deny_n)
		return;
	d = &ps->deny[ps->deny_head];
	if (d->seq != ps->rfq_recv + 1)
		return;
	if (m->type == RG_PG_BE_ERROR) {
		if (d->answered || rg_pg_read_notice(m, &nt) || !nt.message ||
		    !strstr(nt.message, DENY_SQL))
			return;
		pg_run_flush(s, RG_FE, run, err);
		if (!*err)
			*err = pg_send_error(s, RG_FE, "ERROR", d->d.sqlstate, d->d.message);
		d->answered = true;
		*drop = true;
		return;
	}
	if (m->type != RG_PG_BE_READY)
		return;
	while (ps->deny_n && ps->deny[ps->deny_head].seq == ps->rfq_recv + 1) {
		ps->deny_head = (ps->deny_head + 1) % DENY_RING;
		ps->deny_n--;
	}
	if (!ps->deny_n) {
		free(ps->deny);
		ps->deny = NULL;
		ps->deny_head = 0;
	}
}

void pg_drain_if_idle(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);

	if (ps->draining && ps->fe == FE_RELAY && ps->tx_status == 'I' &&
	    ps->syncs_sent == ps->rfq_recv && !rg_pg_stream_mid(&ps->fs))
		pg_close_fatal(s, "57P01", "terminating connection due to administrator command");
}

/* One whole target message while relaying. Returns false to stop. */
bool pg_be_relay_msg(struct rg_sess *s, struct rg_pg_msg *m, struct fwd_run *run, struct rg_buf *b,
		     bool in_acc, int *err)
{
	struct pg_sess *ps = rg_sess_priv(s);
	const struct rg_pg_shape *shape = NULL;
	bool drop = false, sent = false;
	uint8_t st;
	int r;

	if (ps->mask && ps->mask->cat && ps->mask->cat->waiting)
		return hold_be(s, m, err);
	if (ps->ev)
		pg_ev_be(ps, m);
	if (ps->mask && (r = rg_pg_stmt_be(&ps->mask->st, m, &shape))) {
		pg_run_flush(s, RG_FE, run, err);
		mask_fail(s, r, "backend");
		return false;
	}
	/* answers drain the tracker's queue whether or not a Sync was sent: read the agent
	 * again as soon as it is below its bound (a client may read before it syncs) */
	if (ps->mask && ps->mask->paused && !rg_pg_stmt_pause(&ps->mask->st)) {
		ps->mask->paused = false;
		rg_sess_resume(s, RG_FE);
	}
	if (ps->lim) {
		if (m->type == RG_PG_BE_DATA_ROW &&
		    limit_count(s, ps, RG_LIMIT_ROWS, &ps->lim->count[RG_LIMIT_ROWS], 1, RG_FE, run, err))
			return false;
		if (limit_count(s, ps, RG_LIMIT_BYTES, &ps->lim->count[RG_LIMIT_BYTES], m->total, RG_FE, run, err))
			return false;
	}
	switch (m->type) {
	case RG_PG_BE_DATA_ROW:
		ps->gw->row_hook(ps->gw->hook_arg, &ps->si,
				 ps->rowdesc_valid ? &ps->rowdesc_msg : NULL, m);
		if (ps->mask && !mask_be(s, m, shape, run, err, &sent))
			return false;
		break;
	case RG_PG_BE_NOTICE:
	case RG_PG_BE_COPY_DATA:
	case RG_PG_BE_FUNCTION_RESULT:
		if (ps->mask && !mask_be(s, m, shape, run, err, &sent))
			return false;
		break;
	case RG_PG_BE_ROW_DESC:
		/* the copy is for the row hook only: none with the default no-op hook */
		if (!ps->gw->row_hook_set)
			break;
		ps->rowdesc.len = 0;
		ps->rowdesc_valid = false;
		if (rg_acc_append(&ps->rowdesc, m->start, m->total)) {
			*err = -ENOMEM;
			return false;
		}
		ps->rowdesc_valid =
		    rg_pg_msg_view(ps->rowdesc.p, ps->rowdesc.len, &ps->rowdesc_msg) == 0;
		break;
	case RG_PG_BE_ERROR:
		deny_answer(s, m, run, err, &drop);
		if (!drop && ps->mask && !mask_be(s, m, shape, run, err, &sent))
			return false;
		break;
	case RG_PG_BE_COMMAND_COMPLETE:
		if (ps->mask && alters_names(m))
			ps->mask->alter = true;
		break;
	case RG_PG_BE_PARAM_STATUS:
		/* rare: after a SET of a setting the server reports */
		pg_run_flush(s, RG_FE, run, err);
		if (pg_pinned_setting_moved(s, m))
			return false;
		break;
	case RG_PG_BE_READY:
		if (rg_pg_read_ready(m, &st)) {
			pg_violation(s, RG_BE, "bad_ready_for_query", RG_PG_E_VALUE);
			return false;
		}
		deny_answer(s, m, run, err, &drop);
		if (ps->rec)
			pg_rec_ready(ps);
		ps->rfq_recv++;
		if (ps->rt_t0_us) {
			uint64_t now = pg_mono_us();

			rg_gw_lat_observe(&ps->cnt->stmt_lat, now - ps->rt_t0_us);
			/* more answers pending: the next round trip is under way from here */
			ps->rt_t0_us = ps->syncs_sent > ps->rfq_recv ? now : 0;
		}
		ps->tx_status = st;
		if (ps->mask && ps->mask->alter && st == 'I') {
			ps->mask->alter = false; /* committed (or rolled back): read again */
			pg_catalog_invalidate(ps->gw->catalog, (size_t)(ps->tgt - ps->gw->targets));
		}

		pg_forward(s, RG_FE, run, b, m->start, m->total, in_acc, err);
		if (ps->draining) {
			pg_run_flush(s, RG_FE, run, err);
			pg_drain_if_idle(s);
			return ps->fe != FE_CLOSING;
		}
		return true;
	case RG_PG_BE_AUTH:
	case RG_PG_BE_KEY_DATA:
		pg_violation(s, RG_BE, rg_pg_type_name(RG_PG_BE, m->type), RG_PG_E_TYPE);
		return false;
	default:
		break;
	}
	if (!drop && !sent)
		pg_forward(s, RG_FE, run, b, m->start, m->total, in_acc, err);
	return true;
}

/* A stream's accumulator, once no split message is in progress in it. */
static void stream_trim(struct rg_pg_stream *st)
{
	if (st->acc.p && !rg_pg_stream_mid(st)) {
		rg_acc_free(&st->acc);
		st->acc_release = false;
	}
}

/*
 * Every statement sent has been answered: the session may now sit idle for hours, so give
 * back what was grown for a transient message. Costs a few compares per target chunk; frees
 * only after a message was split across receive buffers (rare: 16 KiB buffers) or after a
 * RowDescription larger than ROWDESC_KEEP (kept, at its exact size, for the row hook).
 */
void pg_trim_idle(struct pg_sess *ps)
{
	uint8_t *p;

	if (ps->syncs_sent != ps->rfq_recv)
		return;
	stream_trim(&ps->fs);
	stream_trim(&ps->bs);
	if (ps->mask)
		rg_pg_stmt_trim(&ps->mask->st);
	if (ps->rowdesc.cap > ROWDESC_KEEP && ps->rowdesc.cap > ps->rowdesc.len) {
		if (!ps->rowdesc.len || !ps->rowdesc_valid) {
			rg_acc_free(&ps->rowdesc);
			ps->rowdesc_valid = false;
		} else if ((p = realloc(ps->rowdesc.p, ps->rowdesc.len))) {
			ps->rowdesc.p = p;
			ps->rowdesc.cap = ps->rowdesc.len;
			ps->rowdesc_valid =
			    rg_pg_msg_view(p, ps->rowdesc.len, &ps->rowdesc_msg) == 0;
		}
	}
}

/* A piece of a target message too large to hold (streamed): counted towards the limits on
 * its first piece, by its whole size, so a limit ends the session before any of it is sent. */
bool pg_be_relay_piece(struct rg_sess *s, const struct rg_pg_sevent *ev, struct fwd_run *run,
		       struct rg_buf *b, int *err)
{
	struct pg_sess *ps = rg_sess_priv(s);

	if (ps->mask && ev->first) {
		/* beyond PG_MASK_HOLD_MAX: it could neither be masked nor followed */
		pg_run_flush(s, RG_FE, run, err);
		mask_fail(s, RG_PG_MASK_E_TOO_LONG, "streamed_backend_message");
		return false;
	}
	if (ps->lim && ev->first) {
		if (ev->type == RG_PG_BE_DATA_ROW &&
		    limit_count(s, ps, RG_LIMIT_ROWS, &ps->lim->count[RG_LIMIT_ROWS], 1, RG_FE, run, err))
			return false;
		if (limit_count(s, ps, RG_LIMIT_BYTES, &ps->lim->count[RG_LIMIT_BYTES], ev->total, RG_FE, run, err))
			return false;
	}
	pg_forward(s, RG_FE, run, b, ev->data, ev->n, ev->in_acc, err);
	return true;
}
