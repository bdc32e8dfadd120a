/*
 * replay.c: sessions read back from the trails (docs/audit.md, "Session recordings"): the
 * sessions of an audit trail, filtered, and one session's replay, both as JSON, for
 * `ringgatectl sessions list` / `ringgatectl replay` and the admin listener's /api/sessions.
 *
 * The audit trail says which sessions there were, who ran them (and over which protocol)
 * and every statement's text (literals replaced) and verdict; the recordings trail holds,
 * per session, its protocol, the bytes the agent received and where each statement went to
 * the target. A replay frames those bytes as that protocol's messages again: PostgreSQL's
 * per statement results (columns, rows, command tag), errors, notices and the time until the
 * ReadyForQuery; MySQL's per command (its 'C' markers: answers come in order) result sets
 * (text or binary rows), OKs, ERRs and prepared statements, each result with its time.
 * Values are what the agent received (masked).
 *
 * Both trails are read through rg_audit_each, which verifies as it goes: a record that does
 * not hold ends the reading there, so nothing here returns what the chain does not vouch for.
 * Read-only and without shared state: any thread, while the writer appends (a torn last
 * record is not read). It must never print: callers render.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "evidence.h"

void rg_audit_time_iso(int64_t us, char *out, size_t n)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)(us % 1000000));
}


/* ---- the sessions of a trail ------------------------------------------------------------ */

/* What a filter needs that the listed object does not show, per session. */
struct sess_meta {
	int64_t start_us, end_us; /* end_us -1: still open (no session_end yet) */
	bool denied;		  /* a statement denied by policy or by a reviewer */
};

struct sess_acc {
	json_t *by_id; /* "id" -> object */
	json_t *order; /* ids, as first seen */
	struct sess_meta *meta;
	size_t n, cap;
	bool oom;
};

static struct sess_meta *meta_of(struct sess_acc *a, json_t *s)
{
	json_int_t i = json_integer_value(json_object_get(s, "\x01"));

	return &a->meta[i];
}

static bool sess_one(void *arg, uint64_t seq, int64_t t, const char *p, size_t len)
{
	struct sess_acc *a = arg;
	json_t *o = json_loadb(p, len, JSON_ALLOW_NUL, NULL), *s;
	const char *ev;
	char id[32], ts[96];

	(void)seq;
	if (!o || !(ev = json_string_value(json_object_get(o, "event"))) ||
	    !json_is_integer(json_object_get(o, "session"))) {
		json_decref(o);
		return true;
	}
	snprintf(id, sizeof(id), "%lld",
		 (long long)json_integer_value(json_object_get(o, "session")));
	rg_audit_time_iso(t, ts, sizeof(ts));
	s = json_object_get(a->by_id, id);
	if (!s && (!strcmp(ev, "auth_ok") || !strcmp(ev, "session_start"))) {
		if (a->n == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 64;
			struct sess_meta *m = realloc(a->meta, cap * sizeof(*m));

			if (!m) {
				a->oom = true;
				json_decref(o);
				return false;
			}
			a->meta = m;
			a->cap = cap;
		}
		a->meta[a->n] = (struct sess_meta){.start_us = t, .end_us = -1};
		/* the meta index rides on the object under a key no record has; removed before
		 * the list is returned */
		s = json_pack("{s:I, s:I}", "id",
			      (json_int_t)json_integer_value(json_object_get(o, "session")), "\x01",
			      (json_int_t)a->n++);
		json_object_set_new(a->by_id, id, s);
		json_array_append_new(a->order, json_string(id));
	}
	if (!s) {
		json_decref(o);
		return true;
	}
	if (!strcmp(ev, "auth_ok") || !strcmp(ev, "session_start")) {
		json_t *idn = json_object_get(o, "identity");

		if (idn) {
			json_object_set(s, "sub", json_object_get(idn, "sub"));
			json_object_set(s, "iss", json_object_get(idn, "iss"));
			json_object_set(s, "groups", json_object_get(idn, "groups"));
		}
		json_object_set(s, "target", json_object_get(o, "target"));
		json_object_set(s, "client", json_object_get(o, "client"));
		if (json_object_get(o, "protocol"))
			json_object_set(s, "protocol", json_object_get(o, "protocol"));
		if (!json_object_get(s, "start"))
			json_object_set_new(s, "start", json_string(ts));
		if (!strcmp(ev, "session_start")) {
			json_object_set(s, "role", json_object_get(o, "role"));
			json_object_set_new(
			    s, "recorded",
			    json_boolean(json_is_true(json_object_get(o, "recorded"))));
		}
	} else if (!strcmp(ev, "session_end")) {
		json_object_set_new(s, "end", json_string(ts));
		json_object_set(s, "reason", json_object_get(o, "reason"));
		json_object_set(s, "statements", json_object_get(o, "statements"));
		json_object_set(s, "denials", json_object_get(o, "denials"));
		json_object_set(s, "bytes_out", json_object_get(o, "bytes_out"));
		meta_of(a, s)->end_us = t;
		if (json_integer_value(json_object_get(o, "denials")) > 0)
			meta_of(a, s)->denied = true;
	} else if (!strcmp(ev, "stmt")) {
		const char *v = json_string_value(json_object_get(o, "verdict"));

		if (v && !strcmp(v, "deny"))
			meta_of(a, s)->denied = true;
	} else if (!strcmp(ev, "approval_outcome")) {
		const char *v = json_string_value(json_object_get(o, "outcome"));

		if (v && !strncmp(v, "denied", 6))
			meta_of(a, s)->denied = true;
	}
	json_decref(o);
	return true;
}

static bool str_is(json_t *o, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v && !strcmp(v, want);
}

static bool sess_match(const struct rg_sessions_filter *f, json_t *s, const struct sess_meta *m)
{
	if (!f)
		return true;
	if (f->sub && !str_is(s, "sub", f->sub))
		return false;
	if (f->target && !str_is(s, "target", f->target))
		return false;
	/* the session overlaps [since, until]: an open one reaches up to now */
	if (f->since_us >= 0 && m->end_us >= 0 && m->end_us < f->since_us)
		return false;
	if (f->until_us >= 0 && m->start_us > f->until_us)
		return false;
	if (f->denied && !m->denied)
		return false;
	return true;
}

