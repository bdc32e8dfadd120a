/*
 * dpath_bench: the policy's cost per message on the gateway's data path, as bench/pg_bench.sh
 * drives it, without the network: a bundle of the given rule packs (default rules/baseline
 * rules/pii), then
 *   - the verdict of pgbench -S's statement in simple mode, a new literal each time (the
 *     per-thread verdict cache never hits), and the same text repeated (it always hits);
 *   - rg_pg_mask_datarow over pgbench_accounts rows (aid, bid, abalance int4, filler
 *     bpchar(84), text format), 1 % of them with a card number in filler as pg_bench.sh
 *     sets them, with the session's mask plan as the gateway builds it;
 *   - MySQL rows, text and binary protocol, of sysbench's sbtest1 (id, k INT, c CHAR(120),
 *     pad CHAR(60): groups of 11 digits, as mysql_bench.py's 1000-row SELECT reads them,
 *     1 % with a card in pad) and of a customers table (id INT, name, city VARCHAR, note
 *     TEXT: words, 1 % with an email in note): per message as the relay took each row
 *     before (rg_my_frame_msg, rg_my_classify, my_rows_mask: the field-by-field path) and
 *     as its run path meets them in 16 KiB receive buffers (rg_my_rowrun_frame,
 *     my_rows_clear, my_rows_mask for the rows not proven). The session's own per-message
 *     calls (policy context, audit counts, forwarding) are not in either.
 * Prints ns per statement and per row in thread CPU time (the VM is shared: compare within
 * one run). A program, not a test. Seconds 0 runs a short fixed pass, for callgrind:
 *   valgrind --tool=callgrind --toggle-collect=rg_pg_mask_datarow dpath_bench 0
 * usage: dpath_bench [seconds per case, default 1] [rules dirs...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "my-int.h"
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

/* ---- MySQL rows ------------------------------------------------------------------------- */

#define MY_COLS 4
static const uint8_t MY_TYPES[MY_COLS] = {RG_MY_TYPE_LONG, RG_MY_TYPE_LONG, RG_MY_TYPE_STRING,
					  RG_MY_TYPE_STRING};
static const uint8_t MY_DETECT[MY_COLS] = {0, 0, 1, 1};

/* sysbench's "###########-###########-..." groups of 11 digits (ngroups of them). */
static size_t sb_groups(char *o, int ngroups, unsigned *seed)
{
	size_t at = 0;

	for (int g = 0; g < ngroups; g++) {
		if (g)
			o[at++] = '-';
		for (int i = 0; i < 11; i++) {
			*seed = *seed * 1103515245u + 12345u;
			o[at++] = (char)('0' + (*seed >> 16) % 10);
		}
	}
	return at;
}

static size_t lenenc_str(uint8_t *o, const void *p, size_t n)
{
	unsigned k = rg_my_lenenc_encode(o, n);

	memcpy(o + k, p, n);
	return k + n;
}

static const char *const WORDS[] = {
    "the", "order", "shipped", "to",  "customer", "and",   "was",  "paid",     "in",	  "full",
    "on",  "time",  "thanks",  "for", "calling",  "about", "your", "delivery", "address", "change"};

/* One row (id = i + 1) of sbtest1 (kind 0) or customers (kind 1) as a packet with sequence
 * id seq. */
static size_t my_row(uint8_t *out, int kind, int i, uint8_t seq, bool binary, unsigned *seed)
{
	char c[130], pad[130], num[16];
	size_t nc, np, len = 0;
	uint8_t *p = out + 4;
	int id = i + 1, k = (int)(*seed % 10000);

	if (kind == 0) {
		nc = sb_groups(c, 10, seed);
		if (id % 100 == 0)
			np = (size_t)snprintf(pad, sizeof(pad), "4111 1111 1111 1111");
		else
			np = sb_groups(pad, 5, seed);
	} else {
		static const char *const CITY[] = {"Berlin", "Lisbon", "Oslo", "Lyon"};

		nc = (size_t)snprintf(c, sizeof(c), "Customer %d %s", id, CITY[id % 4]);
		np = 0;
		while (np < 60) {
			*seed = *seed * 1103515245u + 12345u;
			np += (size_t)snprintf(pad + np, sizeof(pad) - np, "%s ",
					       WORDS[(*seed >> 16) % 20]);
		}
		if (id % 100 == 0)
			np += (size_t)snprintf(pad + np, sizeof(pad) - np, "mail ada@example.com");
	}
	if (binary) {
		p[0] = 0;
		p[1] = 0; /* NULL bitmap: (4 + 9) / 8 = 1 byte, nothing NULL */
		len = 2;
		memcpy(p + len, &id, 4);
		memcpy(p + len + 4, &k, 4);
		len += 8;
	} else {
		len += lenenc_str(p + len, num, (size_t)snprintf(num, sizeof(num), "%d", id));
		len += lenenc_str(p + len, num, (size_t)snprintf(num, sizeof(num), "%d", k));
	}
	len += lenenc_str(p + len, c, nc);
	len += lenenc_str(p + len, pad, np);
	out[0] = (uint8_t)len, out[1] = (uint8_t)(len >> 8), out[2] = (uint8_t)(len >> 16);
	out[3] = seq;
	return 4 + len;
}

