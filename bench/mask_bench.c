/*
 * mask_bench: throughput of row masking with every detector enabled.
 *
 * Builds synthetic result sets laid out like PostgreSQL DataRows (fields contiguous,
 * separated by 4-byte lengths) from text like real rows: lower- and capitalised words,
 * integers, prices, percentages, dates, ISO timestamps, times, order/invoice/SKU ids,
 * UUIDs, hex hashes and versions, with a chosen share of rows carrying one sensitive
 * value. Times rg_masker_row over them, the prefilter alone per implementation (with the
 * share of fields it sends to the SOM scan), and the raw SOM database over each DataRow
 * (the design the prefilter replaces), plus the compile costs. Prints MB/s of field bytes
 * and ns per row, timed in thread CPU time (the VM is shared). A program, not a test:
 * numbers drift by +-30 % between runs, compare within one run.
 *
 * Build with -DMASK_BENCH_BASELINE to time a masker without the prefilter hooks (the
 * pre-bitmask library) on the same data.
 *
 * usage: mask_bench [seconds per case, default 1] [case number, default all]
 * Seconds 0 runs one pass; with a case number it suits callgrind
 * (valgrind --tool=callgrind --toggle-collect=rg_masker_row build/.../mask_bench 0 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mask.h"

static double now(void)
{
	struct timespec ts;
	/* thread CPU time: the VM is shared and often oversubscribed, wall time lies */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static const char *const words[] = {
    "the",	"order",     "shipped",	 "customer", "account",	 "status",   "pending",
    "invoice",	"delivery",  "address",	 "street",   "city",	 "note",     "please",
    "call",	"before",    "noon",	 "refund",   "approved", "item",     "size",
    "blue",	"large",     "warehouse", "Berlin",  "Paris",	 "returned", "damaged",
    "box",	"quantity",  "price",	 "total",    "discount", "of",	     "and",
    "to",	"with",	     "for",	 "a",	     "in",	 "is",	     "was",
    "new",	"key",	     "they",	 "review",   "eye",	 "Smith",    "Anna",
    "Müller",	"GmbH",	     "Ltd.",	 "EUR",	     "USD",	 "OK",	     "N/A",
    "Express",	"Standard",  "Hamburg",	 "London",   "NY",	 "e-mail",   "follow-up",
};

static const char *const pii[] = {
    "4111 1111 1111 1111",
    "jane.doe@example.com",
    "123-45-6789",
    "10.20.30.40",
    "DE89 3704 0044 0532 0130 00",
    "+44 20 7946 0958",
    "AKIAIOSFODNN7EXAMPLE",
    "2001:db8::42",
    "021000021",
    "5555555555554444",
    "GB82WEST12345698765432",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJlLWJ5dGVz",
    "fe80::1ff:fe23:4567:890a",
    "mark.smith+orders@shop.example.co.uk",
};

/* One number, date or id, as they turn up in result rows. */
static void gen_value(char *t, size_t cap)
{
	switch (rnd(14)) {
	case 0:
		snprintf(t, cap, "%u", rnd(100));
		break;
	case 1:
		snprintf(t, cap, "%u", rnd(1000000));
		break;
	case 2:
		snprintf(t, cap, "%u.%02u", rnd(5000), rnd(100));
		break;
	case 3:
		snprintf(t, cap, "%u%%", rnd(100));
		break;
	case 4:
		snprintf(t, cap, "2024-%02u-%02u", 1 + rnd(12), 1 + rnd(28));
		break;
	case 5:
		snprintf(t, cap, "2024-%02u-%02u %02u:%02u:%02u", 1 + rnd(12), 1 + rnd(28),
			 rnd(24), rnd(60), rnd(60));
		break;
	case 6:
		snprintf(t, cap, "2024-%02u-%02uT%02u:%02u:%02u.%03uZ", 1 + rnd(12), 1 + rnd(28),
			 rnd(24), rnd(60), rnd(60), rnd(1000));
		break;
	case 7:
		snprintf(t, cap, "%02u:%02u", rnd(24), rnd(60));
		break;
	case 8:
		snprintf(t, cap, "ORD-%06u", rnd(1000000));
		break;
	case 9:
		snprintf(t, cap, "INV2024-%05u", rnd(100000));
		break;
	case 10:
		snprintf(t, cap, "SKU-%c%c%02u-%s", 'A' + rnd(26), 'A' + rnd(26), rnd(100),
			 rnd(2) ? "XL" : "M");
		break;
	case 11:
		snprintf(t, cap, "%08x-%04x-4%03x-%04x-%08x%04x", rnd(0xffffffffu), rnd(0x10000),
			 rnd(0x1000), 0x8000 + rnd(0x4000), rnd(0xffffffffu), rnd(0x10000));
		break;
	case 12:
		snprintf(t, cap, "%08x%04x", rnd(0xffffffffu), rnd(0x10000));
		break;
	default:
		snprintf(t, cap, "v%u.%u.%u", rnd(5), rnd(20), rnd(50));
		break;
	}
}

