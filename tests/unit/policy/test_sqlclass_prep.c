/*
 * Unit tests for rg_sqlclass_prep / rg_sqlclass_prep_words (engine/policy): what a client
 * string does to the session's SQL-level prepared statements, read from the parse tree.
 * Names as the server keys them (folding, quotes, U& escapes, 63 bytes), EXECUTE wherever
 * the grammar allows it, statement texts sliced so each parses alone, and the keyword
 * prefilter never missing a statement the parser finds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sqlclass.h"

static struct rg_sqlclass *C;
static const struct rg_sql_prep *V;
static size_t N;

static int setup(void **state)
{
	(void)state;
	C = rg_sqlclass_new();
	assert_non_null(C);
	assert_true(rg_sqlclass_fast_enabled());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rg_sqlclass_free(C);
	return 0;
}

static void prep(const char *sql)
{
	assert_int_equal(rg_sqlclass_prep(C, sql, strlen(sql), &V, &N), 0);
}

static void want(size_t i, enum rg_sql_prep_kind kind, const char *name)
{
	assert_true(i < N);
	assert_int_equal(V[i].kind, kind);
	if (!name) {
		assert_null(V[i].name);
		return;
	}
	assert_non_null(V[i].name);
	assert_string_equal(V[i].name, name);
	assert_int_equal(V[i].name_len, strlen(name));
}

static void test_prepare_names_its_statement_and_keeps_its_whole_text(void **state)
{
	(void)state;
	const char *sql = "PREPARE Fetch_Row (int) AS SELECT secret FROM t WHERE id = $1";

	prep(sql);
	assert_int_equal(N, 1);
	want(0, RG_SQL_PREP_PREPARE, "fetch_row");
	assert_int_equal(V[0].off, 0);
	assert_int_equal(V[0].len, strlen(sql));
}

static void test_names_fold_unless_quoted_and_decode_escapes(void **state)
{
	(void)state;
	prep("EXECUTE \"MixedCase\"; execute plain; EXECUTE U&\"d\\0061ta\"; DEALLOCATE \"X y\"");
	assert_int_equal(N, 4);
	want(0, RG_SQL_PREP_EXECUTE, "MixedCase");
	want(1, RG_SQL_PREP_EXECUTE, "plain");
	want(2, RG_SQL_PREP_EXECUTE, "data");
	want(3, RG_SQL_PREP_DEALLOCATE, "X y");
}

static void test_long_names_are_cut_to_63_bytes_as_the_server_does(void **state)
{
	(void)state;
	char sql[200], name[80];

	memset(name, 'n', 70);
	name[70] = '\0';
	snprintf(sql, sizeof(sql), "EXECUTE %s", name);
	prep(sql);
	assert_int_equal(N, 1);
	assert_int_equal(V[0].name_len, 63);
}

static void test_execute_is_found_under_explain_and_create_table_as(void **state)
{
	(void)state;
	prep("EXPLAIN ANALYZE EXECUTE a(1); EXPLAIN (costs off) EXECUTE b; "
	     "CREATE TEMP TABLE x AS EXECUTE c; EXPLAIN CREATE TABLE y AS EXECUTE d(2)");
	assert_int_equal(N, 4);
	want(0, RG_SQL_PREP_EXECUTE, "a");
	want(1, RG_SQL_PREP_EXECUTE, "b");
	want(2, RG_SQL_PREP_EXECUTE, "c");
	want(3, RG_SQL_PREP_EXECUTE, "d");
	assert_int_equal(V[3].stmt, 3);
}

static void test_deallocate_all_and_discard_all_forget_everything(void **state)
{
	(void)state;
	prep("DEALLOCATE ALL; DEALLOCATE PREPARE q; DISCARD ALL; DISCARD PLANS; DISCARD TEMP");
	assert_int_equal(N, 3);
	want(0, RG_SQL_PREP_DEALLOCATE_ALL, NULL);
	want(1, RG_SQL_PREP_DEALLOCATE, "q");
	want(2, RG_SQL_PREP_DISCARD_ALL, NULL);
}

static void test_each_statement_of_a_string_gets_its_own_text(void **state)
{
	(void)state;
	const char *sql = "BEGIN; PREPARE a AS SELECT 1;PREPARE b AS DELETE FROM t; EXECUTE a";
	char one[100];

	prep(sql);
	assert_int_equal(N, 3);
	want(0, RG_SQL_PREP_PREPARE, "a");
	want(1, RG_SQL_PREP_PREPARE, "b");
	want(2, RG_SQL_PREP_EXECUTE, "a");
	assert_int_equal(V[0].stmt, 1);
	assert_int_equal(V[2].stmt, 3);
	for (size_t i = 0; i < 2; i++) {
		/* each slice is one statement that parses alone and names the same thing */
		memcpy(one, sql + V[i].off, V[i].len);
		one[V[i].len] = '\0';
		assert_non_null(strstr(one, "PREPARE"));
		assert_null(strchr(one, ';'));
	}
	memcpy(one, sql + V[1].off, V[1].len);
	one[V[1].len] = '\0';
	prep(one);
	assert_int_equal(N, 1);
	want(0, RG_SQL_PREP_PREPARE, "b");
}

