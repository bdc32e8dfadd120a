/*
 * Unit tests for settings.c: which startup settings reach the target, and that every other
 * one is refused with a message naming it (issue #9, items 1 and 15).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pg.h"
#include "sqlclass.h"
#include "wire.h"

static uint8_t pkt[RG_PG_STARTUP_MAX + 8];
static char out[RG_PG_STARTUP_MAX];
static char msg[200];
static size_t nset;

/* Settings from a StartupMessage with the given key/value pairs (NULL-terminated). */
static ssize_t settings(const char *const *kv)
{
	struct rg_pg_startup su;
	size_t n = 0;
	ssize_t len;

	while (kv[2 * n])
		n++;
	len = rg_pg_write_startup(pkt, sizeof(pkt), RG_PG_PROTO_30, kv, n);
	assert_true(len > 0);
	assert_int_equal(rg_pg_frame_startup(pkt, (size_t)len, &su), len);
	return rg_pg_startup_settings(&su, out, sizeof(out), &nset, msg, sizeof(msg));
}

/* The i-th forwarded pair. */
static void pair(size_t i, const char **k, const char **v)
{
	const char *p = out;

	for (; i; i--)
		p += strlen(p) + 1, p += strlen(p) + 1;
	*k = p;
	*v = p + strlen(p) + 1;
}

static void test_presentation_and_session_settings_are_forwarded(void **state)
{
	const char *kv[] = {"user",	     "agent",	"database",	     "appdb",
			    "application_name", "job",	"DateStyle",	     "ISO, MDY",
			    "TimeZone",	     "UTC",	"extra_float_digits", "3",
			    "statement_timeout", "5s",	"search_path",	     "app, public",
			    NULL};
	const char *k, *v;

	(void)state;
	assert_true(settings(kv) > 0);
	assert_int_equal(nset, 6);
	pair(0, &k, &v);
	assert_string_equal(k, "application_name");
	assert_string_equal(v, "job");
	pair(1, &k, &v);
	assert_string_equal(k, "datestyle"); /* names are sent lower-case */
	assert_string_equal(v, "ISO, MDY");
	pair(5, &k, &v);
	assert_string_equal(k, "search_path");
	assert_string_equal(v, "app, public");
}

static void test_options_are_parsed_into_settings(void **state)
{
	const char *kv[] = {"user", "a", "options",
			    "-c default_transaction_isolation=serializable "
			    "--statement-timeout=10s -clock_timeout=1s "
			    "-c search_path=a\\ b",
			    NULL};
	const char *k, *v;

	(void)state;
	assert_true(settings(kv) > 0);
	assert_int_equal(nset, 4);
	pair(0, &k, &v);
	assert_string_equal(k, "default_transaction_isolation");
	assert_string_equal(v, "serializable");
	pair(1, &k, &v);
	assert_string_equal(k, "statement_timeout"); /* dashes are underscores */
	assert_string_equal(v, "10s");
	pair(2, &k, &v);
	assert_string_equal(k, "lock_timeout");
	pair(3, &k, &v);
	assert_string_equal(k, "search_path");
	assert_string_equal(v, "a b"); /* backslash escapes the space */
}

static void test_pinned_settings_accept_only_the_pinned_value(void **state)
{
	const char *utf8[] = {"user", "a", "client_encoding", "UTF-8",
			      "standard_conforming_strings", "on", NULL};
	const char *sjis[] = {"user", "a", "client_encoding", "SJIS", NULL};
	const char *scs[] = {"user", "a", "options", "-c standard_conforming_strings=off", NULL};
	const char *bq[] = {"user", "a", "backslash_quote", "on", NULL};
	const char *esw[] = {"user", "a", "escape_string_warning", "off", NULL};

	(void)state;
	/* accepted, and not copied: the session sends the pinned values itself */
	assert_int_equal(settings(utf8), 0);
	assert_int_equal(nset, 0);
	assert_int_equal(settings(sjis), -1);
	assert_non_null(strstr(msg, "client_encoding \"SJIS\""));
	assert_int_equal(settings(scs), -1);
	assert_non_null(strstr(msg, "standard_conforming_strings"));
	assert_int_equal(settings(bq), -1);
	assert_non_null(strstr(msg, "\"backslash_quote\""));
	assert_int_equal(settings(esw), -1);
	assert_non_null(strstr(msg, "\"escape_string_warning\""));
}

