/*
 * relay.c: a logged-in MySQL session. Every agent command is framed whole (split messages
 * of 16 MiB and more included, sequence ids checked), judged by the policy bundle (COM_QUERY
 * and COM_STMT_PREPARE texts; an EXECUTE of a statement an older bundle judged is judged
 * again: policy.c) and forwarded by
 * reference; each command awaiting an answer takes a slot of a small ring (pipelining, at
 * most MY_INFLIGHT: then the agent is not read) whose entry follows the target's response
 * to its end: OK / ERR, result sets (column count, definitions, [EOF], rows, EOF / OK with
 * SERVER_MORE_RESULTS_EXISTS for the next), COM_STMT_PREPARE_OK with its definitions,
 * COM_FIELD_LIST, COM_STATISTICS' string, LOCAL INFILE (the agent's file packets relayed up
 * to the empty one). Commands ringgate refuses are answered in turn with an ERR and leave
 * the session usable. A statement the bundle holds for a reviewer (require_approval) stops
 * the session's reading until its request ends (engine/approvals): approved, it goes on as
 * if allowed; otherwise it is answered in turn like a denial. Scope limits (statements,
 * rows, bytes, denials) are counted here and end the session with an ERR naming the limit.
 * Prepared statement ids and COM_SET_OPTION are tracked. Each result's
 * column definitions are handed to mask.c as they pass; a row a mask rule changes goes out
 * as mask.c's copy (same sequence id), and so does an ERR whose message a detector changes
 * (the server echoes values in its errors); every other packet goes by reference. Whole
 * rows in a receive buffer are framed and proven as runs (my_be_rows, docs/mysql.md "Runs
 * of rows"), each row ending as the per-message path would have it.
 * Never: rewrite any other byte of a relayed packet, or answer out of order.
 */
#include "my-int.h"

static void appr_free(struct my_sess *ms);

/* ---- statement policy (policy.c) and masking ---------------------------------------------- */

/* st: the statement the target prepared (NULL for MariaDB's "last prepared", id -1: judged
 * at its PREPARE a moment ago). One judged by an older bundle is judged again, by its text. */
static enum my_verdict my_judge_execute(struct my_sess *ms, struct my_stmt *st, struct my_deny *d,
					struct my_judgement *j, uint64_t *genp)
{
	uint64_t gen;
	enum my_verdict v;

	/* the text is kept for the audit trail too: a statement prepared with no bundle in
	 * force (gen 0) stays pass-through, as before */
	*j = (struct my_judgement){.v = st && st->gen ? RG_GW_VERDICT_ALLOW : RG_GW_VERDICT_PASS};
	if (!st || !st->text || !st->gen || st->gen == my_policy_gen(ms))
		return MY_ALLOW;
	v = my_judge_text(ms, (const uint8_t *)st->text, st->tlen, &gen, d, j);
	if (v == MY_ALLOW)
		st->gen = gen;
	*genp = gen; /* a held one takes it once approved */
	return v;
}

/* A row of c's result, masked by the policy (mask.c) with the result's column definitions.
 * True: a rewritten copy was sent in its place, or the session is ending (a row that could
 * not be masked is never forwarded); false: forward the original by reference. */
static bool my_row_hook(struct rg_sess *s, const struct my_cmd *c, const struct rg_my_msg *m,
			struct my_run *run, int *err)
{
	struct my_sess *ms = rg_sess_priv(s);
	const struct rg_acc *out;
	int r = my_mask_row(ms, c, m, &out);

	if (r) {
		rg_log("event=mask_failed proto=mysql sess=%llu err=%d rows_masked=%llu",
		       (unsigned long long)ms->id, r, (unsigned long long)my_mask_counts(ms)->rows);
		my_run_flush(s, RG_FE, run, err);
		my_close_err(s, m->seq_first, RG_MY_ER_NET_PACKET_TOO_LARGE, "08S01",
			     "A result row could not be masked (ringgate): session closed");
		*err = *err ? *err : -ESHUTDOWN;
		return true;
	}
	if (!out)
		return false;
	my_run_flush(s, RG_FE, run, err);
	if (!*err)
		*err = rg_sess_send(s, RG_FE, out->p, out->len);
	if (!*err && ms->rec)
		rg_rec_out(ms->rec, out->p, out->len); /* the masked copy: what the agent got */
	return true;
}

/* An ERR from the target: its message masked by the detector rules (mask.c: row values
 * are echoed in "Duplicate entry '...' for key ...", "Incorrect integer value: '...'").
 * True: the masked copy was sent in its place, or the session is ending (an ERR that could
 * not be masked is never forwarded); false: forward the original by reference. */
static bool my_err_hook(struct rg_sess *s, const struct rg_my_msg *m, struct my_run *run, int *err)
{
	struct my_sess *ms = rg_sess_priv(s);
	const struct rg_acc *out;
	int r = my_mask_err(ms, m, &out);

	if (r) {
		rg_log("event=mask_failed proto=mysql sess=%llu err=%d what=err_packet",
		       (unsigned long long)ms->id, r);
		my_run_flush(s, RG_FE, run, err);
		my_close_err(s, m->seq_first, RG_MY_ER_NET_PACKET_TOO_LARGE, "08S01",
			     "An error message could not be masked (ringgate): session closed");
		*err = *err ? *err : -ESHUTDOWN;
		return true;
	}
	if (!out)
		return false;
	my_run_flush(s, RG_FE, run, err);
	if (!*err)
		*err = rg_sess_send(s, RG_FE, out->p, out->len);
	return true;
}

/* ---- prepared statements ------------------------------------------------------------------ */

static struct my_stmt *stmt_find(struct my_sess *ms, uint32_t id)
{
	for (size_t i = 0; i < ms->nstmts; i++)
		if (ms->stmts[i].id == id)
			return &ms->stmts[i];
	return NULL;
}

static bool stmt_add(struct my_sess *ms, uint32_t id, uint16_t nparams, uint16_t ncols,
		     struct my_cmd *c)
{
	struct my_stmt *st = stmt_find(ms, id);

	if (st) {
		free(st->text);
		my_ev_stmt_free(st);
	} else {
		if (ms->nstmts == MY_STMTS_MAX)
			return false;
		if (ms->nstmts == ms->capstmts) {
			size_t cap = ms->capstmts ? ms->capstmts * 2 : 8;
			struct my_stmt *n = realloc(ms->stmts, cap * sizeof(*n));

			if (!n)
				return false;
			ms->stmts = n;
			ms->capstmts = cap;
		}
		st = &ms->stmts[ms->nstmts++];
		st->ev_types = st->ev_ld = NULL;
	}
	st->ev_n = c->ev_n;
	st->id = id;
	st->nparams = nparams;
	st->ncols = ncols;
	st->text = c->text; /* the statement takes the PREPARE's text */
	st->tlen = c->tlen;
	st->gen = c->gen;
	c->text = NULL;
	ms->last_stmt = id;
	ms->have_last_stmt = true;
	return true;
}