int rg_sessions_list(const char *audit_dir, const struct rg_sessions_filter *f, json_t **out)
{
	struct sess_acc a = {json_object(), json_array(), NULL, 0, 0, false};
	json_t *list = json_array(), *idv;
	size_t i;
	int ret = 0;

	*out = NULL;
	if (!a.by_id || !a.order || !list) {
		ret = -ENOMEM;
		goto out;
	}
	if (rg_audit_each(audit_dir, sess_one, &a)) {
		ret = -EIO;
		goto out;
	}
	if (a.oom) {
		ret = -ENOMEM;
		goto out;
	}
	json_array_foreach(a.order, i, idv)
	{
		json_t *s = json_object_get(a.by_id, json_string_value(idv));
		const struct sess_meta *m = meta_of(&a, s);

		json_object_del(s, "\x01");
		if (sess_match(f, s, m) && json_array_append(list, s)) {
			ret = -ENOMEM;
			goto out;
		}
	}
	*out = list;
	list = NULL;
out:
	json_decref(list);
	json_decref(a.by_id);
	json_decref(a.order);
	free(a.meta);
	return ret;
}

/* ---- one session's replay --------------------------------------------------------------- */

/* The session's chunks from the recordings trail, decompressed and concatenated. */
struct rec_acc {
	long long session;
	uint8_t *raw; /* entries, chunk after chunk */
	size_t len, cap;
	uint32_t next_chunk;
	bool gap;
	bool bad;
	bool oom;
};

static bool rec_one(void *arg, uint64_t seq, int64_t t, const char *p, size_t len)
{
	struct rec_acc *a = arg;
	long long sess;
	uint32_t chunk, raw;
	unsigned long long fsz;

	(void)seq;
	(void)t;
	if (len < 16)
		return true;
	memcpy(&sess, p, 8);
	if (sess != a->session)
		return true;
	memcpy(&chunk, p + 8, 4);
	memcpy(&raw, p + 12, 4);
	if (chunk != a->next_chunk)
		a->gap = true;
	a->next_chunk = chunk + 1;
	fsz = ZSTD_getFrameContentSize(p + 16, len - 16);
	if (fsz != raw) {
		a->bad = true;
		return true;
	}
	if (a->cap - a->len < raw) {
		size_t cap = a->cap ? a->cap : 65536;
		uint8_t *nb;

		while (cap - a->len < raw)
			cap *= 2;
		if (!(nb = realloc(a->raw, cap))) {
			a->oom = true;
			return false;
		}
		a->raw = nb;
		a->cap = cap;
	}
	if (ZSTD_decompress(a->raw + a->len, raw, p + 16, len - 16) != raw) {
		a->bad = true;
		return true;
	}
	a->len += raw;
	return true;
}

/* The session's statements (by number), its session_start and its approvals' outcomes. */
struct stmt_acc {
	long long session;
	json_t *by_n;	      /* "n" -> stmt record */
	json_t *outcome_by_n; /* "n" -> approval_outcome record */
	json_t *session_rec;
	bool seen; /* any record of the session */
};

