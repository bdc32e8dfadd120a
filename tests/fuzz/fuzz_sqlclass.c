/*
 * Fuzz target for sqlclass: any bytes, any flags. Besides "never crash", checks the
 * contract's invariants on every result: unparseable means exactly RG_OP_UNKNOWN and no
 * facts; names are non-empty; one fingerprint per statement. One context is reused across
 * inputs, as a worker thread would. Differential: every input also runs through a second
 * context forced onto the JSON walker (RG_SQLCLASS_FORCE_JSON), and any difference from the
 * raw-tree fast path's facts (tables and functions in order) aborts. rg_sqlclass_prep is
 * checked against the classifier: it lists an EXECUTE (DEALLOCATE, PREPARE) exactly when
 * the classifier found that operation anywhere in the string, each within the text, and the
 * keyword prefilter sees every word it lists. And every input is validated through a third
 * context's shape cache (RG_SQLCLASS_SHAPE_CACHE, warm across inputs): its answer must be
 * the parse's, also for the input with every digit changed (its literal keys answer then).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqlclass.h"

static struct rg_sqlclass *sc, *sj, *sh;

static void check(int cond)
{
	if (!cond)
		abort();
}

static bool same_str(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static void check_same_names(const struct rg_sql_name *a, const struct rg_sql_name *b,
			     size_t n)
{
	for (size_t i = 0; i < n; i++)
		check(same_str(a[i].schema, b[i].schema) && same_str(a[i].name, b[i].name) &&
		      a[i].access == b[i].access);
}

/* f came from sc; runs the same input on sj through the JSON walker and compares. */
static void check_same_as_json(const uint8_t *data, size_t size, unsigned flags,
			       const struct rg_sql_facts *f)
{
	struct rg_sql_facts g;

	if (rg_sqlclass_run(sj, (const char *)data, size, flags | RG_SQLCLASS_FORCE_JSON, &g))
		return;
	check(f->status == g.status);
	check(f->nstmts == g.nstmts);
	check(f->ops == g.ops);
	check(f->ops_without_where == g.ops_without_where);
	check(f->ntables == g.ntables);
	check_same_names(f->tables, g.tables, f->ntables);
	check(f->nfunctions == g.nfunctions);
	check_same_names(f->functions, g.functions, f->nfunctions);
	check(f->nfingerprints == g.nfingerprints);
	check(!f->nfingerprints || memcmp(f->fingerprints, g.fingerprints,
					  f->nfingerprints * sizeof(uint64_t)) == 0);
	check(f->normalized_len == g.normalized_len);
	check(!f->normalized_len || memcmp(f->normalized, g.normalized, f->normalized_len) == 0);
}

/* What rg_sqlclass_prep lists agrees with the facts f of the same (parseable) string. */
static void check_prep(const uint8_t *data, size_t size, const struct rg_sql_facts *f)
{
	static const unsigned word[] = {
	    [RG_SQL_PREP_PREPARE] = RG_SQL_PREP_WORD_PREPARE,
	    [RG_SQL_PREP_EXECUTE] = RG_SQL_PREP_WORD_EXECUTE,
	    [RG_SQL_PREP_DEALLOCATE] = RG_SQL_PREP_WORD_DEALLOCATE,
	    [RG_SQL_PREP_DEALLOCATE_ALL] = RG_SQL_PREP_WORD_DEALLOCATE,
	    [RG_SQL_PREP_DISCARD_ALL] = RG_SQL_PREP_WORD_DISCARD,
	};
	const struct rg_sql_prep *v;
	unsigned words = rg_sqlclass_prep_words((const char *)data, size);
	uint64_t ops = 0;
	size_t n;
	int r = rg_sqlclass_prep(sc, (const char *)data, size, &v, &n);

	if (r == -ENOMEM)
		return;
	check(r == 0);
	for (size_t i = 0; i < n; i++) {
		check(v[i].kind >= RG_SQL_PREP_PREPARE && v[i].kind <= RG_SQL_PREP_DISCARD_ALL);
		check(words & word[v[i].kind]);
		check(v[i].off <= size && v[i].len <= size - v[i].off && v[i].len);
		check(!v[i].name == (v[i].kind >= RG_SQL_PREP_DEALLOCATE_ALL));
		check(!v[i].name || (v[i].name_len == strlen(v[i].name) && v[i].name_len < 64));
		check(i == 0 || v[i].stmt >= v[i - 1].stmt);
		ops |= v[i].kind == RG_SQL_PREP_PREPARE	      ? RG_OP_BIT(RG_OP_PREPARE)
		       : v[i].kind == RG_SQL_PREP_EXECUTE     ? RG_OP_BIT(RG_OP_EXECUTE)
		       : v[i].kind == RG_SQL_PREP_DISCARD_ALL ? 0
							      : RG_OP_BIT(RG_OP_DEALLOCATE);
	}
	check(ops == (f->ops & (RG_OP_BIT(RG_OP_PREPARE) | RG_OP_BIT(RG_OP_EXECUTE) |
				RG_OP_BIT(RG_OP_DEALLOCATE))));
}