static void stmt_del(struct my_sess *ms, uint32_t id)
{
	struct my_stmt *st = stmt_find(ms, id);

	if (st) {
		free(st->text);
		my_ev_stmt_free(st);
		*st = ms->stmts[--ms->nstmts];
	}
	if (ms->have_last_stmt && ms->last_stmt == id)
		ms->have_last_stmt = false;
}

static void stmts_clear(struct my_sess *ms)
{
	for (size_t i = 0; i < ms->nstmts; i++) {
		free(ms->stmts[i].text);
		my_ev_stmt_free(&ms->stmts[i]);
	}
	ms->nstmts = 0;
	ms->have_last_stmt = false;
}

void my_relay_free(struct my_sess *ms)
{
	appr_free(ms);
	while (ms->n) {
		free(ms->ring[ms->head].err);
		free(ms->ring[ms->head].text);
		free(ms->ring[ms->head].ev_params);
		ms->ring[ms->head].err = NULL;
		ms->ring[ms->head].text = NULL;
		ms->ring[ms->head].ev_params = NULL;
		ms->head = (ms->head + 1) % MY_INFLIGHT;
		ms->n--;
	}
	stmts_clear(ms);
	my_mask_free(ms);
	free(ms->stmts);
	ms->stmts = NULL;
	ms->capstmts = 0;
}

bool my_relay_idle(const struct my_sess *ms)
{
	return !ms->n && !ms->fe_infile;
}

/* ---- the ring of commands awaiting their answer ------------------------------------------- */

static struct my_cmd *ring_push(struct rg_sess *s, uint8_t cmd, enum my_resp resp, uint8_t seq)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_cmd *c = &ms->ring[(ms->head + ms->n) % MY_INFLIGHT];

	memset(c, 0, sizeof(*c));
	c->cmd = cmd;
	c->resp = (uint8_t)resp;
	c->seq = seq;
	if (resp != R_LOCAL)
		c->t0_us = my_mono_us(); /* its answer's time: stmt_end, /metrics */
	ms->n++;
	if (ms->n == MY_INFLIGHT) { /* full: stop reading the agent until one is answered */
		ms->fe_paused = true;
		rg_sess_pause(s, RG_FE);
	}
	return c;
}

/* Answer ringgate's own entries that reached the head (in turn, after what ran before:
 * the target's packets still in run, forwarded by reference, go out first). */
static void ring_locals(struct rg_sess *s, struct my_run *run, int *err)
{
	struct my_sess *ms = rg_sess_priv(s);

	if (ms->n && ms->ring[ms->head].resp == R_LOCAL)
		my_run_flush(s, RG_FE, run, err);
	while (ms->n && ms->ring[ms->head].resp == R_LOCAL && !*err) {
		struct my_cmd *c = &ms->ring[ms->head];

		if (c->err)
			*err = my_send_err(s, c->seq, c->err->code, c->err->sqlstate, c->err->msg);
		if (ms->rec) /* an answer complete: its chunk goes (rg_rec_settle) */
			rg_rec_ready(ms->rec);
		free(c->err);
		c->err = NULL;
		ms->head = (ms->head + 1) % MY_INFLIGHT;
		ms->n--;
	}
}

static void ring_pop(struct rg_sess *s, struct my_run *run, int *err)
{
	struct my_sess *ms = rg_sess_priv(s);

	my_ev_cmd_end(ms, &ms->ring[ms->head]); /* its answer is complete: stmt_end */
	if (ms->rec)
		rg_rec_ready(ms->rec); /* ... and the recording's chunk goes once it is sent */
	free(ms->ring[ms->head].text); /* a PREPARE the target refused */
	ms->ring[ms->head].text = NULL;
	ms->head = (ms->head + 1) % MY_INFLIGHT;
	ms->n--;
	ring_locals(s, run, err);
	if (ms->fe_paused && ms->n < MY_INFLIGHT - 1) {
		ms->fe_paused = false;
		if (!(ms->appr && ms->appr->paused)) /* else its release resumes */
			rg_sess_resume(s, RG_FE);
	}
}

/* Refuse a command in turn: an ERR with the sequence id its answer would carry. n: its
 * statement number in the audit trail (0: none), for the recording's marker. */
static void refuse(struct rg_sess *s, uint8_t cmd, uint8_t seq, const struct my_deny *d,
		   uint32_t n, int *err)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_cmd *c;

	my_rec_cmd(ms, cmd, false, n);
	if (!ms->n) {
		*err = my_send_err(s, seq, d->code, d->sqlstate, d->msg);
		if (ms->rec)
			rg_rec_ready(ms->rec);
		return;
	}
	c = ring_push(s, cmd, R_LOCAL, seq);
	c->err = malloc(sizeof(*c->err));
	if (!c->err)
		*err = -ENOMEM;
	else
		*c->err = *d;
}

/* MariaDB's statement id -1 (the last prepared) may follow a PREPARE not yet answered
 * (pipelined by Connector/J 3 and libmariadb). */
static bool prepare_in_flight(const struct my_sess *ms)
{
	for (unsigned i = 0; i < ms->n; i++)
		if (ms->ring[(ms->head + i) % MY_INFLIGHT].cmd == RG_MY_COM_STMT_PREPARE)
			return true;
	return false;
}

static void deny_fill(struct my_deny *d, uint16_t code, const char *state, const char *fmt,
		      const char *arg)
{
	d->code = code;
	snprintf(d->sqlstate, sizeof(d->sqlstate), "%s", state);
	snprintf(d->msg, sizeof(d->msg), fmt, arg);
}

/* ---- scope limits -------------------------------------------------------------------------- */

/* Limit k reached (count: what it reached): counted, logged and recorded, once. */
static void limit_record(struct my_sess *ms, unsigned k, uint64_t count)
{
	char v[32], sub[MY_SUB_LOG_LEN];

	rg_limit_format_value((enum rg_limit_kind)k, ms->lim->value[k], v, sizeof(v));
	ms->cnt->limit_ended++;
	if (!ms->end_reason)
		ms->end_reason = "limit_exceeded";
	my_ev_limit(ms, rg_limit_name((enum rg_limit_kind)k), v, count, ms->lim->id[k]);
	rg_log("event=limit_exceeded proto=mysql sess=%llu peer=%s sub=%s target=%s limit=%s "
	       "value=%s count=%llu id=%s",
	       (unsigned long long)ms->id, ms->peer, my_sub(ms, sub, sizeof(sub)),
	       ms->tgt->cfg->name, rg_limit_name((enum rg_limit_kind)k), v,
	       (unsigned long long)count, ms->lim->id[k]);
}

