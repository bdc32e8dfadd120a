/*
 * sessions.c: `ringgatectl sessions list` and `ringgatectl replay`, offline over a gateway's
 * state directory (docs/audit.md, "Session recordings").
 *
 * The audit trail says which sessions there were, who ran them and every statement's text
 * (literals replaced) and verdict; the recordings trail holds, per session, the bytes the
 * agent received and where each statement went to the target. Replay frames those bytes as
 * PostgreSQL messages again and prints the session as psql would have shown it: the
 * statement, an aligned table with its row count or the command tag, errors and notices,
 * and the time until the ReadyForQuery. Both trails are read through rg_audit_each, which
 * verifies as it goes: a record that does not hold ends the reading there.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "ctl.h"
#include "evidence.h"

static void dirs(const char *state, char *audit, char *rec, size_t n)
{
	snprintf(audit, n, "%s/audit", state);
	snprintf(rec, n, "%s/recordings", state);
}

static void iso(int64_t us, char *out, size_t n)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)(us % 1000000));
}

/* ---- sessions list ------------------------------------------------------------------------ */

void ctl_sessions_list_help(FILE *out)
{
	fprintf(out,
		"usage: ringgatectl sessions list --state DIR [--sub S] [--json]\n"
		"  The sessions in the audit trail of the gateway whose state_dir is DIR (or\n"
		"  --audit AUDIT_DIR), oldest first: id, who (sub), target, client, start, end,\n"
		"  reason, statements, denials, and whether it was recorded (ringgatectl replay\n"
		"  ID). --json: one JSON array of objects with at least \"id\".\n");
}

struct sess_acc {
	json_t *by_id; /* "id" -> object */
	json_t *order; /* ids, as first seen */
};

static bool sess_one(void *arg, uint64_t seq, int64_t t, const char *p, size_t len)
{
	struct sess_acc *a = arg;
	json_t *o = json_loadb(p, len, 0, NULL), *s;
	const char *ev;
	char id[32], ts[96];

	(void)seq;
	if (!o || !(ev = json_string_value(json_object_get(o, "event"))) ||
	    !json_is_integer(json_object_get(o, "session"))) {
		json_decref(o);
		return true;
	}
	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(o, "session")));
	iso(t, ts, sizeof(ts));
	s = json_object_get(a->by_id, id);
	if (!s && (!strcmp(ev, "auth_ok") || !strcmp(ev, "session_start"))) {
		s = json_pack("{s:I}", "id", (json_int_t)json_integer_value(json_object_get(o, "session")));
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
			json_object_set_new(s, "recorded",
					    json_boolean(json_is_true(json_object_get(o, "recorded"))));
		}
	} else if (!strcmp(ev, "session_end")) {
		json_object_set_new(s, "end", json_string(ts));
		json_object_set(s, "reason", json_object_get(o, "reason"));
		json_object_set(s, "statements", json_object_get(o, "statements"));
		json_object_set(s, "denials", json_object_get(o, "denials"));
		json_object_set(s, "bytes_out", json_object_get(o, "bytes_out"));
	}
	json_decref(o);
	return true;
}

