/*
 * policy_bench: the rule compiler and policy runtime against the targets of the rulec
 * issue, measured on generated rule sets (a benchmark program, never a timed test):
 *   compile 10,000 rules <= 10 s; load a 1,000-rule bundle <= 5 ms;
 *   verdict for a ~100-byte statement <= 5 us including the parse.
 * Usage: policy_bench [rules-dir-for-a-realistic-pack]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rulec.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n rules of mixed kinds: functions, tables with access, operations per identity, text. */
static char *gen_rules(int n)
{
	size_t cap = (size_t)n * 256 + 256, len = 0;
	char *y = malloc(cap);
	len += (size_t)sprintf(y + len, "version: 1\npack: gen\nrules:\n");
	for (int i = 0; i < n; i++) {
		switch (i % 5) {
		case 0:
			len += (size_t)sprintf(y + len,
					       "  - id: g.fn%d\n    sql: { functions: [\"fn_%d_*\"] }\n"
					       "    action: deny\n",
					       i, i);
			break;
		case 1:
			len += (size_t)sprintf(y + len,
					       "  - id: g.tw%d\n    sql: { tables: [app.t_%d], "
					       "table_access: write }\n    action: require_approval\n"
					       "    approval: { group: dba, ttl: 10m }\n",
					       i, i);
			break;
		case 2:
			len += (size_t)sprintf(y + len,
					       "  - id: g.op%d\n    match: { identity: { subject: "
					       "\"svc-%d-*\" } }\n    sql: { operation: [drop, truncate] }\n"
					       "    action: deny\n",
					       i, i);
			break;
		case 3:
			len += (size_t)sprintf(y + len,
					       "  - id: g.tr%d\n    sql: { tables: [\"s%d.audit_*\"] }\n"
					       "    action: log\n",
					       i, i);
			break;
		case 4:
			len += (size_t)sprintf(y + len,
					       "  - id: g.lit%d\n    text: { literals: [\"marker_%d\"] }\n"
					       "    action: deny\n",
					       i, i);
			break;
		}
	}
	return y;
}

static int compile_buf(const char *yaml, struct rulec_buf *out)
{
	struct rulec_program prog;
	struct rulec_diags d = { 0 };
	memset(&prog, 0, sizeof(prog));
	int rc = rulec_parse_buffer("gen.yaml", yaml, strlen(yaml), &prog, &d);
	if (rc == 0)
		rc = rulec_check_program(&prog, &d);
	if (rc == 0)
		rc = rulec_compile(&prog, out, &d);
	rulec_diags_print(&d, stderr);
	rulec_diags_free(&d);
	rulec_program_free(&prog);
	return rc;
}

/* Thread CPU time: the machine may be shared, and waiting is not our cost. */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double verdict_ns(struct rg_policy_ctx *c, const char *sql, int iters,
			 enum rg_verdict *v)
{
	struct rg_identity id = { .issuer = "https://issuer.test", .subject = "agent-1" };
	struct rg_request req = { .protocol = "postgres", .target = "db", .identity = &id };
	struct rg_decision d;
	size_t len = strlen(sql);
	for (int i = 0; i < 1000; i++)
		rg_policy_verdict(c, &req, sql, len, &d);
	double t0 = cpu_now();
	for (int i = 0; i < iters; i++)
		rg_policy_verdict(c, &req, sql, len, &d);
	*v = d.verdict;
	return (cpu_now() - t0) / iters * 1e9;
}

