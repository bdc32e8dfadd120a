/*
 * Fuzz target for mysqlclass: any bytes, any lexing state. The first byte picks the
 * sql_mode flags, the dialect and the classifier flags; the rest is SQL. Besides "never
 * crash", checks the contract on every result: unparseable means exactly RG_OP_UNKNOWN and
 * no facts; names are non-empty with valid access bits; one fingerprint per statement; the
 * lexer and the classifier agree on whether the text lexes. And normalization: the
 * normalized text classifies to the same facts (ops, WHERE, tables, functions, statement
 * count) and normalizes to itself, so audit texts and fingerprints are stable. One context
 * per role is reused across inputs, as a worker thread would.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mysqlclass.h"

static struct rg_myclass *mc, *mn;

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

static void check_same_names(const struct rg_sql_name *a, size_t na, const struct rg_sql_name *b,
			     size_t nb)
{
	check(na == nb);
	for (size_t i = 0; i < na; i++)
		check(same_str(a[i].schema, b[i].schema) && same_str(a[i].name, b[i].name) &&
		      a[i].access == b[i].access);
}

static void check_names(const struct rg_sql_name *v, size_t n, bool tables)
{
	for (size_t i = 0; i < n; i++) {
		check(v[i].name && v[i].name[0]);
		check(!v[i].schema || v[i].schema[0]);
		if (tables)
			check(v[i].access && !(v[i].access & ~(RG_ACCESS_READ | RG_ACCESS_WRITE)));
		else
			check(v[i].access == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char norm[1 << 16];
	struct rg_my_lexing lx = {101100, RG_MY_MARIADB, 0};
	struct rg_sql_facts f, g;
	unsigned flags = 0;

	if (!mc)
		mc = rg_myclass_new();
	if (!mn)
		mn = rg_myclass_new();
	check(mc != NULL && mn != NULL);
	/* a first byte below 32 picks: bits 0-1 sql_mode, bit 2 MySQL 8.0, bits 3-4 flags */
	if (size > 0 && data[0] < 32) {
		lx.modes = data[0] & 3;
		if (data[0] & 4)
			lx = (struct rg_my_lexing){80036, RG_MY_MYSQL, lx.modes};
		flags = (data[0] & 8 ? RG_SQLCLASS_FINGERPRINT : 0) |
			(data[0] & 16 ? RG_SQLCLASS_VALIDATE_ONLY : 0);
		data++;
		size--;
	}
	const struct rg_my_tok *toks;
	size_t ntoks;
	int lr = rg_my_lex(mc, &lx, (const char *)data, size, &toks, &ntoks);
	check(lr == 0 || lr == RG_SQL_UNPARSEABLE || lr == -ENOMEM);
	for (size_t i = 0; lr == 0 && i < ntoks; i++)
		check(toks[i].len && toks[i].off + toks[i].len <= size &&
		      (i == 0 || toks[i].off >= toks[i - 1].off + toks[i - 1].len));

	if (rg_myclass_run(mc, &lx, (const char *)data, size, flags | RG_SQLCLASS_NORMALIZE, &f))
		return 0;
	if (lr == RG_SQL_UNPARSEABLE)
		check(f.status == RG_SQL_UNPARSEABLE);
	if (f.status == RG_SQL_UNPARSEABLE) {
		check(f.ops == RG_OP_BIT(RG_OP_UNKNOWN) && f.ops_without_where == 0);
		check(f.ntables == 0 && f.nfunctions == 0 && f.nstmts == 0);
		check(rg_myclass_changes_lexing(&f));
		return 0;
	}
	check(f.status == RG_SQL_OK);
	if (flags & RG_SQLCLASS_VALIDATE_ONLY) {
		check(f.ops == 0 && f.ntables == 0 && f.nfunctions == 0);
		return 0;
	}
	check(!(f.ops & RG_OP_BIT(RG_OP_UNKNOWN)));
	check((f.ops_without_where & ~f.ops) == 0);
	check((f.ops_without_where & ~(RG_OP_BIT(RG_OP_UPDATE) | RG_OP_BIT(RG_OP_DELETE))) == 0);
	check((f.nstmts == 0) == (f.ops == 0));
	check_names(f.tables, f.ntables, true);
	check_names(f.functions, f.nfunctions, false);
	for (size_t i = 0; i < f.nfunctions; i++)
		for (const char *p = f.functions[i].name; *p; p++)
			check(!(*p >= 'A' && *p <= 'Z'));
	if (flags & RG_SQLCLASS_FINGERPRINT)
		check(f.nfingerprints == f.nstmts);
	check(f.normalized && strlen(f.normalized) == f.normalized_len);
	if (f.normalized_len >= sizeof(norm))
		return 0;
	memcpy(norm, f.normalized, f.normalized_len + 1);

	/* the normalized text: same facts, and it is its own normal form */
	struct rg_my_lexing plain = {101100, RG_MY_MARIADB, 0};
	if (rg_myclass_run(mn, &plain, norm, strlen(norm), RG_SQLCLASS_NORMALIZE, &g))
		return 0;
	/* a prepared text holding both quote characters (in names) normalizes to ?, and the
	 * normalized text no longer says what it prepares */
	if (g.status != RG_SQL_OK &&
	    (f.ops & (RG_OP_BIT(RG_OP_PREPARE) | RG_OP_BIT(RG_OP_EXECUTE))))
		return 0;
	check(g.status == RG_SQL_OK);
	check(g.nstmts == f.nstmts);
	check(g.ops == f.ops);
	check(g.ops_without_where == f.ops_without_where);
	check_same_names(f.tables, f.ntables, g.tables, g.ntables);
	check_same_names(f.functions, f.nfunctions, g.functions, g.nfunctions);
	check(g.normalized_len == strlen(norm) && !memcmp(g.normalized, norm, g.normalized_len));
	return 0;
}
