/*
 * test_check: what needs more than one file. Directory arguments are walked recursively
 * for .yaml and .yml files only (hidden entries skipped) and read in sorted order; ids and pack
 * names are unique across files, and a repeat is reported at the later place naming the
 * earlier one; a test's `rule:` must name a rule (not a mask) of any file. Fixtures are
 * in data/tree; the test runs from data/ so paths in messages are short and stable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ir.h"

static int to_data_dir(void **state)
{
	(void)state;
	const char *src = getenv("RG_SRC");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/unit/rulec/data", src ? src : ".");
	return chdir(path);
}

static char *print_diags(const struct rulec_diags *d)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);
	assert_non_null(f);
	rulec_diags_print(d, f);
	fclose(f);
	return out;
}

static void test_directory_walk_reads_yaml_files_sorted(void **state)
{
	(void)state;
	const char *paths[] = {"tree"};
	struct rulec_program p = {0};
	struct rulec_diags d = {0};
	rulec_parse_paths(paths, 1, &p, &d);
	char *got = print_diags(&d);
	assert_string_equal(got, ""); /* each file is fine on its own */
	free(got);
	assert_int_equal(p.nfiles, 2);
	assert_string_equal(p.files[0], "tree/b.yaml");
	assert_string_equal(p.files[1], "tree/sub/a.yml");
	assert_int_equal(p.npacks, 2);
	assert_string_equal(p.packs[0].file, "tree/b.yaml");
	assert_int_equal(p.nrules, 2);
	assert_int_equal(p.nmasks, 2);
	assert_ptr_equal(p.rules[1].pos.file, p.files[1]);
	rulec_diags_free(&d);
	rulec_program_free(&p);
}

static void test_cross_file_duplicates_and_unknown_rules(void **state)
{
	(void)state;
	const char *paths[] = {"tree/sub", "tree", "tree/b.yaml"}; /* overlaps read once */
	struct rulec_program p = {0};
	struct rulec_diags d = {0};
	assert_int_equal(rulec_parse_paths(paths, 3, &p, &d), 0);
	assert_int_equal(p.nfiles, 2);
	assert_int_equal(rulec_check_program(&p, &d), -1);
	char *got = print_diags(&d);
	assert_string_equal(got,
			    "tree/b.yaml:14:11: test names unknown rule 'no.such.rule'\n"
			    "tree/b.yaml:17:11: test names 'a.mask', which is a mask, not a rule\n"
			    "tree/sub/a.yml:3:7: duplicate pack 'b' (first defined at "
			    "tree/b.yaml:3:7)\n"
			    "tree/sub/a.yml:8:5: duplicate id 'shared.id' (first defined at "
			    "tree/b.yaml:5:5)\n");
	free(got);
	rulec_diags_free(&d);
	rulec_program_free(&p);
}

static void test_missing_paths_and_empty_directories(void **state)
{
	(void)state;
	const char *paths[] = {"no-such-dir", "tree/notes.txt"};
	struct rulec_program p = {0};
	struct rulec_diags d = {0};
	/* a file named explicitly is read whatever its suffix */
	assert_int_equal(rulec_parse_paths(paths, 2, &p, &d), -1);
	char *got = print_diags(&d);
	assert_string_equal(got, "rulec: cannot read 'no-such-dir': No such file or directory\n"
				 "tree/notes.txt:2:1: YAML syntax error: did not find expected ',' "
				 "or ']' (while parsing a flow sequence that starts at 1:6)\n");
	free(got);
	rulec_diags_free(&d);
	rulec_program_free(&p);

	char tmpl[] = "/tmp/rulec-empty-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	const char *empty[] = {tmpl};
	assert_int_equal(rulec_parse_paths(empty, 1, &p, &d), -1);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.v[0].msg, "no *.yaml or *.yml files under"));
	rmdir(tmpl);
	rulec_diags_free(&d);
	rulec_program_free(&p);
}

static void test_duplicate_id_between_buffers_names_both_places(void **state)
{
	(void)state;
	const char *a = "version: 1\npack: a\nrules:\n  - id: x\n    action: deny\n";
	const char *b = "version: 1\npack: b\nmasks:\n  - id: y\n    detector: email\n"
			"    style: redact\n  - id: x\n    detector: iban\n    style: redact\n";
	struct rulec_program p = {0};
	struct rulec_diags d = {0};
	assert_int_equal(rulec_parse_buffer("a.yaml", a, strlen(a), &p, &d), 0);
	assert_int_equal(rulec_parse_buffer("b.yaml", b, strlen(b), &p, &d), 0);
	assert_int_equal(rulec_check_program(&p, &d), -1);
	char *got = print_diags(&d);
	assert_string_equal(got, "b.yaml:7:5: duplicate id 'x' (first defined at a.yaml:4:5)\n");
	free(got);
	rulec_diags_free(&d);
	rulec_program_free(&p);
}

static void test_default_expect_rule_is_the_owner(void **state)
{
	(void)state;
	const char *y = "version: 1\npack: a\nrules:\n  - id: x\n    action: deny\n"
			"    tests:\n      - {sql: DROP TABLE t, expect: deny}\n";
	struct rulec_program p = {0};
	struct rulec_diags d = {0};
	assert_int_equal(rulec_parse_buffer("a.yaml", y, strlen(y), &p, &d), 0);
	assert_int_equal(rulec_check_program(&p, &d), 0);
	assert_string_equal(p.tests[0].expect_rule, "x");
	rulec_diags_free(&d);
	rulec_program_free(&p);
}

/* on_unparseable is the engine's rule builtin.unparseable: tests may name it, rules may
 * not take its name. */
static void test_builtin_rule_ids(void **state)
{
	(void)state;
	const char *y =
	    "version: 1\npack: a\nrules:\n  - id: builtin.mine\n    action: deny\n"
	    "tests:\n  - {sql: \"SELECT (\", expect: deny, rule: builtin.unparseable}\n";
	struct rulec_program p = {0};
	struct rulec_diags d = {0};
	rulec_parse_buffer("a.yaml", y, strlen(y), &p, &d);
	rulec_check_program(&p, &d);
	char *got = print_diags(&d);
	assert_string_equal(got, "a.yaml:4:9: invalid id 'builtin.mine': ids starting with "
				 "'builtin.' are reserved\n");
	free(got);
	rulec_diags_free(&d);
	rulec_program_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_directory_walk_reads_yaml_files_sorted),
	    cmocka_unit_test(test_cross_file_duplicates_and_unknown_rules),
	    cmocka_unit_test(test_missing_paths_and_empty_directories),
	    cmocka_unit_test(test_duplicate_id_between_buffers_names_both_places),
	    cmocka_unit_test(test_default_expect_rule_is_the_owner),
	    cmocka_unit_test(test_builtin_rule_ids),
	};
	return cmocka_run_group_tests(tests, to_data_dir, NULL);
}