/* Append one field of about `want` bytes of text to p; returns its length. With with_pii,
 * one sensitive value goes at a random point (at the end if the text got there first);
 * *put gets its length. */
static size_t gen_text(char *p, size_t want, bool with_pii, size_t *put)
{
	size_t n = 0;
	size_t at = with_pii ? rnd((uint32_t)want) : (size_t)-1;

	while (n < want || at != (size_t)-1) {
		const char *w;
		char tmp[48];
		uint32_t k = rnd(10);
		if (n >= at) {
			w = pii[rnd(sizeof(pii) / sizeof(pii[0]))];
			at = (size_t)-1;
			*put = strlen(w);
		} else if (k < 3) {
			gen_value(tmp, sizeof(tmp));
			w = tmp;
		} else {
			w = words[rnd(sizeof(words) / sizeof(words[0]))];
		}
		size_t l = strlen(w);
		memcpy(p + n, w, l);
		n += l;
		p[n++] = ' ';
	}
	return n - 1;
}

struct rowset {
	char *buf;
	struct rg_mask_field *fields; /* nrows * nf */
	size_t nrows, nf, bytes;      /* bytes: field bytes only */
	size_t pii_rows, pii_bytes;   /* rows that really got a sensitive value, its bytes */
	size_t *row_off, *row_len;    /* each row's contiguous DataRow body */
};

static void build(struct rowset *rs, size_t nrows, size_t nf, size_t field_bytes, double pii_share)
{
	rs->buf = malloc(nrows * nf * (field_bytes + 96));
	rs->fields = calloc(nrows * nf, sizeof(*rs->fields));
	rs->row_off = calloc(nrows, sizeof(size_t));
	rs->row_len = calloc(nrows, sizeof(size_t));
	rs->nrows = nrows;
	rs->nf = nf;
	rs->bytes = 0;
	rs->pii_rows = rs->pii_bytes = 0;
	size_t at = 0;
	if (!field_bytes) { /* pgbench_accounts as pg_bench.sh's rows1000 reads it */
		for (size_t r = 0; r < nrows; r++) {
			char f[4][128];
			bool with = (size_t)((double)(r + 1) * pii_share) !=
				    (size_t)((double)r * pii_share);
			snprintf(f[0], sizeof(f[0]), "%zu", 100001 + r * 7);
			snprintf(f[1], sizeof(f[1]), "%zu", 2 + r % 9);
			snprintf(f[2], sizeof(f[2]), "0");
			if (with)
				snprintf(f[3], sizeof(f[3]), "card 4111 1111 1111 1111 of %zu%-48s",
					 100001 + r * 7, "");
			else
				snprintf(f[3], sizeof(f[3]), "%84s", "");
			rs->row_off[r] = at;
			for (size_t k = 0; k < nf && k < 4; k++) {
				size_t l = strlen(f[k]);
				rs->buf[at] = rs->buf[at + 1] = 0; /* the length word, as sent */
				rs->buf[at + 2] = (char)(l >> 8);
				rs->buf[at + 3] = (char)l;
				at += 4;
				memcpy(rs->buf + at, f[k], l);
				rs->fields[r * nf + k] = (struct rg_mask_field){
				    (const uint8_t *)rs->buf + at, (uint32_t)l, false};
				at += l;
				rs->bytes += l;
			}
			rs->row_len[r] = at - rs->row_off[r];
			rs->pii_rows += with;
			rs->pii_bytes += with ? 19 : 0;
		}
		return;
	}
	for (size_t r = 0; r < nrows; r++) {
		/* exactly the share asked for, spread evenly: nrows * pii_share rows */
		bool with = (size_t)((double)(r + 1) * pii_share) != (size_t)((double)r * pii_share);
		size_t which = with ? rnd((uint32_t)nf) : nf;
		size_t pii = 0;
		rs->row_off[r] = at;
		for (size_t f = 0; f < nf; f++) {
			at += 4; /* the length word, left as garbage like a real buffer */
			size_t want = field_bytes / 2 + rnd((uint32_t)field_bytes);
			size_t l = gen_text(rs->buf + at, want ? want : 1, f == which, &pii);
			rs->fields[r * nf + f] = (struct rg_mask_field){
			    (const uint8_t *)rs->buf + at, (uint32_t)l, false};
			at += l;
			rs->bytes += l;
		}
		rs->row_len[r] = at - rs->row_off[r];
		rs->pii_rows += pii != 0;
		rs->pii_bytes += pii;
	}
}