int main(int argc, char **argv)
{
	printf("| measurement | value | target |\n|---|---|---|\n");

	char *y10k = gen_rules(10000);
	struct rulec_buf b10k = { 0 };
	double t0 = now();
	if (compile_buf(y10k, &b10k) != 0)
		return 1;
	printf("| compile 10,000 rules (parse+check+compile) | %.2f s (%zu bytes) | <= 10 s |\n",
	       now() - t0, b10k.n);

	char *y1k = gen_rules(1000);
	struct rulec_buf b1k = { 0 };
	if (compile_buf(y1k, &b1k) != 0)
		return 1;
	struct rg_policy *p = NULL;
	char err[256];
	int loads = 200;
	t0 = now();
	for (int i = 0; i < loads; i++) {
		if (rg_policy_load_mem(b1k.p, b1k.n, NULL, &p, err, sizeof(err)) != 0) {
			fprintf(stderr, "load: %s\n", err);
			return 1;
		}
		if (i + 1 < loads)
			rg_policy_free(p);
	}
	printf("| load a 1,000-rule bundle | %.3f ms | <= 5 ms |\n", (now() - t0) / loads * 1e3);

	struct rg_policy_ctx *c = rg_policy_ctx_new(p, NULL, 0);
	static const char *stmts[][2] = {
		{ "SELECT abalance, bid, tid FROM pgbench_accounts WHERE aid = 123456 AND bid = 7 "
		  "ORDER BY aid LIMIT 10",
		  "100-byte SELECT, no rule fires" },
		{ "UPDATE app.t_1 SET balance = balance + 10, note = 'refund' WHERE id = 42 AND "
		  "region = 'eu'",
		  "100-byte UPDATE, table rule fires" },
		{ "SELECT fn_0_x(a), b, c FROM s3.accounts a JOIN s3.branches b USING (bid) WHERE "
		  "a.aid = 1",
		  "100-byte SELECT, function + table rules fire" },
		{ "SELECT 1", "tiny SELECT" },
	};
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		enum rg_verdict v;
		rg_policy_ctx_set_cache(c, false);
		double ns = verdict_ns(c, stmts[i][0], 100000, &v);
		rg_policy_ctx_set_cache(c, true);
		double cached = verdict_ns(c, stmts[i][0], 100000, &v);
		printf("| verdict, %s (%zu bytes, 1,000 rules) -> %s | %.2f us (repeated text, "
		       "cached: %.2f us) | <= 5 us |\n",
		       stmts[i][1], strlen(stmts[i][0]), rg_verdict_name(v), ns / 1e3,
		       cached / 1e3);
	}
	rg_policy_ctx_free(c);
	rg_policy_free(p);

	if (argc > 1) {
		struct rulec_program prog;
		struct rulec_diags d = { 0 };
		struct rulec_buf b = { 0 };
		memset(&prog, 0, sizeof(prog));
		if (rulec_parse_paths((const char *const *)argv + 1, (size_t)argc - 1, &prog, &d) ||
		    rulec_check_program(&prog, &d) || rulec_compile(&prog, &b, &d)) {
			rulec_diags_print(&d, stderr);
			return 1;
		}
		rulec_diags_free(&d);
		rulec_program_free(&prog);
		rg_policy_load_mem(b.p, b.n, NULL, &p, err, sizeof(err));
		c = rg_policy_ctx_new(p, NULL, 0);
		static const char *real[][2] = {
			{ "SELECT abalance, bid, tid FROM pgbench_accounts WHERE aid = 123456 AND "
			  "bid = 7 ORDER BY aid LIMIT 10",
			  "100-byte SELECT" },
			{ "DELETE FROM orders WHERE created_at < now() - interval '30 days' AND "
			  "status = 'cancelled'",
			  "100-byte DELETE with WHERE" },
			{ "DROP TABLE IF EXISTS public.orders_archive_2024, public.orders_archive_2023 "
			  "CASCADE",
			  "DROP" },
		};
		for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
			enum rg_verdict v;
			rg_policy_ctx_set_cache(c, false);
			double ns = verdict_ns(c, real[i][0], 100000, &v);
			rg_policy_ctx_set_cache(c, true);
			double cached = verdict_ns(c, real[i][0], 100000, &v);
			printf("| verdict with %s, %s (%zu bytes) -> %s | %.2f us (cached: %.2f us) "
			       "| <= 5 us |\n",
			       argv[1], real[i][1], strlen(real[i][0]), rg_verdict_name(v),
			       ns / 1e3, cached / 1e3);
		}
		rg_policy_ctx_free(c);
		rg_policy_free(p);
		rulec_buf_free(&b);
	}
	rulec_buf_free(&b10k);
	rulec_buf_free(&b1k);
	free(y10k);
	free(y1k);
	return 0;
}
