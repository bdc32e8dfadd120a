/*
 * selftest: run the inline tests a bundle carries (SQL + identity -> verdict and rule;
 * row -> masked row; session -> effective limits) through the same rg_policy_verdict,
 * rg_policy_mask_row and rg_policy_limits calls the engine uses, so a passing `rulec test`
 * proves the compiled bytes, not the YAML.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

#define TEST_KEY "ringgate-test-key"

static const char *row_str(const struct rg_policy *p, const struct rg_bundle_list *l, uint32_t i)
{
	return rg_pstr(p, p->pool[l->start + i]);
}

static const char *test_file(const struct rg_policy *p, const struct rg_bundle_test *t)
{
	const char *f = rg_pstr(p, t->file_str);
	return f ? f : "?";
}

static void print_sql(FILE *out, const char *sql)
{
	fputc('"', out);
	for (const char *s = sql; *s; s++) {
		if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static bool run_sql_test(const struct rg_policy *p, struct rg_policy_ctx *c,
			 const struct rg_bundle_test *t, const struct rg_request *req, FILE *out,
			 bool verbose)
{
	const char *sql = rg_pstr(p, t->sql_str);
	struct rg_decision d;
	if (rg_policy_verdict(c, req, sql, strlen(sql), &d) != 0) {
		fprintf(out, "%s:%u: test error: out of memory\n", test_file(p, t), t->line);
		return false;
	}
	bool ok = d.verdict == t->expect;
	if (t->has_shadow && d.shadow_verdict != t->expect_shadow)
		ok = false;
	const char *want_rule = t->expect_rule_str ? rg_pstr(p, t->expect_rule_str) : NULL;
	bool rule_ok = !want_rule;
	for (size_t i = 0; i < d.nrules && !rule_ok; i++)
		rule_ok = strcmp(d.rules[i]->id, want_rule) == 0;
	ok = ok && rule_ok;
	if (!ok || verbose) {
		fprintf(out, "%s:%u: %s: ", test_file(p, t), t->line, ok ? "ok" : "FAIL");
		print_sql(out, sql);
		fprintf(out, " -> %s", rg_verdict_name(d.verdict));
		if (t->has_shadow)
			fprintf(out, " (shadow %s)", rg_verdict_name(d.shadow_verdict));
		if (!ok) {
			fprintf(out, ", expected %s", rg_verdict_name((enum rg_verdict)t->expect));
			if (t->has_shadow)
				fprintf(out, " (shadow %s)",
					rg_verdict_name((enum rg_verdict)t->expect_shadow));
			if (want_rule && !rule_ok)
				fprintf(out, " by rule %s", want_rule);
		}
		fprintf(out, "; matched [");
		for (size_t i = 0; i < d.nrules; i++)
			fprintf(out, "%s%s", i ? ", " : "", d.rules[i]->id);
		fprintf(out, "]\n");
	}
	return ok;
}

static bool run_row_test(const struct rg_policy *p, struct rg_policy_ctx *c,
			 const struct rg_bundle_test *t, const struct rg_request *req, FILE *out,
			 bool verbose)
{
	uint32_t n = t->row.count;
	bool ok = t->expect_row.count == n && (t->columns.count == 0 || t->columns.count == n);
	struct rg_mask_field *fields = calloc(n + 1, sizeof(*fields));
	const char **cols = calloc(n + 1, sizeof(*cols));
	if (!fields || !cols) {
		free(fields);
		free(cols);
		return false;
	}
	for (uint32_t i = 0; i < n; i++) {
		const char *v = row_str(p, &t->row, i);
		fields[i].is_null = !v;
		fields[i].data = (const uint8_t *)(v ? v : "");
		fields[i].len = v ? (uint32_t)strlen(v) : 0;
		cols[i] = t->columns.count ? row_str(p, &t->columns, i) : NULL;
	}
	const struct rg_mask_plan *plan;
	struct rg_mask_result r;
	memset(&r, 0, sizeof(r));
	if (ok && (rg_policy_mask_plan(c, req, cols, n, &plan) != 0 ||
		   rg_policy_mask_row(c, plan, fields, n, &r) != 0))
		ok = false;
	for (uint32_t i = 0; ok && i < n; i++) {
		const char *want = row_str(p, &t->expect_row, i);
		bool is_null = fields[i].is_null;
		const uint8_t *data = fields[i].data;
		size_t len = fields[i].len;
		if (r.changed && r.fields[i].changed) {
			is_null = r.fields[i].is_null;
			data = r.fields[i].data;
			len = r.fields[i].len;
		}
		if (!want)
			ok = is_null;
		else
			ok = !is_null && len == strlen(want) && memcmp(data, want, len) == 0;
		if (!ok || verbose) {
			fprintf(out, "%s:%u: %s: field %u: got ", test_file(p, t), t->line,
				ok ? "ok" : "FAIL", i);
			if (is_null)
				fprintf(out, "NULL");
			else
				fprintf(out, "\"%.*s\"", (int)len, (const char *)data);
			fprintf(out, ", expected %s%s%s\n", want ? "\"" : "", want ? want : "NULL",
				want ? "\"" : "");
		}
	}
	if (t->expect_row.count != n)
		fprintf(out, "%s:%u: FAIL: row has %u fields, expect has %u\n",
			test_file(p, t), t->line, n, t->expect_row.count);
	free(fields);
	free(cols);
	return ok;
}

static void print_limit(FILE *out, enum rg_limit_kind k, bool set, uint64_t value)
{
	char buf[32];
	if (set)
		rg_limit_format_value(k, value, buf, sizeof(buf));
	fprintf(out, "%s %s", rg_limit_name(k), set ? buf : "none");
}

static bool run_session_test(const struct rg_policy *p, const struct rg_bundle_test *t,
			     const struct rg_request *req, FILE *out, bool verbose)
{
	struct rg_limits l;
	rg_policy_limits(p, req, &l);
	uint32_t bad = 0;
	for (int k = 0; k < RG_LIMIT__COUNT; k++) {
		if (!(t->limits_checked >> k & 1))
			continue;
		bool want_set = !(t->limits_none >> k & 1);
		bool got_set = l.v[k].id != NULL;
		if (want_set != got_set || (want_set && l.v[k].value != t->limits[k]))
			bad |= 1u << k;
	}
	if (bad || verbose) {
		const struct rg_identity *id = req->identity;
		fprintf(out, "%s:%u: %s: session subject %s, groups [", test_file(p, t), t->line,
			bad ? "FAIL" : "ok", id->subject);
		for (size_t g = 0; g < id->ngroups; g++)
			fprintf(out, "%s%s", g ? ", " : "", id->groups[g]);
		fprintf(out, "], target %s ->", req->target);
		const char *sep = " ";
		for (int k = 0; k < RG_LIMIT__COUNT; k++) {
			if (!(t->limits_checked >> k & 1))
				continue;
			fputs(sep, out);
			sep = ", ";
			print_limit(out, (enum rg_limit_kind)k, l.v[k].id, l.v[k].value);
			if (l.v[k].id)
				fprintf(out, " (limit %s)", l.v[k].id);
		}
		sep = "; expected ";
		for (int k = 0; k < RG_LIMIT__COUNT; k++) {
			if (!(bad >> k & 1))
				continue;
			fputs(sep, out);
			sep = ", ";
			print_limit(out, (enum rg_limit_kind)k, !(t->limits_none >> k & 1),
				    t->limits[k]);
		}
		fputc('\n', out);
	}
	return !bad;
}

int rg_policy_run_tests(const struct rg_policy *p, const uint8_t *hmac_key, size_t keylen,
			FILE *out, bool verbose, unsigned *ntests)
{
	if (!hmac_key) {
		hmac_key = (const uint8_t *)TEST_KEY;
		keylen = strlen(TEST_KEY);
	}
	struct rg_policy_ctx *c = rg_policy_ctx_new(p, hmac_key, keylen);
	if (!c)
		return -ENOMEM;
	int failed = 0;
	for (uint32_t i = 0; i < p->meta.ntests; i++) {
		const struct rg_bundle_test *t = &p->tests[i];
		const char *groups[64];
		size_t ng = t->groups.count < 64 ? t->groups.count : 64;
		for (size_t g = 0; g < ng; g++)
			groups[g] = row_str(p, &t->groups, (uint32_t)g);
		struct rg_identity id = { .issuer = rg_pstr(p, t->issuer_str),
					  .subject = rg_pstr(p, t->subject_str),
					  .groups = groups,
					  .ngroups = ng };
		/* MySQL statement tests: MariaDB 10.11 under the test's sql_mode */
		struct rg_my_lexing lx = { 101100, RG_MY_MARIADB, t->mysql_modes };
		struct rg_request req = { .protocol = rg_pstr(p, t->protocol_str),
					  .target = rg_pstr(p, t->target_str),
					  .identity = &id,
					  .mysql = &lx };
		bool ok = t->kind == 0	 ? run_sql_test(p, c, t, &req, out, verbose)
			  : t->kind == 1 ? run_row_test(p, c, t, &req, out, verbose)
					 : run_session_test(p, t, &req, out, verbose);
		failed += !ok;
	}
	rg_policy_ctx_free(c);
	if (ntests)
		*ntests = p->meta.ntests;
	return failed;
}
