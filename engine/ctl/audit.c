/*
 * audit.c: `ringgatectl audit cat` prints an audit trail's records as JSON lines, and
 * `ringgatectl audit verify` checks an audit trail (engine/evidence) offline with
 * the checkpoint key's public half and names the first record that does not hold. Exit 0
 * when every record holds and the trail is sealed, 1 when it is broken or unreadable, 3 when
 * it holds but records follow the last checkpoint (a crash, or a cut tail).
 */
#include <getopt.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "evidence.h"

void ctl_audit_cat_help(FILE *out)
{
	fprintf(out, "usage: ringgatectl audit cat [--dir DIR]   (default: $RINGGATE_CONFIG's trail)\n"
		     "  Print every event record of the audit trail in DIR, oldest first, one JSON\n"
		     "  object per line with its sequence number and time added (\"seq\",\n"
		     "  \"time_us\"). Stops at the first record that does not hold; run\n"
		     "  `ringgatectl audit verify` to know why.\n");
}

static bool cat_one(void *arg, uint64_t seq, int64_t t, const char *p, size_t len)
{
	json_t *o = json_loadb(p, len, JSON_ALLOW_NUL, NULL);
	char *txt;

	(void)arg;
	if (!o || !json_is_object(o)) {
		json_decref(o);
		o = json_pack("{s:s%}", "raw", p, len);
	}
	json_object_set_new(o, "seq", json_integer((json_int_t)seq));
	json_object_set_new(o, "time_us", json_integer((json_int_t)t));
	txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (txt)
		puts(txt);
	free(txt);
	json_decref(o);
	return true;
}

int ctl_audit_cat(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	char fallback[4096] = "";
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd') {
			dir = optarg;
		} else if (c == 'h') {
			ctl_audit_cat_help(stdout);
			return 0;
		} else {
			ctl_audit_cat_help(stderr);
			return 2;
		}
	}
	if (!dir && !ctl_trail_dirs(fallback, NULL, sizeof(fallback)))
		dir = fallback;
	if (!dir) {
		ctl_audit_cat_help(stderr);
		return 2;
	}
	if (rg_audit_each(dir, cat_one, NULL)) {
		fprintf(stderr, "ringgatectl: %s: cannot read the trail\n", dir);
		return 1;
	}
	return 0;
}

void ctl_audit_verify_help(FILE *out)
{
	fprintf(out, "usage: ringgatectl audit verify --dir DIR --key PUBLIC_KEY.pem [--json]\n"
		     "  Verify the audit trail in DIR (state_dir/audit): checksums, the hash chain,\n"
		     "  sequence numbers and the Ed25519-signed checkpoints. Exit 0: intact and\n"
		     "  sealed; 3: intact, records after the last checkpoint; 1: broken (the first\n"
		     "  bad record is named) or unreadable.\n");
}

int ctl_audit_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"key", required_argument, NULL, 'k'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *key = NULL;
	struct rg_audit_report r;
	int c, json = 0;
	static const char *const names[] = {"ok", "unsealed", "broken", "unreadable"};

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			ctl_audit_verify_help(stdout);
			return 0;
		default:
			ctl_audit_verify_help(stderr);
			return 2;
		}
	}
	if (!dir || !key) {
		ctl_audit_verify_help(stderr);
		return 2;
	}
	if (rg_audit_verify(dir, key, &r)) {
		fprintf(stderr, "ringgatectl: %s: not an Ed25519 public key (PEM)\n", key);
		return 1;
	}
	if (json) {
		json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:s}", "verdict",
				      names[r.verdict], "records", (json_int_t)r.records,
				      "segments", (json_int_t)r.segments, "checkpoints",
				      (json_int_t)r.checkpoints, "unsealed", (json_int_t)r.unsealed,
				      "file", r.file, "offset", (json_int_t)r.offset, "seq",
				      (json_int_t)r.seq, "why", r.why);
		char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;

		if (txt)
			puts(txt);
		free(txt);
		json_decref(o);
	}
	else if (r.verdict == RG_AUDIT_OK)
		printf("ok: %llu records in %llu segments, %llu checkpoints, sealed\n",
		       (unsigned long long)r.records, (unsigned long long)r.segments,
		       (unsigned long long)r.checkpoints);
	else if (r.verdict == RG_AUDIT_UNSEALED)
		printf("intact but unsealed: %llu records in %llu segments; %llu after the last "
		       "checkpoint%s%s\n",
		       (unsigned long long)r.records, (unsigned long long)r.segments,
		       (unsigned long long)r.unsealed, r.why[0] ? "; " : "", r.why);
	else
		printf("%s: %s: record at offset %llu (sequence %llu expected): %s\n",
		       names[r.verdict], r.file[0] ? r.file : dir, (unsigned long long)r.offset,
		       (unsigned long long)r.seq, r.why);
	return r.verdict == RG_AUDIT_OK ? 0 : r.verdict == RG_AUDIT_UNSEALED ? 3 : 1;
}