/* The ERR that ends a session by limit k, with sequence id seq, then the close. idle: MySQL's
 * own "disconnected because of inactivity" (4031); the others: a resource of the account
 * used up (ER_USER_LIMIT_REACHED, 1226), as the server's max_queries_per_hour reads. */
void my_limit_close(struct rg_sess *s, unsigned k, uint8_t seq)
{
	struct my_sess *ms = rg_sess_priv(s);
	char why[160], msg[200];

	rg_gw_limits_reason(ms->lim, k, why, sizeof(why));
	snprintf(msg, sizeof(msg), "Connection closed by ringgate: %s", why);
	if (k == RG_LIMIT_IDLE_TIMEOUT)
		my_close_err(s, seq, 4031, "HY000", msg);
	else
		my_close_err(s, seq, 1226, "42000", msg);
}

void my_limit_exceeded(struct rg_sess *s, unsigned k, uint64_t count, uint8_t seq,
		       struct my_run *run, int *err)
{
	limit_record(rg_sess_priv(s), k, count);
	my_run_flush(s, RG_FE, run, err);
	my_limit_close(s, k, seq);
	if (!*err)
		*err = -ESHUTDOWN;
}

void my_limit_between(struct rg_sess *s, unsigned k)
{
	struct my_sess *ms = rg_sess_priv(s);
	uint8_t quit[RG_MY_HDR + 1] = {1, 0, 0, 0, RG_MY_COM_QUIT};

	limit_record(ms, k, 0);
	ms->lim_ended = (uint8_t)(k + 1);
	/* the target's session ends now; the agent's stays only to be told why */
	(void)rg_sess_send(s, RG_BE, quit, sizeof(quit));
	rg_sess_shutdown(s, RG_BE);
	my_be_goto(ms, BE_DONE);
	rg_sess_timer(s, MY_LIMIT_LINGER_MS);
}

/* A statement begins (COM_QUERY, COM_STMT_EXECUTE count; a PREPARE only ends idleness): true
 * when it exceeds max_statements (the session is ending). */
static bool limit_statement(struct rg_sess *s, uint8_t cmd, uint8_t seq, struct my_run *run,
			    int *err)
{
	struct my_sess *ms = rg_sess_priv(s);

	if (!ms->lim)
		return false;
	ms->lim->last_stmt_ms = my_mono_ms();
	if (cmd == RG_MY_COM_STMT_PREPARE || !rg_gw_limits_add(ms->lim, RG_LIMIT_STATEMENTS, 1))
		return false;
	my_limit_exceeded(s, RG_LIMIT_STATEMENTS, ms->lim->count[RG_LIMIT_STATEMENTS], seq, run,
			  err);
	return true;
}

/* A statement refused (by the bundle, a guard, the audit trail or a reviewer): its ERR in
 * turn, unless it is one denial more than max_denials allows: then the session ends. */
static void deny_stmt(struct rg_sess *s, uint8_t cmd, uint8_t seq, const struct my_deny *d,
		      uint32_t n, struct my_run *run, int *err)
{
	struct my_sess *ms = rg_sess_priv(s);

	if (ms->lim && rg_gw_limits_add(ms->lim, RG_LIMIT_DENIALS, 1)) {
		my_limit_exceeded(s, RG_LIMIT_DENIALS, ms->lim->count[RG_LIMIT_DENIALS],
				  ms->n ? ms->ring[ms->head].seq : seq, run, err);
		return;
	}
	refuse(s, cmd, seq, d, n, err);
}

/* ---- statements held for approval (engine/approvals) ---------------------------------- */

static void fe_cmd(struct rg_sess *s, const struct rg_my_msg *m, struct rg_buf *b, bool copy,
		   struct my_run *run, int *err, const struct my_appr *ok);

void my_appr_held_more(struct rg_sess *s)
{
	struct my_sess *ms = rg_sess_priv(s);

	if (ms->appr && !ms->appr->paused && ms->hold.len > MY_APPR_READ_MAX) {
		ms->appr->paused = true;
		rg_sess_pause(s, RG_FE);
	}
}

/* The statement's fingerprint as 16 hex digits (every statement of the text, combined):
 * what a fingerprint-scoped approval covers. */
static void appr_fingerprint(struct my_sess *ms, const uint8_t *sql, size_t len, char out[17])
{
	struct rg_myclass **cls = &ms->m->cls[ms->worker];
	struct rg_sql_facts f;
	uint64_t h = 0;

	if ((*cls || (*cls = rg_myclass_new())) &&
	    !rg_myclass_run(*cls, &ms->lex, (const char *)sql, len, RG_SQLCLASS_FINGERPRINT, &f))
		for (size_t i = 0; i < f.nfingerprints; i++)
			h = h * 0x100000001b3ull ^ f.fingerprints[i];
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* A grant (an earlier fingerprint-scoped approval) covers sql now. */
static bool appr_granted(struct my_sess *ms, const uint8_t *sql, size_t len,
			 const struct my_judgement *j, char fp[17])
{
	char sub[MY_SUB_LOG_LEN];

	appr_fingerprint(ms, sql, len, fp);
	if (!rg_approvals_granted(ms->m->approvals, rg_auth_principal_iss(ms->ident),
				  rg_auth_principal_sub(ms->ident), ms->tgt->cfg->name, fp))
		return false;
	rg_log("event=approval_grant_used proto=mysql sess=%llu sub=%s target=%s rule=%s fp=%s",
	       (unsigned long long)ms->id, my_sub(ms, sub, sizeof(sub)), ms->tgt->cfg->name,
	       j->rule ? j->rule : "-", fp);
	return true;
}

static void appr_released(struct rg_approvals_hold *a, enum rg_appr_status st, const char *by,
			  const char *reason);

/* A statement's kind in the audit trail (my_ev_stmt). */
static char ev_kind(uint8_t cmd)
{
	return cmd == RG_MY_COM_QUERY ? 'Q' : cmd == RG_MY_COM_STMT_PREPARE ? 'P' : 'X';
}

/*
 * Command m (its statement sql, judged by generation gen) waits for a reviewer: a copy is
 * kept and the session reads nothing more of the agent's until the request ends. prepared:
 * an EXECUTE's PREPARE in the audit trail. Out of memory: refused as a denial would be.
 */
static void appr_hold(struct rg_sess *s, const struct rg_my_msg *m, const uint8_t *sql, size_t len,
		      uint64_t gen, const char fp[17], const struct my_deny *d,
		      const struct my_judgement *j, uint32_t prepared, struct my_run *run, int *err)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_appr *h = calloc(1, sizeof(*h));
	struct rg_approvals_ask q = {.who = ms->ident,
				     .peer = ms->peer,
				     .target = ms->tgt->cfg->name,
				     .reviewers = j->approval_group,
				     .scope = j->approval_scope,
				     .ttl_s = j->approval_ttl_s,
				     .expire_s = j->approval_expire_s,
				     .sql = (const char *)sql,
				     .len = len};
	uint8_t cmd = m->payload[0];
	char sub[MY_SUB_LOG_LEN];

	if (h && (h->msg = malloc((size_t)m->total))) {
		memcpy(h->msg, m->start, (size_t)m->total);
		h->len = (size_t)m->total;
		h->cmd = cmd;
		h->seq = m->seq_next;
		h->gen = gen;
		h->d = *d;
		snprintf(h->a.rule, sizeof(h->a.rule), "%s", j->rule ? j->rule : "-");
		memcpy(h->a.fp, fp, sizeof(h->a.fp));
		h->a.release = appr_released;
		h->a.sess = s;
		h->a.sess_id = ms->id;
	}
	if (!h || !h->msg || rg_approvals_request(ms->m->approvals, ms->worker, &h->a, &q)) {
		struct my_deny nd = {.code = 1041, .sqlstate = "HY000"}; /* ER_OUT_OF_RESOURCES */
		struct my_judgement jd = *j;

		if (h)
			free(h->msg);
		free(h);
		snprintf(nd.msg, sizeof(nd.msg),
			 "statement requires approval and ringgate could not hold it (out of "
			 "memory)");
		jd.guard = "out_of_memory"; /* refused, whatever the rule said */
		deny_stmt(s, cmd, m->seq_next, &nd,
			  my_ev_stmt(ms, ev_kind(cmd), sql, len, prepared, &jd, &nd, NULL), run, err);
		return;
	}
	ms->appr = h;
	h->ev_n = my_ev_stmt(ms, ev_kind(cmd), sql, len, prepared, j, d, h->a.id);
	rg_log("event=stmt_held proto=mysql sess=%llu sub=%s target=%s rule=%s id=%s kind=%s",
	       (unsigned long long)ms->id, my_sub(ms, sub, sizeof(sub)), ms->tgt->cfg->name,
	       h->a.rule, h->a.id, rg_my_com_name(cmd));
}

