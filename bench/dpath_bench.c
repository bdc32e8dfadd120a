/*
 * dpath_bench: the policy's cost per message on the gateway's data path, as bench/pg_bench.sh
 * drives it, without the network: a bundle of the given rule packs (default rules/baseline
 * rules/pii), then
 *   - the verdict of pgbench -S's statement in simple mode, a new literal each time (the
 *     per-thread verdict cache never hits), and the same text repeated (it always hits);
 *   - rg_pg_mask_datarow over pgbench_accounts rows (aid, bid, abalance int4, filler
 *     bpchar(84), text format), 1 % of them with a card number in filler as pg_bench.sh
 *     sets them, with the session's mask plan as the gateway builds it.
 * Prints ns per statement and per row in thread CPU time (the VM is shared: compare within
 * one run). A program, not a test. Seconds 0 runs a short fixed pass, for callgrind:
 *   valgrind --tool=callgrind --toggle-collect=rg_pg_mask_datarow dpath_bench 0
 * usage: dpath_bench [seconds per case, default 1] [rules dirs...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg-int.h"
#include "policy.h"
#include "rulec.h"

#define NSTMT 65536
#define NROWS 1000

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int load(const char *const *paths, size_t n, struct rg_policy **p)
{
	struct rulec_program prog;
	struct rulec_diags d = {0};
	struct rulec_buf b = {0};
	char err[256];
	int rc;

	memset(&prog, 0, sizeof(prog));
	rc = rulec_parse_paths(paths, n, &prog, &d);
	if (!rc)
		rc = rulec_check_program(&prog, &d);
	if (!rc)
		rc = rulec_compile(&prog, &b, &d);
	rulec_diags_print(&d, stderr);
	rulec_diags_free(&d);
	rulec_program_free(&prog);
	if (!rc && (rc = rg_policy_load_mem(b.p, b.n, NULL, p, err, sizeof(err))))
		fprintf(stderr, "load: %s\n", err);
	rulec_buf_free(&b);
	return rc;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
	p[3] = (uint8_t)v;
}

/* One DataRow of pgbench_accounts as PostgreSQL sends it in text format. */
static size_t datarow(uint8_t *out, int aid)
{
	char v[4][96];
	size_t at = 7;

	snprintf(v[0], sizeof(v[0]), "%d", aid);
	snprintf(v[1], sizeof(v[1]), "%d", 1 + aid / 100000);
	snprintf(v[2], sizeof(v[2]), "%d", aid % 7 ? 0 : -(aid % 5000));
	char fill[64] = "";
	if (aid % 100 == 0)
		snprintf(fill, sizeof(fill), "card 4111 1111 1111 1111 of %d", aid);
	snprintf(v[3], sizeof(v[3]), "%-84s", fill);
	out[0] = 'D';
	out[5] = 0, out[6] = 4;
	for (int i = 0; i < 4; i++) {
		size_t n = strlen(v[i]);
		put32(out + at, (uint32_t)n);
		memcpy(out + at + 4, v[i], n);
		at += 4 + n;
	}
	put32(out + 1, (uint32_t)(at - 1));
	return at;
}

