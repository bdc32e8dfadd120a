/*
 * events.c: the session events every protocol module leaves in the audit trail (docs/audit.md),
 * in two halves.
 *
 * The workers' half: a record is a type and key/value items (integers, booleans, strings,
 * ready-made JSON, statement texts, parameters, masks by detector) built in the worker's own
 * scratch buffer and copied into its own journal: no JSON, no lock, no system call per
 * statement. One journal per worker serves every protocol the worker carries (the journal is
 * single-producer: the worker's thread); the protocol rides in the record's type.
 *
 * The writer's half (rg_ev_format, on the trail's writer thread): each record becomes one
 * JSON object. Statement texts have their literals replaced by $n (PostgreSQL's scanner,
 * cached by literal key: rg_sqlclass_normalize) unless the config keeps literals, and get the
 * statement's fingerprint (the same as approvals', cached by the normalized text), so
 * literals reach neither the trail nor any disk (journals live in a tmpfs).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "evidence.h"
#include "policy.h"

static const char *const ev_names[RG_EV__COUNT] = {
    NULL,	  "auth_ok", "auth_fail",	   "session_start", "session_end",
    "stmt",	  "stmt_end", "limit_exceeded", "protocol_violation", "approval_outcome"};

static const char *const key_names[RG_EVK__COUNT] = {
    "session", "n",	   "identity",	  "client",    "target",     "kind",	 "name",
    "sql",     "verdict",  "rule",	  "shadow",    "sqlstate",   "approval", "reviewer",
    "reason",  "detail",   "rows",	  "bytes",     "masked_rows", "server_us", "tag",
    "skipped", "role",	   "tls",	  "mech",      "duration_ms", "statements", "denials",
    "bytes_in", "bytes_out", "limit",	  "value",     "count",	     "side",	 "what",
    "user",    "params",   "portal",	  "oid",       "outcome",    "sub",	 "recorded", "masks",
    "mysql_lexing", "prepared", "error_code"};

static const char *const proto_names[RG_EV_PROTO__COUNT] = {"postgres", "mysql"};

#define EV_STR_MAX (1u << 20) /* a string item longer than this is cut (and says so) */

/* ---- the workers' half -------------------------------------------------------------------- */

static bool w_room(struct rg_ev_w *w, size_t n)
{
	if (w->oom)
		return false;
	if (w->cap - w->len < n) {
		size_t cap = w->cap ? w->cap : 4096;
		uint8_t *np;

		while (cap - w->len < n)
			cap *= 2;
		if (!(np = realloc(w->p, cap))) {
			w->oom = true;
			return false;
		}
		w->p = np;
		w->cap = cap;
	}
	return true;
}

void rg_ev_begin(struct rg_ev_w *w)
{
	w->len = 0;
	w->oom = false;
}

void rg_ev_int(struct rg_ev_w *w, enum rg_ev_key k, int64_t v)
{
	if (!w_room(w, 10))
		return;
	w->p[w->len++] = (uint8_t)k;
	w->p[w->len++] = RG_EVI_INT;
	memcpy(w->p + w->len, &v, 8);
	w->len += 8;
}

void rg_ev_bool(struct rg_ev_w *w, enum rg_ev_key k, bool v)
{
	if (!w_room(w, 3))
		return;
	w->p[w->len++] = (uint8_t)k;
	w->p[w->len++] = RG_EVI_BOOL;
	w->p[w->len++] = v;
}

void rg_ev_bytes(struct rg_ev_w *w, enum rg_ev_key k, enum rg_ev_item kind, const void *s,
		 size_t n)
{
	uint32_t l = n > EV_STR_MAX ? EV_STR_MAX : (uint32_t)n;

	if (!s || !w_room(w, 6 + (size_t)l))
		return;
	w->p[w->len++] = (uint8_t)k;
	w->p[w->len++] = (uint8_t)kind;
	memcpy(w->p + w->len, &l, 4);
	memcpy(w->p + w->len + 4, s, l);
	w->len += 4 + l;
}

