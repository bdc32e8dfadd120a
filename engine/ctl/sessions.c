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
		"  --audit AUDIT_DIR), oldest first: id, who (sub), target, client, start, end,\n"
		"  reason, statements, denials, and whether it was recorded (ringgatectl replay\n"
		"  ID). --json: one JSON array of objects with at least \"id\".\n");
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
	if (json_is_object(who = json_object_get(rp, "who")))
		printf("-- session %lld: %s (%s) on %s from %s as %s\n\n", session, sv(who, "sub"),
		       sv(who, "iss"), sv(who, "target"), sv(who, "client"), sv(who, "role"));
	json_array_foreach(json_object_get(rp, "statements"), i, s) {
		json_t *t = json_object_get(s, "t_us");

		if (t) {
			uint64_t tu = (uint64_t)json_integer_value(t);

			if (speed > 0 && t_last && tu > t_last)
				usleep((useconds_t)((double)(tu - t_last) / speed));
			t_last = tu;
		}
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