static void test_words_in_literals_or_identifiers_are_not_statements(void **state)
{
	(void)state;
	prep("SELECT 'EXECUTE x; PREPARE y AS SELECT 1', \"deallocate\" FROM prepare_log");
	assert_int_equal(N, 0);
	prep("GRANT EXECUTE ON FUNCTION f() TO PUBLIC");
	assert_int_equal(N, 0);
	prep("DO $$ BEGIN EXECUTE 'SELECT 1'; END $$");
	assert_int_equal(N, 0);
}

static void test_unparseable_text_lists_nothing(void **state)
{
	(void)state;
	assert_int_equal(rg_sqlclass_prep(C, "PREPARE p AS SELEC 1", 20, &V, &N),
			 RG_SQL_UNPARSEABLE);
	assert_int_equal(N, 0);
	assert_int_equal(rg_sqlclass_prep(C, "EXECUTE p\0; EXECUTE q", 21, &V, &N),
			 RG_SQL_UNPARSEABLE);
}

static void test_the_keyword_prefilter_finds_every_word_in_any_case(void **state)
{
	(void)state;
	static const char *const texts[] = {
	    "PREPARE p AS SELECT 1", "pRePaRe p AS SELECT 1", "execute p",
	    "EXPLAIN EXECUTE p",     "DeAllocate all",	      "discard ALL",
	    "/* c */ EXECUTE p",
	};
	assert_int_equal(rg_sqlclass_prep_words("SELECT 1", 8), 0);
	assert_int_equal(rg_sqlclass_prep_words("exec", 4), 0);
	assert_int_equal(rg_sqlclass_prep_words("execut", 6), 0);
	assert_int_equal(rg_sqlclass_prep_words("xEXECUTE", 8), RG_SQL_PREP_WORD_EXECUTE);
	assert_int_equal(rg_sqlclass_prep_words("DISCARD; prepare", 16),
			 RG_SQL_PREP_WORD_DISCARD | RG_SQL_PREP_WORD_PREPARE);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		prep(texts[i]);
		assert_int_equal(N, 1);
		assert_int_not_equal(rg_sqlclass_prep_words(texts[i], strlen(texts[i])), 0);
	}
	assert_int_equal(rg_sqlclass_prep_words("deallocate", 10), RG_SQL_PREP_WORD_DEALLOCATE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prepare_names_its_statement_and_keeps_its_whole_text),
	    cmocka_unit_test(test_names_fold_unless_quoted_and_decode_escapes),
	    cmocka_unit_test(test_long_names_are_cut_to_63_bytes_as_the_server_does),
	    cmocka_unit_test(test_execute_is_found_under_explain_and_create_table_as),
	    cmocka_unit_test(test_deallocate_all_and_discard_all_forget_everything),
	    cmocka_unit_test(test_each_statement_of_a_string_gets_its_own_text),
	    cmocka_unit_test(test_words_in_literals_or_identifiers_are_not_statements),
	    cmocka_unit_test(test_unparseable_text_lists_nothing),
	    cmocka_unit_test(test_the_keyword_prefilter_finds_every_word_in_any_case),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