void rg_ev_str(struct rg_ev_w *w, enum rg_ev_key k, const char *s)
{
	if (s)
		rg_ev_bytes(w, k, RG_EVI_STR, s, strlen(s));
}

bool rg_ev_commit(struct rg_ev_w *w, enum rg_ev_proto proto, enum rg_ev_type t)
{
	uint8_t *dst;

	if (w->oom || !w->jr ||
	    !(dst = rg_audit_jr_begin(w->jr, (uint16_t)((unsigned)proto << 8 | (unsigned)t),
				      (uint32_t)w->len)))
		return false;
	memcpy(dst, w->p, w->len);
	rg_audit_jr_commit(w->jr);
	return true;
}

static void json_str(struct rg_audit_buf *b, const char *s)
{
	if (s)
		rg_audit_buf_json(b, s, strlen(s));
	else
		rg_audit_buf_str(b, "null");
}

char *rg_ev_identity(const char *iss, const char *sub, const char *const *groups, size_t ngroups,
		     size_t *len)
{
	struct rg_audit_buf b = {0};

	rg_audit_buf_str(&b, "{\"iss\":");
	json_str(&b, iss);
	rg_audit_buf_str(&b, ",\"sub\":");
	json_str(&b, sub);
	rg_audit_buf_str(&b, ",\"groups\":[");
	for (size_t i = 0; i < ngroups; i++) {
		if (i)
			rg_audit_buf_str(&b, ",");
		json_str(&b, groups[i]);
	}
	rg_audit_buf_str(&b, "]}");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

void rg_ev_who(struct rg_ev_w *w, uint64_t session, const char *ident, size_t ident_len,
	       const char *client, const char *target)
{
	rg_ev_int(w, RG_EVK_SESSION, (int64_t)session);
	if (ident)
		rg_ev_bytes(w, RG_EVK_IDENTITY, RG_EVI_JSON, ident, ident_len);
	rg_ev_str(w, RG_EVK_CLIENT, client);
	rg_ev_str(w, RG_EVK_TARGET, target);
}

void rg_ev_auth_fail_body(struct rg_ev_w *w, const char *user, const char *reason,
			  const char *detail)
{
	rg_ev_str(w, RG_EVK_USER, user);
	rg_ev_str(w, RG_EVK_REASON, reason);
	if (detail && *detail)
		rg_ev_str(w, RG_EVK_DETAIL, detail);
}

void rg_ev_session_start_body(struct rg_ev_w *w, const char *user, bool tls, const char *method,
			      bool recorded)
{
	rg_ev_str(w, RG_EVK_ROLE, user);
	rg_ev_bool(w, RG_EVK_TLS, tls);
	rg_ev_str(w, RG_EVK_MECH, method);
	if (recorded)
		rg_ev_bool(w, RG_EVK_RECORDED, true);
}

void rg_ev_session_end_body(struct rg_ev_w *w, const char *reason, const struct rg_ev_totals *t)
{
	rg_ev_str(w, RG_EVK_REASON, reason);
	rg_ev_int(w, RG_EVK_DURATION_MS, t->duration_ms);
	rg_ev_int(w, RG_EVK_STATEMENTS, (int64_t)t->stmts);
	rg_ev_int(w, RG_EVK_DENIALS, (int64_t)t->denials);
	rg_ev_int(w, RG_EVK_BYTES_IN, (int64_t)t->bytes_in);
	rg_ev_int(w, RG_EVK_BYTES_OUT, (int64_t)t->bytes_out);
}

/* ---- the writer's half ---------------------------------------------------------------------- */


#define FP_SLOTS 4096
struct fp_entry {
	uint64_t key;
	uint64_t fp;
};

struct rg_ev_fmt {
	struct rg_sqlclass *cls; /* fingerprints (writer thread only) */
	struct rg_myclass *mycls; /* MySQL texts: normal form and fingerprints */
	struct rg_my_lexing mylex; /* the record's RG_EVK_MYLEX, or the default */
	struct fp_entry *fps;	 /* [FP_SLOTS] by xxh3 of the normalized text */
	char *norm;
	size_t normcap;
	bool keep_literals;
};

/* The combined fingerprint of sql, as approvals compute it (relay.c appr_fingerprint). */
static uint64_t fingerprint(struct rg_ev_fmt *f, const char *sql, size_t len, uint64_t key)
{
	struct fp_entry *e = f->fps ? &f->fps[key % FP_SLOTS] : NULL;
	struct rg_sql_facts facts;
	uint64_t h = 0;

	if (e && e->key == key && key)
		return e->fp;
	if ((f->cls || (f->cls = rg_sqlclass_new())) &&
	    !rg_sqlclass_run(f->cls, sql, len, RG_SQLCLASS_FINGERPRINT, &facts) &&
	    facts.status != RG_SQL_UNPARSEABLE)
		for (size_t i = 0; i < facts.nfingerprints; i++)
			h = h * 0x100000001b3ull ^ facts.fingerprints[i];
	if (e && key) {
		e->key = key;
		e->fp = h;
	}
	return h;
}

static void put_fingerprint(struct rg_audit_buf *out, uint64_t fp)
{
	static const char hex[] = "0123456789abcdef";
	char h[40] = ",\"fingerprint\":\"";
	size_t o = strlen(h);

	for (int sh = 60; sh >= 0; sh -= 4)
		h[o++] = hex[(fp >> sh) & 15];
	h[o++] = '"';
	rg_audit_buf_put(out, h, o);
}

/* A MySQL text, read as the session's server lexes it (the record's RG_EVK_MYLEX): its normal
 * form (literals made ?, comments dropped, executed comments inlined) unless literals are
 * kept, and its fingerprint. Text the lexer cannot follow is left out, never written raw. */
static void fmt_mysql_sql(struct rg_ev_fmt *f, const uint8_t *s, size_t n, struct rg_audit_buf *out)
{
	struct rg_sql_facts facts;
	unsigned flags = RG_SQLCLASS_FINGERPRINT | (f->keep_literals ? 0 : RG_SQLCLASS_NORMALIZE);
	uint64_t fp = 0;

	if ((!f->mycls && !(f->mycls = rg_myclass_new())) ||
	    rg_myclass_run(f->mycls, &f->mylex, (const char *)s, n, flags, &facts) ||
	    facts.status == RG_SQL_UNPARSEABLE || (!f->keep_literals && !facts.normalized)) {
		rg_audit_buf_printf(out, "\"sql\":null,\"sql_unreadable\":true,\"sql_bytes\":%zu", n);
		return;
	}
	rg_audit_buf_str(out, "\"sql\":");
	if (f->keep_literals)
		rg_audit_buf_json(out, s, n);
	else
		rg_audit_buf_json(out, facts.normalized, facts.normalized_len);
	for (size_t i = 0; i < facts.nfingerprints; i++)
		fp = fp * 0x100000001b3ull ^ facts.fingerprints[i];
	put_fingerprint(out, fp);
}

static void fmt_sql(struct rg_ev_fmt *f, unsigned proto, const uint8_t *s, size_t n,
		    struct rg_audit_buf *out)
{
	size_t olen = 0;
	int r = -EINVAL;
	uint64_t fp;

	if (proto == RG_EV_MYSQL) {
		fmt_mysql_sql(f, s, n, out);
		return;
	}
	if (f->keep_literals) {
		rg_audit_buf_str(out, "\"sql\":");
		rg_audit_buf_json(out, s, n);
		fp = fingerprint(f, (const char *)s, n, 0);
	} else {
		if (f->normcap < 4 * n + 64) {
			char *np = realloc(f->norm, 4 * n + 64);

			if (np) {
				f->norm = np;
				f->normcap = 4 * n + 64;
			}
		}
		if (f->normcap >= 4 * n + 64 && (f->cls || (f->cls = rg_sqlclass_new())))
			r = rg_sqlclass_normalize(f->cls, (const char *)s, n, f->norm, f->normcap,
						  &olen);
		if (r) {
			/* the scanner refused it: no text at all rather than a literal */
			rg_audit_buf_printf(out, "\"sql\":null,\"sql_unreadable\":true,"
					    "\"sql_bytes\":%zu", n);
			return;
		}
		rg_audit_buf_str(out, "\"sql\":");
		rg_audit_buf_json(out, f->norm, olen);
		fp = fingerprint(f, (const char *)s, n, XXH3_64bits(f->norm, olen) | 1);
	}
	put_fingerprint(out, fp);
}

/* A Bind's parameters (params_blob) as a JSON array: text as strings, NULL as null, binary
 * as {"hex":"..."}. */
static void fmt_params(const uint8_t *b, uint32_t len, struct rg_audit_buf *out)
{
	static const char hexd[] = "0123456789abcdef";
	uint32_t at = 2;
	uint16_t n;

	rg_audit_buf_str(out, "[");
	if (len < 2)
		goto done;
	memcpy(&n, b, 2);
	for (uint16_t i = 0; i < n && at + 5 <= len; i++) {
		int32_t l;

		memcpy(&l, b + at + 1, 4);
		if (l >= 0 && (uint32_t)l > len - at - 5)
			break; /* (before the separator: no dangling comma) */
		if (i)
			rg_audit_buf_str(out, ",");
		if (l < 0) {
			rg_audit_buf_str(out, "null");
			at += 5;
			continue;
		}
		if (b[at] == 0) {
			rg_audit_buf_json(out, b + at + 5, (size_t)l);
		} else {
			rg_audit_buf_str(out, "{\"hex\":\"");
			for (int32_t j = 0; j < l; j++) {
				char h[2] = {hexd[b[at + 5 + j] >> 4], hexd[b[at + 5 + j] & 15]};

				rg_audit_buf_put(out, h, 2);
			}
			rg_audit_buf_str(out, "\"}");
		}
		at += 5 + (uint32_t)l;
	}
done:
	rg_audit_buf_str(out, "]");
}

/* `,"name":` for each key, made once */
static const char *key_pre(enum rg_ev_key k, size_t *len)
{
	static char pre[RG_EVK__COUNT][24];
	static uint8_t plen[RG_EVK__COUNT];

	if (!plen[k])
		plen[k] = (uint8_t)snprintf(pre[k], sizeof(pre[k]), ",\"%s\":", key_names[k]);
	*len = plen[k];
	return pre[k];
}

void rg_ev_format(void *arg, uint16_t type, int64_t t, const uint8_t *b, size_t len,
		       struct rg_audit_buf *out)
{
	struct rg_ev_fmt *f = arg;
	size_t i = 0, pl;
	const char *pre;
	unsigned proto;

	(void)t;
	proto = type >> 8;
	type &= 0xff;
	if (!type || type >= RG_EV__COUNT || proto >= RG_EV_PROTO__COUNT)
		return;
	rg_audit_buf_str(out, "{\"event\":\"");
	rg_audit_buf_str(out, ev_names[type]);
	rg_audit_buf_str(out, "\",\"protocol\":\"");
	rg_audit_buf_str(out, proto_names[proto]);
	rg_audit_buf_str(out, "\"");
	f->mylex = (struct rg_my_lexing){.server_version = 101100, .dialect = RG_MY_MARIADB};
	while (i + 2 <= len) {
		uint8_t k = b[i], kind = b[i + 1];
		uint32_t l = 0;

		i += 2;
		if (k >= RG_EVK__COUNT)
			return (void)(out->len = 0);
		if (kind == RG_EVI_INT) {
			int64_t v;

			if (i + 8 > len)
				return (void)(out->len = 0);
			memcpy(&v, b + i, 8);
			i += 8;
			if (k == RG_EVK_MYLEX) {
				f->mylex.server_version = (uint32_t)v;
				f->mylex.dialect = (enum rg_my_dialect)((uint64_t)v >> 32 & 0xff);
				f->mylex.modes = (unsigned)((uint64_t)v >> 40 & 0xffff);
				continue;
			}
			pre = key_pre(k, &pl);
			rg_audit_buf_put(out, pre, pl);
			rg_audit_buf_i64(out, v);
			continue;
		}
		if (kind == RG_EVI_BOOL) {
			if (i + 1 > len)
				return (void)(out->len = 0);
			pre = key_pre(k, &pl);
			rg_audit_buf_put(out, pre, pl);
			rg_audit_buf_str(out, b[i++] ? "true" : "false");
			continue;
		}
		if (i + 4 > len)
			return (void)(out->len = 0);
		memcpy(&l, b + i, 4);
		i += 4;
		if (l > len - i)
			return (void)(out->len = 0);
		if (kind == RG_EVI_SQL) {
			rg_audit_buf_str(out, ",");
			fmt_sql(f, proto, b + i, l, out);
		} else if (kind == RG_EVI_MASKS) {
			pre = key_pre(k, &pl);
			rg_audit_buf_put(out, pre, pl);
			rg_audit_buf_str(out, "{");
			for (uint32_t q = 0; q + 5 <= l; q += 5) {
				uint32_t cnt;
				uint8_t d = b[i + q];
				const char *dn = d < RG_DET__COUNT
						     ? rg_detector_get((enum rg_detector)d)->name
						     : "column";

				memcpy(&cnt, b + i + q + 1, 4);
				rg_audit_buf_printf(out, "%s\"%s\":%u", q ? "," : "", dn, cnt);
			}
			rg_audit_buf_str(out, "}");
		} else if (kind == RG_EVI_PARAMS) {
			pre = key_pre(k, &pl);
			rg_audit_buf_put(out, pre, pl);
			fmt_params(b + i, l, out);
		} else {
			pre = key_pre(k, &pl);
			rg_audit_buf_put(out, pre, pl);
			if (kind == RG_EVI_JSON)
				rg_audit_buf_put(out, b + i, l);
			else
				rg_audit_buf_json(out, b + i, l);
		}
		i += l;
	}
	rg_audit_buf_str(out, "}");
}


struct rg_ev_fmt *rg_ev_fmt_new(bool keep_literals)
{
	struct rg_ev_fmt *f = calloc(1, sizeof(*f));

	if (f && !(f->fps = calloc(FP_SLOTS, sizeof(*f->fps)))) {
		free(f);
		return NULL;
	}
	if (f)
		f->keep_literals = keep_literals;
	return f;
}

void rg_ev_fmt_free(struct rg_ev_fmt *f)
{
	if (!f)
		return;
	rg_sqlclass_free(f->cls);
	rg_myclass_free(f->mycls);
	free(f->fps);
	free(f->norm);
	free(f);
}

/* ---- the object --------------------------------------------------------------------------- */

struct rg_events {
	struct rg_ev_w *w; /* [workers] */
	unsigned workers;
	struct rg_ev_fmt *fmt;
};

int rg_events_new(struct rg_audit *a, unsigned workers, const char *journal_dir,
		  bool keep_literals, struct rg_events **out, char *err, size_t errlen)
{
	struct rg_events *ev = calloc(1, sizeof(*ev));
	struct rg_audit_jr_opts o = {.count = workers, .dir = journal_dir, .fmt = rg_ev_format};
	int r;

	*out = NULL;
	if (!ev || !(ev->fmt = rg_ev_fmt_new(keep_literals)) ||
	    !(ev->w = aligned_alloc(64, workers * sizeof(*ev->w)))) {
		rg_events_free(ev);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memset(ev->w, 0, workers * sizeof(*ev->w));
	ev->workers = workers;
	o.fmt_arg = ev->fmt;
	if ((r = rg_audit_journals(a, &o, err, errlen))) {
		rg_events_free(ev);
		return r;
	}
	for (unsigned i = 0; i < workers; i++)
		ev->w[i].jr = rg_audit_journal(a, i);
	*out = ev;
	return 0;
}

struct rg_ev_w *rg_events_w(struct rg_events *ev, unsigned worker)
{
	return ev && worker < ev->workers ? &ev->w[worker] : NULL;
}

void rg_events_free(struct rg_events *ev)
{
	if (!ev)
		return;
	if (ev->w)
		for (unsigned i = 0; i < ev->workers; i++)
			free(ev->w[i].p);
	free(ev->w);
	rg_ev_fmt_free(ev->fmt);
	free(ev);
}