/* The statement text of held command h (its own, or an EXECUTE's statement's). */
static bool appr_text(struct my_sess *ms, const struct my_appr *h, const struct rg_my_msg *m,
		      const uint8_t **sql, size_t *len, uint8_t **heap)
{
	const uint8_t *p;
	struct my_stmt *st;
	uint32_t id;

	*heap = NULL;
	if (h->cmd != RG_MY_COM_STMT_EXECUTE) {
		if (!(p = my_msg_payload(m, heap)))
			return false;
		*sql = p + 1, *len = (size_t)m->len - 1;
		return true;
	}
	id = (uint32_t)m->payload[1] | (uint32_t)m->payload[2] << 8 |
	     (uint32_t)m->payload[3] << 16 | (uint32_t)m->payload[4] << 24;
	if (id == UINT32_MAX && ms->have_last_stmt)
		id = ms->last_stmt;
	for (size_t i = 0; i < ms->nstmts; i++) {
		st = &ms->stmts[i];
		if (st->id == id && st->text) {
			*sql = (const uint8_t *)st->text, *len = st->tlen;
			return true;
		}
	}
	return false;
}

/* On the session's worker: the request of its held command ended. Approved, the command goes
 * on as if allowed (judged again first when the bundle changed meanwhile: only a denial by
 * the bundle in force stops it); otherwise it is answered in turn as a denial. Then what the
 * agent sent behind it is read, as if it came now (it may be held in turn). */
static void appr_released(struct rg_approvals_hold *a, enum rg_appr_status st, const char *by,
			  const char *reason)
{
	struct rg_sess *s = a->sess;
	struct my_sess *ms = rg_sess_priv(s);
	struct my_appr *h = ms->appr;
	const char *outcome = rg_appr_status_name(st);
	struct my_run run = {0};
	struct rg_my_msg m;
	struct my_deny d;
	uint8_t *heap = NULL;
	int err = 0;

	if (!h || &h->a != a)
		return;
	ms->appr = NULL;
	if (ms->fe == FE_CLOSING)
		goto out;
	if (rg_my_frame_msg(h->msg, h->len, -1, 0, &m) != (ssize_t)h->len) {
		my_close_err(s, h->seq, RG_MY_ER_NET_PACKETS_OUT_OF_ORDER, "08S01",
			     "ringgate lost a held statement");
		goto out;
	}
	if (st == RG_APPR_APPROVED && h->gen != my_policy_gen(ms)) {
		const uint8_t *sql;
		size_t len;
		uint64_t gen = h->gen;

		if (appr_text(ms, h, &m, &sql, &len, &heap) &&
		    my_judge_text(ms, sql, len, &gen, &d, NULL) == MY_DENY) {
			h->d = d;
			st = RG_APPR__COUNT; /* denied by the bundle, below */
			outcome = "denied_by_reloaded_bundle";
		} else {
			h->gen = gen;
		}
		free(heap);
	}
	_Static_assert(RG_APPR__COUNT <= 8, "appr_by");
	ms->cnt->appr_by[st == RG_APPR__COUNT ? RG_APPR_DENIED : st]++;
	my_ev_approval(ms, h->ev_n, h->a.id, outcome, by, reason);
	if (st == RG_APPR_APPROVED) {
		fe_cmd(s, &m, NULL, true, &run, &err, h);
	} else {
		d = h->d;
		if (st == RG_APPR_WITHDRAWN) {
			/* KILL QUERY of a session whose statement waits: as the server answers
			 * a statement it interrupted */
			d.code = 1317;
			snprintf(d.sqlstate, sizeof(d.sqlstate), "70100");
			snprintf(d.msg, sizeof(d.msg),
				 "Query execution was interrupted (approval %s withdrawn)",
				 h->a.id);
		} else if (st == RG_APPR_DENIED) {
			snprintf(d.msg, sizeof(d.msg),
				 "Approval denied by reviewer %.40s (approval %.32s, rule %.40s): "
				 "%.80s",
				 by && by[0] ? by : "-", h->a.id, h->a.rule,
				 reason && reason[0] ? reason : "no reason given");
		} else if (st != RG_APPR__COUNT) {
			snprintf(d.msg, sizeof(d.msg),
				 "Approval %s (rule %.60s) %s before anyone decided", h->a.id,
				 h->a.rule, st == RG_APPR_EXPIRED ? "expired" : "ended");
		}
		if (st != RG_APPR__COUNT) /* (the verdict counted its own) */
			ms->cnt->stmt_denied++;
		deny_stmt(s, h->cmd, h->seq, &d, h->ev_n, &run, &err);
	}
	my_run_flush(s, RG_BE, &run, &err);
	if (err) {
		if (err != -ESHUTDOWN)
			rg_sess_abort(s);
		goto out;
	}
	if (h->paused && !ms->fe_paused)
		rg_sess_resume(s, RG_FE);
	my_release_hold(s); /* (may hold the next command: it pauses the agent again itself) */
out:
	free(h->msg);
	free(h);
}

