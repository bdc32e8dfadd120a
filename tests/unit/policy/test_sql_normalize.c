/*
 * Unit tests for rg_sql_normalize (the audit trail's statement texts): every constant kind
 * PostgreSQL's scanner knows becomes $n, numbered after the highest $n already present;
 * identifiers, keywords, operators and white space stay; comments become one space (they can
 * hold what a literal would); dollar-quoted and escape strings are constants too; a text the
 * scanner refuses (an unterminated string) is refused, never passed through; out too small
 * says so.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sqlclass.h"

static void norm_is(const char *in, const char *want)
{
	char out[1024];
	size_t n = 0;
	int r = rg_sql_normalize(in, strlen(in), out, sizeof(out), &n);

	if (r || strcmp(out, want))
		fprintf(stderr, "in:   %s\nwant: %s\ngot:  %s (r=%d)\n", in, want, r ? "" : out, r);
	assert_int_equal(r, 0);
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
}

static void test_constants_become_params(void **state)
{
	(void)state;
	norm_is("SELECT abalance FROM pgbench_accounts WHERE aid = 4711;",
		"SELECT abalance FROM pgbench_accounts WHERE aid = $1;");
	norm_is("SELECT 1, 2.5, 'x''y', E'a\\\\b', B'101', X'ff', 1e10",
		"SELECT $1, $2, $3, $4, $5, $6, $7");
	norm_is("SELECT $$secret$$, $tag$also secret$tag$", "SELECT $1, $2");
	norm_is("SELECT U&'d\\0061t\\+000061'", "SELECT $1");
	norm_is("UPDATE t SET a = $2 WHERE b = 'k' AND c = $1", "UPDATE t SET a = $2 WHERE b = $3 AND c = $1");
	norm_is("INSERT INTO \"Odd Table\" (\"col\") VALUES (-42)",
		"INSERT INTO \"Odd Table\" (\"col\") VALUES (-$1)");
	norm_is("SELECT 1; SELECT 'two'", "SELECT $1; SELECT $2");
	norm_is("SELECT  a\n\tFROM t", "SELECT  a\n\tFROM t");
	/* a constant touching a name: the placeholder stays a token of its own */
	norm_is("select 'drop table te-d'l - ete from u", "select $1 l - ete from u");
	norm_is("SELECT 1::int, 'a'||b", "SELECT $1::int, $2||b");
}

static void test_comments_go(void **state)
{
	(void)state;
	norm_is("SELECT a /* password=hunter2 */ FROM t -- token abc\n", "SELECT a FROM t ");
	norm_is("SELECT 1 -- trailing", "SELECT $1 ");
}

static void test_refused(void **state)
{
	char out[64];
	size_t n;

	(void)state;
	assert_int_equal(rg_sql_normalize("SELECT 'unterminated", 20, out, sizeof(out), &n),
			 -EINVAL);
	assert_int_equal(rg_sql_normalize("SELECT $$open", 13, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(rg_sql_normalize("SELECT 1\0 2", 11, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(rg_sql_normalize("SELECT 1,1,1,1,1,1,1,1,1,1,1,1,1,1", 34, out, 8, &n),
			 -ENOSPC);
}

/* Through a context's cache: texts that differ only in their integer constants come out as
 * the scanner makes them (the cache answers the second and later ones), and texts whose
 * digit runs are not integer constants (a float, a name, a quoted string, a long number) are
 * never answered for by another text's entry. */
static void test_cached_same_as_scanner(void **state)
{
	static const char *const texts[] = {
		"SELECT abalance FROM pgbench_accounts WHERE aid = 4711;",
		"SELECT abalance FROM pgbench_accounts WHERE aid = 12;",
		"SELECT abalance FROM pgbench_accounts WHERE aid = 999999999;",
		"SELECT abalance FROM pgbench_accounts WHERE aid = 1234567890;",
		"SELECT abalance FROM pgbench_accounts WHERE aid = 1.5;",
		"SELECT abalance FROM pgbench_accounts WHERE aid = 1e5;",
		"SELECT abalance FROM pgbench_accounts WHERE aid = '42';",
		"SELECT abalance FROM pgbench_accounts WHERE aid = '43';",
		"SELECT abalance FROM t1 WHERE aid = 42;",
		"SELECT abalance FROM t2 WHERE aid = 43;",
		"SELECT $1, 7 FROM t",
		"SELECT $2, 8 FROM t",
		"SELECT 7 /* 5 */, 8 -- 9\n",
		"SELECT 8 /* 6 */, 9 -- 1\n",
		"SELECT $$ 5 $$, 5",
		"SELECT $$ 6 $$, 6",
		"SELECT U&'\\0041', 1",
		"SELECT U&'\\0042', 2",
		"SELECT 'unterminated 5",
	};
	struct rg_sqlclass *c = rg_sqlclass_new();

	(void)state;
	assert_non_null(c);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
			char a[1024], b[1024];
			size_t na = 0, nb = 0;
			int ra = rg_sql_normalize(texts[i], strlen(texts[i]), a, sizeof(a), &na);
			int rb = rg_sqlclass_normalize(c, texts[i], strlen(texts[i]), b, sizeof(b),
						       &nb);

			assert_int_equal(ra, rb);
			if (!ra) {
				assert_int_equal(na, nb);
				assert_string_equal(a, b);
			}
		}
	}
	rg_sqlclass_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_constants_become_params),
	    cmocka_unit_test(test_comments_go),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_cached_same_as_scanner),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