static void check_shape_cache(const uint8_t *data, size_t size)
{
	struct rg_sql_facts a, b;
	const unsigned v = RG_SQLCLASS_VALIDATE_ONLY;

	if (rg_sqlclass_run(sh, (const char *)data, size, v | RG_SQLCLASS_SHAPE_CACHE, &a) ||
	    rg_sqlclass_run(sj, (const char *)data, size, v | RG_SQLCLASS_FORCE_JSON, &b))
		return;
	check(a.status == b.status && a.nstmts == b.nstmts);
}

/* The input with every digit turned into the next one (runs of digits stay where they
 * are): the shape cache's literal keys answer for it once the input was answered, and must
 * answer as a parse of it does. */
static void check_shape_cache_digits(const uint8_t *data, size_t size)
{
	static uint8_t var[8192];
	bool any = false;

	if (size > sizeof(var))
		return;
	for (size_t i = 0; i < size; i++) {
		var[i] = data[i] >= '0' && data[i] <= '9' ? (uint8_t)('0' + (data[i] - '0' + 1) % 10)
							  : data[i];
		any |= var[i] != data[i];
	}
	if (any)
		check_shape_cache(var, size);
}

/* The audit trail's texts: any input either is refused or comes out with no constant left,
 * so that normalizing the output again changes nothing. */
static void check_normalize(const uint8_t *data, size_t size)
{
	static char out[4 * 4096 + 64], again[4 * 4 * 4096 + 64];
	size_t n, m;

	if (size > 4096 || rg_sql_normalize((const char *)data, size, out, sizeof(out), &n))
		return;
	check(strlen(out) == n);
	check(rg_sql_normalize(out, n, again, sizeof(again), &m) == 0);
	check(m == n && !memcmp(out, again, n));
}

/* rg_sqlclass_normalize's cache (by literal key) answers exactly as the scanner does: the
 * input, then a copy with every digit changed (same literal key when the runs are integer
 * constants), each through the cache and directly. */
static struct rg_sqlclass *sn;
static void check_normalize_cache_one(const uint8_t *data, size_t size)
{
	static char direct[4 * 4096 + 64], cached[4 * 4096 + 64];
	size_t n = 0, m = 0;
	int r1, r2;

	r1 = rg_sql_normalize((const char *)data, size, direct, sizeof(direct), &n);
	r2 = rg_sqlclass_normalize(sn, (const char *)data, size, cached, sizeof(cached), &m);
	check(r1 == r2);
	check(r1 || (n == m && !memcmp(direct, cached, n)));
}

static void check_normalize_cache(const uint8_t *data, size_t size)
{
	static uint8_t var[4096];

	if (size > sizeof(var))
		return;
	if (!sn)
		sn = rg_sqlclass_new();
	check(sn != NULL);
	check_normalize_cache_one(data, size);
	for (size_t i = 0; i < size; i++)
		var[i] = data[i] >= '0' && data[i] <= '9' ? (uint8_t)('0' + (data[i] - '0' + 3) % 10)
							  : data[i];
	check_normalize_cache_one(var, size);
	check_normalize_cache_one(data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rg_sql_facts f;
	unsigned flags = 0;

	if (!sc)
		sc = rg_sqlclass_new();
	if (!sj)
		sj = rg_sqlclass_new();
	if (!sh)
		sh = rg_sqlclass_new();
	check(sc != NULL && sj != NULL && sh != NULL);
	/* a first byte below 8 picks the flags, the rest is SQL */
	if (size > 0 && data[0] < 8) {
		flags = data[0];
		data++;
		size--;
	}
	check_shape_cache(data, size);
	check_shape_cache_digits(data, size);
	check_normalize(data, size);
	check_normalize_cache(data, size);
	if (rg_sqlclass_run(sc, (const char *)data, size, flags, &f) != 0)
		return 0;
	check_same_as_json(data, size, flags, &f);
	if (f.status == RG_SQL_UNPARSEABLE) {
		check(f.ops == RG_OP_BIT(RG_OP_UNKNOWN));
		check(f.ntables == 0 && f.nfunctions == 0 && f.nstmts == 0);
		return 0;
	}
	check(f.status == RG_SQL_OK);
	if (flags & RG_SQLCLASS_VALIDATE_ONLY) {
		check(f.ops == 0 && f.ntables == 0 && f.nfunctions == 0);
		return 0;
	}
	check(!(f.ops & RG_OP_BIT(RG_OP_UNKNOWN)));
	check((f.ops_without_where & ~f.ops) == 0);
	check((f.nstmts == 0) == (f.ops == 0));
	for (size_t i = 0; i < f.ntables; i++)
		check(f.tables[i].name && f.tables[i].name[0] && f.tables[i].access &&
		      !(f.tables[i].access & ~(RG_ACCESS_READ | RG_ACCESS_WRITE)));
	for (size_t i = 0; i < f.nfunctions; i++)
		check(f.functions[i].name && f.functions[i].name[0]);
	if (flags & RG_SQLCLASS_FINGERPRINT)
		check(f.nfingerprints == f.nstmts);
	if (flags & RG_SQLCLASS_NORMALIZE)
		check(f.normalized && strlen(f.normalized) == f.normalized_len);
	if (!flags && !memchr(data, 0, size))
		check_prep(data, size, &f);
	return 0;
}