/* ---- query and tail ------------------------------------------------------------------------- */

void ctl_audit_query_help(FILE *out)
{
	fprintf(out,
		"usage: ringgatectl audit query [--dir DIR] [--sub S] [--target T] [--since WHEN]\n"
		"         [--until WHEN] [--verdict V] [--rule R] [--event E] [--session N] [--json]\n"
		"  The records of the audit trail in DIR (default: the trail of $RINGGATE_CONFIG's\n"
		"  gateway) that match every filter given, oldest\n"
		"  first: a table (time UTC, event, session, sub, target, verdict, rule, rows,\n"
		"  server time, statement) or with --json one JSON array. A statement's stmt_end\n"
		"  (rows, bytes, server_us, sqlstate) is joined into its stmt record as \"end\".\n"
		"  WHEN: 2026-12-02T05:00:00Z (UTC), or an age such as 90s, 15m, 2h, 7d.\n");
}

void ctl_audit_tail_help(FILE *out)
{
	fprintf(out, "usage: ringgatectl audit tail [--dir DIR] [-n N] [-f]\n"
		     "  DIR: default the trail of $RINGGATE_CONFIG's gateway.\n"
		     "  Print the last N records (default 10) as JSON lines; with -f keep printing\n"
		     "  records as they are written (polls the trail every 500 ms), for a SIEM.\n");
}

/* WHEN as UTC microseconds since the epoch; -1 when malformed */
static int64_t parse_when(const char *s)
{
	struct tm tm = {0};
	char *end;
	double v;

	v = strtod(s, &end);
	if (end != s && v >= 0 && (!strcmp(end, "s") || !strcmp(end, "m") || !strcmp(end, "h") ||
				   !strcmp(end, "d"))) {
		double mul = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : 86400;
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - (int64_t)(v * mul * 1e6);
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (*end && strcmp(end, "Z")))
		return -1;
	return (int64_t)timegm(&tm) * 1000000;
}

struct qry {
	const char *sub, *target, *verdict, *rule, *event;
	long long session;
	int64_t since, until;
	json_t *all; /* every record, for the join */
};

static bool collect(void *arg, uint64_t seq, int64_t t, const char *p, size_t len)
{
	struct qry *q = arg;
	json_t *o = json_loadb(p, len, JSON_ALLOW_NUL, NULL);

	if (!o || !json_is_object(o)) {
		json_decref(o);
		o = json_pack("{s:s%}", "raw", p, len);
	}
	if (!o)
		return false;
	json_object_set_new(o, "seq", json_integer((json_int_t)seq));
	json_object_set_new(o, "time_us", json_integer((json_int_t)t));
	json_array_append_new(q->all, o);
	return true;
}

static bool str_is(json_t *o, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v && !strcmp(v, want);
}

static bool match(const struct qry *q, json_t *o)
{
	json_int_t t = json_integer_value(json_object_get(o, "time_us"));

	if (q->event && !str_is(o, "event", q->event))
		return false;
	if (q->sub && !str_is(json_object_get(o, "identity"), "sub", q->sub))
		return false;
	if (q->target && !str_is(o, "target", q->target))
		return false;
	if (q->verdict && !str_is(o, "verdict", q->verdict))
		return false;
	if (q->rule && !str_is(o, "rule", q->rule))
		return false;
	if (q->session >= 0 && json_integer_value(json_object_get(o, "session")) != q->session)
		return false;
	if (q->since >= 0 && t < q->since)
		return false;
	if (q->until >= 0 && t > q->until)
		return false;
	return true;
}


