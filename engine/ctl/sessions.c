/*
 * sessions.c: `ringgatectl sessions list` and `ringgatectl replay`, offline over a gateway's
 * state directory (docs/audit.md, "Session recordings").
 *
 * The reading is engine/evidence's (rg_sessions_list, rg_replay: the admin listener's
 * /api/sessions shares it); this file prints. Replay prints the session as psql would have
 * shown it: the statement, an aligned table with its row count or the command tag, errors
 * and notices, and the time until the ReadyForQuery, in the order the agent received them
 * (the replay's "out" lists). Values are printed as the agent's bytes.
 */
#include <getopt.h>
#include <jansson.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "evidence.h"

static void dirs(const char *state, char *audit, char *rec, size_t n)
{
	snprintf(audit, n, "%s/audit", state);
	snprintf(rec, n, "%s/recordings", state);
}

/* ---- sessions list ------------------------------------------------------------------------ */

void ctl_sessions_list_help(FILE *out)
{
	fprintf(out,
		"usage: ringgatectl sessions list [--state DIR] [--sub S] [--json]\n"
		"  (default: the state_dir of $RINGGATE_CONFIG's gateway)\n"
		"  The sessions in the audit trail of the gateway whose state_dir is DIR (or\n"
		"  --audit AUDIT_DIR), oldest first: id, protocol (postgres, mysql), who (sub),\n"
		"  target, client, start, end, reason, statements, denials, and whether it was\n"
		"  recorded (ringgatectl replay ID). --json: one JSON array of objects with at\n"
		"  least \"id\".\n");
}

int ctl_sessions_list(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state", required_argument, NULL, 's'}, {"audit", required_argument, NULL, 'a'},
	    {"sub", required_argument, NULL, 'u'},   {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	char audit[4096] = "", rec[4096] = "";
	struct rg_sessions_filter f = {.since_us = -1, .until_us = -1};
	bool as_json = false;
	json_t *out, *idv;
	size_t i;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			dirs(optarg, audit, rec, sizeof(audit));
		else if (c == 'a')
			snprintf(audit, sizeof(audit), "%s", optarg);
		else if (c == 'u')
			f.sub = optarg;
		else if (c == 'j')
			as_json = true;
		else
			return ctl_sessions_list_help(stderr), 2;
	}
	if (!audit[0])
		(void)ctl_trail_dirs(audit, rec, sizeof(audit));
	if (!audit[0])
		return ctl_sessions_list_help(stderr), 2;
	if (rg_sessions_list(audit, &f, &out)) {
		fprintf(stderr, "ringgatectl: %s: cannot read the audit trail\n", audit);
		return 1;
	}
	if (as_json) {
		char *t = json_dumps(out, JSON_COMPACT);

		puts(t ? t : "[]");
		free(t);
	} else {
		printf("%-20s %-8s %-16s %-10s %-21s %-27s %-14s %5s %5s %s\n", "id", "protocol",
		       "sub", "target", "client", "start (UTC)", "reason", "stmts", "deny",
		       "recorded");
		json_array_foreach(out, i, idv) {
#define SV(k, dflt)                                                                                \
	(json_string_value(json_object_get(idv, k)) ? json_string_value(json_object_get(idv, k))  \
						    : (dflt))
			printf("%-20lld %-8.8s %-16.16s %-10.10s %-21.21s %-27s %-14.14s %5lld %5lld "
			       "%s\n",
			       (long long)json_integer_value(json_object_get(idv, "id")),
			       SV("protocol", "postgres"), SV("sub", "-"), SV("target", "-"), SV("client", "-"),
			       SV("start", "-"), SV("reason", "(open)"),
			       (long long)json_integer_value(json_object_get(idv, "statements")),
			       (long long)json_integer_value(json_object_get(idv, "denials")),
			       json_is_true(json_object_get(idv, "recorded")) ? "yes" : "no");
		}
	}
	json_decref(out);
	return 0;
}

/* ---- replay ----------------------------------------------------------------------------- */

void ctl_replay_help(FILE *out)
{
	fprintf(out,
		"usage: ringgatectl replay SESSION [--state DIR] [--speed N] [--json]\n"
		"  (default: the state_dir of $RINGGATE_CONFIG's gateway)\n"
		"  Show a recorded session as psql showed it to the agent: each statement (as the\n"
		"  audit trail has it, literals replaced), its result (masked values only: that is\n"
		"  what the agent received), errors, notices, and the time each took. DIR is the\n"
		"  gateway's state_dir (or --audit DIR --recordings DIR). --speed N waits between\n"
		"  statements N times faster than they happened (default: no waiting). --json:\n"
		"  one JSON object with the statements and their results.\n");
}

