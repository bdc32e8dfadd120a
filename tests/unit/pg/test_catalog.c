/*
 * Unit tests for the catalog snapshot (catalog.c): the map from a RowDescription's (table
 * OID, attribute number) to the "schema.table.column" a column mask rule names. A known
 * column with no rule has no name but is known; an unknown relation, an attribute number
 * beyond the relation's count (a column added since the read) or not a column (0, system
 * columns) is unknown, which makes a session ask for a new read. Rows may come in any
 * order and a relation repeated (one row per attribute) is kept once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pg-int.h"

static void find_known_and_unknown(void **state)
{
	struct pg_cat_snap *s = pg_cat_snap_new();
	const char *o = "x";

	(void)state;
	assert_non_null(s);
	/* as the query returns them: one row per (relation, matched attribute) */
	assert_int_equal(pg_cat_snap_rel(s, 16390, 5), 0);
	assert_int_equal(pg_cat_snap_rel(s, 16390, 5), 0);
	assert_int_equal(pg_cat_snap_col(s, 16390, 3, "public.customers.ssn"), 0);
	assert_int_equal(pg_cat_snap_col(s, 16390, 4, "public.customers.date_of_birth"), 0);
	assert_int_equal(pg_cat_snap_rel(s, 1259, 33), 0); /* pg_class: no rule column */
	assert_int_equal(pg_cat_snap_rel(s, 16400, 2), 0);
	assert_int_equal(pg_cat_snap_col(s, 16400, 2, "archive.customers.ssn"), 0);
	pg_cat_snap_seal(s);

	assert_int_equal(pg_cat_snap_find(s, 16390, 3, &o), 1);
	assert_string_equal(o, "public.customers.ssn");
	assert_int_equal(pg_cat_snap_find(s, 16390, 4, &o), 1);
	assert_string_equal(o, "public.customers.date_of_birth");
	assert_int_equal(pg_cat_snap_find(s, 16400, 2, &o), 1);
	assert_string_equal(o, "archive.customers.ssn");
	/* known, but no rule names it */
	assert_int_equal(pg_cat_snap_find(s, 16390, 1, &o), 1);
	assert_null(o);
	assert_int_equal(pg_cat_snap_find(s, 1259, 1, &o), 1);
	assert_null(o);
	/* unknown: relation, an attribute added after the read, not a user column */
	assert_int_equal(pg_cat_snap_find(s, 16391, 1, &o), 0);
	assert_null(o);
	assert_int_equal(pg_cat_snap_find(s, 16390, 6, &o), 0);
	assert_int_equal(pg_cat_snap_find(s, 16390, 0, &o), 0);
	assert_int_equal(pg_cat_snap_find(s, 16390, -1, &o), 0);
	assert_int_equal(pg_cat_snap_find(s, 0, 1, &o), 0);
	pg_cat_snap_free(s);
}

static void unordered_rows_and_growth(void **state)
{
	struct pg_cat_snap *s = pg_cat_snap_new();
	const char *o;
	char name[64];
	uint32_t i;

	(void)state;
	/* descending OIDs, many of them (the arrays grow), every third with a named column */
	for (i = 3000; i > 0; i--) {
		assert_int_equal(pg_cat_snap_rel(s, 100000 + i, 4), 0);
		if (i % 3 == 0) {
			snprintf(name, sizeof(name), "s.t%u.c", i);
			assert_int_equal(pg_cat_snap_col(s, 100000 + i, 2, name), 0);
		}
	}
	pg_cat_snap_seal(s);
	for (i = 1; i <= 3000; i++) {
		assert_int_equal(pg_cat_snap_find(s, 100000 + i, 2, &o), 1);
		if (i % 3 == 0) {
			snprintf(name, sizeof(name), "s.t%u.c", i);
			assert_non_null(o);
			assert_string_equal(o, name);
		} else {
			assert_null(o);
		}
		assert_int_equal(pg_cat_snap_find(s, 100000 + i, 5, &o), 0);
	}
	assert_int_equal(pg_cat_snap_find(s, 100000, 1, &o), 0);
	assert_int_equal(pg_cat_snap_find(s, 103001, 1, &o), 0);
	pg_cat_snap_free(s);
}

static void empty_snapshot(void **state)
{
	struct pg_cat_snap *s = pg_cat_snap_new();
	const char *o;

	(void)state;
	pg_cat_snap_seal(s);
	assert_int_equal(pg_cat_snap_find(s, 16390, 1, &o), 0);
	pg_cat_snap_free(s);
	pg_cat_snap_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(find_known_and_unknown),
	    cmocka_unit_test(unordered_rows_and_growth),
	    cmocka_unit_test(empty_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
