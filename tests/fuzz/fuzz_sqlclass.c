/*
 * Fuzz target for sqlclass: any bytes, any flags. Besides "never crash", checks the
 * contract's invariants on every result: unparseable means exactly RG_OP_UNKNOWN and no
 * facts; names are non-empty; one fingerprint per statement. One context is reused across
 * inputs, as a worker thread would.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqlclass.h"

static struct rg_sqlclass *sc;

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rg_sql_facts f;
	unsigned flags = 0;

	if (!sc)
		sc = rg_sqlclass_new();
	check(sc != NULL);
	/* the first byte picks the flags, the rest is SQL */
	if (size > 0 && data[0] < 4) {
		flags = data[0];
		data++;
		size--;
	}
	if (rg_sqlclass_run(sc, (const char *)data, size, flags, &f) != 0)
		return 0;
	if (f.status == RG_SQL_UNPARSEABLE) {
		check(f.ops == RG_OP_BIT(RG_OP_UNKNOWN));
		check(f.ntables == 0 && f.nfunctions == 0 && f.nstmts == 0);
		return 0;
	}
	check(f.status == RG_SQL_OK);
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
	return 0;
}