static int mysql_rows(struct rg_policy_ctx *c, const struct rg_request *pgreq, double secs)
{
	static const char *const origins[MY_COLS] = {"sbtest.sbtest1.id", "sbtest.sbtest1.k",
						     "sbtest.sbtest1.c", "sbtest.sbtest1.pad"};
	struct rg_request req = *pgreq;
	struct rg_policy_plan *pl = rg_policy_mask_plan_new();
	const struct rg_mask_plan *plan;
	struct my_rows rows = {0};
	static uint8_t all[NROWS * 220];
	static size_t off[NROWS + 1];
	static struct rg_my_rowrun rr;

	req.protocol = "mysql";
	if (!pl || rg_policy_mask_plan_build(c, &req, origins, MY_COLS, pl, &plan) ||
	    my_rows_shape(&rows, MY_COLS))
		return 1;
	memcpy(rows.types, MY_TYPES, MY_COLS);
	memcpy(rows.detect, MY_DETECT, MY_COLS);
	my_rows_plan(&rows, plan);
	for (int kb = 0; kb < 4; kb++) {
		int kind = kb / 2, binary = kb % 2;
		const char *name = kind ? "customers" : "sbtest1";
		unsigned seed = 7;
		long it = 0, masked = 0, proved = 0;
		double t0, t;

		off[0] = 0;
		for (int i = 0; i < NROWS; i++)
			off[i + 1] =
			    off[i] + my_row(all + off[i], kind, i, (uint8_t)(1 + i), binary, &seed);

		/* per message: every row framed, classified, parsed and its text fields checked
		 * one by one */
		t0 = cpu_now();
		do {
			for (int i = 0; i < NROWS; i++) {
				struct rg_my_msg m;
				const uint8_t *q = all + off[i];

				if (rg_my_frame_msg(q, off[NROWS] - off[i], (uint8_t)(1 + i),
						    MY_MSG_MAX, &m) <= 0 ||
				    rg_my_classify(m.payload, (size_t)m.len, MY_CAPS_OFFER, true) !=
					RG_MY_KIND_OTHER)
					return fprintf(stderr, "mysql frame\n"), 1;
				int r = my_rows_mask(&rows, c, plan, binary, m.payload,
						     (size_t)m.len, m.npackets, m.seq_first);
				if (r < 0)
					return fprintf(stderr, "mysql mask: %d\n", r), 1;
				masked += r;
			}
			it += NROWS;
		} while ((t = cpu_now() - t0) < secs);
		printf("mysql %s %s, per message, field by field  %8.1f ns/row (%.2f %% "
		       "rewritten, %zu B/row)\n",
		       name, binary ? "binary" : "text", t / (double)it * 1e9,
		       100.0 * (double)masked / (double)it, off[NROWS] / NROWS);

		/* the run path: 16 KiB receive buffers of whole rows (a row cut by the buffer's
		 * end goes to the next one, as the framer hands it over) */
		masked = 0;
		it = 0;
		t0 = cpu_now();
		do {
			for (int first = 0; first < NROWS;) {
				int last = first;
				size_t at = 0, base = off[first], framed;
				uint32_t k;

				while (last < NROWS && off[last + 1] - base <= 16384)
					last++;
				framed = rg_my_rowrun_frame(&rr, all + base, off[last] - base,
							    (uint8_t)(1 + first));
				if (framed != off[last] - base ||
				    my_rows_run(&rows, binary, &rr) != framed)
					return fprintf(stderr, "mysql run: framed %zu of %zu\n",
						       framed, off[last] - base),
					       1;
				while (at < framed) {
					size_t end = my_rows_clear(&rows, c, plan, &rr, at, &k);

					if (end > at) {
						at = end;
						proved += k;
						continue;
					}
					const uint8_t *q = all + base + at;
					size_t len = q[0] | (size_t)q[1] << 8 | (size_t)q[2] << 16;
					int r = my_rows_mask(&rows, c, plan, binary, q + 4, len, 1,
							     q[3]);
					if (r < 0)
						return fprintf(stderr, "mysql mask: %d\n", r), 1;
					masked += r;
					at += 4 + len;
				}
				first = last;
			}
			it += NROWS;
		} while ((t = cpu_now() - t0) < secs);
		printf("mysql %s %s, runs (rg_my_rowrun_*, 16 KiB)  %8.1f ns/row (%.2f %% "
		       "rewritten, %.1f %% proven by runs)\n",
		       name, binary ? "binary" : "text", t / (double)it * 1e9,
		       100.0 * (double)masked / (double)it, 100.0 * (double)proved / (double)it);
	}
	my_rows_free(&rows);
	rg_policy_mask_plan_free(pl);
	return 0;
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

	if (mysql_rows(c, &req, secs))
		return 1;

	free(out.p);
	rg_pg_rowmask_free(&rm);
	rg_policy_mask_plan_free(pl);
	rg_policy_ctx_free(c);
	rg_policy_free(p);
	return 0;
}