static const char *sv(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "-";
}

int ctl_audit_query(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},     {"sub", required_argument, NULL, 's'},
	    {"target", required_argument, NULL, 't'},  {"since", required_argument, NULL, 'S'},
	    {"until", required_argument, NULL, 'U'},   {"verdict", required_argument, NULL, 'v'},
	    {"rule", required_argument, NULL, 'r'},    {"event", required_argument, NULL, 'e'},
	    {"session", required_argument, NULL, 'n'}, {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},	       {NULL, 0, NULL, 0},
	};
	struct qry q = {.session = -1, .since = -1, .until = -1};
	const char *dir = NULL;
	char fallback[4096] = "";
	bool as_json = false;
	json_t *out, *ends, *o;
	size_t i;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's': q.sub = optarg; break;
		case 't': q.target = optarg; break;
		case 'v': q.verdict = optarg; break;
		case 'r': q.rule = optarg; break;
		case 'e': q.event = optarg; break;
		case 'n': q.session = atoll(optarg); break;
		case 'j': as_json = true; break;
		case 'S':
		case 'U': {
			int64_t w = parse_when(optarg);

			if (w < 0) {
				fprintf(stderr, "ringgatectl: --%s: '%s' is not a UTC time "
					"(2026-12-02T05:00:00Z) or an age (15m)\n",
					c == 'S' ? "since" : "until", optarg);
				return 2;
			}
			*(c == 'S' ? &q.since : &q.until) = w;
			break;
		}
		case 'h': ctl_audit_query_help(stdout); return 0;
		default: ctl_audit_query_help(stderr); return 2;
		}
	}
	if (!dir && !ctl_trail_dirs(fallback, NULL, sizeof(fallback)))
		dir = fallback;
	if (!dir) {
		ctl_audit_query_help(stderr);
		return 2;
	}
	q.all = json_array();
	if (rg_audit_each(dir, collect, &q)) {
		fprintf(stderr, "ringgatectl: %s: cannot read the trail\n", dir);
		json_decref(q.all);
		return 1;
	}
	/* stmt_end by "session/n", joined into its stmt */
	ends = json_object();
	json_array_foreach(q.all, i, o) {
		if (str_is(o, "event", "stmt_end")) {
			char k[48];

			snprintf(k, sizeof(k), "%lld/%lld",
				 (long long)json_integer_value(json_object_get(o, "session")),
				 (long long)json_integer_value(json_object_get(o, "n")));
			json_object_set(ends, k, o);
		}
	}
	out = json_array();
	json_array_foreach(q.all, i, o) {
		if (!match(&q, o))
			continue;
		if (str_is(o, "event", "stmt")) {
			char k[48];
			json_t *e;

			snprintf(k, sizeof(k), "%lld/%lld",
				 (long long)json_integer_value(json_object_get(o, "session")),
				 (long long)json_integer_value(json_object_get(o, "n")));
			if ((e = json_object_get(ends, k)))
				json_object_set(o, "end", e);
		}
		json_array_append(out, o);
	}
	if (as_json) {
		char *txt = json_dumps(out, JSON_COMPACT);

		if (txt)
			puts(txt);
		free(txt);
	} else {
		printf("%-27s %-15s %7s %-16s %-10s %-7s %-20s %7s %9s  %s\n", "time (UTC)", "event",
		       "session", "sub", "target", "verdict", "rule", "rows", "server_us",
		       "statement");
		json_array_foreach(out, i, o) {
			char t[80], rows[24] = "-", us[24] = "-";
			json_t *e = json_object_get(o, "end");
			const char *sql = sv(o, "sql");

			rg_audit_time_iso(json_integer_value(json_object_get(o, "time_us")), t, sizeof(t));
			if (e && json_object_get(e, "rows"))
				snprintf(rows, sizeof(rows), "%lld",
					 (long long)json_integer_value(json_object_get(e, "rows")));
			if (e && json_object_get(e, "server_us"))
				snprintf(us, sizeof(us), "%lld",
					 (long long)json_integer_value(json_object_get(e, "server_us")));
			printf("%-27s %-15s %7lld %-16.16s %-10.10s %-7s %-20.20s %7s %9s  %.80s\n", t,
			       sv(o, "event"),
			       (long long)json_integer_value(json_object_get(o, "session")),
			       sv(json_object_get(o, "identity"), "sub"), sv(o, "target"),
			       sv(o, "verdict"), sv(o, "rule"), rows, us,
			       strcmp(sql, "-") ? sql : sv(o, "reason"));
		}
	}
	json_decref(out);
	json_decref(ends);
	json_decref(q.all);
	return 0;
}