int main(int argc, char **argv)
{
	static const char *const def[] = {"rules/baseline", "rules/pii"};
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	const char *const *paths = argc > 2 ? (const char *const *)argv + 2 : def;
	size_t npaths = argc > 2 ? (size_t)argc - 2 : 2;
	struct rg_identity id = {.issuer = "https://issuer.test", .subject = "agent-1"};
	struct rg_request req = {.protocol = "postgres", .target = "db", .identity = &id};
	struct rg_policy *p = NULL;
	struct rg_decision d;
	static char stmt[NSTMT][80];
	double t0, t;
	long it;

	if (load(paths, npaths, &p))
		return 1;
	/* RG_PF=scalar|sse2|avx2|avx512|avx512vbmi forces the masking prefilter's implementation */
	const char *pf = getenv("RG_PF");
	if (pf) {
		static const char *const names[] = {"auto",   "scalar", "sse2",
						    "avx2",   "avx512", "avx512vbmi"};
		for (int i = 0; i < 6; i++)
			if (!strcmp(pf, names[i]) &&
			    rg_mask_prefilter_use((enum rg_mask_prefilter_impl)i))
				return fprintf(stderr, "RG_PF=%s: not supported here\n", pf), 1;
	}
	struct rg_policy_ctx *c = rg_policy_ctx_new(p, (const uint8_t *)"k", 1);
	if (!c)
		return 1;
	for (int i = 0; i < NSTMT; i++)
		snprintf(stmt[i], sizeof(stmt[i]),
			 "SELECT abalance FROM pgbench_accounts WHERE aid = %d;", 1 + (int)(((unsigned)i * 7919u) % 100000u));

	/* verdicts */
	it = 0;
	t0 = cpu_now();
	do {
		for (int i = 0; i < NSTMT; i++)
			if (rg_policy_verdict(c, &req, stmt[i], strlen(stmt[i]), &d) ||
			    d.verdict != RG_VERDICT_ALLOW || d.cached)
				return fprintf(stderr, "verdict of %s: %d cached %d\n", stmt[i],
					       d.verdict, d.cached),
				       1;
		it += NSTMT;
	} while ((t = cpu_now() - t0) < secs);
	printf("verdict, pgbench -S text, new literal each time    %8.0f ns/statement\n",
	       t / (double)it * 1e9);
	it = 0;
	t0 = cpu_now();
	do {
		for (int i = 0; i < NSTMT; i++)
			rg_policy_verdict(c, &req, stmt[0], strlen(stmt[0]), &d);
		it += NSTMT;
	} while ((t = cpu_now() - t0) < secs);
	printf("verdict, pgbench -S text, repeated (cache hit)     %8.0f ns/statement\n",
	       t / (double)it * 1e9);

	/* masking */
	static uint8_t rows[NROWS][160];
	static size_t rlen[NROWS];
	struct rg_pg_rcol cols[4] = {{23, 0, 0, 0}, {23, 0, 0, 0}, {23, 0, 0, 0}, {1042, 0, 0, 0}};
	struct rg_pg_shape shape = {.serial = 1, .cols = cols, .ncols = 4, .described = true};
	struct rg_pg_rowmask rm = {0};
	struct rg_acc out = {0};
	struct rg_policy_plan *pl = rg_policy_mask_plan_new();
	const struct rg_mask_plan *plan;
	static const char *const none[1] = {NULL};
	long masked = 0, bytes = 0;

	if (!pl || rg_policy_mask_plan_build(c, &req, none, 0, pl, &plan))
		return 1;
	/* the gateway builds the session's plan again for every new result shape: in simple
	 * mode, once per query */
	it = 0;
	t0 = cpu_now();
	do {
		for (int i = 0; i < 1000; i++)
			if (rg_policy_mask_plan_build(c, &req, none, 0, pl, &plan))
				return 1;
		it += 1000;
	} while ((t = cpu_now() - t0) < secs);
	printf("rg_policy_mask_plan_build, no columns                %8.0f ns/result\n",
	       t / (double)it * 1e9);
	for (int i = 0; i < NROWS; i++) {
		rlen[i] = datarow(rows[i], 1 + i);
		bytes += (long)rlen[i];
	}
	it = 0;
	t0 = cpu_now();
	do {
		for (int i = 0; i < NROWS; i++) {
			struct rg_pg_msg m = {.start = rows[i], .body = rows[i] + 5,
					      .len = (uint32_t)rlen[i] - 1,
					      .body_len = (uint32_t)rlen[i] - 5,
					      .total = rlen[i], .type = 'D', .hdr = 5};
			int r = rg_pg_mask_datarow(c, plan, &shape, &m, &rm, &out);
			if (r < 0)
				return fprintf(stderr, "mask: %d\n", r), 1;
			masked += r == RG_PG_MASK_REWRITTEN;
		}
		it += NROWS;
	} while ((t = cpu_now() - t0) < secs);
	printf("rg_pg_mask_datarow, pgbench_accounts (%ld B/row)   %8.1f ns/row (%.2f %% rewritten)\n",
	       bytes / NROWS, t / (double)it * 1e9, 100.0 * (double)masked / (double)it);

	/* one row with a card alone: what each of the 1 % costs */
	it = 0;
	t0 = cpu_now();
	do {
		for (int i = 0; i < 1000; i++) {
			struct rg_pg_msg m = {.start = rows[99],
					      .body = rows[99] + 5,
					      .len = (uint32_t)rlen[99] - 1,
					      .body_len = (uint32_t)rlen[99] - 5,
					      .total = rlen[99],
					      .type = 'D',
					      .hdr = 5};
			if (rg_pg_mask_datarow(c, plan, &shape, &m, &rm, &out) !=
			    RG_PG_MASK_REWRITTEN)
				return fprintf(stderr, "card row not masked\n"), 1;
		}
		it += 1000;
	} while ((t = cpu_now() - t0) < secs);
	printf("rg_pg_mask_datarow, the row with a card alone       %8.1f ns/row\n",
	       t / (double)it * 1e9);

	/* the same rows as the gateway's relay meets them: back to back in 16 KiB receive
	 * buffers, framed and proven as runs (rg_pg_rowrun_*), each row not proven masked by
	 * rg_pg_mask_datarow as above */
	static uint8_t run[16384];
	static struct rg_pg_rowrun rr;
	size_t runlen = 0, nrun = 0;
	for (int i = 0; i < NROWS && runlen + rlen[i] <= sizeof(run); i++, nrun++) {
		memcpy(run + runlen, rows[i], rlen[i]);
		runlen += rlen[i];
	}
	masked = 0;
	it = 0;
	t0 = cpu_now();
	do {
		for (int rep = 0; rep < 16; rep++) {
			size_t at = 0,
			       framed = rg_pg_rowrun_frame(&rr, run, runlen, UINT32_MAX >> 1, 4);
			uint32_t k;
			if (framed != runlen)
				return fprintf(stderr, "run: framed %zu of %zu\n", framed, runlen),
				       1;
			while (at < framed) {
				size_t end = rg_pg_rowrun_clear(&rr, c, plan, &shape, at, &k);
				if (end > at) {
					at = end;
					continue;
				}
				size_t total =
				    1 + ((size_t)run[at + 1] << 24 | (size_t)run[at + 2] << 16 |
					 (size_t)run[at + 3] << 8 | run[at + 4]);
				struct rg_pg_msg m = {.start = run + at,
						      .body = run + at + 5,
						      .len = (uint32_t)total - 1,
						      .body_len = (uint32_t)total - 5,
						      .total = total,
						      .type = 'D',
						      .hdr = 5};
				int r = rg_pg_mask_datarow(c, plan, &shape, &m, &rm, &out);
				if (r < 0)
					return fprintf(stderr, "mask: %d\n", r), 1;
				masked += r == RG_PG_MASK_REWRITTEN;
				at += total;
			}
		}
		it += 16 * (long)nrun;
	} while ((t = cpu_now() - t0) < secs);
	printf("runs of rows (rg_pg_rowrun_*), %zu rows per 16 KiB   %8.1f ns/row (%.2f %% "
	       "rewritten)\n",
	       nrun, t / (double)it * 1e9, 100.0 * (double)masked / (double)it);

	free(out.p);
	rg_pg_rowmask_free(&rm);
	rg_policy_mask_plan_free(pl);
	rg_policy_ctx_free(c);
	rg_policy_free(p);
	return 0;
}
