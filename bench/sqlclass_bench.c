/*
 * sqlclass_bench: nanoseconds per rg_sqlclass_run() for a few representative statements,
 * next to the bare pg_query_parse() cost, so the classifier's own share (walk, names,
 * dedup) is visible. A program, not a test. Times are this thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID), best of 5 rounds, so a busy shared VM inflates them less.
 * Usage: sqlclass_bench [iterations per round]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pg_query.h>

#include "sqlclass.h"

static const struct {
	const char *name;
	const char *sql;
	unsigned flags;
} cases[] = {
	{ "select_where_100b",
	  "SELECT id, name, email FROM public.users u WHERE u.tenant_id = 42 AND status = 'active' "
	  "LIMIT 10",
	  0 },
	{ "update", "UPDATE accounts SET balance = balance - 100 WHERE id = 7", 0 },
	{ "multi_stmt", "BEGIN; UPDATE t SET a = 1 WHERE id = 2; DELETE FROM u WHERE x = 3; COMMIT",
	  0 },
	{ "cte_join",
	  "WITH d AS (DELETE FROM q WHERE ts < now() RETURNING *) SELECT o.id, count(*) FROM "
	  "orders o JOIN d ON d.oid = o.id GROUP BY o.id",
	  0 },
	{ "select_fingerprint",
	  "SELECT id, name, email FROM public.users u WHERE u.tenant_id = 42 AND status = 'active' "
	  "LIMIT 10",
	  RG_SQLCLASS_FINGERPRINT },
};

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 50000;
	struct rg_sqlclass *c = rg_sqlclass_new();
	struct rg_sql_facts f;

	if (!c || iters <= 0)
		return 1;
	printf("%-20s %6s %12s %12s %12s\n", "statement", "bytes", "parse ns", "classify ns",
	       "walk ns");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *sql = cases[i].sql;
		size_t len = strlen(sql);

		for (long k = 0; k < iters / 10; k++) /* warm up */
			rg_sqlclass_run(c, sql, len, cases[i].flags, &f);
		double parse = 1e18, cls = 1e18;
		for (int round = 0; round < 5; round++) {
			double t0 = now_ns();
			for (long k = 0; k < iters; k++) {
				PgQueryParseResult r = pg_query_parse(sql);
				pg_query_free_parse_result(r);
			}
			double t1 = now_ns();
			for (long k = 0; k < iters; k++)
				if (rg_sqlclass_run(c, sql, len, cases[i].flags, &f) ||
				    f.status != RG_SQL_OK)
					return 1;
			double t2 = now_ns();
			if ((t1 - t0) / iters < parse)
				parse = (t1 - t0) / iters;
			if ((t2 - t1) / iters < cls)
				cls = (t2 - t1) / iters;
		}
		printf("%-20s %6zu %12.0f %12.0f %12.0f\n", cases[i].name, len, parse, cls,
		       cls - parse);
	}
	rg_sqlclass_free(c);
	return 0;
}