/* The session ends while its command is held: the request is abandoned. */
static void appr_free(struct my_sess *ms)
{
	struct my_appr *h = ms->appr;

	if (!h)
		return;
	ms->appr = NULL;
	ms->cnt->appr_by[RG_APPR_ABANDONED]++;
	my_ev_approval(ms, h->ev_n, h->a.id, rg_appr_status_name(RG_APPR_ABANDONED), NULL, NULL);
	rg_approvals_end(ms->m->approvals, &h->a, RG_APPR_ABANDONED);
	free(h->msg);
	free(h);
}

/*
 * A KILL names a ringgate connection id: sent to the target with that session's upstream id
 * (as COM_QUERY KILL ... or COM_PROCESS_KILL, as the agent sent it) when the session is of
 * the same identity on the same target; any other id gets the server's answer for an
 * unknown one (1094), so ids of other identities' sessions are not even confirmed.
 */
static void kill_translate(struct rg_sess *s, const struct rg_my_msg *m, const struct my_kill *k,
			   uint32_t evn, struct my_run *run, int *err)
{
	struct my_sess *ms = rg_sess_priv(s);
	uint8_t cmd = m->payload[0], buf[96];
	uint32_t up;
	unsigned worker;
	uint64_t sess_id;
	char text[80];
	ssize_t n;
	int len;

	if (!my_kill_lookup(k->id, ms->tgt, ms->kn.ident, &up, &worker, &sess_id)) {
		struct my_deny d;
		char id[16];

		snprintf(id, sizeof(id), "%u", k->id);
		deny_fill(&d, 1094, "HY000", "Unknown thread id: %s", id);
		refuse(s, cmd, m->seq_next, &d, evn, err);
		return;
	}
	if (cmd == RG_MY_COM_QUERY) {
		len = my_kill_write(k, up, text, sizeof(text));
		n = len < 0 ? -1 : rg_my_write_command(buf, sizeof(buf), cmd, text, (size_t)len);
	} else {
		uint8_t id[4] = {(uint8_t)up, (uint8_t)(up >> 8), (uint8_t)(up >> 16),
				 (uint8_t)(up >> 24)};

		n = rg_my_write_command(buf, sizeof(buf), cmd, id, sizeof(id));
	}
	if (n < 0 || (size_t)n > sizeof(buf)) {
		*err = -EINVAL;
		return;
	}
	/* a statement that session holds for approval is withdrawn (its ERR 1317); whatever it
	 * runs on the target is the server's to interrupt */
	if (cmd == RG_MY_COM_QUERY && k->query)
		rg_approvals_withdraw(ms->m->approvals, worker, sess_id);
	rg_log("event=kill proto=mysql sess=%llu target=%s id=%u upstream_id=%u what=%s",
	       (unsigned long long)ms->id, ms->tgt->cfg->name, k->id, up,
	       cmd == RG_MY_COM_QUERY ? (k->query ? "query" : "connection") : "com_process_kill");
	ring_push(s, cmd, cmd == RG_MY_COM_QUERY ? R_FIRST : R_SIMPLE, 1);
	my_rec_cmd(ms, cmd, false, evn);
	my_forward(s, RG_BE, run, NULL, buf, (size_t)n, true, err);
}

/* ---- agent commands ------------------------------------------------------------------------- */

void my_fe_relay_msg(struct rg_sess *s, const struct rg_my_msg *m, struct rg_buf *b, bool copy,
		     struct my_run *run, int *err, bool *stop)
{
	struct my_sess *ms = rg_sess_priv(s);

	(void)stop;
	if (ms->lim_ended) { /* a time limit ended the session: this command learns why */
		my_limit_close(s, ms->lim_ended - 1u, m->seq_next);
		*err = -ESHUTDOWN;
		return;
	}
	my_ev_fe(ms, (size_t)m->total);
	fe_cmd(s, m, b, copy, run, err, NULL);
}

/* One agent command; ok: a held command a reviewer approved (counted and judged when it was
 * held: it goes on as allowed, ringgate's own guards still apply). */