struct tailst {
	uint64_t after; /* print records with a greater seq */
	uint64_t last;
	json_t *ring; /* the last n (first pass) */
	size_t n;
};

static bool tail_one(void *arg, uint64_t seq, int64_t t, const char *p, size_t len)
{
	struct tailst *st = arg;

	if (seq <= st->after)
		return true;
	st->last = seq;
	if (st->ring) {
		json_array_append_new(st->ring, json_pack("{s:I, s:I, s:s%}", "seq", (json_int_t)seq,
							  "t", (json_int_t)t, "p", p, len));
		if (json_array_size(st->ring) > st->n)
			json_array_remove(st->ring, 0);
		return true;
	}
	cat_one(NULL, seq, t, p, len);
	return true;
}

int ctl_audit_tail(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'}, {"lines", required_argument, NULL, 'n'},
	    {"follow", no_argument, NULL, 'f'},	   {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct tailst st = {.n = 10};
	const char *dir = NULL;
	char fallback[4096] = "";
	bool follow = false;
	json_t *o;
	size_t i;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:f", opts, NULL)) != -1) {
		if (c == 'd')
			dir = optarg;
		else if (c == 'n')
			st.n = (size_t)atoll(optarg);
		else if (c == 'f')
			follow = true;
		else if (c == 'h')
			return ctl_audit_tail_help(stdout), 0;
		else
			return ctl_audit_tail_help(stderr), 2;
	}
	if (!dir && !ctl_trail_dirs(fallback, NULL, sizeof(fallback)))
		dir = fallback;
	if (!dir)
		return ctl_audit_tail_help(stderr), 2;
	st.ring = json_array();
	if (rg_audit_each(dir, tail_one, &st)) {
		fprintf(stderr, "ringgatectl: %s: cannot read the trail\n", dir);
		return 1;
	}
	json_array_foreach(st.ring, i, o) {
		const char *p = json_string_value(json_object_get(o, "p"));

		cat_one(NULL, (uint64_t)json_integer_value(json_object_get(o, "seq")),
			json_integer_value(json_object_get(o, "t")), p, strlen(p));
	}
	json_decref(st.ring);
	st.ring = NULL;
	fflush(stdout);
	while (follow) {
		usleep(500000);
		st.after = st.last;
		if (rg_audit_each(dir, tail_one, &st)) {
			fprintf(stderr, "ringgatectl: %s: cannot read the trail\n", dir);
			return 1;
		}
		fflush(stdout);
	}
	return 0;
}

/* ---- where the trails are, from the gateway's config ------------------------------------- */

int ctl_trail_dirs(char *audit, char *rec, size_t n)
{
	const char *path = getenv("RINGGATE_CONFIG");
	struct rg_config *cfg = NULL;
	int r = -1;

	if (!path || !*path)
		return -1;
	if (rg_config_load(path, &cfg, stderr))
		return -1;
	if (audit && !audit[0]) {
		if (cfg->audit.dir)
			snprintf(audit, n, "%s", cfg->audit.dir);
		else
			snprintf(audit, n, "%s/audit", cfg->state_dir);
	}
	if (rec && !rec[0]) {
		if (cfg->audit.recordings_dir)
			snprintf(rec, n, "%s", cfg->audit.recordings_dir);
		else
			snprintf(rec, n, "%s/recordings", cfg->state_dir);
	}
	r = 0;
	rg_config_free(cfg);
	return r;
}