static void unbuild(struct rowset *rs)
{
	free(rs->buf);
	free(rs->fields);
	free(rs->row_off);
	free(rs->row_len);
}

static int count_cb(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
		    void *ctx)
{
	(void)id;
	(void)from;
	(void)to;
	(void)flags;
	++*(size_t *)ctx;
	return 0;
}

static void run_masker(const char *name, struct rg_masker *m, struct rowset *rs, double secs)
{
	struct rg_mask_result res;
	size_t rows = 0, changed = 0, matches = 0;
	double t0 = now(), t;

	do {
		for (size_t r = 0; r < rs->nrows; r++) {
			if (rg_masker_row(m, NULL, rs->fields + r * rs->nf, rs->nf, &res) != 0) {
				fprintf(stderr, "rg_masker_row failed\n");
				exit(1);
			}
			changed += res.changed;
			matches += res.matches;
		}
		rows += rs->nrows;
	} while ((t = now() - t0) < secs);
	double bytes = (double)rs->bytes * (double)(rows / rs->nrows);
	printf("%-44s %8.0f MB/s %8.0f ns/row  (%zu rows, %.2f%% changed, %zu matches/pass)\n",
	       name, bytes / t / 1e6, t * 1e9 / (double)rows, rows,
	       100.0 * (double)changed / (double)rows, matches / (rows / rs->nrows));
}

#ifndef MASK_BENCH_BASELINE
/* The prefilter alone over every field, with every detector; also reports the share of
 * fields (and of their bytes) it sends on to the SOM scan. */
static void run_prefilter(const char *name, struct rowset *rs, double secs)
{
	size_t rows = 0, cand = 0, cbytes = 0, n = rs->nrows * rs->nf;
	static volatile size_t sink;
	double t0, t;

	for (size_t i = 0; i < n; i++) {
		if (rg_mask_prefilter(rs->fields[i].data, rs->fields[i].len, ~0u)) {
			cand++;
			cbytes += rs->fields[i].len;
		}
	}
	size_t per[RG_DET__COUNT] = {0};
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < RG_DET__COUNT; d++)
			per[d] += rg_mask_prefilter(rs->fields[i].data, rs->fields[i].len,
						    1u << d) != 0;
	if (!strstr(name, "scalar")) {
		printf("    candidate fields per detector:");
		for (int d = 0; d < RG_DET__COUNT; d++)
			if (per[d])
				printf(" %s %zu", rg_detector_name(d), per[d]);
		printf(" (of %zu)\n", n);
	}
	t0 = now();
	do {
		for (size_t i = 0; i < n; i++)
			sink += rg_mask_prefilter(rs->fields[i].data, rs->fields[i].len, ~0u) != 0;
		rows += rs->nrows;
	} while ((t = now() - t0) < secs);
	double bytes = (double)rs->bytes * (double)(rows / rs->nrows);
	printf("%-44s %8.0f MB/s %8.0f ns/row  (%.2f%% of fields, %.2f%% of bytes to SOM)\n",
	       name, bytes / t / 1e6, t * 1e9 / (double)rows, 100.0 * (double)cand / (double)n,
	       100.0 * (double)cbytes / (double)rs->bytes);
}

/* The run scan (rg_masker_run_clear) as the relay uses it: the rows back to back, in
 * 16 KiB receive buffers, length words included; each block where a condition may hold
 * is reported and the scan goes on past it. */
static void run_runscan(const char *name, struct rg_masker *m, struct rowset *rs, double secs)
{
	size_t total = rs->row_off[rs->nrows - 1] + rs->row_len[rs->nrows - 1], passes = 0;
	size_t hits = 0;
	double t0 = now(), t;

	do {
		hits = 0;
		for (size_t at = 0; at < total; at += 16384) {
			size_t n = total - at < 16384 ? total - at : 16384, from = 0, h;
			while ((h = rg_masker_run_clear(m, NULL, (const uint8_t *)rs->buf + at, n,
							from)) != SIZE_MAX && h < n) {
				hits++;
				from = h + 64;
			}
		}
		passes++;
	} while ((t = now() - t0) < secs);
	printf("%-44s %8.0f MB/s %8.0f ns/row  (%zu blocks of 64 B reported per pass)\n", name,
	       (double)total * (double)passes / t / 1e6, t * 1e9 / (double)(passes * rs->nrows),
	       hits);
}
#endif

/* The design without a prefilter: the SOM database over each whole DataRow body. */
static void run_raw_som(const char *name, const hs_database_t *db, hs_scratch_t *s,
			struct rowset *rs, double secs)
{
	size_t rows = 0, hits = 0;
	double t0 = now(), t;

