/*
 * Unit tests for rg_logval (log.c), the escaping of every token-, agent- or target-supplied
 * value on the gateway's log lines: plain values stay as they are; a value can never end
 * the line or add a key=value pair (newline, space, '=', quotes, control bytes and non-ASCII
 * are escaped, backslash doubled); absent and empty values are "-" and a literal "-" is
 * told apart; truncation never cuts an escape, always terminates and says "..."; and for any
 * input the output is made of printable ASCII without space, '"' or '=' (a random sweep).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway.h"

static const char *esc(const char *in, size_t cap)
{
	static char out[512];

	memset(out, 'Z', sizeof(out));
	return rg_logval(in, out, cap);
}

static void test_plain_values_unchanged(void **state)
{
	(void)state;
	assert_string_equal(esc("agent-1", 64), "agent-1");
	assert_string_equal(esc("spiffe://corp/ns/prod/sa/etl", 64),
			    "spiffe://corp/ns/prod/sa/etl");
	assert_string_equal(esc("a.b_c-d@e:f/g", 64), "a.b_c-d@e:f/g");
}

static void test_forged_line_and_pair_are_escaped(void **state)
{
	(void)state;
	assert_string_equal(esc("x\nevent=auth_ok sub=admin", 64),
			    "x\\nevent\\x3dauth_ok\\x20sub\\x3dadmin");
	assert_string_equal(esc("a\r\tb", 64), "a\\r\\tb");
	assert_string_equal(esc("\"quoted\" \\path", 64), "\\x22quoted\\x22\\x20\\\\path");
	assert_string_equal(esc("\x01\x7f", 64), "\\x01\\x7f");
	assert_string_equal(esc("caf\xc3\xa9", 64), "caf\\xc3\\xa9");
}

static void test_absent_empty_and_dash(void **state)
{
	(void)state;
	assert_string_equal(esc(NULL, 64), "-");
	assert_string_equal(esc("", 64), "-");
	assert_string_equal(esc("-", 64), "\\x2d");
	assert_string_equal(esc("--", 64), "--");
}

static void test_truncation(void **state)
{
	char big[300];

	(void)state;
	/* fits exactly: no marker */
	assert_string_equal(esc("abcdefghi", 10), "abcdefghi");
	/* one byte too many: cut, marked */
	assert_string_equal(esc("abcdefghij", 10), "abcdef...");
	/* never inside an escape */
	assert_string_equal(esc("abcdef\n", 10), "abcdef\\n");
	assert_string_equal(esc("abcde\x01xyz", 10), "abcde...");
	assert_string_equal(esc("ab\x01\x02", 10), "ab\\x01...");
	/* tiny buffers: cut without a marker, still terminated */
	assert_string_equal(esc("abcdef", 4), "abc");
	assert_string_equal(esc("\x01", 4), "");
	assert_string_equal(esc("abc", 1), "");
	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_true(strlen(esc(big, 200)) <= 199);
}

static void test_random_inputs_give_one_safe_token(void **state)
{
	char in[64], out[100];
	size_t i, k, len;

	(void)state;
	srand(12345);
	for (i = 0; i < 20000; i++) {
		len = (size_t)rand() % (sizeof(in) - 1);
		for (k = 0; k < len; k++)
			in[k] = (char)(rand() % 255 + 1);
		in[len] = 0;
		rg_logval(in, out, (size_t)rand() % sizeof(out) + 1);
		for (k = 0; out[k]; k++)
			assert_true(out[k] > 0x20 && out[k] < 0x7f && out[k] != '"' &&
				    out[k] != '=');
		assert_true(k < sizeof(out));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_values_unchanged),
	    cmocka_unit_test(test_forged_line_and_pair_are_escaped),
	    cmocka_unit_test(test_absent_empty_and_dash),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_random_inputs_give_one_safe_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
