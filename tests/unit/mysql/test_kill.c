/*
 * test_kill.c: the plain SQL KILL forms ringgate translates to the target's connection id
 * (kill.c, my_kill_parse / my_kill_write), and what it does not take for one.
 */
#include "kit.h"
#include "my-int.h"

static int parse(const char *s, struct my_kill *k)
{
	uint8_t *q = dup_bytes(s, strlen(s));
	int r = my_kill_parse(q, strlen(s), k);

	free(q);
	return r;
}

static void test_plain_kill_forms_are_recognised(void **state)
{
	struct my_kill k;

	(void)state;
	assert_int_equal(parse("KILL 42", &k), 1);
	assert_int_equal(k.id, 42);
	assert_false(k.query);
	assert_int_equal(parse("  kill\tquery  7 ;  ", &k), 1);
	assert_true(k.query);
	assert_int_equal(k.id, 7);
	assert_int_equal(parse("Kill Connection 4294967295", &k), 1);
	assert_int_equal(k.id, 4294967295u);
	assert_int_equal(parse("KILL HARD QUERY 9", &k), 1);
	assert_true(k.hard && k.query);
	assert_int_equal(parse("kill soft 9", &k), 1);
	assert_true(k.soft && !k.hard);
}

static void test_other_kill_forms_are_not_plain_but_flagged(void **state)
{
	static const char *const forms[] = {
	    "KILL USER app",	 "KILL QUERY ID 5", "KILL 4294967296", "KILL 5; SELECT 1",
	    "KILL 5 /* x */",	 "KILL",	    "KILL CONNECTION", "KILL -1",
	    "KILL 0x10",	 "KILL 5 6",
	};
	struct my_kill k;

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		assert_int_equal(parse(forms[i], &k), 0);
		assert_true(k.is_kill);
	}
}

static void test_statements_that_are_not_kill(void **state)
{
	static const char *const other[] = {"SELECT 1", "KILLER 5", "kill_it()", "/* */ KILL 5",
					    ""};
	struct my_kill k;

	(void)state;
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		assert_int_equal(parse(other[i], &k), 0);
		assert_false(k.is_kill);
	}
}

static void test_translated_statement_keeps_the_form(void **state)
{
	struct my_kill k;
	char out[80];

	(void)state;
	assert_int_equal(parse("kill hard query 12", &k), 1);
	assert_true(my_kill_write(&k, 345, out, sizeof(out)) > 0);
	assert_string_equal(out, "KILL HARD QUERY 345");
	assert_int_equal(parse("KILL 12", &k), 1);
	assert_true(my_kill_write(&k, 4000000000u, out, sizeof(out)) > 0);
	assert_string_equal(out, "KILL 4000000000");
	assert_int_equal(my_kill_write(&k, 1, out, 4), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_kill_forms_are_recognised),
	    cmocka_unit_test(test_other_kill_forms_are_not_plain_but_flagged),
	    cmocka_unit_test(test_statements_that_are_not_kill),
	    cmocka_unit_test(test_translated_statement_keeps_the_form),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