	do {
		for (size_t r = 0; r < rs->nrows; r++)
			hs_scan(db, rs->buf + rs->row_off[r], (unsigned)rs->row_len[r], 0, s,
				count_cb, &hits);
		rows += rs->nrows;
	} while ((t = now() - t0) < secs);
	double bytes = (double)rs->bytes * (double)(rows / rs->nrows);
	printf("%-44s %8.0f MB/s %8.0f ns/row\n", name, bytes / t / 1e6, t * 1e9 / (double)rows);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	int only = argc > 2 ? atoi(argv[2]) : -1;
	struct rg_mask_action acts[RG_DET__COUNT];
	hs_database_t *db;
	hs_scratch_t *scratch = NULL;
	char err[256];

	for (int d = 0; d < RG_DET__COUNT; d++)
		acts[d] = (struct rg_mask_action){.detector = d, .style = RG_MASK_REDACT};
	double t0 = now();
	if (rg_mask_compile(acts, RG_DET__COUNT, &db, err, sizeof(err)) != 0) {
		fprintf(stderr, "compile: %s\n", err);
		return 1;
	}
	double t1 = now();
	struct rg_masker *m = rg_masker_new(db, acts, RG_DET__COUNT, (const uint8_t *)"k", 1);
	double t2 = now();
	if (!m || hs_alloc_scratch(db, &scratch) != HS_SUCCESS)
		return 1;
	printf("hyperscan %s, %d detectors\n", hs_version(), RG_DET__COUNT);
	printf("rg_mask_compile (SOM db)                     %8.1f ms\n", (t1 - t0) * 1e3);
	printf("rg_masker_new (prefilter + scratch)          %8.1f ms\n\n", (t2 - t1) * 1e3);

	struct {
		const char *name;
		size_t nrows, nf, field_bytes;
		double pii;
	} cases[] = {
	    {"short rows: 5 fields, ~80 B, no PII", 4096, 5, 12, 0.0},
	    {"pgbench_accounts rows (4 fields, 1% with a card)", 4096, 4, 0, 0.01},
	    {"text rows: 8 fields x ~200 B, 1% PII rows", 4096, 8, 200, 0.01},
	    {"text rows: 4 fields x ~4 KiB, 1% PII rows", 512, 4, 4096, 0.01},
	    {"text rows: 8 fields x ~200 B, every row PII", 4096, 8, 200, 1.0},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct rowset rs;
		char name[96];
		build(&rs, cases[c].nrows, cases[c].nf, cases[c].field_bytes, cases[c].pii);
		if (only >= 0 && (size_t)only != c) { /* built anyway: same data as a full run */
			unbuild(&rs);
			continue;
		}
		/* what the data really holds (a sensitive value may still be glued to its
		 * neighbours or invalid there: "changed" below is what was masked) */
		printf("%s (avg %.0f B/row; %.2f%% of rows hold a sensitive value, %.3f%% of "
		       "bytes)\n",
		       cases[c].name, (double)rs.bytes / (double)rs.nrows,
		       100.0 * (double)rs.pii_rows / (double)rs.nrows,
		       100.0 * (double)rs.pii_bytes / (double)rs.bytes);
		snprintf(name, sizeof(name), "  rg_masker_row (prefilter + SOM)");
		run_masker(name, m, &rs, secs);
#ifndef MASK_BENCH_BASELINE
		static const char *const impl[] = {"auto", "scalar", "sse2", "avx2", "avx512"};
		for (int k = RG_MASK_PF_SCALAR; k <= RG_MASK_PF_AVX512; k++) {
			if (rg_mask_prefilter_use((enum rg_mask_prefilter_impl)k) != 0)
				continue;
			snprintf(name, sizeof(name), "  prefilter alone, %s", impl[k]);
			run_prefilter(name, &rs, secs / 2);
		}
		static const char *const rimpl[] = {"auto",   "scalar", "sse2",
						    "avx2",   "avx512", "avx512vbmi"};
		for (int k = RG_MASK_PF_SCALAR; k <= RG_MASK_PF_AVX512VBMI; k++) {
			if (rg_mask_prefilter_use((enum rg_mask_prefilter_impl)k) != 0)
				continue;
			snprintf(name, sizeof(name), "  run scan (16 KiB buffers), %s", rimpl[k]);
			run_runscan(name, m, &rs, secs / 2);
		}
		rg_mask_prefilter_use(RG_MASK_PF_AUTO);
#endif
		snprintf(name, sizeof(name), "  raw SOM hs_scan per DataRow (no prefilter)");
		run_raw_som(name, db, scratch, &rs, secs);
		unbuild(&rs);
	}
	hs_free_scratch(scratch);
	rg_masker_free(m);
	hs_free_database(db);
	return 0;
}