static void fe_cmd(struct rg_sess *s, const struct rg_my_msg *m, struct rg_buf *b, bool copy,
		   struct my_run *run, int *err, const struct my_appr *ok)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_deny d = {0};
	const uint8_t *p = m->payload;
	uint8_t *heap = NULL;
	uint8_t cmd;
	struct my_cmd *c;
	char fp[17];

	if (ms->fe_infile) { /* a LOCAL INFILE file packet: relayed; empty ends the file */
		ms->ring[ms->head].seq = m->seq_next;
		my_forward(s, RG_BE, run, b, m->start, (size_t)m->total, copy, err);
		if (!m->len)
			ms->fe_infile = false;
		return;
	}
	if (!m->len) {
		my_violation(s, RG_FE, "empty_command", RG_MY_E_TRUNCATED);
		return;
	}
	cmd = p[0];
	switch (cmd) {
	case RG_MY_COM_QUIT:
		ms->quit = true;
		my_forward(s, RG_BE, run, b, m->start, (size_t)m->total, copy, err);
		return;
	case RG_MY_COM_QUERY:
	case RG_MY_COM_STMT_PREPARE: {
		const uint8_t *t;
		struct my_kill k = {0};
		struct my_judgement j;
		enum my_verdict v;
		uint64_t gen = 0;
		char *text = NULL;
		uint32_t evn;
		bool plain;

		if (!ok && limit_statement(s, cmd, m->seq_next, run, err))
			return;
		if (!(t = my_msg_payload(m, &heap))) {
			*err = -ENOMEM;
			return;
		}
		if (ok) {
			v = MY_ALLOW;
			gen = ok->gen;
			j = (struct my_judgement){.v = RG_GW_VERDICT_ALLOW};
		} else {
			v = my_judge_text(ms, t + 1, (size_t)m->len - 1, &gen, &d, &j);
		}
		/* a plain KILL is translated (kill.c); any other KILL, wherever it hides in
		 * the text, is refused: agents of a target share its user (policy.c) */
		plain = cmd == RG_MY_COM_QUERY && my_kill_parse(t + 1, (size_t)m->len - 1, &k) == 1;
		if (v != MY_DENY && !plain &&
		    (k.is_kill || my_policy_hidden_kill(ms, t + 1, (size_t)m->len - 1))) {
			deny_fill(&d, RG_MY_ER_SPECIFIC_ACCESS_DENIED, "42000",
				  "Access denied; only %s reaches the target through ringgate",
				  "KILL [HARD|SOFT] [CONNECTION|QUERY] <connection id>");
			v = MY_DENY;
			j.guard = "kill";
		}
		if (v != MY_DENY && !ok && my_ev_refuse(ms, &d)) {
			v = MY_DENY;
			j.guard = "audit_error";
		}
		if (v == MY_HOLD && appr_granted(ms, t + 1, (size_t)m->len - 1, &j, fp)) {
			v = MY_ALLOW;
			j.v = RG_GW_VERDICT_ALLOW;
		}
		if (v == MY_HOLD) {
			appr_hold(s, m, t + 1, (size_t)m->len - 1, gen, fp, &d, &j, 0, run, err);
			free(heap);
			return;
		}
		evn = ok ? ok->ev_n
			 : my_ev_stmt(ms, cmd == RG_MY_COM_QUERY ? 'Q' : 'P', t + 1,
				      (size_t)m->len - 1, 0, &j, &d, NULL);
		/* the text stays with the statement: judged again after a reload, and named
		 * by its executions' records */
		if (v == MY_ALLOW && cmd == RG_MY_COM_STMT_PREPARE && (gen || ms->ev) &&
		    !(text = malloc((size_t)m->len - 1 ? (size_t)m->len - 1 : 1))) {
			free(heap);
			*err = -ENOMEM;
			return;
		}
		if (text)
			memcpy(text, t + 1, (size_t)m->len - 1);
		free(heap);
		if (v != MY_ALLOW) {
			deny_stmt(s, cmd, m->seq_next, &d, evn, run, err);
			return;
		}
		if (plain) {
			unsigned before = ms->n;

			kill_translate(s, m, &k, evn, run, err);
			c = &ms->ring[(ms->head + ms->n - 1) % MY_INFLIGHT];
			if (ms->n > before && c->resp != R_LOCAL)
				c->ev_n = evn;
			return;
		}
		if (cmd == RG_MY_COM_QUERY)
			ms->cnt->queries++;
		else
			ms->cnt->parses++;
		c = ring_push(s, cmd, cmd == RG_MY_COM_QUERY ? R_FIRST : R_PREP_FIRST, m->seq_next);
		c->ev_n = evn;
		c->text = text;
		c->tlen = (uint32_t)(m->len - 1);
		c->gen = gen;
		break;
	}
	case RG_MY_COM_STMT_EXECUTE: {
		uint32_t id, evn;
		struct my_stmt *st = NULL;
		struct my_judgement j;
		enum my_verdict v;
		uint64_t gen = 0;

		if (m->len < 5) {
			my_violation(s, RG_FE, "stmt_execute", RG_MY_E_TRUNCATED);
			return;
		}
		if (!ok && limit_statement(s, cmd, m->seq_next, run, err))
			return;
		id = (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 |
		     (uint32_t)p[4] << 24;
		st = stmt_find(ms, id);
		/* an id the target never gave this session is refused here, as the server
		 * would: a later policy judged the statement at PREPARE only */
		if (!st && !(id == UINT32_MAX && (ms->have_last_stmt || prepare_in_flight(ms)))) {
			char n[16];

			snprintf(n, sizeof(n), "%u", id);
			deny_fill(&d, 1243, "HY000",
				  "Unknown prepared statement handler (%s) given to "
				  "mysqld_stmt_execute",
				  n);
			refuse(s, cmd, m->seq_next, &d, 0, err);
			return;
		}
		if (!st && ms->have_last_stmt && !prepare_in_flight(ms))
			st = stmt_find(ms, ms->last_stmt);
		if (ok) { /* approved under the generation that held it */
			v = MY_ALLOW;
			j = (struct my_judgement){.v = RG_GW_VERDICT_ALLOW};
			if (st && st->gen)
				st->gen = ok->gen;
		} else {
			v = my_judge_execute(ms, st, &d, &j, &gen);
		}
		if (v != MY_DENY && !ok && my_ev_refuse(ms, &d)) {
			v = MY_DENY;
			j.guard = "audit_error";
		}
		if (v == MY_HOLD && appr_granted(ms, (const uint8_t *)st->text, st->tlen, &j, fp)) {
			v = MY_ALLOW;
			j.v = RG_GW_VERDICT_ALLOW;
			st->gen = gen;
		}
		if (v == MY_HOLD) {
			appr_hold(s, m, (const uint8_t *)st->text, st->tlen, gen, fp, &d, &j,
				  st->ev_n, run, err);
			return;
		}
		evn = ok ? ok->ev_n
			 : my_ev_stmt(ms, 'X', st ? (const uint8_t *)st->text : NULL,
				      st ? st->tlen : 0, st ? st->ev_n : 0, &j, &d, NULL);
		if (v != MY_ALLOW) {
			deny_stmt(s, cmd, m->seq_next, &d, evn, run, err);
			return;
		}
		c = ring_push(s, cmd, R_FIRST, m->seq_next);
		c->binary = true;
		c->ev_n = evn;
		if (evn && ms->m->ev_keep && st) {
			uint8_t *hp = NULL;
			const uint8_t *pl = my_msg_payload(m, &hp);

			if (pl)
				my_ev_params(ms, c, st, pl, (size_t)m->len);
			free(hp);
		}
		c->stmt_id = st ? st->id : id;
		c->cursor = m->len > 5 && p[5] != RG_MY_CURSOR_TYPE_NO_CURSOR;
		break;
	}
	case RG_MY_COM_STMT_FETCH:
		c = ring_push(s, cmd, R_ROWS, m->seq_next);
		c->binary = true;
		if (m->len >= 5)
			c->stmt_id = (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 |
				     (uint32_t)p[4] << 24;
		break;
	case RG_MY_COM_STMT_SEND_LONG_DATA: /* no answer */
		my_ev_long_data(ms, p, m->npackets > 1 ? RG_MY_MAX_PACKET : (size_t)m->len);
		my_forward(s, RG_BE, run, b, m->start, (size_t)m->total, copy, err);
		return;
	case RG_MY_COM_STMT_CLOSE: { /* no answer */
		uint32_t id;

		if (rg_my_read_stmt_id(p, (size_t)m->len, cmd, &id) == 0) {
			stmt_del(ms, id);
			my_mask_stmt_closed(ms, id);
		}
		my_forward(s, RG_BE, run, b, m->start, (size_t)m->total, copy, err);
		return;
	}
	case RG_MY_COM_SET_OPTION: {
		uint16_t opt;

		if (rg_my_read_set_option(p, (size_t)m->len, &opt)) {
			my_violation(s, RG_FE, "set_option", RG_MY_E_VALUE);
			return;
		}
		c = ring_push(s, cmd, R_SIMPLE, m->seq_next);
		c->option = opt;
		break;
	}
	case RG_MY_COM_STMT_RESET: { /* the server forgets the statement's long data */
		uint32_t id;
		struct my_stmt *st;

		if (rg_my_read_stmt_id(p, (size_t)m->len, cmd, &id) == 0 &&
		    (st = stmt_find(ms, id)) && st->ev_ld)
			memset(st->ev_ld, 0, ((size_t)st->nparams + 7) / 8);
		c = ring_push(s, cmd, R_SIMPLE, m->seq_next);
		break;
	}
	case RG_MY_COM_PING:
	case RG_MY_COM_INIT_DB:
	case RG_MY_COM_RESET_CONNECTION:
		c = ring_push(s, cmd, R_SIMPLE, m->seq_next);
		break;
	case RG_MY_COM_FIELD_LIST:
		c = ring_push(s, cmd, R_FIELDS, m->seq_next);
		break;
	case RG_MY_COM_STATISTICS:
		c = ring_push(s, cmd, R_ANY, m->seq_next);
		break;
	case RG_MY_COM_CHANGE_USER:
		/* the agent's new credential would have to be a token verified again; the
		 * target session stays as it is and usable */
		deny_fill(&d, RG_MY_ER_SPECIFIC_ACCESS_DENIED, "42000",
			  "Access denied; %s is not supported through ringgate (reconnect with a "
			  "new token)",
			  "COM_CHANGE_USER");
		refuse(s, cmd, m->seq_next, &d, 0, err);
		return;
	case RG_MY_COM_PROCESS_KILL: {
		struct my_kill k = {.is_kill = true};

		if (rg_my_read_process_kill(p, (size_t)m->len, &k.id)) {
			my_violation(s, RG_FE, "process_kill", RG_MY_E_VALUE);
			return;
		}
		kill_translate(s, m, &k, 0, run, err);
		return;
	}
	default:
		/* replication, shutdown, debug, process info, COM_MULTI, bulk...: not relayed */
		deny_fill(&d, RG_MY_ER_UNKNOWN_COM, "08S01", "Unknown command (%s, ringgate)",
			  rg_my_com_name(cmd));
		refuse(s, cmd, m->seq_next, &d, 0, err);
		return;
	}
	my_rec_cmd(ms, c->cmd, c->binary, c->ev_n);
	my_forward(s, RG_BE, run, b, m->start, (size_t)m->total, copy, err);
}

/* ---- target responses ------------------------------------------------------------------------ */

/*
 * Whole rows at p[0..n) of b (the receive buffer, nothing of it held in the framer's
 * accumulator) while the head command awaits rows: framed as one run (rows.c
 * rg_my_rowrun_frame: sequence ids, single packets, rows that read with the result's
 * columns), and in a masking session proven in one prefilter pass to need no masking
 * (mask.c my_rows_clear); the rows proven are forwarded by reference in one piece and
 * counted at once (my_ev_rows, and the scope limits when the run stays within them). A row not proven goes through my_be_relay_msg as every
 * message otherwise does (masked, or the session fails closed), then the run goes on while
 * nothing the proof rests on changed. So each row is forwarded, masked or refused exactly
 * as the per-message path would. Returns the bytes taken (0: nothing for this path here).
 */
size_t my_be_rows(struct rg_sess *s, struct rg_buf *b, const uint8_t *p, size_t n,
		  struct my_run *run, int *err)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_cmd *c = &ms->ring[ms->head];
	struct rg_policy_ctx *ctx, *ctx2;
	const struct rg_mask_plan *plan, *plan2;
	struct my_rows *rows, *rows2;
	struct rg_my_rowrun rr;
	size_t at = 0, framed, end;
	uint32_t left, k;
	uint64_t gen, gen2;
	int ready;

	if (!ms->n || c->resp != R_ROWS)
		return 0;
	ready = my_mask_rows_ready(ms, c, &ctx, &plan, &rows, &gen);
	if (ready < 0)
		return 0;
	/* rows by their headers; with masking, my_rows_run reads them with the columns */
	framed = rg_my_rowrun_frame(&rr, p, n, c->seq);
	if (ctx && framed && (framed = my_rows_run(rows, c->binary, &rr)) < rr.framed) {
		/* only the rows before one that does not read (or none: out of memory) */
		rr.rows = rows->nrun;
		rr.framed = framed;
	}
	left = rr.rows;
	while (at < framed && !*err) {
		struct rg_my_msg m;

		if (ctx) {
			end = my_rows_clear(rows, ctx, plan, &rr, at, &k);
		} else {
			end = framed;
			k = left;
		}
		if (end > at && rg_gw_limits_rows_run(ms->lim, k, end - at)) {
			my_forward(s, RG_FE, run, b, p + at, end - at, false, err);
			my_ev_rows(ms, k, end - at);
			c->seq = (uint8_t)(c->seq + k);
			left -= k;
			at = end;
			continue;
		}
		/* the row at `at`, as any message */
		if (rg_my_frame_msg(p + at, n - at, c->seq, MY_MSG_MAX, &m) <= 0) {
			*err = -EINVAL; /* framed above: cannot happen */
			break;
		}
		at += (size_t)m.total;
		left--;
		my_be_relay_msg(s, &m, b, false, run, err);
		if (*err || ms->fe == FE_CLOSING || !ms->n || &ms->ring[ms->head] != c ||
		    c->resp != R_ROWS ||
		    my_mask_rows_ready(ms, c, &ctx2, &plan2, &rows2, &gen2) != ready ||
		    ctx2 != ctx || plan2 != plan || rows2 != rows || gen2 != gen)
			break; /* the caller frames again what is left */
	}
	return at;
}