static void test_other_settings_and_options_are_refused_by_name(void **state)
{
	const char *role[] = {"user", "a", "role", "postgres", NULL};
	const char *srr[] = {"user", "a", "options", "-c session_replication_role=replica", NULL};
	const char *flag[] = {"user", "a", "options", "-B 100", NULL};
	const char *noval[] = {"user", "a", "options", "-c statement_timeout", NULL};
	const char *dangling[] = {"user", "a", "options", "-c", NULL};
	const char *ctl[] = {"user", "a", "x\"\n", "1", NULL};

	(void)state;
	assert_int_equal(settings(role), -1);
	assert_string_equal(msg, "startup parameter \"role\" is not supported by ringgate");
	assert_int_equal(settings(srr), -1);
	assert_non_null(strstr(msg, "\"session_replication_role\""));
	assert_int_equal(settings(flag), -1);
	assert_non_null(strstr(msg, "\"-B\""));
	assert_int_equal(settings(noval), -1);
	assert_non_null(strstr(msg, "requires a value"));
	assert_int_equal(settings(dangling), -1);
	/* what the agent sent is echoed printable only */
	assert_int_equal(settings(ctl), -1);
	assert_null(strchr(msg, '\n'));
}

static void test_protocol_keys_are_not_settings(void **state)
{
	const char *kv[] = {"user", "a", "database", "d", "replication", "false",
			    "_pq_.x", "1", NULL};

	(void)state;
	assert_int_equal(settings(kv), 0);
	assert_int_equal(nset, 0);
}

static void test_utf8_names(void **state)
{
	(void)state;
	assert_true(rg_sqlclass_encoding_is_utf8("UTF8"));
	assert_true(rg_sqlclass_encoding_is_utf8("utf-8"));
	assert_true(rg_sqlclass_encoding_is_utf8("Unicode"));
	assert_false(rg_sqlclass_encoding_is_utf8("SQL_ASCII"));
	assert_false(rg_sqlclass_encoding_is_utf8("utf8x"));
	assert_false(rg_sqlclass_encoding_is_utf8(""));
}

/* As a UTF8 server: ASCII and well-formed sequences pass; overlong forms, surrogates,
 * code points above U+10FFFF, stray continuation bytes and truncated sequences do not. */
static void test_utf8_validation(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
	    {"SELECT 1", true},
	    {"SELECT 'h\xc3\xa9llo w\xc3\xb6rld', '\xe6\x97\xa5\xe6\x9c\xac', '\xf0\x9f\x98\x80'", true},
	    {"SELECT E'\x95\x5c'", false},	   /* SJIS lead byte: a stray continuation byte */
	    {"SELECT '\xc0\xaf'", false},	   /* overlong '/' */
	    {"SELECT '\xe0\x80\xaf'", false},   /* overlong 3-byte */
	    {"SELECT '\xed\xa0\x80'", false},   /* surrogate U+D800 */
	    {"SELECT '\xf4\x90\x80\x80'", false}, /* U+110000 */
	    {"SELECT '\xf5\x80\x80\x80'", false},
	    {"SELECT '\xe6\x97'", false}, /* truncated */
	    {"0123456789abcdef\xc3", false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (rg_sqlclass_utf8_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
			fail_msg("utf8_valid(%zu) != %d", i, cases[i].ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_presentation_and_session_settings_are_forwarded),
	    cmocka_unit_test(test_options_are_parsed_into_settings),
	    cmocka_unit_test(test_pinned_settings_accept_only_the_pinned_value),
	    cmocka_unit_test(test_other_settings_and_options_are_refused_by_name),
	    cmocka_unit_test(test_protocol_keys_are_not_settings),
	    cmocka_unit_test(test_utf8_names),
	    cmocka_unit_test(test_utf8_validation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