static bool stmt_one(void *arg, uint64_t seq, int64_t t, const char *p, size_t len)
{
	struct stmt_acc *a = arg;
	json_t *o = json_loadb(p, len, JSON_ALLOW_NUL, NULL);
	const char *ev;
	char k[24];

	(void)seq;
	(void)t;
	if (!o || json_integer_value(json_object_get(o, "session")) != a->session ||
	    !(ev = json_string_value(json_object_get(o, "event")))) {
		json_decref(o);
		return true;
	}
	a->seen = true;
	snprintf(k, sizeof(k), "%lld", (long long)json_integer_value(json_object_get(o, "n")));
	if (!strcmp(ev, "stmt"))
		json_object_set(a->by_n, k, o);
	else if (!strcmp(ev, "approval_outcome"))
		json_object_set(a->outcome_by_n, k, o);
	else if (!strcmp(ev, "session_start") && !a->session_rec)
		a->session_rec = json_incref(o);
	json_decref(o);
	return true;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One result being built from the agent's bytes. */
struct result {
	json_t *cols;  /* names */
	json_t *types; /* oids */
	json_t *rows;  /* arrays of strings / null */
	size_t omitted;
};

struct replay {
	const struct rg_replay_opts *o;
	json_t *stmts, *stmt_by_n, *outcome_by_n, *cur; /* cur: the statement results go to */
	struct result res;
	uint64_t t_stmt;
	char *copy; /* COPY data of the current run of CopyData messages (detail) */
	size_t copy_len, copy_cap;
	bool oom;
};

/* The length of the valid UTF-8 sequence at s[0..n), or 0 (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t need;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	need = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return need;
}

/* Bytes of the agent's stream as a JSON string: as they are (opts->raw_bytes, for printing),
 * else with each byte that is not valid UTF-8 replaced by U+FFFD, so that any JSON writer
 * takes them (a target's client_encoding need not be UTF-8). */
static json_t *text(const struct replay *rp, const void *p, size_t n)
{
	const unsigned char *s = p;
	json_t *j;
	char *b;
	size_t o = 0;

	if (rp->o->raw_bytes)
		return json_stringn_nocheck(p, n);
	if ((j = json_stringn(p, n)))
		return j;
	if (n > (SIZE_MAX - 1) / 3 || !(b = malloc(n * 3 + 1)))
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq(s + i, n - i);

		if (k) {
			memcpy(b + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(b + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(b, o);
	free(b);
	return j;
}

static void new_cur(struct replay *rp, json_t *stmt, uint32_t n, uint64_t t, bool marker)
{
	json_t *o = json_object();
	char k[24];

	if (!o) {
		rp->oom = true;
		return;
	}
	json_object_set_new(o, "n", json_integer(n));
	if (stmt) {
		json_object_set(o, "sql", json_object_get(stmt, "sql"));
		json_object_set(o, "kind", json_object_get(stmt, "kind"));
		json_object_set(o, "verdict", json_object_get(stmt, "verdict"));
		if (json_object_get(stmt, "rule"))
			json_object_set(o, "rule", json_object_get(stmt, "rule"));
	}
	json_object_set_new(o, "results", json_array());
	json_object_set_new(o, "errors", json_array());
	json_object_set_new(o, "notices", json_array());
	if (rp->o->detail) {
		json_t *oc;

		snprintf(k, sizeof(k), "%u", n);
		oc = marker ? json_object_get(rp->outcome_by_n, k) : NULL;
		if (marker)
			json_object_set_new(o, "t_us", json_integer((json_int_t)t));
		if (oc)
			json_object_set_new(o, "approval",
					    json_pack("{s:O?, s:O?, s:O?}", "outcome",
						      json_object_get(oc, "outcome"), "reviewer",
						      json_object_get(oc, "reviewer"), "reason",
						      json_object_get(oc, "reason")));
		json_object_set_new(o, "out", json_array());
	}
	if (json_array_append_new(rp->stmts, o))
		rp->oom = true;
	rp->cur = o;
}

/* detail: where in the statement's output an item came (results, errors and notices by
 * index into their arrays, copy data and the time inline). */
static void out_item(struct replay *rp, const char *key, json_t *v)
{
	json_t *out = rp->o->detail && rp->cur ? json_object_get(rp->cur, "out") : NULL;

	if (!out) {
		json_decref(v);
		return;
	}
	if (json_array_append_new(out, json_pack("{s:o}", key, v)))
		rp->oom = true;
}

static void flush_copy(struct replay *rp)
{
	if (!rp->copy_len)
		return;
	if (!rp->cur)
		new_cur(rp, NULL, 0, 0, false);
	out_item(rp, "copy", text(rp, rp->copy, rp->copy_len));
	rp->copy_len = 0;
}

static void drop_result(struct result *r)
{
	json_decref(r->cols);
	json_decref(r->types);
	json_decref(r->rows);
	memset(r, 0, sizeof(*r));
}

static void end_result(struct replay *rp, const char *tag)
{
	json_t *r = json_object(), *results;

	if (!r) {
		rp->oom = true;
		return;
	}
	if (rp->res.cols) {
		json_object_set(r, "columns", rp->res.cols);
		if (rp->o->detail)
			json_object_set(r, "types", rp->res.types);
		json_object_set(r, "rows", rp->res.rows);
		if (rp->res.omitted)
			json_object_set_new(r, "rows_omitted",
					    json_integer((json_int_t)rp->res.omitted));
	}
	if (tag)
		json_object_set_new(r, "tag", json_string(tag));
	if (!rp->cur)
		new_cur(rp, NULL, 0, 0, false);
	results = json_object_get(rp->cur, "results");
	out_item(rp, "result", json_integer((json_int_t)json_array_size(results)));
	if (json_array_append_new(results, r))
		rp->oom = true;
	drop_result(&rp->res);
}

/* A field of an ErrorResponse / NoticeResponse, or NULL. */
static const char *field(const uint8_t *b, size_t n, char code)
{
	size_t i = 0;

	while (i < n && b[i]) {
		char c = (char)b[i++];
		const char *v = (const char *)b + i;
		size_t l = strnlen(v, n - i);

		if (l == n - i)
			return NULL;
		if (c == code)
			return v;
		i += l + 1;
	}
	return NULL;
}

static void new_result(struct result *r)
{
	drop_result(r);
	r->cols = json_array();
	r->types = json_array();
	r->rows = json_array();
}

/* One message the agent received, at t (µs since the session's start). */
static void on_msg(struct replay *rp, uint8_t type, const uint8_t *b, size_t n, uint64_t t)
{
	if (type != 'd')
		flush_copy(rp);
	switch (type) {
	case 'T': {
		uint16_t nf = n >= 2 ? (uint16_t)(b[0] << 8 | b[1]) : 0;
		size_t i = 2;

		new_result(&rp->res);
		for (uint16_t f = 0; f < nf && i < n; f++) {
			size_t l = strnlen((const char *)b + i, n - i);

			if (i + l + 1 + 18 > n)
				break;
			json_array_append_new(rp->res.cols, text(rp, b + i, l));
			json_array_append_new(rp->res.types, json_integer(be32(b + i + l + 1 + 6)));
			i += l + 1 + 18;
		}
		break;
	}
	case 'D': {
		uint16_t nf = n >= 2 ? (uint16_t)(b[0] << 8 | b[1]) : 0;
		size_t i = 2;
		json_t *row;

		if (!rp->res.rows) { /* rows without a description (an Execute of a portal) */
			new_result(&rp->res);
			for (uint16_t f = 0; f < nf; f++) {
				char h[16];

				snprintf(h, sizeof(h), "?column%u?", f + 1);
				json_array_append_new(rp->res.cols, json_string(h));
				json_array_append_new(rp->res.types, json_integer(0));
			}
		}
		if (rp->o->max_rows && json_array_size(rp->res.rows) >= rp->o->max_rows) {
			rp->res.omitted++;
			break;
		}
		row = json_array();
		for (uint16_t f = 0; f < nf && i + 4 <= n; f++) {
			int32_t l = (int32_t)be32(b + i);

			i += 4;
			if (l < 0) {
				json_array_append_new(row, json_null());
			} else if ((size_t)l <= n - i) {
				json_array_append_new(row, text(rp, b + i, (size_t)l));
				i += (size_t)l;
			}
		}
		if (json_array_append_new(rp->res.rows, row))
			rp->oom = true;
		break;
	}
	case 'C': {
		char tag[128];

		snprintf(tag, sizeof(tag), "%.*s", (int)strnlen((const char *)b, n),
			 (const char *)b);
		end_result(rp, tag);
		break;
	}
	case 'E':
	case 'N': {
		const char *sev = field(b, n, 'S'), *msg = field(b, n, 'M'),
			   *code = field(b, n, 'C');
		json_t *e = json_object(), *list;

		if (!e) {
			rp->oom = true;
			break;
		}
		json_object_set_new(e, "severity",
				    text(rp, sev ? sev : "?", strlen(sev ? sev : "?")));
		json_object_set_new(e, "sqlstate",
				    text(rp, code ? code : "", code ? strlen(code) : 0));
		json_object_set_new(e, "message", text(rp, msg ? msg : "", msg ? strlen(msg) : 0));
		if (!rp->cur)
			new_cur(rp, NULL, 0, 0, false);
		list = json_object_get(rp->cur, type == 'E' ? "errors" : "notices");
		out_item(rp, type == 'E' ? "error" : "notice",
			 json_integer((json_int_t)json_array_size(list)));
		if (json_array_append_new(list, e))
			rp->oom = true;
		if (type == 'E')
			drop_result(&rp->res);
		break;
	}
	case 'd':
		if (rp->o->detail) {
			if (rp->copy_cap - rp->copy_len < n) {
				size_t cap = rp->copy_cap ? rp->copy_cap : 4096;
				char *nb;

				while (cap - rp->copy_len < n)
					cap *= 2;
				if (!(nb = realloc(rp->copy, cap))) {
					rp->oom = true;
					break;
				}
				rp->copy = nb;
				rp->copy_cap = cap;
			}
			if (n)
				memcpy(rp->copy + rp->copy_len, b, n);
			rp->copy_len += n;
		}
		break;
	case 'Z':
		if (rp->cur && rp->t_stmt) {
			double ms = (double)(t - rp->t_stmt) / 1000.0;

			json_object_set_new(rp->cur, "time_ms", json_real(ms));
			out_item(rp, "time_ms", json_real(ms));
			rp->t_stmt = 0;
		}
		break;
	default:
		break;
	}
}

static void on_stmt(struct replay *rp, uint32_t n, uint64_t t)
{
	char k[24];

	flush_copy(rp);
	snprintf(k, sizeof(k), "%u", n);
	new_cur(rp, json_object_get(rp->stmt_by_n, k), n, t, true);
	if (!rp->t_stmt)
		rp->t_stmt = t;
}

/* The entry of a recording at raw[*i..len): kind (one byte), time (8), length (4), then its
 * bytes; *i moves past it. False at the end, or at an entry cut short. */
static bool entry_next(const uint8_t *raw, size_t len, size_t *i, uint8_t *kind, uint64_t *t,
		       const uint8_t **d, uint32_t *l)
{
	if (*i + 13 > len)
		return false;
	*kind = raw[*i];
	memcpy(t, raw + *i + 1, 8);
	memcpy(l, raw + *i + 9, 4);
	if (*l > len - *i - 13)
		return false;
	*d = raw + *i + 13;
	*i += 13 + (size_t)*l;
	return true;
}

/* Append d[0..l) to a recording's packet accumulator (doubling from 64 KiB): 0 or -ENOMEM. */
static int acc_append(uint8_t **acc, size_t *alen, size_t *acap, const uint8_t *d, size_t l)
{
	if (*acap - *alen < l) {
		size_t cap = *acap ? *acap : 65536;
		uint8_t *nb;

		while (cap - *alen < l)
			cap *= 2;
		if (!(nb = realloc(*acc, cap)))
			return -ENOMEM;
		*acc = nb;
		*acap = cap;
	}
	memcpy(*acc + *alen, d, l);
	*alen += l;
	return 0;
}
/* The recording's entries, in order: statement markers and the agent's bytes framed as
 * messages (a message may span entries and chunks). */
static int walk_entries(struct replay *rp, const uint8_t *raw, size_t len, bool *truncated,
			char *end, size_t endlen)
{
	uint8_t *acc = NULL; /* the agent's byte stream, for framing */
	size_t alen = 0, acap = 0;
	int ret = 0;

	for (size_t i = 0; !rp->oom;) {
		uint8_t kind;
		const uint8_t *d;
		uint64_t t;
		uint32_t l;

		if (!entry_next(raw, len, &i, &kind, &t, &d, &l))
			break;
		if (kind == 'S' && l == 4) {
			uint32_t n;

			memcpy(&n, d, 4);
			on_stmt(rp, n, t);
		} else if (kind == 'B' && l) { /* (an empty one adds nothing) */
			size_t off = 0;

			if ((ret = acc_append(&acc, &alen, &acap, d, l)))
				goto out;
			while (alen - off >= 5) {
				uint32_t ml = be32(acc + off + 1);

				if (ml < 4 || alen - off < 1 + (size_t)ml)
					break;
				on_msg(rp, acc[off], acc + off + 5, ml - 4, t);
				off += 1 + ml;
			}
			memmove(acc, acc + off, alen - off);
			alen -= off;
		} else if (kind == 'T') {
			*truncated = true;
		} else if (kind == 'E') {
			snprintf(end, endlen, "%.*s", (int)l, (const char *)d);
		}
	}
	flush_copy(rp);
	if (rp->oom)
		ret = -ENOMEM;
out:
	free(acc);
	return ret;
}

/* ---- MySQL recordings ----------------------------------------------------------------------
 * The agent's bytes are MySQL packets; what each answers is the 'C' marker at the head of a
 * queue (commands are answered in order), and the answer is followed to its end as the relay
 * follows it (engine/proto/mysql/relay.c): OK / ERR, result sets (column count, definitions,
 * [EOF], text or binary rows, EOF / OK-as-EOF, more results), COM_STMT_PREPARE_OK with its
 * definitions. Binary rows are shown in MySQL's text form. This reads only what a replay
 * needs: evidence does not depend on the protocol module (it depends on evidence). */

#define MYR_DEPRECATE_EOF (1ull << 24)
#define MYR_SESSION_TRACK (1ull << 23)
#define MYR_MORE_RESULTS 0x0008
#define MYR_CURSOR_EXISTS 0x0040
#define MYR_COLS_MAX 4096 /* columns whose types are kept (binary rows past it: strings) */

enum myr_state {
	MYR_FIRST = 0,	/* OK, ERR, LOCAL INFILE request or a column count */
	MYR_COLS,	/* column definitions */
	MYR_COLS_EOF,	/* their EOF (no DEPRECATE_EOF) */
	MYR_ROWS,	/* rows until EOF / OK-as-EOF / ERR */
	MYR_PREP_FIRST, /* COM_STMT_PREPARE_OK or ERR */
	MYR_PREP_DEFS,	/* parameter then column definitions, each run with its EOF */
	MYR_FIELDS,	/* COM_FIELD_LIST: definitions until EOF */
	MYR_SIMPLE,	/* one OK, EOF or ERR */
	MYR_ANY,	/* one packet of any kind */
};

struct myr_cmd {
	uint8_t cmd, flags;
	uint32_t n;
	uint64_t t;
};

struct myr {
	uint64_t caps;
	struct myr_cmd *q;
	size_t qh, qn, qcap;
	bool started; /* the head command's statement object exists */
	enum myr_state st;
	uint64_t left; /* definitions still to come */
	uint16_t prep_params, prep_cols;
	bool prep_in_cols;
	json_t *not_null;	     /* per column of the current result */
	uint8_t types[MYR_COLS_MAX]; /* the current result's column types (binary rows) */
	uint8_t decimals[MYR_COLS_MAX];
	bool unsigned_[MYR_COLS_MAX];
	size_t ncols;
	/* the columns of the last cursor an EXECUTE opened: its FETCHes' rows */
	json_t *cur_cols, *cur_types;
	uint8_t cur_t[MYR_COLS_MAX], cur_d[MYR_COLS_MAX];
	bool cur_u[MYR_COLS_MAX];
	size_t cur_n;
};

static const char *myr_com_name(uint8_t c)
{
	static const char *const names[] = {
	    [0x01] = "COM_QUIT",	 [0x02] = "COM_INIT_DB",
	    [0x03] = "COM_QUERY",	 [0x04] = "COM_FIELD_LIST",
	    [0x09] = "COM_STATISTICS",	 [0x0e] = "COM_PING",
	    [0x0c] = "COM_PROCESS_KILL", [0x11] = "COM_CHANGE_USER",
	    [0x16] = "COM_STMT_PREPARE", [0x17] = "COM_STMT_EXECUTE",
	    [0x1a] = "COM_STMT_RESET",	 [0x1b] = "COM_SET_OPTION",
	    [0x1c] = "COM_STMT_FETCH",	 [0x1f] = "COM_RESET_CONNECTION"};

	return c < sizeof(names) / sizeof(names[0]) && names[c] ? names[c] : "COM_OTHER";
}

/* A length-encoded integer at *i of p[0..n): false when it does not fit. */
static bool lenenc(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
	size_t k;

	if (*i >= n)
		return false;
	switch (p[*i]) {
	case 0xfc:
		k = 2;
		break;
	case 0xfd:
		k = 3;
		break;
	case 0xfe:
		k = 8;
		break;
	case 0xfb:
	case 0xff:
		return false;
	default:
		*v = p[(*i)++];
		return true;
	}
	if (n - *i - 1 < k)
		return false;
	*v = 0;
	for (size_t j = 0; j < k; j++)
		*v |= (uint64_t)p[*i + 1 + j] << (8 * j);
	*i += 1 + k;
	return true;
}

static bool lenstr(const uint8_t *p, size_t n, size_t *i, const uint8_t **s, size_t *l)
{
	uint64_t v;

	if (!lenenc(p, n, i, &v) || v > n - *i)
		return false;
	*s = p + *i;
	*l = (size_t)v;
	*i += (size_t)v;
	return true;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The head command's statement, created at its first answer (or at the end). */
static void myr_begin(struct replay *rp, struct myr *m)
{
	struct myr_cmd *c = &m->q[m->qh];
	char k[24];

	if (m->started)
		return;
	snprintf(k, sizeof(k), "%u", c->n);
	new_cur(rp, c->n ? json_object_get(rp->stmt_by_n, k) : NULL, c->n, c->t, true);
	if (rp->cur)
		json_object_set_new(rp->cur, "command", json_string(myr_com_name(c->cmd)));
	m->started = true;
	switch (c->cmd) {
	case 0x03:
	case 0x17:
		m->st = MYR_FIRST;
		break;
	case 0x16:
		m->st = MYR_PREP_FIRST;
		break;
	case 0x1c:
		m->st = MYR_ROWS;
		break;
	case 0x04:
		m->st = MYR_FIELDS;
		break;
	case 0x09:
		m->st = MYR_ANY;
		break;
	default:
		m->st = MYR_SIMPLE;
		break;
	}
	if (c->cmd == 0x1c) { /* FETCH: rows of a cursor whose columns came with its EXECUTE */
		new_result(&rp->res);
		json_decref(m->not_null);
		m->not_null = json_array();
		if (m->cur_cols) {
			json_array_extend(rp->res.cols, m->cur_cols);
			json_array_extend(rp->res.types, m->cur_types);
			for (size_t i = 0; i < m->cur_n; i++)
				json_array_append_new(m->not_null, json_false());
		}
		memcpy(m->types, m->cur_t, sizeof(m->types));
		memcpy(m->decimals, m->cur_d, sizeof(m->decimals));
		memcpy(m->unsigned_, m->cur_u, sizeof(m->unsigned_));
		m->ncols = m->cur_n;
	}
}

/* The head command's answer is complete at t. */
static void myr_pop(struct replay *rp, struct myr *m, uint64_t t)
{
	if (rp->cur && m->qn)
		json_object_set_new(rp->cur, "time_ms",
				    json_real((double)(t - m->q[m->qh].t) / 1000.0));
	m->qh++;
	m->qn--;
	m->started = false;
	drop_result(&rp->res);
}

static void myr_error(struct replay *rp, const uint8_t *p, size_t n)
{
	json_t *e = json_object(), *list;
	size_t i = 3;
	char state[6] = "HY000";

	if (!e) {
		rp->oom = true;
		return;
	}
	if (n >= 9 && p[3] == '#') {
		memcpy(state, p + 4, 5);
		i = 9;
	}
	json_object_set_new(e, "severity", json_string("ERROR"));
	json_object_set_new(e, "code", json_integer(n >= 3 ? le16(p + 1) : 0));
	json_object_set_new(e, "sqlstate", json_string(state));
	json_object_set_new(e, "message", text(rp, p + (i < n ? i : n), i < n ? n - i : 0));
	if (!rp->cur)
		new_cur(rp, NULL, 0, 0, false);
	list = json_object_get(rp->cur, "errors");
	out_item(rp, "error", json_integer((json_int_t)json_array_size(list)));
	if (json_array_append_new(list, e))
		rp->oom = true;
	drop_result(&rp->res);
}

/* A finished result onto the current statement: its time since the command went. */
static void myr_result(struct replay *rp, struct myr *m, json_t *r, uint64_t t)
{
	json_t *results;

	if (!r) {
		rp->oom = true;
		return;
	}
	if (m->qn)
		json_object_set_new(r, "time_ms", json_real((double)(t - m->q[m->qh].t) / 1000.0));
	results = json_object_get(rp->cur, "results");
	out_item(rp, "result", json_integer((json_int_t)json_array_size(results)));
	if (json_array_append_new(results, r))
		rp->oom = true;
}

/* OK (or OK-as-EOF): status into *status. */
static void myr_ok(struct replay *rp, struct myr *m, const uint8_t *p, size_t n, uint64_t t,
		   uint16_t *status, bool as_result)
{
	uint64_t aff = 0, id = 0;
	size_t i = 1;
	uint16_t warn = 0;
	const uint8_t *info = NULL;
	size_t ilen = 0;
	json_t *r;

	*status = 0;
	if (!lenenc(p, n, &i, &aff) || !lenenc(p, n, &i, &id) || n - i < 4)
		return;
	*status = le16(p + i);
	warn = le16(p + i + 2);
	i += 4;
	if (m->caps & MYR_SESSION_TRACK) {
		if (i < n && !lenstr(p, n, &i, &info, &ilen))
			info = NULL, ilen = 0;
	} else if (i < n) {
		info = p + i;
		ilen = n - i;
	}
	if (!as_result)
		return;
	r = json_pack("{s:I, s:I, s:i}", "affected_rows", (json_int_t)aff, "last_insert_id",
		      (json_int_t)id, "warnings", (int)warn);
	if (r && ilen)
		json_object_set_new(r, "info", text(rp, info, ilen));
	myr_result(rp, m, r, t);
}

static void myr_coldef(struct replay *rp, struct myr *m, const uint8_t *p, size_t n)
{
	const uint8_t *s = NULL, *name = NULL;
	size_t i = 0, l = 0, nl = 0;
	uint64_t fixed;

	for (int f = 0; f < 6; f++) { /* catalog, schema, table, org_table, name, org_name */
		if (!lenstr(p, n, &i, &s, &l))
			return;
		if (f == 4)
			name = s, nl = l;
	}
	json_array_append_new(rp->res.cols, text(rp, name, nl));
	if (!lenenc(p, n, &i, &fixed) || n - i < 10)
		return;
	/* charset u16, length u32, type u8, flags u16, decimals u8 */
	if (m->ncols < MYR_COLS_MAX) {
		m->types[m->ncols] = p[i + 6];
		m->unsigned_[m->ncols] = le16(p + i + 7) & 0x20;
		m->decimals[m->ncols] = p[i + 9];
	}
	json_array_append_new(rp->res.types, json_integer(p[i + 6]));
	json_array_append_new(m->not_null, json_boolean(le16(p + i + 7) & 1));
	m->ncols++;
}

static void myr_new_result(struct replay *rp, struct myr *m)
{
	new_result(&rp->res);
	json_decref(m->not_null);
	m->not_null = json_array();
	m->ncols = 0;
}

static void myr_end_result(struct replay *rp, struct myr *m, uint16_t warn, uint64_t t)
{
	json_t *r = json_object();

	if (!r) {
		rp->oom = true;
		return;
	}
	json_object_set(r, "columns", rp->res.cols ? rp->res.cols : json_array());
	if (rp->o->detail) {
		json_object_set(r, "types", rp->res.types);
		json_object_set(r, "not_null", m->not_null);
	}
	json_object_set(r, "rows", rp->res.rows ? rp->res.rows : json_array());
	if (rp->res.omitted)
		json_object_set_new(r, "rows_omitted", json_integer((json_int_t)rp->res.omitted));
	json_object_set_new(r, "warnings", json_integer(warn));
	myr_result(rp, m, r, t);
	drop_result(&rp->res);
}

/* A binary-protocol value of column c at p[*i..n) in MySQL's text form, or NULL. */
static json_t *myr_bin_value(struct replay *rp, struct myr *m, size_t c, const uint8_t *p, size_t n,
			     size_t *i)
{
	uint8_t t = c < MYR_COLS_MAX ? m->types[c] : 0xfd;
	bool u = c < MYR_COLS_MAX && m->unsigned_[c];
	char b[96];
	size_t need = 0;
	int64_t sv = 0;
	uint64_t uv = 0;

	switch (t) {
	case 1:
		need = 1;
		break;
	case 2:
	case 13:
		need = 2;
		break;
	case 3:
	case 9:
	case 4:
		need = 4;
		break;
	case 8:
	case 5:
		need = 8;
		break;
	case 7:
	case 10:
	case 12:
	case 11: {
		size_t l;
		const uint8_t *d;
		unsigned dec = c < MYR_COLS_MAX ? m->decimals[c] : 0;
		uint32_t us = 0;

		if (*i >= n || (l = p[*i]) > n - *i - 1)
			return NULL;
		d = p + *i + 1;
		*i += 1 + l;
		if (t == 11) {
			uint32_t days = l >= 8 ? le32(d + 1) : 0;
			unsigned h = l >= 8 ? d[5] : 0, mi = l >= 8 ? d[6] : 0,
				 s = l >= 8 ? d[7] : 0;

			us = l >= 12 ? le32(d + 8) : 0;
			snprintf(b, sizeof(b), "%s%02u:%02u:%02u", l && d[0] ? "-" : "",
				 (unsigned)(days * 24 + h), mi, s);
		} else {
			unsigned y = l >= 4 ? le16(d) : 0, mo = l >= 4 ? d[2] : 0,
				 dd = l >= 4 ? d[3] : 0;
			unsigned h = l >= 7 ? d[4] : 0, mi = l >= 7 ? d[5] : 0,
				 s = l >= 7 ? d[6] : 0;

			us = l >= 11 ? le32(d + 7) : 0;
			if (t == 10)
				snprintf(b, sizeof(b), "%04u-%02u-%02u", y, mo, dd);
			else
				snprintf(b, sizeof(b), "%04u-%02u-%02u %02u:%02u:%02u", y, mo, dd,
					 h, mi, s);
		}
		if (t != 10 && dec > 0 && dec <= 6) {
			char f[8];

			snprintf(f, sizeof(f), "%06u", us);
			f[dec] = 0;
			strcat(b, ".");
			strcat(b, f);
		}
		return json_string(b);
	}
	default: {
		const uint8_t *s;
		size_t l;

		if (!lenstr(p, n, i, &s, &l))
			return NULL;
		return text(rp, s, l);
	}
	}
	if (n - *i < need)
		return NULL;
	for (size_t j = 0; j < need; j++)
		uv |= (uint64_t)p[*i + j] << (8 * j);
	*i += need;
	if (t == 4) {
		float f;
		uint32_t x = (uint32_t)uv;

		memcpy(&f, &x, 4);
		for (int prec = 6; prec <= 9; prec++) {
			snprintf(b, sizeof(b), "%.*g", prec, (double)f);
			if (strtof(b, NULL) == f)
				break;
		}
		return json_string(b);
	}
	if (t == 5) {
		double d;

		memcpy(&d, &uv, 8);
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(b, sizeof(b), "%.*g", prec, d);
			if (strtod(b, NULL) == d)
				break;
		}
		return json_string(b);
	}
	if (u || t == 13) {
		snprintf(b, sizeof(b), "%llu", (unsigned long long)uv);
		return json_string(b);
	}
	sv = need == 1	 ? (int8_t)uv
	     : need == 2 ? (int16_t)uv
	     : need == 4 ? (int32_t)uv
			 : (int64_t)uv;
	snprintf(b, sizeof(b), "%lld", (long long)sv);
	return json_string(b);
}

static void myr_row(struct replay *rp, struct myr *m, const uint8_t *p, size_t n, bool binary)
{
	json_t *row;
	size_t nc = json_array_size(rp->res.cols), i = 0;

	if (!rp->res.rows)
		new_result(&rp->res);
	if (rp->o->max_rows && json_array_size(rp->res.rows) >= rp->o->max_rows) {
		rp->res.omitted++;
		return;
	}
	if (!(row = json_array())) {
		rp->oom = true;
		return;
	}
	if (binary) {
		size_t nb = (nc + 7 + 2) / 8;

		i = 1 + nb;
		for (size_t c = 0; c < nc && i <= n; c++) {
			size_t bit = c + 2;
			json_t *v;

			if (1 + bit / 8 < n && (p[1 + bit / 8] >> (bit % 8)) & 1) {
				json_array_append_new(row, json_null());
				continue;
			}
			if (!(v = myr_bin_value(rp, m, c, p, n, &i)))
				break;
			json_array_append_new(row, v);
		}
	} else {
		for (size_t c = 0; c < nc && i < n; c++) {
			const uint8_t *s;
			size_t l;

			if (p[i] == 0xfb) {
				json_array_append_new(row, json_null());
				i++;
				continue;
			}
			if (!lenstr(p, n, &i, &s, &l))
				break;
			json_array_append_new(row, text(rp, s, l));
		}
	}
	if (json_array_append_new(rp->res.rows, row))
		rp->oom = true;
}

/* One whole packet (payload) the agent received at t. */
static void myr_packet(struct replay *rp, struct myr *m, const uint8_t *p, size_t n, uint64_t t)
{
	bool deof = m->caps & MYR_DEPRECATE_EOF;
	uint8_t h = n ? p[0] : 0;
	bool is_eof = h == 0xfe && n < 9;
	uint16_t status = 0;
	struct myr_cmd *c;

	if (!m->qn) { /* nothing asked: an ERR out of turn (the server ends the session) */
		if (h == 0xff) {
			rp->cur = NULL;
			myr_error(rp, p, n);
		}
		return;
	}
	c = &m->q[m->qh];
	myr_begin(rp, m);
	if (h == 0xff && m->st != MYR_ANY) {
		myr_error(rp, p, n);
		myr_pop(rp, m, t);
		return;
	}
	switch (m->st) {
	case MYR_FIRST:
		if (h == 0x00) {
			myr_ok(rp, m, p, n, t, &status, true);
			if (!(status & MYR_MORE_RESULTS))
				myr_pop(rp, m, t);
		} else if (h == 0xfb) { /* LOCAL INFILE: the agent sends its file, then OK/ERR */
		} else {
			size_t i = 0;

			if (!lenenc(p, n, &i, &m->left) || !m->left) {
				myr_pop(rp, m, t);
				return;
			}
			myr_new_result(rp, m);
			m->st = MYR_COLS;
		}
		return;
	case MYR_COLS:
		myr_coldef(rp, m, p, n);
		if (--m->left == 0)
			m->st = deof ? MYR_ROWS : MYR_COLS_EOF;
		return;
	case MYR_COLS_EOF:
		if (n >= 5)
			status = le16(p + 3);
		if (c->cmd == 0x17 && (status & MYR_CURSOR_EXISTS)) { /* rows come by FETCH */
			json_decref(m->cur_cols);
			json_decref(m->cur_types);
			m->cur_cols = json_incref(rp->res.cols);
			m->cur_types = json_incref(rp->res.types);
			memcpy(m->cur_t, m->types, sizeof(m->types));
			memcpy(m->cur_d, m->decimals, sizeof(m->decimals));
			memcpy(m->cur_u, m->unsigned_, sizeof(m->unsigned_));
			m->cur_n = m->ncols;
			myr_end_result(rp, m, 0, t);
			myr_pop(rp, m, t);
		} else {
			m->st = MYR_ROWS;
		}
		return;
	case MYR_ROWS:
		if (h == 0xfe && n < 0xffffff && (deof || n < 9)) {
			uint16_t warn = 0;

			if (deof) {
				size_t i = 1;
				uint64_t x;

				if (lenenc(p, n, &i, &x) && lenenc(p, n, &i, &x) && n - i >= 4) {
					status = le16(p + i);
					warn = le16(p + i + 2);
				}
			} else if (n >= 5) {
				warn = le16(p + 1);
				status = le16(p + 3);
			}
			myr_end_result(rp, m, warn, t);
			if (status & MYR_MORE_RESULTS)
				m->st = MYR_FIRST;
			else
				myr_pop(rp, m, t);
			return;
		}
		myr_row(rp, m, p, n, c->flags & 1);
		return;
	case MYR_PREP_FIRST:
		if (h != 0x00 || n < 9) {
			myr_pop(rp, m, t);
			return;
		}
		m->prep_cols = le16(p + 5);
		m->prep_params = le16(p + 7);
		myr_result(rp, m,
			   json_pack("{s:{s:I, s:i, s:i}}", "prepared", "statement_id",
				     (json_int_t)le32(p + 1), "params", (int)m->prep_params,
				     "columns", (int)m->prep_cols),
			   t);
		m->prep_in_cols = !m->prep_params;
		m->left = m->prep_params ? m->prep_params : m->prep_cols;
		if (!m->left)
			myr_pop(rp, m, t);
		else
			m->st = MYR_PREP_DEFS;
		return;
	case MYR_PREP_DEFS:
		if (m->left) {
			if (--m->left || !deof)
				return;
		} else if (!is_eof) {
			return;
		}
		/* a run of definitions is complete (with its EOF without DEPRECATE_EOF) */
		if (!m->prep_in_cols && m->prep_cols) {
			m->prep_in_cols = true;
			m->left = m->prep_cols;
		} else {
			myr_pop(rp, m, t);
		}
		return;
	case MYR_FIELDS:
		if (is_eof || (deof && h == 0xfe))
			myr_pop(rp, m, t);
		return;
	case MYR_SIMPLE:
		if (h == 0x00)
			myr_ok(rp, m, p, n, t, &status, true);
		myr_pop(rp, m, t);
		return;
	case MYR_ANY:
		if (rp->cur)
			json_object_set_new(rp->cur, "info", text(rp, p, n));
		myr_pop(rp, m, t);
		return;
	}
}

static int myr_walk(struct replay *rp, const uint8_t *raw, size_t len, uint64_t caps,
		    bool *truncated, char *end, size_t endlen)
{
	struct myr *mp = calloc(1, sizeof(*mp));
	uint8_t *acc = NULL, *msg = NULL; /* the agent's byte stream; one message's payload */
	size_t alen = 0, acap = 0, mlen = 0, mcap = 0;
	int ret = 0;

	if (!mp)
		return -ENOMEM;
	mp->caps = caps;
	for (size_t i = 0; !rp->oom;) {
		uint8_t kind;
		const uint8_t *d;
		uint64_t t;
		uint32_t l;

		if (!entry_next(raw, len, &i, &kind, &t, &d, &l))
			break;
		if (kind == 'C' && l == 6) {
			if (mp->qn + mp->qh == mp->qcap) {
				struct myr_cmd *nq;

				if (mp->qh) {
					memmove(mp->q, mp->q + mp->qh, mp->qn * sizeof(*mp->q));
					mp->qh = 0;
				} else {
					size_t cap = mp->qcap ? mp->qcap * 2 : 16;

					if (!(nq = realloc(mp->q, cap * sizeof(*nq)))) {
						ret = -ENOMEM;
						goto out;
					}
					mp->q = nq;
					mp->qcap = cap;
				}
			}
			mp->q[mp->qh + mp->qn] =
			    (struct myr_cmd){.cmd = d[0], .flags = d[1], .t = t};
			memcpy(&mp->q[mp->qh + mp->qn].n, d + 2, 4);
			mp->qn++;
		} else if (kind == 'B' && l) { /* (an empty one adds nothing) */
			size_t off = 0;

			if ((ret = acc_append(&acc, &alen, &acap, d, l)))
				goto out;
			while (alen - off >= 4) {
				size_t pl = (size_t)acc[off] | (size_t)acc[off + 1] << 8 |
					    (size_t)acc[off + 2] << 16;

				if (alen - off < 4 + pl)
					break;
				if (mcap - mlen < pl) {
					size_t cap = mcap ? mcap : 4096;
					uint8_t *nb;

					while (cap - mlen < pl)
						cap *= 2;
					if (!(nb = realloc(msg, cap))) {
						ret = -ENOMEM;
						goto out;
					}
					msg = nb;
					mcap = cap;
				}
				if (pl)
					memcpy(msg + mlen, acc + off + 4, pl);
				mlen += pl;
				off += 4 + pl;
				if (pl == 0xffffff) /* continued in the next packet */
					continue;
				myr_packet(rp, mp, mlen ? msg : (const uint8_t *)"", mlen, t);
				mlen = 0;
			}
			memmove(acc, acc + off, alen - off);
			alen -= off;
		} else if (kind == 'T') {
			*truncated = true;
		} else if (kind == 'E') {
			snprintf(end, endlen, "%.*s", (int)l, (const char *)d);
		}
	}
	/* commands left unanswered (the session ended, or the recording was cut) */
	while (mp->qn && !rp->oom) {
		myr_begin(rp, mp);
		mp->qh++;
		mp->qn--;
		mp->started = false;
	}
	if (rp->oom)
		ret = -ENOMEM;
out:
	free(acc);
	free(msg);
	free(mp->q);
	json_decref(mp->not_null);
	json_decref(mp->cur_cols);
	json_decref(mp->cur_types);
	free(mp);
	return ret;
}

/* A recording's entries in the protocol its first entry names (recordings older than that
 * entry are PostgreSQL's). */
static int walk_any(struct replay *rp, const uint8_t *raw, size_t len, const char **proto,
		    bool *truncated, char *end, size_t endlen)
{
	if (len >= 13 + 1 + 8 && raw[0] == 'P' && raw[13] == RG_EV_MYSQL) {
		uint64_t caps;

		memcpy(&caps, raw + 14, 8);
		*proto = "mysql";
		return myr_walk(rp, raw, len, caps, truncated, end, endlen);
	}
	*proto = "postgres";
	return walk_entries(rp, raw, len, truncated, end, endlen);
}

int rg_replay_entries(const uint8_t *raw, size_t len, const struct rg_replay_opts *opts,
		      json_t **out)
{
	static const struct rg_replay_opts dflt = {0};
	struct replay rp = {.o = opts ? opts : &dflt};
	const char *proto = "postgres";
	char end[128] = "";
	bool truncated = false;
	int ret;

	*out = NULL;
	rp.stmts = json_array();
	rp.stmt_by_n = json_object();
	rp.outcome_by_n = json_object();
	if (!rp.stmts || !rp.stmt_by_n || !rp.outcome_by_n)
		ret = -ENOMEM;
	else
		ret = walk_any(&rp, raw, len, &proto, &truncated, end, sizeof(end));
	if (!ret && !(*out = json_pack("{s:s, s:O, s:b, s:s?}", "protocol", proto, "statements",
				       rp.stmts, "truncated", truncated, "end",
				       end[0] ? end : NULL)))
		ret = -ENOMEM;
	free(rp.copy);
	drop_result(&rp.res);
	json_decref(rp.stmts);
	json_decref(rp.stmt_by_n);
	json_decref(rp.outcome_by_n);
	return ret;
}

int rg_replay(const char *audit_dir, const char *rec_dir, long long session,
	      const struct rg_replay_opts *opts, json_t **out)
{
	static const struct rg_replay_opts dflt = {0};
	struct replay rp = {.o = opts ? opts : &dflt};
	struct rec_acc ra = {.session = session};
	struct stmt_acc sa = {.session = session};
	char end[128] = "";
	const char *proto = "postgres";
	bool truncated = false;
	json_t *o = NULL;
	int ret;

	*out = NULL;
	sa.by_n = json_object();
	sa.outcome_by_n = json_object();
	rp.stmts = json_array();
	if (!sa.by_n || !sa.outcome_by_n || !rp.stmts) {
		ret = -ENOMEM;
		goto out;
	}
	if (rg_audit_each(audit_dir, stmt_one, &sa) || rg_audit_each(rec_dir, rec_one, &ra)) {
		ret = -EIO;
		goto out;
	}
	if (ra.oom) {
		ret = -ENOMEM;
		goto out;
	}
	if (!ra.len) {
		ret = sa.seen ? -ENOENT : -ESRCH;
		goto out;
	}
	rp.stmt_by_n = sa.by_n;
	rp.outcome_by_n = sa.outcome_by_n;
	if ((ret = walk_any(&rp, ra.raw, ra.len, &proto, &truncated, end, sizeof(end))))
		goto out;
	o = json_pack("{s:I, s:s, s:O, s:b, s:b, s:s?}", "session", (json_int_t)session,
		      "protocol", proto, "statements", rp.stmts, "truncated", truncated,
		      "complete", !ra.gap && !ra.bad, "end", end[0] ? end : NULL);
	if (o && rp.o->detail) {
		json_t *s = json_object(), *idn = json_object_get(sa.session_rec, "identity");

		/* who and where, as the session_start record has them (absent keys stay absent) */
		if (s && sa.session_rec) {
			json_object_set(s, "sub", json_object_get(idn, "sub"));
			json_object_set(s, "iss", json_object_get(idn, "iss"));
			json_object_set(s, "groups", json_object_get(idn, "groups"));
			json_object_set(s, "target", json_object_get(sa.session_rec, "target"));
			json_object_set(s, "client", json_object_get(sa.session_rec, "client"));
			json_object_set(s, "role", json_object_get(sa.session_rec, "role"));
		}
		if (!s || json_object_set_new(o, "who", sa.session_rec ? s : json_null())) {
			json_decref(o);
			o = NULL;
		}
		if (s && !sa.session_rec)
			json_decref(s);
	}
	ret = o ? 0 : -ENOMEM;
	*out = o;
out:
	free(ra.raw);
	free(rp.copy);
	drop_result(&rp.res);
	json_decref(rp.stmts);
	json_decref(sa.by_n);
	json_decref(sa.outcome_by_n);
	json_decref(sa.session_rec);
	return ret;
}