/* The response to c ended with an OK or EOF carrying status: apply what it changed. */
static void resp_done(struct rg_sess *s, struct my_cmd *c, bool ok, struct my_run *run,
		      int *err)
{
	struct my_sess *ms = rg_sess_priv(s);

	if (ok && c->cmd == RG_MY_COM_SET_OPTION)
		ms->multi_stmts = c->option == RG_MY_OPTION_MULTI_STATEMENTS_ON;
	if (ok && c->cmd == RG_MY_COM_RESET_CONNECTION)
		stmts_clear(ms); /* the server closed every prepared statement */
	ring_pop(s, run, err);
}

static uint16_t status_of(struct my_sess *ms, const uint8_t *p, size_t n, enum rg_my_kind k)
{
	if (k == RG_MY_KIND_EOF) {
		struct rg_my_eof e;

		return rg_my_read_eof(p, n, &e) ? 0 : e.status;
	}
	{
		struct rg_my_ok ok;

		return rg_my_read_ok(p, n, ms->caps, &ok) ? 0 : ok.status;
	}
}

void my_be_relay_msg(struct rg_sess *s, const struct rg_my_msg *m, struct rg_buf *b, bool copy,
		     struct my_run *run, int *err)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_cmd *c;
	const uint8_t *p = m->payload;
	size_t n = m->npackets > 1 ? RG_MY_MAX_PACKET : (size_t)m->len; /* first packet */
	bool eof_kind, in_rows;
	enum rg_my_kind k;
	uint16_t st;

	if (!ms->n || ms->ring[ms->head].resp == R_LOCAL) {
		/* an ERR out of turn: the server ends the connection (killed, shutdown) */
		if (m->len && p[0] == 0xff && m->npackets == 1) {
			if (!my_err_hook(s, m, run, err))
				my_forward(s, RG_FE, run, b, m->start, (size_t)m->total, copy, err);
			return;
		}
		my_violation(s, RG_BE, "unsolicited_packet", RG_MY_E_PROTOCOL);
		return;
	}
	c = &ms->ring[ms->head];
	c->seq = m->seq_next;
	in_rows = c->resp == R_ROWS;
	k = rg_my_classify(p, n, ms->caps, in_rows);
	eof_kind = k == RG_MY_KIND_EOF || k == RG_MY_KIND_OK_EOF;
	/* scope limits: a row or a message past one is not forwarded; the ERR takes its place */
	if (ms->lim) {
		unsigned lk = RG_LIMIT__COUNT;

		if (in_rows && k == RG_MY_KIND_OTHER && rg_gw_limits_add(ms->lim, RG_LIMIT_ROWS, 1))
			lk = RG_LIMIT_ROWS;
		else if (rg_gw_limits_add(ms->lim, RG_LIMIT_BYTES, m->total))
			lk = RG_LIMIT_BYTES;
		if (lk != RG_LIMIT__COUNT) {
			my_limit_exceeded(s, lk, ms->lim->count[lk], m->seq_first, run, err);
			return;
		}
	}
	/* forward first (a row masked: its copy): every branch below only follows the response */
	if (!(c->resp == R_ROWS && k == RG_MY_KIND_OTHER && my_row_hook(s, c, m, run, err)) &&
	    !(k == RG_MY_KIND_ERR && my_err_hook(s, m, run, err)))
		my_forward(s, RG_FE, run, b, m->start, (size_t)m->total, copy, err);
	if (*err)
		return;
	my_ev_be(ms, c, m, k); /* rows, bytes, the ERR: the head command's stmt_end */
	if (k == RG_MY_KIND_ERR && c->resp != R_ANY) {
		ring_pop(s, run, err);
		return;
	}
	switch (c->resp) {
	case R_FIRST:
		if (k == RG_MY_KIND_OK) {
			st = status_of(ms, p, n, k);
			if (!(st & RG_MY_SERVER_MORE_RESULTS_EXISTS))
				resp_done(s, c, true, run, err);
			return;
		}
		if (k == RG_MY_KIND_LOCAL_INFILE && c->cmd == RG_MY_COM_QUERY) {
			ms->fe_infile = true; /* the agent's file follows; then OK or ERR */
			my_release_hold(s);
			return;
		}
		if (k != RG_MY_KIND_OTHER ||
		    rg_my_read_column_count(p, n, ms->caps, &c->left) || !c->left) {
			my_violation(s, RG_BE, "result_set_header", RG_MY_E_VALUE);
			return;
		}
		c->resp = R_COLS;
		if (my_mask_cols_begin(ms, c->left))
			*err = -ENOMEM;
		return;
	case R_COLS:
		if (k != RG_MY_KIND_OTHER)
			goto bad;
		if (my_mask_col(ms, p, n)) /* the result's columns, for its rows (mask.c) */
			*err = -ENOMEM;
		if (--c->left == 0) {
			c->resp = (ms->caps & RG_MY_CLIENT_DEPRECATE_EOF) ? R_ROWS : R_COLS_EOF;
			if (c->cursor && my_mask_cursor_keep(ms, c->stmt_id))
				*err = -ENOMEM;
		}
		return;
	case R_COLS_EOF:
		if (k != RG_MY_KIND_EOF)
			goto bad;
		st = status_of(ms, p, n, k);
		/* a cursor opened by EXECUTE: rows come with COM_STMT_FETCH */
		if (c->cmd == RG_MY_COM_STMT_EXECUTE && (st & RG_MY_SERVER_STATUS_CURSOR_EXISTS))
			resp_done(s, c, true, run, err);
		else
			c->resp = R_ROWS;
		return;
	case R_ROWS:
		if (!eof_kind)
			return; /* a row */
		st = status_of(ms, p, n, k);
		if (st & RG_MY_SERVER_MORE_RESULTS_EXISTS)
			c->resp = R_FIRST;
		else
			resp_done(s, c, true, run, err);
		return;
	case R_PREP_FIRST: {
		struct rg_my_prepare_ok po;

		if (k != RG_MY_KIND_OK || rg_my_read_prepare_ok(p, n, &po))
			goto bad;
		if (!stmt_add(ms, po.stmt_id, po.nparams, po.ncols, c)) {
			*err = -ENOMEM;
			return;
		}
		c->nparams = po.nparams;
		c->ncols = po.ncols;
		c->left = po.nparams;
		if (po.nparams)
			c->resp = R_PREP_PARAMS;
		else if (po.ncols)
			c->left = po.ncols, c->resp = R_PREP_COLS;
		else
			resp_done(s, c, true, run, err);
		return;
	}
	case R_PREP_PARAMS:
	case R_PREP_COLS:
		if (k != RG_MY_KIND_OTHER)
			goto bad;
		if (--c->left)
			return;
		if (!(ms->caps & RG_MY_CLIENT_DEPRECATE_EOF)) {
			c->resp = c->resp == R_PREP_PARAMS ? R_PREP_PAR_EOF : R_PREP_COL_EOF;
			return;
		}
		goto prep_next;
	case R_PREP_PAR_EOF:
	case R_PREP_COL_EOF:
		if (k != RG_MY_KIND_EOF)
			goto bad;
	prep_next:
		if ((c->resp == R_PREP_PARAMS || c->resp == R_PREP_PAR_EOF) && c->ncols) {
			c->left = c->ncols;
			c->resp = R_PREP_COLS;
		} else {
			resp_done(s, c, true, run, err);
		}
		return;
	case R_FIELDS:
		if (eof_kind)
			resp_done(s, c, true, run, err);
		else if (k != RG_MY_KIND_OTHER)
			goto bad;
		return;
	case R_SIMPLE:
		if (k == RG_MY_KIND_OK || eof_kind)
			resp_done(s, c, true, run, err);
		else
			goto bad;
		return;
	case R_ANY:
		resp_done(s, c, false, run, err);
		return;
	default:
		goto bad;
	}
bad:
	my_violation(s, RG_BE, rg_my_com_name(c->cmd), RG_MY_E_WRONG_TYPE);
}