static bool numeric_oid(uint32_t oid)
{
	return oid == 20 || oid == 21 || oid == 23 || oid == 26 || oid == 700 || oid == 701 ||
	       oid == 1700 || oid == 790;
}

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
static void print_table(json_t *r)
{
	json_t *cols = json_object_get(r, "columns"), *rows = json_object_get(r, "rows");
	json_t *types = json_object_get(r, "types"), *row;
	size_t nc = json_array_size(cols), nr = json_array_size(rows), *w;
	size_t i, j;

	if (!(w = calloc(nc ? nc : 1, sizeof(*w))))
		return;
	for (j = 0; j < nc; j++)
		w[j] = utf8_width(json_string_value(json_array_get(cols, j)));
	json_array_foreach(rows, i, row)
		for (j = 0; j < nc; j++) {
			const char *v = json_string_value(json_array_get(row, j));
			size_t x = v ? utf8_width(v) : 0;

			if (x > w[j])
				w[j] = x;
		}
	for (j = 0; j < nc; j++) {
		const char *h = json_string_value(json_array_get(cols, j));
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
	json_array_foreach(rows, i, row) {
		for (j = 0; j < nc; j++) {
			const char *v = json_string_value(json_array_get(row, j));
			size_t x = v ? utf8_width(v) : 0;
			json_int_t oid = json_integer_value(json_array_get(types, j));
			bool right = numeric_oid((uint32_t)oid);

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

static const char *sv(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "(null)";
}

/* One statement: its text and verdict when a marker opened it, then its output in order. */
static void print_stmt(json_t *s)
{
	json_t *item;
	size_t i;

	if (json_object_get(s, "t_us")) {
		const char *sql = json_string_value(json_object_get(s, "sql"));
		const char *v = json_string_value(json_object_get(s, "verdict"));
		const char *rule = json_string_value(json_object_get(s, "rule"));

		printf("=> %s\n", sql ? sql : "(statement not in the audit trail)");
		if (v && strcmp(v, "allow") && strcmp(v, "pass"))
			printf("-- verdict: %s%s%s\n", v, rule ? ", rule " : "", rule ? rule : "");
	}
	json_array_foreach(json_object_get(s, "out"), i, item) {
		json_t *x;

		if ((x = json_object_get(item, "result"))) {
			json_t *r = json_array_get(json_object_get(s, "results"),
						   (size_t)json_integer_value(x));

			if (json_object_get(r, "columns"))
				print_table(r);
			else if (json_object_get(r, "tag"))
				printf("%s\n\n", json_string_value(json_object_get(r, "tag")));
		} else if ((x = json_object_get(item, "error")) ||
			   (x = json_object_get(item, "notice"))) {
			bool err = json_object_get(item, "error") != NULL;
			json_t *e = json_array_get(json_object_get(s, err ? "errors" : "notices"),
						   (size_t)json_integer_value(x));

			printf("%s:  %s\n%s", sv(e, "severity"), sv(e, "message"), err ? "\n" : "");
		} else if ((x = json_object_get(item, "copy"))) {
			fwrite(json_string_value(x), 1, json_string_length(x), stdout);
		} else if ((x = json_object_get(item, "time_ms"))) {
			printf("Time: %.3f ms\n\n", json_real_value(x));
		}
	}
}

/* ---- MySQL: as the mariadb client prints in batch mode with -t -vvv ----------------------- */

/* MySQL type codes the client right-aligns (its IS_NUM). */
static bool my_numeric(json_int_t t)
{
	return (t <= 9 && t != 7) || t == 13 || t == 246;
}

/* Display cells of a UTF-8 string (the client pads by bytes plus bytes - cells). */
static size_t cells(const char *s, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

/* A result's time as the client writes it: " (1 min 5.123 sec)". */
static void my_secs(double ms)
{
	static const struct {
		double s;
		const char *one, *many;
	} units[] = {{86400, " day ", " days "}, {3600, " hour ", " hours "}, {60, " min ", " min "}};
	double sec = ms / 1000.0;

	fputs(" (", stdout);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (sec >= units[i].s) {
			unsigned long n = (unsigned long)(sec / units[i].s);

			sec -= units[i].s * (double)n;
			printf("%lu%s", n, n > 1 ? units[i].many : units[i].one);
		}
	printf("%.3f sec)", sec);
}

static void plural(json_int_t n, const char *one, const char *many)
{
	printf("%lld %s", (long long)n, n == 1 ? one : many);
}

static void my_warnings(json_t *r)
{
	json_int_t w = json_integer_value(json_object_get(r, "warnings"));

	if (w) {
		printf(", ");
		plural(w, "warning", "warnings");
	}
}

/* An aligned +---+ table: widths in bytes as the client measures them, at least 4 for a
 * column that may be NULL, numbers right-aligned. */
static void my_table(json_t *r)
{
	json_t *cols = json_object_get(r, "columns"), *rows = json_object_get(r, "rows");
	json_t *types = json_object_get(r, "types"), *nn = json_object_get(r, "not_null"), *row;
	size_t nc = json_array_size(cols), i, j, *w;

	if (!(w = calloc(nc ? nc : 1, sizeof(*w))))
		return;
	for (j = 0; j < nc; j++) {
		w[j] = json_string_length(json_array_get(cols, j));
		json_array_foreach(rows, i, row)
		{
			json_t *v = json_array_get(row, j);
			size_t x = json_is_string(v) ? json_string_length(v) : 4;

			if (x > w[j])
				w[j] = x;
		}
		if (w[j] < 4 && !json_is_true(json_array_get(nn, j)))
			w[j] = 4;
	}
#define SEP()                                                                                      \
	do {                                                                                       \
		putchar('+');                                                                      \
		for (j = 0; j < nc; j++) {                                                         \
			for (i = 0; i < w[j] + 2; i++)                                             \
				putchar('-');                                                      \
			putchar('+');                                                              \
		}                                                                                  \
		putchar('\n');                                                                     \
	} while (0)
	SEP();
	putchar('|');
	for (j = 0; j < nc; j++) {
		json_t *h = json_array_get(cols, j);
		size_t l = json_string_length(h), pad = w[j] + l - cells(json_string_value(h), l);

		printf(" %s", json_string_value(h));
		for (i = l; i < pad; i++)
			putchar(' ');
		fputs(" |", stdout);
	}
	putchar('\n');
	SEP();
	json_array_foreach(rows, i, row)
	{
		fputs("| ", stdout);
		for (j = 0; j < nc; j++) {
			json_t *v = json_array_get(row, j);
			const char *s = json_is_string(v) ? json_string_value(v) : "NULL";
			size_t l = json_is_string(v) ? json_string_length(v) : 4;
			size_t width = w[j] + l - cells(s, l), k;
			bool right = my_numeric(json_integer_value(json_array_get(types, j)));

			if (j)
				putchar(' ');
			if (right)
				for (k = l; k < width; k++)
					putchar(' ');
			fwrite(s, 1, l, stdout);
			if (!right)
				for (k = l; k < width; k++)
					putchar(' ');
			fputs(" |", stdout);
		}
		putchar('\n');
	}
	SEP();
#undef SEP
	free(w);
}

static void my_result(json_t *r)
{
	json_t *x;

	if ((x = json_object_get(r, "prepared"))) {
		printf("Statement prepared: ");
		plural(json_integer_value(json_object_get(x, "params")), "parameter", "parameters");
		printf(", ");
		plural(json_integer_value(json_object_get(x, "columns")), "column", "columns");
	} else if (json_object_get(r, "columns")) {
		size_t n = json_array_size(json_object_get(r, "rows"));

		if (!n) {
			printf("Empty set");
		} else {
			my_table(r);
			plural((json_int_t)n, "row in set", "rows in set");
		}
		my_warnings(r);
	} else {
		printf("Query OK, ");
		plural(json_integer_value(json_object_get(r, "affected_rows")), "row affected",
		       "rows affected");
		my_warnings(r);
	}
	my_secs(json_real_value(json_object_get(r, "time_ms")));
	putchar('\n');
	if ((x = json_object_get(r, "info")))
		printf("%s\n", json_string_value(x));
	putchar('\n');
}

static void my_stmt(json_t *s)
{
	const char *cmd = json_string_value(json_object_get(s, "command"));
	const char *sql = json_string_value(json_object_get(s, "sql"));
	const char *kind = json_string_value(json_object_get(s, "kind"));
	const char *v = json_string_value(json_object_get(s, "verdict"));
	const char *rule = json_string_value(json_object_get(s, "rule"));
	bool stmt = json_integer_value(json_object_get(s, "n")) > 0;
	json_t *item;
	size_t i;

	if (json_object_get(s, "t_us") && !stmt) {
		/* not a statement (a ping, a database change...): one line */
		printf("-- %s", cmd ? cmd : "(command)");
		json_array_foreach(json_object_get(s, "out"), i, item)
		{
			json_t *x = json_object_get(item, "error");

			if (x) {
				json_t *e = json_array_get(json_object_get(s, "errors"),
							   (size_t)json_integer_value(x));

				printf(": ERROR %lld (%s): %s",
				       (long long)json_integer_value(json_object_get(e, "code")),
				       sv(e, "sqlstate"), sv(e, "message"));
			}
		}
		putchar('\n');
		return;
	}
	if (json_object_get(s, "t_us")) {
		if (kind && strcmp(kind, "query"))
			printf("-- %s (%s)\n", kind, cmd ? cmd : "?");
		if (v && strcmp(v, "allow") && strcmp(v, "pass"))
			printf("-- verdict: %s%s%s\n", v, rule ? ", rule " : "", rule ? rule : "");
		printf("--------------\n%s\n--------------\n\n",
		       sql ? sql : "(statement not in the audit trail)");
	}
	json_array_foreach(json_object_get(s, "out"), i, item)
	{
		json_t *x;

		if ((x = json_object_get(item, "result"))) {
			my_result(json_array_get(json_object_get(s, "results"),
						 (size_t)json_integer_value(x)));
		} else if ((x = json_object_get(item, "error"))) {
			json_t *e = json_array_get(json_object_get(s, "errors"),
						   (size_t)json_integer_value(x));

			printf("ERROR %lld (%s): %s\n",
			       (long long)json_integer_value(json_object_get(e, "code")),
			       sv(e, "sqlstate"), sv(e, "message"));
		}
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
	struct rg_replay_opts ro = {0};
	bool as_json = false;
	double speed = 0;
	long long session;
	json_t *rp = NULL, *s, *who;
	uint64_t t_last = 0;
	bool mysql;
	size_t i;
	char *end;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			dirs(optarg, audit, rec, sizeof(audit));
		else if (c == 'a')
			snprintf(audit, sizeof(audit), "%s", optarg);
		else if (c == 'r')
			snprintf(rec, sizeof(rec), "%s", optarg);
		else if (c == 'x')
			speed = strtod(optarg, NULL);
		else if (c == 'j')
			as_json = true;
		else
			return ctl_replay_help(stderr), 2;
	}
	if (!audit[0] || !rec[0])
		(void)ctl_trail_dirs(audit, rec, sizeof(audit));
	if (optind != argc - 1 || !audit[0] || !rec[0])
		return ctl_replay_help(stderr), 2;
	session = strtoll(argv[optind], &end, 10);
	if (*end || session <= 0) {
		fprintf(stderr, "ringgatectl: '%s' is not a session id (ringgatectl sessions list)\n",
			argv[optind]);
		return 2;
	}
	/* printed: the agent's bytes as they were, in the order they came */
	ro.detail = ro.raw_bytes = !as_json;
	r = rg_replay(audit, rec, session, &ro, &rp);
	if (r == -ENOENT || r == -ESRCH) {
		fprintf(stderr, "ringgatectl: no recording of session %lld in %s\n", session, rec);
		return 1;
	}
	if (r) {
		fprintf(stderr, "ringgatectl: cannot read the trails in %s and %s\n", audit, rec);
		return 1;
	}
	if (as_json) {
		char *txt = json_dumps(rp, JSON_COMPACT);

		puts(txt ? txt : "{}");
		free(txt);
		json_decref(rp);
		return 0;
	}
	mysql = !strcmp(sv(rp, "protocol"), "mysql");
	if (json_is_object(who = json_object_get(rp, "who")))
		printf("-- session %lld: %s (%s) on %s from %s as %s%s\n%s", session,
		       sv(who, "sub"), sv(who, "iss"), sv(who, "target"), sv(who, "client"),
		       sv(who, "role"), mysql ? " (mysql)" : "", mysql ? "" : "\n");
	json_array_foreach(json_object_get(rp, "statements"), i, s) {
		json_t *t = json_object_get(s, "t_us");

		if (t) {
			uint64_t tu = (uint64_t)json_integer_value(t);

			if (speed > 0 && t_last && tu > t_last)
				usleep((useconds_t)((double)(tu - t_last) / speed));
			t_last = tu;
		}
		if (mysql)
			my_stmt(s);
		else
			print_stmt(s);
		fflush(stdout);
	}
	if (json_is_true(json_object_get(rp, "truncated")))
		printf("-- the recording stops here: the session passed audit.record_max_bytes\n");
	if (!json_is_true(json_object_get(rp, "complete")))
		printf("-- chunks of this recording are missing (the trail was cut?)\n");
	if (json_object_get(rp, "end"))
		printf("-- session ended: %s\n", json_string_value(json_object_get(rp, "end")));
	json_decref(rp);
	return 0;
}
