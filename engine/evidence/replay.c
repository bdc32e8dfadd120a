/*
 * replay.c: sessions read back from the trails (docs/audit.md, "Session recordings"): the
 * sessions of an audit trail, filtered, and one session's replay, both as JSON, for
 * `ringgatectl sessions list` / `ringgatectl replay` and the admin listener's /api/sessions.
 *
 * The audit trail says which sessions there were, who ran them and every statement's text
 * (literals replaced) and verdict; the recordings trail holds, per session, the bytes the
 * agent received and where each statement went to the target. A replay frames those bytes as
 * PostgreSQL messages again: per statement its results (columns, rows, command tag), errors,
 * notices and the time until the ReadyForQuery. Values are what the agent received (masked).
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

/* The recording's entries, in order: statement markers and the agent's bytes framed as
 * messages (a message may span entries and chunks). */
static int walk_entries(struct replay *rp, const uint8_t *raw, size_t len, bool *truncated,
			char *end, size_t endlen)
{
	uint8_t *acc = NULL; /* the agent's byte stream, for framing */
	size_t alen = 0, acap = 0;
	int ret = 0;

	for (size_t i = 0; i + 13 <= len && !rp->oom;) {
		uint8_t kind = raw[i];
		const uint8_t *d;
		uint64_t t;
		uint32_t l;

		memcpy(&t, raw + i + 1, 8);
		memcpy(&l, raw + i + 9, 4);
		if (l > len - i - 13)
			break;
		d = raw + i + 13;
		i += 13 + l;
		if (kind == 'S' && l == 4) {
			uint32_t n;

			memcpy(&n, d, 4);
			on_stmt(rp, n, t);
		} else if (kind == 'B') {
			size_t off = 0;

			if (acap - alen < l) {
				size_t cap = acap ? acap : 65536;
				uint8_t *nb;

				while (cap - alen < l)
					cap *= 2;
				if (!(nb = realloc(acc, cap))) {
					ret = -ENOMEM;
					goto out;
				}
				acc = nb;
				acap = cap;
			}
			memcpy(acc + alen, d, l);
			alen += l;
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

int rg_replay(const char *audit_dir, const char *rec_dir, long long session,
	      const struct rg_replay_opts *opts, json_t **out)
{
	static const struct rg_replay_opts dflt = {0};
	struct replay rp = {.o = opts ? opts : &dflt};
	struct rec_acc ra = {.session = session};
	struct stmt_acc sa = {.session = session};
	char end[128] = "";
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
	if ((ret = walk_entries(&rp, ra.raw, ra.len, &truncated, end, sizeof(end))))
		goto out;
	o = json_pack("{s:I, s:O, s:b, s:b, s:s?}", "session", (json_int_t)session, "statements",
		      rp.stmts, "truncated", truncated, "complete", !ra.gap && !ra.bad, "end",
		      end[0] ? end : NULL);
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
