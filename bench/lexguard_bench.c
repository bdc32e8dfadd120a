/*
 * lexguard_bench: the cost of the gateway's always-on lexing guard per statement (a benchmark
 * program, never a timed test). Every Query and Parse pays the UTF-8 check and the cheap
 * text prefilter (rg_sqlclass_utf8_valid + rg_sqlclass_lexing_candidate); only candidates pay
 * a parse (rg_sqlclass_run, plus lexing.c's second parse when a SET or set_config is found).
 * Prints ns per statement for each, over statements drivers and agents really send.
 * Usage: lexguard_bench [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqlclass.h"

static const char *const common[] = {
	/* pgbench -S and TPC-B */
	"SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
	"UPDATE pgbench_accounts SET abalance = abalance + -3571 WHERE aid = 48213;",
	"UPDATE pgbench_tellers SET tbalance = tbalance + -3571 WHERE tid = 7;",
	"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (7, 1, 48213, "
	"-3571, CURRENT_TIMESTAMP);",
	/* what drivers send at connect and ORMs send all day */
	"SET extra_float_digits = 3",
	"SELECT t.id, t.name, t.email, t.created_at FROM customers t WHERE t.email = $1 "
	"ORDER BY t.created_at DESC LIMIT 50",
	"BEGIN",
	"COMMIT",
	"SELECT 'h\xc3\xa9llo w\xc3\xb6rld', '\xe6\x97\xa5\xe6\x9c\xac' AS greeting",
	"select n.nspname, c.relname from pg_catalog.pg_class c join pg_catalog.pg_namespace n "
	"on n.oid = c.relnamespace where c.relkind in ('r', 'v') and n.nspname !~ '^pg_'",
};

static const char *const candidates[] = {
	"SET client_encoding = 'UTF8'",
	"SELECT pg_catalog.set_config('search_path', '', false);",
	"SET NAMES 'SJIS'",
	"SELECT column_name FROM information_schema.columns WHERE table_name = 'names'",
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 2000000;
	size_t nc = sizeof(common) / sizeof(common[0]);
	size_t nk = sizeof(candidates) / sizeof(candidates[0]);
	struct rg_sqlclass *c = rg_sqlclass_new();
	struct rg_sql_facts f;
	size_t len[16], hits = 0, bytes = 0;
	volatile int sink = 0;
	double t0, t1;
	long i;

	if (!c)
		return 1;
	for (size_t k = 0; k < nc; k++) {
		len[k] = strlen(common[k]);
		bytes += len[k];
		hits += rg_sqlclass_lexing_candidate(common[k], len[k]);
	}
	printf("%zu common statements, %zu bytes on average; %zu of them are prefilter "
	       "candidates\n",
	       nc, bytes / nc, hits);

	t0 = now();
	for (i = 0; i < iters; i++) {
		size_t k = (size_t)i % nc;

		sink += rg_sqlclass_utf8_valid(common[k], len[k]);
		sink += rg_sqlclass_lexing_candidate(common[k], len[k]);
	}
	t1 = now();
	printf("guard on a common statement (UTF-8 check + prefilter): %.1f ns\n",
	       (t1 - t0) / (double)iters);

	t0 = now();
	for (i = 0; i < iters; i++) {
		size_t k = (size_t)i % nc;

		sink += rg_sqlclass_utf8_valid(common[k], len[k]);
	}
	t1 = now();
	printf("  of which the UTF-8 check: %.1f ns\n", (t1 - t0) / (double)iters);

	for (size_t k = 0; k < nk; k++) {
		long n = iters / 100;

		t0 = now();
		for (i = 0; i < n; i++) {
			rg_sqlclass_run(c, candidates[k], strlen(candidates[k]), 0, &f);
			sink += (int)(f.ops & RG_OP_BIT(RG_OP_SET_LEXING)) != 0;
		}
		t1 = now();
		printf("candidate, parsed: %-72.72s %6.2f us  set_lexing=%s\n", candidates[k],
		       (t1 - t0) / (double)n / 1000.0,
		       f.ops & RG_OP_BIT(RG_OP_SET_LEXING) ? "yes" : "no");
	}
	rg_sqlclass_free(c);
	return sink == -1;
}