int ctl_sessions_list(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state", required_argument, NULL, 's'}, {"audit", required_argument, NULL, 'a'},
	    {"sub", required_argument, NULL, 'u'},   {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	char audit[4096] = "", rec[4096];
	const char *sub = NULL;
	bool as_json = false;
	struct sess_acc a = {json_object(), json_array()};
	json_t *out = json_array(), *idv;
	size_t i;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			dirs(optarg, audit, rec, sizeof(audit));
		else if (c == 'a')
			snprintf(audit, sizeof(audit), "%s", optarg);
		else if (c == 'u')
			sub = optarg;
		else if (c == 'j')
			as_json = true;
		else
			return ctl_sessions_list_help(stderr), 2;
	}
	if (!audit[0])
		return ctl_sessions_list_help(stderr), 2;
	if (rg_audit_each(audit, sess_one, &a)) {
		fprintf(stderr, "ringgatectl: %s: cannot read the audit trail\n", audit);
		return 1;
	}
	json_array_foreach(a.order, i, idv) {
		json_t *s = json_object_get(a.by_id, json_string_value(idv));
		const char *ssub = json_string_value(json_object_get(s, "sub"));

		if (!sub || (ssub && !strcmp(ssub, sub)))
			json_array_append(out, s);
	}
	if (as_json) {
		char *t = json_dumps(out, JSON_COMPACT);

		puts(t ? t : "[]");
		free(t);
	} else {
		printf("%-20s %-16s %-10s %-21s %-27s %-14s %5s %5s %s\n", "id", "sub", "target",
		       "client", "start (UTC)", "reason", "stmts", "deny", "recorded");
		json_array_foreach(out, i, idv) {
#define SV(k, dflt)                                                                                \
	(json_string_value(json_object_get(idv, k)) ? json_string_value(json_object_get(idv, k))  \
						    : (dflt))
			printf("%-20lld %-16.16s %-10.10s %-21.21s %-27s %-14.14s %5lld %5lld %s\n",
			       (long long)json_integer_value(json_object_get(idv, "id")),
			       SV("sub", "-"), SV("target", "-"), SV("client", "-"),
			       SV("start", "-"), SV("reason", "(open)"),
			       (long long)json_integer_value(json_object_get(idv, "statements")),
			       (long long)json_integer_value(json_object_get(idv, "denials")),
			       json_is_true(json_object_get(idv, "recorded")) ? "yes" : "no");
		}
	}
	json_decref(out);
	json_decref(a.by_id);
	json_decref(a.order);
	return 0;
}

/* ---- replay ----------------------------------------------------------------------------- */

void ctl_replay_help(FILE *out)
{
	fprintf(out,
		"usage: ringgatectl replay SESSION --state DIR [--speed N] [--json]\n"
		"  Show a recorded session as psql showed it to the agent: each statement (as the\n"
		"  audit trail has it, literals replaced), its result (masked values only: that is\n"
		"  what the agent received), errors, notices, and the time each took. DIR is the\n"
		"  gateway's state_dir (or --audit DIR --recordings DIR). --speed N waits between\n"
		"  statements N times faster than they happened (default: no waiting). --json:\n"
		"  one JSON object with the statements and their results.\n");
}

