/*
 * Unit tests for the session events' formatter (engine/evidence/events.c): a record built
 * with rg_ev_* items becomes one JSON object naming its protocol; statement texts lose their
 * literals by the rules of their own protocol's lexer (PostgreSQL's scanner; for MySQL the
 * session's sql_mode and server version, carried in the record), unless literals are kept;
 * text a lexer cannot follow is left out, never written raw.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "evidence.h"
#include "mysqlclass.h"

/* Format one stmt record of proto with text sql (and the MySQL lexing state when mylex >= 0)
 * and return the JSON object (caller frees). */
static json_t *format(bool keep, enum rg_ev_proto proto, int64_t mylex, const char *sql)
{
	struct rg_ev_fmt *f = rg_ev_fmt_new(keep);
	struct rg_ev_w w = {0};
	struct rg_audit_buf out = {0};
	json_t *j;

	assert_non_null(f);
	rg_ev_begin(&w);
	rg_ev_int(&w, RG_EVK_SESSION, 7);
	if (mylex >= 0)
		rg_ev_int(&w, RG_EVK_MYLEX, mylex);
	rg_ev_bytes(&w, RG_EVK_SQL, RG_EVI_SQL, sql, strlen(sql));
	assert_false(w.oom);
	rg_ev_format(f, (uint16_t)((unsigned)proto << 8 | RG_EV_STMT), 0, w.p, w.len, &out);
	assert_true(out.len > 0);
	j = json_loadb(out.p, out.len, JSON_ALLOW_NUL, NULL);
	assert_non_null(j);
	free(out.p);
	free(w.p);
	rg_ev_fmt_free(f);
	return j;
}

static const char *str(json_t *j, const char *k)
{
	return json_string_value(json_object_get(j, k));
}

static void test_postgres(void **state)
{
	json_t *j;

	(void)state;
	j = format(false, RG_EV_POSTGRES, -1, "SELECT a FROM t WHERE b = 'secret' AND c = 42");
	assert_string_equal(str(j, "event"), "stmt");
	assert_string_equal(str(j, "protocol"), "postgres");
	assert_string_equal(str(j, "sql"), "SELECT a FROM t WHERE b = $1 AND c = $2");
	assert_int_equal(json_integer_value(json_object_get(j, "session")), 7);
	assert_non_null(str(j, "fingerprint"));
	json_decref(j);
}

static void test_mysql_literals_go(void **state)
{
	json_t *j, *k;

	(void)state;
	j = format(false, RG_EV_MYSQL, -1, "SELECT a FROM t WHERE b = 'secret' AND c = 42 # x");
	assert_string_equal(str(j, "protocol"), "mysql");
	assert_null(strstr(str(j, "sql"), "secret"));
	assert_null(strstr(str(j, "sql"), "42"));
	assert_null(json_object_get(j, "mysql_lexing"));
	/* an executed comment's content is the statement's: kept, with its literal gone */
	k = format(false, RG_EV_MYSQL, -1, "SELECT 1 /*!50000 , 'hidden' */");
	assert_null(strstr(str(k, "sql"), "hidden"));
	assert_non_null(strstr(str(k, "sql"), ","));
	/* the same statement, different literals: one fingerprint */
	json_decref(k);
	k = format(false, RG_EV_MYSQL, -1, "SELECT a FROM t WHERE b = 'other' AND c = 7 # y");
	assert_string_equal(str(j, "fingerprint"), str(k, "fingerprint"));
	assert_string_equal(str(j, "sql"), str(k, "sql"));
	json_decref(j);
	json_decref(k);
}

static void test_mysql_session_lexing(void **state)
{
	json_t *a, *b;

	(void)state;
	/* "x" is a string by default (its text goes), an identifier under ANSI_QUOTES (kept) */
	a = format(false, RG_EV_MYSQL, rg_ev_mysql_lexing(101100, RG_MY_MARIADB, 0),
		   "SELECT \"secret_col\" FROM t");
	b = format(false, RG_EV_MYSQL,
		   rg_ev_mysql_lexing(101100, RG_MY_MARIADB, RG_MY_ANSI_QUOTES),
		   "SELECT \"secret_col\" FROM t");
	assert_null(strstr(str(a, "sql"), "secret_col"));
	assert_non_null(strstr(str(b, "sql"), "secret_col"));
	json_decref(a);
	json_decref(b);
}

static void test_mysql_unreadable_and_kept(void **state)
{
	json_t *j;

	(void)state;
	j = format(false, RG_EV_MYSQL, -1, "SELECT 'never closed");
	assert_true(json_is_null(json_object_get(j, "sql")));
	assert_true(json_is_true(json_object_get(j, "sql_unreadable")));
	json_decref(j);
	j = format(true, RG_EV_MYSQL, -1, "SELECT 'kept', 1");
	assert_string_equal(str(j, "sql"), "SELECT 'kept', 1");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_postgres),
	    cmocka_unit_test(test_mysql_literals_go),
	    cmocka_unit_test(test_mysql_session_lexing),
	    cmocka_unit_test(test_mysql_unreadable_and_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