struct rec_acc {
	long long session;
	uint8_t *raw; /* entries, chunk after chunk */
	size_t len, cap;
	uint32_t next_chunk;
	bool gap;
	bool bad;
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
			a->bad = true;
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

struct stmt_acc {
	long long session;
	json_t *by_n; /* "n" -> stmt record */
	json_t *session_rec;
};

static bool stmt_one(void *arg, uint64_t seq, int64_t t, const char *p, size_t len)
{
	struct stmt_acc *a = arg;
	json_t *o = json_loadb(p, len, 0, NULL);
	const char *ev;
	char k[24];

	(void)seq;
	(void)t;
	if (!o || json_integer_value(json_object_get(o, "session")) != a->session ||
	    !(ev = json_string_value(json_object_get(o, "event")))) {
		json_decref(o);
		return true;
	}
	if (!strcmp(ev, "stmt")) {
		snprintf(k, sizeof(k), "%lld", (long long)json_integer_value(json_object_get(o, "n")));
		json_object_set(a->by_n, k, o);
	} else if (!strcmp(ev, "session_start") && !a->session_rec) {
		a->session_rec = json_incref(o);
	}
	json_decref(o);
	return true;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool numeric_oid(uint32_t oid)
{
	return oid == 20 || oid == 21 || oid == 23 || oid == 26 || oid == 700 || oid == 701 ||
	       oid == 1700 || oid == 790;
}

/* One result being built from the agent's bytes. */
struct result {
	json_t *cols;  /* names */
	json_t *types; /* oids */
	json_t *rows;  /* arrays of strings / null */
};

static size_t utf8_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void pad(size_t n)
{
	while (n--)
		putchar(' ');
}

/* An aligned table as psql prints one: centred headers, numbers right-aligned. */
static void print_table(const struct result *r)
{
	size_t nc = json_array_size(r->cols), nr = json_array_size(r->rows), *w;
	size_t i, j;
	json_t *row;

	if (!(w = calloc(nc ? nc : 1, sizeof(*w))))
		return;
	for (j = 0; j < nc; j++)
		w[j] = utf8_width(json_string_value(json_array_get(r->cols, j)));
	json_array_foreach(r->rows, i, row)
		for (j = 0; j < nc; j++) {
			const char *v = json_string_value(json_array_get(row, j));
			size_t x = v ? utf8_width(v) : 0;

			if (x > w[j])
				w[j] = x;
		}
	for (j = 0; j < nc; j++) {
		const char *h = json_string_value(json_array_get(r->cols, j));
		size_t x = utf8_width(h), l = (w[j] - x) / 2;

		putchar(' ');
		pad(l);
		fputs(h, stdout);
		pad(w[j] - x - l); /* psql pads the last header too */
		fputs(j + 1 < nc ? " |" : " ", stdout);
	}
	putchar('\n');
	for (j = 0; j < nc; j++) {
		for (i = 0; i < w[j] + 2; i++)
			putchar('-');
		if (j + 1 < nc)
			putchar('+');
	}
	putchar('\n');
	json_array_foreach(r->rows, i, row) {
		for (j = 0; j < nc; j++) {
			const char *v = json_string_value(json_array_get(row, j));
			size_t x = v ? utf8_width(v) : 0;
			bool right = numeric_oid((uint32_t)json_integer_value(json_array_get(r->types, j)));

			putchar(' ');
			if (right)
				pad(w[j] - x);
			fputs(v ? v : "", stdout);
			if (j + 1 < nc) {
				if (!right)
					pad(w[j] - x);
				fputs(" |", stdout);
			}
		}
		putchar('\n');
	}
	printf("(%zu row%s)\n\n", nr, nr == 1 ? "" : "s");
	free(w);
}

struct replay {
	bool json, truncated;
	double speed;
	json_t *stmts, *stmt_by_n, *cur; /* cur: the statement results go to */
	struct result res;
	uint64_t t_stmt, t_last;
	const char *end_reason;
	char end_buf[128];
};

static void new_cur(struct replay *rp, json_t *stmt, uint32_t n)
{
	json_t *o = json_object();

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
	json_array_append_new(rp->stmts, o);
	rp->cur = o;
}

static void end_result(struct replay *rp, const char *tag)
{
	json_t *r = json_object();

	if (rp->res.cols) {
		if (!rp->json)
			print_table(&rp->res);
		json_object_set_new(r, "columns", rp->res.cols);
		json_object_set_new(r, "rows", rp->res.rows);
		json_decref(rp->res.types);
	} else if (tag && !rp->json) {
		printf("%s\n\n", tag);
	}
	if (tag)
		json_object_set_new(r, "tag", json_string(tag));
	if (!rp->cur)
		new_cur(rp, NULL, 0);
	json_array_append_new(json_object_get(rp->cur, "results"), r);
	memset(&rp->res, 0, sizeof(rp->res));
}

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

/* One message the agent received. */
static void on_msg(struct replay *rp, uint8_t type, const uint8_t *b, size_t n, uint64_t t)
{
	switch (type) {
	case 'T': {
		uint16_t nf = n >= 2 ? (uint16_t)(b[0] << 8 | b[1]) : 0;
		size_t i = 2;

		rp->res.cols = json_array();
		rp->res.types = json_array();
		rp->res.rows = json_array();
		for (uint16_t f = 0; f < nf && i < n; f++) {
			size_t l = strnlen((const char *)b + i, n - i);

			if (i + l + 1 + 18 > n)
				break;
			json_array_append_new(rp->res.cols, json_stringn((const char *)b + i, l));
			json_array_append_new(rp->res.types,
					      json_integer(be32(b + i + l + 1 + 6)));
			i += l + 1 + 18;
		}
		break;
	}
	case 'D': {
		uint16_t nf = n >= 2 ? (uint16_t)(b[0] << 8 | b[1]) : 0;
		size_t i = 2;
		json_t *row = json_array();

		for (uint16_t f = 0; f < nf && i + 4 <= n; f++) {
			int32_t l = (int32_t)be32(b + i);

			i += 4;
			if (l < 0) {
				json_array_append_new(row, json_null());
			} else if ((size_t)l <= n - i) {
				json_array_append_new(row, json_stringn_nocheck((const char *)b + i,
										(size_t)l));
				i += (size_t)l;
			}
		}
		if (!rp->res.rows) { /* rows without a description (an Execute of a portal) */
			rp->res.cols = json_array();
			rp->res.types = json_array();
			rp->res.rows = json_array();
			for (uint16_t f = 0; f < nf; f++) {
				char h[16];

				snprintf(h, sizeof(h), "?column%u?", f + 1);
				json_array_append_new(rp->res.cols, json_string(h));
				json_array_append_new(rp->res.types, json_integer(0));
			}
		}
		json_array_append_new(rp->res.rows, row);
		break;
	}
	case 'C': {
		char tag[128];

		snprintf(tag, sizeof(tag), "%.*s", (int)strnlen((const char *)b, n), (const char *)b);
		end_result(rp, tag);
		break;
	}
	case 'E':
	case 'N': {
		const char *sev = field(b, n, 'S'), *msg = field(b, n, 'M'), *code = field(b, n, 'C');
		json_t *e = json_pack("{s:s, s:s, s:s}", "severity", sev ? sev : "?", "sqlstate",
				      code ? code : "", "message", msg ? msg : "");

		if (!rp->json)
			printf("%s:  %s\n%s", sev ? sev : "?", msg ? msg : "",
			       type == 'E' ? "\n" : "");
		if (!rp->cur)
			new_cur(rp, NULL, 0);
		json_array_append_new(json_object_get(rp->cur, type == 'E' ? "errors" : "notices"), e);
		if (type == 'E')
			memset(&rp->res, 0, sizeof(rp->res));
		break;
	}
	case 'd':
		if (!rp->json)
			fwrite(b, 1, n, stdout);
		break;
	case 'Z':
		if (rp->cur && rp->t_stmt) {
			double ms = (double)(t - rp->t_stmt) / 1000.0;

			json_object_set_new(rp->cur, "time_ms", json_real(ms));
			if (!rp->json)
				printf("Time: %.3f ms\n\n", ms);
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
	json_t *s;

	snprintf(k, sizeof(k), "%u", n);
	s = json_object_get(rp->stmt_by_n, k);
	new_cur(rp, s, n);
	if (rp->speed > 0 && rp->t_last && t > rp->t_last)
		usleep((useconds_t)((double)(t - rp->t_last) / rp->speed));
	rp->t_last = t;
	if (!rp->t_stmt)
		rp->t_stmt = t;
	if (!rp->json) {
		const char *sql = s ? json_string_value(json_object_get(s, "sql")) : NULL;
		const char *v = s ? json_string_value(json_object_get(s, "verdict")) : NULL;

		printf("=> %s\n", sql ? sql : "(statement not in the audit trail)");
		if (v && strcmp(v, "allow") && strcmp(v, "pass"))
			printf("-- verdict: %s%s%s\n", v,
			       json_object_get(s, "rule") ? ", rule " : "",
			       json_object_get(s, "rule")
				   ? json_string_value(json_object_get(s, "rule"))
				   : "");
	}
}

int ctl_replay(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state", required_argument, NULL, 's'},	  {"audit", required_argument, NULL, 'a'},
	    {"recordings", required_argument, NULL, 'r'}, {"speed", required_argument, NULL, 'x'},
	    {"json", no_argument, NULL, 'j'},		  {NULL, 0, NULL, 0},
	};
	char audit[4096] = "", rec[4096] = "";
	struct replay rp = {0};
	struct rec_acc ra = {0};
	struct stmt_acc sa = {0};
	uint8_t *acc = NULL; /* the agent's byte stream, for framing */
	size_t alen = 0, acap = 0, i;
	char *end;
	int c, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			dirs(optarg, audit, rec, sizeof(audit));
		else if (c == 'a')
			snprintf(audit, sizeof(audit), "%s", optarg);
		else if (c == 'r')
			snprintf(rec, sizeof(rec), "%s", optarg);
		else if (c == 'x')
			rp.speed = strtod(optarg, NULL);
		else if (c == 'j')
			rp.json = true;
		else
			return ctl_replay_help(stderr), 2;
	}
	if (optind != argc - 1 || !audit[0] || !rec[0])
		return ctl_replay_help(stderr), 2;
	ra.session = sa.session = strtoll(argv[optind], &end, 10);
	if (*end || ra.session <= 0) {
		fprintf(stderr, "ringgatectl: '%s' is not a session id (ringgatectl sessions list)\n",
			argv[optind]);
		return 2;
	}
	sa.by_n = json_object();
	if (rg_audit_each(audit, stmt_one, &sa) || rg_audit_each(rec, rec_one, &ra)) {
		fprintf(stderr, "ringgatectl: cannot read the trails in %s and %s\n", audit, rec);
		ret = 1;
		goto out;
	}
	if (!ra.len) {
		fprintf(stderr, "ringgatectl: no recording of session %lld in %s\n", ra.session, rec);
		ret = 1;
		goto out;
	}
	rp.stmts = json_array();
	rp.stmt_by_n = sa.by_n;
	if (!rp.json && sa.session_rec) {
		json_t *idn = json_object_get(sa.session_rec, "identity");

		printf("-- session %lld: %s (%s) on %s from %s as %s\n\n", ra.session,
		       json_string_value(json_object_get(idn, "sub")),
		       json_string_value(json_object_get(idn, "iss")),
		       json_string_value(json_object_get(sa.session_rec, "target")),
		       json_string_value(json_object_get(sa.session_rec, "client")),
		       json_string_value(json_object_get(sa.session_rec, "role")));
	}
	for (i = 0; i + 13 <= ra.len;) {
		uint8_t kind = ra.raw[i];
		uint64_t t;
		uint32_t l;

		memcpy(&t, ra.raw + i + 1, 8);
		memcpy(&l, ra.raw + i + 9, 4);
		if (l > ra.len - i - 13)
			break;
		const uint8_t *d = ra.raw + i + 13;

		i += 13 + l;
		if (kind == 'S' && l == 4) {
			uint32_t n;

			memcpy(&n, d, 4);
			on_stmt(&rp, n, t);
		} else if (kind == 'B') {
			size_t off = 0;

			if (acap - alen < l) {
				size_t cap = acap ? acap : 65536;
				uint8_t *nb;

				while (cap - alen < l)
					cap *= 2;
				if (!(nb = realloc(acc, cap))) {
					ret = 1;
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
				on_msg(&rp, acc[off], acc + off + 5, ml - 4, t);
				off += 1 + ml;
			}
			memmove(acc, acc + off, alen - off);
			alen -= off;
		} else if (kind == 'T') {
			rp.truncated = true;
			if (!rp.json)
				printf("-- the recording stops here: the session passed "
				       "audit.record_max_bytes\n");
		} else if (kind == 'E') {
			snprintf(rp.end_buf, sizeof(rp.end_buf), "%.*s", (int)l, (const char *)d);
			rp.end_reason = rp.end_buf;
		}
	}
	if (ra.gap && !rp.json)
		printf("-- chunks of this recording are missing (the trail was cut?)\n");
	if (rp.json) {
		json_t *o = json_pack("{s:I, s:O, s:b, s:b, s:s?}", "session", (json_int_t)ra.session,
				      "statements", rp.stmts, "truncated", rp.truncated, "complete",
				      !ra.gap && !ra.bad, "end", rp.end_reason);
		char *txt = json_dumps(o, JSON_COMPACT);

		puts(txt ? txt : "{}");
		free(txt);
		json_decref(o);
	} else if (rp.end_reason) {
		printf("-- session ended: %s\n", rp.end_reason);
	}
out:
	free(acc);
	free(ra.raw);
	json_decref(rp.stmts);
	json_decref(rp.res.cols);
	json_decref(rp.res.types);
	json_decref(rp.res.rows);
	json_decref(sa.by_n);
	json_decref(sa.session_rec);
	return ret;
}
